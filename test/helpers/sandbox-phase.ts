// The one way tests and the bench start a sandbox: a phase in a sandbox of its own on free
// loopback ports, with its config file, the built ./run, the real aws CLI, and the run log.
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { createSandbox, type Sandbox } from '../../sandbox/server.js';
import type { SandboxDelays, StrictOptions } from '../../sandbox/options.js';
import { httpGet } from '../../src/deploy/probe.js';
import { run as runCli, type RunResult } from './cli.js';

import { awsCli, awsEnv, readRunLog, ROOT, RUN, sandboxPhaseConfig, TEST_METRICS_LAG_MS, TEST_METRICS_PERIOD_MS, type RunOutcome } from './bench-phase.js';

export { readRunLog, ROOT, RUN };
export type { RunLogRecord as RunLogLine } from './bench-phase.js';
export type { RunResult };

export interface PhaseSandbox {
  sandbox: Sandbox;
  phase: string;
  /** The temp folder of the sandbox's state and the config files; removed by close(). */
  dir: string;
  configFile: string;
  config: any;
  host: string;
  /** `./run -e <config> <args>` (the phase's config unless another is given); never rejects. */
  run(args: string[], opts?: { input?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number; configFile?: string }): Promise<RunResult>;
  /** `run`, which must exit 0: its stdout and stderr, or an error that gives its stderr. */
  runOk(args: string[]): Promise<RunResult>;
  /**
   * RequestCount (Sum) of a load balancer over `seconds` ending `endAgo` seconds ago (default
   * now), as the sandbox's CloudWatch has it now, through the real aws CLI.
   */
  requestCount(loadBalancer: string, seconds: number, endAgo?: number): Promise<number>;
  /** `./run -e <config> -f --json <args>`, timed, its JSON parsed: what the bench measures. */
  runJson(args: string[], configFile?: string): Promise<RunOutcome>;
  /** A copy of the config with changes, as a file of its own. */
  variant(name: string, edit: (c: any) => void): string;
  /** Another phase's config in this sandbox: its own names and its VPC at 10.<octet>.0.0/16. */
  phaseConfig(phase: string, octet: number): string;
  /** The real aws CLI against this sandbox; parsed JSON. */
  aws<T = any>(args: string[]): Promise<T>;
  /** The application's environments that are not Terminated. */
  envs(): Promise<any[]>;
  /** GET through the router with the CNAME as Host. */
  get(host: string, urlPath?: string): Promise<{ status: number; body: string; version?: string }>;
  close(): Promise<void>;
}

export interface PhaseOptions {
  /** The phase of configFile (default e2e); phaseConfig() writes others for the same sandbox. */
  phase?: string;
  /** Second octet of the phase's 10.x.0.0/16 (default: env.sandbox.json's). */
  octet?: number;
  failRate?: number;
  delays?: SandboxDelays;
  /**
   * Tunes the strict rules (delays, faults); unset fields keep the sandbox's defaults.
   * `policies` gives the caller other IAM policy files (or ['admin']); unset, it holds the
   * documented set, which every request of the tool is evaluated against (issue 18).
   */
  strict?: Partial<StrictOptions>;
  /** Changes to the config (env.sandbox.json with this phase's names). */
  edit?: (c: any) => void;
}

/**
 * The strict rules' delays in tests, shorter than the sandbox's defaults (3 s, 5 s) where a
 * test is not about them: the rules still hold (a NAT is pending, a role is invisible, a
 * client caches its answer), only for less time. A test about one sets it itself. A new
 * DynamoDB table is ACTIVE at once here (R63 costs the CLI waiter's 20 s poll in every new
 * sandbox); test/e2e/dynamodb-tables.test.ts is the test about it.
 */
export const TEST_STRICT: Partial<StrictOptions> = { metricsPeriodMs: TEST_METRICS_PERIOD_MS, metricsLagMs: TEST_METRICS_LAG_MS, natDelayMs: 1000, iamDelayMs: 1000, eniLingerMs: 1000, dnsTtlMs: 2000, tableCreateMs: 0 };

export async function startPhase(o: PhaseOptions = {}): Promise<PhaseSandbox> {
  const phase = o.phase ?? 'e2e';
  const dir = mkdtempSync(path.join(os.tmpdir(), `johanna-${phase}-`));
  const sandbox = await createSandbox({ port: 0, routerPort: 0, stateDir: path.join(dir, 'sandbox'), failRate: o.failRate, delays: o.delays, strict: { ...TEST_STRICT, ...o.strict } });
  const write = (name: string, c: any) => {
    const file = path.join(dir, `${name}.json`);
    writeFileSync(file, JSON.stringify(c, null, 2));
    return file;
  };
  const config = sandboxPhaseConfig({ phase, octet: o.octet, endpoint: sandbox.endpoint, router: sandbox.router });
  o.edit?.(config);
  const configFile = write('env', config);
  const aws = async (args: string[]): Promise<any> => {
    const r = await execa(awsCli(), [...args, '--output', 'json'], { env: awsEnv(sandbox.endpoint), reject: false });
    if (r.exitCode !== 0) throw new Error(`aws ${args.join(' ')}: ${r.stderr}`);
    return r.stdout.trim() ? JSON.parse(r.stdout) : {};
  };
  const run: PhaseSandbox['run'] = (args, opts = {}) =>
    runCli(['-e', opts.configFile ?? configFile, ...args], {
      input: opts.input,
      stdin: opts.input === undefined ? 'ignore' : 'pipe',
      stripFinalNewline: true,
      env: { ...process.env, NO_COLOR: '1', ...opts.env },
      timeoutMs: opts.timeoutMs ?? 600_000,
    });
  return {
    sandbox,
    phase,
    dir,
    configFile,
    config,
    host: config.common.HOST_NOVA,
    run,
    runOk: async (args) => {
      const r = await run(args);
      if (r.exitCode !== 0) throw new Error(`./run ${args.join(' ')} exited ${r.exitCode}:\n${r.stderr}`);
      return r;
    },
    requestCount: async (loadBalancer, seconds, endAgo = 0) => {
      const end = new Date(Date.now() - endAgo * 1000);
      const r = await aws([
        'cloudwatch', 'get-metric-statistics', '--namespace', 'AWS/ApplicationELB', '--metric-name', 'RequestCount',
        '--dimensions', `Name=LoadBalancer,Value=${loadBalancer}`, '--statistics', 'Sum', '--period', '60',
        '--start-time', new Date(end.getTime() - seconds * 1000).toISOString(), '--end-time', end.toISOString(),
      ]);
      return (r.Datapoints ?? []).reduce((sum: number, p: any) => sum + (p.Sum ?? 0), 0);
    },
    runJson: async (args, file = configFile) => {
      const startedAt = Date.now();
      const r = await run(['-f', '--json', ...args], { configFile: file, timeoutMs: 30 * 60_000 });
      const wallMs = Date.now() - startedAt;
      let json: any;
      try {
        json = JSON.parse(r.stdout);
      } catch {
        json = undefined;
      }
      return { ...r, exitCode: r.exitCode ?? -1, wallMs, startedAt, json };
    },
    variant: (name, change) => {
      const c = structuredClone(config);
      change(c);
      return write(name, c);
    },
    phaseConfig: (other, octet) => write(`${other}-${octet}`, sandboxPhaseConfig({ phase: other, octet, endpoint: sandbox.endpoint, router: sandbox.router })),
    envs: async () => {
      const r = await aws(['elasticbeanstalk', 'describe-environments', '--application-name', config.elasticbeanstalk.APPLICATION_NAME, '--no-include-deleted']);
      return r.Environments.filter((e: any) => e.Status !== 'Terminated');
    },
    aws,
    get: async (host, urlPath = '/echo/') =>
      (await httpGet({ sandbox: { endpoint: sandbox.endpoint, router: sandbox.router } }, host, urlPath).catch(() => undefined)) ?? { status: 0, body: '' },
    close: async () => {
      await sandbox.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The newest run log of a phase for a command. */
export function newestRunLog(phase: string, command: string): string {
  const dir = path.join(ROOT, 'logs', phase);
  const files = readdirSync(dir).filter((f) => f.includes(`-${command}-`)).sort();
  return path.join(dir, files[files.length - 1]);
}

/** The command's own calls: what the budgets count (the lock's and the history's bookkeeping apart). */
export function ownCalls<T extends { purpose?: string }>(lines: T[]): T[] {
  return lines.filter((l) => l.purpose !== 'lock' && l.purpose !== 'history');
}

/** Poll `fn` every 0.5 s until it gives a value, or fail naming what was awaited. */
export async function until<T>(what: string, fn: () => Promise<T | undefined>, ms = 60_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}
