// create_vpc's plan from a described state (desired - existing = plan), the rule diff,
// and the pure readers of AWS answers. No AWS: plain data in, plain data out.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { configSchema } from '../../src/config/schema.js';
import { atomicRules, desiredIngress, desiredPhase, extraPermissions, missingPermissions } from '../../src/infra/desired.js';
import { emptyPhase, networkFrom, phaseNetworkFrom, type ExistingPhase } from '../../src/infra/discover.js';
import { iamNames } from '../../src/infra/names.js';
import { planCreate } from '../../src/infra/plan.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const config = configSchema.parse(JSON.parse(readFileSync(path.join(root, 'env.sandbox.json'), 'utf8')));
const d = desiredPhase(config);
const T = (role: string, name?: string) => [
  { Key: 'johanna:phase', Value: 'dv' },
  { Key: 'johanna:role', Value: role },
  ...(name ? [{ Key: 'Name', Value: name }] : []),
];

/** A complete phase as discovery would describe it. */
function complete(): ExistingPhase {
  const ingress = desiredIngress(d.vpcCidr, 'sg-priv', 'sg-pub');
  return {
    ...emptyPhase(),
    networkInspected: true,
    keyPairId: 'key-1',
    roles: {
      ec2: { name: 'johanna-dv-eb-ec2-role', policies: ['johanna-eb-web-tier'], attachedPolicyArns: [], profiles: ['johanna-dv-eb-ec2-role'] },
      worker: { name: 'johanna-dv-eb-ec2-worker-role', policies: ['oneClick_aws-elasticbeanstalk-ec2-worker-role'], attachedPolicyArns: [], profiles: [] },
      service: { name: 'johanna-dv-eb-service-role', policies: ['oneClick_aws-elasticbeanstalk-service-role'], attachedPolicyArns: [], profiles: [] },
    },
    instanceProfileReady: true,
    application: true,
    vpcId: 'vpc-1',
    subnets: { private_1: 'subnet-a', private_2: 'subnet-b', public_1: 'subnet-c', public_2: 'subnet-d' },
    internetGateway: 'igw-1',
    igwAttached: true,
    natEip: 'eipalloc-1',
    natGateway: { id: 'nat-1', state: 'available' },
    publicRouteTable: { id: 'rtb-pub', defaultTarget: 'igw-1', associatedSubnets: ['subnet-c', 'subnet-d'] },
    mainRouteTable: { id: 'rtb-main', defaultTarget: 'nat-1' },
    securityGroups: { private: { id: 'sg-priv', ingress: ingress.private }, public: { id: 'sg-pub', ingress: ingress.public } },
  };
}

const ids = (e: ExistingPhase) => planCreate(d, e).steps.map((s) => s.id);

describe('iamNames', () => {
  it('names every IAM thing per phase, under /johanna/<phase>/', () => {
    expect(iamNames('qa')).toMatchObject({
      path: '/johanna/qa/',
      roles: { ec2: 'johanna-qa-eb-ec2-role', worker: 'johanna-qa-eb-ec2-worker-role', service: 'johanna-qa-eb-service-role' },
      instanceProfile: 'johanna-qa-eb-ec2-role',
      serviceRoleOption: 'johanna/qa/johanna-qa-eb-service-role',
    });
  });
  it('trusts elasticbeanstalk with the external id for the service role', () => {
    expect(JSON.stringify(d.trust.service)).toContain('"sts:ExternalId":"elasticbeanstalk"');
    expect(JSON.stringify(d.trust.ec2)).toContain('ec2.amazonaws.com');
  });
});

describe('planCreate', () => {
  it('on an empty account plans everything, each step after what it needs', () => {
    const plan = planCreate(d, emptyPhase());
    expect(plan.present).toEqual([]);
    expect(plan.steps.filter((s) => s.kind !== 'lookup')).toHaveLength(28);
    const deps = Object.fromEntries(plan.steps.map((s) => [s.id, s.deps]));
    expect(deps['vpc']).toEqual([]);
    expect(deps['key-pair']).toEqual([]);
    expect(deps['subnet:public_1']).toEqual(['vpc']);
    // AWS fails a NAT gateway made before the internet gateway is attached (R1), and a
    // route goes only to an available one.
    expect(deps['nat'].sort()).toEqual(['eip', 'igw-attach', 'subnet:public_1']);
    expect(deps['nat-ready']).toEqual(['nat']);
    expect(deps['route:private'].sort()).toEqual(['nat', 'nat-ready', 'route-table:main']);
    expect(deps['route:public'].sort()).toEqual(['igw', 'igw-attach', 'route-table:public']);
    expect(deps['assoc:public_2'].sort()).toEqual(['route-table:public', 'subnet:public_2']);
    expect(deps['rules:public'].sort()).toEqual(['sg:private', 'sg:public']);
    expect(deps['policy:service']).toEqual(['role:service']);
    expect(deps['instance-profile-role'].sort()).toEqual(['instance-profile', 'role:ec2']);
    // The wait until EC2 sees the new profile is a step of the graph, beside the NAT's wait.
    expect(deps['profile-usable'].sort()).toEqual(['instance-profile-role', 'subnet:private_1']);
    expect(plan.steps.find((s) => s.id === 'profile-usable')?.kind).toBe('lookup');
    // The private subnets use the VPC's main route table: no association for them.
    expect(plan.steps.some((s) => s.id === 'assoc:private_1')).toBe(false);
  });

  it('on a complete phase plans nothing', () => {
    const plan = planCreate(d, complete());
    expect(plan.steps).toEqual([]);
    expect(plan.present.length).toBeGreaterThanOrEqual(26);
  });

  it('after a run killed mid-way plans only what is missing', () => {
    const e = complete();
    delete e.subnets.public_2;
    e.publicRouteTable = { id: 'rtb-pub', defaultTarget: 'igw-1', associatedSubnets: ['subnet-c'] };
    e.roles.worker!.policies = [];
    e.securityGroups.public!.ingress = [];
    const plan = planCreate(d, e);
    expect(plan.steps.map((s) => s.id).sort()).toEqual(['assoc:public_2', 'policy:worker', 'rules:public', 'subnet:public_2']);
    expect(plan.steps.find((s) => s.id === 'assoc:public_2')!.deps).toEqual(['subnet:public_2']);
    expect(plan.steps.find((s) => s.id === 'policy:worker')!.kind).toBe('fix');
  });

  it('an attached gateway with no public route (a run killed between the two) gets its route', () => {
    const e = complete();
    e.publicRouteTable!.defaultTarget = undefined;
    expect(ids(e)).toEqual(['route:public']);
  });

  it('a public route to something else is replaced; a pending NAT is waited for', () => {
    const e = complete();
    e.publicRouteTable!.defaultTarget = 'igw-other';
    e.natGateway = { id: 'nat-1', state: 'pending' };
    const plan = planCreate(d, e);
    expect(plan.steps.map((s) => s.id)).toEqual(['nat-ready', 'route:public']);
    expect(plan.steps[1].replace).toBe(true);
  });

  it('duplicates of a retried create are deleted', () => {
    const e = complete();
    e.spares = [{ kind: 'vpc', id: 'vpc-2' }, { kind: 'elastic-ip', id: 'eipalloc-2' }];
    expect(ids(e)).toEqual(['spare:vpc:vpc-2', 'spare:elastic-ip:eipalloc-2']);
  });

  it('an unattached gateway is attached, then routed', () => {
    const e = complete();
    e.igwAttached = false;
    e.publicRouteTable!.defaultTarget = undefined;
    const plan = planCreate(d, e);
    expect(plan.steps.map((s) => s.id)).toEqual(['igw-attach', 'route:public']);
    expect(plan.steps[1]).toMatchObject({ deps: ['igw-attach'], replace: false });
  });

  it('a failed NAT gateway is replaced, reusing our EIP, and the private route is replaced', () => {
    const e = complete();
    e.natGateway = undefined;
    e.staleNatGateways = [{ id: 'nat-old', state: 'failed' }];
    const plan = planCreate(d, e);
    expect(plan.steps.map((s) => s.id)).toEqual(['nat-cleanup:nat-old', 'nat', 'nat-ready', 'route:private']);
    expect(plan.steps[1].deps).toEqual(['nat-cleanup:nat-old']);
    expect(plan.steps[3]).toMatchObject({ replace: true, deps: ['nat', 'nat-ready'] });
  });

  it('an instance profile without its role is completed', () => {
    const e = complete();
    e.instanceProfileReady = false;
    expect(ids(e)).toEqual(['instance-profile', 'instance-profile-role', 'profile-usable']);
  });

  it('without a VPC of ours, the key pair is imported (optimistically) and the whole network planned', () => {
    const e = { ...emptyPhase(), roles: complete().roles, instanceProfileReady: true, application: true };
    const plan = planCreate(d, e);
    expect(plan.steps.map((s) => s.id)).toContain('key-pair');
    expect(plan.steps.map((s) => s.id)).toContain('route-table:main');
    expect(plan.steps.some((s) => s.id.startsWith('role:'))).toBe(false);
  });
});

describe('security group rules', () => {
  it('eb_public: http from anywhere; eb_private: http from eb_public, ssh from the VPC only', () => {
    const r = desiredIngress('10.210.0.0/16', 'sg-a', 'sg-b');
    expect(atomicRules(r.public).sort()).toEqual(['tcp|80|80|0.0.0.0/0']);
    expect(atomicRules(r.private).sort()).toEqual(['tcp|22|22|10.210.0.0/16', 'tcp|80|80|sg-b']);
  });
  it('only the missing rules are authorized, whatever way AWS groups the existing ones', () => {
    const want = desiredIngress('10.210.0.0/16', 'sg-a', 'sg-b').private;
    const have = [{ IpProtocol: 'tcp', FromPort: 80, ToPort: 80, UserIdGroupPairs: [{ GroupId: 'sg-b', UserId: '123' }] }];
    expect(missingPermissions(want, have)).toEqual([{ IpProtocol: 'tcp', FromPort: 22, ToPort: 22, IpRanges: [{ CidrIp: '10.210.0.0/16' }] }]);
    expect(missingPermissions(want, want)).toEqual([]);
  });
  it("the old layout's rules are extra: revoked, rule by rule", () => {
    const want = desiredIngress('10.210.0.0/16', 'sg-a', 'sg-b').private;
    const old = [{ IpProtocol: '-1', UserIdGroupPairs: [{ GroupId: 'sg-a' }, { GroupId: 'sg-b' }] }, ...want];
    expect(extraPermissions(want, old)).toEqual([
      { IpProtocol: '-1', UserIdGroupPairs: [{ GroupId: 'sg-a' }] },
      { IpProtocol: '-1', UserIdGroupPairs: [{ GroupId: 'sg-b' }] },
    ]);
    expect(extraPermissions(want, want)).toEqual([]);
  });
  it('a complete phase with an extra rule plans a fix of that group only', () => {
    const e = complete();
    e.securityGroups.public!.ingress = [...e.securityGroups.public!.ingress, { IpProtocol: 'tcp', FromPort: 22, ToPort: 22, IpRanges: [{ CidrIp: '0.0.0.0/0' }] }];
    const plan = planCreate(d, e);
    expect(plan.steps.map((s) => [s.id, s.kind])).toEqual([['rules:public', 'fix']]);
  });
});

describe('reading AWS answers', () => {
  it('networkFrom: ours by tag, the NAT state, the route targets', () => {
    const n = networkFrom('dv', 'vpc-1', {
      keyPairs: [{ KeyName: 'dv', KeyPairId: 'key-1', Tags: T('key-pair') }],
      subnets: [
        { SubnetId: 'subnet-c', VpcId: 'vpc-1', CidrBlock: '', AvailabilityZone: '', Tags: T('subnet-public-1') },
        { SubnetId: 'subnet-x', VpcId: 'vpc-1', CidrBlock: '', AvailabilityZone: '', Tags: [{ Key: 'Name', Value: 'eb_public_2' }] },
      ],
      routeTables: [
        { RouteTableId: 'rtb-main', VpcId: 'vpc-1', Associations: [{ RouteTableAssociationId: 'a', Main: true }], Routes: [{ DestinationCidrBlock: '0.0.0.0/0', NatGatewayId: 'nat-old' }] },
        { RouteTableId: 'rtb-pub', VpcId: 'vpc-1', Tags: T('route-table-public'), Routes: [{ DestinationCidrBlock: '0.0.0.0/0', GatewayId: 'igw-1' }], Associations: [{ RouteTableAssociationId: 'b', SubnetId: 'subnet-c' }] },
      ],
      groups: [{ GroupId: 'sg-1', GroupName: 'eb_private', VpcId: 'vpc-1', Tags: T('sg-eb-private'), IpPermissions: [] }],
      nats: [
        { NatGatewayId: 'nat-old', State: 'failed', Tags: T('nat-gateway') },
        { NatGatewayId: 'nat-gone', State: 'deleted', Tags: T('nat-gateway') },
        { NatGatewayId: 'nat-foreign', State: 'available' },
      ],
      igws: [
        { InternetGatewayId: 'igw-1', Tags: T('internet-gateway'), Attachments: [{ VpcId: 'vpc-1', State: 'available' }] },
        { InternetGatewayId: 'igw-spare', Tags: T('internet-gateway'), Attachments: [] },
        { InternetGatewayId: 'igw-foreign', Attachments: [] },
      ],
      addresses: [
        { AllocationId: 'eip-free', Tags: T('nat-eip') },
        { AllocationId: 'eip-spare', Tags: T('nat-eip') },
        { AllocationId: 'eip-used', AssociationId: 'x', Tags: T('nat-eip') },
      ],
    });
    expect(n.keyPairId).toBe('key-1');
    expect(n.subnets).toEqual({ public_1: 'subnet-c' }); // the untagged look-alike is not ours
    expect(n.internetGateway).toBe('igw-1');
    expect(n.igwAttached).toBe(true);
    expect(n.natGateway).toBeUndefined();
    expect(n.staleNatGateways).toEqual([{ id: 'nat-old', state: 'failed', allocationId: undefined, failureMessage: undefined }]);
    // One of each kept; the other free ones of ours are spares; foreign ones are not looked at.
    expect(n.natEip).toBe('eip-free');
    expect(n.spares).toEqual([
      { kind: 'internet-gateway', id: 'igw-spare' },
      { kind: 'elastic-ip', id: 'eip-spare' },
    ]);
    expect(n.mainRouteTable).toEqual({ id: 'rtb-main', defaultTarget: 'nat-old' });
    expect(n.publicRouteTable).toEqual({ id: 'rtb-pub', defaultTarget: 'igw-1', associatedSubnets: ['subnet-c'] });
    expect(n.securityGroups.private?.id).toBe('sg-1');
    expect(n.securityGroups.public).toBeUndefined();
  });

  it('phaseNetworkFrom: public subnets in order; undefined with no network; names what is missing', () => {
    const sub = (id: string, role: string) => ({ SubnetId: id, VpcId: 'vpc-1', CidrBlock: '', AvailabilityZone: '', Tags: T(role) });
    const sg = (id: string, role: string) => ({ GroupId: id, GroupName: id, VpcId: 'vpc-1', Tags: T(role) });
    const subnets = [sub('s2', 'subnet-public-2'), sub('s1', 'subnet-public-1'), sub('s3', 'subnet-private-1'), sub('s4', 'subnet-private-2')];
    const groups = [sg('g1', 'sg-eb-public'), sg('g2', 'sg-eb-private')];
    expect(phaseNetworkFrom('dv', subnets, groups)).toEqual({
      vpcId: 'vpc-1',
      publicSubnetIds: ['s1', 's2'],
      privateSubnetIds: ['s3', 's4'],
      ebPublicSgId: 'g1',
      ebPrivateSgId: 'g2',
    });
    expect(phaseNetworkFrom('dv', [], [])).toBeUndefined();
    expect(() => phaseNetworkFrom('dv', subnets.slice(1), groups)).toThrow(/incomplete \(missing eb_public_2\)/);
  });
});

describe('the side lists come from the resource table (issue 24: a new kind is one entry)', () => {
  it('status, teardown and apply read the same roles, gone-codes and refs as the lists they replaced', async () => {
    const { GONE, NETWORK_ROLES, refsFrom } = await import('../../src/infra/resources.js');
    const { ROLE, SUBNET_KEYS } = await import('../../src/infra/names.js');
    expect([...NETWORK_ROLES]).toEqual([ROLE.keyPair, ROLE.vpc, ...SUBNET_KEYS.map((k) => ROLE.subnet(k)), ROLE.internetGateway, ROLE.natEip, ROLE.natGateway, ROLE.publicRouteTable, ROLE.sgPrivate, ROLE.sgPublic]);
    expect([...GONE].sort()).toEqual(
      [
        'InvalidVpcID.NotFound', 'InvalidSubnetID.NotFound', 'InvalidGroup.NotFound', 'InvalidRouteTableID.NotFound', 'InvalidNatGatewayID.NotFound', 'NatGatewayNotFound',
        'InvalidAllocationID.NotFound', 'InvalidInternetGatewayID.NotFound', 'InvalidKeyPair.NotFound', 'Gateway.NotAttached', 'InvalidPermission.NotFound', 'InvalidAssociationID.NotFound', 'NoSuchEntity',
        'InvalidLaunchTemplateId.NotFound',
      ].sort(),
    );
    const e = {
      vpcId: 'vpc-1', subnets: { AWS_SUBNET_EB_PRIVATE_1: 'subnet-1' }, internetGateway: 'igw-1', natEip: 'eipalloc-1', natGateway: { id: 'nat-1' },
      publicRouteTable: { id: 'rtb-p' }, mainRouteTable: { id: 'rtb-m' }, securityGroups: { private: { id: 'sg-a' }, public: { id: 'sg-b' } },
    } as any;
    expect(refsFrom(e)).toEqual({ vpc: 'vpc-1', subnets: { AWS_SUBNET_EB_PRIVATE_1: 'subnet-1' }, igw: 'igw-1', eip: 'eipalloc-1', nat: 'nat-1', publicRt: 'rtb-p', mainRt: 'rtb-m', sgPrivate: 'sg-a', sgPublic: 'sg-b' });
  });
});
