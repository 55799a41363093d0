// `rollback`: give the main CNAME back to the previous environment while it still lives
// (the original had none: "a hot fix within 10 minutes"). Rolling back twice returns to
// where you started, since the environment we swap away from becomes the previous one.
import type { Ctx } from '../context.js';
import { StateError } from '../errors.js';
import * as eb from '../aws/eb.js';
import { byAgeNewestFirst, envTimestamp, ENV_PREFIX, holderOfMain, isLive, mainCname, sameHost } from '../deploy/environments.js';
import { birthCname } from '../deploy/remove.js';
import { swapBack } from '../deploy/swap-back.js';
import { deployOf, describeDeploy, lastSwapOf, ledgerOf, readHistoryOf, type Ledger } from '../deploy/history.js';
import type { CommandResult } from './types.js';

export async function rollback(ctx: Ctx): Promise<CommandResult> {
  const app = ctx.config.elasticbeanstalk.APPLICATION_NAME;
  const main = mainCname(ctx);
  const all = await ctx.steps.run('look', () => eb.describeEnvironments(ctx.call, app, { includeDeleted: true }));
  const current = holderOfMain(all, main);
  if (!current) throw new StateError(`no environment holds ${main}`, 'deploy with create_nova first');
  // Who handed the main CNAME to the current one is the deploy history's to say (issue 20
  // item 1: EB forgets its swap events); one query, for the records of the live ones.
  const history = await ctx.steps.run('history', () => readHistoryOf(ctx, all.filter((e) => isLive(e) && e.EnvironmentName.startsWith(ENV_PREFIX)).map((e) => e.EnvironmentName)));
  const others = byAgeNewestFirst(all.filter((e) => e !== current && e.EnvironmentName.startsWith(ENV_PREFIX)));
  // The previous one is the one that last handed the main CNAME to the current one: the
  // other party of the newest swap naming it. A newer environment that never served (a
  // failed deploy kept for inspection) is not a version users ever had.
  // A swap made outside Johanna (`eb swap`, the console) is not in the history; EB's own state
  // still tells: the environment now at the current one's birth CNAME is the one it swapped
  // with (every environment is born at <CNAME>-<its timestamp>, and a swap exchanges CNAMEs).
  const { partner, byCname } = swapPartner(ctx, ledgerOf(history), current, others);
  if (byCname) ctx.log.info(`the deploy history records no swap that gave ${current.EnvironmentName} ${main} (an eb swap or the console?); ${partner} sits at its birth CNAME ${birthCname(ctx, current.EnvironmentName)}, so it held ${main} before`);
  const previous = partner ? others.find((e) => e.EnvironmentName === partner && isLive(e)) : undefined;
  if (!previous) {
    const gone = partner ? others.find((e) => e.EnvironmentName === partner) : undefined;
    throw new StateError(
      gone
        ? `the previous environment ${gone.EnvironmentName} (${gone.VersionLabel ?? '?'}) is ${gone.Status}${gone.DateUpdated ? ` since ${gone.DateUpdated}` : ''}`
        : partner
          ? `there is no previous environment to roll back to (${partner} is gone)`
          : `there is no previous environment to roll back to: neither the deploy history nor EB's CNAMEs say which environment held ${main} before ${current.EnvironmentName}`,
      'deploy a fix with create_nova instead',
    );
  }
  if (previous.Status !== 'Ready' || previous.Health !== 'Green') {
    throw new StateError(`the previous environment ${previous.EnvironmentName} is ${previous.Status}, health ${previous.Health ?? '?'}; not rolling back to it`);
  }
  const label = previous.VersionLabel ?? '';
  const own = previous.CNAME ?? '';
  const deployed = deployOf(history, previous.EnvironmentName);
  ctx.log.info(`returning to ${deployed ? describeDeploy(deployed) : `${previous.EnvironmentName} (${label || '?'}; no record of its deploy in the history)`}`);
  // Rolling back twice returns to where you started: the second one moves forward, to the
  // newer deploy, and says so (issue 22 item 6). Names carry their deploy's second.
  const forward = (envTimestamp(previous.EnvironmentName) ?? 0) > (envTimestamp(current.EnvironmentName) ?? 0);
  const verb = forward ? 'rolled forward' : 'rolled back';
  ctx.summary = { cname: main, before: `${current.EnvironmentName} (${current.VersionLabel ?? '?'})` };
  ctx.log.step(`rollback${forward ? ' (forward, to the newer deploy)' : ''}: ${previous.EnvironmentName} (${label}) takes ${main} back from ${current.EnvironmentName} (${current.VersionLabel ?? '?'})`);
  const started = Date.now();
  const back = await swapBack(ctx, app, main, current.EnvironmentName, { name: previous.EnvironmentName, label, own });
  if (!back) return { from: current.EnvironmentName, to: previous.EnvironmentName, versionLabel: label, dryRun: true };
  const { swapDoneAt, dnsSettledAt, ttlMs } = back;
  ctx.summary.outcome = `${verb} to ${label} (${previous.EnvironmentName}), live since ${new Date(swapDoneAt).toISOString().slice(11, 19)} UTC`;
  ctx.log.result(`${verb}: ${main} serves ${label} from ${previous.EnvironmentName}; ${current.EnvironmentName} (${current.VersionLabel ?? '?'}) stays as the previous one`);
  return {
    from: current.EnvironmentName,
    to: previous.EnvironmentName,
    versionLabel: label,
    previousVersionLabel: current.VersionLabel,
    ...(deployed ? { returningTo: { deployedAt: deployed.startedAt, deployedBy: deployed.who, ci: deployed.ci, gitHashJohanna: deployed.gitHashJohanna, gitHashNova: deployed.gitHashNova } } : {}),
    swappedAt: new Date(swapDoneAt).toISOString(),
    dnsSettledAt: dnsSettledAt.toISOString(),
    dnsTtlSeconds: ttlMs / 1000,
    elapsedSeconds: Math.round((Date.now() - started) / 100) / 10,
  };
}

/** The other party of the newest swap the history records naming `name`, on either side. */
/**
 * The environment `current` took the main CNAME from: the history's newest swap naming it,
 * else (a swap made outside Johanna) the live one at `current`'s birth CNAME. `byCname` says
 * which rule answered.
 */
export function swapPartner(ctx: Pick<Ctx, 'config' | 'region'>, ledger: Ledger, current: eb.Environment, others: eb.Environment[]): { partner?: string; byCname: boolean } {
  const recorded = lastSwapPartner(ledger, current.EnvironmentName);
  if (recorded) return { partner: recorded, byCname: false };
  const born = birthCname(ctx, current.EnvironmentName);
  const atBirth = born === undefined ? undefined : others.find((e) => isLive(e) && sameHost(e.CNAME, born));
  return { partner: atBirth?.EnvironmentName, byCname: Boolean(atBirth) };
}

export function lastSwapPartner(ledger: Ledger, name: string): string | undefined {
  const s = lastSwapOf(ledger, name);
  return s ? (s.from === name ? s.to : s.from) : undefined;
}
