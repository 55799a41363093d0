// What one phase should have, computed from its config alone (no AWS calls).
import type { IpPermission } from '../aws/ec2.js';
import type { Config } from '../config/schema.js';
import { iamNames, type IamNames, type IamRoleKey, type SubnetKey } from './names.js';

export interface DesiredSubnet {
  cidr: string;
  az: string;
  public: boolean;
}

export interface DesiredPhase {
  phase: string;
  region: string;
  keyPair: { name: string; publicKey: string };
  applicationName: string;
  vpcCidr: string;
  subnets: Record<SubnetKey, DesiredSubnet>;
  iam: IamNames;
  trust: Record<IamRoleKey, object>;
  inlinePolicies: Partial<Record<IamRoleKey, object>>;
}

export function desiredPhase(config: Config): DesiredPhase {
  const c = config.common;
  const az1 = config.aws.AWS_AVAILABILITY_ZONE_1;
  const az2 = config.aws.AWS_AVAILABILITY_ZONE_2;
  return {
    phase: c.PHASE,
    region: config.aws.AWS_DEFAULT_REGION,
    keyPair: { name: c.AWS_KEY_PAIR_NAME, publicKey: c.AWS_KEY_PAIR_MATERIAL },
    applicationName: config.elasticbeanstalk.APPLICATION_NAME,
    vpcCidr: c.AWS_VPC_EB,
    subnets: {
      private_1: { cidr: c.AWS_SUBNET_EB_PRIVATE_1, az: az1, public: false },
      private_2: { cidr: c.AWS_SUBNET_EB_PRIVATE_2, az: az2, public: false },
      public_1: { cidr: c.AWS_SUBNET_EB_PUBLIC_1, az: az1, public: true },
      public_2: { cidr: c.AWS_SUBNET_EB_PUBLIC_2, az: az2, public: true },
    },
    iam: iamNames(c.PHASE),
    trust: {
      ec2: trustService('ec2.amazonaws.com'),
      worker: trustService('ec2.amazonaws.com'),
      service: trustService('elasticbeanstalk.amazonaws.com', { StringEquals: { 'sts:ExternalId': 'elasticbeanstalk' } }),
    },
    inlinePolicies: { ec2: WEB_TIER_POLICY, worker: WORKER_POLICY, service: SERVICE_POLICY },
  };
}

function trustService(service: string, condition?: object): object {
  return {
    Version: '2012-10-17',
    Statement: [{ Effect: 'Allow', Principal: { Service: service }, Action: 'sts:AssumeRole', ...(condition ? { Condition: condition } : {}) }],
  };
}

// What the instances need (as AWS's managed AWSElasticBeanstalkWebTier grants): the talk's
// "no log lost" rotation to EB's S3 bucket, and enhanced health reports. Inline, not the
// managed policy, so the role is complete in the one call that creates it a policy.
const WEB_TIER_POLICY = {
  Version: '2012-10-17',
  Statement: [
    {
      Sid: 'BucketAccess',
      Effect: 'Allow',
      Action: ['s3:Get*', 's3:List*', 's3:PutObject'],
      Resource: ['arn:aws:s3:::elasticbeanstalk-*', 'arn:aws:s3:::elasticbeanstalk-*/*'],
    },
    { Sid: 'EnhancedHealth', Effect: 'Allow', Action: ['elasticbeanstalk:PutInstanceStatistics'], Resource: '*' },
    {
      Sid: 'Logs',
      Effect: 'Allow',
      Action: ['logs:PutLogEvents', 'logs:CreateLogStream', 'logs:DescribeLogStreams', 'logs:DescribeLogGroups'],
      Resource: ['arn:aws:logs:*:*:log-group:/aws/elasticbeanstalk*'],
    },
  ],
};

// The original's oneClick_ inline policies (what the EB console created in 2016).
const WORKER_POLICY = {
  Version: '2012-10-17',
  Statement: [
    { Sid: 'MetricsAccess', Effect: 'Allow', Action: ['cloudwatch:PutMetricData'], Resource: '*' },
    { Sid: 'QueueAccess', Effect: 'Allow', Action: ['sqs:ChangeMessageVisibility', 'sqs:DeleteMessage', 'sqs:ReceiveMessage', 'sqs:SendMessage'], Resource: '*' },
    {
      Sid: 'BucketAccess',
      Effect: 'Allow',
      Action: ['s3:Get*', 's3:List*', 's3:PutObject'],
      Resource: ['arn:aws:s3:::elasticbeanstalk-*', 'arn:aws:s3:::elasticbeanstalk-*/*'],
    },
    {
      Sid: 'DynamoPeriodicTasks',
      Effect: 'Allow',
      Action: ['dynamodb:BatchGetItem', 'dynamodb:BatchWriteItem', 'dynamodb:DeleteItem', 'dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:Query', 'dynamodb:Scan', 'dynamodb:UpdateItem'],
      Resource: ['arn:aws:dynamodb:*:*:table/*-stack-AWSEBWorkerCronLeaderRegistry*'],
    },
  ],
};

const SERVICE_POLICY = {
  Version: '2012-10-17',
  Statement: [
    {
      Effect: 'Allow',
      Action: [
        'elasticloadbalancing:DescribeInstanceHealth',
        // Enhanced health on an application load balancer (the 2016 policy predates ALBs).
        'elasticloadbalancing:DescribeLoadBalancers',
        'elasticloadbalancing:DescribeTargetGroups',
        'elasticloadbalancing:DescribeTargetHealth',
        'ec2:DescribeInstances',
        'ec2:DescribeInstanceStatus',
        'ec2:GetConsoleOutput',
        'ec2:AssociateAddress',
        'ec2:DescribeAddresses',
        'ec2:DescribeSecurityGroups',
        'sqs:GetQueueAttributes',
        'sqs:GetQueueUrl',
        'autoscaling:DescribeAutoScalingGroups',
        'autoscaling:DescribeAutoScalingInstances',
        'autoscaling:DescribeScalingActivities',
        'autoscaling:DescribeNotificationConfigurations',
      ],
      Resource: ['*'],
    },
  ],
};

/**
 * The ingress rules of our two groups (PREAMBLE, "the new instance layout"): eb_public is
 * the load balancer's group, open on HTTP to the world; eb_private is the instances' group,
 * HTTP from the load balancer only and SSH from inside the VPC only. Instances live in the
 * private subnets with no public address, so nothing else may reach them.
 */
export function desiredIngress(vpcCidr: string, privateSgId: string, publicSgId: string): { private: IpPermission[]; public: IpPermission[] } {
  return {
    private: [
      { IpProtocol: 'tcp', FromPort: 80, ToPort: 80, UserIdGroupPairs: [{ GroupId: publicSgId }] },
      { IpProtocol: 'tcp', FromPort: 22, ToPort: 22, IpRanges: [{ CidrIp: vpcCidr }] },
    ],
    public: [{ IpProtocol: 'tcp', FromPort: 80, ToPort: 80, IpRanges: [{ CidrIp: '0.0.0.0/0' }] }],
  };
}

/** Split permissions into single rules ("proto|from|to|source"), so two sets compare exactly. */
export function atomicRules(perms: IpPermission[]): string[] {
  const out: string[] = [];
  for (const p of perms) {
    const proto = p.IpProtocol === 'all' ? '-1' : p.IpProtocol;
    const ports = proto === '-1' ? '|' : `${p.FromPort ?? ''}|${p.ToPort ?? ''}`;
    for (const r of p.IpRanges ?? []) out.push(`${proto}|${ports}|${r.CidrIp}`);
    for (const g of p.UserIdGroupPairs ?? []) out.push(`${proto}|${ports}|${g.GroupId}`);
  }
  return out;
}

/** The desired rules the group does not have yet, as --ip-permissions (one entry a rule). */
export function missingPermissions(desired: IpPermission[], existing: IpPermission[]): IpPermission[] {
  const have = new Set(atomicRules(existing));
  return atomicRules(desired).filter((r) => !have.has(r)).map(permissionOf);
}

/**
 * The rules the group has that are not desired (an older layout's, or added by hand): on
 * OUR groups, create_vpc revokes them, so the groups converge by content, not by count.
 */
export function extraPermissions(desired: IpPermission[], existing: IpPermission[]): IpPermission[] {
  const want = new Set(atomicRules(desired));
  return [...new Set(atomicRules(existing))].filter((r) => !want.has(r)).map(permissionOf);
}

function permissionOf(rule: string): IpPermission {
  const [proto, from, to, source] = rule.split('|');
  const p: IpPermission = { IpProtocol: proto };
  if (from !== '') p.FromPort = Number(from);
  if (to !== '') p.ToPort = Number(to);
  if (source.startsWith('sg-') || source.startsWith('<')) p.UserIdGroupPairs = [{ GroupId: source }];
  else p.IpRanges = [{ CidrIp: source }];
  return p;
}
