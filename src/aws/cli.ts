// The ONLY module that spawns `aws` or `eb`. Everything that talks to AWS goes through
// AwsCli: argument arrays (never a shell string), JSON output parsed, secrets redacted,
// each call timed and appended to the run log, eventual-consistency codes retried,
// non-zero exits turned into AwsCliError, and under --dry-run every mutating call printed
// instead of run. It also knows which aws CLI it runs (v1 or v2, from `--version`) and
// gives every call of a sandbox phase `--endpoint-url`, refusing any call without it.
import { appendFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { AwsCliError, MissingToolError, THROTTLING_CODES, UsageError } from '../errors.js';
import { pause, throwIfInterrupted } from '../time.js';
import type { Logger } from '../ui/log.js';
import type { Redactor } from '../ui/redact.js';
import { describeTool } from '../venv.js';

export type Tool = 'aws' | 'eb';

export interface ExecResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

export interface ExecOptions {
  env: NodeJS.ProcessEnv;
  /** The program to start for the tool, when it is not the tool's own name on PATH (JOHANNA_AWS_CLI). */
  bin?: string;
  cwd?: string;
  /** Stream the child's output as it comes (passthrough): stdin is the user's, output goes here. */
  onOutput?: (text: string, stream: 'out' | 'err') => void;
  /** How much of a partial line to hold back when it is shown early: a possible secret's start (Redactor.heldTail). */
  holdBack?: (text: string) => number;
}

/** How a child is started; unit tests inject a recording one. */
export type Exec = (file: Tool, args: string[], opts: ExecOptions) => Promise<ExecResult>;

export const execaExec: Exec = async (file, args, opts) => {
  try {
    const sub = execa(opts.bin ?? file, args, {
      env: opts.env,
      extendEnv: false,
      cwd: opts.cwd,
      reject: false,
      stdin: opts.onOutput ? 'inherit' : 'ignore',
      stripFinalNewline: false,
    });
    if (opts.onOutput) {
      forward(sub.stdout, (t) => opts.onOutput!(t, 'out'), opts.holdBack);
      forward(sub.stderr, (t) => opts.onOutput!(t, 'err'), opts.holdBack);
    }
    const r = await sub;
    if (r.failed && r.exitCode === undefined) {
      if ((r as { code?: string }).code === 'ENOENT') throw missingTool(file, opts.bin);
      throw new AwsCliError([opts.bin ?? file, ...args], -1, r.message ?? 'could not start');
    }
    return { exitCode: r.exitCode ?? -1, stdout: String(r.stdout ?? ''), stderr: String(r.stderr ?? '') };
  } catch (err) {
    if ((err as { code?: string }).code === 'ENOENT') throw missingTool(file, opts.bin);
    throw err;
  }
};

/**
 * Pass a stream on line by line, so the redactor sees whole lines; a partial line (a
 * prompt waiting for the user) goes on after a short quiet spell rather than never.
 */
export function forward(stream: NodeJS.ReadableStream | null | undefined, write: (text: string) => void, holdBack?: (text: string) => number): void {
  if (!stream) return;
  let pending = '';
  let timer: NodeJS.Timeout | undefined;
  // The partial line goes out but for a tail that may begin a secret: redacting each piece
  // alone would show both halves of a secret split across the pause.
  const flushPartial = () => {
    const keep = holdBack?.(pending) ?? 0;
    const shown = pending.slice(0, pending.length - keep);
    if (shown) write(shown);
    pending = pending.slice(shown.length);
  };
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
    timer = setTimeout(flushPartial, 50);
  });
  stream.on('end', () => {
    clearTimeout(timer);
    flush();
  });
}

function missingTool(file: Tool, bin?: string): MissingToolError | UsageError {
  // A CLI the user named (JOHANNA_AWS_CLI, aws.CLI) is bad input: exit 2, before any call.
  if (file === 'aws' && bin && bin !== 'aws') {
    return new UsageError(`the aws CLI '${bin}' does not exist`, 'fix JOHANNA_AWS_CLI or aws.CLI in the config (the environment wins), or unset both to use `aws` on PATH');
  }
  return file === 'aws'
    ? new MissingToolError('the aws CLI is not on PATH', 'run `npm run setup:python` (puts the aws CLI v1 into the checkout\'s .venv, where Johanna looks first), or install the AWS CLI v2; check with `aws --version`')
    : new MissingToolError('the eb CLI is not on PATH', 'install it: `pip install awsebcli`, then check with `eb --version`; the daily deploy itself needs only the aws CLI');
}

/** Read-only operations by their verb; anything else changes AWS and is skipped under --dry-run. */
export function isMutating(args: readonly string[]): boolean {
  const op = args.find((a, i) => i > 0 && !a.startsWith('-')) ?? '';
  if (args[0] === 's3') return !['ls'].includes(op);
  return !/^(describe|list|get|check|lookup|head|wait|validate|search|filter|batch-get|simulate|query|scan|retrieve)(-|$)/.test(op) && op !== 'wait';
}

// ---- which aws CLI -------------------------------------------------------------------

export interface AwsCliVersion {
  /** The line `--version` printed, e.g. "aws-cli/2.9.19 Python/3.11.2 Linux/6.1 source/x86_64.debian.12". */
  text: string;
  major: number;
  minor: number;
  patch: number;
}

/** `aws --version` prints `aws-cli/X.Y.Z Python/...` (old v1s printed it on stderr: read both). */
export function parseAwsCliVersion(output: string): AwsCliVersion | undefined {
  const m = /\baws-cli\/(\d+)\.(\d+)\.(\d+)/.exec(output);
  if (!m) return undefined;
  const line = output.split('\n').find((l) => l.includes(m[0])) ?? m[0];
  return { text: line.trim(), major: Number(m[1]), minor: Number(m[2]), patch: Number(m[3]) };
}

/** "aws-cli/2.9.19 (v2)": for -v, status and errors. */
export function shortVersion(v: AwsCliVersion): string {
  return `aws-cli/${v.major}.${v.minor}.${v.patch} (v${v.major})`;
}

/**
 * The oldest aws CLI of each major version we run. Sandbox calls carry --endpoint-url, so
 * AWS_ENDPOINT_URL support (v1 1.29, v2 2.13) is no longer what sets the floor. What we use:
 * - v2: --no-cli-auto-prompt and --cli-binary-format (2.0.0), --no-cli-pager (2.0.43), tags
 *   on import-key-pair (EC2 API of 2021). 2.9 is the oldest v2 we test (Debian 12's 2.9.19).
 * - v1: tags on import-key-pair (2021), AWS_RETRY_MODE/AWS_MAX_ATTEMPTS (2020). 1.29 (2023)
 *   has both for certain and is the floor the README named before; we test 1.45.
 * Older ones might work, or fail in ways nobody has seen: they are refused before any call.
 */
export const MIN_AWS_CLI: Readonly<Record<1 | 2, readonly [number, number]>> = { 1: [1, 29], 2: [2, 9] };

function minimumText(): string {
  return `v1 ${MIN_AWS_CLI[1].join('.')} or v2 ${MIN_AWS_CLI[2].join('.')}`;
}

/** Exit 2, naming the minimum, for a version too old (or of a major version we do not know). */
export function checkAwsCliVersion(v: AwsCliVersion, bin: string): void {
  const hint =
    'run `npm run setup:python` (it puts the aws CLI 1.45.11 into the checkout\'s .venv, which Johanna runs before PATH), upgrade it (the AWS CLI v2 installer or your package manager), or point JOHANNA_AWS_CLI (or aws.CLI in the config) at another one';
  if (v.major !== 1 && v.major !== 2) {
    throw new UsageError(`${bin} is ${shortVersion(v)}; Johanna knows the aws CLI v1 and v2 only (${minimumText()} or newer)`, hint);
  }
  if (v.minor < MIN_AWS_CLI[v.major][1]) {
    throw new UsageError(`${bin} is ${shortVersion(v)}, too old; Johanna needs the aws CLI ${minimumText()} or newer`, hint);
  }
}

// ---- retries: one layer for each kind of error ------------------------------------------
//
// Throttling and transient faults (HTTP 5xx, timeouts, dropped connections) are retried by
// the aws CLI itself, inside its one process: AWS_RETRY_MODE=standard with
// AWS_MAX_ATTEMPTS=8 (buildAwsEnv), exponential backoff with jitter, rand(0,1) x
// min(2^n, 20) s, so at most 8 requests and at most ~71 s of waits for a call. botocore
// honours an `x-amz-retry-after` header there (aws-cli 1.45 does; 2.9 does not), capped at
// its backoff + 5 s. A new process per retry would cost ~1 s of CPU each, so this runner
// never retries throttling on top of the CLI. It retries only what the CLI takes as final: the codes a caller names
// in `retryOn` (eventual consistency: an id just created is "not found" for a moment), up
// to `attempts` runs (default 6), waiting 0.25, 0.5, 1, 2, 4 s, jittered down to half,
// capped at 8 s. In the pathological mix (every run throttled 7 times, then the retryOn
// code) a call makes at most attempts x 8 requests. The run log has the figures: each run's
// `attempt`, the `waitMs` before it, and `cliAttempts` when the CLI gave up throttled.
/** The aws CLI's own attempts per call (AWS_MAX_ATTEMPTS), unless the operator set theirs. */
export const CLI_MAX_ATTEMPTS = 8;
/** The runner's runs per call, for the `retryOn` codes only. */
export const RETRY_ATTEMPTS = 6;

/** Error codes the CLI's standard mode retries as throttling (one list, in errors.ts). */
const THROTTLING = THROTTLING_CODES;

/** How many requests the CLI made before it gave up: "... operation (reached max retries: 7): ..." */
export function cliAttemptsOf(stderr: string): number | undefined {
  const m = /\(reached max retries: (\d+)\)/.exec(stderr);
  return m ? Number(m[1]) + 1 : undefined;
}

/** The one call interface every wrapper in src/aws/ takes: ctx.aws.aws, or a bounded copy of it. */
export type AwsCall = <T = any>(args: string[], opts?: CallOptions) => Promise<T>;

export interface CallOptions {
  /** AWS error codes worth retrying for this call (eventual consistency: a just-created id "not found"). */
  retryOn?: string[];
  /** How many runs in all for the retryOn codes (throttling is the aws CLI's own to retry). */
  attempts?: number;
  /** Do not log a failure at -v; the caller expects and handles it. */
  expectFailure?: boolean;
  /** Why the call is made when it is not the command's own work: "lock" (the deploy lock), "poll" (a wait), for counts. */
  purpose?: string;
  /**
   * Send the request once: the aws CLI must not resend it after a lost answer, because a
   * second identical request would undo the first (SwapEnvironmentCNAMEs swaps back; R17).
   * The caller checks what happened instead. A throttled request was not performed, so the
   * runner still retries that.
   */
  once?: boolean;
  /**
   * Learn whether the aws CLI resent the request inside its own process (a lost answer, a
   * 5xx, throttling): run it with --debug and count botocore's "Retry needed" lines, kept in
   * the run log as `cliRetries`. For the creates that take no ClientToken (R17): a resent
   * one may have made a duplicate, and only then is it looked for (R81). The debug text
   * itself is dropped, never logged.
   */
  countRetries?: boolean;
  /**
   * Read AWS's clock from this call: run it with --debug and take the answer's Date header
   * (AwsCli.clockOffset; R103). The debug text itself is dropped, never logged.
   */
  measureClock?: boolean;
}

export interface RunLogRecord {
  ts: string;
  tool: Tool;
  args: string[];
  exitCode: number | null;
  ms: number;
  mutating: boolean;
  dryRun?: boolean;
  /** The runner's run number for this call (retryOn codes), when above 1. */
  attempt?: number;
  /** How long the runner waited before this run, in ms. */
  waitMs?: number;
  /** Requests the aws CLI made itself before giving up throttled. */
  cliAttempts?: number;
  /** Requests the aws CLI resent inside its process (countRetries calls only): a lost answer, a 5xx, throttling. */
  cliRetries?: number;
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
  /** Aborted on SIGINT/SIGTERM: a retry's wait ends at once, and the call gives up with InterruptedError. */
  signal?: AbortSignal;
  /** The aws program: JOHANNA_AWS_CLI, else aws.CLI from the config, else `aws` on PATH. */
  bin?: string;
  /** A sandbox phase's endpoint: every aws call carries it as --endpoint-url. Unset for an AWS phase. */
  endpoint?: string;
  /** The CLI's version when it is already known (a unit test's recording exec); otherwise asked once. */
  version?: AwsCliVersion;
  /** AWS's clock minus this machine's when it is already known (a unit test's recording exec); otherwise measured once. */
  clockOffsetMs?: number;
}

/** What a sandbox endpoint must look like (the config's rule too): nothing but loopback. */
const LOOPBACK_ENDPOINT = /^http:\/\/(127\.\d+\.\d+\.\d+|localhost|\[::1\]):\d+$/;

/** The values of every --endpoint-url in an argument list (both spellings). */
function endpointArgs(argv: readonly string[]): string[] {
  const out: string[] = [];
  argv.forEach((a, i) => {
    if (a === '--endpoint-url') out.push(argv[i + 1] ?? '');
    else if (a.startsWith('--endpoint-url=')) out.push(a.slice('--endpoint-url='.length));
  });
  return out;
}

interface CallMeta {
  mutating: boolean;
  /** The call runs with --debug to count the CLI's own retries (CallOptions.countRetries). */
  countRetries?: boolean;
  /** The call runs with --debug to read AWS's clock (CallOptions.measureClock). */
  measureClock?: boolean;
  attempt: number;
  quiet?: boolean;
  purpose?: string;
  waitMs?: number;
}

export class AwsCli {
  readonly env: NodeJS.ProcessEnv;
  readonly dryRun: boolean;
  readonly runLog?: RunLog;
  /** The aws program every aws call starts. */
  readonly bin: string;
  /** The sandbox endpoint every aws call carries, for a sandbox phase. */
  readonly endpoint?: string;
  /** Every call of this run, for summaries and counts (also in the run log). */
  readonly records: RunLogRecord[] = [];
  private readonly log: Logger;
  private readonly redactor: Redactor;
  private readonly exec: Exec;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly signal?: AbortSignal;
  private readonly knownVersion?: AwsCliVersion;
  private versionAsked?: Promise<AwsCliVersion>;
  /**
   * AWS's clock minus this machine's, in ms: one figure a run, from the first answer's Date
   * header read (measureClock). Unset until then.
   */
  private offsetMs?: number;
  private clockAsked?: Promise<number>;

  constructor(opts: AwsCliOptions) {
    this.env = opts.env;
    this.log = opts.log;
    this.redactor = opts.redactor;
    this.dryRun = Boolean(opts.dryRun);
    this.runLog = opts.runLog;
    this.exec = opts.exec ?? execaExec;
    this.signal = opts.signal;
    this.sleep = opts.sleep ?? ((ms) => pause(ms, this.signal));
    this.bin = opts.bin ?? 'aws';
    this.endpoint = opts.endpoint;
    this.knownVersion = opts.version;
    this.offsetMs = opts.clockOffsetMs;
  }

  /**
   * AWS's clock minus this machine's (ms), measured once a run (R103): every time the tool
   * compares with an AWS timestamp, or sends one to AWS, is this machine's time plus it. It
   * costs one `sts get-caller-identity`, which needs no permission ("No permissions are
   * required to perform this operation", STS API reference), unless a call already read it.
   * A measurement that fails is said once and counts as 0: the run goes on by its own clock.
   */
  clockOffset(): Promise<number> {
    this.clockAsked ??= this.offsetMs !== undefined ? Promise.resolve(this.offsetMs) : this.askClock();
    return this.clockAsked;
  }

  private async askClock(): Promise<number> {
    try {
      await this.aws(['sts', 'get-caller-identity'], { measureClock: true, purpose: 'clock', expectFailure: true });
    } catch (err) {
      this.log.warn(`could not read AWS's clock (${(err as Error).message.split('\n')[0]}); comparing AWS's timestamps with this machine's clock as it is`);
    }
    if (this.offsetMs === undefined) this.offsetMs = 0;
    return this.offsetMs;
  }

  /** Now by AWS's clock, as far as measured (this machine's clock until clockOffset() resolved). */
  awsNow(): Date {
    return new Date(Date.now() + (this.offsetMs ?? 0));
  }

  /**
   * The aws CLI's version: `<bin> --version`, asked once per run before the first aws call
   * (v2 takes switches v1 refuses), and refused with exit 2 when too old. Shown with -v and
   * by `status`, and written once into the run log.
   */
  cliVersion(): Promise<AwsCliVersion> {
    this.versionAsked ??= this.askVersion();
    return this.versionAsked;
  }

  private async askVersion(): Promise<AwsCliVersion> {
    let v = this.knownVersion;
    if (!v) {
      const r = await this.exec('aws', ['--version'], { env: this.env, bin: this.bin });
      v = parseAwsCliVersion(`${r.stdout}\n${r.stderr}`);
      if (!v) {
        const said = this.redactor.redact(`${r.stdout}\n${r.stderr}`.trim().split('\n')[0] ?? '').slice(0, 200);
        // One the user named is bad input (exit 2); `aws` on PATH being something else is the machine's.
        const Refusal = this.bin !== 'aws' ? UsageError : MissingToolError;
        throw new Refusal(
          `'${this.bin} --version' did not print an aws CLI version (exit ${r.exitCode}${said ? `: ${said}` : ''})`,
          'JOHANNA_AWS_CLI, aws.CLI in the config, or `aws` on PATH must be the AWS CLI: `aws --version` prints aws-cli/X.Y.Z',
        );
      }
    }
    checkAwsCliVersion(v, this.bin);
    this.log.debug(`aws CLI: ${describeTool(this.bin, this.env.PATH)} ${v.text}`);
    this.runLog?.append({
      ts: new Date().toISOString(),
      cli: { bin: this.bin, version: v.text, major: v.major, retryMode: this.env.AWS_RETRY_MODE, maxAttempts: this.env.AWS_MAX_ATTEMPTS, endpoint: this.endpoint },
    });
    return v;
  }

  /**
   * What follows the caller's arguments in every aws process: the sandbox endpoint, and
   * v2's switches. All are global options, which v1 and v2 both take after the operation.
   */
  private plumbing(v: AwsCliVersion, ownCall: boolean): string[] {
    const out: string[] = [];
    // v2 before 2.13 ignores AWS_ENDPOINT_URL: only the argument keeps a call in the sandbox.
    if (this.endpoint !== undefined) out.push('--endpoint-url', this.endpoint);
    if (v.major >= 2) {
      // v2 pipes output through `less` unless told (AWS_PAGER='' says it too), and prompts
      // for parameters when a user's config has cli_auto_prompt on: neither may happen here.
      out.push('--no-cli-pager', '--no-cli-auto-prompt');
      // v2 reads a blob given inline or as file:// as base64, v1 as raw bytes: our calls ask
      // v2 for v1's way, so they mean the same to both (fileb:// is raw bytes in both). A
      // passthrough keeps the user's own CLI's meaning.
      if (ownCall) out.push('--cli-binary-format', 'raw-in-base64-out');
    }
    return out;
  }

  /**
   * The last check before an aws process starts: a sandbox phase's call carries
   * --endpoint-url with the sandbox's loopback endpoint and no other, or it is refused (exit
   * 2). Without it the call would go to AWS's real endpoints with whatever credentials the
   * CLI finds.
   */
  private guardEndpoint(argv: readonly string[]): void {
    if (this.endpoint === undefined) return;
    const given = endpointArgs(argv);
    const op = argv.filter((a) => !a.startsWith('-')).slice(0, 2).join(' ');
    if (!LOOPBACK_ENDPOINT.test(this.endpoint)) {
      throw new UsageError(
        `refusing to run aws ${op}: the sandbox endpoint '${this.endpoint}' is not http://127.0.0.1:<port>`,
        'set sandbox.ENDPOINT in the config to the sandbox\'s loopback address',
      );
    }
    const foreign = given.filter((g) => g !== this.endpoint);
    if (foreign.length) {
      throw new UsageError(
        `refusing to run aws ${op} with --endpoint-url ${foreign.join(', ')}: this is a sandbox phase, its calls go to ${this.endpoint} only`,
        'leave --endpoint-url out: Johanna gives every call of a sandbox phase the sandbox\'s endpoint',
      );
    }
    if (given.length === 0) {
      throw new UsageError(`refusing to run aws ${op} without --endpoint-url ${this.endpoint}: it would leave the sandbox`, 'this is a bug in Johanna: please report it');
    }
  }

  /**
   * Run `aws <args> --output json` and parse the answer ({} for an empty one). Under
   * --dry-run a mutating call is printed as `! aws ...` and answers {} without running.
   */
  async aws<T = any>(args: string[], opts: CallOptions = {}): Promise<T> {
    const mutating = isMutating(args);
    if (mutating && this.dryRun) {
      this.planned(args);
      return {} as T;
    }
    // --debug before the plumbing, so every call still ends with the endpoint and v2's blob format.
    const measureClock = opts.measureClock && this.offsetMs === undefined;
    const debug = opts.countRetries || measureClock;
    const full = [...args, ...(debug ? ['--debug'] : []), '--output', 'json', ...this.plumbing(await this.cliVersion(), true)];
    const attempts = opts.attempts ?? RETRY_ATTEMPTS;
    let waitMs = 0;
    const env = opts.once ? { ...this.env, AWS_MAX_ATTEMPTS: '1' } : this.env;
    for (let attempt = 1; ; attempt++) {
      const r = await this.timed('aws', full, { env, bin: this.bin }, { mutating, attempt, quiet: opts.expectFailure, purpose: opts.purpose, waitMs, countRetries: opts.countRetries, measureClock });
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
      const throttled = THROTTLING.has(code) || /Rate exceeded/i.test(r.stderr);
      if (throttled && opts.once && attempt < RETRY_ATTEMPTS) {
        waitMs = Math.round(Math.min(8000, 500 * 2 ** (attempt - 1)) * (0.5 + Math.random() / 2));
        this.log.debug(`  throttled (not performed): sending it again in ${(waitMs / 1000).toFixed(1)}s (attempt ${attempt}/${RETRY_ATTEMPTS})`);
        await this.sleep(waitMs);
        throwIfInterrupted(this.signal, 'a throttled call to be sent again');
        continue;
      }
      if (throttled) {
        const n = cliAttemptsOf(r.stderr);
        err.hint = `AWS is throttling: the aws CLI gave up${n ? ` after ${n} attempts` : ''} (AWS_MAX_ATTEMPTS=${this.env.AWS_MAX_ATTEMPTS ?? '?'}, ${this.env.AWS_RETRY_MODE ?? '?'} mode); run again later, or raise AWS_MAX_ATTEMPTS`;
      }
      if (!(opts.retryOn ?? []).includes(code) || attempt >= attempts) throw err;
      waitMs = Math.round(Math.min(8000, 250 * 2 ** (attempt - 1)) * (0.5 + Math.random() / 2));
      this.log.debug(`  retrying in ${(waitMs / 1000).toFixed(1)}s after ${code} (attempt ${attempt}/${attempts})`);
      await this.sleep(waitMs);
      throwIfInterrupted(this.signal, `${code} to clear before retrying`);
    }
  }

  /**
   * Passthrough: run the tool with the phase's environment in `cwd`, return its exit code
   * and output. `stream` echoes the output live, redacted (eb); otherwise the caller prints it.
   */
  async passthrough(tool: Tool, args: string[], opts: { cwd?: string; stream?: boolean; mutating?: boolean } = {}): Promise<ExecResult> {
    // --dry-run covers `./run -- aws` like every other aws call (eb's verbs are not aws's).
    if (tool === 'aws' && this.dryRun && isMutating(args)) {
      this.planned(args);
      return { exitCode: 0, stdout: '', stderr: '' };
    }
    const onOutput = opts.stream ? (text: string, stream: 'out' | 'err') => this.log.raw(text, stream) : undefined;
    // eb's verbs are not aws's: the caller says whether an eb command changes anything.
    const holdBack = (text: string) => this.redactor.heldTail(text);
    const meta = { mutating: opts.mutating ?? isMutating(args), attempt: 1, quiet: true };
    if (tool !== 'aws') return this.timed(tool, args, { env: this.env, cwd: opts.cwd, onOutput, holdBack }, meta);
    const full = [...args, ...this.plumbing(await this.cliVersion(), false)];
    return this.timed('aws', full, { env: this.env, cwd: opts.cwd, onOutput, holdBack, bin: this.bin }, meta);
  }

  /** A mutating aws call under --dry-run: printed as `! aws ...` and logged, not run. */
  private planned(args: string[]): void {
    const shown = this.redactor.redactArgs(['aws', ...args]);
    this.log.plan('! ' + shown.map(quoteForDisplay).join(' '));
    this.record({ ts: new Date().toISOString(), tool: 'aws', args: shown.slice(1), exitCode: null, ms: 0, mutating: true, dryRun: true });
  }

  private async timed(tool: Tool, args: string[], opts: ExecOptions, meta: CallMeta): Promise<ExecResult> {
    if (tool === 'aws') this.guardEndpoint(args);
    const shown = this.redactor.redactArgs(args);
    const retry = { ...(meta.attempt > 1 ? { attempt: meta.attempt } : {}), ...(meta.waitMs ? { waitMs: meta.waitMs } : {}) };
    const started = Date.now();
    let r: ExecResult;
    try {
      r = await this.exec(tool, args, opts);
    } catch (err) {
      const message = this.redactor.redact((err as Error).message);
      this.record({ ts: new Date(started).toISOString(), tool, args: shown, exitCode: null, ms: Date.now() - started, mutating: meta.mutating, attempt: meta.attempt, error: message });
      // execa's message repeats the whole command line: never let the raw arguments out.
      if (err instanceof AwsCliError) throw new AwsCliError([tool, ...shown], err.cliExitCode, message);
      throw err;
    }
    const ended = Date.now();
    const ms = ended - started;
    let cliRetries: number | undefined;
    if (meta.countRetries || meta.measureClock) {
      const debug = splitDebug(r.stderr);
      if (meta.countRetries) cliRetries = debug.retries;
      if (meta.measureClock && this.offsetMs === undefined) {
        this.offsetMs = clockOffsetOf(r.stderr, started, ended);
        if (this.offsetMs !== undefined) this.log.debug(`AWS's clock is ${(this.offsetMs / 1000).toFixed(1)} s ${this.offsetMs < 0 ? 'behind' : 'ahead of'} this machine's (its Date header)`);
      }
      r = { ...r, stderr: debug.rest };
    }
    this.log.debug(`$ ${tool} ${shown.map(quoteForDisplay).join(' ')}  (${(ms / 1000).toFixed(2)}s, exit ${r.exitCode})`);
    if (r.exitCode !== 0 && !meta.quiet) this.log.debug(this.redactor.redact(r.stderr.trim()));
    // A failed call keeps the tool's last words, so a cron run's log says why.
    const error = r.exitCode !== 0 ? this.redactor.redact(r.stderr.trim().split('\n').filter(Boolean).pop() ?? '') : undefined;
    const cliAttempts = r.exitCode !== 0 ? cliAttemptsOf(r.stderr) : undefined;
    this.record({
      ts: new Date(started).toISOString(), tool, args: shown, exitCode: r.exitCode, ms, mutating: meta.mutating,
      ...retry, ...(cliAttempts ? { cliAttempts } : {}), ...(cliRetries ? { cliRetries } : {}), ...(meta.purpose ? { purpose: meta.purpose } : {}), ...(error ? { error } : {}),
    });
    return r;
  }

  private record(rec: RunLogRecord): void {
    this.records.push(rec);
    this.runLog?.append(rec);
  }
}

/** A line of the aws CLI's --debug log: "2026-12-03 10:20:54,979 - MainThread - botocore.endpoint - DEBUG - ...". */
const DEBUG_LINE = /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} - /;

/**
 * The --debug log of one aws call, read for its retries and dropped: botocore logs "Retry
 * needed" before it resends a request (standard and legacy retry modes alike; botocore
 * retries/standard.py, retryhandler.py). What follows the log's last line is the CLI's own
 * message (the error of a failed call), which is all the caller ever sees.
 */
export function splitDebug(stderr: string): { retries: number; rest: string } {
  const lines = stderr.split('\n');
  const retries = lines.filter((l) => DEBUG_LINE.test(l) && /Retry needed(?!.*not retrying)/i.test(l)).length;
  let last = -1;
  lines.forEach((l, i) => {
    if (DEBUG_LINE.test(l)) last = i;
  });
  return { retries, rest: lines.slice(last + 1).join('\n') };
}

/** botocore's "Response headers: {...}" debug line: the header's value, its own log time as written. */
const RESPONSE_DATE = /^(\d{4})-(\d\d)-(\d\d) (\d\d):(\d\d):(\d\d),(\d{3}) - .*Response headers: .*['"]date['"]: ['"]([^'"]+)['"]/i;

/**
 * AWS's clock minus this machine's, in ms, from one call's --debug log: the last answer's
 * Date header (RFC 9110 §6.6.1: when the server made the answer, to the second) against the
 * moment botocore logged it, by this machine's clock. That log time is local time without
 * a zone (Python's logging), read in this process's zone and trusted only inside the call
 * [started, ended]; otherwise the call's midpoint stands in. The header drops the
 * milliseconds, so the server's time is taken as the middle of its second: ±0.5 s, plus
 * the network's one way. Undefined without a Date header.
 */
export function clockOffsetOf(stderr: string, started: number, ended: number): number | undefined {
  let last: RegExpExecArray | undefined;
  for (const line of stderr.split('\n')) {
    const m = RESPONSE_DATE.exec(line);
    if (m) last = m;
  }
  if (!last) return undefined;
  const server = Date.parse(last[8]);
  if (Number.isNaN(server)) return undefined;
  const [y, mo, d, h, mi, sec, msec] = last.slice(1, 8).map(Number);
  const logged = new Date(y, mo - 1, d, h, mi, sec, msec).getTime();
  const received = logged >= started - 1000 && logged <= ended + 1000 ? logged : (started + ended) / 2;
  return Math.round(server + 500 - received);
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

/**
 * The environment every aws/eb child gets: region and credentials never appear as arguments.
 * A sandbox's endpoint is here too (for eb, and any other tool that reads it) besides the
 * --endpoint-url argument the runner gives every aws call.
 */
export function buildAwsEnv(i: AwsEnvInput): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...i.base, AWS_DEFAULT_REGION: i.region, AWS_REGION: i.region, AWS_PAGER: '' };
  env.AWS_RETRY_MODE ??= 'standard';
  // The one retry layer for throttling (see CLI_MAX_ATTEMPTS); an operator's own setting wins.
  env.AWS_MAX_ATTEMPTS ??= String(CLI_MAX_ATTEMPTS);
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
