import { randomBytes } from 'node:crypto';
import type { MotoClient } from '../moto-client.js';
import type { Environment } from './store.js';

// An Amazon Linux image that moto knows in every region.
const IMAGE_ID = 'ami-0ed48ae055634c258';

function option(environment: Environment, namespace: string, name: string): string | undefined {
  return environment.optionSettings.find((setting) => setting.Namespace === namespace && setting.OptionName === name)?.Value;
}

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

/**
 * What EB's CloudFormation stack makes in EC2 for a single-instance web environment: a
 * security group open on 22 and 80 to the world (which the deploy tool is expected to
 * tighten) and one instance, both tagged with the environment.
 */
export async function createEnvironmentResources(moto: MotoClient, environment: Environment): Promise<void> {
  const tags = {
    'elasticbeanstalk:environment-name': environment.name,
    'elasticbeanstalk:environment-id': environment.id,
    Name: environment.name,
  };
  const vpcId = option(environment, 'aws:ec2:vpc', 'VPCId') ?? (await defaultVpcId(moto));
  const suffix = randomBytes(6).toString('hex').toUpperCase();
  const groupName = `awseb-${environment.id}-stack-AWSEBSecurityGroup-${suffix}`;
  const group = await moto.ec2('CreateSecurityGroup', {
    GroupName: groupName,
    GroupDescription: 'VPC Security Group',
    VpcId: vpcId,
    ...tagParams('TagSpecification.1', 'security-group', tags),
  });
  environment.securityGroup = { id: group.groupId, name: groupName };
  const ingress: Record<string, string> = { GroupId: group.groupId };
  [22, 80].forEach((port, index) => {
    const prefix = `IpPermissions.${index + 1}`;
    Object.assign(ingress, {
      [`${prefix}.IpProtocol`]: 'tcp',
      [`${prefix}.FromPort`]: String(port),
      [`${prefix}.ToPort`]: String(port),
      [`${prefix}.IpRanges.1.CidrIp`]: '0.0.0.0/0',
    });
  });
  await moto.ec2('AuthorizeSecurityGroupIngress', ingress);

  const subnetId = option(environment, 'aws:ec2:vpc', 'Subnets')?.split(',')[0]?.trim();
  const instanceType =
    option(environment, 'aws:autoscaling:launchconfiguration', 'InstanceType') ??
    option(environment, 'aws:ec2:instances', 'InstanceTypes')?.split(',')[0]?.trim() ??
    't3.micro';
  const instance = await moto.ec2('RunInstances', {
    ImageId: IMAGE_ID,
    MinCount: '1',
    MaxCount: '1',
    InstanceType: instanceType,
    ...(subnetId ? { SubnetId: subnetId, 'SecurityGroupId.1': group.groupId } : {}),
    ...tagParams('TagSpecification.1', 'instance', tags),
  });
  environment.instanceId = instance.instancesSet.item[0].instanceId;
}

/** Removes exactly what createEnvironmentResources made, instance first since it holds the group. */
export async function deleteEnvironmentResources(moto: MotoClient, environment: Environment): Promise<void> {
  if (environment.instanceId) {
    await moto.ec2('TerminateInstances', { 'InstanceId.1': environment.instanceId });
  }
  if (environment.securityGroup) {
    await moto.ec2('DeleteSecurityGroup', { GroupId: environment.securityGroup.id });
  }
}
