import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, openSync, closeSync } from 'node:fs';
import path from 'node:path';
import { freePort } from './ports.js';
import { guarded, sleep, stopGroup } from './process-group.js';
import { localTool } from '../src/venv.js';

export interface MotoServer {
  port: number;
  pid: number;
  /** The moto_server it runs: the checkout's .venv/bin/moto_server, else the one on PATH. */
  bin: string;
  stop(): Promise<void>;
}

const START_DEADLINE_MS = 20_000;

/** The folder of sitecustomize.py, from sandbox/ or dist/sandbox/. */
const PYTHON_FIXES = [path.join(import.meta.dirname, 'python'), path.join(import.meta.dirname, '..', '..', 'sandbox', 'python')].find((d) => existsSync(path.join(d, 'sitecustomize.py'))) ?? path.join(import.meta.dirname, 'python');

async function answers(port: number): Promise<boolean> {
  try {
    const response = await fetch(`http://127.0.0.1:${port}/moto-api/`, { signal: AbortSignal.timeout(1000) });
    await response.arrayBuffer();
    return true;
  } catch {
    return false;
  }
}

async function startOnce(logFile: string, bin: string): Promise<{ child: ChildProcess; port: number } | undefined> {
  const port = await freePort();
  const log = openSync(logFile, 'a');
  // Its own process group, so stopping it also ends anything it forks; under a guard, so
  // it dies with this process even when this process is SIGKILLed (moto is Python, and
  // knows nothing of its parent). `pid` is the guard's, the group's leader.
  const { file, args } = guarded({ file: bin, args: ['-H', '127.0.0.1', '-p', String(port)] });
  const child = spawn(file, args, {
    detached: true,
    stdio: ['ignore', log, log],
    // AWS's managed policies exist in every account (arn:aws:iam::aws:policy/...): EB's roles
    // attach AWSElasticBeanstalkWebTier and its siblings (R54). moto loads them only when told.
    // sandbox/python/sitecustomize.py corrects moto's CloudWatch where it is kinder than AWS
    // (percentiles, R100); only this process gets it.
    env: { ...process.env, MOTO_IAM_LOAD_MANAGED_POLICIES: 'true', JOHANNA_MOTO_FIXES: '1', PYTHONPATH: [PYTHON_FIXES, process.env.PYTHONPATH].filter(Boolean).join(path.delimiter) },
  });
  closeSync(log);
  let failed = false;
  child.once('exit', () => (failed = true));
  child.once('error', () => (failed = true));
  const deadline = Date.now() + START_DEADLINE_MS;
  while (!failed && Date.now() < deadline) {
    if (await answers(port)) return { child, port };
    await sleep(150);
  }
  await stopGroup(child, 1000);
  return undefined;
}

/** Starts moto_server on a free loopback port; retries when another process took the port first. */
export async function startMoto(logFile: string): Promise<MotoServer> {
  const bin = localTool('moto_server');
  for (let attempt = 0; attempt < 3; attempt++) {
    const started = await startOnce(logFile, bin);
    if (started) {
      const { child, port } = started;
      return { port, pid: child.pid!, bin, stop: () => stopGroup(child, 3000) };
    }
  }
  throw new Error(`${bin} did not start (is moto installed? \`npm run setup:python\` puts it in .venv; see ${logFile})`);
}
