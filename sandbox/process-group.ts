import type { ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** True while a process (or, with a negative id, a process group) exists. */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function signalGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch {
    // the group is already gone
  }
}

/**
 * Ends a child started with `detached: true` (so it leads its own process group):
 * SIGTERM to the whole group, SIGKILL after the grace. The group is killed even after
 * the leader exits, because `sh -c` or `npm start` may leave the real server behind.
 */
export async function stopGroup(child: ChildProcess, graceMs: number): Promise<void> {
  const pgid = child.pid;
  if (pgid === undefined) return;
  const exited = child.exitCode !== null || child.signalCode !== null
    ? Promise.resolve()
    : new Promise<void>((resolve) => child.once('exit', () => resolve()));
  signalGroup(pgid, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  await Promise.race([exited, sleep(graceMs)]);
  while (isAlive(-pgid) && Date.now() < deadline) await sleep(50);
  signalGroup(pgid, 'SIGKILL');
  await exited;
}

/**
 * The parent of this process as the kernel sees it now (process.ppid is read once, at
 * start): once the parent dies, the child is re-parented to init or a subreaper.
 */
export function currentParent(): number | undefined {
  try {
    const stat = readFileSync('/proc/self/stat', 'utf8');
    // "pid (comm) state ppid ...": comm may hold spaces and parentheses, so read after the last ')'.
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  } catch {
    return undefined;
  }
}

/** A sandbox script (main.js, guard.js) beside this file when built; from the sources (vitest), the built copy in dist/. */
export function builtScript(name: string): string {
  const here = dirname(fileURLToPath(import.meta.url));
  const candidates = [join(here, name), join(here, '..', 'dist', 'sandbox', name)];
  const found = candidates.find((candidate) => existsSync(candidate));
  if (!found) throw new Error(`the sandbox is not built (no ${candidates.join(' or ')}); run npm run build`);
  return found;
}

/**
 * The same command run under guard.js, which watches this process: if this process dies
 * (even by SIGKILL, when nothing of ours runs to stop the children), the guard ends the
 * child's whole process group. Spawn the result with `detached: true`: the guard then
 * leads the group, so stopGroup and a kill of -pid reach the command and the guard alike.
 */
export function guarded(command: { file: string; args: string[] }): { file: string; args: string[] } {
  return { file: process.execPath, args: [builtScript('guard.js'), String(process.pid), command.file, ...command.args] };
}
