// The cleanup's rules: which old environments may go (age, DNS TTL, held, traffic), and
// the pruning of old application versions. Never the one holding the main CNAME, never a
// held one, never one whose age or traffic we cannot establish (unless --force-drain); says
// for each what it decided, why, and on which figures. EB allows 1,000 application versions
// per account and region, and a daily deploy makes one a day, so old ones are pruned too.
// Used by `terminate_eb_old_environment` and at the end of the daily `create_nova`.
import type { Ctx } from '../context.js';
import * as eb from '../aws/eb.js';
import { albDimension, albRequestCount, albRequestCountListed } from '../aws/cloudwatch.js';
import { dnsTtlMs, heldNames, readHeldTags, sameHost, ENV_PREFIX, holderOfMain, lostMainAt, mainCname } from './environments.js';
import { fence } from './lock.js';
import { ledgerOf, readHistoryOf, type Ledger, type Swap } from './history.js';
import { removeMarked } from './remove.js';
import { metricsTiming, undeliveredMs, type MetricsTiming } from './metrics-timing.js';
import { table } from '../ui/table.js';

/** The figures the traffic check decided on: requests on the load balancer in the window. */
export interface Traffic {
  /** The CloudWatch dimension, `app/<name>/<id>`; unset when the load balancer was not found. */
  loadBalancer?: string;
  /** Sum of RequestCount in the window (no datapoint counts as 0: an ALB publishes none without requests). */
  requests?: number;
  windowMinutes: number;
  from: string;
  to: string;
  /**
   * The seconds after `to`, up to now, that CloudWatch may not have delivered yet (period +
   * lag, metrics-timing.ts): left out of the window, unknown, never counted as quiet.
   */
  undeliveredSeconds?: number;
  /** Why the traffic could not be read (no load balancer, CloudWatch refused): the environment is kept. */
  problem?: string;
  /** false: no request in the window, and CloudWatch lists no RequestCount for it at all (never measured): kept. */
  measured?: boolean;
}

export interface Decision {
  environment: string;
  action: 'terminate' | 'keep';
  reason: string;
  /** The figures, when the traffic check ran; with --force-drain it does not, and `forced` is set. */
  traffic?: Traffic;
  forced?: boolean;
  /** Removed at nova.DRAIN_CEILING_MINUTES although its traffic did not allow it: the cleanup warns, with the figures. */
  ceiling?: boolean;
}

export interface DecideOptions {
  /** Environments held by `create_nova --hold`: never removed by the cleanup. */
  held?: Set<string>;
  /** Others to spare, with the reason (create_nova spares the environment it just made). */
  spare?: Map<string, string>;
  /** Each candidate's traffic (see Traffic); a candidate without an entry is kept. */
  traffic?: Map<string, Traffic>;
  /** --force-drain: the grace period alone decides; the traffic check is skipped, and said so. */
  forceDrain?: boolean;
  /** nova.DRAIN_BACKGROUND_PER_MINUTE: traffic at or below this rate is background (scanners, bots): drained. */
  backgroundPerMinute?: number;
  /** nova.DRAIN_CEILING_MINUTES: out of service this long, it goes whatever its traffic says (`ceiling` set). */
  ceilingMinutes?: number;
  /** AWS's clock minus this machine's (AwsCli.clockOffset): EB's DateUpdated is read in this machine's time. */
  awsOffsetMs?: number;
}

/**
 * `12 requests on app/awseb-AWSEB-x/1a2b in the 5 min to 14:04:10Z (13:59:10Z-14:04:10Z); the
 * last 180 s are not yet delivered by CloudWatch: unknown, not counted as quiet`.
 */
export function describeTraffic(t: Traffic): string {
  const range = `(${t.from.slice(11, 19)}Z-${t.to.slice(11, 19)}Z)`;
  const window = t.undeliveredSeconds
    ? `in the ${t.windowMinutes} min to ${t.to.slice(11, 19)}Z ${range}; the last ${t.undeliveredSeconds} s are not yet delivered by CloudWatch: unknown, not counted as quiet`
    : `in the last ${t.windowMinutes} min ${range}`;
  return `${t.requests} request${t.requests === 1 ? '' : 's'} on ${t.loadBalancer} ${window}`;
}

/**
 * Which old environments may go. Never before the DNS TTL has passed since they lost the
 * main CNAME, whatever the grace (even --grace-minutes 0): until then clients with a cached
 * answer still reach them, and terminating breaks those requests (R12). Past the grace, only
 * once their load balancer has served no request for the quiet window: clients that cache
 * DNS beyond its TTL, or call the environment's own CNAME, still reach it. Without the
 * figures (no load balancer, CloudWatch unreadable) it is kept; --force-drain skips the check.
 */
export function decide(envs: eb.Environment[], ledger: Pick<Ledger, 'swaps'>, main: string, graceMinutes: number, now: Date, ttlMs = 0, o: DecideOptions = {}): Decision[] {
  const live = holderOfMain(envs, main);
  return envs
    .filter((e) => e.EnvironmentName.startsWith(ENV_PREFIX) && e.Status !== 'Terminated')
    .map((e): Decision => {
      const name = e.EnvironmentName;
      const keep = (reason: string, traffic?: Traffic): Decision => ({ environment: name, action: 'keep', reason, ...(traffic ? { traffic } : {}) });
      if (e === live) return keep(`holds the main CNAME ${main}`);
      if (o.held?.has(name)) return keep('is held (create_nova --hold): promote or discard it');
      const spared = o.spare?.get(name);
      if (spared) return keep(spared);
      if (e.Status !== 'Ready') return keep(`is ${e.Status}, not Ready`);
      const lost = lostMainAt(e, ledger, o.awsOffsetMs);
      if (!lost) return keep('cannot establish when it stopped serving the main CNAME');
      const minutes = (now.getTime() - lost.at.getTime()) / 60_000;
      const since = `out of service since ${lost.at.toISOString()} (${lost.source}), ${Math.floor(minutes)} min ago`;
      if (now.getTime() - lost.at.getTime() < ttlMs) {
        return keep(`${since}; clients may still resolve ${main} to it until ${new Date(lost.at.getTime() + ttlMs).toISOString()} (DNS TTL ${ttlMs / 1000} s)`);
      }
      if (minutes < graceMinutes) return keep(`${since}; grace period is ${graceMinutes} min`);
      const graceOver = `${since}; grace period ${graceMinutes} min is over`;
      if (o.forceDrain) return { environment: name, action: 'terminate', reason: `${graceOver}; traffic not checked (--force-drain)`, forced: true };
      const t = o.traffic?.get(name);
      // Kept for its traffic: until the ceiling, after which it goes anyway, saying why (issue 19 item 4).
      const ceiling = o.ceilingMinutes;
      const keptForTraffic = (why: string, traffic?: Traffic): Decision =>
        ceiling !== undefined && minutes >= ceiling
          ? { environment: name, action: 'terminate', reason: `${why}; but out of service past nova.DRAIN_CEILING_MINUTES (${ceiling} min), so it goes anyway`, ceiling: true, ...(traffic ? { traffic } : {}) }
          : keep(`${why}; it stays (--force-drain removes it anyway)${ceiling !== undefined ? `, at most until ${ceiling} min out of service (nova.DRAIN_CEILING_MINUTES)` : ''}`, traffic);
      if (!t) return keptForTraffic(`${graceOver}; its traffic was not read`);
      if (t.problem || t.requests === undefined) return keptForTraffic(`${graceOver}; cannot tell whether it still serves: ${t.problem ?? 'no figures'}`, t);
      const background = o.backgroundPerMinute ?? 0;
      if (t.requests > 0 && t.requests / t.windowMinutes > background) return keptForTraffic(`${graceOver}; still serving: ${describeTraffic(t)}`, t);
      if (t.requests > 0) return { environment: name, action: 'terminate', reason: `${graceOver}; drained: only background traffic, ${describeTraffic(t)} (at most nova.DRAIN_BACKGROUND_PER_MINUTE ${background} a minute)`, traffic: t };
      if (t.measured === false) return keptForTraffic(`${graceOver}; never measured: CloudWatch lists no RequestCount for ${t.loadBalancer} in the past two weeks, so a quiet window proves nothing`, t);
      return { environment: name, action: 'terminate', reason: `${graceOver}; drained: ${describeTraffic(t)}`, traffic: t };
    });
}

/**
 * The traffic of one environment over the quiet window: the load balancer EB names for it,
 * then CloudWatch's RequestCount of that load balancer. A failure to read either is a figure
 * too (`problem`), never a guess of zero.
 *
 * The window is the `windowMinutes` that end where CloudWatch surely has every datapoint, at
 * now − (period + lag) (metrics-timing.ts, aws-rules.md R101; issue 19 item 3): a datapoint
 * comes after its minute and is readable a couple of minutes later ("about 2 minutes",
 * Datadog's Cloud Metric Delay guide), so the newest minutes read as empty whether or not
 * requests came. Counted as zero, they would let an environment whose clients still call it
 * pass for quiet on minutes nobody has seen; left out, the quiet window is as long as
 * configured, and only delivered minutes count in it. Traffic in the undelivered minutes alone
 * is unknown either way; the output says so.
 */
export async function readTraffic(ctx: Ctx, environmentName: string, windowMinutes: number, now: Date, timing: MetricsTiming): Promise<Traffic> {
  const undelivered = undeliveredMs(timing);
  const to = new Date(now.getTime() - undelivered);
  const from = new Date(to.getTime() - windowMinutes * 60_000);
  const base = { windowMinutes, from: from.toISOString(), to: to.toISOString(), ...(undelivered ? { undeliveredSeconds: undelivered / 1000 } : {}) };
  let names: string[];
  try {
    names = ((await eb.describeEnvironmentResources(ctx.call, environmentName)).LoadBalancers ?? []).map((l) => l.Name ?? '').filter(Boolean);
  } catch (err) {
    return { ...base, problem: `describe-environment-resources failed: ${(err as Error).message}` };
  }
  if (!names.length) return { ...base, problem: 'EB names no load balancer for it' };
  const loadBalancer = names.map(albDimension).find((d): d is string => Boolean(d));
  if (!loadBalancer) return { ...base, problem: `its load balancer ${names[0]} is not an Application Load Balancer, whose RequestCount this reads` };
  try {
    const r = await albRequestCount(ctx.call, loadBalancer, from, to);
    // Quiet, or never measured? Asked only when the window is empty.
    if (r.requests === 0 && !(await albRequestCountListed(ctx.call, loadBalancer))) return { ...base, loadBalancer, requests: 0, measured: false };
    return { ...base, loadBalancer, requests: r.requests };
  } catch (err) {
    return { ...base, loadBalancer, problem: `CloudWatch get-metric-statistics failed: ${(err as Error).message}` };
  }
}

export interface CleanupOptions {
  graceMinutes: number;
  quietMinutes: number;
  forceDrain?: boolean;
  spare?: Map<string, string>;
  /** create_nova's own cleanup: its preflight removed the marked environments already. */
  skipMarked?: boolean;
  /** Delete old application versions too (the command does; create_nova leaves it to the command). */
  pruneVersions?: boolean;
  /** Swaps this run made, not in the deploy history until the run ends (create_nova's own). */
  swaps?: Swap[];
  /** Where each decision is printed: stdout as the result (the command), or stderr (create_nova, whose result is the deploy). */
  print?: 'result' | 'info';
}

export interface CleanupResult {
  graceMinutes: number;
  drainQuietMinutes: number;
  forceDrain: boolean;
  decisions: Decision[];
  terminated: string[];
  prunedVersions?: string[];
  /** Environments EB would not terminate, with its message. */
  failed: string[];
  /** Environments a failed or interrupted deploy left marked for removal, removed first (or left, in `failed`). */
  markedForRemoval?: string[];
}

/**
 * The cleanup itself: decide by age, read the traffic of those past the grace (unless
 * --force-drain), decide again with the figures, terminate. One environment EB will not
 * terminate must not spare the others: each is tried, the failures are returned together.
 */
export async function cleanupOldEnvironments(ctx: Ctx, o: CleanupOptions): Promise<CleanupResult> {
  const app = ctx.config.elasticbeanstalk.APPLICATION_NAME;
  const [listed, ttl, timing, awsOffsetMs] = await Promise.all([eb.describeEnvironments(ctx.call, app), dnsTtlMs(ctx), metricsTiming(ctx), ctx.aws.clockOffset()]);
  const main = mainCname(ctx);
  // What happened to them comes from the deploy history, never from EB's events, which EB
  // forgets (issue 20 item 1): one query, and none when only the live one exists. A history
  // that cannot be read keeps every tagged one as held, and dates the others from EB's own state.
  const others = listed.filter((e) => e.EnvironmentName.startsWith(ENV_PREFIX) && e.Status !== 'Terminated' && !sameHost(e.CNAME, main)).map((e) => e.EnvironmentName);
  let ledger: Ledger | undefined = { swaps: [], holds: new Map() };
  // An environment this run itself swapped off the main CNAME needs no history: that swap is
  // its newest, and one that held the main CNAME is not held. So the daily deploy's cleanup,
  // with only yesterday's environment beside the new one, makes no query (issue 27).
  const swappedOffNow = new Set((o.swaps ?? []).map((s) => s.from));
  try {
    if (others.some((n) => !swappedOffNow.has(n))) ledger = ledgerOf(await readHistoryOf(ctx, others));
  } catch (err) {
    ctx.log.warn(`could not read the deploy history (${(err as Error).message}); every held-tagged environment is kept, and the others are dated from EB's own state`);
    ledger = undefined;
  }
  const swaps = { swaps: [...(o.swaps ?? []), ...(ledger?.swaps ?? [])].sort((a, b) => b.at.getTime() - a.at.getTime()) };
  // Environments a killed or interrupted deploy left marked for removal go first, whatever
  // their age or traffic: they never served the main CNAME (src/deploy/remove.ts). Without a
  // readable history none is taken for marked.
  const marked = o.skipMarked || !ledger ? { removed: [], left: [] } : await removeMarked(ctx, app, listed, swaps, main, Date.now() + ctx.config.nova.DEPLOY_TIMEOUT_MINUTES * 60_000);
  const gone = new Set([...marked.removed, ...marked.left]);
  const envs = listed.filter((e) => !gone.has(e.EnvironmentName));
  const now = new Date();
  // Those the age rules alone would remove (what --force-drain would take): only their tags
  // (held?) and traffic are read, three calls each, so a cleanup with nothing past the grace
  // costs nothing more. A held one is never removed; tags that cannot be read count as held.
  const ageOnly = decide(envs, swaps, main, o.graceMinutes, now, ttl, { spare: o.spare, forceDrain: true, awsOffsetMs }).filter((d) => d.action === 'terminate');
  const heldTags = await readHeldTags(ctx, envs.filter((e) => ageOnly.some((d) => d.environment === e.EnvironmentName)), main, { unreadableIsHeld: true });
  const held = heldNames(envs, ledger && { ...ledger, swaps: swaps.swaps }, heldTags, main);
  const base = { held, spare: o.spare, awsOffsetMs };
  const candidates = ageOnly.filter((d) => !held.has(d.environment));
  const traffic = new Map<string, Traffic>();
  if (!o.forceDrain) {
    // CloudWatch's datapoints are stamped, and its window read, by AWS's clock (R103): the
    // quiet window ends by AWS's clock, or a skew of minutes reads the wrong minutes.
    const awsNow = new Date(now.getTime() + awsOffsetMs);
    for (const c of candidates) traffic.set(c.environment, await readTraffic(ctx, c.environment, o.quietMinutes, awsNow, timing));
  }
  const nova = ctx.config.nova;
  const decisions = decide(envs, swaps, main, o.graceMinutes, now, ttl, { ...base, traffic, forceDrain: o.forceDrain, backgroundPerMinute: nova.DRAIN_BACKGROUND_PER_MINUTE, ceilingMinutes: nova.DRAIN_CEILING_MINUTES });
  const failed: string[] = marked.left.map((n) => `${n}: still busy at EB; marked for removal`);
  const say = (text: string) => (o.print === 'info' ? ctx.log.info(`  ${text}`) : ctx.log.result(text));
  // The decisions as one table (issue 22 item 3), before any is carried out.
  if (decisions.length || gone.size) {
    const live = holderOfMain(envs, main);
    const role = (d: Decision) => (d.environment === live?.EnvironmentName ? 'live' : held.has(d.environment) ? 'held' : o.spare?.has(d.environment) ? 'new' : 'old');
    const rows = [
      ...[...gone].map((n) => ['terminate', n, 'marked for removal', marked.left.includes(n) ? 'left: still busy at EB' : 'its deploy ended before it went live']),
      ...decisions.map((d) => [d.action, d.environment, role(d), d.reason]),
    ];
    for (const l of table(['DECISION', 'ENVIRONMENT', 'ROLE', 'REASON'], rows)) say(l);
  }
  for (const d of decisions) {
    if (d.action !== 'terminate') continue;
    if (d.ceiling) ctx.log.warn(`${d.environment} goes at the ceiling, though its traffic did not say drained: ${d.reason}`);
    await fence(ctx, `terminate-environment ${d.environment}`);
    try {
      if ((await eb.terminateEnvironment(ctx.call, d.environment)) === 'already') ctx.log.info(`  ${d.environment} was already terminating`);
    } catch (err) {
      failed.push(`${d.environment}: ${(err as Error).message}`);
      ctx.log.warn(`could not terminate ${d.environment}: ${(err as Error).message}`);
    }
  }
  if (!decisions.length && !gone.size) say('no old environments');
  const pruned = o.pruneVersions ? await pruneVersions(ctx, app, envs) : undefined;
  return {
    graceMinutes: o.graceMinutes,
    drainQuietMinutes: o.quietMinutes,
    forceDrain: Boolean(o.forceDrain),
    decisions,
    terminated: [...marked.removed, ...decisions.filter((d) => d.action === 'terminate').map((d) => d.environment)],
    ...(gone.size ? { markedForRemoval: [...gone] } : {}),
    ...(pruned ? { prunedVersions: pruned } : {}),
    failed,
  };
}

/** How many of the newest application versions are kept beside those environments run. */
export const KEEP_VERSIONS = 10;

/** Labels to delete: not run by any environment, and older than the newest `keep`. */
export function versionsToPrune(versions: { VersionLabel: string; DateCreated?: string }[], inUse: Set<string>, keep = KEEP_VERSIONS): string[] {
  return [...versions]
    .sort((a, b) => Date.parse(b.DateCreated ?? '') - Date.parse(a.DateCreated ?? ''))
    .slice(keep)
    .map((v) => v.VersionLabel)
    .filter((label) => !inUse.has(label));
}

/**
 * Delete the versions (and their bundles in S3) that no environment runs, beyond the newest
 * KEEP_VERSIONS. An environment terminated just now still holds its version; it goes the
 * next day. A version EB will not delete is a warning, never a failed cleanup.
 */
async function pruneVersions(ctx: Ctx, app: string, envs: eb.Environment[]): Promise<string[]> {
  const call = ctx.call;
  const versions = await eb.listApplicationVersionsOf(call, app);
  const inUse = new Set(envs.map((e) => e.VersionLabel).filter((v): v is string => Boolean(v)));
  const labels = versionsToPrune(versions, inUse);
  const pruned: string[] = [];
  for (const label of labels) {
    try {
      await eb.deleteApplicationVersionOf(call, app, label);
      pruned.push(label);
    } catch (err) {
      ctx.log.warn(`could not delete application version ${label}: ${(err as Error).message}`);
    }
  }
  if (pruned.length) ctx.log.result(`deleted ${pruned.length} old application version${pruned.length > 1 ? 's' : ''} (keeping the newest ${KEEP_VERSIONS} and those in use)`);
  return pruned;
}
