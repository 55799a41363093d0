// `status --watch [seconds]`: a compact live view of the phase, redrawn every few seconds
// until Ctrl-C, in the style of `eb health --refresh` (issue 22 item 9). Each refresh reads
// the environments, EB's request figures of each Ready one (describe-environment-health:
// requests, 5xx share and P99 of the last 10 s) and the lock; the deploy history (held,
// out of service since) is read again only when the environments change. On a terminal the
// view is redrawn in place; in a log, each refresh is a block of its own under its time.
import type { Ctx } from '../context.js';
import * as eb from '../aws/eb.js';
import { tagValue } from '../aws/tags.js';
import { byAgeNewestFirst, heldEnvironments, holderOfMain, isLive, lostMainAt, mainCname, HELD_TAG } from '../deploy/environments.js';
import { describeLock, lockState, type LockState } from '../deploy/lock.js';
import { ledgerOf, readHistoryOf, type Ledger } from '../deploy/history.js';
import { table } from '../ui/table.js';
import { pause } from '../time.js';
import type { CommandResult } from './types.js';

/** What one refresh shows of an environment. */
export interface WatchRow {
  role: 'live' | 'held' | 'old';
  name: string;
  state: string;
  version?: string;
  requestsPerSecond?: number;
  status5xxPercent?: number;
  p99Ms?: number;
  /** For an old one: when the cleanup may remove it (grace period over), if it has drained. */
  removableAt?: string;
}

/** One refresh's rows, from what EB said (pure: the view's numbers are EB's). */
export function watchRows(envs: eb.Environment[], metrics: Map<string, eb.ApplicationMetrics | undefined>, main: string, ledger: Ledger, heldTags: Map<string, string | undefined>, graceMinutes: number): WatchRow[] {
  const shown = byAgeNewestFirst(envs.filter(isLive));
  const live = holderOfMain(shown, main);
  const held = new Set(heldEnvironments(shown, ledger, heldTags, main).map((h) => h.environment.EnvironmentName));
  return shown.map((e) => {
    const m = metrics.get(e.EnvironmentName);
    const lost = e === live || held.has(e.EnvironmentName) ? undefined : lostMainAt(e, ledger);
    const p99 = m?.Latency?.P99;
    return {
      role: e === live ? 'live' : held.has(e.EnvironmentName) ? 'held' : 'old',
      name: e.EnvironmentName,
      state: `${e.Status}/${e.Health ?? '?'}`,
      version: e.VersionLabel,
      requestsPerSecond: m?.RequestCount !== undefined ? Math.round((m.RequestCount / (m.Duration || 10)) * 10) / 10 : undefined,
      status5xxPercent: m?.StatusCodes?.Status5xx,
      p99Ms: p99 !== undefined ? Math.round(p99 * 1000) : undefined,
      removableAt: lost ? new Date(lost.at.getTime() + graceMinutes * 60_000).toISOString() : undefined,
    };
  });
}

/** "in 12 min", "in 40 s", "now": how long until an old environment may go. */
export function countdown(at: string, now = Date.now()): string {
  const s = Math.round((Date.parse(at) - now) / 1000);
  if (s <= 0) return 'now';
  return s < 120 ? `in ${s} s` : `in ${Math.round(s / 60)} min`;
}

export function watchLines(phase: string, main: string, rows: WatchRow[], lock: LockState, at: Date, seconds: number): string[] {
  return [
    `phase ${phase} at ${at.toISOString().slice(11, 19)}Z, every ${seconds} s (Ctrl-C to stop); main CNAME ${main}`,
    ...(rows.length
      ? table(
          ['ROLE', 'ENVIRONMENT', 'STATE', 'VERSION', 'REQ/S', '5XX', 'P99', 'DRAIN'],
          rows.map((r) => [
            r.role,
            r.name,
            r.state,
            r.version,
            r.requestsPerSecond,
            r.status5xxPercent !== undefined ? `${r.status5xxPercent}%` : undefined,
            r.p99Ms !== undefined ? `${r.p99Ms} ms` : undefined,
            r.removableAt ? `removable ${countdown(r.removableAt, at.getTime())} once drained` : '',
          ]),
          '  ',
        )
      : ['  no environments']),
    `  lock: ${describeLock(lock)}`,
  ];
}

/** Refreshes until Ctrl-C, the normal way out (exit 0, as `events --follow`). */
export async function watchStatus(ctx: Ctx, seconds: number): Promise<CommandResult> {
  const app = ctx.config.elasticbeanstalk.APPLICATION_NAME;
  const main = mainCname(ctx);
  const redraw = Boolean((process.stdout as { isTTY?: boolean }).isTTY);
  let known = '';
  let ledger: Ledger = { swaps: [], holds: new Map() };
  let heldTags = new Map<string, string | undefined>();
  let refreshes = 0;
  while (!ctx.signal.aborted) {
    let lines: string[];
    try {
      const [envs, lock] = await Promise.all([eb.describeEnvironments(ctx.call, app, { purpose: 'poll' }), lockState(ctx)]);
      const shown = envs.filter(isLive);
      const names = shown.map((e) => `${e.EnvironmentName}:${e.CNAME}`).sort().join(',');
      if (names !== known) {
        // The environments changed (a deploy, a swap, a removal): read what decides held and old again.
        known = names;
        const others = shown.filter((e) => e !== holderOfMain(shown, main));
        ledger = others.length ? ledgerOf(await readHistoryOf(ctx, others.map((e) => e.EnvironmentName))) : { swaps: [], holds: new Map() };
        const tags = await Promise.all(others.map(async (e) => [e.EnvironmentName, e.EnvironmentArn ? tagValue(await eb.listTags(ctx.call, e.EnvironmentArn), HELD_TAG) : undefined] as const));
        heldTags = new Map(tags);
      }
      const metrics = new Map(
        await Promise.all(shown.map(async (e) => [e.EnvironmentName, e.Status === 'Ready' ? await eb.describeApplicationMetrics(ctx.call, e.EnvironmentName).catch(() => undefined) : undefined] as const)),
      );
      lines = watchLines(ctx.phase, main, watchRows(envs, metrics, main, ledger, heldTags, ctx.config.nova.OLD_ENVIRONMENT_GRACE_MINUTES), lock, new Date(), seconds);
    } catch (err) {
      // Ctrl-C reaches the aws child too, which then fails: that is the end, not an error.
      if (ctx.signal.aborted) break;
      throw err;
    }
    refreshes++;
    if (redraw) process.stdout.write('\x1b[H\x1b[2J');
    for (const line of lines) ctx.log.result(line);
    if (!redraw) ctx.log.result('');
    await pause(seconds * 1000, ctx.signal);
  }
  return { watched: true, refreshes };
}
