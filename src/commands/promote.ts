// `promote`: swap in the environment `create_nova --hold` left on its own CNAME, with the
// daily deploy's checks: probe it again (and the smoke test), swap once and verify the swap,
// verify the main CNAME serves the held version, wait out the DNS TTL. Nothing is removed:
// the environment it replaces stays as the previous one (rollback swaps back to it).
import type { Ctx } from '../context.js';
import { InterruptedError, StateError, VerifyError } from '../errors.js';
import * as eb from '../aws/eb.js';
import { tagValue } from '../aws/tags.js';
import { checkBeforeSwap, interruptedAfterSwap, swapVerified, waitOutDnsTtl, waitUntilHolding } from '../deploy/blue-green.js';
import { alarmsFiringBefore, bakeAfterSwap } from '../deploy/bake.js';
import { dnsTtlMs, environmentTags, findHeld, heldEnvironments, holderOfMain, isLive, mainCname, readHeldTags, ENV_PREFIX, type Held } from '../deploy/environments.js';
import { deployOf, describeDeploy, ledgerOf, readHistoryOf, type HistoryRecord } from '../deploy/history.js';
import { probeUntilServing } from '../deploy/probe.js';
import type { CommandOptions, CommandResult } from './types.js';

/** The one held environment, or a StateError that says what to do; `history` when the caller read it already. */
export async function theHeld(ctx: Ctx, envs: eb.Environment[], history?: HistoryRecord[]): Promise<Held> {
  const app = ctx.config.elasticbeanstalk.APPLICATION_NAME;
  const main = mainCname(ctx);
  const held = history ? heldEnvironments(envs, ledgerOf(history), await readHeldTags(ctx, envs, main), main) : await findHeld(ctx, app, envs, main);
  if (!held.length) {
    throw new StateError('no environment is held: nothing to promote', 'create_nova --hold makes one (create_nova alone deploys and swaps in one go); ./run status shows the environments');
  }
  if (held.length > 1) {
    throw new StateError(
      `${held.length} environments are held: ${held.map((h) => `${h.environment.EnvironmentName} (since ${h.since})`).join(', ')}`,
      'keep one: ./run -- aws elasticbeanstalk terminate-environment --environment-name <the other>',
    );
  }
  return held[0];
}

export async function promote(ctx: Ctx, opts?: Pick<CommandOptions, 'noBake'>): Promise<CommandResult> {
  const app = ctx.config.elasticbeanstalk.APPLICATION_NAME;
  const nova = ctx.config.nova;
  const main = mainCname(ctx);
  const started = Date.now();
  const { envs, history, held: theOne } = await ctx.steps.run('look', async () => {
    const envs = await eb.describeEnvironments(ctx.call, app);
    // One query of the history serves both: which one is held (issue 20 item 1), and what
    // is replaced by what (said before the swap).
    const history = await readHistoryOf(ctx, envs.filter((e) => isLive(e) && e.EnvironmentName.startsWith(ENV_PREFIX)).map((e) => e.EnvironmentName));
    return { envs, history, held: await theHeld(ctx, envs, history) };
  });
  const { environment: held, since } = theOne;
  const current = holderOfMain(envs, main);
  if (!current) throw new StateError(`no environment holds ${main}: nothing to swap ${held.EnvironmentName} with`, 'check ./run status');
  if (held.Status !== 'Ready' || held.Health !== 'Green') {
    throw new StateError(`the held ${held.EnvironmentName} is ${held.Status}, health ${held.Health ?? '?'}; not promoting it`, 'wait until it is Ready and Green, or ./run discard it');
  }
  if (current.Status !== 'Ready') {
    throw new StateError(`${current.EnvironmentName} holds ${main} but is ${current.Status}, not Ready; EB swaps only Ready environments`, 'wait until it is Ready, then promote again');
  }
  const label = held.VersionLabel ?? '';
  const own = held.CNAME ?? '';
  const replaced = deployOf(history, current.EnvironmentName);
  const heldRecord = deployOf(history, held.EnvironmentName);
  ctx.log.info(`promoting ${heldRecord ? describeDeploy(heldRecord) : `${held.EnvironmentName} (${label || '?'})`}, held since ${since}`);
  ctx.log.info(`replacing ${replaced ? describeDeploy(replaced) : `${current.EnvironmentName} (${current.VersionLabel ?? '?'}; no record of its deploy in the history)`}`);

  // The daily deploy's checks, again: the held one may have changed since it was held.
  ctx.summary = { cname: main, before: `${current.EnvironmentName} (${current.VersionLabel ?? '?'})` };
  await ctx.steps.run('probe', () =>
    checkBeforeSwap(ctx, held.EnvironmentName, own, label, {
      probeMs: 60_000,
      smokeMs: 10 * 60_000,
      hint: `nothing was swapped; ${current.EnvironmentName} keeps serving. ./run discard removes the held one`,
    }),
  );

  ctx.log.step(`promote: ${held.EnvironmentName} (${label}) takes ${main} from ${current.EnvironmentName} (${current.VersionLabel ?? '?'})`);
  // The bake's alarms, read before the swap: one already in ALARM is ignored (issue 21).
  const firingBefore = nova.BAKE_MINUTES > 0 ? await alarmsFiringBefore(ctx) : [];
  const ttlMs = await dnsTtlMs(ctx);
  // Once the swap is asked for, an interrupt says where the main CNAME is and how to go back,
  // as the daily deploy's does (issue 20 item 13).
  let swapAsked = false;
  let swapDoneAt = 0;
  let dnsSettledAt: Date;
  try {
    swapAsked = !ctx.dryRun;
    // Verified, never repeated: a second swap after a lost answer would swap back (R17).
    await ctx.steps.run('swap', () => swapVerified(ctx, app, current.EnvironmentName, held.EnvironmentName, main));
    if (ctx.dryRun) return { from: current.EnvironmentName, to: held.EnvironmentName, versionLabel: label, dryRun: true };
    swapDoneAt = Date.now();
    // Our own resolver may hold the old answer for up to the TTL.
    const verifyMs = Math.max(5 * 60_000, 2 * ttlMs);
    await ctx.steps.run('verify', async () => {
      const verify = await probeUntilServing(ctx, main, nova.HEALTH_CHECK_URL, label, { times: 1, deadlineMs: verifyMs, intervalMs: 200 });
      if (!verify.ok) throw new VerifyError(`${main} does not serve ${label} after the promote swap: ${verify.last}`, `check ./run status; ./run rollback swaps back to ${current.EnvironmentName}`);
      await waitUntilHolding(ctx, app, held.EnvironmentName, main, verifyMs);
    });
    // Until the TTL has passed, clients may still reach the replaced one: it is not free.
    const settledAt = swapDoneAt;
    dnsSettledAt = await ctx.steps.run('DNS', () => waitOutDnsTtl(ctx, main, current.EnvironmentName, held.EnvironmentName, settledAt, ttlMs));
  } catch (err) {
    if (swapAsked && err instanceof InterruptedError) throw await interruptedAfterSwap(ctx, app, main, held.EnvironmentName, label, current.EnvironmentName, err);
    throw err;
  }
  ctx.summary.outcome = `promoted ${label} (${held.EnvironmentName}), live since ${new Date(swapDoneAt).toISOString().slice(11, 19)} UTC`;
  const tags = held.EnvironmentArn ? await environmentTags(ctx, held.EnvironmentArn).catch(() => undefined) : undefined;
  const graceMs = nova.OLD_ENVIRONMENT_GRACE_MINUTES * 60_000;
  ctx.log.result(`promoted ${label}: ${main} serves it from ${held.EnvironmentName}; ${current.EnvironmentName} (${current.VersionLabel ?? '?'}) stays as the previous one`);
  ctx.log.result(`  DNS TTL (${ttlMs / 1000} s) passed at ${dnsSettledAt.toISOString()}; ${current.EnvironmentName} eligible for removal after ${new Date(swapDoneAt + Math.max(graceMs, ttlMs)).toISOString()}`);
  const gitHashJohanna = tagValue(tags, 'git_hash_johanna');
  const gitHashNova = tagValue(tags, 'git_hash_nova');
  const bakeResult = await bakeAfterSwap(ctx, opts?.noBake, {
    app,
    main,
    newEnvironment: held.EnvironmentName,
    versionLabel: label,
    oldEnvironment: current.EnvironmentName,
    oldVersionLabel: current.VersionLabel,
    oldCname: own,
    swapDoneAt,
    firingBefore,
    deadline: started + nova.DEPLOY_TIMEOUT_MINUTES * 60_000,
    facts: { newEnvironment: held.EnvironmentName, oldEnvironment: current.EnvironmentName, versionLabel: label, swappedAt: new Date(swapDoneAt).toISOString(), gitHashJohanna, gitHashNova },
  });
  return {
    bake: bakeResult,
    from: current.EnvironmentName,
    to: held.EnvironmentName,
    newEnvironment: held.EnvironmentName,
    oldEnvironment: current.EnvironmentName,
    versionLabel: label,
    previousVersionLabel: current.VersionLabel,
    heldSince: since,
    gitHashJohanna,
    gitHashNova,
    probe: 'passed',
    ...(replaced ? { replacing: { deployedAt: replaced.startedAt, deployedBy: replaced.who, ci: replaced.ci, versionLabel: replaced.versionLabel, gitHashJohanna: replaced.gitHashJohanna, gitHashNova: replaced.gitHashNova } } : {}),
    swappedAt: new Date(swapDoneAt).toISOString(),
    dnsSettledAt: dnsSettledAt.toISOString(),
    dnsTtlSeconds: ttlMs / 1000,
    oldEligibleForRemovalAt: new Date(swapDoneAt + Math.max(graceMs, ttlMs)).toISOString(),
    elapsedSeconds: Math.round((Date.now() - started) / 100) / 10,
  };
}
