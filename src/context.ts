// The run's context, built once in cli.ts and passed to every command: the validated
// config, the one aws/eb runner, the logger and the global flags.
import path from 'node:path';
import { AwsCli, buildAwsEnv, parseAwsCliVersion, RunLog, type AwsCall, type Exec } from './aws/cli.js';
import { secretConfigValues, type Config } from './config/schema.js';
import { Logger } from './ui/log.js';
import { Redactor, secretsFrom, userinfoOf } from './ui/redact.js';
import { Steps } from './ui/steps.js';
import type { RunSummary } from './ui/summary.js';
import { runHint } from './ui/hint.js';
import { localTool } from './venv.js';

export interface GlobalOptions {
  force?: boolean;
  env?: string;
  dryRun?: boolean;
  verbose?: boolean;
  json?: boolean;
  color?: boolean;
}

export interface SandboxTarget {
  endpoint: string;
  /** host:port of the router that stands in for *.elasticbeanstalk.com DNS. */
  router: string;
  /** The config's sandbox.POLICIES, resolved against the config file's folder (issue 18). */
  policies?: string[];
}

export interface Ctx {
  root: string;
  command: string;
  config: Config;
  configFile: string;
  phase: string;
  region: string;
  aws: AwsCli;
  /** The one call every wrapper in src/aws/ takes: `aws.aws`, bound. */
  call: AwsCall;
  log: Logger;
  redactor: Redactor;
  dryRun: boolean;
  json: boolean;
  opts: GlobalOptions;
  sandbox?: SandboxTarget;
  startedAt: Date;
  /** Aborted on SIGINT/SIGTERM: waits stop at their next poll, so the run can clean up. */
  signal: AbortSignal;
  /** The run's timed steps (src/ui/steps.ts), also written to the run log. */
  steps: Steps;
  /** What the closing summary block says beside the steps (src/ui/summary.ts); commands fill it in. */
  summary: RunSummary;
  /** `./run -e <this run's config> <rest>`: a hint the user can paste as it is (src/ui/hint.ts). */
  hint: (rest: string) => string;
}

/** Colour only for a terminal: judged on stderr, where every coloured line goes. */
export function useColor(opts: GlobalOptions, env: NodeJS.ProcessEnv, stderr: { isTTY?: boolean }): boolean {
  return opts.color !== false && !env.NO_COLOR && Boolean(stderr.isTTY);
}

/**
 * The run's redactor: credentials and the webhook from the environment, every config value
 * the schema marks secret, and the userinfo of any URL in the config (a GIT_URL's token).
 */
export function makeRedactor(env: NodeJS.ProcessEnv, config?: Config): Redactor {
  const fromConfig = config ? [...secretConfigValues(config), ...stringsOf(config).flatMap(userinfoOf)] : [];
  return new Redactor([...secretsFrom(env), ...userinfoOf(env.SLACK_WEBHOOK_URL ?? ''), ...fromConfig]);
}

function stringsOf(v: unknown): string[] {
  if (typeof v === 'string') return [v];
  if (v && typeof v === 'object') return Object.values(v).flatMap(stringsOf);
  return [];
}

export interface BuildCtxInput {
  root: string;
  command: string;
  config: Config;
  configFile: string;
  opts: GlobalOptions;
  log: Logger;
  redactor: Redactor;
  env?: NodeJS.ProcessEnv;
  exec?: Exec;
  /** Write the run log (off for unit tests). */
  runLog?: boolean;
  /**
   * The `aws --version` line an injected `exec` stands for, so that it is not asked: the
   * recorded answers of the unit tests are v1's unless a test says otherwise.
   */
  awsCliVersion?: string;
  signal?: AbortSignal;
}

/**
 * The aws program: JOHANNA_AWS_CLI, else the config's aws.CLI, else the checkout's
 * .venv/bin/aws (when `root` is given and `npm install` put one there), else `aws` on PATH.
 * A relative path is taken from where it was written: the caller's folder for the
 * environment variable, the config file's folder for the config.
 */
export function awsCliBin(env: NodeJS.ProcessEnv, config: Config, configFile: string, root?: string): string {
  const fromEnv = env.JOHANNA_AWS_CLI?.trim();
  if (fromEnv) return fromEnv.includes('/') ? path.resolve(fromEnv) : fromEnv;
  const fromConfig = config.aws.CLI;
  if (fromConfig) return fromConfig.includes('/') ? path.resolve(path.dirname(configFile), fromConfig) : fromConfig;
  return root ? localTool('aws', root) : 'aws';
}

export function buildCtx(i: BuildCtxInput): Ctx {
  const env = i.env ?? process.env;
  const { config } = i;
  const sandbox = config.sandbox
    ? {
        endpoint: config.sandbox.ENDPOINT.replace(/\/$/, ''),
        router: config.sandbox.ROUTER,
        ...(config.sandbox.POLICIES ? { policies: config.sandbox.POLICIES.map((f) => (f === 'admin' ? f : path.resolve(path.dirname(i.configFile), f))) } : {}),
      }
    : undefined;
  const awsEnv = buildAwsEnv({
    base: env,
    region: config.aws.AWS_DEFAULT_REGION,
    endpoint: sandbox?.endpoint,
    accessKeyId: config.aws.AWS_ACCESS_KEY_ID,
    secretAccessKey: config.aws.AWS_SECRET_ACCESS_KEY,
  });
  const phase = config.common.PHASE;
  const runLog = i.runLog === false ? undefined : new RunLog(path.join(i.root, 'logs', phase), i.command);
  const aws = new AwsCli({
    env: awsEnv,
    log: i.log,
    redactor: i.redactor,
    dryRun: i.opts.dryRun,
    runLog,
    exec: i.exec,
    bin: awsCliBin(env, config, i.configFile, i.root),
    endpoint: sandbox?.endpoint,
    version: i.exec ? parseAwsCliVersion(i.awsCliVersion ?? 'aws-cli/1.45.11') : undefined,
    // A recording exec has no clock of AWS's to read: its answers are in this machine's time.
    clockOffsetMs: i.exec ? 0 : undefined,
    signal: i.signal,
  });
  return {
    root: i.root,
    command: i.command,
    config,
    configFile: i.configFile,
    phase,
    region: config.aws.AWS_DEFAULT_REGION,
    aws,
    call: aws.aws.bind(aws),
    log: i.log,
    redactor: i.redactor,
    dryRun: Boolean(i.opts.dryRun),
    json: Boolean(i.opts.json),
    opts: i.opts,
    sandbox,
    startedAt: new Date(),
    signal: i.signal ?? new AbortController().signal,
    steps: new Steps(aws, runLog, Date.now, i.log),
    summary: {},
    hint: (rest: string) => runHint({ configFile: i.configFile, root: i.root }, rest),
  };
}
