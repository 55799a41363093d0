// The EC2 rules moto does not enforce and AWS does (aws-rules.md R1-R5, R7, R8, R17, R36), each
// checked by the front before moto sees the request, against moto's own state: interfaces
// are found with DescribeNetworkInterfaces however they were made (NAT gateways, EB's
// load balancers and instances, or a user's create-network-interface).
import type { IamPropagation } from '../iam-propagation.js';
import { importKeyPairRefusal } from './key-material.js';
import { NatGateways } from './nat-gateways.js';
import { ec2Error, filter, items, parseXml, type Ec2Answer, type Ec2Query } from './query.js';

const dependencyViolation = (message: string) => ec2Error('DependencyViolation', message);

export class Ec2Rules {
  readonly nats: NatGateways;
  /** R17: ClientToken → moto's first answer, replayed for a retry (moto ignores the token). */
  private readonly tokens = new Map<string, Ec2Answer>();

  constructor(natDelayMs: number, private readonly iam: IamPropagation) {
    this.nats = new NatGateways(natDelayMs);
  }

  /** Checked before moto: an answer when AWS would refuse (or the front answers itself). */
  async before(q: Ec2Query, form: URLSearchParams): Promise<Ec2Answer | undefined> {
    const action = form.get('Action') ?? '';
    const token = idempotencyKey(form);
    if (token && this.tokens.has(token)) return this.tokens.get(token);
    switch (action) {
      case 'DescribeNatGateways':
        return this.nats.describe(q, form);
      case 'DeleteNatGateway':
        return this.nats.checkDelete(q, form.get('NatGatewayId') ?? '');
      case 'ReleaseAddress':
        return releaseAddress(q, this.nats, form.get('AllocationId'));
      case 'DetachInternetGateway':
        return detachInternetGateway(q, form.get('VpcId') ?? '');
      case 'DeleteInternetGateway':
        return deleteInternetGateway(q, form.get('InternetGatewayId') ?? '');
      case 'DeleteSubnet':
        return deleteSubnet(q, form.get('SubnetId') ?? '');
      case 'DeleteSecurityGroup':
        return deleteSecurityGroup(q, form.get('GroupId') ?? '');
      case 'DeleteVpc':
        return deleteVpc(q, this.nats, form.get('VpcId') ?? '');
      case 'CreateRoute':
      case 'ReplaceRoute':
        return routeTarget(q, form);
      case 'RunInstances':
        return this.runInstances(form);
      case 'ImportKeyPair':
        return importKeyPairRefusal(form);
    }
    return undefined;
  }

  /** After moto answered: note what AWS would go on doing, and replayable answers. */
  async after(q: Ec2Query, form: URLSearchParams, answer: Ec2Answer): Promise<Ec2Answer> {
    const action = form.get('Action') ?? '';
    if (action === 'RunInstances' && answer.status !== 200 && /<Code>NoSuchEntity<\/Code>/.test(answer.body)) {
      // moto: NoSuchEntity "Instance profile <name> not found"; AWS: InvalidParameterValue.
      return invalidProfile(form.get('IamInstanceProfile.Name') ?? form.get('IamInstanceProfile.Arn') ?? '');
    }
    const templateId = form.get('LaunchTemplateId');
    if (action === 'DeleteLaunchTemplate' && templateId && answer.status !== 200 && /InvalidLaunchTemplateName\.NotFoundException/.test(answer.body)) {
      // R36: moto answers a template id it does not know with the name's code.
      return ec2Error('InvalidLaunchTemplateId.NotFound', `The specified launch template, with template ID ${templateId}, does not exist.`);
    }
    if (answer.status !== 200) return answer;
    if (action === 'CreateNatGateway') {
      await this.nats.created(q, parseXml(answer.body).CreateNatGatewayResponse);
      // AWS answers a new NAT as `pending` (moto: `available`).
      answer = { ...answer, body: answer.body.replace('<state>available</state>', '<state>pending</state>') };
    }
    if (action === 'DeleteNatGateway') this.nats.deleted(q, form.get('NatGatewayId') ?? '');
    const token = idempotencyKey(form);
    if (token) this.tokens.set(token, answer);
    return answer;
  }

  close(): void {
    this.nats.close();
  }

  /**
   * R8: a new instance profile is invisible to EC2 for iamDelayMs. AWS: InvalidParameterValue
   * "Value (<name>) for parameter iamInstanceProfile.name is invalid. Invalid IAM Instance
   * Profile name" (aws/aws-sdk-js-v3#5253, hashicorp/terraform#15341), also under --dry-run,
   * which validates parameters before answering DryRunOperation.
   */
  private runInstances(form: URLSearchParams): Ec2Answer | undefined {
    const name = form.get('IamInstanceProfile.Name') ?? form.get('IamInstanceProfile.Arn')?.split('/').pop();
    if (!name) return undefined;
    if (!this.iam.visible('instance-profile', name) || !this.iam.visible('instance-profile-role', name)) return invalidProfile(name);
    return undefined;
  }
}

function invalidProfile(name: string): Ec2Answer {
  return ec2Error('InvalidParameterValue', `Value (${name}) for parameter iamInstanceProfile.name is invalid. Invalid IAM Instance Profile name`);
}

/**
 * R17: CreateNatGateway, CreateRouteTable and RunInstances take a ClientToken (botocore
 * fills it in and reuses it on a retry); AWS answers a repeat with the same resource
 * (EC2 API reference, "Ensuring idempotency": https://docs.aws.amazon.com/ec2/latest/devguide/ec2-api-idempotency.html).
 */
function idempotencyKey(form: URLSearchParams): string | undefined {
  const action = form.get('Action') ?? '';
  const token = form.get('ClientToken');
  if (!token || !['CreateNatGateway', 'CreateRouteTable', 'RunInstances'].includes(action) || form.get('DryRun') === 'true') return undefined;
  return `${action}\u0000${token}`;
}

/**
 * The interfaces that exist for AWS. moto keeps a terminated instance's primary interface;
 * AWS deletes it with the instance (DeleteOnTermination, the default for the primary
 * interface: EC2 User Guide, "Network interfaces"), so those do not count.
 */
async function interfaces(q: Ec2Query, name: string, value: string): Promise<any[]> {
  const all = items((await q({ Action: 'DescribeNetworkInterfaces', ...filter(name, value) })).networkInterfaceSet);
  const instanceIds = [...new Set(all.map((eni) => eni.attachment?.instanceId).filter(Boolean))] as string[];
  if (instanceIds.length === 0) return all;
  const params: Record<string, string> = { Action: 'DescribeInstances' };
  instanceIds.forEach((id, i) => (params[`InstanceId.${i + 1}`] = id));
  const reservations = items((await q(params)).reservationSet);
  const gone = new Set(
    reservations.flatMap((r) => items(r.instancesSet)).filter((i) => i.instanceState?.name === 'terminated').map((i) => i.instanceId as string),
  );
  return all.filter((eni) => !gone.has(eni.attachment?.instanceId));
}

/**
 * R2: an Elastic IP still associated cannot be released. AWS: InvalidIPAddress.InUse
 * "Address <ip> is in use." (EC2 API ReleaseAddress; aws/aws-cli#1226); held by a NAT
 * gateway (a service-owned association): AuthFailure (observed, aws-rules.md [11]).
 */
async function releaseAddress(q: Ec2Query, nats: NatGateways, allocationId: string | null): Promise<Ec2Answer | undefined> {
  if (!allocationId) return ec2Error('InvalidParameterValue', 'You must specify an allocation id when releasing a VPC elastic IP address');
  if (nats.holderOf(allocationId)) return ec2Error('AuthFailure', 'You do not have permission to access the specified resource.');
  const [address] = items((await q({ Action: 'DescribeAddresses', ...filter('allocation-id', allocationId) })).addressesSet);
  if (address?.associationId) return ec2Error('InvalidIPAddress.InUse', `Address ${address.publicIp} is in use.`);
  return undefined;
}

/**
 * R3: AWS refuses to detach an internet gateway while public addresses are mapped in the
 * VPC: DependencyViolation "Network vpc-<id> has some mapped public address(es). Please
 * unmap those public address(es) before detaching the gateway." (VPC guide, internet
 * gateways; hashicorp/terraform#497). Any interface with a public address counts, draining
 * load-balancer interfaces too (R6).
 */
async function detachInternetGateway(q: Ec2Query, vpcId: string): Promise<Ec2Answer | undefined> {
  const mapped = (await interfaces(q, 'vpc-id', vpcId)).filter((eni) => eni.association?.publicIp);
  if (mapped.length === 0) return undefined;
  return dependencyViolation(`Network ${vpcId} has some mapped public address(es). Please unmap those public address(es) before detaching the gateway.`);
}

/** R4: still attached. AWS: "The internetGateway 'igw-<id>' has dependencies and cannot be deleted." (ernestio/ernest#333) */
async function deleteInternetGateway(q: Ec2Query, igwId: string): Promise<Ec2Answer | undefined> {
  const [igw] = items((await q({ Action: 'DescribeInternetGateways', ...filter('internet-gateway-id', igwId) })).internetGatewaySet);
  if (items(igw?.attachmentSet).length === 0) return undefined;
  return dependencyViolation(`The internetGateway '${igwId}' has dependencies and cannot be deleted.`);
}

/** R4: any interface in the subnet. AWS: "The subnet 'subnet-<id>' has dependencies and cannot be deleted." (terraform-aws-vpc#1081) */
async function deleteSubnet(q: Ec2Query, subnetId: string): Promise<Ec2Answer | undefined> {
  if ((await interfaces(q, 'subnet-id', subnetId)).length === 0) return undefined;
  return dependencyViolation(`The subnet '${subnetId}' has dependencies and cannot be deleted.`);
}

/**
 * R4: a group an interface uses, or that another group's rule names. AWS: "resource
 * sg-<id> has a dependent object" (EC2 API DeleteSecurityGroup; lianghong/delete_vpc#10).
 */
async function deleteSecurityGroup(q: Ec2Query, groupId: string): Promise<Ec2Answer | undefined> {
  const refused = dependencyViolation(`resource ${groupId} has a dependent object`);
  if ((await interfaces(q, 'group-id', groupId)).length > 0) return refused;
  const [group] = items((await q({ Action: 'DescribeSecurityGroups', ...filter('group-id', groupId) })).securityGroupInfo);
  if (!group) return undefined;
  const others = items((await q({ Action: 'DescribeSecurityGroups', ...filter('vpc-id', group.vpcId) })).securityGroupInfo).filter((g) => g.groupId !== groupId);
  const names = (g: any) =>
    [...items(g.ipPermissions), ...items(g.ipPermissionsEgress)].some((p) => items(p.groups).some((pair: any) => pair.groupId === groupId));
  return others.some(names) ? refused : undefined;
}

/**
 * R4: subnets, an attached internet gateway, non-default groups, non-main route tables or
 * NAT gateways. AWS: "The vpc 'vpc-<id>' has dependencies and cannot be deleted." (cloud-nuke#345)
 */
async function deleteVpc(q: Ec2Query, nats: NatGateways, vpcId: string): Promise<Ec2Answer | undefined> {
  const [subnets, igws, groups, tables] = await Promise.all([
    q({ Action: 'DescribeSubnets', ...filter('vpc-id', vpcId) }),
    q({ Action: 'DescribeInternetGateways', ...filter('attachment.vpc-id', vpcId) }),
    q({ Action: 'DescribeSecurityGroups', ...filter('vpc-id', vpcId) }),
    q({ Action: 'DescribeRouteTables', ...filter('vpc-id', vpcId) }),
  ]);
  const extraTables = items(tables.routeTableSet).filter((rt) => !items(rt.associationSet).some((a: any) => a.main === 'true'));
  const blocked =
    items(subnets.subnetSet).length > 0 ||
    items(igws.internetGatewaySet).length > 0 ||
    items(groups.securityGroupInfo).some((g) => g.groupName !== 'default') ||
    extraTables.length > 0 ||
    nats.liveIn(vpcId).length > 0;
  return blocked ? dependencyViolation(`The vpc '${vpcId}' has dependencies and cannot be deleted.`) : undefined;
}

/**
 * R5: a route to a NAT gateway AWS does not know: InvalidNatGatewayID.NotFound "The
 * natGateway ID 'nat-<id>' does not exist"; a NAT id passed as GatewayId:
 * InvalidGatewayID.NotFound "The gateway ID 'nat-<id>' does not exist" (kops#2376,
 * devopsacademyau/academy#906). moto stores a route to nothing.
 */
async function routeTarget(q: Ec2Query, form: URLSearchParams): Promise<Ec2Answer | undefined> {
  const gatewayId = form.get('GatewayId');
  if (gatewayId?.startsWith('nat-')) return ec2Error('InvalidGatewayID.NotFound', `The gateway ID '${gatewayId}' does not exist`);
  const natId = form.get('NatGatewayId');
  if (!natId) return undefined;
  const found = items((await q({ Action: 'DescribeNatGateways', 'NatGatewayId.1': natId })).natGatewaySet);
  return found.length ? undefined : ec2Error('InvalidNatGatewayID.NotFound', `The natGateway ID '${natId}' does not exist`);
}
