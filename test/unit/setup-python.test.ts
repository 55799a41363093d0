// Issue 26: `npm install`'s Python step (scripts/setup-python.mjs, package.json postinstall).
// Each case runs the script, copied into a checkout of its own in a temp folder (the .venv
// goes next to the script, never into this checkout), with a PATH made for the case:
// stand-in python3 and pip (shell scripts that record their arguments) and nothing else,
// or the real PATH (CI's case: the real aws CLI and moto_server, through pyenv's shims).
import { spawnSync } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { MIN_AWS_CLI } from '../../src/aws/cli.js';
import { awsCliBin } from '../../src/context.js';
import { parseConfig } from '../../src/config/load.js';
import { describeTool, localTool, projectRoot, venvBin } from '../../src/venv.js';
import sandboxJson from '../../env.sandbox.json' with { type: 'json' };

const ROOT = path.resolve(import.meta.dirname, '..', '..');
const SCRIPT = path.join(ROOT, 'scripts', 'setup-python.mjs');
const tmp = mkdtempSync(path.join(os.tmpdir(), 'setup-python-test-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

let n = 0;
/** A checkout with only the script, and a folder for stand-ins and their records. */
function checkout(): { root: string; bin: string; record: string } {
  const base = path.join(tmp, String(n++));
  const root = path.join(base, 'johanna');
  const bin = path.join(base, 'bin');
  const record = path.join(base, 'record');
  for (const d of [path.join(root, 'scripts'), bin, record]) mkdirSync(d, { recursive: true });
  cpSync(SCRIPT, path.join(root, 'scripts', 'setup-python.mjs'));
  return { root, bin, record };
}

function script(file: string, body: string): void {
  writeFileSync(file, `#!/bin/sh\n${body}\n`);
  chmodSync(file, 0o755);
}

/** python3 that records its arguments, says 3.11, and makes a "venv" holding the given pip stand-in. */
function standInPython(c: { bin: string; record: string }, pipBody: string, venv: 'works' | 'no-ensurepip' = 'works'): void {
  script(path.join(c.bin, 'pip-standin'), `printf '%s\\n' "$@" >> ${c.record}/pip.args\n${pipBody}`);
  const makeVenv =
    venv === 'works'
      ? `/usr/bin/mkdir -p "$3/bin" && /usr/bin/cp ${c.bin}/pip-standin "$3/bin/pip" && exit 0`
      : `echo 'The virtual environment was not successfully created because ensurepip is not available.  On Debian/Ubuntu systems, you need to install the python3-venv package' >&2; exit 1`;
  script(
    path.join(c.bin, 'python3'),
    `printf '%s\\n' "$*" >> ${c.record}/python3.args
case "$1" in
  --version) echo 'Python 3.11.2'; exit 0 ;;
  -m) [ "$2" = venv ] && { ${makeVenv}; } ;;
esac
echo "stand-in python3: not expected: $*" >&2; exit 3`,
  );
}

/** What pip prints on a machine that cannot reach PyPI (pip 23, --retries 1). */
const PIP_OFFLINE = `echo "WARNING: Retrying (Retry(total=0, connect=None, read=None, redirect=None, status=None)) after connection broken by 'NewConnectionError('<pip._vendor.urllib3.connection.HTTPSConnection object at 0x7f2c>: Failed to establish a new connection: [Errno -3] Temporary failure in name resolution')': /simple/moto/" >&2
echo "ERROR: Could not find a version that satisfies the requirement moto[server]==5.2.1 (from versions: none)" >&2
echo "ERROR: No matching distribution found for moto[server]==5.2.1" >&2
exit 1`;

function setup(root: string, env: Record<string, string | undefined>) {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('JOHANNA_')));
  const r = spawnSync(process.execPath, [path.join(root, 'scripts', 'setup-python.mjs')], { cwd: root, env: { ...clean, ...env }, encoding: 'utf8', timeout: 60_000 });
  return { exitCode: r.status, stdout: r.stdout, stderr: r.stderr, lines: r.stdout.split('\n').filter(Boolean) };
}

const lines = (file: string) => (existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter(Boolean) : []);

describe('npm install: the Python step', () => {
  it('runs as postinstall and as npm run setup:python', () => {
    const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
    expect(pkg.scripts.postinstall).toBe('node scripts/setup-python.mjs');
    expect(pkg.scripts['setup:python']).toBe('node scripts/setup-python.mjs');
    expect(readFileSync(path.join(ROOT, '.gitignore'), 'utf8').split('\n')).toContain('.venv/');
  });

  it('accepts the aws CLIs the tool accepts (its MIN_AWS_CLI, copied into the plain-Node script)', () => {
    expect(readFileSync(SCRIPT, 'utf8')).toContain(`MIN_AWS_CLI = { 1: [${MIN_AWS_CLI[1].join(', ')}], 2: [${MIN_AWS_CLI[2].join(', ')}] }`);
  });

  it('no aws, no moto_server, no network: exit 0, one line naming what is missing and the exact command; pip asked for the pinned versions in .venv', () => {
    const c = checkout();
    standInPython(c, PIP_OFFLINE);
    const r = setup(c.root, { PATH: c.bin });
    expect(r.exitCode).toBe(0);
    expect(r.lines).toEqual([
      "johanna: no aws CLI on PATH and no moto_server on PATH, and the Python package index cannot be reached, so .venv lacks moto[server]==5.2.1, awscli==1.45.11: " +
        "run .venv/bin/pip install 'moto[server]==5.2.1' awscli==1.45.11 (or npm run setup:python) once it can",
    ]);
    expect(r.stderr).toBe('');
    // The system python3 was asked its version and to make the venv, nothing else; pip was the venv's.
    expect(lines(path.join(c.record, 'python3.args'))).toEqual(['--version', `-m venv ${path.join(c.root, '.venv')}`]);
    const pip = lines(path.join(c.record, 'pip.args'));
    expect(pip[0]).toBe('install');
    expect(pip.slice(-2)).toEqual(['moto[server]==5.2.1', 'awscli==1.45.11']);
  });

  it('pip says it installed them but .venv/bin has neither: exit 0, one line saying so, not "installed"', () => {
    const c = checkout();
    standInPython(c, 'exit 0');
    const r = setup(c.root, { PATH: c.bin });
    expect(r.exitCode).toBe(0);
    expect(r.lines).toEqual([
      "johanna: pip installed moto[server]==5.2.1, awscli==1.45.11, but .venv/bin has no moto_server or aws: run .venv/bin/pip install 'moto[server]==5.2.1' awscli==1.45.11 --force-reinstall",
    ]);
  });

  it('no python3 -m venv (Debian without python3-venv): exit 0, one line with the apt-get command; no pip run', () => {
    const c = checkout();
    standInPython(c, 'exit 0', 'no-ensurepip');
    const r = setup(c.root, { PATH: c.bin });
    expect(r.exitCode).toBe(0);
    expect(r.lines).toHaveLength(1);
    expect(r.lines[0]).toContain('`python3 -m venv` does not work here');
    expect(r.lines[0]).toContain('ensurepip is not available. On Debian/Ubuntu');
    expect(r.lines[0]).toContain(': run sudo apt-get install python3.11-venv (Debian/Ubuntu; elsewhere, install Python\'s venv module), then npm run setup:python');
    expect(lines(path.join(c.record, 'pip.args'))).toEqual([]);
  });

  it('no python3 at all: exit 0, one line saying so and how to get it', () => {
    const c = checkout();
    const r = setup(c.root, { PATH: c.bin });
    expect(r.exitCode).toBe(0);
    expect(r.lines).toEqual([
      'johanna: no aws CLI on PATH and no moto_server on PATH, and python3 is not on PATH, so it cannot set up .venv: ' +
        'install Python 3.9+ with venv (Debian/Ubuntu: sudo apt-get install python3 python3-venv), then run npm run setup:python',
    ]);
  });

  it('JOHANNA_SKIP_PYTHON=1: one line, nothing run', () => {
    const c = checkout();
    standInPython(c, PIP_OFFLINE);
    const r = setup(c.root, { PATH: c.bin, JOHANNA_SKIP_PYTHON: '1' });
    expect(r.exitCode).toBe(0);
    expect(r.lines).toEqual(["johanna: JOHANNA_SKIP_PYTHON=1: not setting up the sandbox's Python side (aws CLI, moto_server)"]);
    expect(lines(path.join(c.record, 'python3.args'))).toEqual([]);
    expect(existsSync(path.join(c.root, '.venv'))).toBe(false);
  });

  it("the real ones on PATH (CI's case): nothing changed, one line naming them", () => {
    const c = checkout();
    const r = setup(c.root, { PATH: process.env.PATH });
    expect(r.exitCode).toBe(0);
    expect(r.lines).toHaveLength(1);
    expect(r.lines[0]).toMatch(/^johanna: the sandbox's Python side is there, nothing to install: aws-cli\/\d+\.\d+\.\d+ \(\S+\/aws, PATH\), moto 5\.\d+\.\d+ \(\S+\/moto_server, PATH\)$/);
    expect(existsSync(path.join(c.root, '.venv'))).toBe(false);
  });
});

describe('the tool finds them: .venv/bin before PATH', () => {
  it('projectRoot is the folder with package.json above the code', () => {
    expect(projectRoot()).toBe(ROOT);
  });

  it('.venv/bin/<name> when it is there and executable, else the name (PATH)', () => {
    const c = checkout();
    expect(venvBin('aws', c.root)).toBeUndefined();
    expect(localTool('moto_server', c.root)).toBe('moto_server');
    mkdirSync(path.join(c.root, '.venv', 'bin'), { recursive: true });
    writeFileSync(path.join(c.root, '.venv', 'bin', 'aws'), '');
    expect(venvBin('aws', c.root)).toBeUndefined(); // not executable
    script(path.join(c.root, '.venv', 'bin', 'aws'), 'exit 0');
    script(path.join(c.root, '.venv', 'bin', 'moto_server'), 'exit 0');
    expect(localTool('moto_server', c.root)).toBe(path.join(c.root, '.venv', 'bin', 'moto_server'));

    const { config } = parseConfig(structuredClone(sandboxJson), 'env.test.json');
    const venvAws = path.join(c.root, '.venv', 'bin', 'aws');
    expect(awsCliBin({}, config, '/etc/johanna/env.json', c.root)).toBe(venvAws);
    // JOHANNA_AWS_CLI and aws.CLI still win over the venv.
    expect(awsCliBin({ JOHANNA_AWS_CLI: '/usr/bin/aws' }, config, '/etc/johanna/env.json', c.root)).toBe('/usr/bin/aws');
    expect(awsCliBin({}, { ...config, aws: { ...config.aws, CLI: 'aws2' } }, '/etc/johanna/env.json', c.root)).toBe('aws2');

    expect(describeTool(venvAws)).toBe(`${venvAws} (.venv)`);
    expect(describeTool('aws', path.join(c.root, '.venv', 'bin'))).toBe(`aws (${venvAws} on PATH)`);
    expect(describeTool('aws', c.record)).toBe('aws (not on PATH)');
    expect(describeTool('/usr/bin/aws')).toBe('/usr/bin/aws');
  });
});
