import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { dirname, join, resolve, sep } from 'node:path';
import { unzipSync } from 'fflate';
import { guarded, stopGroup } from '../process-group.js';

export interface AppProcess {
  pid: number;
  port: number;
  /** Set once the process has exited: an app that dies turns the environment Red. */
  exitCode?: number | null;
  stop(graceMs: number): Promise<void>;
}

/** Unpacks a source bundle, refusing entries that would land outside `dir`. */
export function extractBundle(zip: Uint8Array, dir: string): void {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const root = resolve(dir);
  for (const [name, data] of Object.entries(unzipSync(zip))) {
    const target = resolve(root, name);
    if (target !== root && !target.startsWith(root + sep)) throw new Error(`bundle entry escapes the app folder: ${name}`);
    if (name.endsWith('/')) {
      mkdirSync(target, { recursive: true });
      continue;
    }
    mkdirSync(dirname(target), { recursive: true });
    writeFileSync(target, data);
  }
}

/** The `web:` line of a Procfile, as the Node.js platform runs it; otherwise `npm start`. */
function command(dir: string): { file: string; args: string[] } {
  const procfile = join(dir, 'Procfile');
  if (existsSync(procfile)) {
    const web = /^web:\s*(.+)$/m.exec(readFileSync(procfile, 'utf8'));
    if (web) return { file: 'sh', args: ['-c', web[1].trim()] };
  }
  return { file: 'npm', args: ['start'] };
}

/**
 * Starts the app in its own process group on `port`. Its environment is what EB would give
 * it (PORT and the environment properties) plus PATH/HOME to find node, and nothing of ours.
 */
export function startApp(dir: string, port: number, properties: Record<string, string>, logFile: string): AppProcess {
  const { file, args } = guarded(command(dir)); // dies with the sandbox, even a SIGKILLed one
  const log = openSync(logFile, 'a');
  let child: ChildProcess;
  try {
    child = spawn(file, args, {
      cwd: dir,
      detached: true,
      stdio: ['ignore', log, log],
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? dir, ...properties, PORT: String(port) },
    });
  } finally {
    closeSync(log);
  }
  const app: AppProcess = { pid: child.pid ?? -1, port, stop: (graceMs) => stopGroup(child, graceMs) };
  child.on('exit', (code, signal) => (app.exitCode = code ?? (signal ? -1 : null)));
  child.on('error', () => (app.exitCode = -1));
  return app;
}

/** One health check as the load balancer does it: any 2xx within the timeout counts. */
export function checkHealth(port: number, path: string, timeoutMs = 3000): Promise<boolean> {
  return new Promise((resolvePromise) => {
    const req = request({ host: '127.0.0.1', port, path, method: 'GET', timeout: timeoutMs, agent: false }, (res) => {
      res.resume();
      resolvePromise((res.statusCode ?? 0) >= 200 && (res.statusCode ?? 0) < 300);
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolvePromise(false));
    req.end();
  });
}
