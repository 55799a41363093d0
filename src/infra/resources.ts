// The phase's resources as a table: one entry a kind (key pair, IAM roles, the VPC, its
// subnets, ...) with its role tags, its "already gone" codes, the ids it gives later steps,
// its check (what the plan makes of what discovery found), what its steps need first, its
// create, and its delete. status, apply and teardown read their lists from here
// (NETWORK_ROLES, refsFrom, GONE). The table's order is the plan's order; DELETE_ORDER is
// the teardown's. docs/architecture.md lists the files a new kind touches.
import * as ec2 from '../aws/ec2.js';
import * as iam from '../aws/iam.js';
import { createApplication, deleteApplication, deleteApplicationVersionOf, describeApplication, listApplicationVersionsOf, tagsIfAny } from '../aws/eb.js';
import { TAG_PHASE, ownerTags } from '../aws/tags.js';
import type { Ctx } from '../context.js';
import { AwsCliError, StateError } from '../errors.js';
import { desiredIngress, extraPermissions, missingPermissions, type DesiredPhase } from './desired.js';
import { isOurs, ourRoles, type ExistingPhase, type Spare } from './discover.js';
import { IAM_ROLE_KEYS, NAME, ROLE, SUBNET_KEYS, type IamRoleKey, type SubnetKey } from './names.js';
import type { AddTask, Del, PlanStep, StepKind, TeardownResult } from './types.js';
import { waitInstanceProfileUsable } from './instance-profile.js';
import { deleteSpare } from './spares.js';
import { pollMs, waitFor, waitUntil, type Deadline } from '../time.js';

/** The ids the steps read and write: from discovery, then from each create. */
export interface Refs {
  vpc?: string;
  subnets: Partial<Record<SubnetKey, string>>;
  igw?: string;
  eip?: string;
  nat?: string;
  publicRt?: string;
  mainRt?: string;
  sgPrivate?: string;
  sgPublic?: string;
}

/** What every create reads and writes: the run, the desired and existing phase, the ids so far. */
export interface Scope {
  ctx: Ctx;
  call: ec2.AwsCall;
  d: DesiredPhase;
  e: ExistingPhase;
  refs: Refs;
  deadline: Deadline;
}

/** A step's create: 'done', or 'there' when a retried or killed run already made it. */
export type Outcome = 'done' | 'there';
export type StepFn = (s: PlanStep, arg: string) => Promise<Outcome>;

/** The check's two answers: a step for what is missing or differs, a label for what is there as desired. */
export interface PlanBuilder {
  add(id: string, label: string, kind?: StepKind, extra?: Partial<PlanStep>): void;
  have(label: string): void;
}

/** What every delete reads: what teardown found of the phase, and how it adds and runs deletes. */
export interface TeardownScope {
  ctx: Ctx;
  call: ec2.AwsCall;
  d: DesiredPhase;
  deadline: Deadline;
  out: TeardownResult;
  /** Adds a task to the teardown's graph: it runs once the tasks it names are done. */
  task: AddTask;
  /** One delete, "already gone" counted as done (teardown.ts). */
  del: Del;
  /** The ids describe-tags found with our phase tag and this role tag. */
  ids: (role: string) => string[];
  /** Every role of the account (for its account id), and ours among them by name, path and tag. */
  roleDetails: iam.RoleDetail[];
  ourRoles: Map<IamRoleKey, iam.RoleDetail>;
  keyPairs: ec2.KeyPair[];
  /** The phase's VPCs that still exist (with their route tables); none: nothing of the network is left. */
  vpcs: string[];
  routeTables: ec2.RouteTable[];
}

export interface ResourceKind {
  name: string;
  /** The values of our role tag on its EC2 resources (status lists them; discovery reads them). */
  roles?: string[];
  /** The AWS codes that mean it is already gone (for detach/revoke: already undone): a delete answered so has done its work. */
  gone?: string[];
  /** What discovery found of it that later steps read (the ids a create would have given). */
  refs?(e: ExistingPhase): Partial<Refs>;
  check(d: DesiredPhase, e: ExistingPhase, p: PlanBuilder): void;
  /**
   * What each of its steps needs first, by step id or by the id's prefix before ':' (given
   * what follows it); dependencies not in the plan are dropped.
   */
  deps?: Record<string, (arg: string) => string[]>;
  /** Its steps' creates, keyed like deps. */
  create(sc: Scope): Record<string, StepFn>;
  /** Adds its deletes to the teardown: only what carries our tags, each after what holds it. */
  delete?(t: TeardownScope): void;
}

/** The entry of `table` for a step id: by the whole id, else by its prefix before ':', with the rest as its argument. */
export function forStep<T>(table: Record<string, T>, id: string): [T, string] | undefined {
  const colon = id.indexOf(':');
  const arg = colon > 0 ? id.slice(colon + 1) : '';
  const entry = table[id] ?? (colon > 0 ? table[id.slice(0, colon)] : undefined);
  return entry ? [entry, arg] : undefined;
}

const isCode = (err: unknown, ...codes: string[]) => err instanceof AwsCliError && codes.includes(err.awsCode ?? '');

/** The id a create answered, or a placeholder when --dry-run did not run it. */
function got(ctx: Ctx, id: string | undefined, placeholder: string): string {
  if (id) return id;
  if (ctx.dryRun) return `<${placeholder}>`;
  throw new StateError(`AWS answered without the new ${placeholder}`);
}

function need(id: string | undefined, what: string): string {
  if (id) return id;
  throw new StateError(`cannot continue without the ${what}`);
}

/** create-route; a route already there (a retried create, a killed run) is replaced instead. */
async function route(call: ec2.AwsCall, table: string, target: ec2.RouteTarget, replace: boolean): Promise<void> {
  try {
    await ec2.putRoute(call, table, '0.0.0.0/0', target, replace);
  } catch (err) {
    if (replace || !isCode(err, 'RouteAlreadyExists')) throw err;
    await ec2.putRoute(call, table, '0.0.0.0/0', target, true);
  }
}

/** A new NAT gateway is pending for minutes (R1); only an available one takes a route. */
async function natAvailable({ ctx, call, deadline }: Scope, id: string): Promise<void> {
  if (ctx.dryRun) return;
  await waitFor(ctx, {
    what: `NAT gateway ${id} to be available`,
    deadline,
    intervalMs: pollMs(ctx),
    backoff: 1.5,
    maxIntervalMs: 15_000,
    hint: 'run create_vpc again: it waits for the same NAT gateway',
    check: async () => {
      const [n] = await ec2.describeNatGateways(call, [`Name=nat-gateway-id,Values=${id}`], { purpose: 'poll', retryOn: ['NatGatewayNotFound'] });
      if (n?.State === 'available') return { done: undefined };
      if (n && n.State !== 'pending') {
        throw new StateError(
          `NAT gateway ${id} is ${n.State}${n.FailureMessage ? `: ${n.FailureMessage}` : ''}${n.FailureCode ? ` (${n.FailureCode})` : ''}`,
          'run create_vpc again: it replaces a failed NAT gateway with a new one',
        );
      }
      return { state: n?.State ?? 'not visible yet' };
    },
  });
}

/** create-security-group; a duplicate name (a retried create) is adopted when it is ours. */
async function securityGroup({ ctx, call, d, refs }: Scope, name: string, description: string, role: string): Promise<string> {
  const phase = d.phase;
  const vpc = need(refs.vpc, 'VPC');
  try {
    return got(ctx, await ec2.createSecurityGroup(call, vpc, name, description, ownerTags(phase, role, name)), `${name}-sg-id`);
  } catch (err) {
    if (!isCode(err, 'InvalidGroup.Duplicate')) throw err;
    const g = (await ec2.describeSecurityGroups(call, vpc)).find((x) => x.GroupName === name);
    if (g && isOurs(g.Tags, phase, role)) return g.GroupId;
    throw new StateError(`security group ${name} in ${vpc} exists and is not phase ${phase}'s`, `delete or rename it, then run create_vpc again`);
  }
}

const keyPair: ResourceKind = {
  name: 'key pair',
  roles: [ROLE.keyPair],
  gone: ['InvalidKeyPair.NotFound'],
  check(d, e, p) {
    if (e.keyPairId) p.have(`key pair ${d.keyPair.name}`);
    else p.add('key-pair', `key pair ${d.keyPair.name}`);
  },
  create: ({ call, d }) => ({
    'key-pair': async () => {
      const phase = d.phase;
      try {
        await ec2.importKeyPair(call, d.keyPair.name, d.keyPair.publicKey, ownerTags(phase, ROLE.keyPair));
        return 'done';
      } catch (err) {
        if (!isCode(err, 'InvalidKeyPair.Duplicate')) throw err;
        const kp = await ec2.describeKeyPair(call, d.keyPair.name);
        if (kp && isOurs(kp.Tags, phase)) return 'there';
        throw new StateError(
          `key pair ${d.keyPair.name} already exists and is not phase ${phase}'s (no ${ownerTags(phase, '')[0].Key}=${phase} tag)`,
          'choose another common.AWS_KEY_PAIR_NAME, or delete that key pair',
        );
      }
    },
  }),
  delete({ call, d, task, del, keyPairs }) {
    for (const kp of keyPairs.filter((k) => isOurs(k.Tags, d.phase, ROLE.keyPair) && k.KeyPairId)) {
      task(`key-pair:${kp.KeyPairId}`, [], () => del(`key pair ${kp.KeyName} (${kp.KeyPairId})`, (o) => ec2.deleteKeyPair(call, kp.KeyName, o)));
    }
  },
};

const iamRoles: ResourceKind = {
  name: 'IAM roles and their inline policies',
  gone: ['NoSuchEntity'],
  check(d, e, p) {
    for (const key of IAM_ROLE_KEYS) {
      const name = d.iam.roles[key];
      const role = e.roles[key];
      if (role) p.have(`IAM role ${name}`);
      else p.add(`role:${key}`, `IAM role ${name}`);
      const policy = d.iam.policies[key];
      if (!policy) continue;
      if (role?.policies.includes(policy)) p.have(`inline policy ${policy} of ${name}`);
      else p.add(`policy:${key}`, `inline policy ${policy} of ${name}`, role ? 'fix' : 'create');
    }
  },
  deps: { policy: (key) => ['role:' + key] },
  create: ({ call, d }) => {
    // A new phase creates its roles without reading IAM first (discover.ts): one already there
    // is ours from a killed or retried run, or a conflict, which ourRoles names. One read
    // serves all three roles.
    let details: Promise<iam.RoleDetail[]> | undefined;
    const adopt = async (): Promise<Outcome> => {
      ourRoles(await (details ??= iam.roleDetails(call)), d.iam, d.phase);
      return 'there';
    };
    return {
      role: async (_s, arg) => {
        const key = arg as IamRoleKey;
        try {
          await iam.createRole(call, d.iam.roles[key], d.iam.path, d.trust[key], ownerTags(d.phase, ROLE.iamRole));
          return 'done';
        } catch (err) {
          if (isCode(err, 'EntityAlreadyExists')) return adopt();
          throw err;
        }
      },
      policy: async (_s, arg) => {
        const key = arg as IamRoleKey;
        await iam.putRolePolicy(call, d.iam.roles[key], d.iam.policies[key]!, d.inlinePolicies[key]!);
        return 'done';
      },
    };
  },
  /** Each role's policies, then the role; the ec2 role once the instance profile lets go of it. */
  delete({ call, task, del, ourRoles }) {
    for (const [key, r] of ourRoles) {
      task(`role:${key}`, key === 'ec2' ? ['instance-profile'] : [], async () => {
        await Promise.all([
          ...(r.RolePolicyList ?? []).map((p) => del(`inline policy ${p.PolicyName} of ${r.RoleName}`, (o) => iam.deleteRolePolicy(call, r.RoleName, p.PolicyName, o))),
          ...(r.AttachedManagedPolicies ?? []).map((p) => del(`managed policy ${p.PolicyName} from ${r.RoleName}`, (o) => iam.detachRolePolicy(call, r.RoleName, p.PolicyArn, o))),
        ]);
        await del(`IAM role ${r.RoleName}`, (o) => iam.deleteRole(call, r.RoleName, o));
      });
    }
  },
};

const instanceProfile: ResourceKind = {
  name: 'instance profile',
  gone: ['NoSuchEntity'],
  check(d, e, p) {
    if (e.instanceProfileReady) {
      p.have(`instance profile ${d.iam.instanceProfile}`);
    } else {
      p.add('instance-profile', `instance profile ${d.iam.instanceProfile}`);
      p.add('instance-profile-role', `role ${d.iam.roles.ec2} in instance profile ${d.iam.instanceProfile}`);
      // A new profile is not usable by EC2 at once (R8): wait for it within the graph, beside
      // the NAT gateway's wait, not after everything else.
      p.add('profile-usable', `wait for EC2 to see instance profile ${d.iam.instanceProfile}`, 'lookup');
    }
  },
  deps: {
    'instance-profile-role': () => ['instance-profile', 'role:ec2'],
    // The check's dry run launches into our private subnet.
    'profile-usable': () => ['instance-profile-role', 'subnet:private_1'],
  },
  create: ({ ctx, call, d, refs, deadline }) => ({
    'profile-usable': async () => {
      await waitInstanceProfileUsable(ctx, call, d.iam.instanceProfile, need(refs.subnets.private_1, 'subnet eb_private_1'), deadline);
      return 'done';
    },
    'instance-profile': async () => {
      try {
        await iam.createInstanceProfile(call, d.iam.instanceProfile, d.iam.path, ownerTags(d.phase, ROLE.instanceProfile));
        return 'done';
      } catch (err) {
        if (!isCode(err, 'EntityAlreadyExists')) throw err;
        // A killed run created it (the role was not in it yet), or it is not ours: our path says.
        const path = (await iam.getInstanceProfile(call, d.iam.instanceProfile))?.Path;
        if (path === undefined || path === d.iam.path) return 'there';
        throw new StateError(`instance profile ${d.iam.instanceProfile} exists but is not phase ${d.phase}'s (path ${path})`, `rename or delete that instance profile; Johanna only uses one it created under ${d.iam.path}`);
      }
    },
    'instance-profile-role': async () => {
      try {
        await iam.addRoleToInstanceProfile(call, d.iam.instanceProfile, d.iam.roles.ec2);
        return 'done';
      } catch (err) {
        if (!isCode(err, 'LimitExceeded')) throw err;
        // It already holds its one role (a retried or killed add): ours, or a conflict.
        const held = (await iam.getInstanceProfile(call, d.iam.instanceProfile))?.Roles?.map((r) => r.RoleName) ?? [];
        if (held.includes(d.iam.roles.ec2)) return 'there';
        throw new StateError(`instance profile ${d.iam.instanceProfile} holds role ${held.join(', ')}, not ${d.iam.roles.ec2}`, `remove that role from the profile, then run create_vpc again`);
      }
    },
  }),
  delete({ call, d, out, task, del, ourRoles }) {
    const names = d.iam;
    const ec2Role = ourRoles.get('ec2');
    if (!ec2Role) return;
    task('instance-profile', [], async () => {
      let profile: { Path: string; Roles?: { RoleName: string }[]; Tags?: unknown } | undefined = ec2Role.InstanceProfileList?.find((p) => p.InstanceProfileName === names.instanceProfile);
      // A run killed between creating the profile and adding the role left it empty:
      // it is not in the role's list, so look it up by name.
      // Only NoSuchEntity means "not there"; any other error (AccessDenied, throttling) is reported.
      if (!profile) profile = await iam.getInstanceProfileIfAny(call, names.instanceProfile);
      if (!profile) return;
      if (profile.Path !== names.path) {
        out.notOurs.push(`instance profile ${names.instanceProfile} (path ${profile.Path})`);
        return;
      }
      for (const r of profile.Roles ?? []) {
        await del(`role ${r.RoleName} in instance profile ${names.instanceProfile}`, (o) => iam.removeRoleFromInstanceProfile(call, names.instanceProfile, r.RoleName, o));
      }
      await del(`instance profile ${names.instanceProfile}`, (o) => iam.deleteInstanceProfile(call, names.instanceProfile, o));
    });
  },
};

const ebApplication: ResourceKind = {
  name: 'EB application',
  check(d, e, p) {
    if (e.application) p.have(`EB application ${d.applicationName}`);
    else p.add('eb-application', `EB application ${d.applicationName}`);
  },
  create: ({ call, d }) => ({
    'eb-application': async () => ((await createApplication(call, d.applicationName, ownerTags(d.phase, ROLE.application))) ? 'done' : 'there'),
  }),
  /** Only with our tags; its versions first, each with its bundle. */
  delete({ call, d, out, task, del, roleDetails }) {
    const phase = d.phase;
    const account = roleDetails.map((r) => r.Arn.split(':')[4]).find(Boolean);
    task('eb-application', [], async () => {
      let arn = account && `arn:aws:elasticbeanstalk:${d.region}:${account}:application/${d.applicationName}`;
      if (!arn) {
        const app = await describeApplication(call, d.applicationName);
        if (!app) return;
        arn = app.ApplicationArn ?? '';
      }
      const appTags = await tagsIfAny(call, arn);
      if (appTags === undefined) {
        // No tags to read: gone, unless describe-applications still shows it, and then we
        // cannot prove it ours, so it stays and is reported rather than passed over in silence.
        if (account && (await describeApplication(call, d.applicationName))) {
          out.left.push({ item: `EB application ${d.applicationName}`, reason: `its tags cannot be read (${arn} not found), so it is not provably ours` });
        }
        return;
      }
      if (!isOurs(appTags, phase)) {
        out.notOurs.push(`EB application ${d.applicationName} (no ${TAG_PHASE}=${phase} tag)`);
        return;
      }
      // DeleteApplication leaves the versions' bundles in EB's S3 bucket (and billing): each
      // version goes first, with its bundle (--delete-source-bundle).
      const versions = await listApplicationVersionsOf(call, d.applicationName);
      await Promise.all(
        versions.map((v) => del(`application version ${v.VersionLabel} and its bundle`, (o) => deleteApplicationVersionOf(call, d.applicationName, v.VersionLabel, o), false)),
      );
      await del(`EB application ${d.applicationName}`, (o) => deleteApplication(call, d.applicationName, o), false);
    });
  },
};

const vpc: ResourceKind = {
  name: 'VPC',
  roles: [ROLE.vpc],
  gone: ['InvalidVpcID.NotFound'],
  refs: (e) => ({ vpc: e.vpcId, mainRt: e.mainRouteTable?.id }),
  check(d, e, p) {
    if (e.vpcId) p.have(`VPC ${e.vpcId} (${d.vpcCidr})`);
    else p.add('vpc', `VPC eb (${d.vpcCidr})`);
  },
  create: ({ ctx, call, d, refs }) => ({
    vpc: async () => {
      refs.vpc = got(ctx, await ec2.createVpc(call, d.vpcCidr, ownerTags(d.phase, ROLE.vpc, NAME.vpc)), 'vpc-id');
      return 'done';
    },
  }),
  /** Last: after every subnet, route table, gateway and group of ours in it. */
  delete(t) {
    const { call, del, task, vpcs, ids } = t;
    const before = ['subnet:', 'rt:', 'igw:', 'sg:'];
    const deps = (all: string[]) => all.filter((id) => before.some((b) => id.startsWith(b)));
    const known = [
      ...ourSubnets(t).map((s) => `subnet:${s.id}`),
      ...ourPublicRouteTables(t).map((rt) => `rt:${rt.RouteTableId}`),
      ...ids(ROLE.internetGateway).map((i) => `igw:${i}`),
      ...[...ids(ROLE.sgPrivate), ...ids(ROLE.sgPublic)].map((g) => `sg:${g}`),
    ];
    for (const id of vpcs) task(`vpc:${id}`, deps(known), () => del(`VPC ${id}`, (o) => ec2.deleteVpc(call, id, o)));
  },
};

function ourSubnets({ ids }: TeardownScope): { id: string; label: string }[] {
  return SUBNET_KEYS.flatMap((k) => ids(ROLE.subnet(k)).map((id) => ({ id, label: `subnet eb_${k} ${id}` })));
}

function ourPublicRouteTables({ d, routeTables }: TeardownScope): ec2.RouteTable[] {
  return routeTables.filter((rt) => isOurs(rt.Tags, d.phase, ROLE.publicRouteTable));
}

const subnets: ResourceKind = {
  name: 'subnets',
  roles: SUBNET_KEYS.map((k) => ROLE.subnet(k)),
  gone: ['InvalidSubnetID.NotFound'],
  refs: (e) => ({ subnets: { ...e.subnets } }),
  check(d, e, p) {
    for (const k of SUBNET_KEYS) {
      const s = d.subnets[k];
      if (e.subnets[k]) p.have(`subnet eb_${k} ${e.subnets[k]}`);
      else p.add(`subnet:${k}`, `subnet eb_${k} (${s.cidr}, ${s.az})`);
    }
  },
  deps: { subnet: () => ['vpc'] },
  create: ({ ctx, call, d, refs }) => ({
    subnet: async (_s, arg) => {
      const k = arg as SubnetKey;
      const sub = d.subnets[k];
      const vpcId = need(refs.vpc, 'VPC');
      try {
        refs.subnets[k] = got(ctx, await ec2.createSubnet(call, vpcId, sub.cidr, sub.az, ownerTags(d.phase, ROLE.subnet(k), NAME.subnet(k))), `subnet-${k}-id`);
        return 'done';
      } catch (err) {
        // A retried create meets the subnet its first attempt made (R17).
        if (!isCode(err, 'InvalidSubnet.Conflict')) throw err;
        const [found] = await ec2.describeSubnets(call, [`Name=vpc-id,Values=${vpcId}`, `Name=cidr-block,Values=${sub.cidr}`]);
        if (!found || !isOurs(found.Tags, d.phase, ROLE.subnet(k))) throw err;
        refs.subnets[k] = found.SubnetId;
        return 'there';
      }
    },
  }),
  /** After EB's instances and the NAT gateway, whose interfaces hold them. */
  delete(t) {
    for (const s of ourSubnets(t)) t.task(`subnet:${s.id}`, ['instances', 'nat-gone'], () => t.del(s.label, (o) => ec2.deleteSubnet(t.call, s.id, o)));
  },
};

const internetGateway: ResourceKind = {
  name: 'internet gateway',
  roles: [ROLE.internetGateway],
  gone: ['InvalidInternetGatewayID.NotFound', 'Gateway.NotAttached'],
  refs: (e) => ({ igw: e.internetGateway }),
  check(_d, e, p) {
    const igw = e.internetGateway;
    if (igw) p.have(`internet gateway ${igw}`);
    else p.add('igw', 'internet gateway eb');
    if (igw && e.igwAttached) p.have('internet gateway attachment');
    else p.add('igw-attach', 'attach the internet gateway to the VPC', igw ? 'fix' : 'create');
  },
  // After the VPC, so that no gateway of ours exists without a VPC to find it by.
  deps: { igw: () => ['vpc'], 'igw-attach': () => ['igw', 'vpc'] },
  create: ({ ctx, call, d, refs }) => ({
    igw: async () => {
      refs.igw = got(ctx, await ec2.createInternetGateway(call, ownerTags(d.phase, ROLE.internetGateway, NAME.internetGateway)), 'igw-id');
      return 'done';
    },
    'igw-attach': async () => {
      try {
        await ec2.attachInternetGateway(call, need(refs.igw, 'internet gateway'), need(refs.vpc, 'VPC'));
        return 'done';
      } catch (err) {
        if (isCode(err, 'Resource.AlreadyAssociated')) return 'there';
        throw err;
      }
    },
  }),
  delete({ call, task, del, ids, vpcs }) {
    const eips = ids(ROLE.natEip);
    // A gateway detaches only once no public address is mapped in the VPC (the NAT's EIP).
    for (const id of ids(ROLE.internetGateway)) {
      task(`igw-detach:${id}`, ['nat-gone', ...eips.map((e) => `eip:${e}`)], async () => {
        for (const vpcId of vpcs) await del(`internet gateway ${id} attachment to ${vpcId}`, (o) => ec2.detachInternetGateway(call, id, vpcId, o));
      });
      task(`igw:${id}`, [`igw-detach:${id}`], () => del(`internet gateway ${id}`, (o) => ec2.deleteInternetGateway(call, id, o)));
    }
  },
};

/** The NAT gateway with its Elastic IP; failed or leaving ones of ours are replaced, never reused. */
const natGateway: ResourceKind = {
  name: 'NAT gateway and its Elastic IP',
  roles: [ROLE.natEip, ROLE.natGateway],
  gone: ['InvalidNatGatewayID.NotFound', 'NatGatewayNotFound', 'InvalidAllocationID.NotFound', 'InvalidAssociationID.NotFound'],
  refs: (e) => ({ eip: e.natEip, nat: e.natGateway?.id }),
  check(d, e, p) {
    const stale = e.staleNatGateways;
    for (const n of stale) p.add(`nat-cleanup:${n.id}`, `remove NAT gateway ${n.id} (${n.state})`, 'fix');
    if (e.natEip) p.have(`Elastic IP ${e.natEip}`);
    else p.add('eip', 'Elastic IP for the NAT gateway');
    if (e.natGateway) p.have(`NAT gateway ${e.natGateway.id} (${e.natGateway.state})`);
    else p.add('nat', 'NAT gateway eb_nat in eb_public_1', 'create', { deps: stale.map((n) => `nat-cleanup:${n.id}`) });
    // A new NAT gateway is pending for minutes; a phase is complete only once it is available.
    if (!e.natGateway) p.add('nat-ready', 'wait for the NAT gateway to be available', 'lookup');
    else if (e.natGateway.state !== 'available') p.add('nat-ready', `wait for NAT gateway ${e.natGateway.id} to be available`, 'fix');
  },
  deps: {
    // After the VPC, so that no EIP of ours exists without a VPC to find it by; and after
    // the roles, which a new phase creates without reading IAM first: a role of our name that
    // is not ours is then found by its create, and stops the run before anything that costs
    // money (this EIP, the NAT gateway after it) exists.
    eip: () => ['vpc', ...IAM_ROLE_KEYS.map((k) => `role:${k}`)],
    // AWS fails a NAT gateway made before its VPC has an attached internet gateway (R1).
    nat: () => ['subnet:public_1', 'eip', 'igw-attach'],
    'nat-ready': () => ['nat'],
  },
  create: (sc) => {
    const { ctx, call, d, e, refs, deadline } = sc;
    return {
      eip: async () => {
        refs.eip = got(ctx, await ec2.allocateAddress(call, ownerTags(d.phase, ROLE.natEip, NAME.natEip)), 'eip-allocation-id');
        return 'done';
      },
      nat: async () => {
        const id = await ec2.createNatGateway(call, need(refs.subnets.public_1, 'subnet eb_public_1'), need(refs.eip, 'Elastic IP'), ownerTags(d.phase, ROLE.natGateway, NAME.natGateway));
        refs.nat = got(ctx, id, 'nat-gateway-id');
        return 'done';
      },
      'nat-ready': async () => {
        await natAvailable(sc, need(refs.nat, 'NAT gateway'));
        return 'done';
      },
      'nat-cleanup': async (_s, arg) => {
        const stale = e.staleNatGateways.find((n) => n.id === arg)!;
        if (stale.state === 'failed') ctx.log.warn(`NAT gateway ${arg} failed${stale.failureMessage ? `: ${stale.failureMessage}` : ''}; replacing it`);
        if (stale.state !== 'deleting') await ec2.deleteNatGateway(call, arg);
        // Its Elastic IP is ours to reuse only once the old gateway has let go of it (a
        // failed one already has).
        if (stale.state !== 'failed' && stale.allocationId && stale.allocationId === refs.eip) {
          await waitUntil(ctx, deadline, `NAT gateway ${arg} to be deleted`, async () => {
            const [n] = await ec2.describeNatGateways(call, [`Name=nat-gateway-id,Values=${arg}`], { purpose: 'poll' });
            return !n || n.State === 'deleted';
          });
        }
        return 'done';
      },
    };
  },
  delete({ ctx, call, deadline, task, del, ids }) {
    const nats = ids(ROLE.natGateway);
    // One already gone answers NotFound (counted as done); any other error is reported, and
    // what waits for the NAT gateways is not attempted rather than waited out to the deadline.
    for (const id of nats) task(`nat:${id}`, ['instances'], () => del(`NAT gateway ${id} (delete requested)`, (o) => ec2.deleteNatGateway(call, id, o), false));
    task('nat-gone', nats.map((id) => `nat:${id}`), async () => {
      if (nats.length === 0) return;
      await waitUntil(ctx, deadline, `NAT gateway ${nats.join(', ')} to be deleted`, async () => {
        const now = await ec2.describeNatGateways(call, [`Name=nat-gateway-id,Values=${nats.join(',')}`], { purpose: 'poll' });
        return now.every((n) => n.State === 'deleted');
      });
    });
    // Our Elastic IP is released only once ITS NAT gateway has let go of it.
    for (const id of ids(ROLE.natEip)) task(`eip:${id}`, ['nat-gone'], () => del(`Elastic IP ${id}`, (o) => ec2.releaseAddress(call, id, o), false));
  },
};

/** The public route table (to the internet gateway, with the public subnets) and the VPC's main one (to the NAT). */
const routeTables: ResourceKind = {
  name: 'route tables and their default routes',
  roles: [ROLE.publicRouteTable],
  gone: ['InvalidRouteTableID.NotFound', 'InvalidAssociationID.NotFound'],
  refs: (e) => ({ publicRt: e.publicRouteTable?.id }),
  check(_d, e, p) {
    const igw = e.internetGateway;
    const igwAttached = Boolean(igw && e.igwAttached);
    const pub = e.publicRouteTable;
    if (pub) p.have(`public route table ${pub.id}`);
    else p.add('route-table:public', 'public route table eb_public');
    // By content: the route itself must name our gateway (a run killed between attaching the
    // gateway and adding the route leaves an attached gateway and no route).
    if (igwAttached && pub?.defaultTarget === igw) p.have('public route 0.0.0.0/0 -> internet gateway');
    else p.add('route:public', 'public route 0.0.0.0/0 -> internet gateway', 'create', { replace: Boolean(pub?.defaultTarget) });
    for (const k of ['public_1', 'public_2'] as SubnetKey[]) {
      const subnet = e.subnets[k];
      if (pub && subnet && pub.associatedSubnets.includes(subnet)) p.have(`eb_${k} in the public route table`);
      else p.add(`assoc:${k}`, `associate eb_${k} with the public route table`);
    }
    // The VPC's main route table serves the private subnets: they need no association.
    const main = e.mainRouteTable;
    if (!main) p.add('route-table:main', "find the VPC's main route table (the private one)", 'lookup');
    if (e.natGateway && main?.defaultTarget === e.natGateway.id) p.have('private route 0.0.0.0/0 -> NAT gateway');
    else p.add('route:private', 'private route 0.0.0.0/0 -> NAT gateway', 'create', { replace: Boolean(main?.defaultTarget) });
  },
  deps: {
    'route-table': () => ['vpc'],
    assoc: (k) => ['route-table:public', 'subnet:' + k],
    'route:public': () => ['route-table:public', 'igw-attach', 'igw'],
    // Only to an `available` NAT gateway: a route to a pending one that then fails is a blackhole.
    'route:private': () => ['route-table:main', 'nat', 'nat-ready'],
  },
  create: ({ ctx, call, d, refs }) => ({
    'route-table:public': async () => {
      refs.publicRt = got(ctx, await ec2.createRouteTable(call, need(refs.vpc, 'VPC'), ownerTags(d.phase, ROLE.publicRouteTable, NAME.publicRouteTable)), 'public-route-table-id');
      return 'done';
    },
    'route-table:main': async () => {
      const vpcId = need(refs.vpc, 'VPC');
      const main = vpcId.startsWith('<') ? undefined : (await ec2.describeRouteTables(call, vpcId, true))[0]?.RouteTableId;
      refs.mainRt = main ?? (ctx.dryRun ? '<main-route-table-id>' : need(main, "VPC's main route table"));
      return 'done';
    },
    'route:public': async (s) => {
      await route(call, need(refs.publicRt, 'public route table'), { gatewayId: need(refs.igw, 'internet gateway') }, Boolean(s.replace));
      return 'done';
    },
    'route:private': async (s) => {
      await route(call, need(refs.mainRt, 'main route table'), { natGatewayId: need(refs.nat, 'NAT gateway') }, Boolean(s.replace));
      return 'done';
    },
    assoc: async (_s, arg) => {
      const k = arg as SubnetKey;
      try {
        await ec2.associateRouteTable(call, need(refs.publicRt, 'public route table'), need(refs.subnets[k], `subnet eb_${k}`));
        return 'done';
      } catch (err) {
        if (isCode(err, 'Resource.AlreadyAssociated')) return 'there';
        throw err;
      }
    },
  }),
  /**
   * The public one: a subnet takes its route-table association with it, so the table goes
   * after the subnets it serves, with no disassociate calls. The main one goes with the VPC.
   */
  delete(t) {
    const subnetTasks = ourSubnets(t).map((s) => `subnet:${s.id}`);
    for (const rt of ourPublicRouteTables(t)) {
      const served = (rt.Associations ?? []).filter((a) => !a.Main && a.SubnetId).map((a) => `subnet:${a.SubnetId}`);
      const known = served.filter((id) => subnetTasks.includes(id));
      t.task(`rt:${rt.RouteTableId}`, known, () => t.del(`public route table ${rt.RouteTableId}`, (o) => ec2.deleteRouteTable(t.call, rt.RouteTableId, o)));
    }
  },
};

const securityGroups: ResourceKind = {
  name: 'security groups and their ingress rules',
  roles: [ROLE.sgPrivate, ROLE.sgPublic],
  gone: ['InvalidGroup.NotFound', 'InvalidPermission.NotFound'],
  refs: (e) => ({ sgPrivate: e.securityGroups.private?.id, sgPublic: e.securityGroups.public?.id }),
  check(d, e, p) {
    const sgs = e.securityGroups;
    if (sgs.private) p.have(`security group eb_private ${sgs.private.id}`);
    else p.add('sg:private', 'security group eb_private');
    if (sgs.public) p.have(`security group eb_public ${sgs.public.id}`);
    else p.add('sg:public', 'security group eb_public');
    const want = sgs.private && sgs.public ? desiredIngress(d.vpcCidr, sgs.private.id, sgs.public.id) : undefined;
    for (const k of ['private', 'public'] as const) {
      const missing = want ? missingPermissions(want[k], sgs[k]!.ingress) : undefined;
      const extra = want ? extraPermissions(want[k], sgs[k]!.ingress) : [];
      if (missing && missing.length === 0 && extra.length === 0) p.have(`eb_${k} ingress rules`);
      else p.add(`rules:${k}`, `eb_${k} ingress rules${extra.length ? ` (revoke ${extra.length} not wanted)` : ''}`, missing ? 'fix' : 'create');
    }
  },
  deps: { sg: () => ['vpc'], rules: () => ['sg:private', 'sg:public'] },
  create: (sc) => {
    const { call, d, e, refs } = sc;
    return {
      'sg:private': async () => {
        refs.sgPrivate = await securityGroup(sc, NAME.sgPrivate, 'Johanna: EB instances (private subnets)', ROLE.sgPrivate);
        return 'done';
      },
      'sg:public': async () => {
        refs.sgPublic = await securityGroup(sc, NAME.sgPublic, 'Johanna: the load balancer (public subnets)', ROLE.sgPublic);
        return 'done';
      },
      rules: async (_s, arg) => {
        const k = arg as 'private' | 'public';
        const want = desiredIngress(d.vpcCidr, need(refs.sgPrivate, 'eb_private group'), need(refs.sgPublic, 'eb_public group'))[k];
        const have = e.securityGroups[k]?.ingress ?? [];
        const perms = missingPermissions(want, have);
        const extra = extraPermissions(want, have);
        const group = need(k === 'private' ? refs.sgPrivate : refs.sgPublic, `eb_${k} group`);
        if (perms.length === 0 && extra.length === 0) return 'there';
        // Our group only (found by our tags): a rule it should not have is revoked.
        if (extra.length) await ec2.revokeIngress(call, group, extra).catch((err) => { if (!isCode(err, 'InvalidPermission.NotFound')) throw err; });
        if (perms.length) await ec2.authorizeIngress(call, group, perms).catch((err) => { if (!isCode(err, 'InvalidPermission.Duplicate')) throw err; });
        return 'done';
      },
    };
  },
  delete({ call, task, del, ids }) {
    const sgPrivate = ids(ROLE.sgPrivate);
    const sgPublic = ids(ROLE.sgPublic);
    // Only eb_public's rule that names eb_private blocks deleting eb_private first; after
    // that, nothing references eb_public any more.
    // describe-tags may name groups deleted earlier (moto keeps their tags): one revoke per
    // pair, so a stale id cannot spoil the real one.
    const revokes: string[] = [];
    for (const pub of sgPublic) {
      for (const priv of sgPrivate) {
        revokes.push(`revoke:${pub}:${priv}`);
        task(`revoke:${pub}:${priv}`, ['instances'], () =>
          del(`${pub}'s rule for ${priv}`, (o) => ec2.revokeIngress(call, pub, [{ IpProtocol: '-1', UserIdGroupPairs: [{ GroupId: priv }] }], o), false),
        );
      }
    }
    for (const id of sgPrivate) task(`sg:${id}`, ['instances', ...revokes], () => del(`security group eb_private ${id}`, (o) => ec2.deleteSecurityGroup(call, id, o)));
    for (const id of sgPublic) task(`sg:${id}`, ['instances', ...sgPrivate.map((p) => `sg:${p}`)], () => del(`security group eb_public ${id}`, (o) => ec2.deleteSecurityGroup(call, id, o)));
  },
};

/** Duplicates of ours that a create retried after a lost answer made: deleted, never left behind. */
/**
 * The launch template create_vpc's instance-profile check launches from (instance-profile.ts):
 * made by the check, kept with the phase, deleted here by its tags with the account's kinds
 * (it is not in the VPC).
 */
const profileCheck: ResourceKind = {
  name: "the instance-profile check's launch template",
  gone: ['InvalidLaunchTemplateId.NotFound'],
  check() {},
  create: () => ({}),
  delete({ call, task, del, ids }) {
    for (const id of ids(ROLE.profileCheck)) {
      task(`profile-check:${id}`, [], () => del(`launch template ${id} (the instance-profile check's)`, (o) => ec2.deleteLaunchTemplate(call, id, o)));
    }
  },
};

const spares: ResourceKind = {
  name: 'spares',
  check(_d, e, p) {
    for (const x of e.spares) p.add(`spare:${x.kind}:${x.id}`, `delete spare ${x.kind} ${x.id} (a duplicate from a retried create)`, 'fix');
  },
  create: ({ call }) => ({
    spare: async (_s, arg) => {
      const [kind, id] = [arg.slice(0, arg.lastIndexOf(':')), arg.slice(arg.lastIndexOf(':') + 1)];
      await deleteSpare(call, { kind: kind as Spare['kind'], id });
      return 'done';
    },
  }),
};

export const RESOURCES: readonly ResourceKind[] = [keyPair, iamRoles, instanceProfile, ebApplication, vpc, subnets, internetGateway, natGateway, routeTables, securityGroups, profileCheck, spares];

// The lists other modules need, derived from the table so that a new kind is one entry.

/** Every role tag value of the phase's EC2 resources, in the table's order (status). */
export const NETWORK_ROLES: readonly string[] = RESOURCES.flatMap((r) => r.roles ?? []);

/** Answers that mean a delete's target is already gone (teardown). */
export const GONE: ReadonlySet<string> = new Set(RESOURCES.flatMap((r) => r.gone ?? []));

/** The ids the steps start from: what discovery found, kind by kind (apply). */
export function refsFrom(e: ExistingPhase): Refs {
  return Object.assign({ subnets: {} }, ...RESOURCES.map((r) => r.refs?.(e) ?? {}));
}

/**
 * The kinds in the order teardown adds their deletes: what holds others first. The network's
 * (from the NAT gateway on) only while a VPC of the phase exists, after EB's instances in it.
 */
export const DELETE_ORDER = {
  account: [ebApplication, instanceProfile, iamRoles, keyPair, profileCheck],
  network: [natGateway, securityGroups, routeTables, subnets, internetGateway, vpc],
} as const;
