// terminate_vpc's work: delete what carries this phase's tags, in dependency order, and
// nothing else. Each delete treats "already gone" as done, so a killed run is finished by
// the next one; whatever cannot be deleted is reported with the reason.
import * as ec2 from '../aws/ec2.js';
import * as iam from '../aws/iam.js';
import type { CallOptions } from '../aws/cli.js';
import { phaseFilters, TAG_PHASE, TAG_ROLE, tagValue } from '../aws/tags.js';
import type { Ctx } from '../context.js';
import { AwsCliError, BlockedError, RecordedError, StateError } from '../errors.js';
import type { DesiredPhase } from './desired.js';
import { isOurs, phaseResources } from './discover.js';
import { deleteEbApplication, ebApplication, ebEnvironments, ebTags } from './eb-application.js';
import { IAM_ROLE_KEYS, ROLE, SUBNET_KEYS, type IamNames } from './names.js';
import { runGraph, type Task } from './run.js';
import { pause, pollMs, throwIfInterrupted, waitUntil, type Deadline } from '../time.js';
import { deleteApplicationVersionOf, listApplicationVersionsOf } from '../aws/eb.js';

/** Answers that mean the thing is already gone (or, for detach/revoke, already undone). */
const GONE = new Set([
  'InvalidVpcID.NotFound',
  'InvalidSubnetID.NotFound',
  'InvalidGroup.NotFound',
  'InvalidRouteTableID.NotFound',
  'InvalidNatGatewayID.NotFound',
  'NatGatewayNotFound',
  'InvalidAllocationID.NotFound',
  'InvalidInternetGatewayID.NotFound',
  'InvalidKeyPair.NotFound',
  'Gateway.NotAttached',
  'InvalidPermission.NotFound',
  'InvalidAssociationID.NotFound',
  'NoSuchEntity',
]);

export interface TeardownResult {
  deleted: string[];
  /** Found but not ours (no or another phase's tags): left alone on purpose. */
  notOurs: string[];
  /** Ours, but still there: what and why. */
  left: { item: string; reason: string }[];
}

/** The live environments that block a teardown. */
export function liveEnvironments(envs: { EnvironmentName: string; Status: string }[]): string[] {
  return envs.filter((e) => e.Status !== 'Terminated').map((e) => `${e.EnvironmentName} (${e.Status})`);
}

export async function teardownPhase(ctx: Ctx, call: ec2.AwsCall, d: DesiredPhase, deadline: Deadline): Promise<TeardownResult> {
  const out: TeardownResult = { deleted: [], notOurs: [], left: [] };
  const phase = d.phase;
  const [envs, roles, tags, keyPairs] = await Promise.all([
    ebEnvironments(call, d.applicationName),
    iam.roleDetails(call),
    ec2.describeTagsByKeys(call, [TAG_PHASE, TAG_ROLE]),
    ec2.describeKeyPairs(call, phaseFilters(phase, ROLE.keyPair)),
  ]);
  const live = liveEnvironments(envs);
  if (live.length > 0) {
    throw new StateError(
      `application ${d.applicationName} still has live environments: ${live.join(', ')}`,
      'terminate them first (./run terminate_nova, or ./run terminate for the whole phase), then run terminate_vpc again',
    );
  }
  // describe-tags names candidates; a VPC is real only if it still has its main route
  // table, and with no real VPC nothing of the network is left (it is deleted last).
  const res = phaseResources(tags, phase);
  const ids = (role: string) => res.get(role) ?? [];
  const vpcCandidates = ids(ROLE.vpc);
  const routeTables = vpcCandidates.length ? await ec2.describeRouteTables(call, vpcCandidates) : [];
  const vpcs = [...new Set(routeTables.map((rt) => rt.VpcId))];

  const every = pollMs(ctx);
  /**
   * One delete: "gone" answers count as done; DependencyViolation (ENIs still draining,
   * another delete not visible yet) is retried until the deadline; anything else is left.
   */
  const del: Del = async (label, fn, retryDependency = true) => {
    const started = Date.now();
    for (let attempt = 1; ; attempt++) {
      try {
        await fn(attempt > 1 ? { purpose: 'poll' } : {});
        out.deleted.push(label);
        if (!ctx.dryRun) ctx.log.ok(`deleted ${label}`);
        return;
      } catch (err) {
        const code = err instanceof AwsCliError ? err.awsCode ?? '' : '';
        if (GONE.has(code)) return;
        // EB says "gone" in its message only (a retried delete after a lost answer).
        if (err instanceof AwsCliError && /No Application (Version )?named .* found|Application Version .* does not exist/i.test(err.stderr)) return;
        // Interfaces of a terminated environment linger for minutes (R6): wait them out,
        // in a pause that Ctrl-C cuts short.
        if (retryDependency && code === 'DependencyViolation' && deadline.left() > every) {
          ctx.log.live(`${label}: still in use, retrying (${Math.round((Date.now() - started) / 1000)}s)`);
          await pause(every, ctx.signal);
          throwIfInterrupted(ctx.signal, `${label} to be free of dependencies`);
          continue;
        }
        out.left.push({ item: label, reason: (err as Error).message });
        throw new RecordedError(label);
      }
    }
  };
  const tasks: Task[] = [];
  const task: AddTask = (id, deps, run) => tasks.push({ id, deps, run: async () => void (await run()) });

  // ---- the EB application: only with our tags ------------------------------------------
  const account = roles.map((r) => r.Arn.split(':')[4]).find(Boolean);
  task('eb-application', [], async () => {
    let arn = account && `arn:aws:elasticbeanstalk:${d.region}:${account}:application/${d.applicationName}`;
    if (!arn) {
      const app = await ebApplication(call, d.applicationName);
      if (!app) return;
      arn = app.ApplicationArn ?? '';
    }
    const appTags = await ebTags(call, arn);
    if (appTags === undefined) {
      // No tags to read: gone, unless describe-applications still shows it, and then we
      // cannot prove it ours, so it stays and is reported rather than passed over in silence.
      if (account && (await ebApplication(call, d.applicationName))) {
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
    await del(`EB application ${d.applicationName}`, (o) => deleteEbApplication(call, d.applicationName, o), false);
  });

  // ---- IAM: the profile, then each role's policies, then the roles -------------------------
  addIamTasks(d.iam, phase, roles, out, task, del, call);

  // ---- the key pair ----------------------------------------------------------------------
  for (const kp of keyPairs.filter((k) => isOurs(k.Tags, phase, ROLE.keyPair) && k.KeyPairId)) {
    task(`key-pair:${kp.KeyPairId}`, [], () => del(`key pair ${kp.KeyName} (${kp.KeyPairId})`, (o) => ec2.deleteKeyPair(call, kp.KeyName, o)));
  }

  // ---- the network -----------------------------------------------------------------------
  if (vpcs.length > 0) addNetworkTasks(ctx, call, deadline, phase, vpcs, routeTables, ids, task, del);

  const failures = await runGraph(tasks);
  for (const f of failures) {
    if (f.error instanceof RecordedError) continue;
    if (f.error instanceof BlockedError) continue; // what blocked it is listed already
    out.left.push({ item: f.id, reason: (f.error as Error)?.message ?? String(f.error) });
  }
  const blocked = failures.filter((f) => f.error instanceof BlockedError).map((f) => f.id);
  if (blocked.length) out.left.push({ item: blocked.join(', '), reason: 'not attempted: something they depend on could not be deleted' });
  return out;
}

/** A failed delete that is already listed in `left`. */

function addNetworkTasks(
  ctx: Ctx,
  call: ec2.AwsCall,
  deadline: Deadline,
  phase: string,
  vpcs: string[],
  routeTables: ec2.RouteTable[],
  ids: (role: string) => string[],
  task: AddTask,
  del: Del,
): void {
  const subnets = SUBNET_KEYS.flatMap((k) => ids(ROLE.subnet(k)).map((id) => ({ id, label: `subnet eb_${k} ${id}` })));
  const eips = ids(ROLE.natEip);
  const nats = ids(ROLE.natGateway);
  const sgPrivate = ids(ROLE.sgPrivate);
  const sgPublic = ids(ROLE.sgPublic);
  const publicRts = routeTables.filter((rt) => isOurs(rt.Tags, phase, ROLE.publicRouteTable));

  // EB's instances must be gone first: their ENIs hold the subnets and security groups.
  task('instances', [], async () => {
    for (const vpc of vpcs) {
      await waitUntil(ctx, deadline, `the instances in ${vpc} to terminate`, async () =>
        (await ec2.describeLiveInstances(call, vpc, { purpose: 'poll' })).length === 0,
      );
    }
  });
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
  for (const id of eips) task(`eip:${id}`, ['nat-gone'], () => del(`Elastic IP ${id}`, (o) => ec2.releaseAddress(call, id, o), false));
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
  // A subnet takes its route-table association with it, so the public table goes after
  // the subnets it serves, with no disassociate calls.
  for (const rt of publicRts) {
    const served = (rt.Associations ?? []).filter((a) => !a.Main && a.SubnetId).map((a) => `subnet:${a.SubnetId}`);
    const known = served.filter((t) => subnets.some((s) => `subnet:${s.id}` === t));
    task(`rt:${rt.RouteTableId}`, known, () => del(`public route table ${rt.RouteTableId}`, (o) => ec2.deleteRouteTable(call, rt.RouteTableId, o)));
  }
  for (const s of subnets) task(`subnet:${s.id}`, ['instances', 'nat-gone'], () => del(s.label, (o) => ec2.deleteSubnet(call, s.id, o)));
  // A gateway detaches only once no public address is mapped in the VPC (the NAT's EIP).
  for (const id of ids(ROLE.internetGateway)) {
    task(`igw-detach:${id}`, ['nat-gone', ...eips.map((e) => `eip:${e}`)], async () => {
      for (const vpc of vpcs) await del(`internet gateway ${id} attachment to ${vpc}`, (o) => ec2.detachInternetGateway(call, id, vpc, o));
    });
    task(`igw:${id}`, [`igw-detach:${id}`], () => del(`internet gateway ${id}`, (o) => ec2.deleteInternetGateway(call, id, o)));
  }
  const before = ['subnet:', 'rt:', 'igw:', 'sg:'];
  const deps = (all: string[]) => all.filter((t) => before.some((b) => t.startsWith(b)));
  const known = [...subnets.map((s) => `subnet:${s.id}`), ...publicRts.map((rt) => `rt:${rt.RouteTableId}`), ...ids(ROLE.internetGateway).map((i) => `igw:${i}`), ...[...sgPrivate, ...sgPublic].map((g) => `sg:${g}`)];
  for (const id of vpcs) task(`vpc:${id}`, deps(known), () => del(`VPC ${id}`, (o) => ec2.deleteVpc(call, id, o)));
}

type Del = (label: string, fn: (opts: CallOptions) => Promise<unknown>, retryDependency?: boolean) => Promise<void>;
type AddTask = (id: string, deps: string[], run: () => Promise<unknown>) => void;

function addIamTasks(names: IamNames, phase: string, details: iam.RoleDetail[], out: TeardownResult, task: AddTask, del: Del, call: ec2.AwsCall): void {
  const mine = new Map<string, iam.RoleDetail>();
  for (const key of IAM_ROLE_KEYS) {
    const d = details.find((r) => r.RoleName === names.roles[key]);
    if (!d) continue;
    const ours = d.Path === names.path && (d.Tags === undefined || tagValue(d.Tags, TAG_PHASE) === phase);
    if (ours) mine.set(key, d);
    else out.notOurs.push(`IAM role ${d.RoleName} (path ${d.Path})`);
  }
  const ec2Role = mine.get('ec2');
  if (ec2Role) {
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
  }
  for (const [key, d] of mine) {
    task(`role:${key}`, key === 'ec2' ? ['instance-profile'] : [], async () => {
      await Promise.all([
        ...(d.RolePolicyList ?? []).map((p) => del(`inline policy ${p.PolicyName} of ${d.RoleName}`, (o) => iam.deleteRolePolicy(call, d.RoleName, p.PolicyName, o))),
        ...(d.AttachedManagedPolicies ?? []).map((p) => del(`managed policy ${p.PolicyName} from ${d.RoleName}`, (o) => iam.detachRolePolicy(call, d.RoleName, p.PolicyArn, o))),
      ]);
      await del(`IAM role ${d.RoleName}`, (o) => iam.deleteRole(call, d.RoleName, o));
    });
  }
}
