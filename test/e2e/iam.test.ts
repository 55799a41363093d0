// Issue 18: the sandbox evaluates every request against the caller's IAM policies, and the
// tool works under exactly the documented set. One phase, whose caller holds the managed
// policy, a working copy of examples/iam-policy.json and an extra file the tests fill with
// Deny statements and empty again (the sandbox reads an edited policy file at the next
// request). Through the real aws CLI, v1 and v2: each service's denial as AWS words it (R33),
// an explicit deny beating the managed policy's elasticbeanstalk:*, DynamoDB transactions
// authorised per item (R32), EB building the stack with the caller's permissions (R34); then
// each statement of examples/iam-policy.json removed in turn, with the command that needs it.
// The whole lifecycle under the documented set is proven by the lifecycle files (deploy,
// operate, hold-wait, history-events-logs, vpc), whose sandboxes enforce it by default.
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { strToU8, zipSync } from 'fflate';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXAMPLE_POLICY_FILE, MANAGED_POLICY_FILE } from '../../sandbox/iam/policies.js';
import { AwsCliError, grantFor } from '../../src/errors.js';
import { startPhase, type PhaseSandbox } from '../helpers/sandbox-phase.js';

const V1 = 'aws';
const V2 = '/usr/bin/aws';
const STACK = '64bit Amazon Linux 2023 v6.6.3 running Node.js 22';
const BUCKET = 'elasticbeanstalk-ap-northeast-2-123456789012';
const USER = 'arn:aws:iam::123456789012:user/moto';
const LONG = 600_000;

let dir: string;
let p: PhaseSandbox;
/** The caller's copy of examples/iam-policy.json, and the extra file of Deny statements. */
let policyFile: string;
let extraFile: string;

const EMPTY = { Version: '2012-10-17', Statement: [] };
const setExtra = (statements: object[]) => writeFileSync(extraFile, JSON.stringify({ ...EMPTY, Statement: statements }));

/** The aws CLI as the tool's caller ('sandbox'), or as the account's administrator. */
function aws(cli: string, args: string[], who: 'caller' | 'admin' = 'caller') {
  return execa(cli, [...args, '--output', 'json', '--endpoint-url', p.sandbox.endpoint], {
    reject: false,
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      AWS_ACCESS_KEY_ID: who === 'admin' ? 'sandbox-admin' : 'sandbox',
      AWS_SECRET_ACCESS_KEY: 'sandbox',
      AWS_DEFAULT_REGION: 'ap-northeast-2',
      AWS_MAX_ATTEMPTS: '1',
      AWS_PAGER: '',
      AWS_CONFIG_FILE: '/dev/null',
      AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
      AWS_EC2_METADATA_DISABLED: 'true',
    },
    extendEnv: false,
  });
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'iam-'));
  policyFile = join(dir, 'iam-policy.json');
  extraFile = join(dir, 'extra.json');
  copyFileSync(EXAMPLE_POLICY_FILE, policyFile);
  setExtra([]);
  p = await startPhase({ phase: 'iam', octet: 218, strict: { iamDelayMs: 0, natDelayMs: 0, eniLingerMs: 0, policies: [MANAGED_POLICY_FILE, policyFile, extraFile] }, delays: { launchMs: 300, swapMs: 100, terminateMs: 200 } });
});

afterAll(async () => {
  await p?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe.each([
  ['v1', V1],
  ['v2', V2],
])('denials as each service answers them, through the aws CLI %s', (_, cli) => {
  const denied = async (args: string[], code: string, action: string, resource?: string) => {
    const r = await aws(cli, args);
    expect(r.exitCode, r.stderr).not.toBe(0);
    const on = resource ? ` on resource: ${resource}` : '';
    expect(r.stderr).toContain(`An error occurred (${code}) when calling the`);
    expect(r.stderr).toContain(`User: ${USER} is not authorized to perform: ${action}${on} `);
    // The tool's error names the statement that would allow it (issue 18 item 6).
    expect(grantFor(r.stderr)).toBe(JSON.stringify({ Effect: 'Allow', Action: action, Resource: resource ?? '*' }));
    expect(new AwsCliError(['aws', ...args], r.exitCode ?? 1, r.stderr).awsCode).toBe(code);
    return r.stderr;
  };

  it('EC2: UnauthorizedOperation with an encoded failure message (RunInstances without a launch template)', async () => {
    const stderr = await denied(['ec2', 'run-instances', '--dry-run', '--image-id', 'ami-12345678', '--instance-type', 't3.micro'], 'UnauthorizedOperation', 'ec2:RunInstances', 'arn:aws:ec2:ap-northeast-2:123456789012:instance/*');
    expect(stderr).toContain('You are not authorized to perform this operation.');
    const encoded = /Encoded authorization failure message: (\S+)/.exec(stderr)?.[1] ?? '';
    expect(JSON.parse(Buffer.from(encoded, 'base64url').toString()).context.action).toBe('ec2:RunInstances');
  });

  it('EC2: the same RunInstances from a launch template is allowed by the managed policy (DryRunOperation)', async () => {
    const r = await aws(cli, ['ec2', 'run-instances', '--dry-run', '--launch-template', 'LaunchTemplateName=any-template']);
    expect(r.stderr).toContain('DryRunOperation');
  });

  it('IAM: AccessDenied for a role outside the johanna path', async () => {
    await denied(['iam', 'create-role', '--role-name', 'outsider', '--assume-role-policy-document', '{}'], 'AccessDenied', 'iam:CreateRole', 'arn:aws:iam::123456789012:role/outsider');
  });

  it('STS: AccessDenied for GetSessionToken; GetCallerIdentity needs no permission', async () => {
    await denied(['sts', 'get-session-token'], 'AccessDenied', 'sts:GetSessionToken');
    const me = await aws(cli, ['sts', 'get-caller-identity']);
    expect(me.exitCode, me.stderr).toBe(0);
  });

  it('S3: AccessDenied outside the elasticbeanstalk-* buckets', async () => {
    await denied(['s3api', 'put-object', '--bucket', 'someone-elses', '--key', 'k'], 'AccessDenied', 's3:PutObject', 'arn:aws:s3:::someone-elses/k');
  });

  it('DynamoDB: AccessDeniedException on a table that is not ours', async () => {
    await denied(['dynamodb', 'get-item', '--table-name', 'other', '--key', '{"k":{"S":"x"}}'], 'AccessDeniedException', 'dynamodb:GetItem', 'arn:aws:dynamodb:ap-northeast-2:123456789012:table/other');
  });

  it('CloudWatch: AccessDenied for PutMetricData', async () => {
    await denied(['cloudwatch', 'put-metric-data', '--namespace', 'X', '--metric-name', 'm', '--value', '1'], 'AccessDenied', 'cloudwatch:PutMetricData');
  });

  it('Elastic Beanstalk: AccessDenied, and an explicit deny wins over the managed policy\'s elasticbeanstalk:*', async () => {
    setExtra([{ Sid: 'NoNewApplications', Effect: 'Deny', Action: 'elasticbeanstalk:CreateApplication', Resource: '*' }]);
    const stderr = await denied(['elasticbeanstalk', 'create-application', '--application-name', 'forbidden'], 'AccessDenied', 'elasticbeanstalk:CreateApplication');
    expect(stderr).toContain('with an explicit deny in an identity-based policy');
    const read = await aws(cli, ['elasticbeanstalk', 'describe-applications']);
    expect(read.exitCode, read.stderr).toBe(0);
    setExtra([]);
  });
});

describe('EB builds the stack with the caller\'s permissions (R34)', () => {
  it('a denied autoscaling:CreateAutoScalingGroup: create-environment is accepted, the launch fails with EB\'s events and ends Terminated', async () => {
    // The administrator sets the stage: the application (the caller may not create one),
    // its version and an instance profile.
    const admin = async (...args: string[]) => {
      const r = await aws(V1, args, 'admin');
      expect(r.exitCode, `${args.join(' ')}: ${r.stderr}`).toBe(0);
    };
    writeFileSync(join(dir, 'app.zip'), zipSync({ 'package.json': strToU8('{"name":"x"}') }));
    await admin('elasticbeanstalk', 'create-storage-location');
    await admin('s3', 'cp', join(dir, 'app.zip'), `s3://${BUCKET}/iam/app.zip`);
    await admin('elasticbeanstalk', 'create-application', '--application-name', 'iam-stack');
    await admin('elasticbeanstalk', 'create-application-version', '--application-name', 'iam-stack', '--version-label', 'v1', '--source-bundle', `S3Bucket=${BUCKET},S3Key=iam/app.zip`);
    await admin('iam', 'create-role', '--role-name', 'iam-role', '--path', '/other/', '--assume-role-policy-document', JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { Service: 'ec2.amazonaws.com' }, Action: 'sts:AssumeRole' }] }));
    await admin('iam', 'create-instance-profile', '--instance-profile-name', 'iam-profile', '--path', '/other/');
    await admin('iam', 'add-role-to-instance-profile', '--instance-profile-name', 'iam-profile', '--role-name', 'iam-role');

    setExtra([{ Sid: 'NoAutoScalingGroups', Effect: 'Deny', Action: 'autoscaling:CreateAutoScalingGroup', Resource: '*' }]);
    const settings = [{ Namespace: 'aws:autoscaling:launchconfiguration', OptionName: 'IamInstanceProfile', Value: 'iam-profile' }];
    const r = await aws(V1, ['elasticbeanstalk', 'create-environment', '--application-name', 'iam-stack', '--environment-name', 'iam-denied', '--solution-stack-name', STACK, '--version-label', 'v1', '--option-settings', JSON.stringify(settings)]);
    expect(r.exitCode, r.stderr).toBe(0); // the request is EB's and allowed; the stack is the caller's
    const end = Date.now() + 30_000;
    let env: any;
    for (;;) {
      env = JSON.parse((await aws(V1, ['elasticbeanstalk', 'describe-environments', '--environment-names', 'iam-denied', '--include-deleted'])).stdout).Environments[0];
      if (env?.Status === 'Terminated' || Date.now() > end) break;
      await new Promise((resolve) => setTimeout(resolve, 300));
    }
    expect(env.Status).toBe('Terminated');
    const events = (JSON.parse((await aws(V1, ['elasticbeanstalk', 'describe-events', '--environment-name', 'iam-denied'])).stdout).Events as any[]).map((e) => e.Message as string);
    expect(events.join('\n')).toContain(`Creating Auto Scaling group failed. Reason: API: autoscaling:CreateAutoScalingGroup User: ${USER} is not authorized to perform: autoscaling:CreateAutoScalingGroup`);
    expect(events.join('\n')).toContain("Reason: The following resource(s) failed to create: [AWSEBAutoScalingGroup].");
    expect(events).toContain('Failed to launch environment.');
    setExtra([]);
  });
});

/** examples/iam-policy.json without one statement, as the caller's policy. */
function withoutStatement(sid: string): void {
  const policy = JSON.parse(readFileSync(EXAMPLE_POLICY_FILE, 'utf8'));
  policy.Statement = policy.Statement.filter((st: { Sid: string }) => st.Sid !== sid);
  writeFileSync(policyFile, JSON.stringify(policy));
}
const restore = () => copyFileSync(EXAMPLE_POLICY_FILE, policyFile);

describe('every statement of examples/iam-policy.json earns its place: removed in turn, the command that needs it fails (issue 18 item 5)', () => {
  /** The denial and the grant line the tool prints, exit 1. */
  const refused = (r: { exitCode?: number; stderr: string }, action: string, resource?: string) => {
    expect(r.exitCode, r.stderr).toBe(1);
    expect(r.stderr).toMatch(new RegExp(`is not authorized to perform: ${action.replace(/[.*]/g, '\\$&')}`));
    expect(r.stderr).toContain(`to allow it, grant: {"Effect":"Allow","Action":"${action}","Resource":"${resource ?? '*'}"}`);
  };
  const ARN = 'arn:aws:dynamodb:ap-northeast-2:123456789012:table';

  it('the documented set has exactly these statements', () => {
    const sids = JSON.parse(readFileSync(EXAMPLE_POLICY_FILE, 'utf8')).Statement.map((st: { Sid: string }) => st.Sid);
    expect(sids).toEqual(['PhaseNetwork', 'PhaseRoles', 'ReadRoles', 'DeployLock', 'DeployLockRenewal', 'DeployHistory']);
  });

  it('without DeployLock: create_vpc cannot take the deploy lock, before it changes anything', { timeout: LONG }, async () => {
    withoutStatement('DeployLock');
    const r = await p.run(['-f', 'create_vpc']);
    expect(r.exitCode, r.stderr).toBe(1);
    expect(r.stderr).toMatch(/is not authorized to perform: dynamodb:(PutItem|GetItem|CreateTable|DescribeTable) on resource: arn:aws:dynamodb:ap-northeast-2:123456789012:table\/johanna-locks/);
    expect(r.stderr).toMatch(/to allow it, grant: \{"Effect":"Allow","Action":"dynamodb:\w+","Resource":"arn:aws:dynamodb:ap-northeast-2:123456789012:table\/johanna-locks"\}/);
    expect((await p.aws(['ec2', 'describe-vpcs', '--filters', 'Name=tag:johanna:phase,Values=iam'])).Vpcs).toEqual([]);
  });

  it('without PhaseRoles: create_vpc cannot make the roles, and makes nothing that costs money; with the statement back, the re-run completes the phase, no duplicate', { timeout: LONG }, async () => {
    withoutStatement('PhaseRoles');
    const r = await p.run(['-f', 'create_vpc']);
    expect(r.exitCode, r.stderr).toBe(1);
    expect(r.stderr).toMatch(/is not authorized to perform: iam:CreateRole on resource: arn:aws:iam::123456789012:role\/johanna\/iam\//);
    expect(r.stderr).toContain('to allow it, grant: {"Effect":"Allow","Action":"iam:CreateRole","Resource":"arn:aws:iam::123456789012:role/johanna/iam/');
    // The Elastic IP (and the NAT gateway after it) waits for the role creates (issue 27).
    expect((await p.aws(['ec2', 'describe-addresses', '--filters', 'Name=tag:johanna:phase,Values=iam'])).Addresses).toEqual([]);
    restore();
    const again = await p.run(['-f', 'create_vpc']);
    expect(again.exitCode, again.stderr).toBe(0);
    expect((await p.aws(['ec2', 'describe-vpcs', '--filters', 'Name=tag:johanna:phase,Values=iam'])).Vpcs).toHaveLength(1);
  });

  it('without ReadRoles: a new phase needs no IAM read (above), but a re-run cannot compare the roles (iam:GetAccountAuthorizationDetails)', { timeout: LONG }, async () => {
    withoutStatement('ReadRoles');
    refused(await p.run(['-f', 'create_vpc']), 'iam:GetAccountAuthorizationDetails');
  });

  it('without DeployHistory: history cannot read the deploy history (dynamodb:Query)', { timeout: LONG }, async () => {
    withoutStatement('DeployHistory');
    const r = await p.run(['history']);
    expect(r.stderr).toContain(`is not authorized to perform: dynamodb:Query on resource: ${ARN}/johanna-history`);
    restore();
    expect((await p.run(['history'])).stderr).not.toContain('not authorized');
  });

  it('without DeployLockRenewal: the lease renewal (update-item on the lock table) is denied; with it, allowed', { timeout: LONG }, async () => {
    // The call the lease makes (src/deploy/lock.ts renew), as the tool's caller, through the passthrough.
    const renew = ['-f', '--', 'aws', 'dynamodb', 'update-item', '--table-name', 'johanna-locks', '--key', '{"phase":{"S":"iam"}}', '--update-expression', 'SET expiresAt = :expires', '--expression-attribute-values', '{":expires":{"N":"1"}}'];
    withoutStatement('DeployLockRenewal');
    const denied = await p.run(renew);
    expect(denied.exitCode).not.toBe(0);
    expect(denied.stderr).toContain(`AccessDeniedException) when calling the UpdateItem operation: User: ${USER} is not authorized to perform: dynamodb:UpdateItem on resource: ${ARN}/johanna-locks`);
    restore();
    const allowed = await p.run(renew);
    expect(allowed.exitCode, allowed.stderr).toBe(0);
  });
  it('without PhaseNetwork: terminate_vpc cannot remove the network; with the statement back, the re-run removes it all', { timeout: LONG }, async () => {
    // Last: the phase is complete, so it is the network's deletes that need the statement.
    withoutStatement('PhaseNetwork');
    const r = await p.run(['-f', 'terminate_vpc']);
    expect(r.exitCode, r.stderr).toBe(1);
    expect(r.stderr).toMatch(/is not authorized to perform: ec2:(Delete|Detach|Disassociate)\w+/);
    expect(r.stderr).toMatch(/to allow it, grant: \{"Effect":"Allow","Action":"ec2:(Delete|Detach|Disassociate)\w+","Resource":"\*"\}/);
    restore();
    const again = await p.run(['-f', 'terminate_vpc']);
    expect(again.exitCode, again.stderr).toBe(0);
    expect((await p.aws(['ec2', 'describe-vpcs', '--filters', 'Name=tag:johanna:phase,Values=iam'])).Vpcs).toEqual([]);
  });
});

describe('DynamoDB transactions are authorised per item (R32)', () => {
  it('the lock release and the history record in one transact-write-items: Delete on the lock table, Put on the history table', async () => {
    // After the removal tests: create_vpc made both tables, as the tool makes them.
    const items = JSON.stringify([
      { Delete: { TableName: 'johanna-locks', Key: { phase: { S: 'txn' } } } },
      { Put: { TableName: 'johanna-history', Item: { phase: { S: 'txn' }, time: { S: new Date().toISOString() } } } },
    ]);
    const ok = await aws(V1, ['dynamodb', 'transact-write-items', '--transact-items', items]);
    expect(ok.exitCode, ok.stderr).toBe(0);
    const check = await aws(V1, ['dynamodb', 'transact-write-items', '--transact-items', JSON.stringify([{ ConditionCheck: { TableName: 'johanna-history', Key: { phase: { S: 'txn' }, time: { S: 'x' } }, ConditionExpression: 'attribute_exists(phase)' } }])]);
    expect(check.stderr).toContain('is not authorized to perform: dynamodb:ConditionCheckItem on resource: arn:aws:dynamodb:ap-northeast-2:123456789012:table/johanna-history');
  });
});
