// `create_nova`: the daily deploy (src/deploy/blue-green.ts has the steps), then the cleanup
// of environments already past the grace period and drained, so a late deploy never leaves
// two days of environments running.
import type { Ctx } from '../context.js';
import { InterruptedError, LockLostError } from '../errors.js';
import { deployNova, type DeployResult } from '../deploy/blue-green.js';
import type { CommandOptions, CommandResult } from './types.js';
import { cleanupOldEnvironments, type CleanupResult } from '../deploy/cleanup.js';
import { bakeAfterSwap } from '../deploy/bake.js';

export async function createNova(ctx: Ctx, opts: CommandOptions): Promise<CommandResult> {
  const deployed = await deployNova(ctx, { hold: opts.hold, waitMinutes: opts.waitMinutes });
  // A held deploy swapped nothing, so nothing went out of service: no cleanup to run.
  if (deployed.dryRun || deployed.held) return { ...deployed };
  // The bake after the swap to the new version (issue 21), under the deploy's one deadline.
  if (deployed.oldEnvironment && deployed.swappedAt) {
    deployed.bake = await bakeAfterSwap(ctx, opts.noBake, {
      app: ctx.config.elasticbeanstalk.APPLICATION_NAME,
      main: deployed.cname,
      newEnvironment: deployed.newEnvironment,
      versionLabel: deployed.versionLabel,
      oldEnvironment: deployed.oldEnvironment,
      oldVersionLabel: deployed.previousVersionLabel,
      oldCname: deployed.newEnvironmentCname ?? '',
      swapDoneAt: Date.parse(deployed.swappedAt),
      firingBefore: deployed.alarmsFiringBeforeSwap ?? [],
      // deployNova's deadline: its start plus nova.DEPLOY_TIMEOUT_MINUTES.
      deadline: Date.now() - deployed.elapsedSeconds * 1000 + ctx.config.nova.DEPLOY_TIMEOUT_MINUTES * 60_000,
      facts: { newEnvironment: deployed.newEnvironment, oldEnvironment: deployed.oldEnvironment, versionLabel: deployed.versionLabel, swappedAt: deployed.swappedAt, gitHashJohanna: deployed.gitHashJohanna, gitHashNova: deployed.gitHashNova },
    });
  }
  return { ...deployed, cleanup: await cleanupAfterDeploy(ctx, deployed) };
}

/**
 * The same cleanup as terminate_eb_old_environment (grace, DNS TTL and quiet window from the
 * config; never the live one, never the one just made). The deploy has succeeded by now, so
 * a failing cleanup is a warning: terminate_eb_old_environment tries again later.
 */
async function cleanupAfterDeploy(ctx: Ctx, deployed: DeployResult): Promise<Omit<CleanupResult, 'failed'> | { error: string }> {
  const nova = ctx.config.nova;
  ctx.log.step(`cleanup: old environments past the grace period (${nova.OLD_ENVIRONMENT_GRACE_MINUTES} min) with no traffic for ${nova.DRAIN_QUIET_MINUTES} min`);
  try {
    const { failed, ...r } = await ctx.steps.run('cleanup', () => cleanupOldEnvironments(ctx, {
      graceMinutes: nova.OLD_ENVIRONMENT_GRACE_MINUTES,
      quietMinutes: nova.DRAIN_QUIET_MINUTES,
      spare: new Map([[deployed.newEnvironment, 'was made by this deploy']]),
      // This run's swap reaches the history only when the run ends.
      swaps: deployed.oldEnvironment && deployed.swappedAt ? [{ from: deployed.oldEnvironment, to: deployed.newEnvironment, at: new Date(deployed.swappedAt), command: ctx.command }] : [],
      skipMarked: true,
      print: 'info',
    }));
    for (const f of failed) ctx.log.warn(`cleanup: could not terminate ${f}; the deploy stands, run terminate_eb_old_environment later`);
    return r;
  } catch (err) {
    // A lost lock stops the run with exit 3: the deploy stands, nothing more is removed.
    if (err instanceof InterruptedError || err instanceof LockLostError) throw err;
    ctx.log.warn(`cleanup after the deploy failed: ${(err as Error).message}; the deploy stands, run terminate_eb_old_environment later`);
    return { error: (err as Error).message };
  }
}
