// One deadline per wait, saying what it waits for and for how long it has.
import type { Ctx } from '../context.js';
import { InterruptedError, TimeoutError } from '../errors.js';

export interface WaitOptions<T> {
  /** What we are waiting for, e.g. "nova-1700000000 to be Ready and Green". */
  what: string;
  deadline: number; // epoch ms
  intervalMs: number;
  /** One poll: a value when done, undefined to keep waiting; throw to fail fast. */
  check: () => Promise<{ done: T } | { state: string }>;
}

export async function waitFor<T>(ctx: Pick<Ctx, 'log'> & { signal?: AbortSignal }, o: WaitOptions<T>): Promise<T> {
  const started = Date.now();
  for (;;) {
    throwIfInterrupted(ctx.signal, o.what);
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
    await pause(o.intervalMs, ctx.signal);
  }
}

export function throwIfInterrupted(signal: AbortSignal | undefined, what: string): void {
  if (signal?.aborted) throw new InterruptedError(`interrupted while waiting for ${what}`);
}

/** A sleep that a signal cuts short. */
export function pause(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}

/** Poll interval: the original's 5 s on AWS; the sandbox answers in seconds, so 1 s there. */
export function pollMs(ctx: Pick<Ctx, 'sandbox'>): number {
  return ctx.sandbox ? 1000 : 5000;
}
