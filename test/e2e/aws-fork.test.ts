// npm test gives the tool the aws CLI through a fork server (test/fixtures/aws-fork.ts): the
// installed CLI, imported once, each call in a fresh fork. Every other e2e test trusts that
// this is the aws CLI as a user runs it. Here the two are compared call by call, in one
// sandbox: the same stdout, stderr and exit code for answers, AWS errors, usage errors, files
// named relative to the working folder, the environment, and Ctrl-C. It runs in both
// projects: v1 (`aws` on PATH) and awscli-v2 (Debian's v2, JOHANNA_TEST_PLAIN_AWS_CLI).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSandbox, type Sandbox } from '../../sandbox/server.js';
import { awsEnv } from '../helpers/bench-phase.js';
import { plainAws } from '../fixtures/aws-fork.js';

const FORK = process.env.JOHANNA_AWS_CLI ?? '';
const forked = FORK.includes('johanna-aws-fork-');

describe.runIf(forked)('the aws CLI through the fork server answers as the aws process does', () => {
  let sandbox: Sandbox;
  let dir: string;
  let plain = '';
  // The tests' usual environment (the account's administrator, the sandbox's endpoint), with
  // no retries and no config files, so that both CLIs make exactly one attempt each.
  const env = (extra: Record<string, string> = {}) => ({ ...awsEnv(sandbox.endpoint), AWS_MAX_ATTEMPTS: '1', AWS_CONFIG_FILE: '/dev/null', AWS_SHARED_CREDENTIALS_FILE: '/dev/null', ...extra });
  /** One call through each; what each printed and how it ended. */
  async function both(args: string[], opts: { input?: string; cwd?: string; env?: Record<string, string> } = {}) {
    // --endpoint-url, not only AWS_ENDPOINT_URL: v2 before 2.13 ignores that variable and
    // would call AWS itself.
    const argv = args[0] === '--version' ? args : [...args, '--endpoint-url', sandbox.endpoint];
    const run = (bin: string) => execa(bin, argv, { env: env(opts.env), extendEnv: false, reject: false, input: opts.input ?? '', cwd: opts.cwd ?? dir });
    const [p, f] = [await run(plain), await run(FORK)];
    const view = (r: typeof p) => ({ exitCode: r.exitCode, stdout: r.stdout, stderr: r.stderr.replace(/request id: [0-9a-f-]+/gi, 'request id: X') });
    return { plain: view(p), fork: view(f) };
  }

  beforeAll(async () => {
    plain = process.env.JOHANNA_TEST_PLAIN_AWS_CLI || ((await plainAws()) ?? '');
    expect(plain).toMatch(/\/aws$/);
    dir = mkdtempSync(join(tmpdir(), 'aws-fork-'));
    sandbox = await createSandbox({ port: 0, routerPort: 0, stateDir: join(dir, 'sandbox'), strict: { iamDelayMs: 0 } });
    writeFileSync(join(dir, 'tags.json'), JSON.stringify([{ Key: 'k', Value: 'v' }]));
  });
  afterAll(async () => {
    await sandbox?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('is the same aws CLI: version, answers in json and text, AWS errors, usage errors', async () => {
    for (const args of [
      ['--version'],
      ['ec2', 'describe-vpcs', '--output', 'json'],
      ['ec2', 'describe-availability-zones', '--output', 'text', '--query', 'AvailabilityZones[].ZoneName'],
      ['elasticbeanstalk', 'describe-environments', '--application-name', 'none'],
      ['ec2', 'describe-vpcs', '--vpc-ids', 'vpc-0000000000000000f'],
      ['iam', 'get-role', '--role-name', 'nobody'],
      ['ec2', 'describe-vpcs', '--no-such-option'],
      ['ec2', 'no-such-operation'],
    ]) {
      const r = await both(args);
      expect(r.fork, args.join(' ')).toEqual(r.plain);
    }
  });

  it('reads files relative to the caller\'s folder, and the caller\'s environment', async () => {
    const vpc = await both(['ec2', 'create-vpc', '--cidr-block', '10.9.0.0/16', '--query', 'Vpc.CidrBlock', '--output', 'text']);
    expect(vpc.fork).toEqual(vpc.plain);
    const rel = await both(['ec2', 'describe-vpcs', '--filters', 'file://filters.json', '--query', 'Vpcs[].CidrBlock', '--output', 'text']);
    // filters.json does not exist yet: both fail the same way, naming it.
    expect(rel.fork).toEqual(rel.plain);
    expect(rel.plain.exitCode).not.toBe(0);
    writeFileSync(join(dir, 'filters.json'), JSON.stringify([{ Name: 'cidr', Values: ['10.9.0.0/16'] }]));
    const found = await both(['ec2', 'describe-vpcs', '--filters', 'file://filters.json', '--query', 'Vpcs[].CidrBlock', '--output', 'text']);
    expect(found.fork).toEqual(found.plain);
    // One VPC made by each: both see both.
    expect(found.plain.stdout.trim().split(/\s+/)).toEqual(['10.9.0.0/16', '10.9.0.0/16']);
    // The caller's environment, not the server's: AWS_DEFAULT_OUTPUT turns the answer into text.
    const text = await both(['ec2', 'describe-vpcs', '--filters', 'file://filters.json', '--query', 'Vpcs[].CidrBlock'], { env: { AWS_DEFAULT_OUTPUT: 'text' } });
    expect(text.fork).toEqual(text.plain);
    expect(text.plain.stdout.trim()).toBe(found.plain.stdout.trim());
  });

  it('Ctrl-C stops the call as it stops the aws process: exit 130', async () => {
    // An endpoint that takes the request and never answers: the call is in flight once the
    // request has arrived, and only the signal ends it.
    let arrived: () => void = () => {};
    const hang = createServer(() => arrived());
    await new Promise<void>((resolve) => hang.listen(0, '127.0.0.1', resolve));
    try {
      const endpoint = `http://127.0.0.1:${(hang.address() as AddressInfo).port}`;
      for (const bin of [plain, FORK]) {
        const inFlight = new Promise<void>((resolve) => (arrived = resolve));
        const p = execa(bin, ['ec2', 'describe-vpcs', '--endpoint-url', endpoint], { env: env({ AWS_ENDPOINT_URL: endpoint }), extendEnv: false, reject: false, timeout: 30_000 });
        await inFlight;
        p.kill('SIGINT');
        const r = await p;
        expect(r.exitCode, bin).toBe(130);
      }
    } finally {
      hang.closeAllConnections();
      hang.close();
    }
  });
});
