// Issue 26: what `npm install` puts into .venv/bin is what ./run and the sandbox then run.
// A copy of the checkout of its own (run, package.json, dist/, scripts/, node_modules
// linked), so the .venv is never this checkout's. Its Python step runs with a PATH that
// has no aws and no moto_server, and a stand-in python3 whose venv's pip "installs" them:
// wrappers that record each run and then exec the real aws CLI and moto_server (CI cannot
// reach the package index). Then `./run sandbox start`, `sandbox status` and `./run -v --
// aws ...` run with the real PATH, where the real ones are too: they must take .venv's and
// say so.
import { spawnSync } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../sandbox/ports.js';
import { onPath } from '../../src/venv.js';
import { ROOT } from '../helpers/sandbox-phase.js';
import { sandboxPhaseConfig } from '../helpers/bench-phase.js';
import { cliEnv } from '../helpers/cli.js';

let base: string;
let checkout: string;
let standIns: string;
let record: string;

function script(file: string, body: string): void {
  writeFileSync(file, `#!/bin/sh\n${body}\n`);
  chmodSync(file, 0o755);
}

/** The real program on this PATH, for the wrappers to exec; the test needs them as every e2e test does. */
function real(name: string): string {
  const found = onPath(name);
  if (!found) throw new Error(`${name} is not on PATH; the e2e tests need the real aws CLI, moto_server and python3`);
  return found;
}

beforeAll(() => {
  base = mkdtempSync(path.join(os.tmpdir(), 'johanna-venv-'));
  checkout = path.join(base, 'johanna');
  standIns = path.join(base, 'bin');
  record = path.join(base, 'record');
  for (const d of [path.join(checkout, 'scripts'), standIns, record]) mkdirSync(d, { recursive: true });
  for (const f of ['run', 'package.json', 'scripts/setup-python.mjs']) cpSync(path.join(ROOT, f), path.join(checkout, f));
  cpSync(path.join(ROOT, 'dist'), path.join(checkout, 'dist'), { recursive: true });
  symlinkSync(path.join(ROOT, 'node_modules'), path.join(checkout, 'node_modules'));
  // The policies the sandbox's caller holds by default (sandbox/iam/policies.ts reads them from the checkout).
  cpSync(path.join(ROOT, 'examples'), path.join(checkout, 'examples'), { recursive: true });
  mkdirSync(path.join(checkout, 'sandbox', 'iam'), { recursive: true });
  cpSync(path.join(ROOT, 'sandbox', 'iam', 'AdministratorAccess-AWSElasticBeanstalk.json'), path.join(checkout, 'sandbox', 'iam', 'AdministratorAccess-AWSElasticBeanstalk.json'));

  // What pip would install: console scripts in .venv/bin; these record and run the real ones.
  for (const name of ['aws', 'moto_server']) {
    script(path.join(standIns, `${name}-wrapper`), `printf '%s\\n' "${name} $*" >> ${record}/used\nexec ${real(name)} "$@"`);
  }
  script(path.join(standIns, 'python-wrapper'), `exec ${real('python3')} "$@"`);
  script(
    path.join(standIns, 'pip-standin'),
    `printf '%s\\n' "$*" >> ${record}/pip.args
bin="\${0%/*}"
/usr/bin/cp ${standIns}/aws-wrapper "$bin/aws" && /usr/bin/cp ${standIns}/moto_server-wrapper "$bin/moto_server"`,
  );
  script(
    path.join(standIns, 'python3'),
    `case "$1" in
  --version) echo 'Python 3.11.7'; exit 0 ;;
  -m) [ "$2" = venv ] && /usr/bin/mkdir -p "$3/bin" && /usr/bin/cp ${standIns}/pip-standin "$3/bin/pip" && /usr/bin/cp ${standIns}/python-wrapper "$3/bin/python" && exit 0 ;;
esac
exit 3`,
  );
});

afterAll(async () => {
  if (checkout) {
    await run(['sandbox', 'stop', '--all']);
    rmSync(base, { recursive: true, force: true });
  }
});

async function run(args: string[]) {
  const r = await execa(path.join(checkout, 'run'), args, { cwd: checkout, reject: false, stdin: 'ignore', timeout: 180_000, env: cliEnv({ JOHANNA_AWS_CLI: undefined }), extendEnv: false });
  return { exitCode: r.exitCode, stdout: String(r.stdout), stderr: String(r.stderr) };
}

function setup(pathVar: string) {
  const r = spawnSync(process.execPath, ['scripts/setup-python.mjs'], { cwd: checkout, env: cliEnv({ PATH: pathVar, JOHANNA_AWS_CLI: undefined }), encoding: 'utf8', timeout: 60_000 });
  return { exitCode: r.status, lines: r.stdout.split('\n').filter(Boolean) };
}

const used = () => (existsSync(path.join(record, 'used')) ? readFileSync(path.join(record, 'used'), 'utf8').split('\n').filter(Boolean) : []);

describe('the tools npm install put into .venv', () => {
  it('the Python step installs them into .venv; ./run sandbox start and -v then run those, not the ones on PATH, and say so', async () => {
    const venvBin = path.join(checkout, '.venv', 'bin');
    const installed = setup(standIns);
    expect(installed.exitCode).toBe(0);
    expect(installed.lines).toEqual([
      `johanna: installed moto[server]==5.2.1 and awscli==1.45.11 into ${path.join(checkout, '.venv')} (./run and the sandbox look in .venv/bin before PATH)`,
    ]);
    expect(readFileSync(path.join(record, 'pip.args'), 'utf8')).toMatch(/^install .* moto\[server\]==5\.2\.1 awscli==1\.45\.11\n$/);

    // Run again, now with the real ones on PATH too: .venv's are good enough, nothing installed.
    const again = setup(process.env.PATH ?? '');
    expect(again.lines).toHaveLength(1);
    expect(again.lines[0]).toMatch(
      new RegExp(`^johanna: the sandbox's Python side is there, nothing to install: aws-cli/1\\.45\\.\\d+ \\(${venvBin}/aws, \\.venv\\), moto 5\\.\\d+\\.\\d+ \\(${venvBin}/moto_server, \\.venv\\)$`),
    );
    expect(readFileSync(path.join(record, 'pip.args'), 'utf8').split('\n').filter(Boolean)).toHaveLength(1);

    rmSync(path.join(record, 'used'), { force: true }); // the second set-up asked .venv's aws its version
    const [port, routerPort] = [await freePort(), await freePort()];
    const config = path.join(checkout, 'env.venv.json');
    writeFileSync(config, JSON.stringify(sandboxPhaseConfig({ phase: 'venv', endpoint: `http://127.0.0.1:${port}`, router: `127.0.0.1:${routerPort}` }), null, 2));
    const start = await run(['-e', config, 'sandbox', 'start', '--json']);
    expect(start.exitCode, start.stderr).toBe(0);
    expect(JSON.parse(start.stdout).motoServer).toBe(path.join(venvBin, 'moto_server'));
    expect(used().filter((l) => l.startsWith('moto_server '))).toEqual([expect.stringMatching(/^moto_server -H 127\.0\.0\.1 -p \d+$/)]);

    const sandboxStatus = await run(['-e', config, 'sandbox', 'status']);
    expect(sandboxStatus.stdout).toContain(`  moto_server: ${venvBin}/moto_server (.venv)`);

    // -v names the aws CLI the run uses; the one call of a passthrough costs less than status's
    // dozen (sandbox-control.test.ts checks status's lines for the tools on PATH).
    const call = await run(['-e', config, '-v', '-f', '--', 'aws', 'sts', 'get-caller-identity']);
    expect(call.exitCode, call.stderr).toBe(0);
    expect(call.stderr).toMatch(new RegExp(`aws CLI: ${venvBin}/aws \\(\\.venv\\) aws-cli/1\\.45\\.\\d+ `));
    expect(call.stderr).toContain(`sandbox: moto_server ${venvBin}/moto_server (.venv)`);
    // Every aws process of the run was .venv's: its --version, then the call.
    expect(used().filter((l) => l.startsWith('aws ')).map((l) => l.split(' ').slice(0, 3).join(' '))).toEqual(['aws --version', 'aws sts get-caller-identity']);
  });
});
