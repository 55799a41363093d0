// Shared e2e helpers: the aws CLI pointed at a sandbox, and the run log of a command. The
// built ./run runs through cli.ts's run; the sandbox and its phases start with
// sandbox-phase.ts's startPhase.
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';

import { awsCli, awsEnv, readRunLog, ROOT, RUN } from './bench-phase.js';

export { readRunLog, ROOT, RUN };

/** The aws CLI against the sandbox; parsed JSON. */
export async function awsJson<T = any>(endpoint: string, args: string[]): Promise<T> {
  const r = await execa(awsCli(), [...args, '--output', 'json'], { env: awsEnv(endpoint) });
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
export function jsonResult(r: { stdout: string }): any {
  return JSON.parse(r.stdout);
}
