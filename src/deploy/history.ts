// The deploy history: every changing command leaves one record in a durable ledger, the
// DynamoDB table `johanna-history` (the lock table's sibling, made on first use, keyed by
// phase and time), so "who deployed what, when, and did it work" has one answer for every
// host and CI runner that deploys the account. Writing it never changes a run's outcome:
// a ledger that cannot be written is a warning.
import os from 'node:os';
import { randomBytes } from 'node:crypto';
import type { Ctx } from '../context.js';
import { table } from '../ui/table.js';
import type { RunLogRecord } from '../aws/cli.js';
import type { AwsCall } from '../aws/cli.js';
import { cancellationReasons, fromItem, isMissingTable, putItem, queryAll, queryNewest, toItem, transactWrite, withTable } from '../aws/dynamodb.js';
import { bookkeepingCall, HISTORY_TABLE, HISTORY_TABLE_SPEC } from './tables.js';
import { release, releaseAction, releaseWithRecord, takeRelease, type LockHolder } from './lock.js';
import { EXIT, InterruptedError, JohannaError, LockedError } from '../errors.js';

export { HISTORY_TABLE };

/**
 * Ledger calls are bookkeeping, apart from the command's own work in the run log and counts;
 * quiet at -v when they fail, as the callers handle a missing table.
 */
const historyCall = (ctx: Ctx): AwsCall => bookkeepingCall(ctx, HISTORY_TABLE_SPEC);

export type Outcome = 'ok' | 'failed' | 'interrupted' | 'locked';

export interface HistoryRecord {
  phase: string;
  /** The sort key: when the command started (ISO), then a random suffix so two records never collide. */
  time: string;
  startedAt: string;
  command: string;
  outcome: Outcome;
  exitCode: number;
  durationSeconds: number;
  /** user@host */
  who: string;
  /** The working directory, and the CI system and run when there is one. */
  cwd: string;
  ci?: string;
  versionLabel?: string;
  newEnvironment?: string;
  oldEnvironment?: string;
  /** create_nova --hold: newEnvironment was made and held beside oldEnvironment, not swapped in. */
  held?: boolean;
  /**
   * When the swap that gave newEnvironment the main CNAME and took it from oldEnvironment
   * completed (ISO). What the cleanup's grace, promote's and rollback's choices are decided
   * on (issue 20 items 1, 4): EB forgets its swap events, the ledger does not.
   */
  swappedAt?: string;
  gitHashJohanna?: string;
  gitHashNova?: string;
  probe?: string;
  terminated?: string[];
  /** The bake's verdict after the swap (issue 21): passed, rolled back, inconclusive, cut short, skipped. */
  bake?: string;
  /** What failed the bake, minute by minute: the figures. */
  bakeFigures?: string;
  /** When the bake's swap back gave oldEnvironment the main CNAME again (ISO). */
  swappedBackAt?: string;
  error?: string;
}

/** What a run was, as the CLI saw it; everything the record needs, so building it is pure. */
export interface RunFacts {
  phase: string;
  command: string;
  startedAt: Date;
  finishedAt: Date;
  result?: Record<string, unknown>;
  error?: unknown;
  interrupted?: boolean;
  /** The signal that stopped the run (SIGINT, SIGTERM), when interrupted. */
  signal?: string;
  /** The run's aws calls: what a failed deploy got as far as (its result never came). */
  calls: RunLogRecord[];
  env: NodeJS.ProcessEnv;
  cwd: string;
  who: string;
  redact?: (text: string) => string;
  suffix?: string;
}

export function buildRecord(f: RunFacts): HistoryRecord {
  const outcome = outcomeOf(f.error, f.interrupted);
  // A bake that swapped back fails the run, but its error carries the run's facts (both swaps).
  const fromError = f.error && typeof f.error === 'object' && 'result' in f.error ? ((f.error as { result?: Record<string, unknown> }).result ?? undefined) : undefined;
  const facts = { ...factsFromCalls(f.calls), ...definedOnly(factsFromResult(f.result ?? fromError)) };
  const message = f.error === undefined ? undefined : firstLine(f.error instanceof Error ? f.error.message : String(f.error));
  const redact = f.redact ?? ((t: string) => t);
  return {
    phase: f.phase,
    time: `${f.startedAt.toISOString()}#${f.suffix ?? randomBytes(2).toString('hex')}`,
    startedAt: f.startedAt.toISOString(),
    command: f.command,
    outcome,
    exitCode: exitCodeOf(f),
    durationSeconds: Math.round((f.finishedAt.getTime() - f.startedAt.getTime()) / 100) / 10,
    who: f.who,
    cwd: f.cwd,
    ci: ciName(f.env),
    ...facts,
    probe: facts.probe ?? probeOf(outcome, facts.newEnvironment, message),
    error: message === undefined ? undefined : redact(message).slice(0, 300),
  };
}

/**
 * The code the run exits with (cli.ts): 128 + the signal's number for a run stopped by
 * SIGINT (130) or SIGTERM (143), whatever error the stop surfaced as (issue 20 item 15).
 */
function exitCodeOf(f: RunFacts): number {
  if (f.error === undefined) return EXIT.ok;
  const signal = f.interrupted ? f.signal : undefined;
  if (signal === 'SIGINT' || signal === 'SIGTERM') return 128 + os.constants.signals[signal];
  return f.error instanceof JohannaError ? f.error.exitCode : EXIT.failed;
}

function outcomeOf(error: unknown, interrupted?: boolean): Outcome {
  if (error === undefined) return 'ok';
  if (error instanceof LockedError) return 'locked';
  if (error instanceof InterruptedError || interrupted) return 'interrupted';
  return 'failed';
}

function firstLine(text: string): string {
  return text.split('\n')[0].trim();
}

type Facts = Pick<HistoryRecord, 'versionLabel' | 'newEnvironment' | 'oldEnvironment' | 'held' | 'swappedAt' | 'gitHashJohanna' | 'gitHashNova' | 'probe' | 'terminated' | 'bake' | 'bakeFigures' | 'swappedBackAt'>;

function definedOnly<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/**
 * The deploy's facts from a command's result: at its top (create_nova, rollback) or one
 * level down (create → create_nova, terminate → terminate_nova). A rollback names its
 * environments `from` and `to`.
 */
export function factsFromResult(result: Record<string, unknown> | undefined): Facts {
  if (!result) return {};
  const parts = [result, ...Object.values(result).filter((v): v is Record<string, unknown> => !!v && typeof v === 'object' && !Array.isArray(v))];
  const str = (...keys: string[]) => {
    for (const p of parts) for (const k of keys) if (typeof p[k] === 'string' && p[k]) return p[k] as string;
    return undefined;
  };
  const terminated = parts.flatMap((p) => (Array.isArray(p.terminated) ? p.terminated.filter((t): t is string => typeof t === 'string') : []));
  const probe = parts.map((p) => p.probe).find((p) => p !== undefined);
  return {
    versionLabel: str('versionLabel'),
    newEnvironment: str('newEnvironment', 'to'),
    oldEnvironment: str('oldEnvironment', 'from'),
    held: parts.some((p) => p.held === true) || undefined,
    swappedAt: str('swappedAt'),
    gitHashJohanna: str('gitHashJohanna'),
    gitHashNova: str('gitHashNova'),
    probe: probe === undefined ? undefined : typeof probe === 'string' ? probe : JSON.stringify(probe),
    terminated: terminated.length ? terminated : undefined,
    bake: str('bake') ?? parts.map((p) => (p.bake && typeof p.bake === 'object' ? (p.bake as { verdict?: unknown }).verdict : undefined)).find((v): v is string => typeof v === 'string'),
    bakeFigures: str('bakeFigures'),
    swappedBackAt: str('swappedBackAt'),
  };
}

/**
 * A run that failed returns no result, but its aws calls say how far it got: the
 * environment it created (name, version, git hashes in its tags) and the one it swapped with.
 */
export function factsFromCalls(calls: RunLogRecord[]): Facts {
  const facts: Facts = {};
  const after = (args: string[], flag: string) => {
    const i = args.indexOf(flag);
    return i >= 0 ? args[i + 1] : undefined;
  };
  for (const c of calls) {
    if (c.tool !== 'aws' || c.args[0] !== 'elasticbeanstalk' || c.exitCode !== 0) continue;
    if (c.args[1] === 'create-environment') {
      facts.newEnvironment = after(c.args, '--environment-name');
      facts.versionLabel = after(c.args, '--version-label');
      try {
        const tags = JSON.parse(after(c.args, '--tags') ?? '[]') as { Key: string; Value: string }[];
        facts.gitHashJohanna = tags.find((t) => t.Key === 'git_hash_johanna')?.Value;
        facts.gitHashNova = tags.find((t) => t.Key === 'git_hash_nova')?.Value;
      } catch {
        // tags we cannot read: the record just has no hashes
      }
    }
    // The deploy, promote and the rollback all swap from the environment that holds the
    // main CNAME. The call's end is when EB had it (an upper bound: the safe side for a grace).
    if (c.args[1] === 'swap-environment-cnames') {
      facts.oldEnvironment = after(c.args, '--source-environment-name');
      facts.newEnvironment ??= after(c.args, '--destination-environment-name');
      const at = Date.parse(c.ts) + (c.ms ?? 0);
      if (Number.isFinite(at)) facts.swappedAt = new Date(at).toISOString();
    }
  }
  return facts;
}

/**
 * The probe's verdict when the command did not report one: a deploy or a rollback only
 * succeeds after its probe of the new environment answered, and the probe's failure is
 * the error that names the URL that did not serve.
 */
function probeOf(outcome: Outcome, newEnvironment: string | undefined, error: string | undefined): string | undefined {
  if (!newEnvironment) return undefined;
  if (outcome === 'ok') return 'passed';
  if (error && /does not (serve|answer)/.test(error)) return 'failed';
  return undefined;
}

/** The CI system a run came from, with the run's own name where the system gives one. */
export function ciName(env: NodeJS.ProcessEnv): string | undefined {
  const join = (...parts: (string | undefined)[]) => parts.filter(Boolean).join(' ');
  if (env.GITHUB_ACTIONS === 'true') return join('GitHub Actions', env.GITHUB_REPOSITORY, env.GITHUB_WORKFLOW && `"${env.GITHUB_WORKFLOW}"`, env.GITHUB_RUN_ID && `run ${env.GITHUB_RUN_ID}`);
  if (env.GITLAB_CI) return join('GitLab CI', env.CI_PROJECT_PATH, env.CI_PIPELINE_ID && `pipeline ${env.CI_PIPELINE_ID}`);
  if (env.JENKINS_URL) return join('Jenkins', env.JOB_NAME, env.BUILD_NUMBER && `#${env.BUILD_NUMBER}`);
  if (env.CODEBUILD_BUILD_ID) return join('AWS CodeBuild', env.CODEBUILD_BUILD_ID);
  if (env.CIRCLECI) return join('CircleCI', env.CIRCLE_PROJECT_REPONAME, env.CIRCLE_BUILD_NUM && `#${env.CIRCLE_BUILD_NUM}`);
  if (env.BUILDKITE) return join('Buildkite', env.BUILDKITE_PIPELINE_SLUG, env.BUILDKITE_BUILD_NUMBER && `#${env.BUILDKITE_BUILD_NUMBER}`);
  if (env.CI && env.CI !== 'false' && env.CI !== '0') return 'CI';
  return undefined;
}

export async function appendRecord(ctx: Ctx, record: HistoryRecord): Promise<void> {
  // When the table is missing, withTable makes it and writes again.
  await withTable(ctx.call, ctx.log, HISTORY_TABLE_SPEC, () => putItem(historyCall(ctx), HISTORY_TABLE, toItem({ ...record })));
}

/** The phase's newest `limit` records, newest first; none when the table was never made. */
export async function readHistory(ctx: Ctx, limit: number): Promise<HistoryRecord[]> {
  try {
    const items = await queryNewest(historyCall(ctx), HISTORY_TABLE, { name: HISTORY_TABLE_SPEC.partitionKey, value: ctx.phase }, limit);
    return items.map((i) => fromItem(i) as unknown as HistoryRecord);
  } catch (err) {
    if (isMissingTable(err)) return [];
    throw err;
  }
}

/**
 * Every record of the phase that names one of `environments` (as the one made, swapped in or
 * swapped out), newest first: one query by phase, paged to the end by the aws CLI, filtered
 * at DynamoDB. None when the table was never made; any other failure is thrown, so a caller
 * decides whether it may act without the ledger.
 */
export async function readHistoryOf(ctx: Ctx, environments: string[]): Promise<HistoryRecord[]> {
  const names = [...new Set(environments)];
  if (!names.length) return [];
  const values: Record<string, { S: string }> = {};
  names.forEach((n, i) => (values[`:e${i}`] = { S: n }));
  const list = Object.keys(values).join(', ');
  try {
    const items = await queryAll(historyCall(ctx), HISTORY_TABLE, { name: HISTORY_TABLE_SPEC.partitionKey, value: ctx.phase }, {
      expression: `newEnvironment IN (${list}) OR oldEnvironment IN (${list})`,
      values,
    });
    return items.map((i) => fromItem(i) as unknown as HistoryRecord);
  } catch (err) {
    if (isMissingTable(err)) return [];
    throw err;
  }
}

/** One completed CNAME swap: `to` took the main CNAME from `from` at `at`. */
export interface Swap {
  from: string;
  to: string;
  at: Date;
  command: string;
}

/**
 * What the ledger says happened to environments (issue 20 items 1, 3, 4): the swaps, and the
 * held deploys that succeeded. A record names a swap when it carries swappedAt (written since
 * then), or, for older records, when a deploy, promote or rollback that was not a hold ended
 * ok with both environments named; its end is then the upper bound of the swap's time.
 */
export interface Ledger {
  swaps: Swap[];
  /** Environments a successful `create_nova --hold` made, with the hold's start. */
  holds: Map<string, string>;
}

const SWAPPING_COMMANDS = new Set(['create_nova', 'create', 'promote', 'rollback']);

export function ledgerOf(records: HistoryRecord[]): Ledger {
  const swaps: Swap[] = [];
  const holds = new Map<string, string>();
  for (const r of records) {
    if (r.held && r.outcome === 'ok' && r.newEnvironment && !r.swappedAt) holds.set(r.newEnvironment, r.startedAt);
    if (!r.newEnvironment || !r.oldEnvironment) continue;
    const legacy = !r.swappedAt && !r.held && r.outcome === 'ok' && SWAPPING_COMMANDS.has(r.command);
    if (!r.swappedAt && !legacy) continue;
    const at = r.swappedAt ? new Date(r.swappedAt) : new Date(Date.parse(r.startedAt) + (r.durationSeconds ?? 0) * 1000);
    if (!Number.isNaN(at.getTime())) swaps.push({ from: r.oldEnvironment, to: r.newEnvironment, at, command: r.command });
    // The bake's swap back (issue 21): the old one took the main CNAME back.
    const back = r.swappedBackAt ? new Date(r.swappedBackAt) : undefined;
    if (back && !Number.isNaN(back.getTime())) swaps.push({ from: r.newEnvironment, to: r.oldEnvironment, at: back, command: r.command });
  }
  swaps.sort((a, b) => b.at.getTime() - a.at.getTime());
  return { swaps, holds };
}

/** The newest swap naming `name` on either side. */
export function lastSwapOf(ledger: Ledger, name: string): Swap | undefined {
  return ledger.swaps.find((s) => s.from === name || s.to === name);
}

/**
 * Run a command and leave its record, whatever the outcome; the command's own result or
 * error passes through untouched. Read-only commands and dry runs leave none.
 */
export async function withHistory<T extends Record<string, unknown>>(ctx: Ctx, changes: boolean, run: () => Promise<T>): Promise<T> {
  if (!changes || ctx.dryRun) return run();
  const startedAt = new Date();
  // The lock, if the run takes it, is released by this record's write: one call, not two.
  releaseWithRecord(ctx);
  let result: T | undefined;
  let error: unknown;
  try {
    result = await run();
    return result;
  } catch (err) {
    error = err ?? new Error('unknown error');
    throw err;
  } finally {
    await record(ctx, { startedAt, result, error });
  }
}

async function record(ctx: Ctx, r: { startedAt: Date; result?: Record<string, unknown>; error?: unknown }): Promise<void> {
  // Taken first, so that whatever happens below, a lock this run holds is released.
  const lock = takeRelease(ctx);
  let rec: HistoryRecord;
  try {
    rec = buildRecord({
      phase: ctx.phase,
      command: ctx.command,
      startedAt: r.startedAt,
      finishedAt: new Date(),
      result: r.result,
      error: r.error,
      interrupted: ctx.signal.aborted,
      signal: ctx.signal.aborted && typeof ctx.signal.reason === 'string' ? ctx.signal.reason : undefined,
      calls: ctx.aws.records,
      env: process.env,
      cwd: process.cwd(),
      who: `${os.userInfo().username}@${os.hostname()}`,
      redact: (t) => ctx.redactor.redact(t),
    });
  } catch (err) {
    if (lock) await release(ctx, lock);
    ctx.log.warn(`could not add this run to the deploy history (${HISTORY_TABLE}): ${(err as Error).message}`);
    return;
  }
  try {
    if (lock) await releaseAndAppend(ctx, lock, rec);
    else await appendRecord(ctx, rec);
  } catch (err) {
    ctx.log.warn(`could not add this run to the deploy history (${HISTORY_TABLE}): ${(err as Error).message}`);
  }
}

/**
 * The end of a locked run: release the lock and append the record in one
 * transact-write-items (issue 27). The history table made when the write says it is missing.
 * A lock that is no longer ours cancels the transaction: the record is written alone. Any
 * other failure: the release and the record are each tried on their own.
 */
async function releaseAndAppend(ctx: Ctx, lock: LockHolder, rec: HistoryRecord): Promise<void> {
  const call: AwsCall = (args, o) => ctx.aws.aws(args, { ...o, purpose: 'lock', expectFailure: true });
  try {
    await withTable(ctx.call, ctx.log, HISTORY_TABLE_SPEC, () => transactWrite(call, [releaseAction(lock), { Put: { TableName: HISTORY_TABLE, Item: toItem({ ...rec }) } }]));
    ctx.log.debug('released the deploy lock and recorded the run in one write');
    return;
  } catch (err) {
    const reasons = cancellationReasons(err);
    if (reasons?.[0] === 'ConditionalCheckFailed') ctx.log.warn('the deploy lock no longer named this run when it ended (deleted or taken over); recording the run alone');
    else {
      ctx.log.debug(`the release and the record in one write failed (${(err as Error).message}); writing each on its own`);
      await release(ctx, lock);
    }
  }
  await appendRecord(ctx, rec);
}

/** The newest successful deploy that made `environment`: what a rollback returns to. */
export function deployOf(records: HistoryRecord[], environment: string): HistoryRecord | undefined {
  return records.find((r) => r.outcome === 'ok' && r.newEnvironment === environment && r.command !== 'rollback');
}

/** `2026-11-26 04:00 UTC`: a record's start, to the minute. */
export function shortTime(iso: string): string {
  return iso.replace('T', ' ').replace(/:\d\d(\.\d+)?Z$/, ' UTC');
}

/**
 * `nova-123 (app-..., deployed 2026-11-26 04:07 UTC by user@host)`: deployed is when it went
 * live (its swap), not when the run started (issue 22 item 6); without a swap (a first
 * deploy, a held one) when its run ended.
 */
export function describeDeploy(r: HistoryRecord): string {
  return `${r.newEnvironment} (${r.versionLabel ?? '?'}, deployed ${shortTime(r.swappedAt ?? new Date(Date.parse(r.startedAt) + r.durationSeconds * 1000).toISOString())} by ${r.who}${r.ci ? ` in ${r.ci}` : ''})`;
}

/** `./run history` as a table (issue 22 item 3): one row a run, newest first. */
export function historyTable(records: HistoryRecord[]): string[] {
  const rows = records.map((r) => [
    r.startedAt.replace('T', ' ').replace(/\.\d+Z$/, 'Z'),
    r.command,
    r.outcome,
    String(r.exitCode),
    `${r.durationSeconds}s`,
    r.versionLabel,
    r.newEnvironment ? (r.oldEnvironment ? `${r.newEnvironment} (${r.held ? 'held beside' : 'was'} ${r.oldEnvironment})` : r.newEnvironment) : r.oldEnvironment ? `was ${r.oldEnvironment}` : r.terminated?.length ? `terminated ${r.terminated.join(',')}` : undefined,
    r.probe,
    r.gitHashJohanna || r.gitHashNova ? `${r.gitHashJohanna ?? '?'}/${r.gitHashNova ?? '?'}` : undefined,
    `${r.who}${r.ci ? ` (${r.ci})` : ''} in ${r.cwd}`,
    r.error ? firstLine(r.error) : '',
  ]);
  return table(['STARTED', 'COMMAND', 'OUTCOME', 'EXIT', 'TOOK', 'VERSION', 'ENVIRONMENTS', 'PROBE', 'GIT', 'BY', 'ERROR'], rows);
}

/** One line of `./run history`. */
export function formatRecord(r: HistoryRecord): string {
  const parts = [
    r.startedAt.replace('T', ' ').replace(/\.\d+Z$/, 'Z'),
    r.command,
    r.outcome,
    `exit ${r.exitCode}`,
    `${r.durationSeconds}s`,
  ];
  if (r.versionLabel) parts.push(r.versionLabel);
  if (r.newEnvironment) parts.push(r.oldEnvironment ? `${r.newEnvironment} (${r.held ? 'held beside' : 'was'} ${r.oldEnvironment})` : r.newEnvironment);
  else if (r.oldEnvironment) parts.push(`was ${r.oldEnvironment}`);
  if (r.probe) parts.push(`probe ${r.probe}`);
  if (r.gitHashJohanna || r.gitHashNova) parts.push(`git johanna ${r.gitHashJohanna ?? '?'} nova ${r.gitHashNova ?? '?'}`);
  if (r.terminated?.length) parts.push(`terminated ${r.terminated.join(',')}`);
  if (r.bake === 'rolled back') parts.push(`rolled back by bake${r.bakeFigures ? `: ${r.bakeFigures}` : ''}`);
  else if (r.bake) parts.push(`bake ${r.bake}`);
  parts.push(`by ${r.who}${r.ci ? ` (${r.ci})` : ''} in ${r.cwd}`);
  if (r.error) parts.push(`error: ${r.error}`);
  return parts.join('  ');
}
