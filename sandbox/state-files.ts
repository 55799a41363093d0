import { existsSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** What a running sandbox leaves in its state folder, so other commands can find it. */
export interface SandboxInfo {
  pid: number;
  endpoint: string;
  router: string;
}

export const pidFile = (stateDir: string) => join(stateDir, 'sandbox.pid');
export const infoFile = (stateDir: string) => join(stateDir, 'sandbox.json');
export const logFile = (stateDir: string) => join(stateDir, 'sandbox.log');

export function readPid(stateDir: string): number | undefined {
  if (!existsSync(pidFile(stateDir))) return undefined;
  const pid = Number.parseInt(readFileSync(pidFile(stateDir), 'utf8'), 10);
  return Number.isInteger(pid) && pid > 0 ? pid : undefined;
}

export function readInfo(stateDir: string): SandboxInfo | undefined {
  try {
    return JSON.parse(readFileSync(infoFile(stateDir), 'utf8')) as SandboxInfo;
  } catch {
    return undefined;
  }
}

/** Written by the sandbox itself once it answers; renamed into place so readers never see half a file. */
export function writeInfo(stateDir: string, info: SandboxInfo): void {
  writeFileSync(pidFile(stateDir), `${info.pid}\n`);
  const temporary = `${infoFile(stateDir)}.${info.pid}.tmp`;
  writeFileSync(temporary, `${JSON.stringify(info)}\n`);
  renameSync(temporary, infoFile(stateDir));
}

/** Removes the files, but only if they still describe `pid` (a newer sandbox may own them). */
export function removeInfo(stateDir: string, pid: number): void {
  if (readPid(stateDir) !== undefined && readPid(stateDir) !== pid) return;
  rmSync(pidFile(stateDir), { force: true });
  rmSync(infoFile(stateDir), { force: true });
}
