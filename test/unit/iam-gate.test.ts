// The sandbox's IAM evaluation (sandbox/iam/) on the documented set, without moto: what a
// request is checked for (R31, R32) and what the policies decide (R30).
import { describe, expect, it } from 'vitest';
import { IamGate } from '../../sandbox/iam/gate.js';
import { loadPolicies } from '../../sandbox/iam/policies.js';
import { checksOf, IamLookups } from '../../sandbox/iam/requests.js';
import type { MotoClient } from '../../sandbox/moto-client.js';

/** moto's answers to the gate's IAM lookups: every role and profile lives under /johanna/p/. */
const moto = {
  query: async (_service: string, action: string) =>
    action === 'GetRole'
      ? { GetRoleResult: { Role: { Path: '/johanna/p/' } } }
      : { GetInstanceProfileResult: { InstanceProfile: { Path: '/johanna/p/', Roles: { member: [{ Arn: 'arn:aws:iam::123456789012:role/johanna/p/p-eb-ec2-role' }] } } } },
} as unknown as MotoClient;
const where = { account: '123456789012', region: 'ap-northeast-2' };
const gate = new IamGate(loadPolicies(undefined), moto, 'ap-northeast-2');
const query = (service: string, params: Record<string, string>) => ({ service, method: 'POST', url: '/', headers: {}, body: Buffer.from(new URLSearchParams(params).toString()) });
const dynamo = (op: string, body: object) => ({ service: 'dynamodb', method: 'POST', url: '/', headers: { 'x-amz-target': `DynamoDB_20120810.${op}` }, body: Buffer.from(JSON.stringify(body)) });
const decide = async (info: Parameters<typeof checksOf>[0]) => gate.evaluate(await checksOf(info, where, new IamLookups(moto)));

describe('the documented set (managed policy v10 + examples/iam-policy.json)', () => {
  it('denies RunInstances without a launch template, allows it from one (R18, R35)', async () => {
    const plain = await decide(query('ec2', { Action: 'RunInstances', DryRun: 'true', 'IamInstanceProfile.Name': 'p-eb-ec2-role' }));
    expect(plain?.action).toBe('ec2:RunInstances');
    expect(await decide(query('ec2', { Action: 'RunInstances', DryRun: 'true', 'LaunchTemplate.LaunchTemplateName': 'p-eb-ec2-role-check', 'IamInstanceProfile.Name': 'p-eb-ec2-role' }))).toBeUndefined();
  });

  it('allows the lock renewal (UpdateItem on johanna-locks) and nothing of the kind on another table', async () => {
    expect(await decide(dynamo('UpdateItem', { TableName: 'johanna-locks' }))).toBeUndefined();
    expect((await decide(dynamo('UpdateItem', { TableName: 'johanna-history' })))?.resource).toBe('arn:aws:dynamodb:ap-northeast-2:123456789012:table/johanna-history');
  });

  it('authorises a transaction per item, on each item\'s own action (R32)', async () => {
    const tx = dynamo('TransactWriteItems', { TransactItems: [{ Delete: { TableName: 'johanna-locks' } }, { Put: { TableName: 'johanna-history' } }, { ConditionCheck: { TableName: 'johanna-locks' } }] });
    expect((await checksOf(tx, where, new IamLookups(moto))).map((c) => c.action)).toEqual(['dynamodb:DeleteItem', 'dynamodb:PutItem', 'dynamodb:ConditionCheckItem']);
    expect((await decide(tx))?.action).toBe('dynamodb:ConditionCheckItem');
  });

  it('needs PassRole to add a role to a profile, and TagRole to create a tagged role (R31)', async () => {
    const add = await checksOf(query('iam', { Action: 'AddRoleToInstanceProfile', InstanceProfileName: 'p-eb-ec2-role', RoleName: 'p-eb-ec2-role' }), where, new IamLookups(moto));
    expect(add.map((c) => `${c.action} ${c.resource}`)).toEqual([
      'iam:AddRoleToInstanceProfile arn:aws:iam::123456789012:instance-profile/johanna/p/p-eb-ec2-role',
      'iam:PassRole arn:aws:iam::123456789012:role/johanna/p/p-eb-ec2-role',
    ]);
    expect(await gate.evaluate(add)).toBeUndefined();
    const tagged = await checksOf(query('iam', { Action: 'CreateRole', RoleName: 'x', Path: '/elsewhere/', 'Tags.member.1.Key': 'k' }), where, new IamLookups(moto));
    expect(tagged.map((c) => c.action)).toEqual(['iam:CreateRole', 'iam:TagRole']);
    expect((await gate.evaluate(tagged))?.action).toBe('iam:CreateRole');
  });

  it('sts:GetCallerIdentity needs no permission; S3 paths map to their actions', async () => {
    expect(await checksOf(query('sts', { Action: 'GetCallerIdentity' }), where, new IamLookups(moto))).toEqual([]);
    const put = { service: 's3', method: 'PUT', url: '/elasticbeanstalk-ap-northeast-2-123456789012/app/v1.zip', headers: {}, body: Buffer.alloc(0) };
    expect(await checksOf(put, where, new IamLookups(moto))).toEqual([{ action: 's3:PutObject', resource: 'arn:aws:s3:::elasticbeanstalk-ap-northeast-2-123456789012/app/v1.zip' }]);
    expect(await decide(put)).toBeUndefined();
    expect((await decide({ ...put, url: '/other-bucket/k' }))?.action).toBe('s3:PutObject');
  });

  it('admin allows everything; an unknown file is an error naming it', () => {
    expect(loadPolicies(['admin'])).toBeUndefined();
    expect(() => loadPolicies(['/nonexistent/policy.json'])).toThrow('/nonexistent/policy.json');
  });
});

describe('./run sandbox start --policies and sandbox.POLICIES (src/commands/sandbox.ts policyFiles)', () => {
  it('resolves files against their base, keeps admin alone, and refuses a missing file or a mix with exit 2', async () => {
    const { policyFiles } = await import('../../src/commands/sandbox.js');
    const { UsageError } = await import('../../src/errors.js');
    expect(policyFiles(['iam-policy.json'], `${process.cwd()}/examples`, '--policies')).toEqual([`${process.cwd()}/examples/iam-policy.json`]);
    expect(policyFiles(['admin'], '/', '--policies')).toEqual(['admin']);
    expect(() => policyFiles(['nope.json'], '/tmp', 'sandbox.POLICIES')).toThrow(UsageError);
    expect(() => policyFiles(['nope.json'], '/tmp', 'sandbox.POLICIES')).toThrow('sandbox.POLICIES: no policy file /tmp/nope.json');
    expect(() => policyFiles(['admin', 'examples/iam-policy.json'], process.cwd(), '--policies')).toThrow(/admin allows everything/);
  });
});
