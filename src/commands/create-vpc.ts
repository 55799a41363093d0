// `create_vpc`: converge the phase's key pair, IAM roles, EB application and network.
// Plan (what exists, found by our tags, against what the config wants), then apply only
// what is missing; a killed run is finished by the next one, a complete phase is left alone.
import type { Ctx } from '../context.js';
import { IncompleteError } from '../errors.js';
import type { AwsCall } from '../aws/ec2.js';
import { applyPlan, type ApplyOutcome } from '../infra/apply.js';
import type { DesiredPhase } from '../infra/desired.js';
import type { Spare } from '../infra/discover.js';
import type { CreatePlan } from '../infra/plan.js';
import { kindsToSweep, sweepSpares } from '../infra/spares.js';
import { desiredPhase } from '../infra/desired.js';
import { discoverForCreate } from '../infra/discover.js';
import { planCreate } from '../infra/plan.js';
import { boundedCall } from '../infra/run.js';
import { Deadline } from '../time.js';
import type { CommandResult } from './types.js';

const DEADLINE_MINUTES = 20;

export async function createVpc(ctx: Ctx): Promise<CommandResult> {
  const deadline = new Deadline(DEADLINE_MINUTES);
  const call = boundedCall(ctx);
  const d = desiredPhase(ctx.config);

  ctx.log.step(`looking at phase ${ctx.phase} (VPC ${d.vpcCidr}, application ${d.applicationName}, key pair ${d.keyPair.name})`);
  const { existing, plan } = await ctx.steps.run('look', async () => {
    const existing = await discoverForCreate(ctx, call, d);
    return { existing, plan: planCreate(d, existing) };
  });
  const todo = plan.steps.filter((s) => s.kind !== 'lookup');

  if (todo.length === 0) {
    ctx.log.ok(`phase ${ctx.phase} is complete: nothing to create`);
  } else {
    ctx.log.step(`${ctx.dryRun ? 'would create' : 'creating'} ${todo.length} item${todo.length === 1 ? '' : 's'}:`);
    for (const s of todo) ctx.log.info(`  + ${s.label}`);
  }

  const out = todo.length === 0 ? undefined : await ctx.steps.run('apply', () => applyPlan(ctx, call, d, existing, plan, deadline));
  if (out) await ctx.steps.run('settle', () => afterApply(ctx, call, d, plan, out));
  const refs = out?.refs ?? {
    vpc: existing.vpcId,
    subnets: existing.subnets,
    nat: existing.natGateway?.id,
    sgPrivate: existing.securityGroups.private?.id,
    sgPublic: existing.securityGroups.public?.id,
  };
  const created = out?.done ?? [];
  const present = [...plan.present, ...(out?.alreadyThere ?? [])];
  const verb = ctx.dryRun ? 'would create' : 'created';
  ctx.log.result(`create_vpc ${ctx.phase}: ${verb} ${created.length}, already present ${present.length}${out?.failed.length ? `, failed ${out.failed.length}` : ''}${refs.vpc ? ` (VPC ${refs.vpc})` : ''}`);

  ctx.summary.outcome = `phase ${ctx.phase}: ${verb} ${created.length}, already present ${present.length}${refs.vpc ? ` (VPC ${refs.vpc})` : ''}`;
  if (out && out.failed.length > 0) {
    const err = new IncompleteError(
      `create_vpc could not finish phase ${ctx.phase}:\n` + out.failed.map((f) => `  - ${f.step}: ${f.error}`).join('\n'),
      'fix the cause and run create_vpc again: it creates only what is still missing',
    );
    throw err;
  }
  return {
    dryRun: ctx.dryRun,
    created,
    present,
    vpcId: refs.vpc,
    subnetIds: refs.subnets,
    natGatewayId: refs.nat,
    securityGroupIds: { eb_private: refs.sgPrivate, eb_public: refs.sgPublic },
    iam: d.iam,
  };
}

/**
 * What a create leaves to check once it is done: the duplicates a retried create made (found
 * by our tags, deleted; looked for only after a retry). A new instance profile's wait until
 * EC2 can use it (so create_nova does not launch into IAM's window) is a step of the apply.
 */
async function afterApply(ctx: Ctx, call: AwsCall, d: DesiredPhase, plan: CreatePlan, out: ApplyOutcome): Promise<void> {
  const ran = new Set(plan.steps.map((s) => s.id));
  const created = new Set<Spare['kind']>();
  if (ran.has('vpc') && out.refs.vpc) created.add('vpc');
  if (ran.has('igw') && out.refs.igw) created.add('internet-gateway');
  if (ran.has('eip') && out.refs.eip) created.add('elastic-ip');
  // Only the kinds whose create the run log shows sent more than once can have a duplicate.
  const kinds = kindsToSweep(ctx.aws.records, created);
  try {
    out.done.push(...(await sweepSpares(ctx, call, d, out.refs, kinds)));
  } catch (err) {
    out.failed.push({ step: 'delete the duplicates of a retried create', error: (err as Error).message });
  }
}
