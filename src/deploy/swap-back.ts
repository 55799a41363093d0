// Give the main CNAME back to an environment that served it before: probe it, swap once
// (verified with EB, never repeated: R17), verify over HTTP that the main CNAME serves its
// version, wait out the DNS TTL. `rollback` and the bake's automatic swap back (issue 21)
// both do exactly this, each part a step of the run (ctx.steps).
import type { Ctx } from '../context.js';
import { StateError, VerifyError } from '../errors.js';
import { swapVerified, waitOutDnsTtl } from './blue-green.js';
import { dnsTtlMs } from './environments.js';
import { httpGet, probeUntilServing } from './probe.js';
import { pollMs } from '../time.js';

export interface SwapBack {
  swapDoneAt: number;
  dnsSettledAt: Date;
  ttlMs: number;
}

/**
 * `to` (its `label`, at its own CNAME `own`) takes `main` back from `from`. Throws a
 * StateError before any swap when `to` does not answer; a VerifyError when the main CNAME does
 * not serve `label` after the swap. A dry run stops after the (printed) swap: undefined.
 */
export async function swapBack(ctx: Ctx, app: string, main: string, from: string, to: { name: string; label: string; own: string }): Promise<SwapBack | undefined> {
  const health = ctx.config.nova.HEALTH_CHECK_URL;
  // Probe before swapping: swapping onto something that does not answer would make things worse.
  const probe = await ctx.steps.run('probe', () => probeUntilServing(ctx, to.own, health, to.label, { times: 2, deadlineMs: 30_000, intervalMs: pollMs(ctx) }));
  if (!probe.ok) throw new StateError(`${to.name} does not answer at http://${to.own}${health}: ${probe.last}; not swapping back to it`);
  const ttlMs = await dnsTtlMs(ctx);
  // Verified, never repeated: a second swap after a lost answer would swap back (R17).
  await ctx.steps.run('swap', () => swapVerified(ctx, app, from, to.name, main));
  if (ctx.dryRun) return undefined;
  const swapDoneAt = Date.now();
  // Our own resolver may hold the old answer for up to the TTL.
  await ctx.steps.run('verify', async () => {
    const verify = await probeUntilServing(ctx, main, health, to.label, { times: 1, deadlineMs: Math.max(120_000, 2 * ttlMs), intervalMs: 250 });
    if (!verify.ok) {
      const now = await httpGet(ctx, main, health).catch((e: Error) => ({ status: 0, body: e.message }));
      throw new VerifyError(`${main} does not serve ${to.label} after the swap back to ${to.name} (HTTP ${now.status})`, 'check ./run status');
    }
  });
  // Until the TTL has passed, clients may still reach the one we swapped away from: it is not free.
  const dnsSettledAt = await ctx.steps.run('DNS', () => waitOutDnsTtl(ctx, main, from, to.name, swapDoneAt, ttlMs));
  return { swapDoneAt, dnsSettledAt, ttlMs };
}
