import { XMLParser } from 'fast-xml-parser';
import type { MotoClient } from '../moto-client.js';

function dateOf(text: unknown): Date | undefined {
  const date = typeof text === 'string' ? new Date(text) : undefined;
  return date && !Number.isNaN(date.getTime()) ? date : undefined;
}

/** An error answered by moto, with its AWS code (e.g. NoSuchEntity). */
export class MotoError extends Error {
  constructor(readonly code: string, message: string) {
    super(message);
  }
}

/**
 * IAM and checked EC2 calls straight to moto, the way EB's control plane asks IAM whether an
 * instance profile and a service role exist. Kept beside the emulator (moto-client.ts belongs
 * to the front): it answers moto's error code instead of throwing its text.
 */
export class MotoLookups {
  private readonly parser = new XMLParser({ ignoreAttributes: true, parseTagValue: false, isArray: (name) => name === 'item' || name === 'member' });

  constructor(private readonly moto: Pick<MotoClient, 'port' | 'region'>) {}

  private async call(service: 'iam' | 'ec2', action: string, params: Record<string, string>): Promise<any> {
    const region = service === 'iam' ? 'us-east-1' : this.moto.region;
    const version = service === 'iam' ? '2010-05-08' : '2016-11-15';
    const response = await fetch(`http://127.0.0.1:${this.moto.port}/`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: `AWS4-HMAC-SHA256 Credential=sandbox/20250101/${region}/${service}/aws4_request, SignedHeaders=host, Signature=0`,
      },
      body: new URLSearchParams({ Action: action, Version: version, ...params }),
    });
    const text = await response.text();
    if (!response.ok) {
      const code = /<Code>([^<]+)<\/Code>/.exec(text)?.[1] ?? `HTTP${response.status}`;
      const message = /<Message>([^<]*)<\/Message>/.exec(text)?.[1] ?? text.slice(0, 200);
      throw new MotoError(code, message);
    }
    return this.parser.parse(text)[`${action}Response`];
  }

  iam(action: string, params: Record<string, string>): Promise<any> {
    return this.call('iam', action, params);
  }

  ec2(action: string, params: Record<string, string>): Promise<any> {
    return this.call('ec2', action, params);
  }

  /**
   * The instance profile's role names and when it was made, or undefined when IAM has no such
   * profile. The creation time lets EB apply IAM's propagation delay (R8) to what it reads
   * itself, whoever made the profile.
   */
  async instanceProfile(name: string): Promise<{ roles: string[]; createdAt?: Date } | undefined> {
    try {
      const answer = await this.iam('GetInstanceProfile', { InstanceProfileName: name });
      const profile = answer?.GetInstanceProfileResult?.InstanceProfile;
      const roles = profile?.Roles?.member ?? [];
      return { roles: roles.map((role: { RoleName: string }) => role.RoleName), createdAt: dateOf(profile?.CreateDate) };
    } catch (error) {
      if (error instanceof MotoError && error.code === 'NoSuchEntity') return undefined;
      throw error;
    }
  }

  /** When the role was made, or undefined when IAM has no such role. */
  async role(name: string): Promise<{ createdAt?: Date } | undefined> {
    try {
      const answer = await this.iam('GetRole', { RoleName: name });
      return { createdAt: dateOf(answer?.GetRoleResult?.Role?.CreateDate) };
    } catch (error) {
      if (error instanceof MotoError && error.code === 'NoSuchEntity') return undefined;
      throw error;
    }
  }

  /** Subnet id -> {vpcId, availabilityZone} for those that exist. */
  async subnets(ids: string[]): Promise<Map<string, { vpcId: string; availabilityZone: string }>> {
    const found = new Map<string, { vpcId: string; availabilityZone: string }>();
    if (!ids.length) return found;
    const params = Object.fromEntries(ids.map((id, i) => [`Filter.1.Value.${i + 1}`, id]));
    const answer = await this.ec2('DescribeSubnets', { 'Filter.1.Name': 'subnet-id', ...params });
    for (const s of answer?.subnetSet?.item ?? []) found.set(s.subnetId, { vpcId: s.vpcId, availabilityZone: s.availabilityZone });
    return found;
  }

  /** Security group id -> vpc id for those that exist (names are looked up too). */
  async securityGroups(idsOrNames: string[]): Promise<Map<string, string>> {
    const found = new Map<string, string>();
    if (!idsOrNames.length) return found;
    const answer = await this.ec2('DescribeSecurityGroups', {});
    for (const g of answer?.securityGroupInfo?.item ?? []) {
      found.set(g.groupId, g.vpcId);
      if (idsOrNames.includes(g.groupName)) found.set(g.groupName, g.vpcId);
    }
    return found;
  }

  async vpcExists(id: string): Promise<boolean> {
    const answer = await this.ec2('DescribeVpcs', { 'Filter.1.Name': 'vpc-id', 'Filter.1.Value.1': id });
    return (answer?.vpcSet?.item ?? []).length > 0;
  }

  async keyPairExists(name: string): Promise<boolean> {
    const answer = await this.ec2('DescribeKeyPairs', { 'Filter.1.Name': 'key-name', 'Filter.1.Value.1': name });
    return (answer?.keySet?.item ?? []).length > 0;
  }
}
