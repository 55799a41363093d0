// create_vpc's apply: run the plan's steps, each as soon as what it needs exists. Ids not
// known yet under --dry-run read as placeholders such as <vpc-id> in the printed calls.
import * as ec2 from '../aws/ec2.js';
import * as iam from '../aws/iam.js';
import { ownerTags } from '../aws/tags.js';
import type { Ctx } from '../context.js';
import { AwsCliError, StateError } from '../errors.js';
import { desiredIngress, extraPermissions, missingPermissions, type DesiredPhase } from './desired.js';
import { isOurs, type ExistingPhase, type Spare } from './discover.js';
import { deleteSpare } from './spares.js';
import { createEbApplication } from './eb-application.js';
import { NAME, ROLE, type IamRoleKey, type SubnetKey } from './names.js';
import type { CreatePlan, PlanStep } from './plan.js';
import { runGraph } from './run.js';
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

export function refsFrom(e: ExistingPhase): Refs {
  return {
    vpc: e.vpcId,
    subnets: { ...e.subnets },
    igw: e.internetGateway,
    eip: e.natEip,
    nat: e.natGateway?.id,
    publicRt: e.publicRouteTable?.id,
    mainRt: e.mainRouteTable?.id,
    sgPrivate: e.securityGroups.private?.id,
    sgPublic: e.securityGroups.public?.id,
  };
}

export interface ApplyOutcome {
  /** Labels of the steps that changed something. */
  done: string[];
  /** Steps that found their resource already there (a killed run made it). */
  alreadyThere: string[];
  failed: { step: string; error: string }[];
  refs: Refs;
}

const isCode = (err: unknown, ...codes: string[]) => err instanceof AwsCliError && codes.includes(err.awsCode ?? '');

/** What every step reads and writes: the run, the desired and existing phase, the ids so far. */
interface Scope {
  ctx: Ctx;
  call: ec2.AwsCall;
  d: DesiredPhase;
  e: ExistingPhase;
  refs: Refs;
  deadline: Deadline;
}

type Outcome = 'done' | 'there';
type StepFn = (s: PlanStep, arg: string) => Promise<Outcome>;

/**
 * create_vpc's steps as a table: one entry a kind of step (a plan step's id, or its prefix
 * before ':' such as role:, subnet:, rules:), each creating what is missing and answering
 * 'there' when a retried or killed run already made it.
 */
function stepTable(sc: Scope): Record<string, StepFn> {
  const { ctx, call, d, e, refs, deadline } = sc;
  const phase = d.phase;
  /** The id a create answered, or a placeholder when --dry-run did not run it. */
  const got = (id: string | undefined, placeholder: string): string => {
    if (id) return id;
    if (ctx.dryRun) return `<${placeholder}>`;
    throw new StateError(`AWS answered without the new ${placeholder}`);
  };
  const need = (id: string | undefined, what: string): string => {
    if (id) return id;
    throw new StateError(`cannot continue without the ${what}`);
  };

  /** create-route; a route already there (a retried create, a killed run) is replaced instead. */
  const route = async (table: string, target: ec2.RouteTarget, replace: boolean) => {
    try {
      await ec2.putRoute(call, table, '0.0.0.0/0', target, replace);
    } catch (err) {
      if (replace || !isCode(err, 'RouteAlreadyExists')) throw err;
      await ec2.putRoute(call, table, '0.0.0.0/0', target, true);
    }
  };

  /** A new NAT gateway is pending for minutes (R1); only an available one takes a route. */
  const natAvailable = async (id: string) => {
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
  };

  /** create-security-group; a duplicate name (a retried create) is adopted when it is ours. */
  const securityGroup = async (name: string, description: string, role: string): Promise<string> => {
    const vpc = need(refs.vpc, 'VPC');
    try {
      return got(await ec2.createSecurityGroup(call, vpc, name, description, ownerTags(phase, role, name)), `${name}-sg-id`);
    } catch (err) {
      if (!isCode(err, 'InvalidGroup.Duplicate')) throw err;
      const g = (await ec2.describeSecurityGroups(call, vpc)).find((x) => x.GroupName === name);
      if (g && isOurs(g.Tags, phase, role)) return g.GroupId;
      throw new StateError(`security group ${name} in ${vpc} exists and is not phase ${phase}'s`, `delete or rename it, then run create_vpc again`);
    }
  };


  return {
    'key-pair': async () => {
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
    'instance-profile': async () => {
      try {
        await iam.createInstanceProfile(call, d.iam.instanceProfile, d.iam.path, ownerTags(phase, ROLE.instanceProfile));
        return 'done';
      } catch (err) {
        if (isCode(err, 'EntityAlreadyExists')) return 'there'; // a killed run created it, the role was not in it yet
        throw err;
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
    'eb-application': async () => ((await createEbApplication(call, d.applicationName, ownerTags(phase, ROLE.application))) ? 'done' : 'there'),
    vpc: async () => {
      refs.vpc = got(await ec2.createVpc(call, d.vpcCidr, ownerTags(phase, ROLE.vpc, NAME.vpc)), 'vpc-id');
      return 'done';
    },
    igw: async () => {
      refs.igw = got(await ec2.createInternetGateway(call, ownerTags(phase, ROLE.internetGateway, NAME.internetGateway)), 'igw-id');
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
    eip: async () => {
      refs.eip = got(await ec2.allocateAddress(call, ownerTags(phase, ROLE.natEip, NAME.natEip)), 'eip-allocation-id');
      return 'done';
    },
    nat: async () => {
      const id = await ec2.createNatGateway(call, need(refs.subnets.public_1, 'subnet eb_public_1'), need(refs.eip, 'Elastic IP'), ownerTags(phase, ROLE.natGateway, NAME.natGateway));
      refs.nat = got(id, 'nat-gateway-id');
      return 'done';
    },
    'route-table:public': async () => {
      refs.publicRt = got(await ec2.createRouteTable(call, need(refs.vpc, 'VPC'), ownerTags(phase, ROLE.publicRouteTable, NAME.publicRouteTable)), 'public-route-table-id');
      return 'done';
    },
    'route-table:main': async () => {
      const vpc = need(refs.vpc, 'VPC');
      const main = vpc.startsWith('<') ? undefined : (await ec2.describeRouteTables(call, vpc, true))[0]?.RouteTableId;
      refs.mainRt = main ?? (ctx.dryRun ? '<main-route-table-id>' : need(main, "VPC's main route table"));
      return 'done';
    },
    'route:public': async (s) => {
      await route(need(refs.publicRt, 'public route table'), { gatewayId: need(refs.igw, 'internet gateway') }, Boolean(s.replace));
      return 'done';
    },
    'route:private': async (s) => {
      await route(need(refs.mainRt, 'main route table'), { natGatewayId: need(refs.nat, 'NAT gateway') }, Boolean(s.replace));
      return 'done';
    },
    'nat-ready': async () => {
      await natAvailable(need(refs.nat, 'NAT gateway'));
      return 'done';
    },
    'sg:private': async () => {
      refs.sgPrivate = await securityGroup(NAME.sgPrivate, 'Johanna: EB instances (private subnets)', ROLE.sgPrivate);
      return 'done';
    },
    'sg:public': async () => {
      refs.sgPublic = await securityGroup(NAME.sgPublic, 'Johanna: the load balancer (public subnets)', ROLE.sgPublic);
      return 'done';
    },
    role: async (_s, arg) => {
          const key = arg as IamRoleKey;
          try {
            await iam.createRole(call, d.iam.roles[key], d.iam.path, d.trust[key], ownerTags(phase, ROLE.iamRole));
            return 'done';
          } catch (err) {
            if (isCode(err, 'EntityAlreadyExists')) return 'there';
            throw err;
          }
    },
    policy: async (_s, arg) => {
          const key = arg as IamRoleKey;
          await iam.putRolePolicy(call, d.iam.roles[key], d.iam.policies[key]!, d.inlinePolicies[key]!);
          return 'done';
    },
    subnet: async (_s, arg) => {
          const k = arg as SubnetKey;
          const sub = d.subnets[k];
          const vpc = need(refs.vpc, 'VPC');
          try {
            refs.subnets[k] = got(await ec2.createSubnet(call, vpc, sub.cidr, sub.az, ownerTags(phase, ROLE.subnet(k), NAME.subnet(k))), `subnet-${k}-id`);
            return 'done';
          } catch (err) {
            // A retried create meets the subnet its first attempt made (R17).
            if (!isCode(err, 'InvalidSubnet.Conflict')) throw err;
            const [found] = await ec2.describeSubnets(call, [`Name=vpc-id,Values=${vpc}`, `Name=cidr-block,Values=${sub.cidr}`]);
            if (!found || !isOurs(found.Tags, phase, ROLE.subnet(k))) throw err;
            refs.subnets[k] = found.SubnetId;
            return 'there';
          }
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
    spare: async (_s, arg) => {
          const [kind, id] = [arg.slice(0, arg.lastIndexOf(':')), arg.slice(arg.lastIndexOf(':') + 1)];
          await deleteSpare(call, { kind: kind as Spare['kind'], id });
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
}

export async function applyPlan(ctx: Ctx, call: ec2.AwsCall, d: DesiredPhase, e: ExistingPhase, plan: CreatePlan, deadline: Deadline): Promise<ApplyOutcome> {
  const refs = refsFrom(e);
  const out: ApplyOutcome = { done: [], alreadyThere: [], failed: [], refs };
  const steps = stepTable({ ctx, call, d, e, refs, deadline });
  const action = (s: PlanStep): (() => Promise<Outcome>) => {
    const colon = s.id.indexOf(':');
    const fn = steps[s.id] ?? (colon > 0 ? steps[s.id.slice(0, colon)] : undefined);
    if (!fn) throw new Error(`no action for plan step ${s.id}`);
    return () => fn(s, colon > 0 ? s.id.slice(colon + 1) : '');
  };

  // The VPC chain is the longest path: its calls go first in the queue, IAM and the rest fill in.
  const rank = (id: string) => (id === 'vpc' ? 0 : /^(role|policy|instance-profile|eb-application|key-pair)/.test(id) ? 2 : 1);
  const ordered = [...plan.steps].sort((a, b) => rank(a.id) - rank(b.id));
  const failures = await runGraph(
    ordered.map((s) => {
      const run = action(s);
      return {
        id: s.id,
        deps: s.deps,
        run: async () => {
          const r = await run();
          if (s.kind === 'lookup') return;
          if (r === 'done') {
            out.done.push(s.label);
            if (!ctx.dryRun) ctx.log.ok(s.label);
          } else {
            out.alreadyThere.push(s.label);
          }
        },
      };
    }),
  );
  const labels = new Map(plan.steps.map((s) => [s.id, s.label]));
  for (const f of failures) out.failed.push({ step: labels.get(f.id) ?? f.id, error: (f.error as Error)?.message ?? String(f.error) });
  // A conflict is the operator's to resolve: surface it as itself, not as one failure of many.
  const conflict = failures.find((f) => f.error instanceof StateError);
  if (conflict) throw conflict.error;
  return out;
}
