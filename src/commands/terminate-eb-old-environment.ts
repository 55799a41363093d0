// `terminate_eb_old_environment`: remove yesterday's environments once DNS caches have
// had time to forget them and their traffic has stopped, and prune old application
// versions. The rules are src/deploy/cleanup.ts's; create_nova runs the same cleanup at its end.
import type { Ctx } from '../context.js';
import { IncompleteError } from '../errors.js';
import { cleanupOldEnvironments } from '../deploy/cleanup.js';
import type { CommandOptions, CommandResult } from './types.js';

export async function terminateEbOldEnvironment(ctx: Ctx, opts: CommandOptions): Promise<CommandResult> {
  const grace = opts.graceMinutes ?? ctx.config.nova.OLD_ENVIRONMENT_GRACE_MINUTES;
  const forceDrain = opts.forceDrain;
  if (forceDrain) ctx.log.warn('--force-drain: the traffic check is skipped; an environment past the grace period goes even if clients still reach it');
  const r = await ctx.steps.run('cleanup', () => cleanupOldEnvironments(ctx, { graceMinutes: grace, quietMinutes: ctx.config.nova.DRAIN_QUIET_MINUTES, forceDrain, pruneVersions: true }));
  const { failed, ...result } = r;
  if (failed.length) throw new IncompleteError(`could not terminate ${failed.length} environment${failed.length > 1 ? 's' : ''}: ${failed.join('; ')}`, 'run terminate_eb_old_environment again; see ./run status');
  return result;
}
