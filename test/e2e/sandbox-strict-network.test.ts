// Every network and IAM rule of the strict sandbox (aws-rules.md R1-R8, R17, R36), proven
// through the real aws CLI: AWS's error code and message, and the state transitions.
// One sandbox for the file, with short delays, so each transition can be watched.
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { awsCli, awsEnv } from '../helpers/bench-phase.js';
import { createSandbox, type Sandbox } from '../../sandbox/server.js';
import { until } from '../helpers/sandbox-phase.js';

// Long enough for two aws CLI calls inside each window: on a busy machine one call can
// take several seconds. The tests wait on states, never on these figures.
const NAT_DELAY = 12_000;
const IAM_DELAY = 15_000;

// A test is a dozen aws CLI calls or more; on a busy machine each may take seconds.
vi.setConfig({ testTimeout: 600_000 });

let sb: Sandbox;
let dir: string;
beforeAll(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'johanna-strict-net-'));
  sb = await createSandbox({ port: 0, routerPort: 0, stateDir: dir, strict: { natDelayMs: NAT_DELAY, iamDelayMs: IAM_DELAY } });
}, 60_000);
afterAll(async () => {
  await sb?.close();
  rmSync(dir, { recursive: true, force: true });
});

interface Cli {
  code: number;
  json: any;
  stderr: string;
}

async function awsOn(endpoint: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<Cli> {
  const r = await execa(awsCli(), [...args, '--output', 'json'], { env: { ...awsEnv(endpoint), ...env }, reject: false });
  return { code: r.exitCode ?? -1, json: r.stdout.trim() ? JSON.parse(r.stdout) : {}, stderr: r.stderr };
}
const aws = (args: string[]) => awsOn(sb.endpoint, args);
async function ok(args: string[]): Promise<any> {
  const r = await aws(args);
  if (r.code !== 0) throw new Error(`aws ${args.join(' ')}: ${r.stderr}`);
  return r.json;
}
/** The CLI's line for a refused call: "An error occurred (<Code>) when calling the <Op> operation: <Message>". */
async function refused(args: string[]): Promise<string> {
  const r = await aws(args);
  expect(r.code, `expected aws ${args.join(' ')} to fail`).not.toBe(0);
  return r.stderr.trim();
}

const nat = async (id: string) => (await ok(['ec2', 'describe-nat-gateways', '--nat-gateway-ids', id])).NatGateways[0];
const waitNat = (id: string, state: string) => until(`${id} ${state}`, async () => ((await nat(id)).State === state ? nat(id) : undefined), 30_000);

async function network(cidrOctet: number) {
  const vpc = (await ok(['ec2', 'create-vpc', '--cidr-block', `10.${cidrOctet}.0.0/16`])).Vpc.VpcId as string;
  const subnet = (await ok(['ec2', 'create-subnet', '--vpc-id', vpc, '--cidr-block', `10.${cidrOctet}.1.0/24`])).Subnet.SubnetId as string;
  const eip = (await ok(['ec2', 'allocate-address', '--domain', 'vpc'])).AllocationId as string;
  return { vpc, subnet, eip };
}

describe('R1 NAT gateway lifecycle', () => {
  it('without an attached internet gateway: pending, then failed with Gateway.NotAttached', async () => {
    const n = await network(61);
    const created = (await ok(['ec2', 'create-nat-gateway', '--subnet-id', n.subnet, '--allocation-id', n.eip])).NatGateway;
    expect(created.State).toBe('pending');
    const failed = await waitNat(created.NatGatewayId, 'failed');
    expect(failed.FailureCode).toBe('Gateway.NotAttached');
    expect(failed.FailureMessage).toBe(`Network ${n.vpc} has no Internet gateway attached`);
    // A failed NAT lets go of its address and interface.
    expect((await ok(['ec2', 'describe-addresses', '--allocation-ids', n.eip])).Addresses[0].AssociationId).toBeUndefined();
    expect((await ok(['ec2', 'describe-network-interfaces', '--filters', `Name=subnet-id,Values=${n.subnet}`])).NetworkInterfaces).toEqual([]);
  });

  it('with one: pending, available; its address, subnet and gateway are held until deleted, then freed', async () => {
    const n = await network(62);
    const igw = (await ok(['ec2', 'create-internet-gateway'])).InternetGateway.InternetGatewayId;
    await ok(['ec2', 'attach-internet-gateway', '--internet-gateway-id', igw, '--vpc-id', n.vpc]);
    const created = (await ok(['ec2', 'create-nat-gateway', '--subnet-id', n.subnet, '--allocation-id', n.eip])).NatGateway;
    const id = created.NatGatewayId;
    expect(created.State).toBe('pending');
    const up = await waitNat(id, 'available');
    expect(up.FailureCode).toBeUndefined();

    // R2: the NAT's address is a service-owned association.
    expect(await refused(['ec2', 'release-address', '--allocation-id', n.eip])).toContain(
      '(AuthFailure) when calling the ReleaseAddress operation: You do not have permission to access the specified resource.',
    );
    // R3: its public address is mapped in the VPC.
    expect(await refused(['ec2', 'detach-internet-gateway', '--internet-gateway-id', igw, '--vpc-id', n.vpc])).toContain(
      `(DependencyViolation) when calling the DetachInternetGateway operation: Network ${n.vpc} has some mapped public address(es). Please unmap those public address(es) before detaching the gateway.`,
    );
    // R4: its interface is in the subnet; the gateway is attached; the VPC has all of it.
    expect(await refused(['ec2', 'delete-subnet', '--subnet-id', n.subnet])).toContain(
      `(DependencyViolation) when calling the DeleteSubnet operation: The subnet '${n.subnet}' has dependencies and cannot be deleted.`,
    );
    expect(await refused(['ec2', 'delete-internet-gateway', '--internet-gateway-id', igw])).toContain(
      `(DependencyViolation) when calling the DeleteInternetGateway operation: The internetGateway '${igw}' has dependencies and cannot be deleted.`,
    );
    expect(await refused(['ec2', 'delete-vpc', '--vpc-id', n.vpc])).toContain(
      `(DependencyViolation) when calling the DeleteVpc operation: The vpc '${n.vpc}' has dependencies and cannot be deleted.`,
    );

    await ok(['ec2', 'delete-nat-gateway', '--nat-gateway-id', id]);
    expect((await nat(id)).State).toBe('deleting');
    // Still held while deleting.
    expect(await refused(['ec2', 'release-address', '--allocation-id', n.eip])).toContain('(AuthFailure)');
    await waitNat(id, 'deleted');
    // Then everything lets go, in AWS's order.
    await ok(['ec2', 'release-address', '--allocation-id', n.eip]);
    await ok(['ec2', 'detach-internet-gateway', '--internet-gateway-id', igw, '--vpc-id', n.vpc]);
    await ok(['ec2', 'delete-internet-gateway', '--internet-gateway-id', igw]);
    await ok(['ec2', 'delete-subnet', '--subnet-id', n.subnet]);
    await ok(['ec2', 'delete-vpc', '--vpc-id', n.vpc]);
  });

  it('deleting an id AWS does not know: NatGatewayNotFound', async () => {
    expect(await refused(['ec2', 'delete-nat-gateway', '--nat-gateway-id', 'nat-0123456789abcdef0'])).toContain(
      '(NatGatewayNotFound) when calling the DeleteNatGateway operation: NAT gateway nat-0123456789abcdef0 was not found',
    );
  });
});

describe('R2-R4 with interfaces made directly', () => {
  it('an interface with an Elastic IP holds the address, the gateway, the subnet and its group', async () => {
    const n = await network(63);
    const igw = (await ok(['ec2', 'create-internet-gateway'])).InternetGateway.InternetGatewayId;
    await ok(['ec2', 'attach-internet-gateway', '--internet-gateway-id', igw, '--vpc-id', n.vpc]);
    const sg = (await ok(['ec2', 'create-security-group', '--vpc-id', n.vpc, '--group-name', 'held', '--description', 'held'])).GroupId;
    const eni = (await ok(['ec2', 'create-network-interface', '--subnet-id', n.subnet, '--groups', sg])).NetworkInterface.NetworkInterfaceId;
    const assoc = (await ok(['ec2', 'associate-address', '--allocation-id', n.eip, '--network-interface-id', eni])).AssociationId;
    const ip = (await ok(['ec2', 'describe-addresses', '--allocation-ids', n.eip])).Addresses[0].PublicIp;

    expect(await refused(['ec2', 'release-address', '--allocation-id', n.eip])).toContain(
      `(InvalidIPAddress.InUse) when calling the ReleaseAddress operation: Address ${ip} is in use.`,
    );
    expect(await refused(['ec2', 'detach-internet-gateway', '--internet-gateway-id', igw, '--vpc-id', n.vpc])).toContain('has some mapped public address(es)');
    expect(await refused(['ec2', 'delete-subnet', '--subnet-id', n.subnet])).toContain(`The subnet '${n.subnet}' has dependencies and cannot be deleted.`);
    expect(await refused(['ec2', 'delete-security-group', '--group-id', sg])).toContain(
      `(DependencyViolation) when calling the DeleteSecurityGroup operation: resource ${sg} has a dependent object`,
    );

    await ok(['ec2', 'disassociate-address', '--association-id', assoc]);
    await ok(['ec2', 'release-address', '--allocation-id', n.eip]);
    await ok(['ec2', 'detach-internet-gateway', '--internet-gateway-id', igw, '--vpc-id', n.vpc]);
    await ok(['ec2', 'delete-network-interface', '--network-interface-id', eni]);
    await ok(['ec2', 'delete-subnet', '--subnet-id', n.subnet]);
    await ok(['ec2', 'delete-security-group', '--group-id', sg]);
  });

  it("an instance's interface holds its subnet until the instance is terminated", async () => {
    const vpc = (await ok(['ec2', 'create-vpc', '--cidr-block', '10.68.0.0/16'])).Vpc.VpcId;
    const subnet = (await ok(['ec2', 'create-subnet', '--vpc-id', vpc, '--cidr-block', '10.68.1.0/24'])).Subnet.SubnetId;
    const image = 'resolve:ssm:/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64';
    const id = (await ok(['ec2', 'run-instances', '--image-id', image, '--instance-type', 't3.micro', '--subnet-id', subnet])).Instances[0].InstanceId;
    expect(await refused(['ec2', 'delete-subnet', '--subnet-id', subnet])).toContain(`The subnet '${subnet}' has dependencies and cannot be deleted.`);
    await ok(['ec2', 'terminate-instances', '--instance-ids', id]);
    // AWS deletes the primary interface with the instance (moto keeps it).
    await ok(['ec2', 'delete-subnet', '--subnet-id', subnet]);
    await ok(['ec2', 'delete-vpc', '--vpc-id', vpc]);
  });

  it("a group another group's rule names cannot be deleted; a VPC with a group or a route table neither", async () => {
    const vpc = (await ok(['ec2', 'create-vpc', '--cidr-block', '10.64.0.0/16'])).Vpc.VpcId;
    const a = (await ok(['ec2', 'create-security-group', '--vpc-id', vpc, '--group-name', 'a', '--description', 'a'])).GroupId;
    const b = (await ok(['ec2', 'create-security-group', '--vpc-id', vpc, '--group-name', 'b', '--description', 'b'])).GroupId;
    await ok(['ec2', 'authorize-security-group-ingress', '--group-id', b, '--ip-permissions', JSON.stringify([{ IpProtocol: 'tcp', FromPort: 80, ToPort: 80, UserIdGroupPairs: [{ GroupId: a }] }])]);
    expect(await refused(['ec2', 'delete-security-group', '--group-id', a])).toContain(`resource ${a} has a dependent object`);
    expect(await refused(['ec2', 'delete-vpc', '--vpc-id', vpc])).toContain(`The vpc '${vpc}' has dependencies and cannot be deleted.`);
    await ok(['ec2', 'delete-security-group', '--group-id', b]);
    await ok(['ec2', 'delete-security-group', '--group-id', a]);
    const rt = (await ok(['ec2', 'create-route-table', '--vpc-id', vpc])).RouteTable.RouteTableId;
    expect(await refused(['ec2', 'delete-vpc', '--vpc-id', vpc])).toContain('(DependencyViolation)');
    await ok(['ec2', 'delete-route-table', '--route-table-id', rt]);
    await ok(['ec2', 'delete-vpc', '--vpc-id', vpc]);
  });
});

describe('R5 and R7', () => {
  it('a route to a NAT gateway AWS does not know, or a NAT id as a gateway id, is refused', async () => {
    const vpc = (await ok(['ec2', 'create-vpc', '--cidr-block', '10.65.0.0/16'])).Vpc.VpcId;
    const rt = (await ok(['ec2', 'describe-route-tables', '--filters', `Name=vpc-id,Values=${vpc}`])).RouteTables[0].RouteTableId;
    const route = ['ec2', 'create-route', '--route-table-id', rt, '--destination-cidr-block', '0.0.0.0/0'];
    expect(await refused([...route, '--nat-gateway-id', 'nat-0aaaaaaaaaaaaaaa0'])).toContain(
      "(InvalidNatGatewayID.NotFound) when calling the CreateRoute operation: The natGateway ID 'nat-0aaaaaaaaaaaaaaa0' does not exist",
    );
    expect(await refused([...route, '--gateway-id', 'nat-0aaaaaaaaaaaaaaa0'])).toContain(
      "(InvalidGatewayID.NotFound) when calling the CreateRoute operation: The gateway ID 'nat-0aaaaaaaaaaaaaaa0' does not exist",
    );
  });

  it('R36: deleting a launch template id AWS does not know: InvalidLaunchTemplateId.NotFound (moto: the name code)', async () => {
    const made = (await ok(['ec2', 'create-launch-template', '--launch-template-name', 'r36-check', '--launch-template-data', '{"InstanceType":"t3.micro"}'])).LaunchTemplate.LaunchTemplateId;
    await ok(['ec2', 'delete-launch-template', '--launch-template-id', made]);
    expect(await refused(['ec2', 'delete-launch-template', '--launch-template-id', made])).toContain(
      `(InvalidLaunchTemplateId.NotFound) when calling the DeleteLaunchTemplate operation: The specified launch template, with template ID ${made}, does not exist.`,
    );
  });

  it('describe-nat-gateways honours tag filters and refuses an unknown filter', async () => {
    const n = await network(66);
    const tags = 'ResourceType=natgateway,Tags=[{Key=johanna:phase,Value=r7}]';
    const id = (await ok(['ec2', 'create-nat-gateway', '--subnet-id', n.subnet, '--allocation-id', n.eip, '--tag-specifications', tags])).NatGateway.NatGatewayId;
    const by = async (...f: string[]) => ((await ok(['ec2', 'describe-nat-gateways', '--filter', ...f])).NatGateways as any[]).map((x) => x.NatGatewayId);
    expect(await by('Name=tag:johanna:phase,Values=r7')).toEqual([id]);
    expect(await by('Name=tag:johanna:phase,Values=other')).toEqual([]);
    expect(await by('Name=tag-key,Values=johanna:phase', `Name=vpc-id,Values=${n.vpc}`)).toEqual([id]);
    expect(await refused(['ec2', 'describe-nat-gateways', '--filter', 'Name=colour,Values=blue'])).toContain(
      "(InvalidParameterValue) when calling the DescribeNatGateways operation: The filter 'colour' is invalid",
    );
  });
});

describe('R8 IAM propagation', () => {
  it('EC2 cannot use a new instance profile until it has propagated; then a dry run succeeds', async () => {
    await ok(['iam', 'create-role', '--role-name', 'r8-role', '--assume-role-policy-document', '{"Version":"2012-10-17","Statement":[]}']);
    await ok(['iam', 'create-instance-profile', '--instance-profile-name', 'r8-profile']);
    await ok(['iam', 'add-role-to-instance-profile', '--instance-profile-name', 'r8-profile', '--role-name', 'r8-role']);
    // IAM itself answers at once (the botocore waiter InstanceProfileExists is satisfied)...
    await ok(['iam', 'wait', 'instance-profile-exists', '--instance-profile-name', 'r8-profile']);
    const run = (profile: string) => [
      'ec2', 'run-instances', '--dry-run', '--image-id', 'resolve:ssm:/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64',
      '--instance-type', 't3.micro', '--iam-instance-profile', `Name=${profile}`,
    ];
    // ...while EC2 does not see it yet.
    expect(await refused(run('r8-profile'))).toContain(
      '(InvalidParameterValue) when calling the RunInstances operation: Value (r8-profile) for parameter iamInstanceProfile.name is invalid. Invalid IAM Instance Profile name',
    );
    const after = await until('the profile to propagate', async () => {
      const line = await refused(run('r8-profile'));
      return line.includes('InvalidParameterValue') ? undefined : line;
    }, 30_000);
    expect(after).toContain('(DryRunOperation) when calling the RunInstances operation: Request would have succeeded, but DryRun flag is set.');
    // A profile that does not exist at all: AWS's code, not moto's NoSuchEntity.
    expect(await refused(run('no-such-profile'))).toContain('(InvalidParameterValue) when calling the RunInstances operation: Value (no-such-profile) for parameter');
  });
});

describe('IAM retried removes', () => {
  it('removing a role the instance profile no longer holds is NoSuchEntity (moto said HTTP 500)', async () => {
    await ok(['iam', 'create-role', '--role-name', 'rm-role', '--assume-role-policy-document', '{"Version":"2012-10-17","Statement":[]}']);
    await ok(['iam', 'create-instance-profile', '--instance-profile-name', 'rm-profile']);
    await ok(['iam', 'add-role-to-instance-profile', '--instance-profile-name', 'rm-profile', '--role-name', 'rm-role']);
    await ok(['iam', 'remove-role-from-instance-profile', '--instance-profile-name', 'rm-profile', '--role-name', 'rm-role']);
    // What the retry of a remove whose answer was lost meets (R17).
    expect(await refused(['iam', 'remove-role-from-instance-profile', '--instance-profile-name', 'rm-profile', '--role-name', 'rm-role'])).toContain(
      '(NoSuchEntity) when calling the RemoveRoleFromInstanceProfile operation',
    );
  });
});

describe('R17 lost answers', () => {
  let lossy: Sandbox;
  let lossyDir: string;
  beforeAll(async () => {
    lossyDir = mkdtempSync(path.join(os.tmpdir(), 'johanna-strict-lossy-'));
    lossy = await createSandbox({ port: 0, routerPort: 0, stateDir: lossyDir, strict: { loseResponses: 1, natDelayMs: 500 } });
  }, 60_000);
  afterAll(async () => {
    await lossy?.close();
    rmSync(lossyDir, { recursive: true, force: true });
  });
  // Three attempts, as the aws CLI v2 makes by default: one lost answer is survivable.
  const env = { AWS_MAX_ATTEMPTS: '3', AWS_RETRY_MODE: 'standard' };
  const lossyAws = (args: string[]) => awsOn(lossy.endpoint, args, env);
  const lost = async () => ((await (await fetch(`${lossy.endpoint}/_sandbox/status`)).json()) as { faults: { lost: number } }).faults.lost;

  it('a create without a token happens twice; with a ClientToken, once; other retries meet AWS errors', async () => {
    const before = await lost();
    const vpc = await lossyAws(['ec2', 'create-vpc', '--cidr-block', '10.67.0.0/16']);
    expect(vpc.code, vpc.stderr).toBe(0);
    expect(await lost()).toBe(before + 1);
    const vpcs = (await awsOn(lossy.endpoint, ['ec2', 'describe-vpcs', '--filters', 'Name=cidr-block-association.cidr-block,Values=10.67.0.0/16'])).json.Vpcs;
    expect(vpcs).toHaveLength(2); // CreateVpc has no token: a silent duplicate, as on AWS

    const vpcId = vpc.json.Vpc.VpcId;
    const subnet = await lossyAws(['ec2', 'create-subnet', '--vpc-id', vpcId, '--cidr-block', '10.67.1.0/24']);
    expect(subnet.code).not.toBe(0);
    expect(subnet.stderr).toContain('(InvalidSubnet.Conflict)');
    const subnetId = (await awsOn(lossy.endpoint, ['ec2', 'describe-subnets', '--filters', `Name=vpc-id,Values=${vpcId}`])).json.Subnets[0].SubnetId;
    const eip = await lossyAws(['ec2', 'allocate-address', '--domain', 'vpc']);
    expect(eip.code, eip.stderr).toBe(0);

    const natCall = await lossyAws(['ec2', 'create-nat-gateway', '--subnet-id', subnetId, '--allocation-id', eip.json.AllocationId]);
    expect(natCall.code, natCall.stderr).toBe(0);
    const nats = (await awsOn(lossy.endpoint, ['ec2', 'describe-nat-gateways', '--filter', `Name=vpc-id,Values=${vpcId}`])).json.NatGateways;
    expect(nats.map((n: any) => n.NatGatewayId)).toEqual([natCall.json.NatGateway.NatGatewayId]);

    const rt = await lossyAws(['ec2', 'create-route-table', '--vpc-id', vpcId]);
    expect(rt.code, rt.stderr).toBe(0);
    const tables = (await awsOn(lossy.endpoint, ['ec2', 'describe-route-tables', '--filters', `Name=vpc-id,Values=${vpcId}`])).json.RouteTables;
    expect(tables).toHaveLength(2); // the main one and exactly one more

    const role = await lossyAws(['iam', 'create-role', '--role-name', 'lossy', '--assume-role-policy-document', '{"Version":"2012-10-17","Statement":[]}']);
    expect(role.stderr).toContain('(EntityAlreadyExists)');
    expect(await lost()).toBe(before + 6);
  });

  it('reads are never lost', async () => {
    const before = await lost();
    expect((await lossyAws(['ec2', 'describe-vpcs'])).code).toBe(0);
    expect(await lost()).toBe(before);
  });
});
