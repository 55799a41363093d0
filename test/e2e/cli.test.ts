// ./run as users and cron jobs run it: the built CLI, argument arrays, exit codes from the
// contract (shared/spec/interface.md). None of these tests may reach AWS: a fake `aws`
// first on PATH records any call in a marker file, and each test says whether it may exist.
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { cliEnv, fakeAwsBin, prependPath, rmrf, ROOT, run, sampleConfig, tempDir, writeJson, writeScript } from '../helpers/cli.js';
import { COMMANDS } from '../../src/commands/registry.js';

const PHASE = 'e2ecli';
let tmp: string;
let marker: string;
let bin: string;
let env: Record<string, string | undefined>;
let goodCfg: string;
let badCfg: string;

beforeAll(() => {
  tmp = tempDir('cli');
  marker = path.join(tmp, 'aws-called');
  bin = fakeAwsBin(tmp, marker);
  // The fake aws on PATH, not the run's aws CLI (npm test's fork server, the v2 pass's v2).
  env = cliEnv({ PATH: prependPath(bin), JOHANNA_AWS_CLI: undefined });
  const good = sampleConfig();
  good.common.PHASE = PHASE;
  goodCfg = writeJson(path.join(tmp, 'good.json'), good);
  const bad = sampleConfig();
  bad.common.AWS_VPC_EB = '10.210.0.1/16';
  bad.nova.CNAME = 'Dv_Nova';
  bad.aws.AWS_AVAILABILITY_ZONE_2 = 'ap-northeast-2a';
  bad.common.PHASE = 'DV';
  badCfg = writeJson(path.join(tmp, 'bad.json'), bad);
});
beforeEach(() => rmSync(marker, { force: true }));
afterAll(() => {
  rmrf(tmp);
  rmrf(path.join(ROOT, 'logs', PHASE));
});

const awsWasCalled = () => existsSync(marker);
const PRIVATE_KEY = '-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUPRIVATEKEYBODY\n-----END OPENSSH PRIVATE KEY-----';

describe('usage', () => {
  it('no command: "How to Play" with every command and the passthrough examples on stdout, exit 0', async () => {
    const r = await run([], { env });
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toMatch(/^How to Play\n/);
    for (const c of COMMANDS) expect(r.stdout).toContain(`./run ${c.name} `);
    for (const name of ['create', 'create_vpc', 'create_nova', 'terminate', 'terminate_nova', 'terminate_vpc', 'terminate_eb_old_environment', 'status', 'rollback']) {
      expect(r.stdout).toMatch(new RegExp(`\\./run ${name}\\s`));
    }
    expect(r.stdout).toContain('./run sandbox start|stop|status');
    expect(r.stdout).toContain("./run -- aws ec2 describe-instances");
    expect(r.stdout).toContain('cd nova; ../run -- eb list');
    for (const opt of ['-f, --force', '-e, --env', '--dry-run', '-v, --verbose', '--json', '--grace-minutes', '--no-color']) expect(r.stdout).toContain(opt);
    expect(r.stderr).toBe('');
    expect(awsWasCalled()).toBe(false);
  });

  it('-h prints the usage too, exit 0', async () => {
    const r = await run(['-h'], { env });
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toMatch(/^How to Play/);
  });

  it('an unknown command: the nearest one on stderr, not the whole usage (issue 22 item 5), exit 2, nothing on stdout', async () => {
    const r = await run(['deploy'], { env });
    expect(r.exitCode).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain('unknown command: deploy; did you mean create_nova? (./run create_nova --help shows what it does');
    expect(r.stderr).not.toContain('How to Play');
    const typo = await run(['stauts'], { env });
    expect(typo.stderr).toContain('did you mean status?');
    expect(awsWasCalled()).toBe(false);
  });

  it('an unknown command nothing is near: the usage on stderr, exit 2', async () => {
    const r = await run(['frobnicate'], { env });
    expect(r.exitCode).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain('unknown command: frobnicate');
    expect(r.stderr).toContain('How to Play');
  });

  it('./run help <command> shows the same example as <command> --help (issue 22 item 6)', async () => {
    // Two commands stand for all: the text comes from the one registry entry either way.
    for (const c of COMMANDS.filter((c) => ['create_nova', 'history'].includes(c.name))) {
      const viaHelp = await run(['help', c.name], { env });
      const viaFlag = await run([c.name, '--help'], { env });
      expect(viaHelp.stdout, c.name).toContain(`Example:\n  ${c.example}`);
      expect(viaHelp.stdout.trimEnd(), c.name).toBe(viaFlag.stdout.trimEnd());
    }
  });

  it('an unknown option: exit 2', async () => {
    const r = await run(['--frobnicate', 'status'], { env });
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(/unknown option '--frobnicate'/);
    expect(awsWasCalled()).toBe(false);
  });

  it('an option missing its value, or a bad number: exit 2', async () => {
    for (const args of [['status', '-e'], ['--grace-minutes', 'soon', 'terminate_eb_old_environment'], ['--grace-minutes', '-5', 'status']]) {
      const r = await run(args, { env });
      expect(r.exitCode, args.join(' ')).toBe(2);
    }
    expect(awsWasCalled()).toBe(false);
  });

  it('a command with extra arguments, or nothing after --: exit 2', async () => {
    expect((await run(['-e', goodCfg, 'status', 'now'], { env })).exitCode).toBe(2);
    expect((await run(['-e', goodCfg, '--'], { env })).exitCode).toBe(2);
    expect(awsWasCalled()).toBe(false);
  });

  it('something other than aws or eb after --: exit 2, no process started', async () => {
    const r = await run(['-e', goodCfg, '-f', '--', 'ls', '-l'], { env });
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain("after -- comes aws or eb, not 'ls'");
    expect(awsWasCalled()).toBe(false);
  });

  it('a kebab-case alias resolves (create-vpc): it gets as far as the config check', async () => {
    const r = await run(['-e', badCfg, 'create-vpc'], { env });
    expect(r.exitCode).toBe(2);
    expect(r.stderr).not.toContain('unknown command');
    expect(r.stderr).toContain('nova.CNAME');
    expect(awsWasCalled()).toBe(false);
  });
});

describe('per-command help, --version and options', () => {
  it("<command> --help: that command's summary, its own options, the global ones and an example; exit 0, no aws", async () => {
    const r = await run(['terminate_eb_old_environment', '--help'], { env });
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toContain('Usage: ./run terminate_eb_old_environment');
    expect(r.stdout).toContain('--grace-minutes <n>');
    expect(r.stdout).toContain('--lock-wait <minutes>');
    expect(r.stdout).toMatch(/Global Options:[\s\S]*-e, --env <file>/);
    expect(r.stdout).toMatch(/Example:\n {2}\.\/run .*terminate_eb_old_environment/);
    expect(r.stdout).not.toContain('How to Play');
    const status = await run(['help', 'status'], { env });
    expect(status.exitCode).toBe(0);
    expect(status.stdout).toContain('Usage: ./run status');
    expect(status.stdout).not.toContain('--lock-wait');
    expect(awsWasCalled()).toBe(false);
  });

  it('--version prints the version of package.json, exit 0', async () => {
    const r = await run(['--version'], { env });
    expect(r.exitCode).toBe(0);
    expect(r.stdout.trim()).toBe(JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')).version);
  });

  it("a command's own option elsewhere: exit 2, naming the command it belongs to, no aws", async () => {
    const grace = await run(['-e', goodCfg, '--grace-minutes', '5', 'status'], { env });
    expect(grace.exitCode).toBe(2);
    expect(grace.stderr).toContain("unknown option '--grace-minutes'");
    expect(grace.stderr).toContain('--grace-minutes belongs to terminate_eb_old_environment');
    const lockWait = await run(['-e', goodCfg, 'status', '--lock-wait', '1'], { env });
    expect(lockWait.exitCode).toBe(2);
    expect(lockWait.stderr).toContain('--lock-wait belongs to the commands that change the phase');
    expect(awsWasCalled()).toBe(false);
  });

  it("a command's own option before or after its name (the contract's ./run [options] <command>): accepted", async () => {
    for (const args of [
      ['-f', '--grace-minutes', '0', '-e', goodCfg, 'terminate-eb-old-environment'],
      ['-f', '-e', goodCfg, 'terminate_eb_old_environment', '--grace-minutes', '0', '--lock-wait', '0'],
    ]) {
      const r = await run(args, { env });
      // Past the argument parsing and the config: it reaches the (fake) aws CLI and fails there.
      expect(r.exitCode, args.join(' ')).toBe(1);
      expect(r.stderr, args.join(' ')).toContain('fake aws');
    }
  });
});

describe('config errors stop before any aws process', () => {
  it('-e pointing at a missing env.json: exit 2, says to copy env.sample.json', async () => {
    const missing = path.join(tmp, 'nowhere', 'env.json');
    const r = await run(['-e', missing, 'create_vpc'], { env });
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain(missing);
    expect(r.stderr).toContain('no such config file');
    expect(r.stderr).toContain('env.sample.json');
    expect(awsWasCalled()).toBe(false);
  });

  it('-e pointing at a missing file of another name: exit 2, points at the -e path', async () => {
    const missing = path.join(tmp, 'prod.json');
    const r = await run(['-e', missing, '-f', 'create_nova'], { env });
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain(missing);
    expect(r.stderr).toMatch(/-e\/--env or JOHANNA_ENV/);
    expect(awsWasCalled()).toBe(false);
  });

  it('JOHANNA_ENV naming a missing env.json in another folder: exit 2, says to copy env.sample.json', async () => {
    const dir = path.join(tmp, 'johanna-env');
    mkdirSync(dir, { recursive: true });
    const r = await run(['-f', 'status'], { env: { ...env, JOHANNA_ENV: path.join(dir, 'env.json') } });
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain(path.join(dir, 'env.json'));
    expect(r.stderr).toContain('env.sample.json');
    expect(awsWasCalled()).toBe(false);
  });

  it('-e wins over JOHANNA_ENV', async () => {
    const r = await run(['-e', badCfg, 'status'], { env: { ...env, JOHANNA_ENV: path.join(tmp, 'nowhere.json') } });
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain(badCfg);
    expect(r.stderr).not.toContain('nowhere.json');
  });

  it('an invalid config: exit 2, every problem listed with its path', async () => {
    const r = await run(['-e', badCfg, '-f', 'create'], { env });
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain(`${badCfg}: 4 problems`);
    for (const p of ['common.AWS_VPC_EB', 'nova.CNAME', 'aws.AWS_AVAILABILITY_ZONE_2', 'common.PHASE']) expect(r.stderr).toMatch(new RegExp(`- ${p.replace(/\./g, '\\.')}: `));
    expect(r.stderr).toContain('env.sample.json');
    expect(r.stdout).toBe('');
    expect(awsWasCalled()).toBe(false);
  });

  it('a file that is not JSON: exit 2', async () => {
    const file = writeJson(path.join(tmp, 'x.json'), 'not an object');
    const broken = path.join(tmp, 'broken.json');
    (await import('node:fs')).writeFileSync(broken, '{"aws": ');
    expect((await run(['-e', broken, 'status'], { env })).exitCode).toBe(2);
    expect((await run(['-e', file, 'status'], { env })).exitCode).toBe(2);
    expect(awsWasCalled()).toBe(false);
  });

  // An adversarial pass found values that reached AWS before AWS refused them. Each is
  // exit 2 now, before any aws process, and a refused private key is never echoed.
  it.each<[string, (c: any) => void, string]>([
    ['a CNAME under 4 characters', (c) => (c.nova.CNAME = 'dvn'), 'nova.CNAME'],
    ['a /29 subnet', (c) => (c.common.AWS_SUBNET_EB_PRIVATE_1 = '10.210.0.0/29'), 'common.AWS_SUBNET_EB_PRIVATE_1'],
    ['a /32 subnet', (c) => (c.common.AWS_SUBNET_EB_PUBLIC_1 = '10.210.128.7/32'), 'common.AWS_SUBNET_EB_PUBLIC_1'],
    ['a public key followed by a private key', (c) => (c.common.AWS_KEY_PAIR_MATERIAL = `${c.common.AWS_KEY_PAIR_MATERIAL}\n${PRIVATE_KEY}`), 'common.AWS_KEY_PAIR_MATERIAL'],
    ['a file:// webhook', (c) => (c.notify = { SLACK_WEBHOOK_URL: 'file:///etc/passwd' }), 'notify.SLACK_WEBHOOK_URL'],
    ['a plain http webhook off loopback', (c) => (c.notify = { SLACK_WEBHOOK_URL: 'http://hooks.example.com/services/T/B/x' }), 'notify.SLACK_WEBHOOK_URL'],
    ['a GIT_URL that git would take for an option', (c) => ((c.nova.GIT_URL = '--upload-pack=touch /tmp/johanna-pwned'), (c.nova.GIT_BRANCH = 'main')), 'nova.GIT_URL'],
  ])('%s: exit 2 naming the field, no aws call', async (name, edit, field) => {
    const cfg = sampleConfig();
    cfg.common.PHASE = PHASE;
    edit(cfg);
    const file = writeJson(path.join(tmp, `adversarial-${name.replace(/\W+/g, '-')}.json`), cfg);
    const r = await run(['-e', file, '-f', 'create'], { env });
    expect(r.exitCode, r.stderr).toBe(2);
    expect(r.stderr).toMatch(new RegExp(`- ${field.replace(/\./g, '\\.')}: `));
    expect(r.stdout + r.stderr).not.toContain('PRIVATEKEYBODY');
    expect(awsWasCalled()).toBe(false);
  });

  // /dev/zero grew memory to GBs and a FIFO hung: neither is read now.
  it('-e at a device, a FIFO or a folder: exit 2 at once, nothing read, no aws call', async () => {
    const fifo = path.join(tmp, 'env.fifo');
    await execa('mkfifo', [fifo]);
    for (const file of ['/dev/zero', fifo, tmp]) {
      const r = await run(['-e', file, 'status'], { env, timeout: 20_000 });
      expect(r.timedOut, file).toBe(false);
      expect(r.exitCode, `${file}: ${r.stderr}`).toBe(2);
      expect(r.stderr).toContain('not a regular file');
    }
    expect(awsWasCalled()).toBe(false);
  });

  it('an unknown key is a warning only: the run goes on (here to the fake aws)', async () => {
    const cfg = sampleConfig();
    cfg.common.PHASE = PHASE;
    cfg.nova.CNAM = 'typo';
    const file = writeJson(path.join(tmp, 'typo.json'), cfg);
    const r = await run(['-e', file, '-f', 'create_vpc'], { env });
    expect(r.stderr).toContain('warning: ');
    expect(r.stderr).toContain('unknown key nova.CNAM');
    expect(r.exitCode).toBe(1); // the fake aws fails
    expect(awsWasCalled()).toBe(true);
  });
});

describe('the phase confirmation', () => {
  it('piped stdin with the wrong phase: exit 130, no aws call', async () => {
    const r = await run(['-e', goodCfg, 'create_vpc'], { env, stdin: 'pipe', input: 'dv\n' });
    expect(r.exitCode).toBe(130);
    expect(r.stderr).toContain(`PHASE         : '${PHASE}'`);
    expect(r.stderr).toContain("CNAME of Nova : 'dv-nova'");
    expect(r.stderr).toContain(`you typed 'dv', not the phase name '${PHASE}'`);
    // It names the phase config it read (issue 22 item 6), and create_vpc destroys nothing.
    expect(r.stderr).toContain(`The phase config ${goodCfg} says:`);
    expect(r.stderr).not.toContain('this destroys');
    expect(awsWasCalled()).toBe(false);
  });

  it("terminate's prompt lists what it will destroy before asking", async () => {
    const r = await run(['-e', goodCfg, 'terminate'], { env, stdin: 'pipe', input: 'no\n' });
    expect(r.exitCode).toBe(130);
    const said = r.stderr.split('\n');
    const at = said.findIndex((l) => l.includes('this destroys, for good:'));
    expect(at, r.stderr).toBeGreaterThan(0);
    expect(said[at + 1]).toContain('every environment of the EB application');
    expect(said[at + 2]).toMatch(/the phase's network \(VPC, subnets, .*IAM roles/);
    expect(said.findIndex((l) => l.includes('Please type in the name of phase'))).toBeGreaterThan(at + 2);
    const nova = await run(['-e', goodCfg, 'terminate_nova'], { env, stdin: 'pipe', input: 'no\n' });
    expect(nova.stderr).toContain('every environment of the EB application');
    expect(nova.stderr).not.toContain("the phase's network");
    expect(awsWasCalled()).toBe(false);
  });

  it('piped stdin with the right phase (echo PHASE | ./run create_vpc): the run goes on to aws', async () => {
    const r = await run(['-e', goodCfg, 'create_vpc'], { env, stdin: 'pipe', input: `${PHASE}\n` });
    expect(awsWasCalled()).toBe(true);
    expect(r.exitCode).toBe(1); // the fake aws fails every call
  });

  it('stdin at EOF (no TTY, nothing piped) without -f: exit 2 at once, saying to pass -f', async () => {
    for (const stdio of [{ stdin: 'ignore' as const }, { stdin: 'pipe' as const, input: '' }]) {
      const started = Date.now();
      const r = await run(['-e', goodCfg, 'terminate'], { env, ...stdio, timeout: 15_000 });
      expect(r.timedOut).toBe(false);
      expect(Date.now() - started).toBeLessThan(5_000);
      expect(r.exitCode).toBe(2);
      expect(r.stderr).toContain('pass -f');
      expect(awsWasCalled()).toBe(false);
    }
  });

  it('a passthrough that changes something asks too (it uses the phase credentials); a read-only one does not (issue 25)', async () => {
    const r = await run(['-e', goodCfg, '--', 'aws', 'ec2', 'delete-vpc', '--vpc-id', 'vpc-1'], { env });
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain('pass -f');
    expect(awsWasCalled()).toBe(false);
  });

  it('status is read-only and asks nothing, even with no stdin', async () => {
    const r = await run(['-e', goodCfg, 'status'], { env });
    expect(r.stderr).not.toContain('Please type in the name of phase');
    expect(r.stderr).not.toContain('pass -f');
    expect(r.exitCode).not.toBe(2);
  });

  it('answered at a real pseudo-terminal: the wrong name exits 130', async () => {
    // util-linux `script` gives ./run a PTY on stdin/stdout/stderr; we type once the prompt shows.
    const cmd = `'${path.join(ROOT, 'run')}' -e '${goodCfg}' create_vpc`;
    const child = execa('script', ['-qec', cmd, '/dev/null'], {
      cwd: ROOT,
      reject: false,
      extendEnv: false,
      env: { ...env, TERM: 'dumb' },
      stdin: 'pipe',
      timeout: 60_000,
    });
    let seen = '';
    let typed = false;
    child.stdout!.on('data', (d: Buffer) => {
      seen += d.toString();
      if (!typed && seen.includes(`Please type in the name of phase '${PHASE}'`)) {
        typed = true;
        setTimeout(() => child.stdin!.write('wrong\r'), 100);
      }
    });
    const r = await child;
    expect(typed, `never saw the prompt; output:\n${seen}`).toBe(true);
    expect(r.exitCode).toBe(130);
    expect(seen).toContain(`you typed 'wrong', not the phase name '${PHASE}'`);
    expect(awsWasCalled()).toBe(false);
  });
});

describe('at a pseudo-terminal (issue 22 items 1, 2 and 4)', () => {
  // An aws that takes 1.5 s to fail, so a read has something to wait on.
  let slowPath: string;
  beforeAll(() => {
    const slow = path.join(tmp, 'slow');
    writeScript(slow, 'aws', `#!/bin/sh\nif [ "$1" = --version ]; then echo 'aws-cli/1.45.11 Python/3.11.7 (fake)'; exit 0; fi\nsleep 1.5\necho 'fake aws: no AWS here' >&2\nexit 99\n`);
    slowPath = prependPath(slow, env);
  });
  const underPty = (args: string) =>
    execa('script', ['-qec', `'${path.join(ROOT, 'run')}' -e '${goodCfg}' ${args}`, '/dev/null'], {
      cwd: ROOT,
      reject: false,
      extendEnv: false,
      env: { ...env, NO_COLOR: undefined, PATH: slowPath, TERM: 'xterm' },
      stdin: 'ignore',
      timeout: 60_000,
    });

  it('a read shows a spinner with what it does and the elapsed time, redrawn in place, then an error in red', async () => {
    const r = await underPty('status');
    const seen = String(r.stdout);
    // Redrawn in place: erase the line, a frame of the spinner, the text, the seconds.
    const frames = seen.match(/\r\x1b\[2K\x1b\[36m[⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏] \x1b\[39mstatus: reading \(\d+s\)/g) ?? [];
    expect(frames.length, JSON.stringify(seen.slice(0, 600))).toBeGreaterThan(5);
    expect(frames.some((f) => f.endsWith('(1s)'))).toBe(true);
    expect(seen).toContain('\x1b[31merror: \x1b[39m');
  });

  it('a changing run ends with its summary block, the last thing printed, its outcome red when it failed', async () => {
    const r = await underPty('-f create_vpc');
    expect(r.exitCode).toBe(1);
    const seen = String(r.stdout);
    const at = seen.lastIndexOf('── summary');
    expect(at, seen).toBeGreaterThan(seen.lastIndexOf('error: '));
    const block = seen.slice(at).split(/\r?\n/).filter(Boolean);
    expect(block[1]).toMatch(/^\x1b\[31mcreate_vpc FAILED: .*fake aws/);
    expect(block.at(-1)).toMatch(/^ {2}took {4}\d+\.\ds$/);
  });
});

describe('--json', () => {
  it('a config error: one JSON object on stdout with ok:false and error.code', async () => {
    const r = await run(['--json', '-e', badCfg, 'create'], { env });
    expect(r.exitCode).toBe(2);
    const doc = JSON.parse(r.stdout);
    expect(doc).toMatchObject({ ok: false, command: 'create', error: { code: 'CONFIG' } });
    expect(doc.error.message).toContain('nova.CNAME');
    expect(doc.error.hint).toContain('env.sample.json');
  });

  it('no answer to the confirmation: NON_INTERACTIVE; a wrong answer: CANCELED', async () => {
    const a = await run(['--json', '-e', goodCfg, 'create_nova'], { env });
    expect(a.exitCode).toBe(2);
    expect(JSON.parse(a.stdout)).toMatchObject({ ok: false, error: { code: 'NON_INTERACTIVE' } });
    const b = await run(['--json', '-e', goodCfg, 'create_nova'], { env, stdin: 'pipe', input: 'nope\n' });
    expect(b.exitCode).toBe(130);
    expect(JSON.parse(b.stdout)).toMatchObject({ ok: false, error: { code: 'CANCELED' } });
  });

  it('a usage error (unknown option): ok:false, USAGE', async () => {
    const r = await run(['--json', '--frobnicate', 'status'], { env });
    expect(r.exitCode).toBe(2);
    expect(JSON.parse(r.stdout)).toMatchObject({ ok: false, error: { code: 'USAGE' } });
  });

  it('an unknown command: ok:false, USAGE', async () => {
    const r = await run(['--json', 'deploy'], { env });
    expect(r.exitCode).toBe(2);
    expect(JSON.parse(r.stdout)).toMatchObject({ ok: false, command: 'deploy', error: { code: 'USAGE' } });
  });

  it('a usage error found after parsing (extra arguments): ok:false, USAGE', async () => {
    const r = await run(['--json', '-e', goodCfg, 'status', 'now'], { env });
    expect(r.exitCode).toBe(2);
    expect(JSON.parse(r.stdout)).toMatchObject({ ok: false, error: { code: 'USAGE' } });
  });

  it('an aws failure: ok:false, exit 1, AWS_CLI, with the run log and the count of aws calls', async () => {
    const r = await run(['--json', '-f', '-e', goodCfg, 'create_vpc'], { env });
    expect(r.exitCode).toBe(1);
    const doc = JSON.parse(r.stdout);
    expect(doc).toMatchObject({ ok: false, command: 'create_vpc', error: { code: 'AWS_CLI' } });
    expect(doc.error.message).toContain('fake aws');
    expect(doc.awsCalls).toBeGreaterThan(0);
    expect(doc.runLog).toContain(path.join('logs', PHASE));
  });
});

describe('stdout stays plain without a TTY', () => {
  it('no ANSI escapes in the output of a failing run even without NO_COLOR', async () => {
    const r = await run(['-e', badCfg, 'status'], { env: { ...env, NO_COLOR: undefined } });
    expect(r.stderr).not.toMatch(/\x1b\[/);
    expect(readFileSync(badCfg, 'utf8')).toContain('Dv_Nova'); // the config is never rewritten
  });
});
