// The pieces every test helper and the bench share, here once: the root, the aws
// environment, a phase's config, a timed run's outcome, and the run-log readers and counts.
// (sandbox-phase.ts starts the sandbox.) test/helpers/ is compiled into dist/ with the
// bench (tsconfig.json), so the bench runs them built.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';

/** The repository root: the folder holding `run`, from test/helpers/ or dist/test/helpers/. */
export function findRoot(from = import.meta.dirname): string {
  let dir = from;
  for (;;) {
    if (existsSync(path.join(dir, 'run')) && existsSync(path.join(dir, 'package.json'))) return dir;
    const up = path.dirname(dir);
    if (up === dir) throw new Error(`no ./run above ${from}`);
    dir = up;
  }
}

export const ROOT = findRoot();
export const RUN = path.join(ROOT, 'run');

/** What every run of the built ./run in the tests gives back (the one result type). */
export interface RunResult {
  /** The ./run process's pid (it names the lock holder and the run log). */
  pid: number | undefined;
  exitCode?: number;
  stdout: string;
  stderr: string;
  timedOut: boolean;
  /**
   * The longest time the run printed nothing, on stdout or stderr, from its start to its
   * exit (issue 22 item 2: at most 5 s on the sandbox), and where it was: after which line.
   */
  longestSilenceMs?: number;
  longestSilenceAfter?: string;
}

/** A timed `--json` run (the bench's and runJson's): the one RunResult, its wall time and its JSON. */
export interface RunOutcome extends Omit<RunResult, 'exitCode'> {
  exitCode: number;
  wallMs: number;
  startedAt: number;
  json?: any;
}

/**
 * The aws CLI a test's own calls run (they name the sandbox by AWS_ENDPOINT_URL, which the
 * aws CLI v2 of Debian, 2.9, does not read): in npm test the v1 fork server's client
 * (JOHANNA_TEST_AWS, test/fixtures/aws-fork.ts), whichever CLI the project gives the tool;
 * else `aws` on PATH.
 */
export function awsCli(): string {
  return process.env.JOHANNA_TEST_AWS || 'aws';
}

export function awsEnv(endpoint: string): NodeJS.ProcessEnv {
  return {
    ...process.env,
    AWS_ENDPOINT_URL: endpoint,
    // The account's administrator, not the tool's caller: the sandbox evaluates the tool's
    // requests against its IAM policies; a test's own hands are allowed (sandbox/iam/gate.ts).
    AWS_ACCESS_KEY_ID: 'sandbox-admin',
    AWS_SECRET_ACCESS_KEY: 'sandbox',
    AWS_DEFAULT_REGION: 'ap-northeast-2',
    AWS_EC2_METADATA_DISABLED: 'true',
    AWS_MAX_ATTEMPTS: '5',
    AWS_RETRY_MODE: 'standard',
    AWS_PAGER: '',
  };
}

export interface PhaseConfigOptions {
  phase: string;
  endpoint: string;
  router: string;
  /** Second octet of the phase's 10.x.0.0/16, for several phases in one sandbox (default: env.sandbox.json's). */
  octet?: number;
}

/** How often a test sandbox publishes each load balancer's RequestCount (AWS: 60 s). */
export const TEST_METRICS_PERIOD_MS = 1000;
/**
 * How late a test sandbox delivers each period to CloudWatch (AWS: about 2 minutes, R101):
 * one period, so the tool's waits for late datapoints (the bake, the drain check) are
 * exercised without costing the tests AWS's minutes. test/e2e/drain.test.ts's lag case sets a longer one.
 */
export const TEST_METRICS_LAG_MS = 1000;

/** env.sandbox.json made into one phase's config in a given sandbox. */
export function sandboxPhaseConfig(o: PhaseConfigOptions): any {
  const config = JSON.parse(readFileSync(path.join(ROOT, 'env.sandbox.json'), 'utf8'));
  const region = config.aws.AWS_DEFAULT_REGION;
  config.common.PHASE = o.phase;
  config.common.AWS_KEY_PAIR_NAME = o.phase;
  config.elasticbeanstalk.APPLICATION_NAME = o.phase;
  config.nova.CNAME = `${o.phase}-nova`;
  config.common.HOST_NOVA = `${o.phase}-nova.${region}.elasticbeanstalk.com`;
  config.common.URL_NOVA = `http://${config.common.HOST_NOVA}`;
  if (o.octet !== undefined) {
    const n = o.octet;
    config.common.AWS_VPC_EB = `10.${n}.0.0/16`;
    config.common.AWS_SUBNET_EB_PRIVATE_1 = `10.${n}.0.0/20`;
    config.common.AWS_SUBNET_EB_PRIVATE_2 = `10.${n}.16.0/20`;
    config.common.AWS_SUBNET_EB_PUBLIC_1 = `10.${n}.128.0/20`;
    config.common.AWS_SUBNET_EB_PUBLIC_2 = `10.${n}.144.0/20`;
  }
  config.sandbox = { ENDPOINT: o.endpoint, ROUTER: o.router };
  // The cleanup's quiet window in seconds, not AWS's minutes: 3 s of no request on the old
  // environment's load balancer, which the tests' sandboxes report each second (TEST_METRICS_PERIOD_MS),
  // so a window covers two periods and a late datapoint still lands in it.
  config.nova.DRAIN_QUIET_MINUTES = 0.05;
  // No bake after the swap unless a test asks for one (test/e2e/bake.test.ts sets it): the
  // bake watches the new version for BAKE_MINUTES metrics periods after every swap, which
  // every deploy in the other tests would otherwise pay for.
  config.nova.BAKE_MINUTES = 0;
  return config;
}

export interface RunLogRecord {
  ts: string;
  tool: string;
  args: string[];
  mutating: boolean;
  exitCode: number | null;
  purpose?: string;
  attempt?: number;
  dryRun?: boolean;
  error?: string;
  ms: number;
}

export function readRunLog(file: string): RunLogRecord[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l))
    .filter((r) => r.tool === 'aws');
}

/**
 * The aws calls of a run log that is still being written: a line being appended at this
 * very moment may be cut, and the file may be gone or replaced; what does not parse is
 * skipped. The first line names the aws CLI and is not a call.
 */
export function readRunLogSoFar(file: string | undefined): RunLogRecord[] {
  if (!file || !existsSync(file)) return [];
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return [];
  }
  return text
    .split('\n')
    .filter(Boolean)
    .flatMap((l) => {
      try {
        return [JSON.parse(l)];
      } catch {
        return [];
      }
    })
    .filter((r) => r.tool === 'aws');
}

export interface CallCounts {
  /** Every aws invocation of the run, retries included. */
  total: number;
  /** Mutating calls of the command's own work (the lock's apart). */
  mutating: number;
  /** Bookkeeping: the deploy lock's and the deploy history's DynamoDB calls. */
  lock: number;
  /** Wait polls (describe-environments/events while waiting). */
  poll: number;
  /** Invocations that were retries by src/aws/cli.ts (attempt > 1). */
  retries: number;
}

export function countCalls(recs: RunLogRecord[]): CallCounts {
  return {
    total: recs.length,
    mutating: recs.filter((r) => r.mutating && r.purpose !== 'lock' && r.purpose !== 'history').length,
    lock: recs.filter((r) => r.purpose === 'lock' || r.purpose === 'history').length,
    poll: recs.filter((r) => r.purpose === 'poll').length,
    retries: recs.filter((r) => (r.attempt ?? 1) > 1).length,
  };
}

/**
 * Issue 27's count of a run's aws calls: a read repeated with the same arguments is a poll
 * and counts once (a wait's loop is one question asked until answered), every mutating call
 * counts, retries of it included. The bookkeeping (the lock's and the history's calls) is
 * counted in `calls` and also on its own, so a figure can be read with or without it.
 */
export interface IssueCount {
  /** Distinct calls: every mutating invocation, each read once per distinct argument list. */
  calls: number;
  /** Of which mutating, bookkeeping apart. */
  mutating: number;
  /** Of which the lock's and the history's (DynamoDB). */
  bookkeeping: number;
  /** Of which the describes of the sweep for duplicates after a lost answer (purpose "sweep"). */
  sweep: number;
  /** Every invocation, polls and retries included (what countCalls calls total). */
  invocations: number;
}

export function issueCount(recs: RunLogRecord[]): IssueCount {
  const seen = new Set<string>();
  const kept = recs.filter((r) => {
    if (r.dryRun) return false;
    if (r.mutating) return true;
    const key = JSON.stringify(r.args);
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
  const bookkeeping = (r: RunLogRecord) => r.purpose === 'lock' || r.purpose === 'history';
  return {
    calls: kept.length,
    mutating: kept.filter((r) => r.mutating && !bookkeeping(r)).length,
    bookkeeping: kept.filter(bookkeeping).length,
    sweep: kept.filter((r) => r.purpose === 'sweep').length,
    invocations: recs.filter((r) => !r.dryRun).length,
  };
}

/**
 * The EB calls a deploy made while it waited for its new environment (issue 23): from the
 * end of create-environment to its first call after the wait's polls (the lock's apart).
 */
export function waitingEbCalls(recs: RunLogRecord[]): { calls: number; seconds: number; perMinute: number } | undefined {
  const i = recs.findIndex((r) => r.args[0] === 'elasticbeanstalk' && r.args[1] === 'create-environment');
  if (i < 0) return undefined;
  const from = Date.parse(recs[i].ts) + recs[i].ms;
  const end = recs.slice(i + 1).find((r) => r.purpose !== 'poll' && r.purpose !== 'lock' && r.purpose !== 'history');
  const to = end ? Date.parse(end.ts) : Math.max(...recs.slice(i + 1).map((r) => Date.parse(r.ts) + r.ms));
  const calls = recs.slice(i + 1).filter((r) => r.args[0] === 'elasticbeanstalk' && Date.parse(r.ts) >= from && Date.parse(r.ts) < to).length;
  const seconds = Math.max(0.001, (to - from) / 1000);
  return { calls, seconds, perMinute: (calls / seconds) * 60 };
}
