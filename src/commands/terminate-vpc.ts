// `terminate_vpc`: the reverse of create_vpc, touching only what carries this phase's tags.
// It refuses while the application still has live environments, and ends by naming
// whatever it could not delete (exit 1), so a second run can finish the job.
import type { Ctx } from '../context.js';
import { StateError } from '../errors.js';
import { desiredPhase } from '../infra/desired.js';
import { boundedCall } from '../infra/run.js';
import { Deadline } from '../time.js';
import { teardownPhase } from '../infra/teardown.js';
import type { CommandResult } from './types.js';

const DEADLINE_MINUTES = 30;

export async function terminateVpc(ctx: Ctx): Promise<CommandResult> {
  const deadline = new Deadline(DEADLINE_MINUTES);
  const d = desiredPhase(ctx.config);
  ctx.log.step(`removing phase ${ctx.phase}'s network, roles, key pair and application (only what carries its tags)`);
  const r = await ctx.steps.run('teardown', () => teardownPhase(ctx, boundedCall(ctx), d, deadline));
  for (const n of r.notOurs) ctx.log.info(`  left alone, not ours: ${n}`);
  const verb = ctx.dryRun ? 'would delete' : 'deleted';
  ctx.log.result(
    r.deleted.length === 0 && r.left.length === 0
      ? `terminate_vpc ${ctx.phase}: nothing of the phase was found`
      : `terminate_vpc ${ctx.phase}: ${verb} ${r.deleted.length}${r.left.length ? `, could not delete ${r.left.length}` : ''}`,
  );
  ctx.summary.outcome = `phase ${ctx.phase}: ${verb} ${r.deleted.length}${r.left.length ? `, could not delete ${r.left.length}` : ''}`;
  if (r.left.length > 0) {
    throw new StateError(
      `terminate_vpc could not delete ${r.left.length} item${r.left.length === 1 ? '' : 's'} of phase ${ctx.phase}:\n` +
        r.left.map((l) => `  - ${l.item}: ${l.reason}`).join('\n'),
      'fix the cause (or wait a few minutes for AWS to let go), then run terminate_vpc again',
    );
  }
  return { dryRun: ctx.dryRun, deleted: r.deleted, notOurs: r.notOurs };
}
