// How infra work runs: aws calls bounded to a few at a time (each aws CLI start costs about
// a second of CPU, so more would only queue on the cores), steps started as soon as the
// steps they need are done, and the calls of the longest chain served first. Waits live in
// src/time.ts.
import { AsyncLocalStorage } from 'node:async_hooks';
import type { AwsCall } from '../aws/ec2.js';
import type { Ctx } from '../context.js';
import { BlockedError } from '../errors.js';

export const AWS_CONCURRENCY = 4;

/**
 * The priority of the calls a graph task makes: how many tasks wait on it, in the longest
 * chain (runGraph). A call made outside a graph has 0.
 */
const chainLength = new AsyncLocalStorage<number>();

/**
 * ctx.aws.aws, at most `limit` calls at a time. A freed slot goes to the waiting call of the
 * longest chain (first come among equals): with the cores the bound, the VPC-to-NAT chain of
 * create_vpc and the NAT-to-VPC chain of terminate_vpc set the run's length, and the calls
 * that nothing waits on fill in around them.
 */
export function boundedCall(ctx: Ctx, limit = AWS_CONCURRENCY): AwsCall {
  let active = 0;
  const waiting: { priority: number; go: () => void }[] = [];
  const acquire = () =>
    new Promise<void>((go) => {
      if (active < limit) {
        active++;
        go();
        return;
      }
      const priority = chainLength.getStore() ?? 0;
      // After every waiter of the same or a longer chain: first come among equals.
      const at = waiting.findIndex((w) => w.priority < priority);
      waiting.splice(at < 0 ? waiting.length : at, 0, { priority, go });
    });
  // The slot is handed on after the current turn's promise jobs, so that a step whose dep
  // this call finished has asked for it too: a chain's next call is then served before the
  // calls that were already waiting on shorter chains.
  const release = () =>
    setImmediate(() => {
      const next = waiting.shift();
      if (next) next.go();
      else active--;
    });
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


/**
 * How many tasks wait on each, in its longest chain of dependents (0: nothing waits on it).
 * Deps not among the tasks are ignored, as runGraph ignores them.
 */
export function chainLengths(tasks: readonly Task[]): Map<string, number> {
  const ids = new Set(tasks.map((t) => t.id));
  const dependents = new Map<string, string[]>(tasks.map((t) => [t.id, []]));
  for (const t of tasks) for (const d of t.deps) if (ids.has(d) && d !== t.id) dependents.get(d)!.push(t.id);
  const lengths = new Map<string, number>();
  const visiting = new Set<string>();
  const length = (id: string): number => {
    const known = lengths.get(id);
    if (known !== undefined) return known;
    if (visiting.has(id)) throw new Error(`task ${id} depends on itself`);
    visiting.add(id);
    const n = Math.max(0, ...dependents.get(id)!.map((x) => 1 + length(x)));
    visiting.delete(id);
    lengths.set(id, n);
    return n;
  };
  for (const t of tasks) length(t.id);
  return lengths;
}

/**
 * Runs every task once its deps are done; a failed task blocks only what depends on it. The
 * tasks start longest chain first, and their calls carry that length to boundedCall.
 */
export async function runGraph(tasks: Task[]): Promise<{ id: string; error: unknown }[]> {
  const byId = new Map(tasks.map((t) => [t.id, t]));
  const lengths = chainLengths(tasks);
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
      await chainLength.run(lengths.get(t.id) ?? 0, t.run);
    })();
    started.set(t.id, p);
    return p;
  };
  // Started longest chain first (a stable sort keeps the given order among equals); start is
  // memoized, so the second map only collects the same promises in the tasks' order.
  for (const t of [...tasks].sort((a, b) => lengths.get(b.id)! - lengths.get(a.id)!)) void start(t);
  const results = await Promise.allSettled(tasks.map(start));
  return results.flatMap((r, i) => (r.status === 'rejected' ? [{ id: tasks[i].id, error: r.reason }] : []));
}
