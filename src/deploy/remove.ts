// Removing an environment EB may be busy with, and the environments marked for removal.
//
// EB refuses to terminate an environment pending creation or deployment (aws-rules.md R40).
// So an update in progress is aborted where EB allows it (only while Updating), a launch is
// waited out, within a bound and saying so, and then the environment is terminated.
//
// The mark: every environment a daily deploy makes carries CANDIDATE_TAG from its
// create-environment call on. It is set at create, never later, because only that survives
// every way a run can end: a second Ctrl-C or a SIGKILL leaves no chance to write anything
// (the history table, a tag), and EB may apply a later tag change through an environment
// update (see HELD_TAG). A candidate that never went live (it does not hold the main CNAME,
// still holds the CNAME it was born with, and took part in no swap) and whose deploy is over
// is marked for removal. Under the deploy lock no deploy of the phase is running, so for
// create_nova's preflight and the cleanup every such candidate is over and is removed first.
import type { Ctx } from '../context.js';
import * as eb from '../aws/eb.js';
import { AwsCliError, TimeoutError } from '../errors.js';
import { tagValue, type Tag } from '../aws/tags.js';
import { pollMs, waitFor } from '../time.js';
import { BUSY_STATUSES, ENV_PREFIX, HELD_TAG, cnameFor, environmentTags, envTimestamp, everSwapped, isLive, offMain, sameHost } from './environments.js';
import { ledgerOf, readHistoryOf, type Ledger } from './history.js';
import { fence } from './lock.js';

/** Set at create-environment on every environment a (non-hold) deploy makes; value: when (ISO). */
export const CANDIDATE_TAG = 'johanna:candidate';

/**
 * How long a removal waits for EB to end a launch or an update before it leaves the
 * environment marked. An AWS launch of a load-balanced environment takes about 5 to 10
 * minutes; the sandbox's, seconds.
 */
export function settleBoundMs(ctx: Pick<Ctx, 'sandbox'>): number {
  return ctx.sandbox ? 60_000 : 15 * 60_000;
}

export type Removal = 'terminating' | 'already' | 'left';

const pendingWhat = (status: string) => (status === 'Launching' ? 'creation' : 'deployment');

/**
 * Terminate `name`, first waiting (at most `boundMs`, saying so) for a launch or an update
 * to end; with `abortUpdate`, an update is aborted first (EB allows it only while Updating).
 * Answers 'left' when the bound passed with the environment still busy: it stays marked.
 * A run already interrupted once still waits: this is its cleanup, and a second Ctrl-C
 * ends the process at once (src/cli.ts). An uninterrupted run's first Ctrl-C ends the wait.
 */
export async function removeEnvironment(ctx: Ctx, app: string, name: string, o: { boundMs: number; abortUpdate?: boolean }): Promise<Removal> {
  const waitCtx = { log: ctx.log, signal: ctx.signal?.aborted ? undefined : ctx.signal };
  const until = Date.now() + Math.max(0, o.boundMs);
  let abortTried = false;
  for (;;) {
    const [e] = await eb.describeEnvironments(ctx.call, app, { names: [name], purpose: 'poll' });
    if (!e || e.Status === 'Terminating' || e.Status === 'Terminated') return 'already';
    if (e.Status === 'Updating' && o.abortUpdate && !abortTried) {
      abortTried = true;
      try {
        await eb.abortEnvironmentUpdate(ctx.call, name);
        ctx.log.info(`  ${name} was Updating: aborted the update (EB puts the previous version and settings back)`);
      } catch (err) {
        if (!(err instanceof AwsCliError)) throw err;
        ctx.log.info(`  EB would not abort the update of ${name}: ${err.message.split('\n')[0]}`);
      }
      continue;
    }
    if (BUSY_STATUSES.has(e.Status)) {
      const left = until - Date.now();
      if (left <= 0 || ctx.dryRun) return 'left';
      ctx.log.info(`  ${name} is ${e.Status}: EB terminates no environment pending ${pendingWhat(e.Status)}; waiting up to ${Math.ceil(left / 1000)} s for it to end`);
      try {
        await waitFor(waitCtx, {
          what: `${name} to end ${e.Status}`,
          deadline: until,
          intervalMs: pollMs(ctx),
          check: async () => {
            const [now] = await eb.describeEnvironments(ctx.call, app, { names: [name], purpose: 'poll' });
            return !now || !BUSY_STATUSES.has(now.Status) ? { done: true } : { state: now.Status };
          },
        });
      } catch (err) {
        if (err instanceof TimeoutError) return 'left';
        throw err;
      }
      continue;
    }
    try {
      // A change to production: only while this run still holds the phase's lease (issue 20 item 7).
      await fence(ctx, `terminate-environment ${name}`);
      return await eb.terminateEnvironment(ctx.call, name);
    } catch (err) {
      // Another operation began between the look and the call: wait for it in turn.
      if (err instanceof AwsCliError && eb.PENDING_REFUSAL.test(err.stderr) && Date.now() < until) continue;
      throw err;
    }
  }
}

/** The CNAME a daily deploy gave the environment `name` at birth (see createNewEnvironment). */
export function birthCname(ctx: Pick<Ctx, 'config' | 'region'>, name: string): string | undefined {
  const ts = envTimestamp(name);
  return ts === undefined ? undefined : cnameFor(ctx, `${ctx.config.nova.CNAME}-${ts}`);
}

export interface Marked {
  environment: eb.Environment;
  /** CANDIDATE_TAG's value: when its deploy made it. */
  since: string;
}

/**
 * The environments marked for removal (pure): a deploy's candidate, not held, not holding
 * the main CNAME, still at its birth CNAME and never in a completed swap. Only meaningful
 * when no deploy of the phase is running (under the lock, or with the lock free).
 */
export function markedForRemoval(
  envs: eb.Environment[],
  tags: ReadonlyMap<string, Tag[] | undefined>,
  ledger: Pick<Ledger, 'swaps'>,
  main: string,
  birth: (name: string) => string | undefined,
): Marked[] {
  return envs
    .filter((e) => isLive(e) && e.EnvironmentName.startsWith(ENV_PREFIX) && !sameHost(e.CNAME, main))
    .filter((e) => {
      const t = tags.get(e.EnvironmentName);
      const born = birth(e.EnvironmentName);
      return tagValue(t, CANDIDATE_TAG) !== undefined && tagValue(t, HELD_TAG) === undefined && born !== undefined && sameHost(e.CNAME, born) && !everSwapped(e.EnvironmentName, ledger);
    })
    .map((e) => ({ environment: e, since: tagValue(tags.get(e.EnvironmentName), CANDIDATE_TAG)! }));
}

/** The tags of the environments that could be marked (live nova-* ones off the main CNAME): none on a usual day. */
export async function candidateTags(ctx: Ctx, envs: eb.Environment[], main: string): Promise<Map<string, Tag[] | undefined>> {
  const out = new Map<string, Tag[] | undefined>();
  await Promise.all(offMain(envs, main).map(async (e) => out.set(e.EnvironmentName, await environmentTags(ctx, e.EnvironmentArn!))));
  return out;
}

/**
 * Remove every marked environment, first (create_nova's preflight, the cleanup). Answers
 * the names removed (terminating) and those left (EB still busy past the bound), each said.
 */
export async function removeMarked(ctx: Ctx, app: string, envs: eb.Environment[], ledger: Pick<Ledger, 'swaps'> | undefined, main: string, deadline: number): Promise<{ removed: string[]; left: string[] }> {
  const tags = await candidateTags(ctx, envs, main);
  const candidates = [...tags.entries()].filter(([, t]) => tagValue(t, CANDIDATE_TAG) !== undefined).map(([name]) => name);
  if (!candidates.length) return { removed: [], left: [] };
  // Whether one ever took part in a swap is the deploy history's to say, not EB's events, which EB forgets.
  const swaps = ledger ?? ledgerOf(await readHistoryOf(ctx, candidates));
  const marked = markedForRemoval(envs, tags, swaps, main, (n) => birthCname(ctx, n));
  const removed: string[] = [];
  const left: string[] = [];
  for (const { environment: e, since } of marked) {
    const name = e.EnvironmentName;
    ctx.log.step(`remove ${name} first: marked for removal (its deploy of ${since} ended before it went live; ${e.Status}, ${e.VersionLabel ?? '?'})`);
    if (ctx.dryRun) {
      ctx.log.plan(`(would terminate ${name}, after waiting for EB to end its ${e.Status === 'Ready' ? 'nothing' : e.Status})`);
      continue;
    }
    const r = await removeEnvironment(ctx, app, name, { boundMs: Math.min(settleBoundMs(ctx), Math.max(0, deadline - Date.now())), abortUpdate: true });
    if (r === 'left') {
      left.push(name);
      ctx.log.warn(`${name} is still busy at EB after the wait; it stays marked for removal (the next create_nova or terminate_eb_old_environment removes it)`);
    } else {
      removed.push(name);
      ctx.log.ok(`${r === 'already' ? 'already terminating' : 'terminating'} ${name} (marked for removal)`);
    }
  }
  return { removed, left };
}
