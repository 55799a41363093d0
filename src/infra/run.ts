// How infra work runs: aws calls bounded to a few at a time (each aws CLI start costs about
// a second of CPU, so more would only queue on the cores), steps started as soon as the
// steps they need are done, and every wait under the command's one deadline.
import type { AwsCall } from '../aws/ec2.js';
import type { Ctx } from '../context.js';
import { TimeoutError } from '../errors.js';
import { pause, throwIfInterrupted } from '../deploy/wait.js';

export const AWS_CONCURRENCY = 4;

/** ctx.aws.aws, at most `limit` calls at a time. */
export function boundedCall(ctx: Ctx, limit = AWS_CONCURRENCY): AwsCall {
  let active = 0;
  const queue: (() => void)[] = [];
  const acquire = () =>
    new Promise<void>((resolve) => {
      if (active < limit) {
        active++;
        resolve();
      } else queue.push(resolve);
    });
  const release = () => {
    const next = queue.shift();
    if (next) next();
    else active--;
  };
  return async (args, opts) => {
    await acquire();
    try {
      return await ctx.aws.aws(args, opts);
    } finally {
      release();
    }
  };
}

export interface Task {
  id: string;
  deps: string[];
  run: () => Promise<void>;
}

export class BlockedError extends Error {
  constructor(readonly by: string) {
    super(`not attempted: ${by} failed`);
  }
}

/** Runs every task once its deps are done; a failed task blocks only what depends on it. */
export async function runGraph(tasks: Task[]): Promise<{ id: string; error: unknown }[]> {
  const byId = new Map(tasks.map((t) => [t.id, t]));
  const started = new Map<string, Promise<void>>();
  const start = (t: Task): Promise<void> => {
    let p = started.get(t.id);
    if (p) return p;
    p = (async () => {
      for (const d of t.deps) {
        const dep = byId.get(d);
        if (!dep) continue;
        try {
          await start(dep);
        } catch {
          throw new BlockedError(d);
        }
      }
      await t.run();
    })();
    started.set(t.id, p);
    return p;
  };
  const results = await Promise.allSettled(tasks.map(start));
  return results.flatMap((r, i) => (r.status === 'rejected' ? [{ id: tasks[i].id, error: r.reason }] : []));
}

/** One deadline for the whole command; each wait says what it waits for and for how long. */
export class Deadline {
  readonly at: number;
  constructor(readonly minutes: number, now = Date.now()) {
    this.at = now + minutes * 60_000;
  }
  left(): number {
    return this.at - Date.now();
  }
  passed(): boolean {
    return this.left() <= 0;
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Poll `check` until it answers true. Polls are marked purpose "poll" in the run log, so
 * call counts can leave them out.
 */
export async function waitUntil(ctx: Ctx, deadline: Deadline, what: string, check: () => Promise<boolean>, everyMs = 5000): Promise<void> {
  const started = Date.now();
  for (let first = true; ; first = false) {
    throwIfInterrupted(ctx.signal, what);
    if (await check()) {
      if (!first) ctx.log.info(`${what}: done after ${Math.round((Date.now() - started) / 1000)}s`);
      return;
    }
    if (ctx.dryRun) return;
    if (deadline.left() < everyMs) {
      throw new TimeoutError(`gave up waiting for ${what} after ${Math.round((Date.now() - started) / 1000)}s (the command's ${deadline.minutes}-minute deadline)`, 'run the command again: it picks up where this one stopped');
    }
    ctx.log.live(`waiting for ${what} (${Math.round((Date.now() - started) / 1000)}s)`);
    await pause(everyMs, ctx.signal);
  }
}
