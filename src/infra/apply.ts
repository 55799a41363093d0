// create_vpc's apply: run the plan's steps, each as soon as what it needs exists. Ids not
// known yet under --dry-run read as placeholders such as <vpc-id> in the printed calls.
import * as ec2 from '../aws/ec2.js';
import * as iam from '../aws/iam.js';
import { ownerTags } from '../aws/tags.js';
import type { Ctx } from '../context.js';
import { AwsCliError, StateError } from '../errors.js';
import { desiredIngress, missingPermissions, type DesiredPhase } from './desired.js';
import { isOurs, type ExistingPhase } from './discover.js';
import { createEbApplication } from './eb-application.js';
import { NAME, ROLE, type IamRoleKey, type SubnetKey } from './names.js';
import type { CreatePlan, PlanStep } from './plan.js';
import { runGraph } from './run.js';
import { waitUntil, type Deadline } from '../time.js';

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

export async function applyPlan(ctx: Ctx, call: ec2.AwsCall, d: DesiredPhase, e: ExistingPhase, plan: CreatePlan, deadline: Deadline): Promise<ApplyOutcome> {
  const refs = refsFrom(e);
  const out: ApplyOutcome = { done: [], alreadyThere: [], failed: [], refs };
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

  const actions: Record<string, (s: PlanStep) => Promise<'done' | 'there'>> = {
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
        if (isCode(err, 'LimitExceeded')) return 'there'; // it already holds its one role
        throw err;
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
      await ec2.putRoute(call, need(refs.publicRt, 'public route table'), '0.0.0.0/0', { gatewayId: need(refs.igw, 'internet gateway') }, Boolean(s.replace));
      return 'done';
    },
    'route:private': async (s) => {
      await ec2.putRoute(call, need(refs.mainRt, 'main route table'), '0.0.0.0/0', { natGatewayId: need(refs.nat, 'NAT gateway') }, Boolean(s.replace));
      return 'done';
    },
    'sg:private': async () => {
      refs.sgPrivate = got(await ec2.createSecurityGroup(call, need(refs.vpc, 'VPC'), NAME.sgPrivate, 'Johanna: EB instances, private', ownerTags(phase, ROLE.sgPrivate, NAME.sgPrivate)), 'eb_private-sg-id');
      return 'done';
    },
    'sg:public': async () => {
      refs.sgPublic = got(await ec2.createSecurityGroup(call, need(refs.vpc, 'VPC'), NAME.sgPublic, 'Johanna: EB instances and load balancer, public', ownerTags(phase, ROLE.sgPublic, NAME.sgPublic)), 'eb_public-sg-id');
      return 'done';
    },
  };

  const action = (s: PlanStep): (() => Promise<'done' | 'there'>) => {
    const direct = actions[s.id];
    if (direct) return () => direct(s);
    const [kind, arg] = [s.id.slice(0, s.id.indexOf(':')), s.id.slice(s.id.indexOf(':') + 1)];
    switch (kind) {
      case 'role':
        return async () => {
          const key = arg as IamRoleKey;
          try {
            await iam.createRole(call, d.iam.roles[key], d.iam.path, d.trust[key], ownerTags(phase, ROLE.iamRole));
            return 'done';
          } catch (err) {
            if (isCode(err, 'EntityAlreadyExists')) return 'there';
            throw err;
          }
        };
      case 'policy':
        return async () => {
          const key = arg as IamRoleKey;
          await iam.putRolePolicy(call, d.iam.roles[key], d.iam.policies[key]!, d.inlinePolicies[key]!);
          return 'done';
        };
      case 'subnet':
        return async () => {
          const k = arg as SubnetKey;
          const sub = d.subnets[k];
          const id = await ec2.createSubnet(call, need(refs.vpc, 'VPC'), sub.cidr, sub.az, ownerTags(phase, ROLE.subnet(k), NAME.subnet(k)));
          refs.subnets[k] = got(id, `subnet-${k}-id`);
          return 'done';
        };
      case 'assoc':
        return async () => {
          const k = arg as SubnetKey;
          await ec2.associateRouteTable(call, need(refs.publicRt, 'public route table'), need(refs.subnets[k], `subnet eb_${k}`));
          return 'done';
        };
      case 'nat-cleanup':
        return async () => {
          const stale = e.staleNatGateways.find((n) => n.id === arg)!;
          if (stale.state !== 'deleting') await ec2.deleteNatGateway(call, arg);
          // Its Elastic IP is ours to reuse only once the old gateway has let go of it.
          if (stale.allocationId && stale.allocationId === refs.eip) {
            await waitUntil(ctx, deadline, `NAT gateway ${arg} to be deleted`, async () => {
              const [n] = await ec2.describeNatGateways(call, [`Name=nat-gateway-id,Values=${arg}`], { purpose: 'poll' });
              return !n || n.State === 'deleted';
            });
          }
          return 'done';
        };
      case 'rules':
        return async () => {
          const k = arg as 'private' | 'public';
          const want = desiredIngress(d.vpcCidr, need(refs.sgPrivate, 'eb_private group'), need(refs.sgPublic, 'eb_public group'))[k];
          const perms = missingPermissions(want, e.securityGroups[k]?.ingress ?? []);
          if (perms.length === 0) return 'there';
          await ec2.authorizeIngress(call, need(k === 'private' ? refs.sgPrivate : refs.sgPublic, `eb_${k} group`), perms);
          return 'done';
        };
    }
    throw new Error(`no action for plan step ${s.id}`);
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
