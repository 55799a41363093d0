// `status`: what the phase has, read-only, no confirmation, no lock. Everything is found
// by our tags and names; a phase that was never created says so and exits 0.
import type { Ctx } from '../context.js';
import * as eb from '../aws/eb.js';
import { describeTagsByKeys } from '../aws/ec2.js';
import { TAG_PHASE, TAG_ROLE, tagValue } from '../aws/tags.js';
import { iamNames } from '../infra/names.js';
import { phaseResources } from '../infra/discover.js';
import { NETWORK_ROLES } from '../infra/resources.js';
import { byAgeNewestFirst, envTimestamp, heldEnvironments, holderOfMain, isLive, lostMainAt, mainCname, HELD_TAG } from '../deploy/environments.js';
import { describeLock, lockState, type LockState } from '../deploy/lock.js';
import { birthCname, markedForRemoval } from '../deploy/remove.js';
import { formatRecord, lastSwapOf, ledgerOf, readHistory, readHistoryOf, shortTime, type HistoryRecord } from '../deploy/history.js';
import { table } from '../ui/table.js';
import { shortVersion } from '../aws/cli.js';
import { describeTool, onPath } from '../venv.js';
import { listInstanceProfileNames, listRoleNames } from '../aws/iam.js';
import { callerAccount } from '../aws/sts.js';
import type { CommandOptions, CommandResult } from './types.js';
import { UsageError } from '../errors.js';

export interface EnvironmentStatus {
  name: string;
  cname?: string;
  live: boolean;
  status: string;
  health?: string;
  versionLabel?: string;
  gitHashJohanna?: string;
  gitHashNova?: string;
  ageMinutes?: number;
  outOfServiceSince?: string;
  eligibleForRemovalAt?: string;
  /** EB's ApplicationMetrics: requests in the last `seconds` (usually 10), and the share of 2xx/5xx answers. */
  requests?: { count: number; seconds: number; status2xxPercent?: number; status5xxPercent?: number };
  /** create_nova --hold made it and it has not been swapped in: ./run promote or discard. */
  held?: boolean;
  heldSince?: string;
  /** A deploy made it and ended (failed, interrupted, killed) before it went live: the next create_nova or cleanup removes it. */
  markedForRemoval?: { since: string; removeWith: string; deployRunning: boolean };
}

/** A read that fails (e.g. no lock table yet) is shown as unknown, not a failed status. */
async function soft<T>(p: Promise<T>): Promise<T | undefined> {
  try {
    return await p;
  } catch {
    return undefined;
  }
}

export async function status(ctx: Ctx, opts?: CommandOptions): Promise<CommandResult> {
  if (opts?.watchSeconds !== undefined) {
    if (ctx.json) throw new UsageError('--watch redraws a view until Ctrl-C; --json prints one document', 'drop one of them');
    return (await import('./status-watch.js')).watchStatus(ctx, opts.watchSeconds);
  }
  const app = ctx.config.elasticbeanstalk.APPLICATION_NAME;
  const iam = iamNames(ctx.phase);
  const call = ctx.call;
  const [account, tags, roles, profiles, appExists, envs, lock, history] = await Promise.all([
    soft(callerAccount(call)),
    describeTagsByKeys(call, [TAG_PHASE, TAG_ROLE]),
    listRoleNames(call, iam.path),
    listInstanceProfileNames(call, iam.path),
    eb.applicationExists(ctx.call, app),
    eb.describeEnvironments(ctx.call, app),
    // Never soft: a lock that cannot be read is "unknown", and says why, not "free".
    lockState(ctx),
    soft(readHistory(ctx, 10)),
  ]);
  const cli = await ctx.aws.cliVersion();
  const motoServer = ctx.sandbox ? await soft(import('../../sandbox/control.js').then((c) => c.sandboxMotoServer(ctx.sandbox!.endpoint))) : undefined;
  const found = phaseResources(tags, ctx.phase);
  const resources: Record<string, string | null> = {};
  for (const role of NETWORK_ROLES) resources[role] = found.get(role)?.join(',') ?? null;
  for (const name of Object.values(iam.roles)) resources[`iam-role ${name}`] = roles.includes(name) ? name : null;
  resources[`instance-profile ${iam.instanceProfile}`] = profiles.includes(iam.instanceProfile) ? iam.instanceProfile : null;
  resources[`eb-application ${app}`] = appExists ? app : null;

  const main = mainCname(ctx);
  const liveEnv = holderOfMain(envs, main);
  const grace = ctx.config.nova.OLD_ENVIRONMENT_GRACE_MINUTES;
  const shown = byAgeNewestFirst(envs.filter(isLive));
  // Tags hold the git hashes; one call per environment, and there are rarely more than two.
  const envTags = await Promise.all(shown.map((e) => (e.EnvironmentArn ? soft(eb.listTags(ctx.call, e.EnvironmentArn)) : undefined)));
  // Whether each still serves: EB's request figures of the last seconds (enhanced health).
  const metrics = await Promise.all(shown.map((e) => (e.Status === 'Ready' ? soft(eb.describeApplicationMetrics(ctx.call, e.EnvironmentName)) : undefined)));
  const heldTags = new Map(shown.map((e, i) => [e.EnvironmentName, tagValue(envTags[i], HELD_TAG)]));
  // Held and out-of-service-since come from the deploy history, as the deploy decides them.
  const ledger = (await soft(readHistoryOf(ctx, shown.filter((e) => e !== liveEnv).map((e) => e.EnvironmentName)).then(ledgerOf))) ?? undefined;
  const held = new Map(heldEnvironments(shown, ledger, heldTags, main).map((h) => [h.environment.EnvironmentName, h.since]));
  // With the lock held, the candidate may be that running deploy's own: said, not called marked.
  const deployRunning = lock.state !== 'free';
  const removeWith = ctx.hint('terminate_eb_old_environment');
  const marked = new Map(
    ledger
      ? markedForRemoval(shown, new Map(shown.map((e, i) => [e.EnvironmentName, envTags[i]])), ledger, main, (n) => birthCname(ctx, n)).map((m) => [m.environment.EnvironmentName, m.since])
      : [],
  );
  const environments: EnvironmentStatus[] = shown.map((e, i) => {
    const ts = envTimestamp(e.EnvironmentName);
    const heldSince = held.get(e.EnvironmentName);
    // A held one never served the main CNAME: it is waiting to, not out of service.
    const lost = e === liveEnv || heldSince ? undefined : lostMainAt(e, ledger ?? { swaps: [] });
    return {
      name: e.EnvironmentName,
      cname: e.CNAME,
      live: e === liveEnv,
      status: e.Status,
      health: e.Health,
      versionLabel: e.VersionLabel,
      gitHashJohanna: tagValue(envTags[i], 'git_hash_johanna'),
      gitHashNova: tagValue(envTags[i], 'git_hash_nova'),
      ageMinutes: ts ? Math.floor((Date.now() / 1000 - ts) / 60) : undefined,
      outOfServiceSince: lost?.at.toISOString(),
      eligibleForRemovalAt: lost ? new Date(lost.at.getTime() + grace * 60_000).toISOString() : undefined,
      requests: requestsOf(metrics[i]),
      ...(heldSince ? { held: true, heldSince } : {}),
      ...(marked.has(e.EnvironmentName) ? { markedForRemoval: { since: marked.get(e.EnvironmentName)!, removeWith, deployRunning } } : {}),
    };
  });
  const heldEnv = environments.find((e) => e.held);
  const present = Object.values(resources).filter(Boolean).length;
  const created = present > 0 || environments.length > 0;

  const l = ctx.log;
  l.result(`phase ${ctx.phase} in ${ctx.region}${account ? `, account ${account}` : ''}${ctx.sandbox ? ' (sandbox)' : ''}`);
  if (!created) {
    l.result('  never created (or fully terminated): nothing of this phase exists. Create it with ./run create');
  } else {
    l.result(`  resources: ${present} of ${Object.keys(resources).length} present`);
    for (const line of table(
      ['STATE', 'RESOURCE', 'ID'],
      Object.entries(resources).map(([k, v]) => [v ? 'ok' : 'MISSING', k, v && !k.includes(' ') ? v : '']),
      '    ',
    ))
      l.result(line);
    l.result(`  environments of ${app} (main CNAME ${main}):`);
    if (!environments.length) l.result('    none');
    // The ROLE column says which is which (issue 22 item 3): after many swaps a name and its
    // CNAME no longer match, and that is how blue/green works, not a bug.
    const previous = liveEnv && ledger ? lastSwapOf(ledger, liveEnv.EnvironmentName) : undefined;
    const previousName = previous ? (previous.from === liveEnv!.EnvironmentName ? previous.to : previous.from) : undefined;
    const roleOf = (e: EnvironmentStatus) =>
      e.live ? 'live' : e.held ? 'held' : e.markedForRemoval ? (e.markedForRemoval.deployRunning ? 'new' : 'marked for removal') : e.name === previousName ? 'previous' : 'old';
    if (environments.length) {
      const rows = environments.map((e) => [
        roleOf(e),
        e.name,
        `${e.status}/${e.health ?? '?'}`,
        e.versionLabel,
        e.cname,
        `${e.gitHashJohanna ?? '?'}/${e.gitHashNova ?? '?'}`,
        e.ageMinutes !== undefined ? `${e.ageMinutes} min` : undefined,
        e.requests ? `${e.requests.count}/${e.requests.seconds}s${e.requests.status5xxPercent ? ` (${e.requests.status5xxPercent}% 5xx)` : ''}` : undefined,
        e.live ? '' : e.held ? `held since ${e.heldSince} (./run promote or ./run discard)` : e.markedForRemoval ? markedLine(e.markedForRemoval) : e.eligibleForRemovalAt ? `removable after ${e.eligibleForRemovalAt} once drained` : '',
      ]);
      for (const line of table(['ROLE', 'ENVIRONMENT', 'STATE', 'VERSION', 'CNAME', 'GIT', 'AGE', 'REQUESTS', 'NOTE'], rows, '    ')) l.result(line);
    }
  }
  l.result(`  lock: ${describeLock(lock)}`);
  l.result(`  last run: ${history?.[0] ? formatRecord(history[0]) : 'none recorded'}`);
  // A bake in progress (issue 21): the deploy that holds the lock has already swapped in the
  // environment it made (made after it took the lock), so what it does now is the bake (or
  // its last steps: the DNS TTL, the cleanup).
  const baking = bakingNow(lock, liveEnv, ctx.config.nova.BAKE_MINUTES);
  if (baking) l.result(`  bake: in progress: ${baking}`);
  // The bake's last verdict, from the newest of the last runs that had one.
  const lastBake = history?.find((r) => r.bake);
  if (lastBake) l.result(`  last bake: ${bakeLine(lastBake)}`);
  l.result(`  aws CLI: ${describeTool(ctx.aws.bin, ctx.aws.env.PATH)} ${shortVersion(cli)}`);
  if (motoServer) l.result(`  moto_server (the sandbox's): ${describeTool(motoServer)}`);
  return {
    account,
    region: ctx.region,
    created,
    resources,
    mainCname: main,
    live: liveEnv?.EnvironmentName,
    held: heldEnv ? { name: heldEnv.name, versionLabel: heldEnv.versionLabel, cname: heldEnv.cname, since: heldEnv.heldSince, status: heldEnv.status, health: heldEnv.health } : null,
    environments,
    // null only when the lock is known to be free; an object otherwise (held, malformed, unknown).
    lock: lockJson(lock),
    lastRun: history?.[0],
    bakeInProgress: baking ?? null,
    lastBake: lastBake ? { verdict: lastBake.bake, figures: lastBake.bakeFigures, versionLabel: lastBake.versionLabel, environment: lastBake.newEnvironment, at: lastBake.startedAt, command: lastBake.command } : null,
    awsCli: { bin: ctx.aws.bin, path: ctx.aws.bin.includes('/') ? ctx.aws.bin : onPath(ctx.aws.bin, ctx.aws.env.PATH), version: cli.text, major: cli.major },
    ...(motoServer ? { motoServer } : {}),
  };
}

/**
 * What the running deploy is baking: the lock's create_nova has swapped in the environment it
 * made (made after it took the lock), so it is in its bake, or in its last steps after it.
 * Not decided by this config's nova.BAKE_MINUTES: the running deploy may have another config.
 */
export function bakingNow(lock: LockState, live: eb.Environment | undefined, bakeMinutes: number): string | undefined {
  if (lock.state !== 'held' || !live) return undefined;
  const { command, startedAt, holder } = lock.holder;
  if (command !== 'create_nova' && command !== 'create') return undefined;
  if (!live.DateCreated || Date.parse(live.DateCreated) < Date.parse(startedAt)) return undefined;
  return `${holder}'s ${command} (since ${startedAt}) swapped in ${live.EnvironmentName} (${live.VersionLabel ?? '?'}) and is baking it or finishing (nova.BAKE_MINUTES here: ${bakeMinutes})`;
}

function bakeLine(r: HistoryRecord): string {
  const what = `${r.versionLabel ?? '?'} in ${r.newEnvironment ?? '?'} (${r.command} ${shortTime(r.startedAt)})`;
  return r.bake === 'rolled back' ? `rolled back by bake: ${what}: ${r.bakeFigures ?? ''}` : `${r.bake}: ${what}`;
}

function markedLine(m: NonNullable<EnvironmentStatus['markedForRemoval']>): string {
  if (m.deployRunning) return `made by a deploy at ${m.since} that has not gone live; if that deploy is no longer running, it is marked for removal: ${m.removeWith} removes it`;
  return `its deploy at ${m.since} ended before it went live; ${m.removeWith} removes it (so does the next create_nova)`;
}

function requestsOf(m: eb.ApplicationMetrics | undefined): EnvironmentStatus['requests'] {
  if (!m || m.RequestCount === undefined) return undefined;
  return { count: m.RequestCount, seconds: m.Duration ?? 10, status2xxPercent: m.StatusCodes?.Status2xx, status5xxPercent: m.StatusCodes?.Status5xx };
}


function lockJson(lock: LockState): Record<string, unknown> | null {
  switch (lock.state) {
    case 'free':
      return null;
    case 'held':
      return { state: 'held', ...lock.holder };
    case 'malformed':
      return { state: 'malformed', malformed: lock.lock.malformed, item: lock.lock.item, clear: lock.clear };
    case 'unknown':
      return { state: 'unknown', error: lock.error };
  }
}
