// The option settings EB documents, in one place: namespaces, option names, and the type
// and range of each value. CreateEnvironment and UpdateEnvironment refuse anything else with
// EB's ConfigurationValidationException (aws-rules.md R9, R10).
//
// Source: "General options for all environments" and "Platform specific options" (Node.js),
// https://docs.aws.amazon.com/elasticbeanstalk/latest/dg/command-options-general.html and
// https://docs.aws.amazon.com/elasticbeanstalk/latest/dg/command-options-specific.html#command-options-nodejs
// (archived text: awsdocs/aws-elastic-beanstalk-developer-guide@10e2ed3,
// doc_source/command-options-general.md). All values travel as strings; EB checks their
// type and range server-side. Namespaces whose option names are free (environment
// properties, static files) accept any name.

export type OptionType =
  | { kind: 'string' }
  | { kind: 'int'; min: number; max: number }
  | { kind: 'number'; min: number; max: number }
  | { kind: 'bool' }
  | { kind: 'enum'; values: readonly string[] }
  | { kind: 'list' };

const string: OptionType = { kind: 'string' };
const bool: OptionType = { kind: 'bool' };
const list: OptionType = { kind: 'list' };
const int = (min: number, max: number): OptionType => ({ kind: 'int', min, max });
const oneOf = (...values: string[]): OptionType => ({ kind: 'enum', values });

/** Namespace -> option name -> value type. `'*'` means any option name is accepted. */
export const OPTION_CATALOG: Record<string, Record<string, OptionType>> = {
  'aws:autoscaling:asg': {
    MinSize: int(1, 10000),
    MaxSize: int(1, 10000),
    'Availability Zones': oneOf('Any', 'Any 1', 'Any 2', 'Any 3'),
    'Custom Availability Zones': list,
    Cooldown: int(0, 10000),
    EnableCapacityRebalancing: bool,
  },
  'aws:autoscaling:launchconfiguration': {
    IamInstanceProfile: string,
    InstanceType: string,
    ImageId: string,
    EC2KeyName: string,
    SecurityGroups: list,
    SSHSourceRestriction: string,
    MonitoringInterval: oneOf('1 minute', '5 minute'),
    BlockDeviceMappings: string,
    RootVolumeType: oneOf('standard', 'gp2', 'gp3', 'io1'),
    RootVolumeSize: int(8, 16384),
    RootVolumeIOPS: int(100, 64000),
    RootVolumeThroughput: int(125, 1000),
    DisableIMDSv1: bool,
  },
  'aws:ec2:instances': {
    EnableSpot: bool,
    InstanceTypes: list,
    SpotFleetOnDemandBase: int(0, 10000),
    SpotFleetOnDemandAboveBasePercentage: int(0, 100),
    SpotMaxPrice: string,
    SupportedArchitectures: list,
  },
  'aws:ec2:vpc': {
    VPCId: string,
    Subnets: list,
    ELBSubnets: list,
    ELBScheme: oneOf('public', 'internal'),
    DBSubnets: list,
    AssociatePublicIpAddress: bool,
  },
  'aws:elasticbeanstalk:application': { 'Application Healthcheck URL': string },
  'aws:elasticbeanstalk:application:environment': { '*': string },
  'aws:elasticbeanstalk:cloudwatch:logs': {
    StreamLogs: bool,
    DeleteOnTerminate: bool,
    RetentionInDays: oneOf('1', '3', '5', '7', '14', '30', '60', '90', '120', '150', '180', '365', '400', '545', '731', '1827', '3653'),
  },
  'aws:elasticbeanstalk:command': {
    DeploymentPolicy: oneOf('AllAtOnce', 'Rolling', 'RollingWithAdditionalBatch', 'Immutable', 'TrafficSplitting'),
    Timeout: int(1, 3600),
    BatchSizeType: oneOf('Percentage', 'Fixed'),
    BatchSize: int(1, 10000),
    IgnoreHealthCheck: bool,
  },
  'aws:elasticbeanstalk:environment': {
    EnvironmentType: oneOf('SingleInstance', 'LoadBalanced'),
    ServiceRole: string,
    LoadBalancerType: oneOf('classic', 'application', 'network'),
    LoadBalancerIsShared: bool,
  },
  'aws:elasticbeanstalk:environment:process:default': {
    DeregistrationDelay: int(0, 3600),
    HealthCheckInterval: int(5, 300),
    HealthCheckPath: string,
    HealthCheckTimeout: int(1, 60),
    HealthyThresholdCount: int(2, 10),
    UnhealthyThresholdCount: int(2, 10),
    MatcherHTTPCode: string,
    Port: int(1, 65535),
    Protocol: oneOf('HTTP', 'HTTPS', 'TCP'),
    StickinessEnabled: bool,
    StickinessLBCookieDuration: int(1, 604800),
    StickinessType: oneOf('lb_cookie'),
  },
  'aws:elasticbeanstalk:healthreporting:system': {
    SystemType: oneOf('basic', 'enhanced'),
    ConfigDocument: string,
    EnhancedHealthAuthEnabled: bool,
    HealthCheckSuccessThreshold: oneOf('Ok', 'Warning', 'Degraded', 'Severe'),
  },
  'aws:elasticbeanstalk:hostmanager': { LogPublicationControl: bool },
  'aws:elasticbeanstalk:managedactions': {
    ManagedActionsEnabled: bool,
    PreferredStartTime: string,
    ServiceRoleForManagedUpdates: string,
  },
  'aws:elbv2:loadbalancer': {
    AccessLogsS3Bucket: string,
    AccessLogsS3Enabled: bool,
    AccessLogsS3Prefix: string,
    IdleTimeout: int(1, 3600),
    ManagedSecurityGroup: string,
    SecurityGroups: list,
    SharedLoadBalancer: string,
  },
  'aws:elbv2:listener:default': {
    DefaultProcess: string,
    ListenerEnabled: bool,
    Protocol: oneOf('HTTP', 'HTTPS'),
    Rules: list,
    SSLCertificateArns: string,
    SSLPolicy: string,
  },
  // Added for issue 25 from the same pages (R53): what `eb create` sends by default (classic
  // load balancer policies and settings, rolling updates) and the other general namespaces.
  'aws:autoscaling:updatepolicy:rollingupdate': {
    MaxBatchSize: int(1, 10000),
    MinInstancesInService: int(0, 9999),
    RollingUpdateEnabled: bool,
    RollingUpdateType: oneOf('Time', 'Health', 'Immutable'),
    PauseTime: string,
    Timeout: string,
  },
  'aws:autoscaling:scheduledaction': { '*': string },
  'aws:autoscaling:trigger': {
    BreachDuration: int(1, 600),
    LowerBreachScaleIncrement: string,
    LowerThreshold: { kind: 'number', min: 0, max: 20000000 },
    MeasureName: oneOf('CPUUtilization', 'NetworkIn', 'NetworkOut', 'DiskWriteOps', 'DiskReadBytes', 'DiskReadOps', 'DiskWriteBytes', 'Latency', 'RequestCount', 'HealthyHostCount', 'UnhealthyHostCount', 'TargetResponseTime'),
    Period: int(1, 600),
    EvaluationPeriods: int(1, 600),
    Statistic: oneOf('Minimum', 'Maximum', 'Sum', 'Average'),
    Unit: oneOf('Seconds', 'Percent', 'Bytes', 'Bits', 'Count', 'Bytes/Second', 'Bits/Second', 'Count/Second', 'None'),
    UpperBreachScaleIncrement: string,
    UpperThreshold: { kind: 'number', min: 0, max: 20000000 },
  },
  'aws:elb:healthcheck': {
    HealthyThreshold: int(2, 10),
    Interval: int(5, 300),
    Timeout: int(2, 60),
    UnhealthyThreshold: int(2, 10),
    Target: string,
  },
  'aws:elb:loadbalancer': {
    CrossZone: bool,
    SecurityGroups: list,
    ManagedSecurityGroup: string,
    LoadBalancerHTTPPort: oneOf('OFF', '80'),
    LoadBalancerPortProtocol: oneOf('HTTP', 'TCP'),
    LoadBalancerHTTPSPort: oneOf('OFF', '443', '8443'),
    LoadBalancerSSLPortProtocol: oneOf('HTTPS', 'SSL'),
    SSLCertificateId: string,
  },
  'aws:elb:listener': {
    ListenerProtocol: oneOf('HTTP', 'TCP'),
    InstancePort: int(1, 65535),
    InstanceProtocol: oneOf('HTTP', 'TCP'),
    PolicyNames: list,
    ListenerEnabled: bool,
  },
  'aws:elb:policies': {
    ConnectionDrainingEnabled: bool,
    ConnectionDrainingTimeout: int(1, 3600),
    ConnectionSettingIdleTimeout: int(1, 3600),
    LoadBalancerPorts: list,
    'Stickiness Cookie Expiration': int(0, 1000000),
    'Stickiness Policy': bool,
  },
  'aws:elasticbeanstalk:cloudwatch:logs:health': {
    HealthStreamingEnabled: bool,
    DeleteOnTerminate: bool,
    RetentionInDays: oneOf('1', '3', '5', '7', '14', '30', '60', '90', '120', '150', '180', '365', '400', '545', '731', '1827', '3653'),
  },
  'aws:elasticbeanstalk:monitoring': { 'Automatically Terminate Unhealthy Instances': bool },
  'aws:elasticbeanstalk:sns:topics': {
    'Notification Endpoint': string,
    'Notification Protocol': oneOf('http', 'https', 'email', 'email-json', 'sqs'),
    'Notification Topic ARN': string,
    'Notification Topic Name': string,
  },
  'aws:elasticbeanstalk:xray': { XRayEnabled: bool },
  'aws:elbv2:listenerrule:default': { HostHeaders: list, PathPatterns: list, Priority: int(1, 1000), Process: string },
  // Node.js on Amazon Linux 2 and later (the legacy aws:elasticbeanstalk:container:nodejs
  // namespace is "Unknown configuration setting" there, R10).
  'aws:elasticbeanstalk:environment:proxy': { ProxyServer: oneOf('nginx', 'apache') },
  'aws:elasticbeanstalk:environment:proxy:staticfiles': { '*': string },
};

/** Why a value does not fit its type, in EB's words where known; undefined when it fits. */
export function valueProblem(type: OptionType, value: string): string | undefined {
  switch (type.kind) {
    case 'int': {
      if (!/^-?\d+$/.test(value.trim())) return 'Value is not an integer.';
      const n = Number(value);
      return n < type.min || n > type.max ? `Value must be between ${type.min} and ${type.max}.` : undefined;
    }
    case 'number': {
      const n = Number(value);
      if (value.trim() === '' || !Number.isFinite(n)) return 'Value is not a number.';
      return n < type.min || n > type.max ? `Value must be between ${type.min} and ${type.max}.` : undefined;
    }
    case 'bool':
      return /^(true|false)$/i.test(value) ? undefined : 'Value must be true or false.';
    case 'enum':
      return type.values.includes(value) ? undefined : `Value must be one of: ${type.values.join(', ')}.`;
    default:
      return undefined;
  }
}

/**
 * Namespaces named by a port or a name (`aws:elb:listener:443`, `aws:elbv2:listener:443`,
 * `aws:elasticbeanstalk:environment:process:api`, `aws:elbv2:listenerrule:admin`) take the
 * options of their default (R53).
 */
function catalogueOf(namespace: string): Record<string, OptionType> | undefined {
  if (OPTION_CATALOG[namespace]) return OPTION_CATALOG[namespace];
  if (/^aws:elb:listener:\d{1,5}$/.test(namespace)) return OPTION_CATALOG['aws:elb:listener'];
  if (/^aws:elbv2:listener:\d{1,5}$/.test(namespace)) return OPTION_CATALOG['aws:elbv2:listener:default'];
  if (/^aws:elasticbeanstalk:environment:process:[A-Za-z0-9_-]+$/.test(namespace)) return OPTION_CATALOG['aws:elasticbeanstalk:environment:process:default'];
  if (/^aws:elbv2:listenerrule:[A-Za-z0-9_-]+$/.test(namespace)) return OPTION_CATALOG['aws:elbv2:listenerrule:default'];
  return undefined;
}

/** The type of an option, or undefined when EB does not know the namespace/option. */
export function optionType(namespace: string, name: string): OptionType | undefined {
  const options = catalogueOf(namespace);
  return options?.[name] ?? options?.['*'];
}

/**
 * What EB reports for an option nobody set (the pages' "Default" column), so
 * DescribeConfigurationSettings answers complete as EB's does: the EB CLI's `eb terminate`
 * reads LoadBalancerIsShared, `eb config`/`eb scale` the rest (R53).
 */
const DEFAULTS: Array<[string, string, string]> = [
  ['aws:autoscaling:asg', 'MinSize', '1'],
  ['aws:autoscaling:asg', 'MaxSize', '4'],
  ['aws:autoscaling:asg', 'Availability Zones', 'Any'],
  ['aws:autoscaling:asg', 'Cooldown', '360'],
  ['aws:autoscaling:launchconfiguration', 'MonitoringInterval', '5 minute'],
  ['aws:autoscaling:updatepolicy:rollingupdate', 'RollingUpdateEnabled', 'false'],
  ['aws:autoscaling:updatepolicy:rollingupdate', 'RollingUpdateType', 'Time'],
  ['aws:elasticbeanstalk:command', 'DeploymentPolicy', 'AllAtOnce'],
  ['aws:elasticbeanstalk:command', 'Timeout', '600'],
  ['aws:elasticbeanstalk:command', 'BatchSizeType', 'Percentage'],
  ['aws:elasticbeanstalk:command', 'BatchSize', '100'],
  ['aws:elasticbeanstalk:command', 'IgnoreHealthCheck', 'false'],
  ['aws:elasticbeanstalk:environment', 'EnvironmentType', 'LoadBalanced'],
  ['aws:elasticbeanstalk:environment', 'LoadBalancerType', 'classic'],
  ['aws:elasticbeanstalk:environment', 'LoadBalancerIsShared', 'false'],
  ['aws:elasticbeanstalk:healthreporting:system', 'SystemType', 'basic'],
  ['aws:elasticbeanstalk:managedactions', 'ManagedActionsEnabled', 'false'],
  ['aws:elasticbeanstalk:cloudwatch:logs', 'StreamLogs', 'false'],
  ['aws:elasticbeanstalk:xray', 'XRayEnabled', 'false'],
  ['aws:elasticbeanstalk:environment:process:default', 'HealthCheckPath', '/'],
  ['aws:elasticbeanstalk:environment:process:default', 'Port', '80'],
  ['aws:elasticbeanstalk:environment:process:default', 'Protocol', 'HTTP'],
  ['aws:elbv2:listener:default', 'ListenerEnabled', 'true'],
];

/** One option setting as EB names it. */
export interface OptionRef {
  Namespace: string;
  OptionName: string;
  Value: string;
}

/** The environment's settings, then EB's default for every catalogued option it did not set. */
export function configurationSettingsWithDefaults(settings: OptionRef[], _stack: string): OptionRef[] {
  const set = new Set(settings.map((s) => `${s.Namespace}\u0000${s.OptionName}`));
  const defaults = DEFAULTS.filter(([namespace, name]) => !set.has(`${namespace}\u0000${name}`)).map(([Namespace, OptionName, Value]) => ({ Namespace, OptionName, Value }));
  return [...settings, ...defaults];
}
