// The aws calls create_vpc and terminate_vpc make, through a recording runner that answers
// from a script and throws on any call it does not expect.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { Exec } from '../../src/aws/cli.js';
import { configSchema } from '../../src/config/schema.js';
import { buildCtx, type Ctx } from '../../src/context.js';
import { ConfigError, InterruptedError, StateError } from '../../src/errors.js';
import { createVpc } from '../../src/commands/create-vpc.js';
import { terminateVpc } from '../../src/commands/terminate-vpc.js';
import { findPhaseNetwork } from '../../src/infra/discover.js';
import { Logger } from '../../src/ui/log.js';
import { Redactor } from '../../src/ui/redact.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const config = configSchema.parse(JSON.parse(readFileSync(path.join(root, 'env.sandbox.json'), 'utf8')));

type Answer = object | { error: string };
/** Answers keyed by "service op" (and an optional predicate on the args). */
type Script = [string, Answer, ((args: string[]) => boolean)?][];

function recorder(script: Script) {
  const calls: string[][] = [];
  const exec: Exec = async (_tool, args) => {
    calls.push(args);
    const key = `${args[0]} ${args[1]}`;
    const hit = script.find(([k, , when]) => k === key && (!when || when(args)));
    if (!hit) throw new Error(`unexpected call: aws ${args.join(' ')}`);
    const a = hit[1];
    if ('error' in a) return { exitCode: 255, stdout: '', stderr: `An error occurred (${a.error}) when calling the X operation: nope` };
    return { exitCode: 0, stdout: JSON.stringify(a), stderr: '' };
  };
  return { exec, calls };
}

function ctxWith(exec: Exec, dryRun = false, signal?: AbortSignal): Ctx {
  const sink = new Writable({ write: (_c, _e, cb) => cb() });
  const redactor = new Redactor();
  const log = new Logger({ verbose: false, json: true, color: false, redactor, stdout: sink, stderr: sink });
  return buildCtx({ root, command: 'create_vpc', config, configFile: 'env.sandbox.json', opts: { dryRun }, log, redactor, exec, runLog: false, signal });
}

const T = (phase: string, role: string) => [
  { Key: 'johanna:phase', Value: phase },
  { Key: 'johanna:role', Value: role },
];
const noRoles = { RoleDetailList: [] };

describe('create_vpc discovery', () => {
  it('a VPC with our CIDR that is not ours is a conflict, named; nothing is changed', async () => {
    const { exec, calls } = recorder([
      ['ec2 describe-vpcs', { Vpcs: [{ VpcId: 'vpc-foreign', CidrBlock: '10.210.0.0/16', Tags: [{ Key: 'Name', Value: 'eb' }] }] }],
      ['iam get-account-authorization-details', noRoles],
      ['elasticbeanstalk describe-applications', { Applications: [] }],
    ]);
    const err = await createVpc(ctxWith(exec)).catch((e) => e);
    expect(err).toBeInstanceOf(StateError);
    expect(err.message).toMatch(/10\.210\.0\.0\/16 already exists and is not phase dv's: vpc-foreign/);
    // The roles and the application are read only once a VPC of ours exists (issue 27).
    expect(calls.map((c) => c[1])).toEqual(['describe-vpcs']);
  });

  it('a role with our name outside our path is a conflict, found by its create on a new phase; nothing that costs money is made', async () => {
    const ec2Role = (a: string[]) => a.includes('johanna-dv-eb-ec2-role');
    // Everything not scripted fails as an unexpected call; the VPC and an Elastic IP would succeed.
    const { exec, calls } = recorder([
      ['ec2 describe-vpcs', { Vpcs: [] }],
      ['iam create-role', { error: 'EntityAlreadyExists' }, ec2Role],
      ['iam create-role', { Role: {} }],
      ['iam get-account-authorization-details', { RoleDetailList: [{ RoleName: 'johanna-dv-eb-ec2-role', Path: '/', Arn: 'arn:aws:iam::1:role/x' }] }],
      ['ec2 create-vpc', { Vpc: { VpcId: 'vpc-1' } }],
      ['ec2 allocate-address', { AllocationId: 'eipalloc-1' }],
    ]);
    await expect(createVpc(ctxWith(exec))).rejects.toThrow(/IAM role johanna-dv-eb-ec2-role exists but is not phase dv's/);
    const ops = calls.map((c) => c[1]);
    expect(ops).toContain('create-vpc');
    // IAM was not read before the creates, only once a create said "already exists".
    expect(ops.indexOf('get-account-authorization-details')).toBeGreaterThan(ops.indexOf('create-role'));
    expect(ops).not.toContain('allocate-address');
    expect(ops).not.toContain('create-nat-gateway');
    expect(calls.some((c) => c[1] === 'put-role-policy' && ec2Role(c))).toBe(false);
  });

  it('an instance profile with our name outside our path is a conflict: our role is not added to it', async () => {
    const { exec, calls } = recorder([
      ['ec2 describe-vpcs', { Vpcs: [] }],
      ['iam create-role', { Role: {} }],
      ['iam put-role-policy', {}],
      ['iam create-instance-profile', { error: 'EntityAlreadyExists' }],
      ['iam get-instance-profile', { InstanceProfile: { InstanceProfileName: 'johanna-dv-eb-ec2-role', Path: '/', Roles: [] } }],
    ]);
    await expect(createVpc(ctxWith(exec))).rejects.toThrow(/instance profile johanna-dv-eb-ec2-role exists but is not phase dv's \(path \/\)/);
    expect(calls.map((c) => c[1])).not.toContain('add-role-to-instance-profile');
  });

  it('--dry-run on an empty account: reads run, every create is only printed', async () => {
    const { exec, calls } = recorder([
      ['ec2 describe-vpcs', { Vpcs: [] }],
      ['iam get-account-authorization-details', noRoles],
      ['elasticbeanstalk describe-applications', { Applications: [] }],
    ]);
    const ctx = ctxWith(exec, true);
    const r = await createVpc(ctx);
    // describe-vpcs and the roles; without a VPC of ours the application is not read (issue 27).
    expect(calls).toHaveLength(2);
    expect((r.created as string[]).length).toBe(28);
    const planned = ctx.aws.records.filter((x) => x.dryRun);
    const printed = planned.map((x) => x.args.slice(0, 2).join(' '));
    expect(printed.filter((p) => p === 'ec2 create-subnet')).toHaveLength(4);
    expect(printed).toContain('ec2 create-nat-gateway');
    // The private subnets use the main table: only the two public ones are associated, both
    // with the public table.
    const assocs = planned.filter((x) => x.args[1] === 'associate-route-table');
    expect(assocs).toHaveLength(2);
    expect(assocs.every((x) => x.args[x.args.indexOf('--route-table-id') + 1] === '<public-route-table-id>')).toBe(true);
  });

  it('AWS_VPC_EB changed while the old VPC of the phase exists: exit 2 naming both CIDRs, no change', async () => {
    const { exec, calls } = recorder([
      ['ec2 describe-vpcs', { Vpcs: [{ VpcId: 'vpc-old', CidrBlock: '10.99.0.0/16', Tags: T('dv', 'vpc') }] }],
      ['iam get-account-authorization-details', noRoles],
      ['elasticbeanstalk describe-applications', { Applications: [] }],
    ]);
    const err = await createVpc(ctxWith(exec)).catch((e) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect(err.exitCode).toBe(2);
    expect(err.message).toContain('common.AWS_VPC_EB: is 10.210.0.0/16, but phase dv already has VPC vpc-old (10.99.0.0/16)');
    expect(err.hint).toContain('terminate_vpc');
    expect(calls.every((c) => /^(describe|get)-/.test(c[1]))).toBe(true);
  });
});

describe('create_vpc and the NAT gateway', () => {
  /** A complete phase dv whose NAT gateway nat-1 is still pending. */
  function phaseWithPendingNat(poll: Answer): Script {
    const role = (name: string, policy: string, profile = false) => ({
      RoleName: name, Path: '/johanna/dv/', Arn: `arn:aws:iam::123:role/johanna/dv/${name}`, Tags: T('dv', 'iam-role'),
      RolePolicyList: [{ PolicyName: policy }],
      InstanceProfileList: profile ? [{ InstanceProfileName: name, Path: '/johanna/dv/', Roles: [{ RoleName: name }] }] : [],
    });
    const sub = (k: string, id: string) => ({ SubnetId: id, VpcId: 'vpc-1', CidrBlock: '', AvailabilityZone: '', Tags: T('dv', `subnet-${k}`) });
    const cidr = config.common.AWS_VPC_EB;
    return [
      ['ec2 describe-vpcs', { Vpcs: [{ VpcId: 'vpc-1', CidrBlock: cidr, Tags: T('dv', 'vpc') }] }],
      ['iam get-account-authorization-details', { RoleDetailList: [
        role('johanna-dv-eb-ec2-role', 'johanna-eb-web-tier', true),
        role('johanna-dv-eb-ec2-worker-role', 'oneClick_aws-elasticbeanstalk-ec2-worker-role'),
        role('johanna-dv-eb-service-role', 'oneClick_aws-elasticbeanstalk-service-role'),
      ] }],
      ['elasticbeanstalk describe-applications', { Applications: [{ ApplicationName: 'dv' }] }],
      ['ec2 describe-key-pairs', { KeyPairs: [{ KeyName: 'dv', KeyPairId: 'key-1', Tags: T('dv', 'key-pair') }] }],
      ['ec2 describe-subnets', { Subnets: [sub('private-1', 's1'), sub('private-2', 's2'), sub('public-1', 's3'), sub('public-2', 's4')] }],
      ['ec2 describe-route-tables', { RouteTables: [
        { RouteTableId: 'rtb-main', VpcId: 'vpc-1', Associations: [{ Main: true, RouteTableAssociationId: 'a' }], Routes: [{ DestinationCidrBlock: '0.0.0.0/0', NatGatewayId: 'nat-1' }] },
        { RouteTableId: 'rtb-pub', VpcId: 'vpc-1', Tags: T('dv', 'route-table-public'), Associations: [{ SubnetId: 's3', RouteTableAssociationId: 'b' }, { SubnetId: 's4', RouteTableAssociationId: 'c' }], Routes: [{ DestinationCidrBlock: '0.0.0.0/0', GatewayId: 'igw-1' }] },
      ] }],
      ['ec2 describe-security-groups', { SecurityGroups: [
        { GroupId: 'sg-priv', GroupName: 'eb_private', VpcId: 'vpc-1', Tags: T('dv', 'sg-eb-private'), IpPermissions: [
          { IpProtocol: 'tcp', FromPort: 80, ToPort: 80, UserIdGroupPairs: [{ GroupId: 'sg-pub' }] },
          { IpProtocol: 'tcp', FromPort: 22, ToPort: 22, IpRanges: [{ CidrIp: cidr }] },
        ] },
        { GroupId: 'sg-pub', GroupName: 'eb_public', VpcId: 'vpc-1', Tags: T('dv', 'sg-eb-public'), IpPermissions: [{ IpProtocol: 'tcp', FromPort: 80, ToPort: 80, IpRanges: [{ CidrIp: '0.0.0.0/0' }] }] },
      ] }],
      // The poll names the NAT gateway; discovery asks for the VPC's.
      ['ec2 describe-nat-gateways', poll, (a) => a.includes('Name=nat-gateway-id,Values=nat-1')],
      ['ec2 describe-nat-gateways', { NatGateways: [{ NatGatewayId: 'nat-1', State: 'pending', Tags: T('dv', 'nat-gateway'), NatGatewayAddresses: [{ AllocationId: 'eip-1' }] }] }],
      ['ec2 describe-internet-gateways', { InternetGateways: [{ InternetGatewayId: 'igw-1', Tags: T('dv', 'internet-gateway'), Attachments: [{ VpcId: 'vpc-1', State: 'available' }] }] }],
      ['ec2 describe-addresses', { Addresses: [{ AllocationId: 'eip-1', AssociationId: 'x', Tags: T('dv', 'nat-eip') }] }],
    ];
  }

  it('a pending NAT gateway is waited for; a complete phase is not complete until it is available', async () => {
    const { exec, calls } = recorder(phaseWithPendingNat({ NatGateways: [{ NatGatewayId: 'nat-1', State: 'available' }] }));
    const r = await createVpc(ctxWith(exec));
    expect(r.created).toEqual(['wait for NAT gateway nat-1 to be available']);
    expect(calls.filter((c) => !/^(describe|get)-/.test(c[1]))).toEqual([]);
  });

  it('a NAT gateway that failed is reported with its FailureMessage, and the next run is told to replace it', async () => {
    const failed = { NatGateways: [{ NatGatewayId: 'nat-1', State: 'failed', FailureCode: 'Gateway.NotAttached', FailureMessage: 'Network vpc-1 has no Internet gateway attached' }] };
    const err = await createVpc(ctxWith(recorder(phaseWithPendingNat(failed)).exec)).catch((e) => e);
    expect(err.message).toContain('NAT gateway nat-1 is failed: Network vpc-1 has no Internet gateway attached (Gateway.NotAttached)');
    expect(err.hint).toContain('run create_vpc again');
  });
});

describe('findPhaseNetwork', () => {
  it('two calls, by tag', async () => {
    const { exec, calls } = recorder([
      ['ec2 describe-subnets', { Subnets: ['public-1', 'public-2', 'private-1', 'private-2'].map((k) => ({ SubnetId: `s-${k}`, VpcId: 'vpc-1', Tags: T('dv', `subnet-${k}`) })) }],
      ['ec2 describe-security-groups', { SecurityGroups: [{ GroupId: 'sg-p', VpcId: 'vpc-1', Tags: T('dv', 'sg-eb-public') }, { GroupId: 'sg-q', VpcId: 'vpc-1', Tags: T('dv', 'sg-eb-private') }] }],
    ]);
    const n = await findPhaseNetwork(ctxWith(exec));
    expect(n).toEqual({ vpcId: 'vpc-1', publicSubnetIds: ['s-public-1', 's-public-2'], privateSubnetIds: ['s-private-1', 's-private-2'], ebPublicSgId: 'sg-p', ebPrivateSgId: 'sg-q' });
    expect(calls).toHaveLength(2);
    expect(calls.every((c) => c.includes('Name=tag:johanna:phase,Values=dv'))).toBe(true);
  });
});

describe('terminate_vpc', () => {
  it('refuses while the application has live environments, naming them, before deleting anything', async () => {
    const { exec, calls } = recorder([
      ['elasticbeanstalk describe-environments', { Environments: [{ EnvironmentName: 'nova-1', Status: 'Ready' }, { EnvironmentName: 'nova-0', Status: 'Terminated' }] }],
      ['iam get-account-authorization-details', noRoles],
      ['ec2 describe-tags', { Tags: [] }],
      ['ec2 describe-key-pairs', { KeyPairs: [] }],
    ]);
    const err = await terminateVpc(ctxWith(exec)).catch((e) => e);
    expect(err).toBeInstanceOf(StateError);
    expect(err.message).toMatch(/live environments: nova-1 \(Ready\)$/);
    expect(calls.every((c) => /^(describe|get)-/.test(c[1]))).toBe(true);
  });

  it('leaves what is not ours: a same-named role elsewhere, an untagged application; stale tags of a deleted VPC', async () => {
    const { exec, calls } = recorder([
      ['elasticbeanstalk describe-environments', { Environments: [] }],
      ['iam get-account-authorization-details', { RoleDetailList: [{ RoleName: 'johanna-dv-eb-service-role', Path: '/other/', Arn: 'arn:aws:iam::123:role/other/x' }] }],
      // describe-tags still names a VPC that is gone (moto keeps deleted resources' tags).
      ['ec2 describe-tags', { Tags: [{ ResourceId: 'vpc-gone', ResourceType: 'vpc', Key: 'johanna:phase', Value: 'dv' }, { ResourceId: 'vpc-gone', ResourceType: 'vpc', Key: 'johanna:role', Value: 'vpc' }] }],
      ['ec2 describe-key-pairs', { KeyPairs: [] }],
      ['ec2 describe-route-tables', { RouteTables: [] }],
      ['elasticbeanstalk list-tags-for-resource', { ResourceTags: [{ Key: 'team', Value: 'x' }] }, (a) => a.includes('arn:aws:elasticbeanstalk:ap-northeast-2:123:application/dv')],
    ]);
    const r = await terminateVpc(ctxWith(exec));
    expect(r.deleted).toEqual([]);
    expect(r.notOurs).toEqual(['IAM role johanna-dv-eb-service-role (path /other/)', 'EB application dv (no johanna:phase=dv tag)']);
    expect(calls.filter((c) => !/^(describe|get|list)-/.test(c[1]))).toEqual([]);
  });

  it('a delete-nat-gateway error is reported at once, and nothing waits for that NAT gateway', async () => {
    const { exec, calls } = recorder([
      ['elasticbeanstalk describe-environments', { Environments: [] }],
      ['elasticbeanstalk describe-applications', { Applications: [] }],
      ['iam get-account-authorization-details', noRoles],
      ['ec2 describe-tags', { Tags: [...tagLines('vpc-1', 'vpc'), ...tagLines('nat-1', 'nat-gateway'), ...tagLines('subnet-1', 'subnet-public-1')] }],
      ['ec2 describe-key-pairs', { KeyPairs: [] }],
      ['ec2 describe-route-tables', { RouteTables: [{ RouteTableId: 'rtb-main', VpcId: 'vpc-1', Associations: [{ Main: true, RouteTableAssociationId: 'a' }] }] }],
      ['ec2 describe-instances', { Reservations: [] }],
      ['ec2 delete-nat-gateway', { error: 'UnauthorizedOperation' }],
    ]);
    const err = await terminateVpc(ctxWith(exec)).catch((e) => e);
    expect(err).toBeInstanceOf(StateError);
    expect(err.message).toContain('NAT gateway nat-1');
    expect(err.message).toContain('UnauthorizedOperation');
    // Not waited out: the NAT is never polled, and what needs it is not attempted.
    expect(calls.some((c) => c[1] === 'describe-nat-gateways')).toBe(false);
    expect(calls.some((c) => c[1] === 'delete-subnet' || c[1] === 'delete-vpc')).toBe(false);
  });

  it('a get-instance-profile error other than NoSuchEntity is reported, not taken as "no profile"', async () => {
    const role = { RoleName: 'johanna-dv-eb-ec2-role', Path: '/johanna/dv/', Arn: 'arn:aws:iam::123:role/johanna/dv/johanna-dv-eb-ec2-role', RolePolicyList: [] };
    const { exec, calls } = recorder([
      ['elasticbeanstalk describe-environments', { Environments: [] }],
      ['elasticbeanstalk list-tags-for-resource', { error: 'ResourceNotFoundException' }],
      ['elasticbeanstalk describe-applications', { Applications: [] }],
      ['iam get-account-authorization-details', { RoleDetailList: [role] }],
      ['ec2 describe-tags', { Tags: [] }],
      ['ec2 describe-key-pairs', { KeyPairs: [] }],
      ['iam get-instance-profile', { error: 'AccessDenied' }],
    ]);
    const err = await terminateVpc(ctxWith(exec)).catch((e) => e);
    expect(err).toBeInstanceOf(StateError);
    expect(err.message).toContain('AccessDenied');
    // The role waits for its profile: not deleted while the profile may still hold it.
    expect(calls.some((c) => c[1] === 'delete-role')).toBe(false);
  });
});

// Issue 20 item 8: a SIGINT right after release-address printed "stopping at the next safe
// point", then the run deleted the subnets, the internet gateway and the VPC and exited 0.
describe('terminate_vpc interrupted', () => {
  it('stops between any two deletions: none starts after the signal, and it says what is left', async () => {
    const abort = new AbortController();
    const calls: { op: string; afterAbort: boolean }[] = [];
    const reads: Record<string, object> = {
      'describe-environments': { Environments: [] },
      'describe-applications': { Applications: [] },
      'get-account-authorization-details': noRoles,
      'describe-tags': { Tags: [...tagLines('vpc-1', 'vpc'), ...tagLines('igw-1', 'internet-gateway'), ...tagLines('subnet-1', 'subnet-public-1'), ...tagLines('subnet-2', 'subnet-private-1'), ...tagLines('eipalloc-1', 'nat-eip')] },
      'describe-key-pairs': { KeyPairs: [] },
      'describe-route-tables': { RouteTables: [{ RouteTableId: 'rtb-main', VpcId: 'vpc-1', Associations: [{ Main: true, RouteTableAssociationId: 'a' }] }] },
      'describe-instances': { Reservations: [] },
      'describe-nat-gateways': { NatGateways: [] },
      'list-tags-for-resource': { ResourceTags: [] },
    };
    const exec: Exec = async (_tool, args) => {
      const op = args[1];
      calls.push({ op, afterAbort: abort.signal.aborted });
      if (reads[op]) return { exitCode: 0, stdout: JSON.stringify(reads[op]), stderr: '' };
      if (/^(describe|get|list)-/.test(op)) throw new Error(`unexpected call: aws ${args.join(' ')}`);
      // The kill point: the first deletion is under way when the signal comes.
      abort.abort();
      return { exitCode: 0, stdout: '{}', stderr: '' };
    };
    const err = await terminateVpc(ctxWith(exec, false, abort.signal)).catch((e) => e);
    const deletes = calls.filter((c) => !/^(describe|get|list)-/.test(c.op));
    expect(deletes.length).toBeGreaterThan(0); // the kill point was reached
    expect(deletes.filter((c) => c.afterAbort)).toEqual([]);
    expect(err).toBeInstanceOf(InterruptedError);
    expect(err.message).toMatch(/stopped by the interrupt after deleting \d+/);
    expect(err.message).toMatch(/VPC vpc-1|vpc:vpc-1/);
    expect(err.hint).toMatch(/run terminate_vpc again/);
  });
});

function tagLines(id: string, role: string) {
  return [
    { ResourceId: id, ResourceType: id.split('-')[0], Key: 'johanna:phase', Value: 'dv' },
    { ResourceId: id, ResourceType: id.split('-')[0], Key: 'johanna:role', Value: role },
  ];
}
