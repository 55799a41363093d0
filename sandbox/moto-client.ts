import { XMLParser } from 'fast-xml-parser';

/** An error answered by moto, with its AWS code (e.g. NoSuchEntity). */
export class MotoError extends Error {
  constructor(readonly code: string, message: string) {
    super(message);
  }
}

/** The Query APIs we call, with the region IAM's global endpoint signs with and each API's version. */
const QUERY_APIS = {
  ec2: { version: '2016-11-15', region: undefined },
  iam: { version: '2010-05-08', region: 'us-east-1' },
  monitoring: { version: '2010-08-01', region: undefined },
} as const;

/**
 * Calls moto directly, the way EB's own control plane would call EC2, IAM and S3.
 * moto does not check signatures; it only reads the region from the credential scope.
 */
export class MotoClient {
  private readonly parser = new XMLParser({ ignoreAttributes: true, parseTagValue: false, isArray: (name) => name === 'item' });
  /** IAM lists its members as `<member>`; EC2's lists are `<item>`. */
  private readonly queryParser = new XMLParser({ ignoreAttributes: true, parseTagValue: false, isArray: (name) => name === 'item' || name === 'member' });

  constructor(readonly port: number, readonly region: string) {}

  private authorization(service: string, region = this.region): string {
    return `AWS4-HMAC-SHA256 Credential=sandbox/20250101/${region}/${service}/aws4_request, SignedHeaders=host, Signature=0`;
  }

  /** Sign and send one Query API call; the answer's status and body as moto gave them. */
  private async send(service: keyof typeof QUERY_APIS, action: string, params: Record<string, string>): Promise<{ ok: boolean; status: number; text: string }> {
    const api = QUERY_APIS[service];
    const response = await fetch(`http://127.0.0.1:${this.port}/`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: this.authorization(service, api.region) },
      body: new URLSearchParams({ Action: action, Version: api.version, ...params }),
    });
    return { ok: response.ok, status: response.status, text: await response.text() };
  }

  /** One EC2 Query API call; answers the parsed `<XxxResponse>` body or throws with moto's error text. */
  async ec2(action: string, params: Record<string, string>): Promise<any> {
    const { ok, text } = await this.send('ec2', action, params);
    if (!ok) throw new Error(`EC2 ${action} failed: ${text}`);
    return this.parser.parse(text)[`${action}Response`];
  }

  /**
   * One IAM, EC2 or CloudWatch Query API call for a caller that acts on moto's answer: the parsed
   * `<XxxResponse>` body, or a MotoError with moto's error code (e.g. NoSuchEntity).
   */
  async query(service: keyof typeof QUERY_APIS, action: string, params: Record<string, string>): Promise<any> {
    const { ok, status, text } = await this.send(service, action, params);
    if (!ok) {
      const code = /<Code>([^<]+)<\/Code>/.exec(text)?.[1] ?? `HTTP${status}`;
      const message = /<Message>([^<]*)<\/Message>/.exec(text)?.[1] ?? text.slice(0, 200);
      throw new MotoError(code, message);
    }
    return this.queryParser.parse(text)[`${action}Response`];
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
