// `discard`: terminate the environment `create_nova --hold` left on its own CNAME, when it
// is not wanted after all. Only a held one: it never holds the main CNAME (a held
// environment that took part in a swap is no longer held).
import type { Ctx } from '../context.js';
import * as eb from '../aws/eb.js';
import { BUSY_STATUSES, findHeld, mainCname } from '../deploy/environments.js';
import { removeEnvironment, settleBoundMs } from '../deploy/remove.js';
import { StateError } from '../errors.js';
import type { CommandResult } from './types.js';
import { fence } from '../deploy/lock.js';

export async function discard(ctx: Ctx): Promise<CommandResult> {
  const app = ctx.config.elasticbeanstalk.APPLICATION_NAME;
  const held = await ctx.steps.run('look', async () => findHeld(ctx, app, await eb.describeEnvironments(ctx.call, app), mainCname(ctx)));
  if (!held.length) {
    ctx.log.result('no environment is held: nothing to discard (create_nova --hold makes one)');
    ctx.summary.outcome = 'nothing held, nothing discarded';
    return { terminated: [] };
  }
  const terminated: string[] = [];
  for (const { environment: e, since } of held) {
    ctx.log.step(`discard ${e.EnvironmentName} (${e.VersionLabel ?? '?'}, at ${e.CNAME ?? '?'}, held since ${since})`);
    // EB refuses while it updates (R40): the update is aborted where EB allows it, else waited out.
    await fence(ctx, `terminate-environment ${e.EnvironmentName}`);
    const r = await ctx.steps.run('terminate', async () =>
      BUSY_STATUSES.has(e.Status) ? await removeEnvironment(ctx, app, e.EnvironmentName, { boundMs: settleBoundMs(ctx), abortUpdate: true }) : await eb.terminateEnvironment(ctx.call, e.EnvironmentName),
    );
    if (r === 'left') throw new StateError(`${e.EnvironmentName} is still ${e.Status} at EB after ${settleBoundMs(ctx) / 1000} s, and EB refuses to terminate it until that ends`, 'run ./run discard again later (./run status shows its state)');
    terminated.push(e.EnvironmentName);
    // Gone or still terminating (issue 22 item 6): one look after the call, no wait.
    const now = ctx.dryRun ? undefined : (await eb.describeEnvironments(ctx.call, app, { names: [e.EnvironmentName], includeDeleted: true, purpose: 'poll' }))[0];
    const state = now?.Status === 'Terminated' ? 'gone' : `still terminating${now ? ` (${now.Status})` : ''}; ./run status shows when it is gone`;
    ctx.log.result(`${r === 'already' ? 'already terminating' : 'terminating'} ${e.EnvironmentName} (${e.VersionLabel ?? '?'}): ${state}; the live environment was not touched`);
    ctx.summary.outcome = `discarded ${e.VersionLabel ?? '?'} (${e.EnvironmentName}): ${state.split(';')[0]}`;
    ctx.summary.cname = mainCname(ctx);
  }
  return {
    terminated,
    discarded: held.map((h) => ({ environment: h.environment.EnvironmentName, versionLabel: h.environment.VersionLabel, cname: h.environment.CNAME, heldSince: h.since })),
  };
}
