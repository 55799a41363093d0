// What an e2e test of a phase needs: its own sandbox on free loopback ports, a config
// file for a phase in it, the built ./run, the real aws CLI, and the run log.
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { createSandbox, type Sandbox, type SandboxDelays, type StrictOptions } from '../../sandbox/server.js';
import { httpGet } from '../../src/deploy/probe.js';

import { awsEnv, readRunLog, ROOT, RUN, sandboxPhaseConfig, TEST_METRICS_PERIOD_MS } from './bench-phase.js';

export { readRunLog, ROOT, RUN };
export type { RunLogRecord as RunLogLine } from './bench-phase.js';

export interface RunResult {
  /** The ./run process's pid (it names the lock holder and the run log). */
  pid: number | undefined;
  exitCode: number | undefined;
  stdout: string;
  stderr: string;
}

export interface PhaseSandbox {
  sandbox: Sandbox;
  phase: string;
  configFile: string;
  config: any;
  host: string;
  /** `./run -e <config> <args>`; never rejects. */
  run(args: string[], opts?: { input?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number }): Promise<RunResult>;
  /** The real aws CLI against this sandbox; parsed JSON. */
  aws<T = any>(args: string[]): Promise<T>;
  /** The application's environments that are not Terminated. */
  envs(): Promise<any[]>;
  /** GET through the router with the CNAME as Host. */
  get(host: string, urlPath?: string): Promise<{ status: number; body: string; version?: string }>;
  close(): Promise<void>;
}

export interface PhaseOptions {
  phase: string;
  failRate?: number;
  delays?: SandboxDelays;
  /** Tunes the strict rules (delays, faults); unset fields keep the sandbox's defaults. */
  strict?: Partial<StrictOptions>;
  /** Changes to the config (env.sandbox.json with this phase's names). */
  edit?: (c: any) => void;
}

export async function startPhase(o: PhaseOptions): Promise<PhaseSandbox> {
  const dir = mkdtempSync(path.join(os.tmpdir(), `johanna-${o.phase}-`));
  const sandbox = await createSandbox({ port: 0, routerPort: 0, stateDir: path.join(dir, 'sandbox'), failRate: o.failRate, delays: o.delays, strict: { metricsPeriodMs: TEST_METRICS_PERIOD_MS, ...o.strict } });
  const config = sandboxPhaseConfig({ phase: o.phase, endpoint: sandbox.endpoint, router: sandbox.router });
  o.edit?.(config);
  const configFile = path.join(dir, 'env.json');
  writeFileSync(configFile, JSON.stringify(config, null, 2));
  const aws = async (args: string[]): Promise<any> => {
    const r = await execa('aws', [...args, '--output', 'json'], { env: awsEnv(sandbox.endpoint), reject: false });
    if (r.exitCode !== 0) throw new Error(`aws ${args.join(' ')}: ${r.stderr}`);
    return r.stdout.trim() ? JSON.parse(r.stdout) : {};
  };
  return {
    sandbox,
    phase: o.phase,
    configFile,
    config,
    host: config.common.HOST_NOVA,
    run: async (args, opts = {}) => {
      const sub = execa(RUN, ['-e', configFile, ...args], {
        cwd: ROOT,
        reject: false,
        input: opts.input,
        stdin: opts.input === undefined ? 'ignore' : undefined,
        env: { ...process.env, NO_COLOR: '1', ...opts.env },
        timeout: opts.timeoutMs ?? 600_000,
      });
      const r = await sub;
      return { pid: sub.pid, exitCode: r.exitCode, stdout: String(r.stdout), stderr: String(r.stderr) };
    },
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

/** The JSON document of a --json run (the last line-started object on stdout). */
export function jsonOut(stdout: string): any {
  return JSON.parse(stdout);
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
