// What EB's CloudFormation stack makes in EC2 for a load-balanced web environment, as the
// option settings ask for it (the layout in README "Private instances"):
// - the load balancer's security group (AWSEBLoadBalancerSecurityGroup, tcp 80 from the world),
//   unless aws:elbv2:loadbalancer ManagedSecurityGroup/SecurityGroups name one;
// - the instances' group (AWSEBSecurityGroup): tcp 80 only from the load balancer's group,
//   tcp 22 from SSHSourceRestriction (the world when unset);
// - the load balancer's interfaces, one a subnet of ELBSubnets, described
//   `ELB app/awseb-AWSEB-<id>/<hash>` as AWS's requester-managed ALB interfaces are (R6);
// - MinSize instances over the Subnets, with a public address only if AssociatePublicIpAddress.
// Sources: EB "Security groups" and "Configuring VPC" pages
// (https://docs.aws.amazon.com/elasticbeanstalk/latest/dg/using-features.managing.elb.html,
// https://docs.aws.amazon.com/elasticbeanstalk/latest/dg/command-options-general.html), aws-rules.md R6, R10.
import { randomBytes } from 'node:crypto';
import type { MotoClient } from '../moto-client.js';
import type { Environment, EnvironmentResources, OptionSetting } from './store.js';
import { listOf, option } from './validate.js';

// An Amazon Linux image that moto knows in every region.
const IMAGE_ID = 'ami-0ed48ae055634c258';

function tagParams(prefix: string, resourceType: string, tags: Record<string, string>): Record<string, string> {
  const params: Record<string, string> = { [`${prefix}.ResourceType`]: resourceType };
  Object.entries(tags).forEach(([key, value], index) => {
    params[`${prefix}.Tag.${index + 1}.Key`] = key;
    params[`${prefix}.Tag.${index + 1}.Value`] = value;
  });
  return params;
}

async function defaultVpcId(moto: MotoClient): Promise<string> {
  const answer = await moto.ec2('DescribeVpcs', { 'Filter.1.Name': 'isDefault', 'Filter.1.Value.1': 'true' });
  const vpcId = answer?.vpcSet?.item?.[0]?.vpcId;
  if (!vpcId) throw new Error('there is no default VPC');
  return vpcId;
}

/** `tcp, 22, 22, 10.0.0.0/16` (or a group id as the source): EB's SSHSourceRestriction. */
export function parseSshRestriction(value: string | undefined): { protocol: string; from: number; to: number; source: string } {
  const [protocol, from, to, source] = (value ?? 'tcp, 22, 22, 0.0.0.0/0').split(',').map((part) => part.trim());
  return { protocol: protocol || 'tcp', from: Number(from || 22), to: Number(to || 22), source: source || '0.0.0.0/0' };
}

function ingress(groupId: string, rules: Array<{ protocol: string; from: number; to: number; source: string }>): Record<string, string> {
  const params: Record<string, string> = { GroupId: groupId };
  rules.forEach((rule, index) => {
    const prefix = `IpPermissions.${index + 1}`;
    Object.assign(params, { [`${prefix}.IpProtocol`]: rule.protocol, [`${prefix}.FromPort`]: String(rule.from), [`${prefix}.ToPort`]: String(rule.to) });
    if (rule.source.startsWith('sg-')) params[`${prefix}.Groups.1.GroupId`] = rule.source;
    else params[`${prefix}.IpRanges.1.CidrIp`] = rule.source;
  });
  return params;
}

export const isSingleInstance = (settings: OptionSetting[]) => option(settings, 'aws:elasticbeanstalk:environment', 'EnvironmentType') === 'SingleInstance';

export async function createEnvironmentResources(moto: MotoClient, environment: Environment): Promise<EnvironmentResources> {
  const settings = environment.optionSettings;
  const tags = { 'elasticbeanstalk:environment-name': environment.name, 'elasticbeanstalk:environment-id': environment.id, Name: environment.name };
  const vpcId = option(settings, 'aws:ec2:vpc', 'VPCId') ?? (await defaultVpcId(moto));
  const suffix = () => randomBytes(6).toString('hex').toUpperCase();
  const resources: EnvironmentResources = {
    vpcId,
    instanceIds: [],
    loadBalancerEnis: [],
    loadBalancerName: `awseb-AWSEB-${randomBytes(5).toString('hex')}`,
  };
  environment.resources = resources;
  const makeGroup = async (logical: string, description: string) => {
    const name = `awseb-${environment.id}-stack-${logical}-${suffix()}`;
    const group = await moto.ec2('CreateSecurityGroup', { GroupName: name, GroupDescription: description, VpcId: vpcId, ...tagParams('TagSpecification.1', 'security-group', tags) });
    return { id: group.groupId as string, name };
  };

  const single = isSingleInstance(settings);
  if (!single) {
    const given = option(settings, 'aws:elbv2:loadbalancer', 'ManagedSecurityGroup') ?? listOf(option(settings, 'aws:elbv2:loadbalancer', 'SecurityGroups'))[0];
    if (given) resources.loadBalancerGroup = { id: given, name: given, ours: false };
    else {
      const made = await makeGroup('AWSEBLoadBalancerSecurityGroup', 'Load Balancer Security Group');
      resources.loadBalancerGroup = { ...made, ours: true };
      await moto.ec2('AuthorizeSecurityGroupIngress', ingress(made.id, [{ protocol: 'tcp', from: 80, to: 80, source: '0.0.0.0/0' }]));
    }
  }
  resources.instanceGroup = await makeGroup('AWSEBSecurityGroup', 'VPC Security Group');
  const ssh = parseSshRestriction(option(settings, 'aws:autoscaling:launchconfiguration', 'SSHSourceRestriction'));
  const web = { protocol: 'tcp', from: 80, to: 80, source: resources.loadBalancerGroup?.id ?? '0.0.0.0/0' };
  await moto.ec2('AuthorizeSecurityGroupIngress', ingress(resources.instanceGroup.id, [web, ssh]));

  // The load balancer's interfaces, one a subnet, in its group.
  if (!single) {
    const elbSubnets = listOf(option(settings, 'aws:ec2:vpc', 'ELBSubnets') ?? option(settings, 'aws:ec2:vpc', 'Subnets'));
    for (const subnetId of elbSubnets) {
      const eni = await moto.ec2('CreateNetworkInterface', {
        SubnetId: subnetId,
        Description: `ELB app/${resources.loadBalancerName}/${randomBytes(8).toString('hex')}`,
        'SecurityGroupId.1': resources.loadBalancerGroup!.id,
      });
      resources.loadBalancerEnis.push(eni.networkInterface.networkInterfaceId);
    }
  }

  const subnets = listOf(option(settings, 'aws:ec2:vpc', 'Subnets'));
  const publicIp = (option(settings, 'aws:ec2:vpc', 'AssociatePublicIpAddress') ?? '').toLowerCase() === 'true';
  const groups = [resources.instanceGroup.id, ...listOf(option(settings, 'aws:autoscaling:launchconfiguration', 'SecurityGroups'))];
  const instanceType =
    option(settings, 'aws:autoscaling:launchconfiguration', 'InstanceType') ?? listOf(option(settings, 'aws:ec2:instances', 'InstanceTypes'))[0] ?? 't3.micro';
  const count = single ? 1 : Math.min(4, Math.max(1, Number(option(settings, 'aws:autoscaling:asg', 'MinSize') ?? 1)));
  for (let i = 0; i < count; i++) {
    const subnetId = subnets.length ? subnets[i % subnets.length] : undefined;
    const network: Record<string, string> = subnetId
      ? {
          'NetworkInterface.1.DeviceIndex': '0',
          'NetworkInterface.1.SubnetId': subnetId,
          'NetworkInterface.1.AssociatePublicIpAddress': String(publicIp),
          ...Object.fromEntries(groups.map((g, k) => [`NetworkInterface.1.SecurityGroupId.${k + 1}`, g])),
          // moto lists an instance's groups from these, not from its interface's.
          ...Object.fromEntries(groups.map((g, k) => [`SecurityGroupId.${k + 1}`, g])),
        }
      : {};
    const instance = await moto.ec2('RunInstances', {
      ImageId: IMAGE_ID,
      MinCount: '1',
      MaxCount: '1',
      InstanceType: instanceType,
      ...network,
      ...tagParams('TagSpecification.1', 'instance', tags),
    });
    resources.instanceIds.push(instance.instancesSet.item[0].instanceId);
  }
  return resources;
}

/** Instances go with the environment (their primary interfaces with them: DeleteOnTermination). */
export async function terminateInstances(moto: MotoClient, resources: EnvironmentResources): Promise<void> {
  if (resources.instanceIds.length) {
    await moto.ec2('TerminateInstances', Object.fromEntries(resources.instanceIds.map((id, i) => [`InstanceId.${i + 1}`, id])));
  }
}

/**
 * What outlives the environment by eniLingerMs: the load balancer's interfaces (AWS deletes
 * them itself, minutes later, R6), then the groups EB made, which they and the instance
 * group's rule hold.
 */
export async function deleteLingering(moto: MotoClient, resources: EnvironmentResources): Promise<void> {
  for (const id of resources.loadBalancerEnis) {
    await moto.ec2('DeleteNetworkInterface', { NetworkInterfaceId: id }).catch(() => undefined);
  }
  if (resources.instanceGroup) await moto.ec2('DeleteSecurityGroup', { GroupId: resources.instanceGroup.id });
  if (resources.loadBalancerGroup?.ours) await moto.ec2('DeleteSecurityGroup', { GroupId: resources.loadBalancerGroup.id });
}
