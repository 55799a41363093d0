// Runs the sandbox in the background for `./run sandbox start|stop|status` and for the
// automatic start of a phase whose config points at the sandbox.
import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, readlinkSync, realpathSync, writeFileSync } from 'node:fs';
import { join, resolve, sep } from 'node:path';
import { builtScript, isAlive, sleep } from './process-group.js';
import { createSandbox } from './server.js';
import type { SandboxDelays, StrictOptions } from './options.js';
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

/**
 * main.js's flag for the strict settings given: the fields as they are (ms, rates, lists),
 * so they are converted once, at `./run sandbox start`, and a new field needs no flag here.
 */
export function strictArgs(strict: Partial<StrictOptions> = {}): string[] {
  return Object.keys(strict).length ? ['--strict', JSON.stringify(strict)] : [];
}

export interface StartedSandbox {
  endpoint: string;
  router: string;
  pid: number;
  alreadyRunning: boolean;
  /** Set when a half-dead sandbox was found and restarted: what did not answer. */
  restarted?: string[];
  /** The moto_server it runs. */
  motoServer?: string;
}

/** Each part of a sandbox that must answer for it to work. */
export interface SandboxParts {
  front: boolean;
  moto: boolean;
  router: boolean;
}

export interface SandboxStatus {
  running: boolean;
  /** Every part answers. A running sandbox that is not healthy is half-dead: `start` restarts it. */
  healthy?: boolean;
  parts?: SandboxParts;
  /** What does not answer, in words, e.g. "moto (pid 123, port 456) does not answer". */
  problems?: string[];
  pid?: number;
  endpoint?: string;
  router?: string;
  stateDir?: string;
  environments?: Array<Record<string, unknown>>;
  /** The moto_server it runs (the checkout's .venv/bin/moto_server, else `moto_server` on PATH). */
  motoServer?: string;
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

/** Any HTTP answer at all: the server is up (its status code is its own business). */
async function answersHttp(url: string, headers: Record<string, string> = {}, timeoutMs = 1500): Promise<boolean> {
  try {
    const response = await fetch(url, { headers, signal: AbortSignal.timeout(timeoutMs) });
    await response.arrayBuffer();
    return true;
  } catch {
    return false;
  }
}

/** A quick look: does a sandbox answer at this endpoint? */
export async function isEndpointUp(endpoint: string): Promise<boolean> {
  return (await fetchStatus(endpoint.replace(/\/$/, ''), 1000)) !== undefined;
}

/** The moto_server the sandbox at `endpoint` runs, as its status page names it (`./run status`). */
export async function sandboxMotoServer(endpoint: string): Promise<string | undefined> {
  const status = await fetchStatus(endpoint.replace(/\/$/, ''), 1500);
  return typeof status?.motoServer === 'string' ? status.motoServer : undefined;
}

export interface EndpointCheck {
  /** Something answers HTTP at the endpoint (ours, or a moto or LocalStack of the user's). */
  answers: boolean;
  /** It is a sandbox of ours (it answers /_sandbox/status); then `parts` and `problems` say how it is. */
  sandbox?: { pid?: number; router?: string; parts: SandboxParts; problems: string[]; environments?: Array<Record<string, unknown>>; motoServer?: string };
}

/**
 * Asks every part of the sandbox at `endpoint` whether it answers: the front (its own
 * status page), moto behind it (on its own port: the front would answer for it with a
 * 502), and the CNAME router. A front alone answering is a half-dead sandbox: every aws
 * call fails against it.
 */
export async function checkEndpoint(endpoint: string): Promise<EndpointCheck> {
  const base = endpoint.replace(/\/$/, '');
  const status = await fetchStatus(base, 1500);
  if (!status) return { answers: await answersHttp(base) };
  // Only our sandbox names its pid and its parts there; another stand-in that answers the
  // same path (a test's front for a plain moto) is used as is, as the contract says.
  if (typeof status.pid !== 'number' || typeof status.motoPort !== 'number') return { answers: true };
  const router = typeof status.router === 'string' ? status.router : undefined;
  const [moto, routes] = await Promise.all([
    typeof status.motoPort === 'number' ? answersHttp(`http://127.0.0.1:${status.motoPort}/moto-api/`) : Promise.resolve(false),
    // An unknown Host is answered 404 by a live router.
    router ? answersHttp(`http://${router}/`, { host: 'sandbox-health-check.invalid' }) : Promise.resolve(false),
  ]);
  const problems = [
    ...(moto ? [] : [`moto (pid ${status.motoPid ?? '?'}, port ${status.motoPort ?? '?'}) does not answer`]),
    ...(routes ? [] : [`the router (${router ?? '?'}) does not answer`]),
  ];
  return { answers: true, sandbox: { pid: status.pid, router, parts: { front: true, moto, router: routes }, problems, environments: status.environments, motoServer: typeof status.motoServer === 'string' ? status.motoServer : undefined } };
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

/** Thrown when the port is held by a process that is not this state folder's sandbox. */
export class PortTakenError extends Error {}

/**
 * Starts the sandbox in the background (detached, logging to <stateDir>/sandbox.log) and
 * returns once every part answers. If this state folder's sandbox already runs and every
 * part answers, returns it; if it is half-dead (moto or the router gone), restarts it:
 * nothing it held can be used any more (moto's state lives in moto).
 */
export async function startSandbox(options: StartSandboxOptions): Promise<StartedSandbox> {
  mkdirSync(options.stateDir, { recursive: true });
  const existing = await running(options.stateDir);
  let restarted: string[] | undefined;
  if (existing) {
    const check = await checkEndpoint(existing.endpoint);
    if (check.sandbox && check.sandbox.problems.length === 0) return { ...existing, alreadyRunning: true, motoServer: check.sandbox.motoServer };
    restarted = check.sandbox?.problems ?? [`its endpoint ${existing.endpoint} does not answer`];
    await stopSandbox(options.stateDir);
  }
  // Another sandbox (of another checkout, or in-process) or another server on the port:
  // say so, rather than report a start and let every call go to the wrong place.
  if (options.port !== 0 && (await answersHttp(`http://127.0.0.1:${options.port}/`))) {
    const other = await fetchStatus(`http://127.0.0.1:${options.port}`, 1000);
    throw new PortTakenError(
      `port ${options.port} is taken by ${other ? `another sandbox (pid ${other.pid}) that this state folder (${options.stateDir}) did not start` : 'another server'}; ` +
        'stop it, or pick other ports (--port, --router-port, or sandbox.ENDPOINT/ROUTER in the config)',
    );
  }
  if (options.foreground) return { ...(await runInForeground(options)), ...(restarted ? { restarted } : {}) };

  const log = logFile(options.stateDir);
  const args = [builtScript('main.js'), '--port', String(options.port), '--router-port', String(options.routerPort), '--state-dir', options.stateDir];
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
    const check = info?.pid === pid ? await checkEndpoint(info.endpoint) : undefined;
    if (info && check?.sandbox?.problems.length === 0) {
      return { ...info, alreadyRunning: false, motoServer: check.sandbox.motoServer, ...(restarted ? { restarted } : {}) };
    }
    if (exitCode !== undefined) {
      removeInfo(options.stateDir, pid);
      // Its own last word says why (a port taken, moto missing): say it here, not only in the log.
      const said = readLog(log).split('\n').filter((l) => l.startsWith('sandbox: ')).at(-1)?.replace(/^sandbox: (Error: )?/, '');
      throw new Error(`the sandbox exited while starting (exit code ${exitCode})${said ? `: ${said}` : ''}; see ${log}`);
    }
    await sleep(200);
  }
  await stopSandbox(options.stateDir);
  throw new Error(`the sandbox did not answer within ${START_DEADLINE_MS / 1000} s; see ${log}`);
}

/**
 * Ends the background sandbox and everything it started. It gets SIGTERM and a grace to
 * stop its apps and moto itself; whatever is left after that is killed by process group,
 * and then any process still holding the state folder (an orphan of a sandbox that was
 * SIGKILLed with its guards) is killed too.
 */
export interface StopResult {
  stopped: boolean;
  pid?: number;
  /** Processes of a sandbox of this folder that outlived it, killed (only when there were any). */
  orphans?: number[];
}

export async function stopSandbox(stateDir: string): Promise<StopResult> {
  const pid = readPid(stateDir);
  const info = readInfo(stateDir);
  if (pid === undefined || !(await isOurSandbox(pid, info?.pid === pid ? info.endpoint : undefined))) {
    if (pid !== undefined) removeInfo(stateDir, pid);
    return { stopped: false, ...orphansOf(await killOrphans(stateDir)) };
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
  return { stopped: true, pid, ...orphansOf(await killOrphans(stateDir)) };
}

const orphansOf = (orphans: number[]) => (orphans.length ? { orphans } : {});

/** Kills what still holds the state folder (SIGKILL: their sandbox is gone, nothing will stop them gently). */
async function killOrphans(stateDir: string): Promise<number[]> {
  const orphans = processesUsing(stateDir);
  for (const pid of orphans) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone meanwhile
    }
  }
  const deadline = Date.now() + 2000;
  while (orphans.some(isAlive) && Date.now() < deadline) await sleep(50);
  return orphans;
}

/**
 * The processes a sandbox of this state folder started: main.js (its --state-dir is the
 * folder), the apps (they run in <folder>/envs/), and moto and the guards (ours by their
 * command line, holding a log in the folder). This is how `sandbox stop` finds what a
 * SIGKILLed sandbox left, whatever its pids were; a shell reading a log there is not
 * ours and is left alone. Linux /proc; elsewhere it finds nothing.
 */
export function processesUsing(stateDir: string): number[] {
  let dir: string;
  try {
    dir = realpathSync(stateDir);
  } catch {
    return [];
  }
  const given = resolve(stateDir);
  const inside = (p: string, folder = dir) => p === folder || p.startsWith(folder + sep) || (folder === dir && (p === given || p.startsWith(given + sep)));
  const ours = /moto_server|sandbox\/guard\.js|sandbox\/main\.js/;
  let entries: string[];
  try {
    entries = readdirSync('/proc').filter((name) => /^\d+$/.test(name));
  } catch {
    return [];
  }
  const found: number[] = [];
  for (const name of entries) {
    const pid = Number(name);
    if (pid === process.pid) continue;
    try {
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
      const holdsLog = () =>
        readdirSync(`/proc/${pid}/fd`).some((fd) => {
          try {
            return inside(readlinkSync(`/proc/${pid}/fd/${fd}`));
          } catch {
            return false;
          }
        });
      if (
        (cmdline.some((arg) => arg.includes('sandbox/main.js')) && cmdline.some((arg) => inside(arg))) ||
        inside(readlinkSync(`/proc/${pid}/cwd`), join(dir, 'envs')) ||
        (ours.test(cmdline.join(' ')) && holdsLog())
      ) {
        found.push(pid);
      }
    } catch {
      // gone, or a zombie: nothing to kill
    }
  }
  return found;
}

export async function sandboxStatus(stateDir: string): Promise<SandboxStatus> {
  const info = await running(stateDir);
  if (!info) return { running: false };
  const check = await checkEndpoint(info.endpoint);
  const problems = check.sandbox?.problems ?? [`its front (${info.endpoint}) does not answer`];
  return {
    running: true,
    healthy: problems.length === 0,
    parts: check.sandbox?.parts ?? { front: false, moto: false, router: false },
    problems,
    pid: info.pid,
    endpoint: info.endpoint,
    router: info.router,
    stateDir,
    environments: check.sandbox?.environments,
    motoServer: check.sandbox?.motoServer,
  };
}

/** One state folder per endpoint port, so that two phases or two test runs each have their own sandbox. */
export function stateDirFor(sandboxRoot: string, port: number): string {
  return join(sandboxRoot, String(port));
}

/** Every state folder under the root: one per port, and the root itself (the layout before per-port folders). */
export function stateDirs(sandboxRoot: string): string[] {
  let names: string[];
  try {
    names = readdirSync(sandboxRoot, { withFileTypes: true })
      .filter((entry) => entry.isDirectory() && /^\d+$/.test(entry.name))
      .map((entry) => entry.name)
      .sort((a, b) => Number(a) - Number(b));
  } catch {
    return [];
  }
  return [...(existsSync(pidFile(sandboxRoot)) ? [sandboxRoot] : []), ...names.map((name) => join(sandboxRoot, name))];
}

/** `sandbox stop --all`: every sandbox of this checkout, and what SIGKILLed ones left in their folders. */
export async function stopAllSandboxes(sandboxRoot: string): Promise<Array<StopResult & { stateDir: string }>> {
  const results: Array<StopResult & { stateDir: string }> = [];
  for (const stateDir of stateDirs(sandboxRoot)) results.push({ stateDir, ...(await stopSandbox(stateDir)) });
  return results;
}

function readLog(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}
