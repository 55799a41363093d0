// What exists of a phase, found by our ownership tags (johanna:phase + johanna:role), in as
// few calls as AWS allows: describe-tags lists every tagged EC2 resource in one answer.
import {
  describeSecurityGroupsWhere,
  describeAddresses,
  describeInternetGateways,
  describeKeyPairs,
  describeNatGateways,
  describeRouteTables,
  describeSecurityGroups,
  describeSubnets,
  describeVpcs,
  type AwsCall,
  type IpPermission,
  type KeyPair,
  type NatGateway,
  type NatState,
  type RouteTable,
  type SecurityGroup,
  type Subnet,
  type TagDescription,
  type Address,
  type InternetGateway,
  type Vpc,
} from '../aws/ec2.js';
import { roleDetails, type RoleDetail } from '../aws/iam.js';
import { phaseFilters, TAG_PHASE, TAG_ROLE, tagValue, type Tag } from '../aws/tags.js';
import type { Ctx } from '../context.js';
import { ConfigError, StateError } from '../errors.js';
import type { DesiredPhase } from './desired.js';
import { IAM_ROLE_KEYS, ROLE, SUBNET_KEYS, type IamNames, type IamRoleKey, type SubnetKey } from './names.js';
import { describeApplication } from '../aws/eb.js';

export interface ExistingRole {
  name: string;
  policies: string[];
  attachedPolicyArns: string[];
  profiles: string[];
}

export interface ExistingSecurityGroup {
  id: string;
  ingress: IpPermission[];
}

export interface ExistingPhase {
  /** False when the phase has no VPC yet: then nothing of its network can exist either. */
  networkInspected: boolean;
  /** The key pair's id when it is known to be ours; undefined with networkInspected=false means "not looked". */
  keyPairId?: string;
  roles: Partial<Record<IamRoleKey, ExistingRole>>;
  /** Our instance profile exists and holds the ec2 role. */
  instanceProfileReady: boolean;
  application: boolean;
  vpcId?: string;
  subnets: Partial<Record<SubnetKey, string>>;
  internetGateway?: string;
  natEip?: string;
  /** Attached to our VPC. */
  igwAttached: boolean;
  /** Our NAT gateway in a usable state (pending or available). */
  natGateway?: { id: string; state: NatState };
  /** Our NAT gateways that are failed or on their way out: replaced, never reused. */
  staleNatGateways: { id: string; state: NatState; allocationId?: string; failureMessage?: string }[];
  /** Duplicates of ours (a create retried after a lost answer): deleted, never left behind. */
  spares: Spare[];
  publicRouteTable?: { id: string; defaultTarget?: string; associatedSubnets: string[] };
  mainRouteTable?: { id: string; defaultTarget?: string };
  securityGroups: { private?: ExistingSecurityGroup; public?: ExistingSecurityGroup };
}

export interface Spare {
  kind: 'vpc' | 'internet-gateway' | 'elastic-ip' | 'route-table';
  id: string;
}

export function emptyPhase(): ExistingPhase {
  return { networkInspected: false, igwAttached: false, roles: {}, instanceProfileReady: false, application: false, subnets: {}, staleNatGateways: [], spares: [], securityGroups: {} };
}

export function isOurs(tags: Tag[] | undefined, phase: string, role?: string): boolean {
  return tagValue(tags, TAG_PHASE) === phase && (role === undefined || tagValue(tags, TAG_ROLE) === role);
}

/** describe-tags answers one line per tag: regroup into resources with our two tags. */
export interface TaggedResource {
  id: string;
  type: string;
  phase?: string;
  role?: string;
}

export function groupTags(tags: TagDescription[]): TaggedResource[] {
  const byId = new Map<string, TaggedResource>();
  for (const t of tags) {
    const r = byId.get(t.ResourceId) ?? { id: t.ResourceId, type: t.ResourceType };
    if (t.Key === TAG_PHASE) r.phase = t.Value;
    if (t.Key === TAG_ROLE) r.role = t.Value;
    byId.set(t.ResourceId, r);
  }
  return [...byId.values()];
}

/** The phase's tagged resources by role (the lists are usually of one). */
export function phaseResources(tags: TagDescription[], phase: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const r of groupTags(tags)) {
    if (r.phase !== phase || !r.role) continue;
    out.set(r.role, [...(out.get(r.role) ?? []), r.id]);
  }
  return out;
}

/** Our roles by key; a role with our name that is not ours (path, tag) is a conflict. */
export function ourRoles(details: RoleDetail[], iam: IamNames, phase: string): Partial<Record<IamRoleKey, RoleDetail>> {
  const out: Partial<Record<IamRoleKey, RoleDetail>> = {};
  for (const key of IAM_ROLE_KEYS) {
    const d = details.find((r) => r.RoleName === iam.roles[key]);
    if (!d) continue;
    const taggedOtherwise = d.Tags !== undefined && tagValue(d.Tags, TAG_PHASE) !== phase;
    if (d.Path !== iam.path || taggedOtherwise) {
      throw new StateError(
        `IAM role ${d.RoleName} exists but is not phase ${phase}'s (path ${d.Path}, ${TAG_PHASE}=${tagValue(d.Tags, TAG_PHASE) ?? 'none'})`,
        `rename or delete that role; Johanna only uses roles it created under ${iam.path}`,
      );
    }
    out[key] = d;
  }
  return out;
}

function existingRole(d: RoleDetail): ExistingRole {
  return {
    name: d.RoleName,
    policies: (d.RolePolicyList ?? []).map((p) => p.PolicyName),
    attachedPolicyArns: (d.AttachedManagedPolicies ?? []).map((p) => p.PolicyArn),
    profiles: (d.InstanceProfileList ?? []).map((p) => p.InstanceProfileName),
  };
}

function defaultRoute(rt: { Routes?: { DestinationCidrBlock?: string; GatewayId?: string; NatGatewayId?: string }[] }): string | undefined {
  const r = rt.Routes?.find((x) => x.DestinationCidrBlock === '0.0.0.0/0');
  return r?.NatGatewayId ?? r?.GatewayId;
}

/**
 * Everything create_vpc needs to know, in two rounds of parallel reads: the VPCs (ours by
 * tag, and any with the phase's CIDR, to catch a conflict); then, only if our VPC exists,
 * the roles, the application, the key pair, subnets, route tables, security groups, NAT
 * gateways, internet gateways and Elastic IPs. Everything there is read, never inferred: a
 * route proves nothing about what else exists, and duplicates must be seen to be removed.
 *
 * Without a VPC of ours the phase is new (or a killed run's first moments): the roles, the
 * instance profile, the application and the key pair are not read but created
 * optimistically, and a create that answers "already exists" finds out whose it is
 * (resources.ts). A call saved on every new phase (issue 27). --dry-run reads the roles all
 * the same, so that its plan shows what is really missing.
 */
export async function discoverForCreate(ctx: Ctx, call: AwsCall, d: DesiredPhase): Promise<ExistingPhase> {
  const [vpcs, earlyRoles] = await Promise.all([describeVpcs(call), ctx.dryRun ? roleDetails(call) : undefined]);
  const e = emptyPhase();
  const ours = ourVpcs(ctx, d, vpcs);
  if (ours.length === 0) {
    if (earlyRoles) readRoles(e, d, earlyRoles);
    return e;
  }
  const [vpcId, spareVpcs] = ours.length === 1 ? [ours[0].VpcId, []] : await keeperVpc(call, d, ours);
  const inVpc = [`Name=vpc-id,Values=${vpcId}`];
  const [roles, app, keyPairs, subnets, routeTables, groups, nats, igws, addresses] = await Promise.all([
    earlyRoles ?? roleDetails(call),
    describeApplication(call, d.applicationName),
    describeKeyPairs(call, phaseFilters(d.phase, ROLE.keyPair)),
    describeSubnets(call, inVpc),
    describeRouteTables(call, vpcId),
    describeSecurityGroups(call, vpcId),
    describeNatGateways(call, inVpc),
    describeInternetGateways(call, phaseFilters(d.phase, ROLE.internetGateway)),
    describeAddresses(call, phaseFilters(d.phase, ROLE.natEip)),
  ]);
  readRoles(e, d, roles);
  const net = networkFrom(d.phase, vpcId, { keyPairs, subnets, routeTables, groups, nats, igws, addresses });
  net.spares.push(...spareVpcs.map((id) => ({ kind: 'vpc' as const, id })));
  e.application = Boolean(app);
  return { ...e, ...net };
}

/** Our roles and whether our instance profile holds the ec2 role; a role of our name that is not ours is a conflict. */
function readRoles(e: ExistingPhase, d: DesiredPhase, roles: RoleDetail[]): void {
  const mine = ourRoles(roles, d.iam, d.phase);
  for (const key of IAM_ROLE_KEYS) if (mine[key]) e.roles[key] = existingRole(mine[key]!);
  e.instanceProfileReady = Boolean(
    mine.ec2?.InstanceProfileList?.some((p) => p.InstanceProfileName === d.iam.instanceProfile && p.Path === d.iam.path),
  );
}

/** Every VPC of the account (one call: the CIDR check and our tags both need them). */
function ourVpcs(ctx: Ctx, d: DesiredPhase, vpcs: Vpc[]): Vpc[] {
  const hasCidr = (v: Vpc) => v.CidrBlock === d.vpcCidr || Boolean(v.CidrBlockAssociationSet?.some((a) => a.CidrBlock === d.vpcCidr));
  const ours = vpcs.filter((v) => isOurs(v.Tags, d.phase, ROLE.vpc));
  const oursElsewhere = ours.filter((v) => !hasCidr(v));
  if (oursElsewhere.length > 0) {
    // The config's CIDR changed under a live phase: a second VPC would split the phase in two.
    const old = oursElsewhere.map((v) => `${v.VpcId} (${v.CidrBlock})`).join(', ');
    throw new ConfigError(
      ctx.configFile,
      [{ path: 'common.AWS_VPC_EB', message: `is ${d.vpcCidr}, but phase ${d.phase} already has VPC ${old}; a phase has one VPC` }],
      `set common.AWS_VPC_EB (and the subnets) back to ${oursElsewhere[0].CidrBlock}, or remove the old network first with ./run terminate_vpc (it deletes by tags, whatever the CIDR), then run create_vpc again`,
    );
  }
  const foreign = vpcs.filter((v) => hasCidr(v) && !ours.includes(v));
  if (ours.length === 0 && foreign.length > 0) {
    throw new StateError(
      `a VPC with the phase's CIDR ${d.vpcCidr} already exists and is not phase ${d.phase}'s: ${foreign.map((v) => v.VpcId).join(', ')}`,
      `Johanna never adopts a VPC it did not create: choose another common.AWS_VPC_EB (and subnets), or delete ${foreign[0].VpcId}`,
    );
  }
  if (foreign.length > 0) ctx.log.warn(`another VPC also has CIDR ${d.vpcCidr} (${foreign.map((v) => v.VpcId).join(', ')}); it is left alone`);
  return ours;
}

/**
 * Several VPCs of ours: a create-vpc retried after a lost answer makes a second, empty
 * one (CreateVpc takes no ClientToken). Keep the one with subnets; the empty ones are
 * spares. Two with subnets is not a duplicate we can explain: the operator decides.
 */
async function keeperVpc(call: AwsCall, d: DesiredPhase, ours: Vpc[]): Promise<[string, string[]]> {
  const subnets = await describeSubnets(call, [`Name=vpc-id,Values=${ours.map((v) => v.VpcId).join(',')}`]);
  const used = ours.filter((v) => subnets.some((s) => s.VpcId === v.VpcId));
  if (used.length > 1) {
    throw new StateError(
      `phase ${d.phase} has ${used.length} VPCs with subnets: ${used.map((v) => v.VpcId).join(', ')}`,
      'run terminate_vpc (it removes all of them), then create_vpc again',
    );
  }
  const keeper = used[0] ?? ours[0];
  return [keeper.VpcId, ours.filter((v) => v !== keeper).map((v) => v.VpcId)];
}

export interface NetworkAnswers {
  keyPairs: KeyPair[];
  subnets: Subnet[];
  routeTables: RouteTable[];
  groups: SecurityGroup[];
  nats: NatGateway[];
  igws: InternetGateway[];
  addresses: Address[];
}

/** The network part of ExistingPhase from the raw answers (pure, for tests). */
export type NetworkPart = Omit<ExistingPhase, 'roles' | 'instanceProfileReady' | 'application'>;

export function networkFrom(phase: string, vpcId: string, a: NetworkAnswers): NetworkPart {
  const subnets: Partial<Record<SubnetKey, string>> = {};
  for (const k of SUBNET_KEYS) {
    const s = a.subnets.find((x) => isOurs(x.Tags, phase, ROLE.subnet(k)));
    if (s) subnets[k] = s.SubnetId;
  }
  const spares: Spare[] = [];
  const ourNats = a.nats.filter((n) => isOurs(n.Tags, phase, ROLE.natGateway));
  const good = ourNats.find((n) => n.State === 'available') ?? ourNats.find((n) => n.State === 'pending');
  // Failed, deleting, or a duplicate of the one we keep: replaced, never reused.
  const stale = ourNats.filter((n) => n !== good && n.State !== 'deleted');

  // The internet gateway attached to our VPC; unattached ones of ours are spares.
  const igws = a.igws.filter((g) => isOurs(g.Tags, phase, ROLE.internetGateway));
  const attached = (g: InternetGateway) => Boolean(g.Attachments?.some((x) => x.VpcId === vpcId && (x.State === 'available' || x.State === 'attached')));
  const igw = igws.find(attached) ?? igws.find((g) => !g.Attachments?.length);
  for (const g of igws) if (g !== igw && !g.Attachments?.length) spares.push({ kind: 'internet-gateway', id: g.InternetGatewayId });

  // The NAT's Elastic IP (or a free one of ours for a new NAT); other free ones are spares.
  const eips = a.addresses.filter((x) => isOurs(x.Tags, phase, ROLE.natEip));
  const heldByStale = new Set(stale.map((n) => n.NatGatewayAddresses?.[0]?.AllocationId));
  const goodEip = good?.NatGatewayAddresses?.[0]?.AllocationId;
  const eip = goodEip ?? eips.find((x) => !x.AssociationId && !heldByStale.has(x.AllocationId))?.AllocationId ?? eips.find((x) => heldByStale.has(x.AllocationId))?.AllocationId;
  for (const x of eips) if (x.AllocationId !== eip && !x.AssociationId && !heldByStale.has(x.AllocationId)) spares.push({ kind: 'elastic-ip', id: x.AllocationId });

  // The public route table: the one that serves subnets, or has the route; others are spares.
  const publicRts = a.routeTables.filter((rt) => isOurs(rt.Tags, phase, ROLE.publicRouteTable));
  const publicRt = publicRts.find((rt) => rt.Associations?.some((x) => x.SubnetId)) ?? publicRts.find((rt) => defaultRoute(rt)) ?? publicRts[0];
  for (const rt of publicRts) if (rt !== publicRt && !rt.Associations?.some((x) => x.SubnetId)) spares.push({ kind: 'route-table', id: rt.RouteTableId });

  const mainRt = a.routeTables.find((rt) => rt.Associations?.some((x) => x.Main));
  const sg = (role: string): ExistingSecurityGroup | undefined => {
    const g = a.groups.find((x) => isOurs(x.Tags, phase, role));
    return g && { id: g.GroupId, ingress: g.IpPermissions ?? [] };
  };
  return {
    networkInspected: true,
    vpcId,
    keyPairId: a.keyPairs.filter((k) => isOurs(k.Tags, phase, ROLE.keyPair)).map((k) => k.KeyPairId ?? k.KeyName)[0],
    subnets,
    internetGateway: igw?.InternetGatewayId,
    igwAttached: Boolean(igw && attached(igw)),
    natEip: eip,
    natGateway: good && { id: good.NatGatewayId, state: good.State },
    staleNatGateways: stale.map((n) => ({ id: n.NatGatewayId, state: n.State, allocationId: n.NatGatewayAddresses?.[0]?.AllocationId, failureMessage: n.FailureMessage })),
    spares,
    publicRouteTable: publicRt && {
      id: publicRt.RouteTableId,
      defaultTarget: defaultRoute(publicRt),
      associatedSubnets: (publicRt.Associations ?? []).flatMap((x) => (x.SubnetId ? [x.SubnetId] : [])),
    },
    mainRouteTable: mainRt && { id: mainRt.RouteTableId, defaultTarget: defaultRoute(mainRt) },
    securityGroups: { private: sg(ROLE.sgPrivate), public: sg(ROLE.sgPublic) },
  };
}

export interface PhaseNetwork {
  vpcId: string;
  publicSubnetIds: [string, string];
  privateSubnetIds: [string, string];
  ebPublicSgId: string;
  ebPrivateSgId: string;
}

/**
 * The phase's VPC, subnets (public_1, public_2 order) and security groups, found by our
 * tags in two parallel calls: what create_nova needs. Undefined when the phase has no
 * network; a StateError naming what is missing when create_vpc did not finish.
 */
export async function findPhaseNetwork(ctx: Ctx, call: AwsCall = ctx.call): Promise<PhaseNetwork | undefined> {
  const [subnets, groups] = await Promise.all([
    describeSubnets(call, phaseFilters(ctx.phase)),
    describeSecurityGroupsWhere(call, phaseFilters(ctx.phase)),
  ]);
  return phaseNetworkFrom(ctx.phase, subnets, groups);
}

export function phaseNetworkFrom(phase: string, subnets: Subnet[], groups: SecurityGroup[]): PhaseNetwork | undefined {
  if (subnets.length === 0 && groups.length === 0) return undefined;
  const vpcs = [...new Set([...subnets.map((s) => s.VpcId), ...groups.map((g) => g.VpcId)])];
  if (vpcs.length > 1) throw new StateError(`phase ${phase}'s subnets and groups are in ${vpcs.length} VPCs: ${vpcs.join(', ')}`, 'run terminate_vpc, then create_vpc');
  const subnet = (k: SubnetKey) => subnets.find((s) => isOurs(s.Tags, phase, ROLE.subnet(k)))?.SubnetId;
  const group = (role: string) => groups.find((g) => isOurs(g.Tags, phase, role))?.GroupId;
  const need = {
    eb_public_1: subnet('public_1'),
    eb_public_2: subnet('public_2'),
    eb_private_1: subnet('private_1'),
    eb_private_2: subnet('private_2'),
    'security group eb_public': group(ROLE.sgPublic),
    'security group eb_private': group(ROLE.sgPrivate),
  };
  const missing = Object.entries(need).filter(([, v]) => !v).map(([k]) => k);
  if (missing.length > 0) {
    throw new StateError(`phase ${phase}'s network is incomplete (missing ${missing.join(', ')})`, 'run create_vpc to finish it');
  }
  return {
    vpcId: vpcs[0],
    publicSubnetIds: [need.eb_public_1!, need.eb_public_2!],
    privateSubnetIds: [need.eb_private_1!, need.eb_private_2!],
    ebPublicSgId: need['security group eb_public']!,
    ebPrivateSgId: need['security group eb_private']!,
  };
}
