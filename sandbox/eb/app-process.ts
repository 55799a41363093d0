import { execFile, spawn, type ChildProcess } from 'node:child_process';
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

/**
 * EB's Node.js platform installs dependencies when the bundle has a package.json that
 * declares some and no node_modules folder: `npm install --omit=dev` ("Configuring your
 * Node.js application's dependencies", https://docs.aws.amazon.com/elasticbeanstalk/latest/dg/nodejs-platform-dependencies.html).
 * The sandbox has no registry to reach, so npm runs --offline: a bundle whose dependencies
 * are local (`file:` tarballs in it) installs; one that needs the registry fails its deploy,
 * as it would on an instance without a route out. Answers the failure, or undefined.
 */
export function installDependencies(dir: string, logFile: string, timeoutMs = 120_000): Promise<string | undefined> {
  const manifest = join(dir, 'package.json');
  if (!existsSync(manifest) || existsSync(join(dir, 'node_modules'))) return Promise.resolve(undefined);
  let dependencies: Record<string, string> = {};
  try {
    dependencies = JSON.parse(readFileSync(manifest, 'utf8')).dependencies ?? {};
  } catch (error) {
    return Promise.resolve(`package.json is not valid JSON: ${(error as Error).message}`);
  }
  if (Object.keys(dependencies).length === 0) return Promise.resolve(undefined);
  return new Promise((resolvePromise) => {
    execFile(
      'npm',
      ['install', '--omit=dev', '--offline', '--no-audit', '--no-fund', '--no-update-notifier'],
      { cwd: dir, timeout: timeoutMs, env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? dir, npm_config_cache: join(dir, '..', 'npm-cache') } },
      (error, stdout, stderr) => {
        writeFileSync(logFile, `$ npm install --omit=dev\n${stdout}${stderr}`, { flag: 'a' });
        resolvePromise(error ? `npm install --omit=dev failed: ${String(stderr).trim().split('\n').filter(Boolean).slice(-1)[0] ?? error.message}` : undefined);
      },
    );
  });
}

/** One health check as the ALB does it: its default matcher counts only 200 (R10 MatcherHTTPCode). */
export function checkHealth(port: number, path: string, timeoutMs = 3000): Promise<boolean> {
  return new Promise((resolvePromise) => {
    let req: ReturnType<typeof request>;
    try {
      req = request({ host: '127.0.0.1', port, path, method: 'GET', timeout: timeoutMs, agent: false }, (res) => {
        res.resume();
        resolvePromise(res.statusCode === 200);
      });
    } catch {
      // A path node cannot send (a control character or space: ERR_UNESCAPED_CHARACTERS)
      // threw here, rejected this promise and killed the sandbox (issue 20 item 18). A check
      // that cannot be sent is a failed check: the target is unhealthy, the sandbox lives.
      resolvePromise(false);
      return;
    }
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolvePromise(false));
    req.end();
  });
}
