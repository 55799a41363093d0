// Shared e2e helpers: the built ./run run directly, the aws CLI pointed at a sandbox, and
// the run log of a command. The sandbox and its phases start with sandbox-phase.ts's startPhase.
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { execa, type ResultPromise } from 'execa';

import { awsEnv, readRunLog, ROOT, RUN } from './bench-phase.js';

export { readRunLog, ROOT, RUN };

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

/** The aws CLI against the sandbox; parsed JSON. */
export async function awsJson<T = any>(endpoint: string, args: string[]): Promise<T> {
  const r = await execa('aws', [...args, '--output', 'json'], { env: awsEnv(endpoint) });
  return (r.stdout.trim() ? JSON.parse(r.stdout) : {}) as T;
}

/** The run log of a ./run process, by its pid (the file name ends in -<command>-<pid>.jsonl). */
export function runLogOf(phase: string, command: string, pid: number): string | undefined {
  const dir = path.join(ROOT, 'logs', phase);
  if (!existsSync(dir)) return undefined;
  const f = readdirSync(dir).find((n) => n.endsWith(`-${command}-${pid}.jsonl`));
  return f && path.join(dir, f);
}

/** Calls that count for a budget: not the deploy lock's or the history's, and (optionally) not wait polls. */
export function workCalls<T extends { purpose?: string }>(lines: T[], opts: { withoutWaits?: boolean } = {}): T[] {
  return lines.filter((l) => l.purpose !== 'lock' && l.purpose !== 'history' && !(opts.withoutWaits && l.purpose === 'poll'));
}

/** Parses the --json result of a run (stdout is exactly one JSON document). */
export function jsonResult(r: CliResult): any {
  return JSON.parse(r.stdout);
}
