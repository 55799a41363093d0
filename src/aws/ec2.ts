// Typed EC2 calls: each builds the argv, runs it through the one runner and reads the
// JSON. Tags go on at creation (--tag-specifications), never in a second call.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { CallOptions } from './cli.js';
import { tagSpec, type Tag } from './tags.js';

/** The runner's call signature, so callers can bound concurrency around it. */
export type { AwsCall } from './cli.js';
import type { AwsCall } from './cli.js';

/** Codes EC2 answers for an id it created a moment ago (eventual consistency). */
export const EC2_NOT_YET = [
  'InvalidVpcID.NotFound',
  'InvalidSubnetID.NotFound',
  'InvalidGroup.NotFound',
  'InvalidRouteTableID.NotFound',
  'InvalidNatGatewayID.NotFound',
  'InvalidAllocationID.NotFound',
  'InvalidInternetGatewayID.NotFound',
  'InvalidGatewayID.NotFound',
];
const settle: CallOptions = { retryOn: EC2_NOT_YET, attempts: 8 };

export interface TagDescription {
  ResourceId: string;
  ResourceType: string;
  Key: string;
  Value: string;
}

export interface Vpc {
  VpcId: string;
  CidrBlock: string;
  CidrBlockAssociationSet?: { CidrBlock: string }[];
  State?: string;
  Tags?: Tag[];
}

export interface Route {
  DestinationCidrBlock?: string;
  GatewayId?: string;
  NatGatewayId?: string;
  State?: string;
}

export interface RouteTable {
  RouteTableId: string;
  VpcId: string;
  Routes?: Route[];
  Associations?: { RouteTableAssociationId: string; SubnetId?: string; Main?: boolean }[];
  Tags?: Tag[];
}

export interface IpPermission {
  IpProtocol: string;
  FromPort?: number;
  ToPort?: number;
  IpRanges?: { CidrIp: string }[];
  UserIdGroupPairs?: { GroupId: string; UserId?: string }[];
}

export interface SecurityGroup {
  GroupId: string;
  GroupName: string;
  VpcId: string;
  IpPermissions?: IpPermission[];
  Tags?: Tag[];
}

export type NatState = 'pending' | 'available' | 'deleting' | 'deleted' | 'failed';

export interface NatGateway {
  NatGatewayId: string;
  State: NatState;
  SubnetId?: string;
  VpcId?: string;
  NatGatewayAddresses?: { AllocationId?: string; PublicIp?: string }[];
  FailureCode?: string;
  FailureMessage?: string;
  Tags?: Tag[];
}

export interface Instance {
  InstanceId: string;
  State?: { Name: string };
  Tags?: Tag[];
}

// ---- reads -------------------------------------------------------------------------

/** Every VPC of the account (or those the filters select). */
export async function describeVpcs(call: AwsCall, filters: string[] = [], opts?: CallOptions): Promise<Vpc[]> {
  const r = await call<{ Vpcs?: Vpc[] }>(['ec2', 'describe-vpcs', ...(filters.length ? ['--filters', ...filters] : [])], opts);
  return r.Vpcs ?? [];
}

/**
 * Every tag with one of these keys, on any EC2 resource, in one answer. Only candidates:
 * moto keeps the tags of deleted resources, so a caller confirms existence elsewhere.
 */
export async function describeTagsByKeys(call: AwsCall, keys: string[]): Promise<TagDescription[]> {
  const r = await call<{ Tags?: TagDescription[] }>(['ec2', 'describe-tags', '--filters', `Name=key,Values=${keys.join(',')}`]);
  return r.Tags ?? [];
}

export interface Subnet {
  SubnetId: string;
  VpcId: string;
  CidrBlock: string;
  AvailabilityZone: string;
  Tags?: Tag[];
}

export async function describeSubnets(call: AwsCall, filters: string[]): Promise<Subnet[]> {
  const r = await call<{ Subnets?: Subnet[] }>(['ec2', 'describe-subnets', '--filters', ...filters]);
  return r.Subnets ?? [];
}

export interface InternetGateway {
  InternetGatewayId: string;
  Attachments?: { VpcId: string; State: string }[];
  Tags?: Tag[];
}

export async function describeInternetGateways(call: AwsCall, filters: string[], opts?: CallOptions): Promise<InternetGateway[]> {
  const r = await call<{ InternetGateways?: InternetGateway[] }>(['ec2', 'describe-internet-gateways', '--filters', ...filters], opts);
  return r.InternetGateways ?? [];
}

export interface Address {
  AllocationId: string;
  PublicIp?: string;
  AssociationId?: string;
  Tags?: Tag[];
}

export async function describeAddresses(call: AwsCall, filters: string[], opts?: CallOptions): Promise<Address[]> {
  const r = await call<{ Addresses?: Address[] }>(['ec2', 'describe-addresses', '--filters', ...filters], opts);
  return r.Addresses ?? [];
}

export interface KeyPair {
  KeyPairId?: string;
  KeyName: string;
  Tags?: Tag[];
}

export async function describeKeyPairs(call: AwsCall, filters: string[]): Promise<KeyPair[]> {
  const r = await call<{ KeyPairs?: KeyPair[] }>(['ec2', 'describe-key-pairs', '--filters', ...filters]);
  return r.KeyPairs ?? [];
}

export async function describeRouteTables(call: AwsCall, vpcId: string | string[], main?: boolean): Promise<RouteTable[]> {
  const filters = [`Name=vpc-id,Values=${[vpcId].flat().join(',')}`];
  if (main) filters.push('Name=association.main,Values=true');
  const r = await call<{ RouteTables?: RouteTable[] }>(['ec2', 'describe-route-tables', '--filters', ...filters], main ? settle : {});
  return r.RouteTables ?? [];
}

export async function describeSecurityGroups(call: AwsCall, vpcId: string): Promise<SecurityGroup[]> {
  const r = await call<{ SecurityGroups?: SecurityGroup[] }>(['ec2', 'describe-security-groups', '--filters', `Name=vpc-id,Values=${vpcId}`]);
  return r.SecurityGroups ?? [];
}

/** NAT gateways by filter (note: this one call takes `--filter`, singular). */
export async function describeNatGateways(call: AwsCall, filters: string[], opts: CallOptions = {}): Promise<NatGateway[]> {
  const r = await call<{ NatGateways?: NatGateway[] }>(['ec2', 'describe-nat-gateways', '--filter', ...filters], opts);
  return r.NatGateways ?? [];
}

/** Instances in the VPC that are not terminated yet. */
export async function describeLiveInstances(call: AwsCall, vpcId: string, opts: CallOptions = {}): Promise<Instance[]> {
  const r = await call<{ Reservations?: { Instances?: Instance[] }[] }>(
    [
      'ec2', 'describe-instances', '--filters', `Name=vpc-id,Values=${vpcId}`,
      'Name=instance-state-name,Values=pending,running,shutting-down,stopping,stopped',
    ],
    opts,
  );
  return (r.Reservations ?? []).flatMap((x) => x.Instances ?? []);
}

export async function describeKeyPair(call: AwsCall, name: string): Promise<KeyPair | undefined> {
  const r = await call<{ KeyPairs?: KeyPair[] }>(['ec2', 'describe-key-pairs', '--key-names', name], { expectFailure: true });
  return r.KeyPairs?.[0];
}

// ---- creates -----------------------------------------------------------------------

export async function importKeyPair(call: AwsCall, name: string, publicKey: string, tags: Tag[]): Promise<string | undefined> {
  // From a file (fileb://): the aws CLI v2 reads a blob given inline as base64, v1 as text;
  // a file means the same to both.
  const dir = mkdtempSync(path.join(os.tmpdir(), 'johanna-key-'));
  const file = path.join(dir, 'key.pub');
  writeFileSync(file, publicKey.trim());
  try {
    const r = await call<{ KeyPairId?: string }>(
      ['ec2', 'import-key-pair', '--key-name', name, '--public-key-material', `fileb://${file}`, '--tag-specifications', tagSpec('key-pair', tags)],
      { expectFailure: true },
    );
    return r.KeyPairId;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function createVpc(call: AwsCall, cidr: string, tags: Tag[]): Promise<string | undefined> {
  const r = await call<{ Vpc?: Vpc }>(['ec2', 'create-vpc', '--cidr-block', cidr, '--tag-specifications', tagSpec('vpc', tags)], { countRetries: true });
  return r.Vpc?.VpcId;
}

export async function createSubnet(call: AwsCall, vpcId: string, cidr: string, az: string, tags: Tag[]): Promise<string | undefined> {
  const r = await call<{ Subnet?: { SubnetId: string } }>(
    ['ec2', 'create-subnet', '--vpc-id', vpcId, '--cidr-block', cidr, '--availability-zone', az, '--tag-specifications', tagSpec('subnet', tags)],
    settle,
  );
  return r.Subnet?.SubnetId;
}

export async function createInternetGateway(call: AwsCall, tags: Tag[]): Promise<string | undefined> {
  const r = await call<{ InternetGateway?: { InternetGatewayId: string } }>(
    ['ec2', 'create-internet-gateway', '--tag-specifications', tagSpec('internet-gateway', tags)],
    { countRetries: true },
  );
  return r.InternetGateway?.InternetGatewayId;
}

export async function attachInternetGateway(call: AwsCall, igwId: string, vpcId: string): Promise<void> {
  await call(['ec2', 'attach-internet-gateway', '--internet-gateway-id', igwId, '--vpc-id', vpcId], { ...settle, expectFailure: true });
}

export async function allocateAddress(call: AwsCall, tags: Tag[]): Promise<string | undefined> {
  const r = await call<{ AllocationId?: string }>(['ec2', 'allocate-address', '--domain', 'vpc', '--tag-specifications', tagSpec('elastic-ip', tags)], { countRetries: true });
  return r.AllocationId;
}

export async function createNatGateway(call: AwsCall, subnetId: string, allocationId: string, tags: Tag[]): Promise<string | undefined> {
  const r = await call<{ NatGateway?: NatGateway }>(
    ['ec2', 'create-nat-gateway', '--subnet-id', subnetId, '--allocation-id', allocationId, '--tag-specifications', tagSpec('natgateway', tags)],
    settle,
  );
  return r.NatGateway?.NatGatewayId;
}

export async function createRouteTable(call: AwsCall, vpcId: string, tags: Tag[]): Promise<string | undefined> {
  const r = await call<{ RouteTable?: RouteTable }>(
    ['ec2', 'create-route-table', '--vpc-id', vpcId, '--tag-specifications', tagSpec('route-table', tags)],
    settle,
  );
  return r.RouteTable?.RouteTableId;
}

export type RouteTarget = { gatewayId: string } | { natGatewayId: string };

/** create-route, or replace-route when the table already has a route for the destination. */
export async function putRoute(call: AwsCall, routeTableId: string, cidr: string, target: RouteTarget, replace: boolean): Promise<void> {
  const t = 'gatewayId' in target ? ['--gateway-id', target.gatewayId] : ['--nat-gateway-id', target.natGatewayId];
  await call(['ec2', replace ? 'replace-route' : 'create-route', '--route-table-id', routeTableId, '--destination-cidr-block', cidr, ...t], settle);
}

export async function associateRouteTable(call: AwsCall, routeTableId: string, subnetId: string): Promise<void> {
  await call(['ec2', 'associate-route-table', '--route-table-id', routeTableId, '--subnet-id', subnetId], settle);
}

export async function createSecurityGroup(call: AwsCall, vpcId: string, name: string, description: string, tags: Tag[]): Promise<string | undefined> {
  const r = await call<{ GroupId?: string }>(
    ['ec2', 'create-security-group', '--vpc-id', vpcId, '--group-name', name, '--description', description, '--tag-specifications', tagSpec('security-group', tags)],
    settle,
  );
  return r.GroupId;
}

/** All of a group's missing rules in one call. */
export async function authorizeIngress(call: AwsCall, groupId: string, perms: IpPermission[]): Promise<void> {
  await call(['ec2', 'authorize-security-group-ingress', '--group-id', groupId, '--ip-permissions', JSON.stringify(perms)], settle);
}

// ---- deletes -----------------------------------------------------------------------
// Callers treat the "not found" answers as done: a re-run after a kill meets them.

export async function revokeIngress(call: AwsCall, groupId: string, perms: IpPermission[], opts: CallOptions = {}): Promise<void> {
  await call(['ec2', 'revoke-security-group-ingress', '--group-id', groupId, '--ip-permissions', JSON.stringify(perms)], { expectFailure: true, ...opts });
}

export function deleteSecurityGroup(call: AwsCall, groupId: string, opts: CallOptions = {}): Promise<unknown> {
  return call(['ec2', 'delete-security-group', '--group-id', groupId], { expectFailure: true, ...opts });
}

export function deleteNatGateway(call: AwsCall, natId: string, opts: CallOptions = {}): Promise<unknown> {
  return call(['ec2', 'delete-nat-gateway', '--nat-gateway-id', natId], { expectFailure: true, ...opts });
}

export function releaseAddress(call: AwsCall, allocationId: string, opts: CallOptions = {}): Promise<unknown> {
  return call(['ec2', 'release-address', '--allocation-id', allocationId], { expectFailure: true, ...opts });
}

export function deleteSubnet(call: AwsCall, subnetId: string, opts: CallOptions = {}): Promise<unknown> {
  return call(['ec2', 'delete-subnet', '--subnet-id', subnetId], { expectFailure: true, ...opts });
}

export function deleteRouteTable(call: AwsCall, routeTableId: string, opts: CallOptions = {}): Promise<unknown> {
  return call(['ec2', 'delete-route-table', '--route-table-id', routeTableId], { expectFailure: true, ...opts });
}

export function detachInternetGateway(call: AwsCall, igwId: string, vpcId: string, opts: CallOptions = {}): Promise<unknown> {
  return call(['ec2', 'detach-internet-gateway', '--internet-gateway-id', igwId, '--vpc-id', vpcId], { expectFailure: true, ...opts });
}

export function deleteInternetGateway(call: AwsCall, igwId: string, opts: CallOptions = {}): Promise<unknown> {
  return call(['ec2', 'delete-internet-gateway', '--internet-gateway-id', igwId], { expectFailure: true, ...opts });
}

export function deleteVpc(call: AwsCall, vpcId: string, opts: CallOptions = {}): Promise<unknown> {
  return call(['ec2', 'delete-vpc', '--vpc-id', vpcId], { expectFailure: true, ...opts });
}

/** By name: moto ignores --key-pair-id (answers true, deletes nothing). Ownership is checked before. */
export function deleteKeyPair(call: AwsCall, keyName: string, opts: CallOptions = {}): Promise<unknown> {
  return call(['ec2', 'delete-key-pair', '--key-name', keyName], { expectFailure: true, ...opts });
}

/** Security groups that carry a tag (EB tags the groups it makes with its environment's name). */
/** Security groups matching these filters (e.g. a phase's tags). */
export async function describeSecurityGroupsWhere(call: AwsCall, filters: string[]): Promise<SecurityGroup[]> {
  const r = await call<{ SecurityGroups?: SecurityGroup[] }>(['ec2', 'describe-security-groups', '--filters', ...filters]);
  return r.SecurityGroups ?? [];
}

/**
 * `run-instances --dry-run` from a launch template: launches nothing; EC2 answers
 * DryRunOperation when the request would be allowed (the instance-profile check).
 */
export function runInstancesDryRun(call: AwsCall, o: { template: string; subnetId: string; profile: string }, opts: CallOptions = {}): Promise<unknown> {
  return call(['ec2', 'run-instances', '--dry-run', '--launch-template', `LaunchTemplateName=${o.template}`, '--subnet-id', o.subnetId, '--iam-instance-profile', `Name=${o.profile}`], opts);
}

/** A launch template, tagged at creation (our ownership tags). */
export function createLaunchTemplate(call: AwsCall, name: string, data: string, tags: Tag[], opts: CallOptions = {}): Promise<unknown> {
  return call(['ec2', 'create-launch-template', '--launch-template-name', name, '--launch-template-data', data, '--tag-specifications', tagSpec('launch-template', tags)], opts);
}

/** By id, as describe-tags names it (teardown). */
export function deleteLaunchTemplate(call: AwsCall, id: string, opts: CallOptions = {}): Promise<unknown> {
  return call(['ec2', 'delete-launch-template', '--launch-template-id', id], opts);
}
