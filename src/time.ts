// The one time module: a deadline, a pause that an interrupt cuts short, and one wait loop
// (with optional backoff) that checks for the interrupt before every poll. Every wait in
// src/ pauses through here, so Ctrl-C cuts any of them short (docs/architecture.md lists
// the few loops that are not waitFor, and why).
import { AwsCliError, InterruptedError, TimeoutError } from './errors.js';
import type { Logger } from './ui/log.js';

/** One deadline for a whole command; each wait takes what is left of it. */
export class Deadline {
  readonly at: number;
  constructor(readonly minutes: number, now = Date.now()) {
    this.at = now + minutes * 60_000;
  }
  left(): number {
    return Math.max(0, this.at - Date.now());
  }
  passed(): boolean {
    return this.left() <= 0;
  }
}

export function throwIfInterrupted(signal: AbortSignal | undefined, what: string): void {
  if (signal?.aborted) throw new InterruptedError(`interrupted while waiting for ${what}`);
}

/** A sleep that a signal cuts short (it resolves early; the caller checks the signal). */
export function pause(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}

export interface WaitOptions<T> {
  /** What we are waiting for, e.g. "nova-1700000000 to be Ready and Green". */
  what: string;
  /** Epoch ms, or the command's Deadline. */
  deadline: number | Deadline;
  intervalMs: number;
  /** Grow the interval by this factor after each poll, up to maxIntervalMs (default: no backoff). */
  backoff?: number;
  maxIntervalMs?: number;
  /** One poll: a value when done, a state to keep waiting; throw to fail fast. */
  check: () => Promise<{ done: T } | { state: string }>;
  /** The hint of the TimeoutError. */
  hint?: string;
}

/** What a wait needs of the run: its log (for the live line) and its interrupt. */
type WaitCtx = { log: Pick<Logger, 'live' | 'clearLive' | 'info'>; signal?: AbortSignal };

/**
 * Polls share the account politely (issue 23; R90): each pause is jittered (up to 25 % longer,
 * never shorter, so a wait's call budget holds), so deploys started together do not poll in step; a poll that AWS throttled past the aws CLI's
 * own retries (the CLI already backed off inside; src/aws/cli.ts adds no retries of its own)
 * is not a failure: the loop doubles its interval, up to 4x the longest it would use, and polls again.
 */
export function jittered(ms: number, random = Math.random): number {
  return Math.round(ms * (1 + random() * 0.25));
}

export async function waitFor<T>(ctx: WaitCtx, o: WaitOptions<T>): Promise<T> {
  const started = Date.now();
  const deadline = typeof o.deadline === 'number' ? o.deadline : o.deadline.at;
  let interval = o.intervalMs;
  const longest = 4 * Math.max(o.maxIntervalMs ?? o.intervalMs, o.intervalMs);
  for (;;) {
    throwIfInterrupted(ctx.signal, o.what);
    let r: { done: T } | { state: string };
    try {
      r = await o.check();
    } catch (err) {
      if (!(err instanceof AwsCliError && err.throttled)) throw err;
      interval = Math.min(longest, interval * 2);
      ctx.log.info(`  AWS is throttling this account's calls (${err.awsCode ?? 'Rate exceeded'}); polling ${o.what} every ${Math.round(interval / 1000)} s instead`);
      r = { state: 'throttled' };
    }
    if ('done' in r) {
      ctx.log.clearLive();
      return r.done;
    }
    const elapsed = Math.round((Date.now() - started) / 1000);
    // The elapsed time is the log's to add: a spinner on a TTY counts it between polls, and
    // without one an unchanged wait says "still waiting for ... (45 s)" now and then (log.ts).
    ctx.log.live(`waiting for ${o.what}: ${r.state}`, started);
    const wait = jittered(interval);
    if (Date.now() + wait > deadline) {
      ctx.log.clearLive();
      throw new TimeoutError(`gave up waiting for ${o.what} after ${elapsed}s: still ${r.state}`, o.hint);
    }
    await pause(wait, ctx.signal);
    throwIfInterrupted(ctx.signal, o.what);
    if (o.backoff) interval = Math.min(o.maxIntervalMs ?? interval * o.backoff, Math.round(interval * o.backoff));
  }
}

/**
 * Poll `check` until it answers true, under the command's deadline (create_vpc and
 * terminate_vpc). Polls are marked purpose "poll" in the run log by the callers, so call
 * counts can leave them out. A dry run does not wait: nothing it waits for was made.
 */
export async function waitUntil(ctx: WaitCtx & { dryRun: boolean }, deadline: Deadline, what: string, check: () => Promise<boolean>, everyMs = 5000): Promise<void> {
  const started = Date.now();
  let polls = 0;
  await waitFor(ctx, {
    what,
    deadline,
    intervalMs: everyMs,
    hint: 'run the command again: it picks up where this one stopped',
    check: async () => {
      polls++;
      if ((await check()) || ctx.dryRun) return { done: true };
      return { state: 'not yet' };
    },
  });
  if (polls > 1) ctx.log.info(`${what}: done after ${Math.round((Date.now() - started) / 1000)}s`);
}

/**
 * EB calls a minute one deploy makes while it waits for its environment, at most, on AWS
 * (issue 23): six deploys of one account make 72, under EB's Describe* rate of 120 a minute
 * (R90). The sandbox polls 5 times as often as AWS (pollMs), so its figure is 5 times this.
 */
export const POLL_BUDGET_PER_MINUTE = 12;

/** Poll interval: the original's 5 s on AWS; the sandbox answers in seconds, so 1 s there. */
export function pollMs(ctx: { sandbox?: unknown }): number {
  return ctx.sandbox ? 1000 : 5000;
}
