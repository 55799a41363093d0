// The ONLY module that spawns `aws` or `eb`. Everything that talks to AWS goes through
// AwsCli: argument arrays (never a shell string), JSON output parsed, secrets redacted,
// each call timed and appended to the run log, throttling retried, non-zero exits turned
// into AwsCliError, and under --dry-run every mutating call printed instead of run.
import { appendFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { AwsCliError, MissingToolError } from '../errors.js';
import type { Logger } from '../ui/log.js';
import type { Redactor } from '../ui/redact.js';

export type Tool = 'aws' | 'eb';

export interface ExecResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

export interface ExecOptions {
  env: NodeJS.ProcessEnv;
  cwd?: string;
  /** Stream the child's output as it comes (passthrough): stdin is the user's, output goes here. */
  onOutput?: (text: string, stream: 'out' | 'err') => void;
}

/** How a child is started; unit tests inject a recording one. */
export type Exec = (file: Tool, args: string[], opts: ExecOptions) => Promise<ExecResult>;

export const execaExec: Exec = async (file, args, opts) => {
  try {
    const sub = execa(file, args, {
      env: opts.env,
      extendEnv: false,
      cwd: opts.cwd,
      reject: false,
      stdin: opts.onOutput ? 'inherit' : 'ignore',
      stripFinalNewline: false,
    });
    if (opts.onOutput) {
      forward(sub.stdout, (t) => opts.onOutput!(t, 'out'));
      forward(sub.stderr, (t) => opts.onOutput!(t, 'err'));
    }
    const r = await sub;
    if (r.failed && r.exitCode === undefined) {
      if ((r as { code?: string }).code === 'ENOENT') throw missingTool(file);
      throw new AwsCliError([file, ...args], -1, r.message ?? 'could not start');
    }
    return { exitCode: r.exitCode ?? -1, stdout: String(r.stdout ?? ''), stderr: String(r.stderr ?? '') };
  } catch (err) {
    if ((err as { code?: string }).code === 'ENOENT') throw missingTool(file);
    throw err;
  }
};

/**
 * Pass a stream on line by line, so the redactor sees whole lines; a partial line (a
 * prompt waiting for the user) goes on after a short quiet spell rather than never.
 */
function forward(stream: NodeJS.ReadableStream | null | undefined, write: (text: string) => void): void {
  if (!stream) return;
  let pending = '';
  let timer: NodeJS.Timeout | undefined;
  const flush = () => {
    if (pending) write(pending);
    pending = '';
  };
  stream.on('data', (chunk: Buffer | string) => {
    clearTimeout(timer);
    pending += chunk.toString();
    const nl = pending.lastIndexOf('\n');
    if (nl >= 0) {
      write(pending.slice(0, nl + 1));
      pending = pending.slice(nl + 1);
    }
    timer = setTimeout(flush, 50);
  });
  stream.on('end', () => {
    clearTimeout(timer);
    flush();
  });
}

function missingTool(file: Tool): MissingToolError {
  return file === 'aws'
    ? new MissingToolError('the aws CLI is not on PATH', 'install it: `pip install awscli` (v1) or the AWS CLI v2 installer, then check with `aws --version`')
    : new MissingToolError('the eb CLI is not on PATH', 'install it: `pip install awsebcli`, then check with `eb --version`; the daily deploy itself needs only the aws CLI');
}

/** Read-only operations by their verb; anything else changes AWS and is skipped under --dry-run. */
export function isMutating(args: readonly string[]): boolean {
  const op = args.find((a, i) => i > 0 && !a.startsWith('-')) ?? '';
  if (args[0] === 's3') return !['ls'].includes(op);
  return !/^(describe|list|get|check|lookup|head|wait|validate|search|filter|batch-get|simulate|query|scan|retrieve)(-|$)/.test(op) && op !== 'wait';
}

const THROTTLING = new Set([
  'Throttling',
  'ThrottlingException',
  'ThrottledException',
  'RequestLimitExceeded',
  'RequestThrottled',
  'RequestThrottledException',
  'TooManyRequestsException',
  'SlowDown',
  'ProvisionedThroughputExceededException',
]);

export interface CallOptions {
  /** AWS error codes worth retrying for this call (eventual consistency: a just-created id "not found"). */
  retryOn?: string[];
  /** How many attempts in all, for throttling and retryOn codes. */
  attempts?: number;
  /** Do not log a failure at -v; the caller expects and handles it. */
  expectFailure?: boolean;
  /** Why the call is made when it is not the command's own work: "lock" (the deploy lock), "poll" (a wait), for counts. */
  purpose?: string;
}

export interface RunLogRecord {
  ts: string;
  tool: Tool;
  args: string[];
  exitCode: number | null;
  ms: number;
  mutating: boolean;
  dryRun?: boolean;
  attempt?: number;
  error?: string;
  purpose?: string;
}

/**
 * One JSON line per call, appended synchronously so a killed run keeps its record. A log
 * that cannot be written never fails a call: that would stop a deploy half-way, skip its
 * cleanup and leave its lock held. The first failure is kept in `problem` and passed to
 * `onProblem` once; the calls stay in memory (AwsCli.records) for the run's summary.
 */
export class RunLog {
  readonly file: string;
  /** Why the log cannot be written (set at construction, or at the first append that fails). */
  problem?: string;
  /** Told once, when an append first fails (cli.ts warns). */
  onProblem?: (problem: string) => void;

  constructor(dir: string, command: string, now = new Date()) {
    const stamp = now.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
    this.file = path.join(dir, `${stamp}-${command}-${process.pid}.jsonl`);
    try {
      mkdirSync(dir, { recursive: true });
      // Created now, so a changing command can refuse before its first call rather than
      // lose its record half-way.
      appendFileSync(this.file, '');
    } catch (err) {
      this.problem = RunLog.describe(this.file, err);
    }
  }

  append(record: object): void {
    // Once broken, stay quiet: a log with holes would read as a complete one.
    if (this.problem) return;
    try {
      appendFileSync(this.file, JSON.stringify(record) + '\n');
    } catch (err) {
      this.problem = RunLog.describe(this.file, err);
      this.onProblem?.(this.problem);
    }
  }

  private static describe(file: string, err: unknown): string {
    return `cannot write the run log ${file}: ${(err as Error).message}`;
  }
}

export interface AwsCliOptions {
  env: NodeJS.ProcessEnv;
  log: Logger;
  redactor: Redactor;
  dryRun?: boolean;
  runLog?: RunLog;
  exec?: Exec;
  sleep?: (ms: number) => Promise<void>;
}

export class AwsCli {
  readonly env: NodeJS.ProcessEnv;
  readonly dryRun: boolean;
  readonly runLog?: RunLog;
  /** Every call of this run, for summaries and counts (also in the run log). */
  readonly records: RunLogRecord[] = [];
  private readonly log: Logger;
  private readonly redactor: Redactor;
  private readonly exec: Exec;
  private readonly sleep: (ms: number) => Promise<void>;

  constructor(opts: AwsCliOptions) {
    this.env = opts.env;
    this.log = opts.log;
    this.redactor = opts.redactor;
    this.dryRun = Boolean(opts.dryRun);
    this.runLog = opts.runLog;
    this.exec = opts.exec ?? execaExec;
    this.sleep = opts.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms)));
  }

  /**
   * Run `aws <args> --output json` and parse the answer ({} for an empty one). Under
   * --dry-run a mutating call is printed as `! aws ...` and answers {} without running.
   */
  async aws<T = any>(args: string[], opts: CallOptions = {}): Promise<T> {
    const full = [...args, '--output', 'json'];
    const mutating = isMutating(args);
    if (mutating && this.dryRun) {
      this.planned(args);
      return {} as T;
    }
    const attempts = opts.attempts ?? 6;
    for (let attempt = 1; ; attempt++) {
      const r = await this.timed('aws', full, { env: this.env }, mutating, attempt, opts.expectFailure, opts.purpose);
      if (r.exitCode === 0) {
        const text = r.stdout.trim();
        if (!text) return {} as T;
        try {
          return JSON.parse(text) as T;
        } catch {
          return text as unknown as T;
        }
      }
      const err = new AwsCliError(this.redactor.redactArgs(['aws', ...args]), r.exitCode, this.redactor.redact(r.stderr));
      const code = err.awsCode ?? '';
      const retryable = THROTTLING.has(code) || (opts.retryOn ?? []).includes(code) || /Rate exceeded/i.test(r.stderr);
      if (!retryable || attempt >= attempts) throw err;
      const delay = Math.min(8000, 250 * 2 ** (attempt - 1)) * (0.5 + Math.random() / 2);
      this.log.debug(`  retrying in ${(delay / 1000).toFixed(1)}s after ${code || 'throttling'} (attempt ${attempt}/${attempts})`);
      await this.sleep(delay);
    }
  }

  /**
   * Passthrough: run the tool with the phase's environment in `cwd`, return its exit code
   * and output. `stream` echoes the output live, redacted (eb); otherwise the caller prints it.
   */
  async passthrough(tool: Tool, args: string[], opts: { cwd?: string; stream?: boolean } = {}): Promise<ExecResult> {
    // --dry-run covers `./run -- aws` like every other aws call (eb's verbs are not aws's).
    if (tool === 'aws' && this.dryRun && isMutating(args)) {
      this.planned(args);
      return { exitCode: 0, stdout: '', stderr: '' };
    }
    const onOutput = opts.stream ? (text: string, stream: 'out' | 'err') => this.log.raw(text, stream) : undefined;
    return this.timed(tool, args, { env: this.env, cwd: opts.cwd, onOutput }, isMutating(args), 1, true);
  }

  /** A mutating aws call under --dry-run: printed as `! aws ...` and logged, not run. */
  private planned(args: string[]): void {
    const shown = this.redactor.redactArgs(['aws', ...args]);
    this.log.plan('! ' + shown.map(quoteForDisplay).join(' '));
    this.record({ ts: new Date().toISOString(), tool: 'aws', args: shown.slice(1), exitCode: null, ms: 0, mutating: true, dryRun: true });
  }

  private async timed(tool: Tool, args: string[], opts: ExecOptions, mutating: boolean, attempt: number, quiet?: boolean, purpose?: string): Promise<ExecResult> {
    const shown = this.redactor.redactArgs(args);
    const started = Date.now();
    let r: ExecResult;
    try {
      r = await this.exec(tool, args, opts);
    } catch (err) {
      this.record({ ts: new Date(started).toISOString(), tool, args: shown, exitCode: null, ms: Date.now() - started, mutating, attempt, error: this.redactor.redact((err as Error).message) });
      throw err;
    }
    const ms = Date.now() - started;
    this.log.debug(`$ ${tool} ${shown.map(quoteForDisplay).join(' ')}  (${(ms / 1000).toFixed(2)}s, exit ${r.exitCode})`);
    if (r.exitCode !== 0 && !quiet) this.log.debug(this.redactor.redact(r.stderr.trim()));
    // A failed call keeps the tool's last words, so a cron run's log says why.
    const error = r.exitCode !== 0 ? this.redactor.redact(r.stderr.trim().split('\n').filter(Boolean).pop() ?? '') : undefined;
    this.record({ ts: new Date(started).toISOString(), tool, args: shown, exitCode: r.exitCode, ms, mutating, ...(attempt > 1 ? { attempt } : {}), ...(purpose ? { purpose } : {}), ...(error ? { error } : {}) });
    return r;
  }

  private record(rec: RunLogRecord): void {
    this.records.push(rec);
    this.runLog?.append(rec);
  }
}

/** Quote an argument for display only (nothing is ever run through a shell). */
export function quoteForDisplay(a: string): string {
  return /^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`;
}

export interface AwsEnvInput {
  base: NodeJS.ProcessEnv;
  region: string;
  /** Sandbox endpoint: dummy credentials, no profile, no instance metadata lookups. */
  endpoint?: string;
  /** Old configs may carry credentials in the file. */
  accessKeyId?: string;
  secretAccessKey?: string;
}

/** The environment every aws/eb child gets: region, credentials and endpoint never appear as arguments. */
export function buildAwsEnv(i: AwsEnvInput): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...i.base, AWS_DEFAULT_REGION: i.region, AWS_REGION: i.region, AWS_PAGER: '' };
  env.AWS_RETRY_MODE ??= 'standard';
  env.AWS_MAX_ATTEMPTS ??= '5';
  if (i.accessKeyId && i.secretAccessKey) {
    env.AWS_ACCESS_KEY_ID = i.accessKeyId;
    env.AWS_SECRET_ACCESS_KEY = i.secretAccessKey;
    // Another identity's session token would make AWS reject this key pair.
    delete env.AWS_PROFILE;
    delete env.AWS_SESSION_TOKEN;
    delete env.AWS_SECURITY_TOKEN;
  }
  if (i.endpoint) {
    // A sandbox phase must never send real credentials anywhere, nor look for them off-box,
    // nor let any other setting send a call past the sandbox to AWS.
    for (const k of Object.keys(env)) if (k.startsWith('AWS_ENDPOINT_URL_')) delete env[k];
    env.AWS_ENDPOINT_URL = i.endpoint;
    env.AWS_ACCESS_KEY_ID = 'sandbox';
    env.AWS_SECRET_ACCESS_KEY = 'sandbox';
    env.AWS_EC2_METADATA_DISABLED = 'true';
    env.AWS_CONFIG_FILE = '/dev/null';
    env.AWS_SHARED_CREDENTIALS_FILE = '/dev/null';
    delete env.AWS_PROFILE;
    delete env.AWS_SESSION_TOKEN;
    delete env.AWS_SECURITY_TOKEN;
    delete env.AWS_IGNORE_CONFIGURED_ENDPOINT_URLS;
  }
  return env;
}
