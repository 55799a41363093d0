// create_vpc's plan: desired minus existing, as a list of steps with their dependencies.
// Pure: the same described state always gives the same plan, and --dry-run shows it.
import { desiredIngress, extraPermissions, missingPermissions, type DesiredPhase } from './desired.js';
import type { ExistingPhase } from './discover.js';
import { IAM_ROLE_KEYS, SUBNET_KEYS, type SubnetKey } from './names.js';

export type StepKind = 'create' | 'fix' | 'lookup';

export interface PlanStep {
  id: string;
  label: string;
  kind: StepKind;
  deps: string[];
  /** A route: replace the table's existing 0.0.0.0/0 route instead of creating one. */
  replace?: boolean;
}

export interface CreatePlan {
  steps: PlanStep[];
  /** What already exists as desired, as human labels. */
  present: string[];
}

/** What each step needs first, when that is in the plan too. */
function staticDeps(id: string): string[] {
  if (id.startsWith('policy:')) return ['role:' + id.slice(7)];
  if (id.startsWith('subnet:') || id.startsWith('sg:')) return ['vpc'];
  if (id.startsWith('assoc:')) return ['route-table:public', 'subnet:' + id.slice(6)];
  if (id.startsWith('rules:')) return ['sg:private', 'sg:public'];
  switch (id) {
    case 'instance-profile-role':
      return ['instance-profile', 'role:ec2'];
    case 'igw-attach':
      return ['igw', 'vpc'];
    // After the VPC, so that no gateway or EIP of ours exists without a VPC to find it by.
    case 'igw':
    case 'eip':
    case 'route-table:public':
    case 'route-table:main':
      return ['vpc'];
    // AWS fails a NAT gateway made before its VPC has an attached internet gateway (R1).
    case 'nat':
      return ['subnet:public_1', 'eip', 'igw-attach'];
    case 'nat-ready':
      return ['nat'];
    case 'route:public':
      return ['route-table:public', 'igw-attach', 'igw'];
    // Only to an `available` NAT gateway: a route to a pending one that then fails is a blackhole.
    case 'route:private':
      return ['route-table:main', 'nat', 'nat-ready'];
    default:
      return [];
  }
}

export function planCreate(d: DesiredPhase, e: ExistingPhase): CreatePlan {
  const steps: PlanStep[] = [];
  const present: string[] = [];
  const add = (id: string, label: string, kind: StepKind = 'create', extra: Partial<PlanStep> = {}) =>
    steps.push({ id, label, kind, deps: [], ...extra });
  const have = (label: string) => present.push(label);

  if (e.keyPairId) have(`key pair ${d.keyPair.name}`);
  else add('key-pair', `key pair ${d.keyPair.name}`);

  for (const key of IAM_ROLE_KEYS) {
    const name = d.iam.roles[key];
    const role = e.roles[key];
    if (role) have(`IAM role ${name}`);
    else add(`role:${key}`, `IAM role ${name}`);
    const policy = d.iam.policies[key];
    if (!policy) continue;
    if (role?.policies.includes(policy)) have(`inline policy ${policy} of ${name}`);
    else add(`policy:${key}`, `inline policy ${policy} of ${name}`, role ? 'fix' : 'create');
  }
  if (e.instanceProfileReady) {
    have(`instance profile ${d.iam.instanceProfile}`);
  } else {
    add('instance-profile', `instance profile ${d.iam.instanceProfile}`);
    add('instance-profile-role', `role ${d.iam.roles.ec2} in instance profile ${d.iam.instanceProfile}`);
  }

  if (e.application) have(`EB application ${d.applicationName}`);
  else add('eb-application', `EB application ${d.applicationName}`);

  if (e.vpcId) have(`VPC ${e.vpcId} (${d.vpcCidr})`);
  else add('vpc', `VPC eb (${d.vpcCidr})`);

  for (const k of SUBNET_KEYS) {
    const s = d.subnets[k];
    if (e.subnets[k]) have(`subnet eb_${k} ${e.subnets[k]}`);
    else add(`subnet:${k}`, `subnet eb_${k} (${s.cidr}, ${s.az})`);
  }

  const igw = e.internetGateway;
  const pub = e.publicRouteTable;
  const igwAttached = Boolean(igw && e.igwAttached);
  if (igw) have(`internet gateway ${igw}`);
  else add('igw', 'internet gateway eb');
  if (igwAttached) have('internet gateway attachment');
  else add('igw-attach', 'attach the internet gateway to the VPC', igw ? 'fix' : 'create');

  const stale = e.staleNatGateways;
  for (const n of stale) add(`nat-cleanup:${n.id}`, `remove NAT gateway ${n.id} (${n.state})`, 'fix');
  if (e.natEip) have(`Elastic IP ${e.natEip}`);
  else add('eip', 'Elastic IP for the NAT gateway');
  if (e.natGateway) have(`NAT gateway ${e.natGateway.id} (${e.natGateway.state})`);
  else add('nat', 'NAT gateway eb_nat in eb_public_1', 'create', { deps: stale.map((n) => `nat-cleanup:${n.id}`) });
  // A new NAT gateway is pending for minutes; a phase is complete only once it is available.
  if (!e.natGateway) add('nat-ready', 'wait for the NAT gateway to be available', 'lookup');
  else if (e.natGateway.state !== 'available') add('nat-ready', `wait for NAT gateway ${e.natGateway.id} to be available`, 'fix');

  if (pub) have(`public route table ${pub.id}`);
  else add('route-table:public', 'public route table eb_public');
  // By content: the route itself must name our gateway (a run killed between attaching the
  // gateway and adding the route leaves an attached gateway and no route).
  if (igwAttached && pub?.defaultTarget === igw) have('public route 0.0.0.0/0 -> internet gateway');
  else add('route:public', 'public route 0.0.0.0/0 -> internet gateway', 'create', { replace: Boolean(pub?.defaultTarget) });
  for (const k of ['public_1', 'public_2'] as SubnetKey[]) {
    const subnet = e.subnets[k];
    if (pub && subnet && pub.associatedSubnets.includes(subnet)) have(`eb_${k} in the public route table`);
    else add(`assoc:${k}`, `associate eb_${k} with the public route table`);
  }

  // The VPC's main route table serves the private subnets: they need no association.
  const main = e.mainRouteTable;
  if (!main) add('route-table:main', "find the VPC's main route table (the private one)", 'lookup');
  if (e.natGateway && main?.defaultTarget === e.natGateway.id) have('private route 0.0.0.0/0 -> NAT gateway');
  else add('route:private', 'private route 0.0.0.0/0 -> NAT gateway', 'create', { replace: Boolean(main?.defaultTarget) });

  const sgs = e.securityGroups;
  if (sgs.private) have(`security group eb_private ${sgs.private.id}`);
  else add('sg:private', 'security group eb_private');
  if (sgs.public) have(`security group eb_public ${sgs.public.id}`);
  else add('sg:public', 'security group eb_public');
  const want = sgs.private && sgs.public ? desiredIngress(d.vpcCidr, sgs.private.id, sgs.public.id) : undefined;
  for (const k of ['private', 'public'] as const) {
    const missing = want ? missingPermissions(want[k], sgs[k]!.ingress) : undefined;
    const extra = want ? extraPermissions(want[k], sgs[k]!.ingress) : [];
    if (missing && missing.length === 0 && extra.length === 0) have(`eb_${k} ingress rules`);
    else add(`rules:${k}`, `eb_${k} ingress rules${extra.length ? ` (revoke ${extra.length} not wanted)` : ''}`, missing ? 'fix' : 'create');
  }

  for (const x of e.spares) add(`spare:${x.kind}:${x.id}`, `delete spare ${x.kind} ${x.id} (a duplicate from a retried create)`, 'fix');

  const ids = new Set(steps.map((s) => s.id));
  for (const s of steps) s.deps = [...new Set([...staticDeps(s.id), ...s.deps])].filter((dep) => ids.has(dep));
  return { steps, present };
}
