// `terminate_eb_old_environment`: remove yesterday's environments once DNS caches have
// had time to forget them. Never the one holding the main CNAME, never one whose age we
// cannot establish; says for each what it decided and why. It also prunes old application
// versions: EB allows 1,000 per account and region, and a daily deploy makes one a day.
import type { Ctx } from '../context.js';
import { IncompleteError } from '../errors.js';
import * as eb from '../aws/eb.js';
import { dnsTtlMs, ENV_PREFIX, holderOfMain, lostMainAt, mainCname } from '../deploy/environments.js';
import type { CommandResult } from './registry.js';

export interface Decision {
  environment: string;
  action: 'terminate' | 'keep';
  reason: string;
}

/**
 * Which old environments may go. Never before the DNS TTL has passed since they lost the
 * main CNAME, whatever the grace (even --grace-minutes 0): until then clients with a cached
 * answer still reach them, and terminating breaks those requests (R12).
 */
export function decide(envs: eb.Environment[], events: eb.EbEvent[], main: string, graceMinutes: number, now: Date, ttlMs = 0): Decision[] {
  const live = holderOfMain(envs, main);
  return envs
    .filter((e) => e.EnvironmentName.startsWith(ENV_PREFIX) && e.Status !== 'Terminated')
    .map((e): Decision => {
      const keep = (reason: string): Decision => ({ environment: e.EnvironmentName, action: 'keep', reason });
      if (e === live) return keep(`holds the main CNAME ${main}`);
      if (e.Status !== 'Ready') return keep(`is ${e.Status}, not Ready`);
      const lost = lostMainAt(e, events);
      if (!lost) return keep('cannot establish when it stopped serving the main CNAME');
      const minutes = (now.getTime() - lost.at.getTime()) / 60_000;
      const since = `out of service since ${lost.at.toISOString()} (${lost.source}), ${Math.floor(minutes)} min ago`;
      if (now.getTime() - lost.at.getTime() < ttlMs) {
        return keep(`${since}; clients may still resolve ${main} to it until ${new Date(lost.at.getTime() + ttlMs).toISOString()} (DNS TTL ${ttlMs / 1000} s)`);
      }
      if (minutes < graceMinutes) return keep(`${since}; grace period is ${graceMinutes} min`);
      return { environment: e.EnvironmentName, action: 'terminate', reason: `${since}; grace period ${graceMinutes} min is over` };
    });
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

export async function terminateEbOldEnvironment(ctx: Ctx): Promise<CommandResult> {
  const app = ctx.config.elasticbeanstalk.APPLICATION_NAME;
  const grace = ctx.opts.graceMinutes !== undefined ? Number(ctx.opts.graceMinutes) : ctx.config.nova.OLD_ENVIRONMENT_GRACE_MINUTES;
  const [envs, events] = await Promise.all([eb.describeEnvironments(ctx, app), eb.describeEvents(ctx, app, { maxRecords: 1000 })]);
  const decisions = decide(envs, events, mainCname(ctx), grace, new Date(), await dnsTtlMs(ctx));
  // One environment EB will not terminate must not spare the others: each is tried, the
  // failures are reported together at the end.
  const failed: string[] = [];
  for (const d of decisions) {
    ctx.log.result(`${d.action === 'terminate' ? 'terminate' : 'keep     '} ${d.environment}: ${d.reason}`);
    if (d.action !== 'terminate') continue;
    try {
      if ((await eb.terminateEnvironment(ctx, d.environment)) === 'already') ctx.log.info(`  ${d.environment} was already terminating`);
    } catch (err) {
      failed.push(`${d.environment}: ${(err as Error).message}`);
      ctx.log.warn(`could not terminate ${d.environment}: ${(err as Error).message}`);
    }
  }
  if (!decisions.length) ctx.log.result('no old environments');
  const pruned = await pruneVersions(ctx, app, envs);
  if (failed.length) throw new IncompleteError(`could not terminate ${failed.length} environment${failed.length > 1 ? 's' : ''}: ${failed.join('; ')}`, 'run terminate_eb_old_environment again; see ./run status');
  return { graceMinutes: grace, decisions, terminated: decisions.filter((d) => d.action === 'terminate').map((d) => d.environment), prunedVersions: pruned };
}

/**
 * Delete the versions (and their bundles in S3) that no environment runs, beyond the newest
 * KEEP_VERSIONS. An environment terminated just now still holds its version; it goes the
 * next day. A version EB will not delete is a warning, never a failed cleanup.
 */
async function pruneVersions(ctx: Ctx, app: string, envs: eb.Environment[]): Promise<string[]> {
  const call = ctx.aws.aws.bind(ctx.aws);
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
