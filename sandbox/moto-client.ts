import { XMLParser } from 'fast-xml-parser';

/**
 * Calls moto directly, the way EB's own control plane would call EC2 and S3.
 * moto does not check signatures; it only reads the region from the credential scope.
 */
export class MotoClient {
  private readonly parser = new XMLParser({ ignoreAttributes: true, parseTagValue: false, isArray: (name) => name === 'item' });

  constructor(readonly port: number, readonly region: string) {}

  private authorization(service: string): string {
    return `AWS4-HMAC-SHA256 Credential=sandbox/20250101/${this.region}/${service}/aws4_request, SignedHeaders=host, Signature=0`;
  }

  /** One EC2 Query API call; answers the parsed `<XxxResponse>` body or throws with moto's error text. */
  async ec2(action: string, params: Record<string, string>): Promise<any> {
    const body = new URLSearchParams({ Action: action, Version: '2016-11-15', ...params });
    const response = await fetch(`http://127.0.0.1:${this.port}/`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: this.authorization('ec2') },
      body,
    });
    const text = await response.text();
    if (!response.ok) throw new Error(`EC2 ${action} failed: ${text}`);
    return this.parser.parse(text)[`${action}Response`];
  }

  private s3Url(bucket: string, key = ''): string {
    return `http://127.0.0.1:${this.port}/${bucket}/${key.split('/').map(encodeURIComponent).join('/')}`;
  }

  private s3Headers(): Record<string, string> {
    return { authorization: this.authorization('s3'), 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' };
  }

  async createBucket(bucket: string): Promise<void> {
    const body = `<CreateBucketConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><LocationConstraint>${this.region}</LocationConstraint></CreateBucketConfiguration>`;
    const response = await fetch(this.s3Url(bucket), { method: 'PUT', headers: this.s3Headers(), body });
    const text = await response.text();
    if (!response.ok && !text.includes('BucketAlreadyOwnedByYou')) throw new Error(`S3 CreateBucket ${bucket} failed: ${text}`);
  }

  async objectExists(bucket: string, key: string): Promise<boolean> {
    const response = await fetch(this.s3Url(bucket, key), { method: 'HEAD', headers: this.s3Headers() });
    return response.ok;
  }

  async getObject(bucket: string, key: string): Promise<Uint8Array> {
    const response = await fetch(this.s3Url(bucket, key), { headers: this.s3Headers() });
    if (!response.ok) throw new Error(`S3 GetObject s3://${bucket}/${key} failed: HTTP ${response.status}`);
    return new Uint8Array(await response.arrayBuffer());
  }

  async deleteObject(bucket: string, key: string): Promise<void> {
    await (await fetch(this.s3Url(bucket, key), { method: 'DELETE', headers: this.s3Headers() })).arrayBuffer();
  }
}
