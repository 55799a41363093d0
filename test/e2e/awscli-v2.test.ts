// Issue 15, the aws CLI v2 as most users have it. The aws CLI of this project (JOHANNA_AWS_CLI:
// Debian's /usr/bin/aws, v2 2.9.19, in npm test's awscli-v2 project, the only one that runs
// this file) runs a phase's whole lifecycle behind a recorder that logs every argv and the
// environment it got, so this file proves that no call of a sandbox phase goes out without
// --endpoint-url (v2 before 2.13 ignores AWS_ENDPOINT_URL and would call the real AWS).
// Then v1 and v2 side by side against the same sandbox: the JSON of every read we parse,
// the error text the error parser reads, and paging. Both CLIs are required: a missing
// /usr/bin/aws fails this file, it is never skipped.
import { createHash, createPublicKey } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync, chmodSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AwsCli, type AwsCliVersion, parseAwsCliVersion } from '../../src/aws/cli.js';
import { AwsCliError } from '../../src/errors.js';
import { Logger } from '../../src/ui/log.js';
import { Redactor } from '../../src/ui/redact.js';
import { sandboxPhaseConfig } from '../helpers/bench-phase.js';
import { readRunLog, ROOT, RUN, startPhase, type PhaseSandbox } from '../helpers/sandbox-phase.js';

const PASS_CLI = process.env.JOHANNA_AWS_CLI || 'aws';
const V1 = 'aws';
const V2 = '/usr/bin/aws';

let p: PhaseSandbox;
let tmp: string;
let recorder: string;
let recordLog: string;
let pagerLog: string;
let passVersion: AwsCliVersion;
/** How many ./run processes this file started through the recorder (each asks --version once). */
let runs = 0;
/** The version labels deployed, in order. */
const versions: string[] = [];
/** A lifecycle step on a busy 2-core machine. */
const LONG = 600_000;

interface Recorded {
  argv: string[];
  env: Record<string, string | null>;
}

const recorded = (): Recorded[] => (existsSync(recordLog) ? readFileSync(recordLog, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l)) : []);
const isVersion = (r: Recorded) => r.argv.length === 1 && r.argv[0] === '--version';

/** A program that logs its argv and the aws settings of its environment, then runs `real`. */
function writeRecorder(file: string, real: string, log: string): string {
  writeFileSync(
    file,
    `#!${process.execPath}
const { appendFileSync } = require('node:fs');
const { spawnSync } = require('node:child_process');
const argv = process.argv.slice(2);
const pick = (k) => (process.env[k] === undefined ? null : process.env[k]);
const env = Object.fromEntries(['AWS_ENDPOINT_URL', 'AWS_PAGER', 'AWS_MAX_ATTEMPTS', 'AWS_RETRY_MODE', 'AWS_ACCESS_KEY_ID', 'AWS_CLI_AUTO_PROMPT'].map((k) => [k, pick(k)]));
appendFileSync(${JSON.stringify(log)}, JSON.stringify({ argv, env }) + '\\n');
const r = spawnSync(${JSON.stringify(real)}, argv, { stdio: 'inherit' });
process.exit(r.status === null ? 1 : r.status);
`,
  );
  chmodSync(file, 0o755);
  return file;
}

async function versionOf(bin: string): Promise<AwsCliVersion> {
  const r = await execa(bin, ['--version'], { reject: false, all: true });
  const v = parseAwsCliVersion(String(r.all ?? ''));
  if (!v) throw new Error(`${bin} --version did not answer aws-cli/X.Y.Z (exit ${r.exitCode}): ${r.all}`);
  return v;
}

/** ./run through the recorder, with a pager and auto-prompt that must never come into play. */
function runRecorded(args: string[]) {
  runs++;
  return p.run(args, {
    env: { JOHANNA_AWS_CLI: recorder, AWS_PAGER: pagerLog + '.sh', PAGER: pagerLog + '.sh', AWS_CLI_AUTO_PROMPT: 'on' },
  });
}

/** The calls recorded since `from`, apart from the version questions. */
function callsSince(from: number): Recorded[] {
  return recorded().slice(from).filter((r) => !isVersion(r));
}

function expectSandboxCall(r: Recorded): void {
  const at = r.argv.indexOf('--endpoint-url');
  const what = r.argv.slice(0, 2).join(' ');
  expect(at, `${what}: no --endpoint-url`).toBeGreaterThan(-1);
  expect(r.argv[at + 1], what).toBe(p.sandbox.endpoint);
  expect(r.argv.filter((a) => a.startsWith('--endpoint-url')), what).toHaveLength(1);
  expect(r.env.AWS_ENDPOINT_URL, what).toBe(p.sandbox.endpoint);
  expect(r.env.AWS_ACCESS_KEY_ID, what).toBe('sandbox');
  expect(r.env.AWS_PAGER, what).toBe('');
  // The swap alone is sent once: a resent swap would swap back (issue 11, CallOptions.once).
  expect(r.env.AWS_MAX_ATTEMPTS, what).toBe(what === 'elasticbeanstalk swap-environment-cnames' ? '1' : '8');
  expect(r.env.AWS_RETRY_MODE, what).toBe('standard');
  const v2Switches = ['--no-cli-pager', '--no-cli-auto-prompt'].filter((s) => r.argv.includes(s));
  expect(v2Switches, what).toEqual(passVersion.major === 2 ? ['--no-cli-pager', '--no-cli-auto-prompt'] : []);
}

beforeAll(async () => {
  // Both CLIs must be here: .ci/run installs Debian's awscli for the second one.
  expect(existsSync(V2), `${V2} (the aws CLI v2) is missing: apt-get install awscli (.ci/run does)`).toBe(true);
  expect((await versionOf(V2)).major, `${V2} is not the aws CLI v2`).toBe(2);
  expect((await versionOf(V1)).major, '`aws` on PATH is not the aws CLI v1').toBe(1);
  passVersion = await versionOf(PASS_CLI);

  tmp = mkdtempSync(path.join(os.tmpdir(), 'johanna-awscli-'));
  recordLog = path.join(tmp, 'calls.jsonl');
  recorder = writeRecorder(path.join(tmp, 'aws-recorder'), PASS_CLI, recordLog);
  pagerLog = path.join(tmp, 'pager');
  writeFileSync(pagerLog + '.sh', `#!/bin/sh\necho ran >> '${pagerLog}'\ncat\n`);
  chmodSync(pagerLog + '.sh', 0o755);
  p = await startPhase({ phase: 'v2c', delays: { launchMs: 300, swapMs: 100, terminateMs: 200, launchTimeoutMs: 6000 } });
});

afterAll(async () => {
  await p?.close();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
  rmSync(path.join(ROOT, 'logs', 'v2c'), { recursive: true, force: true });
});

describe(`the phase's lifecycle with the aws CLI of this pass (${PASS_CLI})`, () => {
  it('create: every call carries the sandbox endpoint; the CLI is asked its version once per run', async () => {
    const r = await runRecorded(['-f', '-v', '--json', 'create']);
    expect(r.exitCode, r.stderr.slice(-3000)).toBe(0);
    // -v names the CLI and its version, once.
    const named = r.stderr.split('\n').filter((l) => l.includes('aws CLI: '));
    expect(named).toHaveLength(1);
    expect(named[0]).toContain(`aws CLI: ${recorder} aws-cli/${passVersion.major}.${passVersion.minor}.${passVersion.patch}`);

    const all = recorded();
    expect(all.filter(isVersion)).toHaveLength(1);
    const calls = all.filter((c) => !isVersion(c));
    // The whole lifecycle's services: EC2, IAM, EB, S3, DynamoDB (the lock).
    const services = new Set(calls.map((c) => c.argv[0]));
    for (const s of ['ec2', 'iam', 'elasticbeanstalk', 's3api', 'dynamodb']) expect(services, s).toContain(s);
    for (const c of calls) expectSandboxCall(c);
    // Our own calls ask v2 for v1's blob format (fileb:// is raw bytes for both anyway).
    if (passVersion.major === 2) for (const c of calls) expect(c.argv.slice(-2), c.argv[1]).toEqual(['--cli-binary-format', 'raw-in-base64-out']);

    // The run log says once which CLI made the calls, and with what retry budget.
    const out = JSON.parse(r.stdout);
    const first = JSON.parse(readFileSync(out.runLog, 'utf8').split('\n')[0]);
    expect(first.cli).toMatchObject({ bin: recorder, major: passVersion.major, maxAttempts: '8', retryMode: 'standard', endpoint: p.sandbox.endpoint });
    expect(readRunLog(out.runLog).every((l) => l.args.includes('--endpoint-url'))).toBe(true);
    versions.push(out.create_nova.versionLabel);
  }, LONG);

  it('the key pair was imported from the key material itself (fileb://), whichever CLI', async () => {
    const material: string = p.config.common.AWS_KEY_PAIR_MATERIAL;
    const r = await p.aws(['ec2', 'describe-key-pairs', '--key-names', p.config.common.AWS_KEY_PAIR_NAME]);
    expect(r.KeyPairs).toHaveLength(1);
    expect(r.KeyPairs[0].KeyFingerprint).toBe(fingerprintOf(material));
  });

  it('the daily deploy (create_nova): a second version goes live; every call carries the endpoint', async () => {
    const from = recorded().length;
    const r = await runRecorded(['-f', '--json', 'create_nova']);
    expect(r.exitCode, r.stderr.slice(-3000)).toBe(0);
    versions.push(JSON.parse(r.stdout).versionLabel);
    const calls = callsSince(from);
    for (const op of ['put-object', 'create-application-version', 'create-environment', 'swap-environment-cnames']) expect(calls.map((c) => c.argv[1])).toContain(op);
    for (const c of calls) expectSandboxCall(c);
    expect((await p.get(p.host)).version).toBe(versions[1]);
  }, LONG);

  it('rollback: the first version serves again; every call carries the endpoint', async () => {
    const from = recorded().length;
    const r = await runRecorded(['-f', 'rollback']);
    expect(r.exitCode, r.stderr.slice(-3000)).toBe(0);
    for (const c of callsSince(from)) expectSandboxCall(c);
    expect((await p.get(p.host)).version).toBe(versions[0]);
  }, LONG);

  it('the passthrough carries it too, and one naming another endpoint is refused before any call (exit 2)', async () => {
    const from = recorded().length;
    const ok = await runRecorded(['-f', '--', 'aws', 'ec2', 'describe-key-pairs']);
    expect(ok.exitCode, ok.stderr).toBe(0);
    expect(JSON.parse(ok.stdout).KeyPairs.map((k: any) => k.KeyName)).toContain(p.config.common.AWS_KEY_PAIR_NAME);
    const okCalls = callsSince(from);
    expect(okCalls.map((c) => c.argv.slice(0, 2))).toEqual([['ec2', 'describe-key-pairs']]);
    expectSandboxCall(okCalls[0]);

    const before = recorded().length;
    const bad = await runRecorded(['-f', '--', 'aws', 'ec2', 'describe-vpcs', '--endpoint-url', 'https://ec2.ap-northeast-2.amazonaws.com']);
    expect(bad.exitCode).toBe(2);
    expect(bad.stderr).toContain(`its calls go to ${p.sandbox.endpoint} only`);
    expect(callsSince(before)).toEqual([]);
  });

  describe('v1 and v2 side by side on the same phase', () => {
    const reads = (): string[][] => {
      const c = p.config;
      const app = c.elasticbeanstalk.APPLICATION_NAME;
      const tag = [`Name=tag:johanna:phase,Values=${p.phase}`];
      return [
        ['ec2', 'describe-vpcs', '--filters', ...tag],
        ['ec2', 'describe-subnets', '--filters', ...tag],
        ['ec2', 'describe-route-tables', '--filters', ...tag],
        ['ec2', 'describe-internet-gateways', '--filters', ...tag],
        ['ec2', 'describe-nat-gateways', '--filter', ...tag],
        ['ec2', 'describe-addresses', '--filters', ...tag],
        ['ec2', 'describe-security-groups', '--filters', ...tag],
        ['ec2', 'describe-key-pairs', '--key-names', c.common.AWS_KEY_PAIR_NAME],
        ['ec2', 'describe-instances'],
        ['iam', 'get-account-authorization-details', '--filter', 'Role'],
        ['iam', 'list-instance-profiles', '--path-prefix', '/johanna/'],
        ['elasticbeanstalk', 'describe-applications', '--application-names', app],
        ['elasticbeanstalk', 'describe-environments', '--application-name', app],
        ['elasticbeanstalk', 'describe-application-versions', '--application-name', app],
        ['elasticbeanstalk', 'describe-events', '--application-name', app],
        ['elasticbeanstalk', 'list-available-solution-stacks'],
        ['dynamodb', 'describe-table', '--table-name', 'johanna-locks'],
        ['sts', 'get-caller-identity'],
      ];
    };

    it('the JSON of every read we parse is the same, timestamps and fields unknown to v2 2.9\'s models apart', async () => {
      const formatOnly = new Set<string>();
      const missing = new Set<string>();
      for (const args of reads()) {
        const one = await direct(V1, args);
        const two = await direct(V2, args);
        expect(two.exitCode, `${args.join(' ')}: ${two.stderr}`).toBe(0);
        expect(one.exitCode, `${args.join(' ')}: ${one.stderr}`).toBe(0);
        const a = normalise(JSON.parse(one.stdout), new Set(), args[1]);
        const b = normalise(JSON.parse(two.stdout), formatOnly, args[1]);
        dropKeysNotIn(a, b, args[1], missing);
        expect(b, args.join(' ')).toEqual(a);
      }
      // Text that differs is only that of timestamps, each parsing to the same instant.
      expect([...formatOnly].every((k) => /Date|Time|Created|Updated|Modified/.test(k)), [...formatOnly].join(', ')).toBe(true);
      // A field newer than v2 2.9's bundled service model is dropped by that CLI: none we read.
      expect([...missing].filter((m) => !UNREAD_NEWER_FIELDS.includes(m)), [...missing].join(', ')).toEqual([]);
    }, LONG);

    it('paging: both return every item by default, and one page when a page size is given', async () => {
      const app = p.config.elasticbeanstalk.APPLICATION_NAME;
      const all1 = JSON.parse((await direct(V1, ['elasticbeanstalk', 'describe-events', '--application-name', app])).stdout).Events;
      const all2 = JSON.parse((await direct(V2, ['elasticbeanstalk', 'describe-events', '--application-name', app])).stdout).Events;
      expect(all1.length).toBeGreaterThan(2);
      expect(all2).toHaveLength(all1.length);
      for (const cli of [V1, V2]) {
        const one = JSON.parse((await direct(cli, ['elasticbeanstalk', 'describe-events', '--application-name', app, '--max-records', '1'])).stdout).Events;
        expect(one, cli).toHaveLength(1);
      }
    }, LONG);

    it('the error parser reads both: the AWS code, and each CLI\'s own exit codes', async () => {
      for (const [cli, serviceExit, usageExit] of [[V1, 255, 255], [V2, 254, 252]] as const) {
        const aws = runner(cli);
        const e = (await aws.aws(['ec2', 'describe-vpcs', '--vpc-ids', 'vpc-0nope']).catch((x) => x)) as AwsCliError;
        expect(e, cli).toBeInstanceOf(AwsCliError);
        expect(e.awsCode, cli).toBe('InvalidVpcID.NotFound');
        expect(e.cliExitCode, cli).toBe(serviceExit);
        expect(e.message, cli).toContain('An error occurred (InvalidVpcID.NotFound)');
        const u = (await aws.aws(['ec2', 'describe-vpcs', '--bogus']).catch((x) => x)) as AwsCliError;
        expect(u.cliExitCode, cli).toBe(usageExit);
        expect(u.awsCode, cli).toBeUndefined();
        expect(u.message, cli).toContain('Unknown options: --bogus');
      }
    }, LONG);
  });

  it('the cleanup (terminate_eb_old_environment): the environment off the main CNAME goes', async () => {
    const from = recorded().length;
    const r = await runRecorded(['-f', '--grace-minutes', '0', 'terminate_eb_old_environment']);
    expect(r.exitCode, r.stderr.slice(-3000)).toBe(0);
    expect(callsSince(from).some((c) => c.argv[1] === 'terminate-environment')).toBe(true);
    for (const c of callsSince(from)) expectSandboxCall(c);
  }, LONG);

  it('terminate: every call carries the endpoint to the end; the phase is gone; no pager ever ran, no prompt either', async () => {
    const from = recorded().length;
    const r = await runRecorded(['-f', 'terminate']);
    expect(r.exitCode, r.stderr.slice(-3000)).toBe(0);
    const calls = callsSince(from);
    expect(calls.some((c) => c.argv[1] === 'delete-vpc')).toBe(true);
    for (const c of calls) expectSandboxCall(c);
    expect(recorded().filter(isVersion)).toHaveLength(runs);
    expect((await p.aws(['ec2', 'describe-vpcs', '--filters', `Name=tag:johanna:phase,Values=${p.phase}`])).Vpcs).toEqual([]);
    // Every run had AWS_CLI_AUTO_PROMPT=on and a pager in AWS_PAGER/PAGER: none came into play.
    expect(recorded().every((c) => c.env.AWS_CLI_AUTO_PROMPT === 'on')).toBe(true);
    expect(existsSync(pagerLog)).toBe(false);
  }, LONG);
});

describe('an AWS phase, and a CLI too old (a stand-in aws that never reaches a network)', () => {
  let dir: string;
  let log: string;
  const standIn = (version: string) =>
    writeRecorder(path.join(dir, `aws-${version}`), writeFake(path.join(dir, `fake-${version}`), version), log);
  function writeFake(file: string, version: string): string {
    writeFileSync(file, `#!/bin/sh\nif [ "$1" = --version ]; then echo 'aws-cli/${version} Python/3.11 Linux/6'; exit 0; fi\necho 'Could not connect to the endpoint URL: "https://ec2.ap-northeast-2.amazonaws.com/"' >&2\nexit 255\n`);
    chmodSync(file, 0o755);
    return file;
  }
  const calls = () => (existsSync(log) ? readFileSync(log, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Recorded) : []);

  beforeAll(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'johanna-awscli-fake-'));
    log = path.join(dir, 'calls.jsonl');
  });
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
    rmSync(path.join(ROOT, 'logs', 'v2a'), { recursive: true, force: true });
  });

  it('an AWS phase\'s calls have no --endpoint-url (and no AWS_ENDPOINT_URL of ours)', async () => {
    const config = sandboxPhaseConfig({ phase: 'v2a', endpoint: 'http://127.0.0.1:9', router: '127.0.0.1:9' });
    delete config.sandbox;
    const file = path.join(dir, 'aws-phase.json');
    writeFileSync(file, JSON.stringify(config));
    const r = await execa(RUN, ['-e', file, 'status'], { cwd: ROOT, reject: false, env: { ...process.env, JOHANNA_AWS_CLI: standIn('2.9.19'), NO_COLOR: '1' } });
    expect(r.exitCode, r.stderr).not.toBe(2);
    const made = calls().filter((c) => !isVersion(c));
    expect(made.length).toBeGreaterThan(0);
    for (const c of made) {
      expect(c.argv.some((a) => a.startsWith('--endpoint-url')), c.argv.join(' ')).toBe(false);
      expect(c.env.AWS_ENDPOINT_URL).toBe(process.env.AWS_ENDPOINT_URL ?? null);
      expect(c.argv).toContain('--no-cli-pager');
    }
  });

  it('status names the aws CLI it runs and its version, in text and in --json', async () => {
    const env = { ...process.env, JOHANNA_AWS_CLI: '/usr/bin/aws', NO_COLOR: '1' };
    const json = await execa(RUN, ['-e', p.configFile, 'status', '--json'], { cwd: ROOT, reject: false, env });
    expect(json.exitCode, json.stderr).toBe(0);
    expect(JSON.parse(json.stdout).awsCli).toMatchObject({ bin: '/usr/bin/aws', major: 2 });
    const text = await execa(RUN, ['-e', p.configFile, 'status'], { cwd: ROOT, reject: false, env });
    expect(text.stdout).toMatch(/aws CLI: \/usr\/bin\/aws aws-cli\/2\.\d+\.\d+ \(v2\)/);
  });

  it('a CLI older than the minimum: exit 2 naming the minimum, no call made', async () => {
    rmSync(log, { force: true });
    const r = await execa(RUN, ['-e', p.configFile, 'status'], { cwd: ROOT, reject: false, env: { ...process.env, JOHANNA_AWS_CLI: standIn('2.8.13'), NO_COLOR: '1' } });
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain('is aws-cli/2.8.13 (v2), too old; Johanna needs the aws CLI v1 1.29 or v2 2.9 or newer');
    expect(calls().map((c) => c.argv)).toEqual([['--version']]);
  });

  // Issue 20 item 18: bad input, so exit 2 (was 1).
  it('JOHANNA_AWS_CLI naming nothing: exit 2 naming it and how to fix it', async () => {
    const r = await execa(RUN, ['-e', p.configFile, 'status'], { cwd: ROOT, reject: false, env: { ...process.env, JOHANNA_AWS_CLI: path.join(dir, 'no-such-aws'), NO_COLOR: '1' } });
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain(`the aws CLI '${path.join(dir, 'no-such-aws')}' does not exist`);
    expect(r.stderr).toContain('JOHANNA_AWS_CLI');
  });
});

/**
 * Fields aws-cli 2.9.19's service models predate, so that v2 drops them from its output
 * (found by this test against moto 5.2.1), and that src/ never reads: of a NAT gateway's
 * addresses src/aws/ec2.ts reads AllocationId and PublicIp, of a security group its id,
 * name and rules, and it never describes the lock table.
 */
const UNREAD_NEWER_FIELDS = [
  'describe-nat-gateways NatGateways.NatGatewayAddresses.AssociationId',
  'describe-security-groups SecurityGroups.SecurityGroupArn',
  'describe-table Table.DeletionProtectionEnabled',
  'describe-table Table.WarmThroughput',
];

/** Remove from `a` the keys `b` lacks at the same place, noting each as "<op> <path>". */
function dropKeysNotIn(a: unknown, b: unknown, at: string, missing: Set<string>): void {
  if (Array.isArray(a) && Array.isArray(b)) {
    a.forEach((x, i) => dropKeysNotIn(x, b[i], at, missing));
    return;
  }
  if (!a || !b || typeof a !== 'object' || typeof b !== 'object') return;
  for (const k of Object.keys(a)) {
    const path = `${at}${at.includes(' ') ? '.' : ' '}${k}`;
    if (!(k in (b as object))) {
      missing.add(path);
      delete (a as Record<string, unknown>)[k];
    } else dropKeysNotIn((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k], path, missing);
  }
}

/** One aws CLI directly against the sandbox: --endpoint-url works for both. */
function direct(cli: string, args: string[]) {
  return execa(cli, [...args, '--output', 'json', '--endpoint-url', p.sandbox.endpoint], {
    reject: false,
    extendEnv: false,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, AWS_ACCESS_KEY_ID: 'sandbox', AWS_SECRET_ACCESS_KEY: 'sandbox', AWS_DEFAULT_REGION: p.config.aws.AWS_DEFAULT_REGION, AWS_PAGER: '', AWS_CONFIG_FILE: '/dev/null', AWS_SHARED_CREDENTIALS_FILE: '/dev/null', AWS_EC2_METADATA_DISABLED: 'true' },
  });
}

/** src/aws/cli.ts's runner with the real exec, for one CLI against the sandbox. */
function runner(cli: string): AwsCli {
  const redactor = new Redactor();
  const sink = { write: () => true } as unknown as NodeJS.WritableStream;
  const log = new Logger({ verbose: false, json: false, color: false, redactor, stdout: sink as any, stderr: sink as any });
  const env = { PATH: process.env.PATH, HOME: process.env.HOME, AWS_ACCESS_KEY_ID: 'sandbox', AWS_SECRET_ACCESS_KEY: 'sandbox', AWS_DEFAULT_REGION: p.config.aws.AWS_DEFAULT_REGION, AWS_PAGER: '', AWS_CONFIG_FILE: '/dev/null', AWS_SHARED_CREDENTIALS_FILE: '/dev/null', AWS_MAX_ATTEMPTS: '1' };
  return new AwsCli({ env, log, redactor, bin: cli, endpoint: p.sandbox.endpoint });
}

/**
 * Timestamps as instants (v1 prints what the service sent, v2 ISO 8601 with an offset), the
 * keys whose text differed noted in `formatOnly`; ResponseMetadata (never printed) dropped.
 */
function normalise(v: unknown, formatOnly: Set<string>, key = ''): unknown {
  if (Array.isArray(v)) return v.map((x) => normalise(x, formatOnly, key));
  if (v && typeof v === 'object') {
    return Object.fromEntries(Object.entries(v as Record<string, unknown>).filter(([k]) => k !== 'ResponseMetadata').map(([k, x]) => [k, normalise(x, formatOnly, k)]));
  }
  // v1 prints a JSON-protocol service's timestamps (DynamoDB's) as epoch seconds, v2 as text.
  if (typeof v === 'number' && /DateTime$/.test(key)) {
    formatOnly.add(key);
    return { instant: Math.round(v * 1000) };
  }
  if (typeof v === 'string' && /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/.test(v)) {
    const t = Date.parse(v);
    if (new Date(t).toISOString() !== v) formatOnly.add(key);
    return { instant: t };
  }
  return v;
}

/** EC2's fingerprint of an imported key (moto's rule, AWS's): SHA-256 (ED25519) or MD5 (RSA) of the DER public key. */
function fingerprintOf(material: string): string {
  const blob = Buffer.from(material.trim().split(/\s+/)[1], 'base64');
  const fields: Buffer[] = [];
  for (let at = 0; at < blob.length; ) {
    const n = blob.readUInt32BE(at);
    fields.push(blob.subarray(at + 4, at + 4 + n));
    at += 4 + n;
  }
  const kind = fields[0].toString();
  const b64url = (b: Buffer) => b.toString('base64url');
  const key =
    kind === 'ssh-ed25519'
      ? createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: b64url(fields[1]) }, format: 'jwk' })
      : createPublicKey({ key: { kty: 'RSA', e: b64url(fields[1]), n: b64url(fields[2][0] === 0 ? fields[2].subarray(1) : fields[2]) }, format: 'jwk' });
  const der = key.export({ type: 'spki', format: 'der' });
  return createHash(kind === 'ssh-ed25519' ? 'sha256' : 'md5')
    .update(der)
    .digest('hex')
    .replace(/(..)(?!$)/g, '$1:');
}
