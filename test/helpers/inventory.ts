// What a sandbox holds for one phase, found the way the tool finds it: by the phase's tag
// (EC2), IAM path (roles, instance profile) and key name. For "nothing duplicated" and
// "nothing left behind" checks.

export type AwsJson = (args: string[]) => Promise<any>;

export interface PhaseInventory {
  vpcs: any[];
  subnets: any[];
  igws: any[];
  eips: any[];
  /** NAT gateways not deleted or being deleted. */
  liveNats: any[];
  sgs: any[];
  routeTables: any[];
  roles: any[];
  profiles: any[];
  keyPairs: any[];
}

/** What a complete phase holds: one of each, but four subnets, two groups and three roles. */
export const COMPLETE_PHASE = { vpcs: 1, subnets: 4, igws: 1, eips: 1, liveNats: 1, sgs: 2, routeTables: 1, roles: 3, profiles: 1, keyPairs: 1 };
/** The network half of it. */
export const COMPLETE_NETWORK = { vpcs: 1, subnets: 4, igws: 1, eips: 1, liveNats: 1, sgs: 2 };

/** How many of each kind the inventory holds, for the kinds `want` names: compare with toEqual(want). */
export function countsOf(inv: PhaseInventory, want: Partial<Record<keyof PhaseInventory, number>>): Record<string, number> {
  return Object.fromEntries(Object.keys(want).map((k) => [k, inv[k as keyof PhaseInventory].length]));
}

export async function phaseInventory(aws: AwsJson, phase: string, keyName = phase): Promise<PhaseInventory> {
  const tag = `Name=tag:johanna:phase,Values=${phase}`;
  const f = ['--filters', tag];
  const [vpcs, subnets, igws, eips, nats, sgs, rts, roles, profiles, keys] = await Promise.all([
    aws(['ec2', 'describe-vpcs', ...f]),
    aws(['ec2', 'describe-subnets', ...f]),
    aws(['ec2', 'describe-internet-gateways', ...f]),
    aws(['ec2', 'describe-addresses', ...f]),
    aws(['ec2', 'describe-nat-gateways', '--filter', tag]),
    aws(['ec2', 'describe-security-groups', ...f]),
    aws(['ec2', 'describe-route-tables', ...f]),
    aws(['iam', 'list-roles', '--path-prefix', `/johanna/${phase}/`]),
    aws(['iam', 'list-instance-profiles', '--path-prefix', `/johanna/${phase}/`]),
    aws(['ec2', 'describe-key-pairs']),
  ]);
  return {
    vpcs: vpcs.Vpcs,
    subnets: subnets.Subnets,
    igws: igws.InternetGateways,
    eips: eips.Addresses,
    liveNats: (nats.NatGateways as any[]).filter((n) => n.State === 'pending' || n.State === 'available'),
    sgs: sgs.SecurityGroups,
    routeTables: rts.RouteTables,
    roles: roles.Roles,
    profiles: profiles.InstanceProfiles,
    keyPairs: (keys.KeyPairs as any[]).filter((k) => k.KeyName === keyName),
  };
}

/** The VPCs with this CIDR, ours or not. */
export async function vpcsWithCidr(aws: AwsJson, cidr: string): Promise<any[]> {
  return (await aws(['ec2', 'describe-vpcs', '--filters', `Name=cidr-block-association.cidr-block,Values=${cidr}`])).Vpcs;
}
