// `./run -- aws ...` against a real moto server with the real aws CLI, and
// `cd nova; ../run -- eb ...` with an `eb` stand-in first on PATH (the EB CLI is not
// installable here). The config is env.sandbox.json pointed at our own endpoint, so the
// aws CLI gets dummy credentials and never leaves this machine.
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  cliEnv,
  FIXTURES,
  freePort,
  prependPath,
  rmrf,
  ROOT,
  run,
  sandboxConfig,
  startMoto,
  startSandboxFront,
  tempDir,
  writeJson,
  writeScript,
  type Server,
} from '../helpers/cli.js';

// Its own phase in each project: both projects run this file, and may run it at once, and a
// run log of one must not land among the other's (logs/<phase>/).
const PHASE = process.env.JOHANNA_TEST_PROJECT === 'awscli-v2' ? 'pt2' : 'pt';
const LOGS = path.join(ROOT, 'logs', PHASE);
const NOVA = path.join(ROOT, 'nova');
const SECRET = 'pt-Secret-Value-0123456789abcdef';

let moto: Server;
let front: Server;
let tmp: string;
let cfg: string;
let env: Record<string, string | undefined>;
let ebLog: string;

/** Keys sorted at every depth, the order ./run prints. */
function sortDeep(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortDeep);
  if (v && typeof v === 'object') return Object.fromEntries(Object.keys(v).sort().map((k) => [k, sortDeep((v as Record<string, unknown>)[k])]));
  return v;
}

function runLogsNow(): Set<string> {
  return new Set(existsSync(LOGS) ? readdirSync(LOGS) : []);
}

function newRunLog(before: Set<string>): string {
  const added = [...runLogsNow()].filter((f) => !before.has(f) && f.endsWith('.jsonl'));
  expect(added, 'exactly one new run log').toHaveLength(1);
  return readFileSync(path.join(LOGS, added[0]), 'utf8');
}

beforeAll(async () => {
  tmp = tempDir('passthrough');
  moto = await startMoto();
  // moto answers everything but /_sandbox/status, the probe ./run uses to see that a
  // sandbox is up (see the it.fails below); the front answers it and forwards the rest.
  front = await startSandboxFront(moto.url);
  const c = sandboxConfig();
  c.common.PHASE = PHASE;
  c.sandbox.ENDPOINT = front.url;
  c.sandbox.ROUTER = `127.0.0.1:${await freePort()}`;
  cfg = writeJson(path.join(tmp, 'pt.json'), c);

  const bin = path.join(tmp, 'bin');
  // The stand-in's "Python": asked `-c 'import botocore; ...'` it answers $FAKE_BOTOCORE
  // (what ./run asks of a sandbox phase's eb, R55); run as eb's interpreter, it is eb.
  const python = writeScript(bin, 'fake-python', `#!/bin/sh\nif [ "$1" = "-c" ]; then echo "\${FAKE_BOTOCORE:-1.35.0}"; exit 0; fi\nshift\nexec '${process.execPath}' '${path.join(FIXTURES, 'eb-standin.mjs')}' "$@"\n`);
  writeScript(bin, 'eb', `#!${python}\n`);
  ebLog = path.join(tmp, 'eb-calls.jsonl');
  env = cliEnv({ PATH: prependPath(bin), EB_STANDIN_LOG: ebLog });
});

afterAll(async () => {
  // The eb passthrough of a sandbox phase wrote nova/.elasticbeanstalk/config.yml (ours only).
  const ebConfig = path.join(NOVA, '.elasticbeanstalk', 'config.yml');
  if (existsSync(ebConfig) && readFileSync(ebConfig, 'utf8').startsWith('# Written by johanna')) rmSync(ebConfig);
  await front?.stop();
  await moto?.stop();
  if (tmp) rmrf(tmp);
  rmrf(LOGS);
});

beforeEach(() => rmSync(ebLog, { force: true }));

function ebCalls(): { argv: string[]; cwd: string; env: Record<string, string | null> }[] {
  return existsSync(ebLog) ? readFileSync(ebLog, 'utf8').trim().split('\n').map((l) => JSON.parse(l)) : [];
}

describe('./run -- aws', () => {
  it('prints the answer as pretty JSON, keys sorted, 4-space indented; exit 0', async () => {
    const r = await run(['-e', cfg, '-f', '--', 'aws', 'ec2', 'describe-vpcs'], { env });
    expect(r.stderr).not.toContain('error');
    expect(r.exitCode).toBe(0);
    const parsed = JSON.parse(r.stdout);
    expect(parsed.Vpcs.length).toBeGreaterThan(0); // moto's default VPC
    expect(r.stdout).toBe(JSON.stringify(sortDeep(parsed), null, 4) + '\n');
    expect(r.stdout).toMatch(/^\{\n {4}"Vpcs": \[\n {8}\{\n {12}"/);
    const keys = Object.keys(parsed.Vpcs[0]);
    expect(keys).toEqual([...keys].sort());
    expect(keys).toContain('CidrBlock');
  });

  it('an aws error: aws\'s own exit code (254/255), its message on stderr, nothing on stdout', async () => {
    const r = await run(['-e', cfg, '-f', '--', 'aws', 'ec2', 'describe-vpcs', '--vpc-ids', 'vpc-nope'], { env });
    expect([254, 255]).toContain(r.exitCode);
    expect(r.stderr).toContain('InvalidVpcID.NotFound');
    expect(r.stdout).toBe('');
  });

  it('an aws usage error: aws\'s own exit code (2 for v1 argument errors is aws\'s, not ours)', async () => {
    const r = await run(['-e', cfg, '-f', '--', 'aws', 'ec2', 'describe-vpcz'], { env });
    expect(r.exitCode).not.toBe(0);
    expect(r.stderr).toMatch(/Invalid choice|usage: aws/);
  });

  it('--output text is printed as is', async () => {
    const r = await run(['-e', cfg, '-f', '--', 'aws', 'ec2', 'describe-vpcs', '--output', 'text'], { env });
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toMatch(/^VPCS\t/m);
    // The same CLI as ./run's (the second test pass runs v2, which needs --endpoint-url).
    const direct = await execa(process.env.JOHANNA_AWS_CLI || 'aws', ['ec2', 'describe-vpcs', '--output', 'text', '--endpoint-url', front.url], {
      reject: false,
      env: { AWS_ENDPOINT_URL: front.url, AWS_ACCESS_KEY_ID: 'sandbox', AWS_SECRET_ACCESS_KEY: 'sandbox', AWS_DEFAULT_REGION: 'ap-northeast-2', AWS_EC2_METADATA_DISABLED: 'true' },
      stripFinalNewline: false,
    });
    expect(direct.exitCode).toBe(0);
    expect(r.stdout).toBe(direct.stdout);
  });

  it('--json: one object {ok, exitCode, output} with the parsed answer', async () => {
    const r = await run(['--json', '-e', cfg, '-f', '--', 'aws', 'ec2', 'describe-vpcs'], { env });
    expect(r.exitCode).toBe(0);
    const doc = JSON.parse(r.stdout);
    expect(doc).toMatchObject({ ok: true, command: 'aws', exitCode: 0 });
    expect(Array.isArray(doc.output.Vpcs)).toBe(true);
  });

  it('--json on an aws error: ok:false with aws\'s exit code', async () => {
    const r = await run(['--json', '-e', cfg, '-f', '--', 'aws', 'ec2', 'describe-vpcs', '--vpc-ids', 'vpc-nope'], { env });
    expect([254, 255]).toContain(r.exitCode);
    expect(JSON.parse(r.stdout)).toMatchObject({ ok: false, command: 'aws', exitCode: r.exitCode });
  });

  it('the confirmation can be piped instead of -f', async () => {
    const r = await run(['-e', cfg, '--', 'aws', 'sts', 'get-caller-identity'], { env, stdin: 'pipe', input: `${PHASE}\n` });
    expect(r.exitCode).toBe(0);
    expect(JSON.parse(r.stdout)).toHaveProperty('Account');
  });

  it('secrets: neither -v output nor the run log contains a secret from the environment', async () => {
    const webhook = 'https://hooks.slack.com/services/T0000/B0000/ptptptptptptptpt';
    const secretEnv = { ...env, AWS_SECRET_ACCESS_KEY: SECRET, AWS_SESSION_TOKEN: `${SECRET}-token`, SLACK_WEBHOOK_URL: webhook };
    const before = runLogsNow();
    const ok = await run(['-v', '-e', cfg, '-f', '--', 'aws', 'ec2', 'describe-vpcs', '--filters', `Name=tag:token,Values=${SECRET}`], { env: secretEnv });
    expect(ok.exitCode).toBe(0);
    const okLog = newRunLog(before);

    const before2 = runLogsNow();
    const bad = await run(['-v', '-e', cfg, '-f', '--', 'aws', 'ec2', 'describe-vpcs', '--vpc-ids', `vpc-${SECRET}`, '--filters', `Name=tag:hook,Values=${webhook}`], { env: secretEnv });
    expect([254, 255]).toContain(bad.exitCode);
    const badLog = newRunLog(before2);

    for (const text of [ok.stdout, ok.stderr, okLog, bad.stdout, bad.stderr, badLog]) {
      expect(text).not.toContain(SECRET);
      expect(text).not.toContain('ptptptptptptptpt');
    }
    // -v printed the command line, redacted, with its duration
    // (with the sandbox's --endpoint-url, and v2's switches in the second test pass)
    expect(ok.stderr).toMatch(/\$ aws ec2 describe-vpcs --filters 'Name=tag:token,Values=\*\*\*' --endpoint-url http:\/\/127\.0\.0\.1:\d+( --no-cli-pager --no-cli-auto-prompt)? {2}\(\d+\.\d\ds, exit 0\)/);
    // aws echoed the id in its error: that is redacted too
    expect(bad.stderr).toContain('InvalidVpcID.NotFound');
    expect(bad.stderr).toContain('***');

    // The run log's calls (its first line says which aws CLI ran them).
    const [rec] = okLog.trim().split('\n').map((l) => JSON.parse(l)).filter((l) => l.tool);
    expect(rec).toMatchObject({ tool: 'aws', exitCode: 0, mutating: false });
    expect(rec.args.slice(0, 6)).toEqual(['ec2', 'describe-vpcs', '--filters', 'Name=tag:token,Values=***', '--endpoint-url', front.url]);
    const [badRec] = badLog.trim().split('\n').map((l) => JSON.parse(l)).filter((l) => l.tool);
    expect(badRec.exitCode).toBe(bad.exitCode);
  });

  // The contract starts a sandbox only if nothing answers at ENDPOINT: a plain moto (or any
  // other stand-in) answers 404 at /_sandbox/status, and must be used, not fought for the port.
  it('a sandbox ENDPOINT where a plain moto server answers is used as is (no sandbox started)', async () => {
    const c = sandboxConfig();
    c.common.PHASE = PHASE;
    c.sandbox.ENDPOINT = moto.url;
    c.sandbox.ROUTER = `127.0.0.1:${await freePort()}`;
    const plain = writeJson(path.join(tmp, 'plain-moto.json'), c);
    const r = await run(['-e', plain, '-f', '--', 'aws', 'ec2', 'describe-vpcs'], { env });
    expect(r.stderr).not.toContain('starting the local sandbox');
    expect(r.exitCode).toBe(0);
  });
});

describe('cd nova; ../run -- eb', () => {
  const runEb = (args: string[], extra: Record<string, string | undefined> = {}) =>
    execa('../run', ['-e', cfg, '-f', ...args], { cwd: NOVA, reject: false, extendEnv: false, env: { ...env, ...extra }, stdin: 'ignore', stripFinalNewline: false, timeout: 60_000 });

  it('runs eb in the caller\'s folder with the args as given; output streamed; eb\'s exit code', async () => {
    const r = await runEb(['--', 'eb', 'list']);
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toBe('* nova-1470577190\n  nova-1470573984\n');
    const calls = ebCalls();
    expect(calls).toHaveLength(1);
    // eb's own --endpoint-url sets its Elastic Beanstalk client's endpoint (R55)
    expect(calls[0].argv).toEqual(['list', '--endpoint-url', front.url]);
    expect(calls[0].cwd).toBe(NOVA);
    // with the phase's region and the sandbox endpoint and dummy credentials
    expect(calls[0].env).toMatchObject({ AWS_DEFAULT_REGION: 'ap-northeast-2', AWS_REGION: 'ap-northeast-2', AWS_ENDPOINT_URL: front.url, AWS_ACCESS_KEY_ID: 'sandbox', AWS_SECRET_ACCESS_KEY: 'sandbox', AWS_EC2_METADATA_DISABLED: 'true' });
  });

  it('options after the eb command reach eb untouched', async () => {
    const r = await runEb(['--', 'eb', 'list', '--region', 'ap-northeast-2', '-v']);
    expect(r.exitCode).toBe(0);
    expect(ebCalls()[0].argv).toEqual(['list', '--region', 'ap-northeast-2', '-v', '--endpoint-url', front.url]);
  });

  it("a sandbox phase: nova/.elasticbeanstalk/config.yml names the phase's application and region, so eb needs no eb init", async () => {
    const r = await runEb(['--', 'eb', 'status']);
    expect(r.exitCode).toBe(0);
    const written = readFileSync(path.join(NOVA, '.elasticbeanstalk', 'config.yml'), 'utf8');
    expect(written).toMatch(/^# Written by johanna/);
    expect(written).toContain('  application_name: dv\n');
    expect(written).toContain('  default_region: ap-northeast-2\n');
  });

  it('an eb whose botocore ignores AWS_ENDPOINT_URL (before 1.31) is refused on a sandbox phase: exit 2 naming the fix, eb never run (R55)', async () => {
    const r = await runEb(['--', 'eb', 'list'], { FAKE_BOTOCORE: '1.29.164' });
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain('botocore 1.29.164, which ignores AWS_ENDPOINT_URL');
    expect(r.stderr).toContain('pip install --upgrade awsebcli botocore');
    expect(ebCalls()).toEqual([]);
    expect((await runEb(['--', 'eb', 'list'], { FAKE_BOTOCORE: '1.31.0' })).exitCode).toBe(0);
  });

  it('read-only eb commands and read-only aws calls ask no confirmation and are logged as reads; a changing eb command asks', async () => {
    const quiet = (args: string[]) =>
      execa('../run', ['-e', cfg, ...args], { cwd: NOVA, reject: false, extendEnv: false, env, stdin: 'ignore', timeout: 60_000 });
    for (const args of [['list'], ['status'], ['health'], ['events'], ['printenv'], ['logs'], ['config', '--display'], ['tags', '--list'], ['platform', 'show'], ['appversion']]) {
      const before = runLogsNow();
      const r = await quiet(['--', 'eb', ...args]);
      expect(r.exitCode, `eb ${args.join(' ')}: ${r.stderr}`).toBe(0);
      expect(r.stderr, args.join(' ')).not.toContain('Please type in the name of phase');
      const log = newRunLog(before).trim().split('\n').map((l) => JSON.parse(l));
      expect(log.find((l) => l.tool === 'eb'), args.join(' ')).toMatchObject({ mutating: false });
    }
    const read = await execa('../run', ['-e', cfg, '--', 'aws', 'ec2', 'describe-vpcs'], { cwd: NOVA, reject: false, extendEnv: false, env, stdin: 'ignore', timeout: 60_000 });
    expect(read.exitCode).toBe(0);
    expect(read.stderr).not.toContain('Please type in the name of phase');
    rmSync(ebLog, { force: true });
    for (const args of [['deploy'], ['setenv', 'A=1'], ['config'], ['appversion', '--delete', 'v1']]) {
      const r = await quiet(['--', 'eb', ...args]);
      expect(r.exitCode, `eb ${args.join(' ')}`).not.toBe(0);
      expect(r.stderr, args.join(' ')).toContain('Please type in the name of phase');
    }
    expect(ebCalls(), 'no changing eb command ran unconfirmed').toEqual([]);
  });

  it('a non-zero exit of eb is ./run\'s exit code, its stderr passed on', async () => {
    const r = await runEb(['--', 'eb', 'status'], { EB_STANDIN_EXIT: '4', EB_STANDIN_STDERR: 'ERROR: NotFoundError - no environment' });
    expect(r.exitCode).toBe(4);
    expect(r.stderr).toContain('ERROR: NotFoundError - no environment');
    expect(r.stdout).toContain('Environment details for: nova-1470577190');
  });

  it('--json -- eb list: {environments, current}', async () => {
    const r = await runEb(['--json', '--', 'eb', 'list']);
    expect(r.exitCode).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({
      ok: true,
      command: 'eb',
      exitCode: 0,
      output: { environments: ['nova-1470577190', 'nova-1470573984'], current: 'nova-1470577190' },
    });
  });

  it('--json -- eb status: the parsed status', async () => {
    const r = await runEb(['--json', '--', 'eb', 'status']);
    expect(r.exitCode).toBe(0);
    const doc = JSON.parse(r.stdout);
    expect(doc).toMatchObject({ ok: true, command: 'eb', exitCode: 0 });
    expect(doc.output).toMatchObject({
      Environment: 'nova-1470577190',
      'Application name': 'dv',
      Region: 'ap-northeast-2',
      'Deployed Version': 'app-160807_134429',
      'Environment ID': 'e-mpcuqzwfds',
      Tier: 'WebServer-Standard-1.0',
      CNAME: null,
      Updated: '2016-08-07 13:44:29.123000+00:00',
      Status: 'Ready',
      Health: 'Green',
    });
    expect(doc.output.Platform).toMatch(/^arn:aws:elasticbeanstalk:/);
  });

  it('--json with a failing eb: ok:false and eb\'s exit code', async () => {
    const r = await runEb(['--json', '--', 'eb', 'list'], { EB_STANDIN_EXIT: '3' });
    expect(r.exitCode).toBe(3);
    expect(JSON.parse(r.stdout)).toMatchObject({ ok: false, exitCode: 3 });
  });

  it('eb not on PATH: a clear message naming how to install it, exit 1', async () => {
    const bare = path.join(tmp, 'bare-bin');
    // only node (for ./run itself), no eb anywhere on PATH
    writeScript(bare, 'node', `#!/bin/sh\nexec '${process.execPath}' "$@"\n`);
    const r = await runEb(['--', 'eb', 'list'], { PATH: bare });
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toContain('the eb CLI is not on PATH');
    expect(r.stderr).toContain('pip install awsebcli');
    expect(r.stderr).not.toContain('internal error');
  });
});

describe('./run --dry-run -- aws', () => {
  // The contract: --dry-run runs the read-only calls and prints each mutating one as
  // `! aws ...` instead of running it, passthrough included.
  it('a mutating passthrough is printed as `! aws ...`, not run', async () => {
    const cidr = '10.99.0.0/16';
    const r = await run(['--dry-run', '-e', cfg, '-f', '--', 'aws', 'ec2', 'create-vpc', '--cidr-block', cidr], { env });
    const after = await run(['--json', '-e', cfg, '-f', '--', 'aws', 'ec2', 'describe-vpcs', '--filters', `Name=cidr,Values=${cidr}`], { env });
    expect(JSON.parse(after.stdout).output.Vpcs, 'the dry run created the VPC').toEqual([]);
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toContain(`! aws ec2 create-vpc --cidr-block ${cidr}`);
  });

  it('a read-only passthrough still runs', async () => {
    const r = await run(['--dry-run', '-e', cfg, '-f', '--', 'aws', 'ec2', 'describe-vpcs'], { env });
    expect(r.exitCode).toBe(0);
    expect(JSON.parse(r.stdout).Vpcs.length).toBeGreaterThan(0);
  });
});
