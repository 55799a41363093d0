#!/usr/bin/env node
// The sandbox's Python side, set up by `npm install` (package.json `postinstall`, so it runs
// before the TypeScript build: plain Node, no dependencies). Also `npm run setup:python`.
//
// - An aws CLI the tool accepts and a moto_server of a supported version, in .venv/bin or
//   on PATH: nothing to do; one line says which ones.
// - Otherwise a project-local virtual environment, .venv/ (git-ignored), with the pinned
//   versions we test of whatever is missing. The system Python is only asked its version and
//   to make the venv (`python3 -m venv`); pip runs inside the venv only.
// - JOHANNA_SKIP_PYTHON=1 skips it all.
// - Whatever goes wrong (no python3, no venv module, no network to the package index), it
//   prints one line naming what is missing and the exact command that would fix it, and
//   exits 0: `npm install` never fails for the Python side.
import { spawnSync } from 'node:child_process';
import { accessSync, constants, existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The checkout this script belongs to: the .venv goes there, whatever the caller's folder. */
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const VENV = path.join(ROOT, '.venv');
const VENV_BIN = path.join(VENV, 'bin');

/** The versions we test (README, "Which aws CLI" and the benchmarks run them). */
export const PINS = { moto: 'moto[server]==5.2.1', aws: 'awscli==1.45.11' };
/** The oldest aws CLI of each major version the tool runs: MIN_AWS_CLI in src/aws/cli.ts (a unit test keeps them equal). */
export const MIN_AWS_CLI = { 1: [1, 29], 2: [2, 9] };
/** moto 5: the sandbox's fixes (sandbox/moto-fixes.ts) and its answers are moto 5's; 4 and 6 differ. */
export const MOTO_MAJOR = 5;
/** Python 3.9: the oldest moto 5.2 and awscli 1.45 install on. */
const MIN_PYTHON = [3, 9];

const PREFIX = 'johanna:';
const say = (line) => process.stdout.write(`${PREFIX} ${line}\n`);
const SETUP_AGAIN = 'npm run setup:python';

function run(file, args, timeoutMs = 60_000) {
  const r = spawnSync(file, args, { encoding: 'utf8', timeout: timeoutMs, stdio: ['ignore', 'pipe', 'pipe'] });
  return { ok: !r.error && r.status === 0, missing: r.error?.code === 'ENOENT', out: `${r.stdout ?? ''}${r.stderr ?? ''}`, error: r.error };
}

function executable(file) {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Where a name on PATH resolves, or undefined. */
function onPath(name) {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    if (dir && executable(path.join(dir, name))) return path.join(dir, name);
  }
  return undefined;
}

/** The program the tool would run for `name`: .venv/bin first, then PATH (src/venv.ts does the same). */
function find(name) {
  const local = path.join(VENV_BIN, name);
  if (executable(local)) return { file: local, where: '.venv' };
  const found = onPath(name);
  return found ? { file: found, where: 'PATH' } : undefined;
}

/** An aws CLI the tool accepts: v1 1.29+ or v2 2.9+ (checkAwsCliVersion). */
export function awsAccepted(versionOutput) {
  const m = /\baws-cli\/(\d+)\.(\d+)\.(\d+)/.exec(versionOutput);
  if (!m) return { ok: false, version: undefined };
  const [major, minor] = [Number(m[1]), Number(m[2])];
  const min = MIN_AWS_CLI[major];
  return { ok: Boolean(min) && minor >= min[1], version: `aws-cli/${m[1]}.${m[2]}.${m[3]}` };
}

function checkAws() {
  const given = process.env.JOHANNA_AWS_CLI?.trim();
  const tool = given ? { file: given, where: 'JOHANNA_AWS_CLI' } : find('aws');
  if (!tool) return { ok: false, why: 'no aws CLI on PATH' };
  const r = run(tool.file, ['--version'], 30_000);
  const v = awsAccepted(r.out);
  if (!v.ok) return { ok: false, why: `${tool.file} is ${v.version ?? 'not an aws CLI'}, which the tool does not accept (v1 1.29+ or v2 2.9+)`, given: Boolean(given) };
  return { ok: true, text: `${v.version} (${tool.file}, ${tool.where})` };
}

/**
 * moto's version from the Python that runs this moto_server: the one in its `#!` line, or,
 * for a wrapper such as pyenv's shim (a shell script), `python3` from the same PATH.
 */
function motoVersion(file) {
  let python = file.startsWith(VENV_BIN + path.sep) ? path.join(VENV_BIN, 'python') : 'python3';
  try {
    const first = readFileSync(file, 'utf8').slice(0, 300).split('\n')[0];
    const m = /^#!\s*(\S*python[\d.]*)\s*$/.exec(first);
    if (m) python = m[1];
  } catch {
    // unreadable: ask python3
  }
  const r = run(python, ['-c', 'import importlib.metadata as m; print(m.version("moto"))'], 30_000);
  return r.ok ? r.out.trim().split('\n').pop() : undefined;
}

function checkMoto() {
  const tool = find('moto_server');
  if (!tool) return { ok: false, why: 'no moto_server on PATH' };
  const version = motoVersion(tool.file);
  if (version === undefined) return { ok: false, why: `the moto of ${tool.file} does not say its version` };
  if (Number(version.split('.')[0]) !== MOTO_MAJOR) return { ok: false, why: `${tool.file} is moto ${version}, not moto ${MOTO_MAJOR}` };
  return { ok: true, text: `moto ${version} (${tool.file}, ${tool.where})` };
}

/** The system python3, if it is 3.9+; never given anything but --version and -m venv. */
function checkPython() {
  const r = run('python3', ['--version']);
  if (r.missing || !r.ok) return { ok: false, why: 'python3 is not on PATH', fix: 'install Python 3.9+ with venv (Debian/Ubuntu: sudo apt-get install python3 python3-venv), then run ' + SETUP_AGAIN };
  const m = /Python (\d+)\.(\d+)/.exec(r.out);
  const [major, minor] = m ? [Number(m[1]), Number(m[2])] : [0, 0];
  if (major !== 3 || minor < MIN_PYTHON[1]) return { ok: false, why: `python3 is ${r.out.trim()}, older than 3.9`, fix: `install Python 3.9+ with venv, then run ${SETUP_AGAIN}` };
  return { ok: true, version: `${major}.${minor}` };
}

/** pip's words for "the package index cannot be reached". */
const NO_NETWORK = /NewConnectionError|Failed to establish a new connection|Temporary failure in name resolution|Name or service not known|Network is unreachable|ConnectTimeout|Read timed out|ProxyError|No matching distribution found|Could not find a version that satisfies/i;

function quoteArg(a) {
  return /^[\w.=/-]+$/.test(a) ? a : `'${a}'`;
}

function main() {
  if (process.env.JOHANNA_SKIP_PYTHON === '1') {
    say('JOHANNA_SKIP_PYTHON=1: not setting up the sandbox\'s Python side (aws CLI, moto_server)');
    return;
  }
  const aws = checkAws();
  const moto = checkMoto();
  if (aws.ok && moto.ok) {
    say(`the sandbox's Python side is there, nothing to install: ${aws.text}, ${moto.text}`);
    return;
  }
  // A JOHANNA_AWS_CLI that is not accepted is the user's choice to fix; a venv cannot.
  const wanted = [...(moto.ok ? [] : [PINS.moto]), ...(aws.ok || aws.given ? [] : [PINS.aws])];
  const missing = [aws.ok ? undefined : aws.why, moto.ok ? undefined : moto.why].filter(Boolean).join(' and ');
  if (!wanted.length) {
    say(`${missing}: fix JOHANNA_AWS_CLI or unset it`);
    return;
  }
  const pip = path.join(VENV_BIN, 'pip');
  const installLine = `${path.relative(process.cwd(), pip) || pip} install ${wanted.map(quoteArg).join(' ')}`;
  if (!executable(pip)) {
    const py = checkPython();
    if (!py.ok) {
      say(`${missing}, and ${py.why}, so it cannot set up .venv: ${py.fix}`);
      return;
    }
    const made = run('python3', ['-m', 'venv', VENV], 120_000);
    if (!made.ok || !executable(pip)) {
      say(
        `${missing}, and \`python3 -m venv\` does not work here (${lastLine(made.out) || 'no pip in the new venv'}): ` +
          `run sudo apt-get install python${py.version}-venv (Debian/Ubuntu; elsewhere, install Python's venv module), then ${SETUP_AGAIN}`,
      );
      return;
    }
  }
  const r = run(pip, ['install', '--disable-pip-version-check', '--no-input', '--retries', '1', '--timeout', '15', ...wanted], 15 * 60_000);
  if (!r.ok) {
    const what = NO_NETWORK.test(r.out) ? 'the Python package index cannot be reached' : `pip failed (${lastLine(r.out) || r.error?.message || 'no output'})`;
    say(`${missing}, and ${what}, so .venv lacks ${wanted.join(', ')}: run ${installLine} (or ${SETUP_AGAIN}) once it can`);
    return;
  }
  const absent = [...(moto.ok ? [] : ['moto_server']), ...(aws.ok ? [] : ['aws'])].filter((name) => !executable(path.join(VENV_BIN, name)));
  if (absent.length) {
    say(`pip installed ${wanted.join(', ')}, but .venv/bin has no ${absent.join(' or ')}: run ${installLine} --force-reinstall`);
    return;
  }
  say(`installed ${wanted.join(' and ')} into ${VENV} (./run and the sandbox look in .venv/bin before PATH)${aws.ok ? `; the aws CLI stays ${aws.text}` : ''}`);
}

function lastLine(text) {
  return (text.trim().split('\n').filter(Boolean).pop() ?? '').replace(/\s+/g, ' ').trim();
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    main();
  } catch (err) {
    say(`could not set up the sandbox's Python side (${err?.message ?? err}); run ${SETUP_AGAIN} to try again, or JOHANNA_SKIP_PYTHON=1 to skip it`);
  }
  process.exitCode = 0;
}
