import { MotoError, type MotoClient } from '../moto-client.js';

function dateOf(text: unknown): Date | undefined {
  const date = typeof text === 'string' ? new Date(text) : undefined;
  return date && !Number.isNaN(date.getTime()) ? date : undefined;
}

/**
 * What EB's control plane asks IAM and EC2 before it acts: whether an instance profile, a
 * service role, subnets, security groups, a VPC and a key pair exist. Each call is moto's
 * answer or its error code (MotoClient.query), so a missing one is a value, not a failure.
 */
export class MotoLookups {
  constructor(private readonly moto: Pick<MotoClient, 'query'>) {}

  iam(action: string, params: Record<string, string>): Promise<any> {
    return this.moto.query('iam', action, params);
  }

  ec2(action: string, params: Record<string, string>): Promise<any> {
    return this.moto.query('ec2', action, params);
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
