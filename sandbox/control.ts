// Runs the sandbox in the background for `./run sandbox start|stop|status` and for the
// automatic start of a phase whose config points at the sandbox.
import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isAlive, sleep } from './process-group.js';
import { createSandbox, type SandboxDelays, type StrictOptions } from './server.js';
import { logFile, pidFile, readInfo, readPid, removeInfo, writeInfo, type SandboxInfo } from './state-files.js';

export interface StartSandboxOptions {
  port: number;
  routerPort: number;
  failRate?: number;
  stateDir: string;
  /** Run in this process until SIGINT/SIGTERM instead of in the background; resolves once stopped. */
  foreground?: boolean;
  delays?: SandboxDelays;
  strict?: Partial<StrictOptions>;
}

/** main.js's flags for the strict settings given (seconds on the command line). */
export function strictArgs(strict: Partial<StrictOptions> = {}): string[] {
  const args: string[] = [];
  const seconds = (ms: number) => String(ms / 1000);
  if (strict.natDelayMs !== undefined) args.push('--nat-delay', seconds(strict.natDelayMs));
  if (strict.eniLingerMs !== undefined) args.push('--eni-linger', seconds(strict.eniLingerMs));
  if (strict.iamDelayMs !== undefined) args.push('--iam-delay', seconds(strict.iamDelayMs));
  if (strict.dnsTtlMs !== undefined) args.push('--dns-ttl', seconds(strict.dnsTtlMs));
  if (strict.loseResponses !== undefined) args.push('--lose-responses', String(strict.loseResponses));
  if (strict.takenCnames?.length) args.push('--taken-cnames', strict.takenCnames.join(','));
  if (strict.launchHealthBlip) args.push('--launch-health-blip');
  return args;
}

export interface StartedSandbox {
  endpoint: string;
  router: string;
  pid: number;
  alreadyRunning: boolean;
}

export interface SandboxStatus {
  running: boolean;
  pid?: number;
  endpoint?: string;
  router?: string;
  environments?: Array<Record<string, unknown>>;
}

const START_DEADLINE_MS = 30_000;
const STOP_GRACE_MS = 10_000;

async function fetchStatus(endpoint: string, timeoutMs: number): Promise<Record<string, any> | undefined> {
  try {
    const response = await fetch(`${endpoint}/_sandbox/status`, { signal: AbortSignal.timeout(timeoutMs) });
    return response.ok ? ((await response.json()) as Record<string, any>) : undefined;
  } catch {
    return undefined;
  }
}

/** A quick look: does a sandbox answer at this endpoint? */
export async function isEndpointUp(endpoint: string): Promise<boolean> {
  return (await fetchStatus(endpoint.replace(/\/$/, ''), 1000)) !== undefined;
}

/**
 * The pid file names our sandbox only if that process still runs it (pids get reused): it
 * answers at its endpoint with its pid, or, if it hangs, its command line is main.js.
 */
async function isOurSandbox(pid: number, endpoint: string | undefined): Promise<boolean> {
  if (!isAlive(pid)) return false;
  if (endpoint && (await fetchStatus(endpoint, 1000))?.pid === pid) return true;
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('sandbox/main.js');
  } catch {
    return false;
  }
}

/** main.js beside this file when built; from the sources (vitest), the built copy in dist/. */
function mainScript(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  const candidates = [join(here, 'main.js'), join(here, '..', 'dist', 'sandbox', 'main.js')];
  const found = candidates.find((candidate) => existsSync(candidate));
  if (!found) throw new Error(`the sandbox is not built (no ${candidates.join(' or ')}); run npm run build`);
  return found;
}

async function running(stateDir: string): Promise<SandboxInfo | undefined> {
  const pid = readPid(stateDir);
  const info = readInfo(stateDir);
  if (pid === undefined || !info || info.pid !== pid) return undefined;
  return (await isOurSandbox(pid, info.endpoint)) ? info : undefined;
}

async function runInForeground(options: StartSandboxOptions): Promise<StartedSandbox> {
  const sandbox = await createSandbox({ ...options, host: '127.0.0.1' });
  const info = { endpoint: sandbox.endpoint, router: sandbox.router, pid: process.pid };
  writeInfo(options.stateDir, info);
  process.stderr.write(`sandbox running: endpoint ${info.endpoint}, router ${info.router}; Ctrl-C stops it\n`);
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  await sandbox.close();
  removeInfo(options.stateDir, process.pid);
  return { ...info, alreadyRunning: false };
}

/**
 * Starts the sandbox in the background (detached, logging to <stateDir>/sandbox.log) and
 * returns once its endpoint answers; if one already runs for this state folder, returns it.
 */
export async function startSandbox(options: StartSandboxOptions): Promise<StartedSandbox> {
  mkdirSync(options.stateDir, { recursive: true });
  const existing = await running(options.stateDir);
  if (existing && (await isEndpointUp(existing.endpoint))) return { ...existing, alreadyRunning: true };
  if (options.foreground) return runInForeground(options);

  const log = logFile(options.stateDir);
  const args = [mainScript(), '--port', String(options.port), '--router-port', String(options.routerPort), '--state-dir', options.stateDir];
  if (options.failRate !== undefined) args.push('--fail-rate', String(options.failRate));
  args.push(...strictArgs(options.strict));
  const delays = options.delays ?? {};
  for (const [flag, value] of [
    ['--launch-ms', delays.launchMs],
    ['--swap-ms', delays.swapMs],
    ['--terminate-ms', delays.terminateMs],
    ['--launch-timeout-ms', delays.launchTimeoutMs],
  ] as const) {
    if (value !== undefined) args.push(flag, String(value));
  }
  const output = openSync(log, 'a');
  const child = spawn(process.execPath, args, { detached: true, stdio: ['ignore', output, output] });
  closeSync(output);
  child.unref();
  const pid = child.pid!;
  writeFileSync(pidFile(options.stateDir), `${pid}\n`);

  let exitCode: number | null | undefined;
  child.once('exit', (code) => (exitCode = code));
  const deadline = Date.now() + START_DEADLINE_MS;
  while (Date.now() < deadline) {
    const info = readInfo(options.stateDir);
    if (info?.pid === pid && (await isEndpointUp(info.endpoint))) return { ...info, alreadyRunning: false };
    if (exitCode !== undefined) {
      removeInfo(options.stateDir, pid);
      throw new Error(`the sandbox exited while starting (exit code ${exitCode}); see ${log}`);
    }
    await sleep(200);
  }
  await stopSandbox(options.stateDir);
  throw new Error(`the sandbox did not answer within ${START_DEADLINE_MS / 1000} s; see ${log}`);
}

/**
 * Ends the background sandbox and everything it started. It gets SIGTERM and a grace to
 * stop its apps and moto itself; whatever is left after that is killed by process group.
 */
export async function stopSandbox(stateDir: string): Promise<{ stopped: boolean; pid?: number }> {
  const pid = readPid(stateDir);
  const info = readInfo(stateDir);
  if (pid === undefined || !(await isOurSandbox(pid, info?.pid === pid ? info.endpoint : undefined))) {
    if (pid !== undefined) removeInfo(stateDir, pid);
    return { stopped: false };
  }
  // Learn its children first: if it has to be killed, they would be left behind.
  const status = info ? await fetchStatus(info.endpoint, 1000) : undefined;
  const children: number[] = [status?.motoPid, ...(status?.environments ?? []).map((environment: { pid?: number }) => environment.pid)].filter(
    (child): child is number => typeof child === 'number',
  );

  process.kill(pid, 'SIGTERM');
  const deadline = Date.now() + STOP_GRACE_MS;
  while (isAlive(pid) && Date.now() < deadline) await sleep(100);
  for (const group of [pid, ...children]) {
    try {
      process.kill(-group, 'SIGKILL');
    } catch {
      // already gone, as it should be after a clean shutdown
    }
  }
  const reaped = Date.now() + 2000;
  while (isAlive(pid) && Date.now() < reaped) await sleep(50);
  removeInfo(stateDir, pid);
  return { stopped: true, pid };
}

export async function sandboxStatus(stateDir: string): Promise<SandboxStatus> {
  const info = await running(stateDir);
  if (!info) return { running: false };
  const status = await fetchStatus(info.endpoint, 2000);
  return { running: true, pid: info.pid, endpoint: info.endpoint, router: info.router, environments: status?.environments };
}
