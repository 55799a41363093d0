// A request as IAM authorises it: the actions, resource ARNs and condition keys one API call
// is checked for (Service Authorization Reference, "Actions, resources, and condition keys"
// of each service; aws-rules.md R30–R32). Only what the sandbox's services serve is mapped;
// where the tool's policies grant a service's actions on "*", the resource is "*".
import type { IncomingHttpHeaders } from 'node:http';
import { MotoError, type MotoClient } from '../moto-client.js';
import { dynamoRequest } from '../dynamodb-tables.js';


export interface Check {
  /** `service:Action`, as a policy names it. */
  action: string;
  /** The resource ARN, or "*" for an action with no resource type (or one we do not scope). */
  resource: string;
  context?: Record<string, string | string[]>;
}

export interface RequestInfo {
  /** The SigV4 scope's service (ec2, iam, sts, s3, dynamodb, monitoring, elasticbeanstalk). */
  service: string;
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/** The account and region ARNs name (moto's default account). */
export interface Where {
  account: string;
  region: string;
}

/** Looks up what a request names only by name: an IAM role's or profile's path, a profile's role. */
export class IamLookups {
  constructor(private readonly moto: MotoClient) {}

  /** The role's path; undefined when it does not exist (a retried delete whose first answer was lost). */
  async rolePath(name: string): Promise<string | undefined> {
    try {
      const r = await this.moto.query('iam', 'GetRole', { RoleName: name });
      return String(r?.GetRoleResult?.Role?.Path ?? '/');
    } catch (error) {
      if (error instanceof MotoError) return undefined;
      throw error;
    }
  }

  async profile(name: string): Promise<{ path: string | undefined; roleArns: string[] }> {
    try {
      const r = await this.moto.query('iam', 'GetInstanceProfile', { InstanceProfileName: name });
      const p = r?.GetInstanceProfileResult?.InstanceProfile ?? {};
      const members = p.Roles?.member ?? [];
      return { path: String(p.Path ?? '/'), roleArns: (Array.isArray(members) ? members : [members]).map((m: any) => String(m.Arn)) };
    } catch (error) {
      if (error instanceof MotoError) return { path: undefined, roleArns: [] };
      throw error;
    }
  }
}

const IAM_ROLE_ACTIONS = /^(DeleteRole|GetRole|TagRole|UntagRole|ListRoleTags|PutRolePolicy|GetRolePolicy|DeleteRolePolicy|ListRolePolicies|AttachRolePolicy|DetachRolePolicy|ListAttachedRolePolicies|UpdateRole|UpdateRoleDescription|UpdateAssumeRolePolicy|ListInstanceProfilesForRole|PutRolePermissionsBoundary|DeleteRolePermissionsBoundary)$/;
const IAM_PROFILE_ACTIONS = /^(DeleteInstanceProfile|GetInstanceProfile|TagInstanceProfile|UntagInstanceProfile|ListInstanceProfileTags|AddRoleToInstanceProfile|RemoveRoleFromInstanceProfile)$/;

/** The operation a JSON or CBOR request names: `X-Amz-Target: Prefix.Operation`, or smithy-rpc-v2's `/service/S/operation/Op`. */
function targetOperation(info: RequestInfo): string {
  const target = String(info.headers['x-amz-target'] ?? '');
  if (target) return target.split('.').pop() ?? '';
  return /\/operation\/([A-Za-z]+)/.exec(info.url)?.[1] ?? '';
}

/** Every check one request needs; an empty list is a request that needs no permission. */
export async function checksOf(info: RequestInfo, where: Where, iam: IamLookups): Promise<Check[]> {
  const { account, region } = where;
  const form = () => new URLSearchParams(info.body.toString('utf8'));
  switch (info.service) {
    case 'sts': {
      const action = form().get('Action') ?? '';
      // GetCallerIdentity needs no permission: "No permissions are required to perform this
      // operation" (STS API reference, GetCallerIdentity). R30.
      if (action === 'GetCallerIdentity') return [];
      return [{ action: `sts:${action}`, resource: '*' }];
    }
    case 'iam':
      return iamChecks(form(), account, iam);
    case 'ec2':
      return ec2Checks(form(), where, iam);
    case 'elasticbeanstalk':
      return [{ action: `elasticbeanstalk:${form().get('Action') ?? ''}`, resource: '*' }];
    case 'monitoring': {
      const action = form().get('Action') ?? targetOperation(info);
      return [{ action: `cloudwatch:${action}`, resource: '*' }];
    }
    case 'dynamodb':
      return dynamodbChecks(targetOperation(info), info.body, where);
    case 's3':
      return s3Checks(info);
    default:
      return [{ action: `${info.service}:${form().get('Action') ?? targetOperation(info)}`, resource: '*' }];
  }
}

async function iamChecks(form: URLSearchParams, account: string, iam: IamLookups): Promise<Check[]> {
  const action = form.get('Action') ?? '';
  const role = (path: string, name: string) => `arn:aws:iam::${account}:role${path}${name}`;
  const profile = (path: string, name: string) => `arn:aws:iam::${account}:instance-profile${path}${name}`;
  // A create that tags needs the tagging action too: "If you specify tags, you must also have
  // iam:TagRole" (IAM User Guide, "Permissions required to tag IAM entities"). R31.
  const tagged = form.has('Tags.member.1.Key');
  if (action === 'CreateRole') {
    const arn = role(form.get('Path') ?? '/', form.get('RoleName') ?? '');
    return [{ action: 'iam:CreateRole', resource: arn }, ...(tagged ? [{ action: 'iam:TagRole', resource: arn }] : [])];
  }
  if (action === 'CreateInstanceProfile') {
    const arn = profile(form.get('Path') ?? '/', form.get('InstanceProfileName') ?? '');
    return [{ action: 'iam:CreateInstanceProfile', resource: arn }, ...(tagged ? [{ action: 'iam:TagInstanceProfile', resource: arn }] : [])];
  }
  if (IAM_ROLE_ACTIONS.test(action)) {
    const name = form.get('RoleName') ?? '';
    const context: Record<string, string> = {};
    if (form.get('PolicyArn')) context['iam:PolicyArn'] = form.get('PolicyArn')!;
    const path = await iam.rolePath(name);
    // A role that does not exist has no path to authorise against: IAM answers NoSuchEntity
    // (what a delete retried after a lost answer meets). Unconfirmed whether AWS authorises
    // first against the path-less ARN; the tool takes either answer for "gone" only if it is
    // NoSuchEntity, so the sandbox lets the service answer.
    if (path === undefined) return [];
    return [{ action: `iam:${action}`, resource: role(path, name), context }];
  }
  if (IAM_PROFILE_ACTIONS.test(action)) {
    const name = form.get('InstanceProfileName') ?? '';
    const found = (await iam.profile(name)).path;
    if (found === undefined) return []; // no such profile: IAM answers NoSuchEntity (as for roles above)
    const checks: Check[] = [{ action: `iam:${action}`, resource: profile(found, name) }];
    // "The caller of this operation must be granted the PassRole permission on the IAM role
    // by a permissions policy." (IAM API reference, AddRoleToInstanceProfile). R31.
    if (action === 'AddRoleToInstanceProfile') {
      const roleName = form.get('RoleName') ?? '';
      checks.push({ action: 'iam:PassRole', resource: role((await iam.rolePath(roleName)) ?? '/', roleName) });
    }
    return checks;
  }
  return [{ action: `iam:${action}`, resource: '*' }];
}

async function ec2Checks(form: URLSearchParams, where: Where, iam: IamLookups): Promise<Check[]> {
  const action = form.get('Action') ?? '';
  // Tags given at creation need ec2:CreateTags, with ec2:CreateAction naming the create
  // (EC2 User Guide, "Grant permission to tag Amazon EC2 resources during creation"). R31.
  const tagging: Check[] = form.has('TagSpecification.1.ResourceType') ? [{ action: 'ec2:CreateTags', resource: '*', context: { 'ec2:CreateAction': action } }] : [];
  if (action !== 'RunInstances') return [{ action: `ec2:${action}`, resource: '*' }, ...tagging];
  // RunInstances is authorised on the instance it makes, with ec2:LaunchTemplate set when the
  // request launches from a template (Service Authorization Reference, Amazon EC2,
  // RunInstances; the managed policy allows it only with that key, R18), and on the role its
  // instance profile passes, for ec2.amazonaws.com (IAM User Guide, "Using an IAM role to
  // grant permissions to applications running on Amazon EC2 instances": iam:PassRole).
  const context: Record<string, string> = {};
  const template = form.get('LaunchTemplate.LaunchTemplateId') ?? form.get('LaunchTemplate.LaunchTemplateName');
  if (template) context['ec2:LaunchTemplate'] = `arn:aws:ec2:${where.region}:${where.account}:launch-template/${template}`;
  const checks: Check[] = [{ action: 'ec2:RunInstances', resource: `arn:aws:ec2:${where.region}:${where.account}:instance/*`, context }, ...tagging];
  const profileName = form.get('IamInstanceProfile.Name') ?? form.get('IamInstanceProfile.Arn')?.split('/').pop();
  if (profileName) {
    for (const roleArn of (await iam.profile(profileName)).roleArns) {
      checks.push({ action: 'iam:PassRole', resource: roleArn, context: { 'iam:PassedToService': 'ec2.amazonaws.com' } });
    }
  }
  return checks;
}

/**
 * DynamoDB authorises each table a request touches. A transaction is authorised per item, on
 * the item's own action: "Permissions for Put, Update, Delete, and Get actions are governed
 * by the permissions used for the underlying PutItem, UpdateItem, DeleteItem, and GetItem
 * operations. For the ConditionCheck action, you can use the dynamodb:ConditionCheckItem
 * permission" (DynamoDB Developer Guide, "Using IAM with DynamoDB transactions",
 * transaction-apis-iam.html), with dynamodb:EnclosingOperation set. R32.
 */
function dynamodbChecks(op: string, body: Buffer, where: Where): Check[] {
  // A CBOR or malformed body names no table, so the check is on "*".
  const request = dynamoRequest(body);
  const table = (name: string | undefined) => (name ? `arn:aws:dynamodb:${where.region}:${where.account}:table/${name}` : '*');
  if (op === 'TransactWriteItems' || op === 'TransactGetItems') {
    const kinds: Record<string, string> = { Put: 'PutItem', Update: 'UpdateItem', Delete: 'DeleteItem', ConditionCheck: 'ConditionCheckItem', Get: 'GetItem' };
    return (request.TransactItems ?? []).flatMap((item: Record<string, { TableName?: string }>) =>
      Object.entries(item).map(([kind, part]) => ({ action: `dynamodb:${kinds[kind] ?? kind}`, resource: table(part?.TableName), context: { 'dynamodb:EnclosingOperation': op } })),
    );
  }
  if (op === 'BatchWriteItem' || op === 'BatchGetItem') {
    return Object.keys(request.RequestItems ?? {}).map((name) => ({ action: `dynamodb:${op}`, resource: table(name) }));
  }
  if (op === 'ListTables' || op === 'DescribeLimits' || op === 'DescribeEndpoints') return [{ action: `dynamodb:${op}`, resource: '*' }];
  const arn = request.TableName ? table(request.TableName) : request.ResourceArn ? String(request.ResourceArn) : '*';
  return [{ action: `dynamodb:${op}`, resource: arn }];
}

/**
 * S3 REST requests as their IAM actions (Amazon S3 User Guide, "Required permissions for
 * Amazon S3 API operations"); the sandbox is addressed path-style (/bucket/key).
 */
function s3Checks(info: RequestInfo): Check[] {
  const url = new URL(info.url, 'http://sandbox');
  const [bucket, ...rest] = url.pathname.replace(/^\//, '').split('/');
  const key = decodeURIComponent(rest.join('/'));
  const sub = [...url.searchParams.keys()][0] ?? '';
  const method = info.method.toUpperCase();
  if (!bucket) return [{ action: 's3:ListAllMyBuckets', resource: '*' }];
  const bucketArn = `arn:aws:s3:::${bucket}`;
  if (!key) {
    const bucketActions: Record<string, string> = {
      'PUT:': 's3:CreateBucket', 'DELETE:': 's3:DeleteBucket', 'GET:': 's3:ListBucket', 'HEAD:': 's3:ListBucket',
      'GET:location': 's3:GetBucketLocation', 'GET:versions': 's3:ListBucketVersions', 'GET:uploads': 's3:ListBucketMultipartUploads',
      'PUT:policy': 's3:PutBucketPolicy', 'GET:policy': 's3:GetBucketPolicy', 'DELETE:policy': 's3:DeleteBucketPolicy',
      'PUT:tagging': 's3:PutBucketTagging', 'GET:tagging': 's3:GetBucketTagging', 'PUT:versioning': 's3:PutBucketVersioning', 'GET:versioning': 's3:GetBucketVersioning',
      'PUT:publicAccessBlock': 's3:PutBucketPublicAccessBlock', 'PUT:ownershipControls': 's3:PutBucketOwnershipControls', 'GET:acl': 's3:GetBucketAcl', 'PUT:acl': 's3:PutBucketAcl',
    };
    if (method === 'POST' && sub === 'delete') return [{ action: 's3:DeleteObject', resource: `${bucketArn}/*` }];
    const action = bucketActions[`${method}:${sub}`] ?? bucketActions[`${method}:`] ?? 's3:ListBucket';
    return [{ action, resource: bucketArn }];
  }
  const objectArn = `${bucketArn}/${key}`;
  if (sub === 'tagging') return [{ action: method === 'GET' ? 's3:GetObjectTagging' : method === 'DELETE' ? 's3:DeleteObjectTagging' : 's3:PutObjectTagging', resource: objectArn }];
  if (sub === 'acl') return [{ action: method === 'GET' ? 's3:GetObjectAcl' : 's3:PutObjectAcl', resource: objectArn }];
  if (method === 'GET' || method === 'HEAD') return [{ action: 's3:GetObject', resource: objectArn }];
  if (method === 'DELETE') return [{ action: sub === 'uploadId' ? 's3:AbortMultipartUpload' : 's3:DeleteObject', resource: objectArn }];
  return [{ action: 's3:PutObject', resource: objectArn }];
}
