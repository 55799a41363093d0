// The bake (issue 21): after a swap to a new version, watch the new environment under real
// traffic, a minute at a time, and swap back by itself when it fails. The old environment is
// still alive, warm and verified for the whole grace period, so going back is one verified
// swap (swap-back.ts, as `rollback` does).
//
// Each minute is judged on the new environment's load balancer, in AWS's names (ELB User
// Guide, "CloudWatch metrics for your Application Load Balancer",
// https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-cloudwatch-metrics.html):
// the 5xx share (HTTPCode_Target_5XX_Count + HTTPCode_ELB_5XX_Count over RequestCount), the
// p99 of TargetResponseTime, EB's enhanced health (Degraded or Severe), and the operator's
// CloudWatch alarms (BAKE_ALARMS) that went into ALARM after the swap. A minute's datapoints
// arrive late (aws-rules.md R101), so a minute is judged only once its lag has passed. A
// minute with too few requests is not judged on its share or p99; with fewer than half the
// minutes judged, the verdict is inconclusive: the new version stays, and the notification
// says so. BAKE_FAILURE_LIMIT bad minutes swap back.
import type { Ctx } from '../context.js';
import { AwsCliError, InterruptedError, JohannaError } from '../errors.js';
import * as eb from '../aws/eb.js';
import { albDimension, albMinute, alarmStates, type AlbMinute } from '../aws/cloudwatch.js';
import { pause } from '../time.js';
import { swapBack } from './swap-back.js';
import { metricsTiming, undeliveredMs, type MetricsTiming } from './metrics-timing.js';
import type { BakeResult } from './bake-result.js';

export type { BakeResult, BakeVerdict } from './bake-result.js';

/**
 * How long after a bake minute ends its datapoints are surely in CloudWatch: a period that
 * starts within the minute ends up to one period after it, and is readable the delivery lag
 * after that (metrics-timing.ts: AWS 1 + 2 minutes; a sandbox's --metrics-period and
 * --metrics-lag), plus a margin for the call that sends it.
 */
export function judgeAfterMs(t: MetricsTiming): number {
  return undeliveredMs(t) + Math.min(1000, t.periodMs / 2);
}

export interface MinuteFigures {
  minute: number;
  from: string;
  requests: number;
  errors5xx: number;
  errorPercent?: number;
  p99Ms?: number;
  health?: string;
  alarms: string[];
  /** Enough requests to judge the 5xx share and p99. */
  judged: boolean;
  bad: string[];
}

/** The bake failed and the old environment serves again: exit 1, with the figures. */
export class BakeFailedError extends JohannaError {
  override readonly code = 'BAKE';
  /** What the history records of the run (the swap in and the swap back), since it returns no result. */
  constructor(message: string, hint: string, readonly result: Record<string, unknown>) {
    super(message, hint);
  }
}

/** The alarms of BAKE_ALARMS in ALARM now: read before the swap, so the bake ignores them. */
export async function alarmsFiringBefore(ctx: Ctx): Promise<string[]> {
  const names = ctx.config.nova.BAKE_ALARMS;
  if (!names.length || ctx.dryRun) return [];
  return (await alarmStates(ctx.call, names)).filter((a) => a.state === 'ALARM').map((a) => a.name);
}

export interface BakeInput {
  app: string;
  main: string;
  /** The new environment, now serving `main`, and its version. */
  newEnvironment: string;
  versionLabel: string;
  /** The one it replaced: alive, warm, to swap back to. */
  oldEnvironment: string;
  oldVersionLabel?: string;
  oldCname: string;
  swapDoneAt: number;
  /** BAKE_ALARMS in ALARM before the swap. */
  firingBefore: string[];
  /** The deploy's deadline: the bake is cut short there. */
  deadline: number;
  /** What the history records when the bake swaps back (the deploy's own facts). */
  facts: Record<string, unknown>;
}

/** One minute's verdict (pure): what is bad about it. */
export function judgeMinute(
  m: AlbMinute,
  health: string | undefined,
  alarms: string[],
  t: { maxPercent: number; maxP99Ms: number; minRequests: number },
): Pick<MinuteFigures, 'errorPercent' | 'judged' | 'bad'> {
  const judged = m.requests >= t.minRequests;
  const errorPercent = m.requests > 0 ? Math.round((10_000 * m.errors5xx) / m.requests) / 100 : undefined;
  const bad: string[] = [];
  if (judged && errorPercent !== undefined && errorPercent > t.maxPercent) bad.push(`5xx ${errorPercent}% > ${t.maxPercent}%`);
  if (judged && m.p99Ms !== undefined && m.p99Ms > t.maxP99Ms) bad.push(`p99 ${m.p99Ms} ms > ${t.maxP99Ms} ms`);
  if (health === 'Degraded' || health === 'Severe') bad.push(`health ${health}`);
  for (const a of alarms) bad.push(`alarm ${a} in ALARM`);
  return { errorPercent, judged, bad };
}

/** The bake's verdict from the minutes so far (pure). */
export function verdictOf(minutes: MinuteFigures[], total: number, failureLimit: number): 'rolled back' | 'inconclusive' | 'passed' | undefined {
  if (minutes.filter((m) => m.bad.length).length >= failureLimit) return 'rolled back';
  if (minutes.length < total) return undefined;
  // Never guess "healthy": too little traffic judged is no verdict.
  return minutes.filter((m) => m.judged).length * 2 < total ? 'inconclusive' : 'passed';
}

function line(m: MinuteFigures, total: number): string {
  const figures = [
    `${m.requests} requests`,
    `5xx ${m.errors5xx}${m.errorPercent !== undefined ? ` (${m.errorPercent}%)` : ''}`,
    `p99 ${m.p99Ms !== undefined ? `${m.p99Ms} ms` : '-'}`,
    `health ${m.health ?? '?'}`,
    ...(m.alarms.length ? [`alarms ${m.alarms.join(', ')}`] : []),
  ].join(', ');
  const judged = m.bad.length ? `BAD: ${m.bad.join('; ')}` : m.judged ? 'ok' : 'too little traffic to judge 5xx and p99';
  return `  bake minute ${m.minute}/${total}: ${figures}: ${judged}`;
}

/**
 * Watch the new environment for nova.BAKE_MINUTES minutes. Returns the verdict when it
 * passes, is inconclusive or is cut short by the deadline; on a breach, swaps back once and
 * throws BakeFailedError (exit 1). Ctrl-C: an InterruptedError that says the new version is
 * live, with the rollback command.
 */
export async function bake(ctx: Ctx, b: BakeInput): Promise<BakeResult> {
  const nova = ctx.config.nova;
  const total = nova.BAKE_MINUTES;
  // A minute on AWS; a sandbox's minute is its metrics period (--metrics-period).
  const timing = await metricsTiming(ctx);
  const minuteMs = timing.periodMs;
  const lag = judgeAfterMs(timing);
  const rollbackLine = `${b.newEnvironment} (${b.versionLabel}) stays live; ./run rollback swaps back to ${b.oldEnvironment}`;
  const thresholds = { maxPercent: nova.BAKE_MAX_5XX_PERCENT, maxP99Ms: nova.BAKE_MAX_P99_MS, minRequests: nova.BAKE_MIN_REQUESTS };
  ctx.log.step(
    `bake: ${total} minute${total === 1 ? '' : 's'}${ctx.sandbox ? ` (a sandbox minute is its metrics period, ${minuteMs / 1000} s)` : ''} of ${b.newEnvironment} under traffic, each judged ${lag / 1000} s after it ends, once CloudWatch surely has it; a minute is bad at 5xx > ${thresholds.maxPercent}%, p99 > ${thresholds.maxP99Ms} ms (with at least ${thresholds.minRequests} requests), health Degraded/Severe${nova.BAKE_ALARMS.length ? ', or an alarm in ALARM' : ''}; ${nova.BAKE_FAILURE_LIMIT} bad minute${nova.BAKE_FAILURE_LIMIT === 1 ? '' : 's'} swap back to ${b.oldEnvironment}`,
  );
  if (b.firingBefore.length) ctx.log.warn(`bake: ignoring alarm${b.firingBefore.length > 1 ? 's' : ''} ${b.firingBefore.join(', ')}: already in ALARM before the swap, so ${b.firingBefore.length > 1 ? 'they say' : 'it says'} nothing of the new version`);
  const [loadBalancer, awsOffsetMs] = await Promise.all([newLoadBalancer(ctx, b.newEnvironment), ctx.aws.clockOffset()]);
  const ignored = new Set(b.firingBefore);
  const minutes: MinuteFigures[] = [];
  const base = { minutes: total, ...(b.firingBefore.length ? { ignoredAlarms: b.firingBefore } : {}) };
  for (let k = 0; k < total; k++) {
    const from = b.swapDoneAt + k * minuteMs;
    const to = from + minuteMs;
    const judgeAt = to + lag;
    if (judgeAt > b.deadline) {
      ctx.log.warn(`bake cut short by the deploy's deadline (nova.DEPLOY_TIMEOUT_MINUTES) after ${k} of ${total} minutes: ${rollbackLine}`);
      return { ...base, verdict: 'cut short', badMinutes: minutes.filter((m) => m.bad.length).length, judgedMinutes: minutes.filter((m) => m.judged).length, summary: `cut short after ${k} of ${total} minutes` };
    }
    await pause(Math.max(0, judgeAt - Date.now()), ctx.signal);
    const interrupted = () => new InterruptedError(`interrupted during the bake (minute ${k + 1} of ${total}): ${rollbackLine}`, './run rollback');
    if (ctx.signal.aborted) throw interrupted();
    let m: MinuteFigures;
    try {
      const [figures, envs, alarms] = await Promise.all([
        // The minute after the swap by this machine's clock is that minute by AWS's in CloudWatch (R103).
        albMinute(ctx.call, loadBalancer, new Date(from + awsOffsetMs), new Date(to + awsOffsetMs), Math.max(1, Math.round(minuteMs / 1000))),
        eb.describeEnvironments(ctx.call, b.app, { names: [b.newEnvironment], purpose: 'poll' }),
        alarmStates(ctx.call, nova.BAKE_ALARMS),
      ]);
      const health = envs[0]?.HealthStatus;
      const firing = alarms.filter((a) => a.state === 'ALARM' && !ignored.has(a.name)).map((a) => a.name);
      m = { minute: k + 1, from: new Date(from).toISOString(), ...figures, health, alarms: firing, ...judgeMinute(figures, health, firing, thresholds) };
      ctx.log.info(line(m, total));
    } catch (err) {
      // Ctrl-C stops the aws calls too: the bake was cut short, not failed.
      if (ctx.signal.aborted || err instanceof InterruptedError) throw interrupted();
      // A minute whose figures cannot be read is not judged: never a guess either way.
      const why = err instanceof AwsCliError ? `${err.args.slice(0, 2).join(' ')}: ${err.awsCode ?? `exit ${err.cliExitCode}`}` : (err as Error).message.split('\n')[0].slice(0, 200);
      ctx.log.warn(`  bake minute ${k + 1}/${total}: could not read its figures (${why}); not judged`);
      m = { minute: k + 1, from: new Date(from).toISOString(), requests: 0, errors5xx: 0, alarms: [], judged: false, bad: [] };
    }
    minutes.push(m);
    const verdict = verdictOf(minutes, total, nova.BAKE_FAILURE_LIMIT);
    if (verdict === 'rolled back') return swapBackAfterBreach(ctx, b, minutes);
    if (verdict) {
      const judgedMinutes = minutes.filter((x) => x.judged).length;
      const badMinutes = minutes.filter((x) => x.bad.length).length;
      if (verdict === 'inconclusive') {
        const summary = `inconclusive: only ${judgedMinutes} of ${total} minutes had ${thresholds.minRequests} requests or more; ${b.versionLabel} stays live, unjudged`;
        ctx.log.warn(`bake ${summary}. Check it yourself; ./run rollback swaps back to ${b.oldEnvironment}`);
        return { ...base, verdict, badMinutes, judgedMinutes, summary };
      }
      const summary = `passed: ${total} minutes, ${badMinutes} bad (limit ${nova.BAKE_FAILURE_LIMIT}), ${judgedMinutes} judged on traffic`;
      ctx.log.ok(`bake ${summary}`);
      return { ...base, verdict, badMinutes, judgedMinutes, summary };
    }
  }
  // BAKE_MINUTES 0 never reaches here (the caller skips), but a verdict is owed all the same.
  return { ...base, verdict: 'skipped', badMinutes: 0, judgedMinutes: 0, summary: 'no minutes to bake' };
}

/** The ALB dimension of the new environment's load balancer (EB names it). */
async function newLoadBalancer(ctx: Ctx, environment: string): Promise<string> {
  const names = ((await eb.describeEnvironmentResources(ctx.call, environment)).LoadBalancers ?? []).map((l) => l.Name ?? '').filter(Boolean);
  const d = names.map(albDimension).find((x): x is string => Boolean(x));
  if (!d) throw new JohannaError(`cannot bake ${environment}: EB names no Application Load Balancer for it (${names.join(', ') || 'none'})`, `it stays live; set nova.BAKE_MINUTES to 0 to deploy without a bake`);
  return d;
}

async function swapBackAfterBreach(ctx: Ctx, b: BakeInput, minutes: MinuteFigures[]): Promise<never> {
  const bad = minutes.filter((m) => m.bad.length);
  const figures = bad.map((m) => `minute ${m.minute}: ${m.bad.join('; ')} (${m.requests} requests)`).join(' | ');
  ctx.log.error(`bake failed: ${bad.length} bad minutes (limit ${ctx.config.nova.BAKE_FAILURE_LIMIT}): ${figures}`);
  ctx.log.step(`swap back: ${b.oldEnvironment} (${b.oldVersionLabel ?? '?'}) takes ${b.main} back from ${b.newEnvironment} (${b.versionLabel})`);
  const back = await swapBack(ctx, b.app, b.main, b.newEnvironment, { name: b.oldEnvironment, label: b.oldVersionLabel ?? '', own: b.oldCname });
  const swappedBackAt = back ? new Date(back.swapDoneAt).toISOString() : undefined;
  ctx.log.result(`rolled back by bake: ${b.main} serves ${b.oldVersionLabel ?? '?'} from ${b.oldEnvironment} again; ${b.newEnvironment} (${b.versionLabel}) is kept for inspection until the cleanup's rules remove it, and is never swapped to again without a person`);
  throw new BakeFailedError(
    `rolled back by bake: ${b.versionLabel} in ${b.newEnvironment} failed ${bad.length} minutes: ${figures}; ${b.oldEnvironment} serves ${b.main} again`,
    `inspect ${b.newEnvironment} (./run logs, ./run events); it is removed by the cleanup's rules`,
    {
      ...b.facts,
      bake: 'rolled back',
      bakeFigures: figures,
      swappedBackAt,
      dnsSettledAt: back?.dnsSettledAt.toISOString(),
    },
  );
}

/**
 * The bake after a swap to a new version (create_nova, promote; issue 21), or the line that
 * says there is none: nova.BAKE_MINUTES 0, or --no-bake.
 */
export async function bakeAfterSwap(ctx: Ctx, noBake: boolean | undefined, b: BakeInput): Promise<BakeResult> {
  const minutes = ctx.config.nova.BAKE_MINUTES;
  if (noBake || minutes === 0) {
    const why = noBake ? '--no-bake' : 'nova.BAKE_MINUTES is 0';
    const text = `no bake (${why}): nothing watches ${b.versionLabel} under traffic; ./run rollback swaps back to ${b.oldEnvironment} while it lives`;
    // --no-bake is this run's exception: a warning; a phase configured without one, a note.
    if (noBake) ctx.log.warn(text);
    else ctx.log.info(`  ${text}`);
    return { verdict: 'skipped', minutes: 0, badMinutes: 0, judgedMinutes: 0, summary: `skipped (${why})` };
  }
  return ctx.steps.run('bake', () => bake(ctx, b));
}
