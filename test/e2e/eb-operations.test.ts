// Issue 25 and issue 19 item 2 through the real aws CLI, against ONE sandbox (the checks are
// reads, plus the few operations they read about): every operation the EB CLI reaches
// beyond the deploy's own, each answer checked against botocore's output shape; every
// DescribeEvents filter, RequestId included; pages of at most MaxRecords with NextToken; and
// (in a second, tiny sandbox) events forgotten after the retention. Each check names its rule.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { strToU8, zipSync } from 'fflate';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { awsCli } from '../helpers/bench-phase.js';
import { createSandbox, type Sandbox } from '../../sandbox/server.js';
import { shapeProblems } from '../helpers/botocore-shape.js';

const APP = 'ops';
const STACK = '64bit Amazon Linux 2023 v6.6.3 running Node.js 22';
const ARN = 'arn:aws:elasticbeanstalk:ap-northeast-2::platform/Node.js 22 running on 64bit Amazon Linux 2023/6.6.3';
const BUCKET = 'elasticbeanstalk-ap-northeast-2-123456789012';
const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function cli(endpoint: () => string) {
  const env = () => ({
    AWS_ENDPOINT_URL: endpoint(),
    // The account's administrator (sandbox/iam): these tests make their own roles and
    // applications outside the phase's documented permissions.
    AWS_ACCESS_KEY_ID: 'sandbox-admin',
    AWS_SECRET_ACCESS_KEY: 'sandbox',
    AWS_EC2_METADATA_DISABLED: 'true',
    AWS_DEFAULT_REGION: 'ap-northeast-2',
    // Retried as a user's CLI retries: the sandbox throttles EB's Describe* as EB does (R90:
    // about 2 a second, a burst of 15), and this file's calls come faster than that.
    AWS_MAX_ATTEMPTS: '5',
    AWS_RETRY_MODE: 'standard',
    AWS_CONFIG_FILE: '/dev/null',
    AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
  });
  const aws = (...args: string[]) => execa(awsCli(), [...args, '--output', 'json'], { env: env(), extendEnv: true, reject: false });
  const ok = async (...args: string[]): Promise<any> => {
    const r = await aws(...args);
    if (r.exitCode !== 0) throw new Error(`aws ${args.join(' ')}: ${r.stderr}`);
    const text = r.stdout.trim();
    return text.startsWith('{') || text.startsWith('[') ? JSON.parse(text) : undefined;
  };
  /** An EB call whose answer must fit botocore's output shape for `operation`. */
  const eb = async (operation: string, ...args: string[]): Promise<any> => {
    const answer = await ok('elasticbeanstalk', ...args);
    expect(shapeProblems(operation, answer), `${operation} answer: ${JSON.stringify(answer)}`).toEqual([]);
    return answer;
  };
  /** The call with --debug: its answer's RequestId (ResponseMetadata, as the EB CLI reads it). */
  const requestIdOf = async (...args: string[]): Promise<string> => {
    const r = await aws(...args, '--debug');
    if (r.exitCode !== 0) throw new Error(`aws ${args.join(' ')}: ${r.stderr.slice(-2000)}`);
    const id = /<RequestId>([0-9a-f-]{36})<\/RequestId>/.exec(r.stderr)?.[1];
    if (!id) throw new Error(`no RequestId in the answer of aws ${args.join(' ')}`);
    return id;
  };
  return { aws, ok, eb, requestIdOf };
}

describe('EB operations and DescribeEvents (real aws CLI, one sandbox)', () => {
  let sandbox: Sandbox;
  let dir: string;
  const { aws, ok, eb, requestIdOf } = cli(() => sandbox.endpoint);
  const events = async (...filters: string[]) => ((await eb('DescribeEvents', 'describe-events', '--application-name', APP, ...filters)).Events as any[]);
  const describeEnv = async (name: string) => ((await ok('elasticbeanstalk', 'describe-environments', '--environment-names', name)).Environments as any[])[0];
  async function until(what: string, done: () => Promise<boolean>, ms = 45_000): Promise<void> {
    const end = Date.now() + ms;
    while (!(await done())) {
      if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
      await pause(300);
    }
  }
  const ready = (name: string) => until(`${name} Ready`, async () => (await describeEnv(name))?.Status === 'Ready');
  const settings = (name: string) =>
    JSON.stringify([
      { Namespace: 'aws:autoscaling:launchconfiguration', OptionName: 'IamInstanceProfile', Value: 'ops-profile' },
      { Namespace: 'aws:elasticbeanstalk:application:environment', OptionName: 'NAME', Value: name },
    ]);

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'eb-ops-'));
    sandbox = await createSandbox({
      port: 0,
      routerPort: 0,
      stateDir: join(dir, 'sandbox'),
      delays: { launchMs: 100, swapMs: 100, terminateMs: 100, launchTimeoutMs: 10_000 },
      strict: { iamDelayMs: 0 },
    });
    await ok('iam', 'create-role', '--role-name', 'ops-role', '--assume-role-policy-document', '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}');
    await ok('iam', 'create-instance-profile', '--instance-profile-name', 'ops-profile');
    await ok('iam', 'add-role-to-instance-profile', '--instance-profile-name', 'ops-profile', '--role-name', 'ops-role');
    await ok('elasticbeanstalk', 'create-application', '--application-name', APP);
    await ok('elasticbeanstalk', 'create-storage-location');
    const server = "require('http').createServer((q, s) => s.end(process.env.NAME)).listen(process.env.PORT, '127.0.0.1');\n";
    writeFileSync(join(dir, 'v1.zip'), zipSync({ 'server.js': strToU8(server), Procfile: strToU8('web: node server.js\n') }));
    await ok('s3', 'cp', join(dir, 'v1.zip'), `s3://${BUCKET}/${APP}/v1.zip`);
    await ok('elasticbeanstalk', 'create-application-version', '--application-name', APP, '--version-label', 'v1', '--source-bundle', `S3Bucket=${BUCKET},S3Key=${APP}/v1.zip`);
    // ops-blue by stack name, ops-green by platform ARN, as the EB CLI's `eb create` names it.
    await ok('elasticbeanstalk', 'create-environment', '--application-name', APP, '--environment-name', 'ops-blue', '--solution-stack-name', STACK, '--version-label', 'v1', '--option-settings', settings('blue'));
    await ok('elasticbeanstalk', 'create-environment', '--application-name', APP, '--environment-name', 'ops-green', '--platform-arn', ARN, '--option-settings', settings('green'));
    await Promise.all([ready('ops-blue'), ready('ops-green')]);
  }, 120_000);

  afterAll(async () => {
    await sandbox?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('platforms: describe-platform-version, list-platform-versions and list-platform-branches with filters (R52)', async () => {
    const described = (await eb('DescribePlatformVersion', 'describe-platform-version', '--platform-arn', ARN)).PlatformDescription;
    expect(described).toMatchObject({ PlatformArn: ARN, SolutionStackName: STACK, PlatformBranchName: 'Node.js 22 running on 64bit Amazon Linux 2023', PlatformStatus: 'Ready' });
    const missing = await aws('elasticbeanstalk', 'describe-platform-version', '--platform-arn', `${ARN}9`);
    expect(missing.exitCode).not.toBe(0);
    expect(missing.stderr).toContain('InvalidParameterValue');

    const branch = [{ Type: 'PlatformBranchName', Operator: '=', Values: ['Node.js 22 running on 64bit Amazon Linux 2023'] }];
    const versions = (await eb('ListPlatformVersions', 'list-platform-versions', '--filters', JSON.stringify(branch))).PlatformSummaryList as any[];
    expect(versions.map((v) => v.PlatformVersion)).toEqual(['6.6.3', '6.6.2']);
    expect(versions.map((v) => v.PlatformLifecycleState)).toEqual(['Recommended', undefined]);
    const newer = (await eb('ListPlatformVersions', 'list-platform-versions', '--filters', JSON.stringify([...branch, { Type: 'PlatformVersion', Operator: '>', Values: ['6.6.2'] }]))).PlatformSummaryList as any[];
    expect(newer.map((v) => v.PlatformVersion)).toEqual(['6.6.3']);

    const branches = (await eb('ListPlatformBranches', 'list-platform-branches', '--filters', JSON.stringify([{ Attribute: 'LifecycleState', Operator: '!=', Values: ['Deprecated'] }, { Attribute: 'PlatformName', Operator: '=', Values: ['Node.js'] }]))).PlatformBranchSummaryList as any[];
    expect(branches.map((b) => b.BranchName)).toEqual(['Node.js 24 running on 64bit Amazon Linux 2023', 'Node.js 22 running on 64bit Amazon Linux 2023', 'Node.js 20 running on 64bit Amazon Linux 2023']);
    const all = (await eb('ListPlatformBranches', 'list-platform-branches')).PlatformBranchSummaryList as any[];
    expect(all.some((b) => b.LifecycleState === 'Deprecated')).toBe(true);
  });

  it('health, managed actions, account attributes and configuration: describe-instances-health, describe-environment-managed-action(s/-history), describe-account-attributes, describe-configuration-settings, validate-configuration-settings (R52, R53)', async () => {
    const health = await eb('DescribeInstancesHealth', 'describe-instances-health', '--environment-name', 'ops-blue', '--attribute-names', 'All');
    expect(health.InstanceHealthList.length).toBeGreaterThan(0);
    expect(health.InstanceHealthList[0]).toMatchObject({ HealthStatus: 'Ok', Color: 'Green', Deployment: { VersionLabel: 'v1', Status: 'Deployed' } });
    expect((await eb('DescribeEnvironmentManagedActions', 'describe-environment-managed-actions', '--environment-name', 'ops-blue')).ManagedActions).toEqual([]);
    expect((await eb('DescribeEnvironmentManagedActionHistory', 'describe-environment-managed-action-history', '--environment-name', 'ops-blue')).ManagedActionHistoryItems).toEqual([]);
    expect((await eb('DescribeAccountAttributes', 'describe-account-attributes')).ResourceQuotas.EnvironmentQuota.Maximum).toBe(200);

    const config = (await eb('DescribeConfigurationSettings', 'describe-configuration-settings', '--application-name', APP, '--environment-name', 'ops-green')).ConfigurationSettings[0];
    expect(config.PlatformArn).toBe(ARN);
    const value = (ns: string, name: string) => (config.OptionSettings as any[]).find((o) => o.Namespace === ns && o.OptionName === name)?.Value;
    expect(value('aws:elasticbeanstalk:environment', 'LoadBalancerIsShared')).toBe('false');
    expect(value('aws:autoscaling:launchconfiguration', 'IamInstanceProfile')).toBe('ops-profile');

    const good = [{ Namespace: 'aws:elb:policies', OptionName: 'ConnectionDrainingEnabled', Value: 'true' }, { Namespace: 'aws:autoscaling:updatepolicy:rollingupdate', OptionName: 'RollingUpdateType', Value: 'Health' }];
    expect((await eb('ValidateConfigurationSettings', 'validate-configuration-settings', '--application-name', APP, '--environment-name', 'ops-blue', '--option-settings', JSON.stringify(good))).Messages).toEqual([]);
    const bad = [{ Namespace: 'aws:elb:policies', OptionName: 'ConnectionDrainingEnabled', Value: 'maybe' }, { Namespace: 'aws:nonsense', OptionName: 'X', Value: '1' }];
    const messages = (await eb('ValidateConfigurationSettings', 'validate-configuration-settings', '--application-name', APP, '--environment-name', 'ops-blue', '--option-settings', JSON.stringify(bad))).Messages as any[];
    expect(messages.map((m) => [m.Severity, m.Namespace, m.OptionName])).toEqual([['error', 'aws:elb:policies', 'ConnectionDrainingEnabled'], ['error', 'aws:nonsense', 'X']]);
    expect(messages[1].Message).toContain('Unknown configuration setting');
  });

  it("what eb create sends by default is accepted by update-environment; what AWS refuses is still refused (R53)", async () => {
    const sent = [
      { Namespace: 'aws:elb:policies', OptionName: 'ConnectionDrainingEnabled', Value: 'true' },
      { Namespace: 'aws:elb:loadbalancer', OptionName: 'CrossZone', Value: 'true' },
      { Namespace: 'aws:autoscaling:updatepolicy:rollingupdate', OptionName: 'RollingUpdateEnabled', Value: 'true' },
      { Namespace: 'aws:autoscaling:updatepolicy:rollingupdate', OptionName: 'RollingUpdateType', Value: 'Health' },
      { Namespace: 'aws:elasticbeanstalk:command', OptionName: 'BatchSize', Value: '30' },
      { Namespace: 'aws:elasticbeanstalk:command', OptionName: 'BatchSizeType', Value: 'Percentage' },
    ];
    const refused = await aws('elasticbeanstalk', 'update-environment', '--environment-name', 'ops-green', '--option-settings', JSON.stringify([{ Namespace: 'aws:elb:policies', OptionName: 'ConnectionDrainingTimeout', Value: '0' }]));
    expect(refused.stderr).toContain('ConfigurationValidationException');
    await eb('UpdateEnvironment', 'update-environment', '--environment-name', 'ops-green', '--option-settings', JSON.stringify(sent));
    await ready('ops-green');
  });

  it('versions and applications: update-application-version, update-application (R52)', async () => {
    const version = (await eb('UpdateApplicationVersion', 'update-application-version', '--application-name', APP, '--version-label', 'v1', '--description', 'first')).ApplicationVersion;
    expect(version).toMatchObject({ VersionLabel: 'v1', Description: 'first' });
    const missing = await aws('elasticbeanstalk', 'update-application-version', '--application-name', APP, '--version-label', 'nope');
    expect(missing.stderr).toContain('InvalidParameterValue');
    expect((await eb('UpdateApplication', 'update-application', '--application-name', APP, '--description', 'ops app')).Application.Description).toBe('ops app');
  });

  it("a mutating call's events carry its RequestId, and --request-id selects exactly them: restart-app-server, rebuild-environment, swap (R50)", async () => {
    const restart = await requestIdOf('elasticbeanstalk', 'restart-app-server', '--environment-name', 'ops-blue');
    await until('the restart to end', async () => (await events('--request-id', restart)).some((e) => e.Message === 'restartAppServer completed successfully.'));
    const own = await events('--request-id', restart);
    expect(own.map((e) => e.Message).reverse()).toEqual(['restartAppServer is starting.', 'restartAppServer completed successfully.']);
    expect(own.every((e) => e.RequestId === restart && e.EnvironmentName === 'ops-blue')).toBe(true);

    const rebuild = await requestIdOf('elasticbeanstalk', 'rebuild-environment', '--environment-name', 'ops-green');
    await until('the rebuild to end', async () => (await events('--request-id', rebuild)).some((e) => e.Message === 'rebuildEnvironment completed successfully.'));
    await ready('ops-green');

    const swap = await requestIdOf('elasticbeanstalk', 'swap-environment-cnames', '--source-environment-name', 'ops-blue', '--destination-environment-name', 'ops-green');
    await until('the swap to complete', async () => (await events('--request-id', swap)).filter((e) => e.Message.startsWith('Completed swapping')).length === 2);
    const swapEvents = await events('--request-id', swap);
    expect(new Set(swapEvents.map((e) => e.EnvironmentName))).toEqual(new Set(['ops-blue', 'ops-green']));
    expect(swapEvents.some((e) => e.Message.startsWith('restartAppServer') || e.Message.startsWith('rebuildEnvironment'))).toBe(false);
    // The launch's events carry the create request's id, none of the later ones.
    const created = (await events('--environment-name', 'ops-blue')).find((e) => e.Message === 'createEnvironment is starting.');
    expect(created.RequestId).toMatch(/^[0-9a-f-]{36}$/);
    const launch = await events('--request-id', created.RequestId);
    expect(launch.some((e) => e.Message === 'Successfully launched environment: ops-blue')).toBe(true);
    expect(launch.some((e) => e.RequestId !== created.RequestId || e.EnvironmentName !== 'ops-blue')).toBe(false);
  });

  it('every other DescribeEvents filter: environment id, version label, severity, start/end time, template name, platform ARN (R50)', async () => {
    const blue = await describeEnv('ops-blue');
    const all = await events();
    const byId = await events('--environment-id', blue.EnvironmentId);
    expect(byId.length).toBeGreaterThan(0);
    expect(byId.every((e) => e.EnvironmentName === 'ops-blue')).toBe(true);
    expect(byId.length).toBe(all.filter((e) => e.EnvironmentName === 'ops-blue').length);
    const v1 = await events('--version-label', 'v1');
    expect(v1.length).toBeGreaterThan(0);
    expect(v1.every((e) => e.VersionLabel === 'v1')).toBe(true);
    expect(all.some((e) => e.VersionLabel !== 'v1')).toBe(true); // ops-green runs the sample application
    const warn = await events('--severity', 'WARN');
    expect(warn.every((e) => ['WARN', 'ERROR', 'FATAL'].includes(e.Severity))).toBe(true);
    const badSeverity = await aws('elasticbeanstalk', 'describe-events', '--severity', 'LOUD');
    expect(badSeverity.exitCode).not.toBe(0);
    const sorted = [...all].sort((a, b) => Date.parse(a.EventDate) - Date.parse(b.EventDate));
    const middle = sorted[Math.floor(sorted.length / 2)].EventDate;
    const since = await events('--start-time', middle);
    const before = await events('--end-time', middle);
    expect(since.every((e) => Date.parse(e.EventDate) >= Date.parse(middle))).toBe(true);
    expect(before.every((e) => Date.parse(e.EventDate) < Date.parse(middle))).toBe(true);
    expect(since.length + before.length).toBe((await events()).length - (all.length - sorted.length));
    expect(await events('--template-name', 'any')).toEqual([]);
    expect(await events('--platform-arn', ARN)).toEqual([]);
  });

  it('pages: at most MaxRecords an answer with NextToken, the CLI follows them, 1001 is the model\'s ValidationError (R19)', async () => {
    const all = await events();
    expect(all.length).toBeGreaterThan(6);
    const page = await eb('DescribeEvents', 'describe-events', '--application-name', APP, '--max-records', '5');
    expect(page.Events).toHaveLength(5);
    expect(page.NextToken).toEqual(expect.any(String));
    const next = await eb('DescribeEvents', 'describe-events', '--application-name', APP, '--max-records', '5', '--next-token', page.NextToken);
    expect(next.Events.map((e: any) => e.Message)).toEqual(all.slice(5, 10).map((e) => e.Message));
    // --page-size: the CLI asks 3 at a time and follows every NextToken to the end.
    const paged = (await eb('DescribeEvents', 'describe-events', '--application-name', APP, '--page-size', '3')).Events as any[];
    expect(paged.length).toBeGreaterThanOrEqual(all.length);
    expect(new Set(paged.map((e) => `${e.EventDate}${e.EnvironmentName}${e.Message}`)).size).toBe(paged.length);
    const tooMany = await aws('elasticbeanstalk', 'describe-events', '--max-records', '1001');
    expect(tooMany.exitCode).not.toBe(0);
    expect(tooMany.stderr).toContain("(ValidationError) when calling the DescribeEvents operation: 1 validation error detected: Value '1001' at 'maxRecords' failed to satisfy constraint: Member must have value less than or equal to 1000");
  });

  it("AWS's managed policies that EB's roles attach exist, as in every account; a made-up one does not (R54)", async () => {
    // EnhancedHealth lives under the service-role/ path, as on AWS.
    for (const name of ['AWSElasticBeanstalkWebTier', 'AWSElasticBeanstalkMulticontainerDocker', 'AWSElasticBeanstalkWorkerTier', 'service-role/AWSElasticBeanstalkEnhancedHealth', 'AWSElasticBeanstalkManagedUpdatesCustomerRolePolicy']) {
      await ok('iam', 'attach-role-policy', '--role-name', 'ops-role', '--policy-arn', `arn:aws:iam::aws:policy/${name}`);
    }
    const attached = (await ok('iam', 'list-attached-role-policies', '--role-name', 'ops-role')).AttachedPolicies as any[];
    expect(attached.map((p) => p.PolicyName)).toContain('AWSElasticBeanstalkWebTier');
    const made_up = await aws('iam', 'attach-role-policy', '--role-name', 'ops-role', '--policy-arn', 'arn:aws:iam::aws:policy/AWSElasticBeanstalkNoSuchTier');
    expect(made_up.stderr).toContain('NoSuchEntity');
  });

  it('an action EB does not serve answers InvalidAction, not a crash (R52)', async () => {
    const r = await fetch(sandbox.endpoint, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: 'AWS4-HMAC-SHA256 Credential=sandbox-admin/20260101/ap-northeast-2/elasticbeanstalk/aws4_request, SignedHeaders=host, Signature=0' },
      body: 'Action=FrobnicateEnvironment&Version=2010-12-01',
    });
    expect(r.status).toBe(400);
    expect(await r.text()).toContain('<Code>InvalidAction</Code>');
    // The sandbox still answers afterwards.
    await eb('DescribeAccountAttributes', 'describe-account-attributes');
  });
});

describe('events are forgotten after the retention (--event-retention-minutes; EB: 6 weeks, R51)', () => {
  let sandbox: Sandbox;
  let dir: string;
  const { ok } = cli(() => sandbox.endpoint);
  // Long enough that the first read lands inside it on a loaded 2-core machine.
  const RETENTION_MS = 30_000;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'eb-retention-'));
    sandbox = await createSandbox({ port: 0, routerPort: 0, stateDir: join(dir, 'sandbox'), delays: { launchMs: 100, terminateMs: 100 }, strict: { eventRetentionMs: RETENTION_MS } });
  }, 60_000);
  afterAll(async () => {
    await sandbox?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('an event older than the retention is gone; a newer one stays', async () => {
    await ok('elasticbeanstalk', 'create-application', '--application-name', 'keep');
    // No instance profile: EB accepts the request and fails the launch with events (R8).
    const made = Date.now();
    await ok('elasticbeanstalk', 'create-environment', '--application-name', 'keep', '--environment-name', 'keep-old', '--solution-stack-name', STACK);
    const first = (await ok('elasticbeanstalk', 'describe-events', '--environment-name', 'keep-old')).Events as any[];
    expect(first.some((e) => e.Message === 'createEnvironment is starting.')).toBe(true);
    expect(Date.now() - made).toBeLessThan(RETENTION_MS); // read inside the window
    // Poll (a condition, not a sleep) until the retention has passed for that event.
    let left: any[] = first;
    const end = Date.now() + 45_000;
    while (left.some((e) => e.Message === 'createEnvironment is starting.') && Date.now() < end) {
      await pause(500);
      left = (await ok('elasticbeanstalk', 'describe-events', '--environment-name', 'keep-old')).Events;
    }
    expect(left.some((e) => e.Message === 'createEnvironment is starting.')).toBe(false);
    expect(Date.now() - made).toBeGreaterThanOrEqual(RETENTION_MS);
    await ok('elasticbeanstalk', 'create-environment', '--application-name', 'keep', '--environment-name', 'keep-new', '--solution-stack-name', STACK);
    const fresh = (await ok('elasticbeanstalk', 'describe-events', '--application-name', 'keep')).Events as any[];
    expect(fresh.some((e) => e.EnvironmentName === 'keep-new' && e.Message === 'createEnvironment is starting.')).toBe(true);
  });
});
