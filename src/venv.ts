// The project's own Python tools. `npm install` (scripts/setup-python.mjs) puts moto_server,
// and the aws CLI when none the tool accepts is on PATH, into the checkout's .venv/bin; the
// tool and the sandbox look there before PATH, so a user never has to activate the venv or
// edit PATH. Used by src/context.ts (aws) and sandbox/moto.ts (moto_server).
import { accessSync, constants, existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The checkout: the first folder above this file with a package.json (src/ from source, dist/src/ once built). */
export function projectRoot(from = path.dirname(fileURLToPath(import.meta.url))): string {
  for (let dir = from; ; dir = path.dirname(dir)) {
    if (existsSync(path.join(dir, 'package.json'))) return dir;
    if (path.dirname(dir) === dir) return from;
  }
}

function executable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** `<root>/.venv/bin/<name>` when it is there and executable. */
export function venvBin(name: string, root = projectRoot()): string | undefined {
  const file = path.join(root, '.venv', 'bin', name);
  return executable(file) ? file : undefined;
}

/** The program to start for a tool: the checkout's .venv/bin first, then the name itself (PATH). */
export function localTool(name: string, root = projectRoot()): string {
  return venvBin(name, root) ?? name;
}

/** Where a bare name resolves on a PATH, or undefined. */
export function onPath(name: string, pathVar = process.env.PATH ?? ''): string | undefined {
  for (const dir of pathVar.split(path.delimiter)) {
    if (dir && executable(path.join(dir, name))) return path.join(dir, name);
  }
  return undefined;
}

/**
 * Which program a tool runs, in words for -v and status: "/x/.venv/bin/aws (.venv)",
 * "aws (/usr/bin/aws on PATH)", "aws (not on PATH)", or a path given as it is.
 */
export function describeTool(bin: string, pathVar = process.env.PATH ?? ''): string {
  if (bin.includes('/')) return path.basename(path.dirname(path.dirname(bin))) === '.venv' ? `${bin} (.venv)` : bin;
  const found = onPath(bin, pathVar);
  return found ? `${bin} (${found} on PATH)` : `${bin} (not on PATH)`;
}
