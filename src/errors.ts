// Every failure the CLI reports is one of these: a stable code for --json and logs, and
// the exit code from the contract (../shared/spec/interface.md). Only src/cli.ts exits.

export const EXIT = {
  ok: 0,
  failed: 1,
  usage: 2,
  locked: 3,
  canceled: 130,
} as const;

export class JohannaError extends Error {
  readonly code: string = 'FAILED';
  readonly exitCode: number = EXIT.failed;
  /** What the operator should do about it, printed under the message. */
  hint?: string;
  /** The hint a class gives when its thrower names none. */
  static readonly defaultHint?: string;
  constructor(message: string, hint?: string) {
    super(message);
    this.name = new.target.name;
    this.hint = hint ?? (new.target as typeof JohannaError).defaultHint;
  }
}

/** Bad arguments or an unknown command: nothing was changed. */
export class UsageError extends JohannaError {
  override readonly code = 'USAGE';
  override readonly exitCode = EXIT.usage;
}

export interface ConfigProblem {
  path: string;
  message: string;
}

/** The config file is missing or invalid; every problem is listed, each with its JSON path. */
export class ConfigError extends JohannaError {
  override readonly code = 'CONFIG';
  override readonly exitCode = EXIT.usage;
  readonly problems: ConfigProblem[];
  constructor(file: string, problems: ConfigProblem[], hint?: string) {
    super(
      `${file}: ${problems.length} problem${problems.length === 1 ? '' : 's'}\n` +
        problems.map((p) => `  - ${p.path ? p.path + ': ' : ''}${p.message}`).join('\n'),
      hint,
    );
    this.problems = problems;
  }
}

/** No TTY, no -f and nothing to read: a cron job must fail at once, never hang. */
export class NonInteractiveError extends JohannaError {
  override readonly code = 'NON_INTERACTIVE';
  override readonly exitCode = EXIT.usage;
  constructor(phase: string) {
    super(
      `cannot confirm phase '${phase}': stdin is not a terminal and gave no answer`,
      "pass -f to skip the confirmation (e.g. in cron or CI), or pipe the phase name: echo " + phase + ' | ./run ...',
    );
  }
}

export class CanceledError extends JohannaError {
  override readonly code = 'CANCELED';
  override readonly exitCode = EXIT.canceled;
}

/** Another run holds the phase's deploy lock. */
export class LockedError extends JohannaError {
  override readonly code = 'LOCKED';
  override readonly exitCode = EXIT.locked;
}

/** A required program (aws, eb) is not on PATH. */
export class MissingToolError extends JohannaError {
  override readonly code = 'MISSING_TOOL';
  override readonly exitCode = EXIT.failed;
}

/** The aws/eb CLI exited non-zero. `args` are already redacted. */
/** Error codes the aws CLI's standard mode retries as throttling (botocore retries/special.py, standard.py). */
export const THROTTLING_CODES: ReadonlySet<string> = new Set([
  'Throttling',
  'ThrottlingException',
  'ThrottledException',
  'RequestLimitExceeded',
  'RequestThrottled',
  'RequestThrottledException',
  'TooManyRequestsException',
  'SlowDown',
  'ProvisionedThroughputExceededException',
  'EC2ThrottledException',
  'BandwidthLimitExceeded',
]);

export class AwsCliError extends JohannaError {
  override readonly code = 'AWS_CLI';
  readonly args: string[];
  readonly cliExitCode: number;
  readonly stderr: string;
  constructor(args: string[], cliExitCode: number, stderr: string) {
    const first = stderr.trim().split('\n').filter(Boolean).pop() ?? '';
    const grant = grantFor(stderr);
    super(`${args.join(' ')} failed (exit ${cliExitCode})${first ? ': ' + first : ''}${grant ? `\n  to allow it, grant: ${grant}` : ''}`);
    this.args = args;
    this.cliExitCode = cliExitCode;
    this.stderr = stderr;
    if (grant) this.hint = 'add that statement to the IAM policy of the caller (examples/iam-policy.json lists what Johanna needs), then run the command again';
  }
  /** The AWS error code, e.g. "InvalidVpcID.NotFound", read from the CLI's stderr. */
  get awsCode(): string | undefined {
    const m = /An error occurred \(([^)]+)\)/.exec(this.stderr);
    return m?.[1];
  }
  /** AWS refused the call for its rate (R90): nothing was performed; the CLI gave up retrying. */
  get throttled(): boolean {
    return THROTTLING_CODES.has(this.awsCode ?? '') || /Rate exceeded/i.test(this.stderr);
  }
}

/**
 * The policy statement that would allow what AWS denied, read from IAM's wording of a denial
 * ("User: <arn> is not authorized to perform: <action> on resource: <arn> because ...", IAM
 * User Guide, troubleshoot_access-denied.html; aws-rules.md R33). Undefined for other errors.
 */
export function grantFor(stderr: string): string | undefined {
  const m = /is not authorized to perform: ([\w-]+:[\w*]+)(?: on resource: "?([^\s"]+?)"?)?(?:\s|\.|$)/.exec(stderr);
  if (!m) return undefined;
  return JSON.stringify({ Effect: 'Allow', Action: m[1], Resource: m[2] ?? '*' });
}

/** A wait that ran past its deadline. */
export class TimeoutError extends JohannaError {
  override readonly code = 'TIMEOUT';
}

/** A resource we need is missing or conflicts with one that is not ours. */
export class StateError extends JohannaError {
  override readonly code = 'STATE';
}

/** SIGINT/SIGTERM arrived: the run stopped at its next safe point and cleaned up. */
export class InterruptedError extends JohannaError {
  override readonly code = 'INTERRUPTED';
}

/** Packaging Nova failed (a build, a clone, the zip); the message carries the tool's own words. */
export class PackageError extends JohannaError {
  override readonly code = 'PACKAGE';
  static override readonly defaultHint = 'nothing was uploaded or created; fix the build and run create_nova again';
}

/** The new environment failed before the swap: health gate, probe or smoke test. */
export class DeployError extends JohannaError {
  override readonly code = 'DEPLOY';
  static override readonly defaultHint = 'the live environment was not touched; see the events above and ./run logs';
}

/** After a swap (a deploy or a rollback), the main CNAME does not serve what it should. */
export class VerifyError extends JohannaError {
  override readonly code = 'VERIFY';
  static override readonly defaultHint = 'check ./run status; ./run rollback swaps back to the previous environment';
}

/** A convergent command (create_vpc, terminate_nova, the cleanup) left some of its work undone. */
export class IncompleteError extends JohannaError {
  override readonly code = 'INCOMPLETE';
}

/** The run log cannot be written: a changing command refuses before it changes anything. */
export class RunLogError extends JohannaError {
  override readonly code = 'RUN_LOG';
  // Exit 2, as for a config error: the contract's 2 promises that nothing was changed and
  // no AWS call was made, which holds (the check runs before any), and the fix is the
  // operator's, in the installation; 1 would say the work failed and invite a retry.
  override readonly exitCode = EXIT.usage;
}

/** Inside a task graph: not attempted because a step it needs failed (listed, not thrown at the user). */
export class BlockedError extends JohannaError {
  override readonly code = 'BLOCKED';
  constructor(readonly by: string) {
    super(`not attempted: ${by} failed`);
  }
}

/** Inside teardown: a delete that failed and is already listed with its reason. */
export class RecordedError extends JohannaError {
  override readonly code = 'RECORDED';
  constructor(readonly item: string) {
    super(`${item}: recorded`);
  }
}

/**
 * This run no longer holds the phase's deploy lock (deleted by hand, taken over after its
 * lease lapsed): it stops before its next change to production, so two runs never change
 * one phase at once (issue 20 item 7). Exit 3, like a lock that was never ours.
 */
export class LockLostError extends JohannaError {
  override readonly code = 'LOCK_LOST';
  override readonly exitCode = EXIT.locked;
}
