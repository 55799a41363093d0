// The option settings of a new Nova environment: network, instances, scaling, health
// check, logs to S3, and Nova's own settings. One place, so the deploy reads as steps.
import type { Ctx } from '../context.js';
import type { OptionSetting } from '../aws/eb.js';

export interface SettingsInput {
  vpcId: string;
  /** The instances' subnets (no public address; out through the NAT gateway). */
  privateSubnetIds: string[];
  /** The load balancer's subnets. */
  publicSubnetIds: string[];
  /** eb_private: tcp 80 from eb_public only, tcp 22 from the VPC. */
  privateSecurityGroupId: string;
  /** eb_public: the load balancer's group, tcp 80 from the world. */
  publicSecurityGroupId: string;
  instanceProfile: string;
  serviceRole: string;
  versionLabel: string;
}

export function novaOptionSettings(ctx: Pick<Ctx, 'config' | 'phase'>, i: SettingsInput): OptionSetting[] {
  const { nova, common } = ctx.config;
  const o = (Namespace: string, OptionName: string, Value: string): OptionSetting => ({ Namespace, OptionName, Value });
  const appEnv: Record<string, string> = {
    ...nova.ENVIRONMENT,
    PHASE: ctx.phase,
    VERSION_LABEL: i.versionLabel,
    DEBUG: common.DEBUG ? 'True' : 'False',
    HOST_NOVA: common.HOST_NOVA,
    URL_NOVA: common.URL_NOVA,
  };
  return [
    // Private instances (issue 11; README "Layout"): the instances in the two private
    // subnets with no public address, reaching out through the NAT gateway; the load
    // balancer public in the two public subnets, in eb_public, which EB then uses instead
    // of making a group of its own (ManagedSecurityGroup). The original put the instances
    // in the public subnets with public IPs and port 80 open to the world.
    o('aws:ec2:vpc', 'VPCId', i.vpcId),
    o('aws:ec2:vpc', 'Subnets', i.privateSubnetIds.join(',')),
    o('aws:ec2:vpc', 'ELBSubnets', i.publicSubnetIds.join(',')),
    o('aws:ec2:vpc', 'ELBScheme', 'public'),
    o('aws:ec2:vpc', 'AssociatePublicIpAddress', 'false'),
    o('aws:autoscaling:launchconfiguration', 'SecurityGroups', i.privateSecurityGroupId),
    o('aws:elbv2:loadbalancer', 'SecurityGroups', i.publicSecurityGroupId),
    o('aws:elbv2:loadbalancer', 'ManagedSecurityGroup', i.publicSecurityGroupId),
    o('aws:autoscaling:launchconfiguration', 'EC2KeyName', common.AWS_KEY_PAIR_NAME),
    o('aws:autoscaling:launchconfiguration', 'IamInstanceProfile', i.instanceProfile),
    // SSH only from inside the VPC, from the start: EB's default is the world, and EB opens
    // 22 on the group it makes only from this source (aws-rules R46), so nothing revokes it
    // afterwards. IMDSv2 only, which also makes EB use launch templates, the only kind new
    // accounts may create.
    o('aws:autoscaling:launchconfiguration', 'SSHSourceRestriction', `tcp, 22, 22, ${common.AWS_VPC_EB}`),
    o('aws:autoscaling:launchconfiguration', 'DisableIMDSv1', 'true'),
    o('aws:ec2:instances', 'InstanceTypes', nova.INSTANCE_TYPE),
    o('aws:autoscaling:asg', 'MinSize', String(nova.AWS_ASG_MIN_VALUE)),
    o('aws:autoscaling:asg', 'MaxSize', String(nova.AWS_ASG_MAX_VALUE)),
    o('aws:elasticbeanstalk:environment', 'EnvironmentType', 'LoadBalanced'),
    o('aws:elasticbeanstalk:environment', 'LoadBalancerType', 'application'),
    o('aws:elasticbeanstalk:environment', 'ServiceRole', i.serviceRole),
    o('aws:elasticbeanstalk:application', 'Application Healthcheck URL', nova.HEALTH_CHECK_URL),
    o('aws:elasticbeanstalk:environment:process:default', 'HealthCheckPath', nova.HEALTH_CHECK_URL),
    o('aws:elasticbeanstalk:healthreporting:system', 'SystemType', 'enhanced'),
    // The talk's "no log lost": EB rotates instance logs to S3 every 15 minutes.
    o('aws:elasticbeanstalk:hostmanager', 'LogPublicationControl', 'true'),
    ...Object.entries(appEnv).map(([k, v]) => o('aws:elasticbeanstalk:application:environment', k, v)),
  ];
}
