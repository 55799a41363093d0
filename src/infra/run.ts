// How infra work runs: aws calls bounded to a few at a time (each aws CLI start costs about
// a second of CPU, so more would only queue on the cores), steps started as soon as the
// steps they need are done. Waits live in src/time.ts.
import type { AwsCall } from '../aws/ec2.js';
import type { Ctx } from '../context.js';
import { BlockedError } from '../errors.js';

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
