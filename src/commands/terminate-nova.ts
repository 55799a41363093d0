// `terminate_nova`: every `nova-*` environment of the application (the ones we make; any
// other is named and left alone), then wait until none is left in a transitional state,
// with one deadline.
import type { Ctx } from '../context.js';
import { IncompleteError } from '../errors.js';
import * as eb from '../aws/eb.js';
import { BUSY_STATUSES, ENV_PREFIX, isLive } from '../deploy/environments.js';
import { removeEnvironment, settleBoundMs } from '../deploy/remove.js';
import { pollMs, waitFor } from '../time.js';
import type { CommandResult } from './types.js';
import { fence } from '../deploy/lock.js';

export async function terminateNova(ctx: Ctx): Promise<CommandResult> {
  const app = ctx.config.elasticbeanstalk.APPLICATION_NAME;
  const all = await ctx.steps.run('look', () => eb.describeEnvironments(ctx.call, app));
  const foreign = all.filter((e) => e.Status !== 'Terminated' && !e.EnvironmentName.startsWith(ENV_PREFIX));
  for (const e of foreign) ctx.log.warn(`leaving ${e.EnvironmentName} alone: Johanna did not make it (not nova-*)`);
  const live = all.filter((e) => e.Status !== 'Terminated' && e.EnvironmentName.startsWith(ENV_PREFIX));
  const toTerminate = live.filter(isLive);
  if (!live.length) {
    ctx.log.result(`no environments in application ${app}`);
    ctx.summary.outcome = `no environments in application ${app}: nothing to terminate`;
    return { terminated: [] };
  }
  // Each one is tried; one that EB refuses does not stop the others (they are reported together).
  const failed: string[] = [];
  const deadline = Date.now() + ctx.config.nova.DEPLOY_TIMEOUT_MINUTES * 60_000;
  await ctx.steps.run('terminate', async () => {
  for (const e of toTerminate) {
    ctx.log.step(`terminate ${e.EnvironmentName} (${e.CNAME ?? 'no CNAME'}, ${e.VersionLabel ?? 'no version'})`);
    await fence(ctx, `terminate-environment ${e.EnvironmentName}`);
    try {
      // EB refuses while it launches or updates (R40): an update is aborted, a launch waited out.
      const r = BUSY_STATUSES.has(e.Status)
        ? await removeEnvironment(ctx, app, e.EnvironmentName, { boundMs: Math.min(settleBoundMs(ctx), deadline - Date.now()), abortUpdate: true })
        : await eb.terminateEnvironment(ctx.call, e.EnvironmentName);
      if (r === 'already') ctx.log.info(`  ${e.EnvironmentName} was already terminating`);
      if (r === 'left') throw new Error(`EB is still busy with it (${e.Status}) after the wait, and refuses to terminate it until it ends`);
    } catch (err) {
      failed.push(`${e.EnvironmentName}: ${(err as Error).message}`);
      ctx.log.warn(`could not terminate ${e.EnvironmentName}: ${(err as Error).message}`);
    }
  }
  });
  const refused = new Set(failed.map((f) => f.slice(0, f.indexOf(':'))));
  const names = live.map((e) => e.EnvironmentName).filter((n) => !refused.has(n));
  if (!ctx.dryRun && names.length) {
    await ctx.steps.run('wait', () => waitFor(ctx, {
      what: `${names.join(', ')} to be Terminated`,
      deadline: Date.now() + ctx.config.nova.DEPLOY_TIMEOUT_MINUTES * 60_000,
      intervalMs: pollMs(ctx),
      check: async () => {
        const now = await eb.describeEnvironments(ctx.call, app, { names, includeDeleted: true, purpose: 'poll' });
        const left = now.filter((e) => e.Status !== 'Terminated');
        return left.length ? { state: left.map((e) => `${e.EnvironmentName} ${e.Status}`).join(', ') } : { done: true };
      },
    }));
  }
  if (failed.length) throw new IncompleteError(`could not terminate ${failed.join('; ')}`, 'run terminate_nova again; see ./run status');
  ctx.log.result(`terminated ${live.map((e) => e.EnvironmentName).join(', ')}`);
  ctx.summary.outcome = `${ctx.dryRun ? 'would terminate' : 'terminated, gone'}: ${live.map((e) => e.EnvironmentName).join(', ')}`;
  return { terminated: live.map((e) => e.EnvironmentName) };
}
