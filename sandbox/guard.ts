// `node guard.js <parent pid> <command> [args...]`: runs the command and ends its process
// group when the parent dies. The sandbox starts moto and every app under a guard, so a
// test or bench process that runs a sandbox in-process and is SIGKILLed leaves nothing
// behind. The guard leads the group (it is spawned detached) and mirrors the command: its
// output is the command's (inherited), it exits with the command's code or signal, and a
// signal sent to the guard alone is passed on.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { constants } from 'node:os';
import { currentParent, isAlive } from './process-group.js';

const POLL_MS = 500;
const GRACE_MS = 2000;

const [parentArg, file, ...args] = process.argv.slice(2);
const parent = Number(parentArg);
if (!Number.isInteger(parent) || parent <= 0 || !file) {
  console.error('usage: guard.js <parent pid> <command> [args...]');
  process.exit(2);
}

const parentGone = () => {
  const now = currentParent();
  return now === undefined ? !isAlive(parent) : now !== parent;
};
// The parent may have died while we started: then nothing is left to run for.
if (parentGone()) process.exit(1);

const child = spawn(file, args, { stdio: 'inherit' });

let ending = false;

/** SIGTERM to the whole group (the command and whatever it forked: sh -c, npm start), SIGKILL, guard included, after the grace. */
function endGroup(): void {
  clearInterval(watch);
  ending = true;
  // Only a guard that leads its group (spawned detached) may signal the group: otherwise
  // the group is its starter's, and only the command is ours to end.
  const target = leadsGroup() ? -process.pid : child.pid!;
  console.error(`guard: parent ${parent} is gone; stopping ${file} (${target < 0 ? `group ${process.pid}` : `pid ${target}`})`);
  process.kill(target, 'SIGTERM'); // the guard ignores it while ending
  setTimeout(() => {
    try {
      process.kill(target, 'SIGKILL');
    } catch {
      // already gone
    }
    process.exit(1);
  }, GRACE_MS);
}

function leadsGroup(): boolean {
  try {
    const stat = readFileSync('/proc/self/stat', 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2]) === process.pid;
  } catch {
    return false;
  }
}

const watch = setInterval(() => {
  if (parentGone()) endGroup();
}, POLL_MS);

for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.on(sig, () => {
    if (!ending && child.exitCode === null && child.signalCode === null) child.kill(sig);
  });
}

child.on('error', (error) => {
  console.error(`guard: could not start ${file}: ${error.message}`);
  process.exit(127);
});

child.on('exit', (code, signal) => {
  clearInterval(watch);
  // Ending the group: its other members may still be stopping; the SIGKILL timer ends all.
  if (ending) return;
  if (signal) {
    // Die of the same signal, so whoever waits on the guard sees what the command saw.
    for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.removeAllListeners(sig);
    process.kill(process.pid, signal);
    setTimeout(() => process.exit(128 + (constants.signals[signal] ?? 0)), 100).unref();
    return;
  }
  process.exit(code ?? 1);
});
