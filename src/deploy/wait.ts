// One deadline per wait, saying what it waits for and for how long it has.
import type { Ctx } from '../context.js';
import { TimeoutError } from '../errors.js';

export interface WaitOptions<T> {
  /** What we are waiting for, e.g. "nova-1700000000 to be Ready and Green". */
  what: string;
  deadline: number; // epoch ms
  intervalMs: number;
  /** One poll: a value when done, undefined to keep waiting; throw to fail fast. */
  check: () => Promise<{ done: T } | { state: string }>;
}

export async function waitFor<T>(ctx: Pick<Ctx, 'log'>, o: WaitOptions<T>): Promise<T> {
  const started = Date.now();
  for (;;) {
    const r = await o.check();
    if ('done' in r) {
      ctx.log.clearLive();
      return r.done;
    }
    const elapsed = Math.round((Date.now() - started) / 1000);
    ctx.log.live(`waiting for ${o.what}: ${r.state} (${elapsed}s)`);
    if (Date.now() + o.intervalMs > o.deadline) {
      ctx.log.clearLive();
      throw new TimeoutError(`gave up waiting for ${o.what} after ${elapsed}s: still ${r.state}`);
    }
    await new Promise((res) => setTimeout(res, o.intervalMs));
  }
}

/** Poll interval: the original's 5 s on AWS; the sandbox answers in seconds, so 1 s there. */
export function pollMs(ctx: Pick<Ctx, 'sandbox'>): number {
  return ctx.sandbox ? 1000 : 5000;
}
