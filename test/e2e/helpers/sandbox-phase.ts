// What an e2e test of a phase needs: its own sandbox on free loopback ports, a config
// file for a phase in it, the built ./run, the real aws CLI, and the run log.
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execa, type ResultPromise } from 'execa';
import { createSandbox, type Sandbox, type SandboxDelays } from '../../../sandbox/server.js';
import { httpGet } from '../../../src/deploy/probe.js';

export const ROOT = path.resolve(import.meta.dirname, '..', '..', '..');
export const RUN = path.join(ROOT, 'run');

export interface PhaseSandbox {
  sandbox: Sandbox;
  phase: string;
  configFile: string;
  config: any;
  host: string;
  /** `./run -e <config> <args>`; never rejects. */
  run(args: string[], opts?: { input?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number }): ResultPromise<{ reject: false }>;
  /** The real aws CLI against this sandbox; parsed JSON. */
  aws<T = any>(args: string[]): Promise<T>;
  /** GET through the router with the CNAME as Host. */
  get(host: string, urlPath?: string): Promise<{ status: number; body: string; version?: string }>;
  close(): Promise<void>;
}

export function awsEnv(endpoint: string): NodeJS.ProcessEnv {
  return {
    ...process.env,
    AWS_ENDPOINT_URL: endpoint,
    AWS_ACCESS_KEY_ID: 'sandbox',
    AWS_SECRET_ACCESS_KEY: 'sandbox',
    AWS_DEFAULT_REGION: 'ap-northeast-2',
    AWS_EC2_METADATA_DISABLED: 'true',
    AWS_MAX_ATTEMPTS: '5',
    AWS_RETRY_MODE: 'standard',
  };
}

export interface PhaseOptions {
  phase: string;
  failRate?: number;
  delays?: SandboxDelays;
  /** Changes to the config (env.sandbox.json with this phase's names). */
  edit?: (c: any) => void;
}

export async function startPhase(o: PhaseOptions): Promise<PhaseSandbox> {
  const dir = mkdtempSync(path.join(os.tmpdir(), `johanna-${o.phase}-`));
  const sandbox = await createSandbox({ port: 0, routerPort: 0, stateDir: path.join(dir, 'sandbox'), failRate: o.failRate, delays: o.delays });
  const config = JSON.parse(readFileSync(path.join(ROOT, 'env.sandbox.json'), 'utf8'));
  const region = config.aws.AWS_DEFAULT_REGION;
  config.common.PHASE = o.phase;
  config.common.AWS_KEY_PAIR_NAME = o.phase;
  config.elasticbeanstalk.APPLICATION_NAME = o.phase;
  config.nova.CNAME = `${o.phase}-nova`;
  config.common.HOST_NOVA = `${o.phase}-nova.${region}.elasticbeanstalk.com`;
  config.common.URL_NOVA = `http://${config.common.HOST_NOVA}`;
  config.sandbox = { ENDPOINT: sandbox.endpoint, ROUTER: sandbox.router };
  o.edit?.(config);
  const configFile = path.join(dir, 'env.json');
  writeFileSync(configFile, JSON.stringify(config, null, 2));
  const [rhost, rport] = sandbox.router.split(':');
  return {
    sandbox,
    phase: o.phase,
    configFile,
    config,
    host: config.common.HOST_NOVA,
    run: (args, opts = {}) =>
      execa(RUN, ['-e', configFile, ...args], {
        cwd: ROOT,
        reject: false,
        input: opts.input,
        stdin: opts.input === undefined ? 'ignore' : undefined,
        env: { ...process.env, NO_COLOR: '1', ...opts.env },
        timeout: opts.timeoutMs ?? 600_000,
      }),
    aws: async (args) => {
      const r = await execa('aws', [...args, '--output', 'json'], { env: awsEnv(sandbox.endpoint), reject: false });
      if (r.exitCode !== 0) throw new Error(`aws ${args.join(' ')}: ${r.stderr}`);
      return r.stdout.trim() ? JSON.parse(r.stdout) : {};
    },
    get: async (host, urlPath = '/echo/') =>
      (await httpGet({ sandbox: { endpoint: sandbox.endpoint, router: sandbox.router } }, host, urlPath).catch(() => undefined)) ?? { status: 0, body: '' },
    close: async () => {
      await sandbox.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface RunLogLine {
  tool: string;
  args: string[];
  mutating: boolean;
  exitCode: number | null;
  purpose?: string;
  ms: number;
}

/** The run log a --json result names, as records. */
export function readRunLog(file: string): RunLogLine[] {
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l))
    .filter((r) => r.tool);
}

/** The newest run log of a phase for a command. */
export function newestRunLog(phase: string, command: string): string {
  const dir = path.join(ROOT, 'logs', phase);
  const files = readdirSync(dir).filter((f) => f.includes(`-${command}-`)).sort();
  return path.join(dir, files[files.length - 1]);
}

/** The command's own calls: what the budgets count (lock bookkeeping apart). */
export function ownCalls(lines: RunLogLine[]): RunLogLine[] {
  return lines.filter((l) => l.purpose !== 'lock');
}

/** The JSON document of a --json run (the last line-started object on stdout). */
export function jsonOut(stdout: string): any {
  return JSON.parse(stdout);
}
