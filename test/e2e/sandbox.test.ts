// The sandbox driven by the real aws CLI, as Johanna drives it: EB lifecycle with real app
// processes, the CNAME router through a swap, EC2 side effects in moto, faults, and the
// background start/stop leaving no process behind.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { Agent } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { strToU8, zipSync } from 'fflate';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { awsCli } from '../helpers/bench-phase.js';
import { createSandbox, type Sandbox } from '../../sandbox/server.js';
import { isEndpointUp, sandboxStatus, startSandbox, stopSandbox } from '../../sandbox/control.js';
import { viaRouter } from '../helpers/cli.js';

const STACK = '64bit Amazon Linux 2023 v6.6.3 running Node.js 20';
const BUCKET = 'elasticbeanstalk-ap-northeast-2-123456789012';
const REGION_SUFFIX = 'ap-northeast-2.elasticbeanstalk.com';

const APP = `
const http = require('http');
http.createServer((req, res) => {
  const healthy = process.env.BROKEN !== 'yes' && !require('fs').existsSync('broken');
  res.writeHead(req.url === '/health' && !healthy ? 500 : 200, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ color: process.env.COLOR, leaked: process.env.SANDBOX_TEST_SECRET ?? null }));
}).listen(process.env.PORT, '127.0.0.1');
`;

function bundle(files: Record<string, string>): Uint8Array {
  return zipSync(Object.fromEntries(Object.entries(files).map(([name, text]) => [name, strToU8(text)])));
}

function awsEnv(endpoint: string) {
  return {
    AWS_ENDPOINT_URL: endpoint,
    // These tests are about AWS's EB/EC2 rules, not the caller's IAM policies: the account's
    // administrator signs them (sandbox/iam/gate.ts ADMIN_ACCESS_KEY).
    AWS_ACCESS_KEY_ID: 'sandbox-admin',
    AWS_SECRET_ACCESS_KEY: 'sandbox',
    AWS_EC2_METADATA_DISABLED: 'true',
    AWS_DEFAULT_REGION: 'ap-northeast-2',
    AWS_MAX_ATTEMPTS: '1',
  };
}


const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('sandbox (real aws CLI against the local endpoint)', () => {
  let sandbox: Sandbox;
  let stateDir: string;
  const aws = (...args: string[]) => execa(awsCli(), args, { env: awsEnv(sandbox.endpoint), reject: false });
  const eb = async (...args: string[]) => {
    const result = await aws('elasticbeanstalk', ...args);
    if (result.exitCode !== 0) throw new Error(`aws elasticbeanstalk ${args.join(' ')}: ${result.stderr}`);
    return JSON.parse(result.stdout || '{}');
  };
  const environments = async () =>
    (await eb('describe-environments', '--application-name', 'dv', '--include-deleted')).Environments as Array<Record<string, string>>;
  async function waitFor(names: string[], done: (env: Record<string, string>) => boolean, timeoutMs: number) {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const all = await environments();
      const wanted = names.map((name) => all.find((env) => env.EnvironmentName === name)!);
      if (wanted.every((env) => env && done(env))) return wanted;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${names.join(', ')}: ${JSON.stringify(wanted)}`);
      await sleep(500);
    }
  }

  beforeAll(async () => {
    stateDir = mkdtempSync(join(tmpdir(), 'sandbox-e2e-'));
    process.env.SANDBOX_TEST_SECRET = 'must not reach the apps';
    sandbox = await createSandbox({
      port: 0,
      routerPort: 0,
      stateDir,
      delays: { launchMs: 300, swapMs: 300, terminateMs: 300, launchTimeoutMs: 6000 },
      // This file is the plain lifecycle; DNS caching and IAM propagation have their own file
      // (sandbox-strict-eb.test.ts), so here every lookup is fresh and IAM visible at once.
      // Its aws calls send each request once (AWS_MAX_ATTEMPTS 1) and poll fast: AWS's rate
      // limits (R90) are tuned 20 times kinder here; the 'sandbox faults' case proves them.
      strict: { dnsTtlMs: 0, iamDelayMs: 0, rateScale: 20 },
    });
  }, 120_000);

  afterAll(async () => {
    await sandbox?.close();
    delete process.env.SANDBOX_TEST_SECRET;
    rmSync(stateDir, { recursive: true, force: true });
  }, 120_000);

  it('stores an application and its versions', async () => {
    // EB needs an instance profile to launch anything (R8).
    const iam = async (...args: string[]) => {
      const r = await aws('iam', ...args);
      expect(r.exitCode, r.stderr).toBe(0);
    };
    await iam('create-role', '--role-name', 'dv-ec2', '--assume-role-policy-document', '{"Version":"2012-10-17","Statement":[]}');
    await iam('create-instance-profile', '--instance-profile-name', 'dv-ec2');
    await iam('add-role-to-instance-profile', '--instance-profile-name', 'dv-ec2', '--role-name', 'dv-ec2');
    expect((await eb('create-application', '--application-name', 'dv')).Application.ApplicationName).toBe('dv');
    expect((await eb('create-storage-location')).S3Bucket).toBe(BUCKET);
    writeFileSync(join(stateDir, 'good.zip'), bundle({ 'server.js': APP, Procfile: 'web: node server.js\n' }));
    writeFileSync(join(stateDir, 'bad.zip'), bundle({ 'server.js': APP, Procfile: 'web: node server.js\n', broken: '' }));
    for (const name of ['good', 'bad']) {
      const copy = await aws('s3', 'cp', join(stateDir, `${name}.zip`), `s3://${BUCKET}/dv/${name}.zip`);
      expect(copy.exitCode, copy.stderr).toBe(0);
    }
    await Promise.all(
      ['good', 'bad'].map((name) =>
        eb('create-application-version', '--application-name', 'dv', '--version-label', name, '--source-bundle', `S3Bucket=${BUCKET},S3Key=dv/${name}.zip`),
      ),
    );
    const versions = (await eb('describe-application-versions', '--application-name', 'dv')).ApplicationVersions;
    expect(versions.map((version: { VersionLabel: string }) => version.VersionLabel).sort()).toEqual(['bad', 'good']);
  }, 120_000);

  it('launches real environments, refuses a taken CNAME, and reports a failing one as Red', async () => {
    const create = (name: string, prefix: string, version: string, color: string) =>
      eb(
        'create-environment', '--application-name', 'dv', '--environment-name', name, '--cname-prefix', prefix,
        '--solution-stack-name', STACK, '--version-label', version, '--tags', 'Key=owner,Value=test',
        '--option-settings',
        `Namespace=aws:elasticbeanstalk:application:environment,OptionName=COLOR,Value=${color}`,
        'Namespace=aws:autoscaling:launchconfiguration,OptionName=IamInstanceProfile,Value=dv-ec2',
        'Namespace=aws:elasticbeanstalk:environment,OptionName=EnvironmentType,Value=SingleInstance',
        'Namespace=aws:elasticbeanstalk:application,OptionName=Application Healthcheck URL,Value=/health',
      );
    const launched = await Promise.all([
      create('nova-blue', 'dv-nova', 'good', 'blue'),
      create('nova-green', 'dv-nova-2', 'good', 'green'),
      create('nova-bad', 'dv-bad', 'bad', 'bad'),
    ]);
    expect(launched.map((env) => [env.Status, env.Health])).toEqual(Array(3).fill(['Launching', 'Grey']));

    const taken = await aws('elasticbeanstalk', 'create-environment', '--application-name', 'dv', '--environment-name', 'nova-dup',
      '--cname-prefix', 'dv-nova', '--solution-stack-name', STACK);
    expect(taken.exitCode).toBeGreaterThanOrEqual(254);
    expect(taken.stderr).toContain(`An error occurred (InvalidParameterValue) when calling the CreateEnvironment operation: DNS name (dv-nova.${REGION_SUFFIX}) is not available.`);

    const [blue, green] = await waitFor(['nova-blue', 'nova-green'], (env) => env.Status === 'Ready', 60_000);
    expect([blue.Health, blue.HealthStatus, blue.CNAME]).toEqual(['Green', 'Ok', `dv-nova.${REGION_SUFFIX}`]);
    expect([green.Health, green.HealthStatus]).toEqual(['Green', 'Ok']);

    const [bad] = await waitFor(['nova-bad'], (env) => env.Status === 'Ready', 60_000);
    expect([bad.Health, bad.HealthStatus]).toEqual(['Red', 'Severe']);
    const badEvents = (await eb('describe-events', '--environment-name', 'nova-bad', '--severity', 'ERROR')).Events;
    expect(badEvents[0].Message).toBe('Create environment operation is complete, but with errors. For more information, see troubleshooting documentation.');
  }, 120_000);

  it('routes each CNAME to its app, with only its environment properties', async () => {
    const blue = await viaRouter(sandbox.router, `dv-nova.${REGION_SUFFIX}`, { path: '/health' });
    expect(blue.status).toBe(200);
    expect(JSON.parse(blue.body)).toEqual({ color: 'blue', leaked: null });
    const green = await viaRouter(sandbox.router, `dv-nova-2.${REGION_SUFFIX}:80`, { path: '/' });
    expect(JSON.parse(green.body).color).toBe('green');
    const unknown = await viaRouter(sandbox.router, `nobody.${REGION_SUFFIX}`, { path: '/' });
    expect(unknown.status).toBe(404);
  }, 120_000);

  it('makes the security group and instance EB would make', async () => {
    const groups = JSON.parse(
      (await aws('ec2', 'describe-security-groups', '--filters', 'Name=tag:elasticbeanstalk:environment-name,Values=nova-blue')).stdout,
    ).SecurityGroups;
    // A single-instance environment has no load balancer: only the instances' group, open on
    // 80 and (without SSHSourceRestriction) on 22 to the world.
    expect(groups).toHaveLength(1);
    expect(groups[0].GroupName).toMatch(/^awseb-e-[a-z0-9]{10}-stack-AWSEBSecurityGroup-[A-Z0-9]+$/);
    const rules = groups[0].IpPermissions.map((rule: any) => `${rule.IpProtocol}:${rule.FromPort}:${rule.IpRanges[0].CidrIp}`);
    expect(rules.sort()).toEqual(['tcp:22:0.0.0.0/0', 'tcp:80:0.0.0.0/0']);
    const instances = JSON.parse(
      (await aws('ec2', 'describe-instances', '--filters', 'Name=tag:elasticbeanstalk:environment-name,Values=nova-blue')).stdout,
    ).Reservations.flatMap((r: any) => r.Instances);
    expect(instances).toHaveLength(1);
  }, 120_000);

  it('swaps CNAMEs after a delay, and a keep-alive client follows the swap', async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const host = `dv-nova.${REGION_SUFFIX}`;
    expect(JSON.parse((await viaRouter(sandbox.router, host, { path: '/', agent })).body).color).toBe('blue');
    await eb('swap-environment-cnames', '--source-environment-name', 'nova-blue', '--destination-environment-name', 'nova-green');
    // Until EB says the swap is done, the old holder serves; once it says so, the new one
    // does, on the same keep-alive connection (the DNS TTL is 0 in this file).
    // Whenever the app answers green, EB already shows the swap done (checked after it).
    const deadline = Date.now() + 60_000;
    for (;;) {
      const color = JSON.parse((await viaRouter(sandbox.router, host, { path: '/', agent })).body).color;
      const swapped = (await environments()).find((env) => env.EnvironmentName === 'nova-green')!.CNAME === host;
      if (color === 'green') {
        expect(swapped).toBe(true);
        break;
      }
      expect(color).toBe('blue');
      expect(Date.now()).toBeLessThan(deadline);
    }
    agent.destroy();
    const [blue, green] = await waitFor(['nova-blue', 'nova-green'], () => true, 0);
    expect(blue.CNAME).toBe(`dv-nova-2.${REGION_SUFFIX}`);
    expect(green.CNAME).toBe(`dv-nova.${REGION_SUFFIX}`);
    const messages = (await eb('describe-events', '--application-name', 'dv')).Events.map((event: { Message: string }) => event.Message);
    expect(messages[0]).toBe("Completed swapping CNAMEs for environments 'nova-blue' and 'nova-green'.");
    for (const wording of ['createEnvironment is starting.', `Using ${BUCKET} as Amazon S3 storage bucket for environment data.`, 'Successfully launched environment: nova-blue']) {
      expect(messages).toContain(wording);
    }
  }, 120_000);

  it('terminates an environment: routing stops, EC2 resources go, Terminated stays visible', async () => {
    const answer = await eb('terminate-environment', '--environment-name', 'nova-blue');
    expect(answer.Status).toBe('Terminating');
    // Routing stops first: the CNAME still resolves, but nothing serves behind it.
    expect((await viaRouter(sandbox.router, `dv-nova-2.${REGION_SUFFIX}`, { path: '/' })).status).toBe(503);
    const [blue] = await waitFor(['nova-blue'], (env) => env.Status === 'Terminated', 60_000);
    expect(blue.Health).toBe('Grey');
    expect((await viaRouter(sandbox.router, `dv-nova-2.${REGION_SUFFIX}`, { path: '/' })).status).toBe(404);
    const live = (await eb('describe-environments', '--application-name', 'dv', '--no-include-deleted')).Environments;
    expect(live.map((env: { EnvironmentName: string }) => env.EnvironmentName).sort()).toEqual(['nova-bad', 'nova-green']);
    const groupsOf = async () =>
      JSON.parse((await aws('ec2', 'describe-security-groups', '--filters', 'Name=tag:elasticbeanstalk:environment-name,Values=nova-blue')).stdout).SecurityGroups;
    const instances = JSON.parse(
      (await aws('ec2', 'describe-instances', '--filters', 'Name=tag:elasticbeanstalk:environment-name,Values=nova-blue')).stdout,
    ).Reservations.flatMap((r: any) => r.Instances);
    expect(instances.map((i: any) => i.State.Name)).toEqual(['terminated']);
    // Its group outlives it by the linger (--eni-linger, 3 s by default), then goes.
    const end = Date.now() + 15_000;
    while ((await groupsOf()).length > 0 && Date.now() < end) await sleep(300);
    expect(await groupsOf()).toEqual([]);
    const messages = (await eb('describe-events', '--environment-name', 'nova-blue', '--max-records', '2')).Events.map((event: { Message: string }) => event.Message);
    expect(messages).toEqual(['terminateEnvironment completed successfully.', 'terminateEnvironment is starting.']);
  }, 120_000);

  it('restarts the app with new settings on update-environment', async () => {
    const answer = await eb('update-environment', '--environment-name', 'nova-green', '--option-settings',
      'Namespace=aws:elasticbeanstalk:application:environment,OptionName=COLOR,Value=teal');
    expect(answer.Status).toBe('Updating');
    const [green] = await waitFor(['nova-green'], (env) => env.Status === 'Ready', 60_000);
    expect([green.Health, green.HealthStatus]).toEqual(['Green', 'Ok']);
    expect(JSON.parse((await viaRouter(sandbox.router, `dv-nova.${REGION_SUFFIX}`, { path: '/' })).body).color).toBe('teal');
    const messages = (await eb('describe-events', '--environment-name', 'nova-green', '--max-records', '3')).Events.map((event: { Message: string }) => event.Message);
    expect(messages).toContain('Environment update completed successfully.');
  }, 120_000);

  it('turns an environment Red when its app process dies', async () => {
    const status = (await (await fetch(`${sandbox.endpoint}/_sandbox/status`)).json()) as { environments: Array<{ name: string; status: string; pid: number }> };
    const green = status.environments.find((env) => env.name === 'nova-green' && env.status === 'Ready')!;
    process.kill(-green.pid, 'SIGKILL');
    const [after] = await waitFor(['nova-green'], (env) => env.Health === 'Red', 60_000);
    expect([after.Status, after.HealthStatus]).toEqual(['Ready', 'Severe']);
    const health = await eb('describe-environment-health', '--environment-name', 'nova-green', '--attribute-names', 'All');
    expect(health).toMatchObject({ Color: 'Red', HealthStatus: 'Severe', Status: 'Ready' });
  }, 120_000);

  it('answers an unknown environment with the EB error', async () => {
    const result = await aws('elasticbeanstalk', 'terminate-environment', '--environment-name', 'nova-nope');
    expect(result.exitCode).toBeGreaterThanOrEqual(254);
    expect(result.stderr).toContain(
      "An error occurred (InvalidParameterValue) when calling the TerminateEnvironment operation: No Environment found for EnvironmentName = 'nova-nope'.",
    );
  }, 120_000);
});

describe('sandbox faults', () => {
  it('throttles every API call with each service’s own error when failRate is 1', async () => {
    const stateDir = mkdtempSync(join(tmpdir(), 'sandbox-faults-'));
    const sandbox = await createSandbox({ port: 0, routerPort: 0, stateDir, failRate: 1 });
    try {
      const env = awsEnv(sandbox.endpoint);
      const [beanstalk, ec2] = await Promise.all([
        execa(awsCli(), ['elasticbeanstalk', 'describe-applications'], { env, reject: false }),
        execa(awsCli(), ['ec2', 'describe-vpcs'], { env, reject: false }),
      ]);
      expect(beanstalk.stderr).toContain('An error occurred (Throttling) when calling the DescribeApplications operation');
      expect(ec2.stderr).toContain('RequestLimitExceeded');
      expect(await isEndpointUp(sandbox.endpoint)).toBe(true);
    } finally {
      await sandbox.close();
      rmSync(stateDir, { recursive: true, force: true });
    }
  }, 120_000);
});

describe('AWS rate limits (R90): on by default, per account and region', () => {
  it('a burst over the EB Describe* bucket is refused with Throttling "Rate exceeded" (400); the aws CLI\'s own retries get every call through', async () => {
    const stateDir = mkdtempSync(join(tmpdir(), 'sandbox-rates-'));
    // rateScale 0.05: EB Describe* 1 token refilled every 10 s, so ten CLI processes outrun it
    // even on a machine so loaded that they take a minute to start (at AWS's 15 + 2/s, or at
    // 0.2, a loaded machine's slow starts kept them under the rate: seen at load 24).
    const sandbox = await createSandbox({ port: 0, routerPort: 0, stateDir, strict: { rateScale: 0.05 } });
    const rates = async () => ((await (await fetch(`${sandbox.endpoint}/_sandbox/status`)).json()) as { rates: Record<string, { allowed: number; throttled: number }> }).rates;
    try {
      const env = awsEnv(sandbox.endpoint);
      const once = await Promise.all(Array.from({ length: 10 }, () => execa(awsCli(), ['elasticbeanstalk', 'describe-applications'], { env, reject: false })));
      const refused = once.filter((r) => r.exitCode !== 0);
      expect(refused.length, `all ${once.length} got through`).toBeGreaterThan(0);
      for (const r of refused) expect(r.stderr).toMatch(/An error occurred \(Throttling\) when calling the DescribeApplications operation( \(reached max retries: 0\))?: Rate exceeded/);
      expect((await rates()).elasticbeanstalk.throttled).toBe(refused.length);
      // The same burst with the CLI's standard retries (what Johanna runs): all get through, later.
      const retried = { ...env, AWS_MAX_ATTEMPTS: '8', AWS_RETRY_MODE: 'standard' };
      const all = await Promise.all(Array.from({ length: 2 }, () => execa(awsCli(), ['elasticbeanstalk', 'describe-applications'], { env: retried, reject: false })));
      expect(all.map((r) => r.exitCode), all.map((r) => r.stderr).join('\n')).toEqual([0, 0]);
      expect((await rates()).elasticbeanstalk.throttled).toBeGreaterThan(refused.length);
      // Another service has buckets of its own: EC2 is not slowed by EB's empty bucket.
      expect((await execa(awsCli(), ['ec2', 'describe-vpcs'], { env, reject: false })).exitCode).toBe(0);
    } finally {
      await sandbox.close();
      rmSync(stateDir, { recursive: true, force: true });
    }
  }, 150_000);
});

describe('sandbox control (background process)', () => {
  it('starts once, reports its status, and stops without leaving a process behind', async () => {
    const stateDir = mkdtempSync(join(tmpdir(), 'sandbox-control-'));
    try {
      const started = await startSandbox({ port: 0, routerPort: 0, stateDir });
      expect(started.alreadyRunning).toBe(false);
      expect(await isEndpointUp(started.endpoint)).toBe(true);
      const again = await startSandbox({ port: 0, routerPort: 0, stateDir });
      expect(again).toMatchObject({ pid: started.pid, endpoint: started.endpoint, alreadyRunning: true });
      const status = await sandboxStatus(stateDir);
      expect(status).toMatchObject({ running: true, pid: started.pid, endpoint: started.endpoint, router: started.router });
      const motoPid = ((await (await fetch(`${started.endpoint}/_sandbox/status`)).json()) as { motoPid: number }).motoPid;

      expect(await stopSandbox(stateDir)).toEqual({ stopped: true, pid: started.pid });
      for (const pid of [started.pid, motoPid]) expect(() => process.kill(pid, 0)).toThrow();
      expect(await sandboxStatus(stateDir)).toEqual({ running: false });
      expect(await stopSandbox(stateDir)).toEqual({ stopped: false });
    } finally {
      await stopSandbox(stateDir);
      rmSync(stateDir, { recursive: true, force: true });
    }
  }, 120_000);
});
