// Shared e2e helpers: a sandbox on free ports, a temp config for one sandbox phase, the
// built ./run, the aws CLI pointed at the sandbox, and the run log of a command.
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa, type ResultPromise } from 'execa';
import { createSandbox, type Sandbox } from '../../../sandbox/server.js';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
export const RUN = path.join(ROOT, 'run');

export interface TestSandbox extends Sandbox {
  stateDir: string;
}

/** The whole sandbox (moto + EB emulator) on free loopback ports, in this process. */
export async function startTestSandbox(): Promise<TestSandbox> {
  const stateDir = mkdtempSync(path.join(os.tmpdir(), 'johanna-e2e-sandbox-'));
  const s = await createSandbox({ port: 0, routerPort: 0, stateDir });
  return {
    ...s,
    stateDir,
    close: async () => {
      await s.close();
      rmSync(stateDir, { recursive: true, force: true });
    },
  };
}

export interface PhaseOptions {
  phase: string;
  endpoint: string;
  router: string;
  /** Second octet of the phase's 10.x.0.0/16 (default 210). */
  octet?: number;
  keyPairName?: string;
  applicationName?: string;
}

/** Writes env.sandbox.json adapted to one phase into a temp dir; returns the file's path. */
export function writePhaseConfig(o: PhaseOptions): string {
  const base = JSON.parse(readFileSync(path.join(ROOT, 'env.sandbox.json'), 'utf8'));
  const n = o.octet ?? 210;
  base.common.PHASE = o.phase;
  base.common.AWS_KEY_PAIR_NAME = o.keyPairName ?? o.phase;
  base.common.AWS_VPC_EB = `10.${n}.0.0/16`;
  base.common.AWS_SUBNET_EB_PRIVATE_1 = `10.${n}.0.0/20`;
  base.common.AWS_SUBNET_EB_PRIVATE_2 = `10.${n}.16.0/20`;
  base.common.AWS_SUBNET_EB_PUBLIC_1 = `10.${n}.128.0/20`;
  base.common.AWS_SUBNET_EB_PUBLIC_2 = `10.${n}.144.0/20`;
  base.common.HOST_NOVA = `${o.phase}-nova.ap-northeast-2.elasticbeanstalk.com`;
  base.common.URL_NOVA = `http://${base.common.HOST_NOVA}`;
  base.elasticbeanstalk.APPLICATION_NAME = o.applicationName ?? o.phase;
  base.nova.CNAME = `${o.phase}-nova`;
  base.sandbox = { ENDPOINT: o.endpoint, ROUTER: o.router };
  const dir = mkdtempSync(path.join(os.tmpdir(), `johanna-e2e-${o.phase}-`));
  const file = path.join(dir, 'env.json');
  writeFileSync(file, JSON.stringify(base, null, 2));
  return file;
}

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the built ./run and waits for it. */
export async function runCli(args: string[], opts: { timeoutMs?: number } = {}): Promise<CliResult> {
  const r = await execa(process.execPath, [RUN, ...args], {
    cwd: ROOT,
    reject: false,
    timeout: opts.timeoutMs ?? 300_000,
    env: { NO_COLOR: '1' },
  });
  return { code: r.exitCode ?? -1, stdout: String(r.stdout), stderr: String(r.stderr) };
}

/** Starts the built ./run without waiting (to kill it half-way). */
export function spawnCli(args: string[]): ResultPromise {
  return execa(process.execPath, [RUN, ...args], { cwd: ROOT, reject: false, env: { NO_COLOR: '1' } });
}

export function sandboxEnv(endpoint: string): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    AWS_ENDPOINT_URL: endpoint,
    AWS_ACCESS_KEY_ID: 'sandbox',
    AWS_SECRET_ACCESS_KEY: 'sandbox',
    AWS_DEFAULT_REGION: 'ap-northeast-2',
    AWS_EC2_METADATA_DISABLED: 'true',
    AWS_PAGER: '',
  };
}

/** The aws CLI against the sandbox; parsed JSON. */
export async function awsJson<T = any>(endpoint: string, args: string[]): Promise<T> {
  const r = await execa('aws', [...args, '--output', 'json'], { env: sandboxEnv(endpoint), extendEnv: false });
  return (r.stdout.trim() ? JSON.parse(r.stdout) : {}) as T;
}

export interface RunLogLine {
  args: string[];
  mutating: boolean;
  exitCode: number | null;
  purpose?: string;
  dryRun?: boolean;
}

export function readRunLog(file: string): RunLogLine[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
}

/** The run log of a ./run process, by its pid (the file name ends in -<command>-<pid>.jsonl). */
export function runLogOf(phase: string, command: string, pid: number): string | undefined {
  const dir = path.join(ROOT, 'logs', phase);
  if (!existsSync(dir)) return undefined;
  const f = readdirSync(dir).find((n) => n.endsWith(`-${command}-${pid}.jsonl`));
  return f && path.join(dir, f);
}

/** Calls that count for a budget: not the deploy lock's, and (optionally) not wait polls. */
export function workCalls(lines: RunLogLine[], opts: { withoutWaits?: boolean } = {}): RunLogLine[] {
  return lines.filter((l) => l.purpose !== 'lock' && !(opts.withoutWaits && l.purpose === 'poll'));
}

/** Parses the --json result of a run (stdout is exactly one JSON document). */
export function jsonResult(r: CliResult): any {
  return JSON.parse(r.stdout);
}
