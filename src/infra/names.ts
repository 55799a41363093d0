// What each resource of a phase is called and how it is tagged. The `johanna:role` tag
// names a resource's part in the phase, so discovery never guesses by Name or CIDR alone.

export const SUBNET_KEYS = ['private_1', 'private_2', 'public_1', 'public_2'] as const;
export type SubnetKey = (typeof SUBNET_KEYS)[number];

export const ROLE = {
  keyPair: 'key-pair',
  application: 'eb-application',
  vpc: 'vpc',
  subnet: (k: SubnetKey) => `subnet-${k.replace('_', '-')}`,
  internetGateway: 'internet-gateway',
  natEip: 'nat-eip',
  natGateway: 'nat-gateway',
  publicRouteTable: 'route-table-public',
  sgPrivate: 'sg-eb-private',
  sgPublic: 'sg-eb-public',
  iamRole: 'iam-role',
  instanceProfile: 'instance-profile',
  /** The launch template create_vpc's instance-profile check launches from (instance-profile.ts). */
  profileCheck: 'profile-check',
} as const;

/** The original's Name tags. */
export const NAME = {
  vpc: 'eb',
  subnet: (k: SubnetKey) => `eb_${k}`,
  internetGateway: 'eb',
  natEip: 'eb_nat',
  natGateway: 'eb_nat',
  publicRouteTable: 'eb_public',
  sgPrivate: 'eb_private',
  sgPublic: 'eb_public',
} as const;

export type IamRoleKey = 'ec2' | 'worker' | 'service';
export const IAM_ROLE_KEYS: readonly IamRoleKey[] = ['ec2', 'worker', 'service'];

export interface IamNames {
  /** IAM path all of the phase's roles and the instance profile live under. */
  path: string;
  roles: Record<IamRoleKey, string>;
  /** Inline policy of each role (the original's oneClick_ policies), if it has one. */
  policies: Partial<Record<IamRoleKey, string>>;
  instanceProfile: string;
  /**
   * The service role as EB's ServiceRole option takes it: a bare name would mean the root
   * path, and ours lives under `path`, so the path goes in front (without its leading /).
   */
  serviceRoleOption: string;
}

/**
 * IAM is account-wide and several phases share an account, so every name carries the
 * phase (the original's fixed aws-elasticbeanstalk-* names clashed between phases).
 * EB's IamInstanceProfile option takes `instanceProfile`; its ServiceRole, `serviceRoleOption`.
 */
export function iamNames(phase: string): IamNames {
  const p = `johanna-${phase}`;
  const roles = { ec2: `${p}-eb-ec2-role`, worker: `${p}-eb-ec2-worker-role`, service: `${p}-eb-service-role` };
  return {
    path: `/johanna/${phase}/`,
    roles,
    policies: {
      ec2: 'johanna-eb-web-tier',
      worker: 'oneClick_aws-elasticbeanstalk-ec2-worker-role',
      service: 'oneClick_aws-elasticbeanstalk-service-role',
    },
    instanceProfile: `${p}-eb-ec2-role`,
    serviceRoleOption: `johanna/${phase}/${roles.service}`,
  };
}
