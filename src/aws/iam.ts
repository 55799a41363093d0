// Typed IAM calls. IAM is eventually consistent: a role created a moment ago may still
// answer NoSuchEntity to the next call, so the follow-up calls retry that code.
import type { AwsCall, CallOptions } from './cli.js';
import { AwsCliError } from '../errors.js';
import type { Tag } from './tags.js';

const settle: CallOptions = { retryOn: ['NoSuchEntity'], attempts: 8 };

export interface RoleDetail {
  RoleName: string;
  Path: string;
  Arn: string;
  Tags?: Tag[];
  RolePolicyList?: { PolicyName: string }[];
  AttachedManagedPolicies?: { PolicyName: string; PolicyArn: string }[];
  InstanceProfileList?: { InstanceProfileName: string; Path: string; Roles?: { RoleName: string }[] }[];
}

export interface InstanceProfile {
  InstanceProfileName: string;
  Path: string;
  Roles?: { RoleName: string }[];
  Tags?: Tag[];
}

/**
 * Every role of the account with its inline and attached policies and instance profiles:
 * one call instead of a get-role, list-role-policies and list-instance-profiles per role.
 */
export async function roleDetails(call: AwsCall): Promise<RoleDetail[]> {
  const r = await call<{ RoleDetailList?: RoleDetail[] }>(['iam', 'get-account-authorization-details', '--filter', 'Role']);
  return r.RoleDetailList ?? [];
}

/** The profile, or undefined when IAM says NoSuchEntity; any other error is thrown. */
export async function getInstanceProfileIfAny(call: AwsCall, name: string): Promise<InstanceProfile | undefined> {
  try {
    return await getInstanceProfile(call, name);
  } catch (err) {
    if (err instanceof AwsCliError && err.awsCode === 'NoSuchEntity') return undefined;
    throw err;
  }
}

export async function getInstanceProfile(call: AwsCall, name: string): Promise<InstanceProfile | undefined> {
  const r = await call<{ InstanceProfile?: InstanceProfile }>(['iam', 'get-instance-profile', '--instance-profile-name', name], { expectFailure: true });
  return r.InstanceProfile;
}

function tagArgs(tags: Tag[]): string[] {
  return ['--tags', ...tags.map((t) => `Key=${t.Key},Value=${t.Value}`)];
}

export async function createRole(call: AwsCall, name: string, path: string, trustPolicy: object, tags: Tag[]): Promise<void> {
  await call(
    ['iam', 'create-role', '--role-name', name, '--path', path, '--assume-role-policy-document', JSON.stringify(trustPolicy), ...tagArgs(tags)],
    { expectFailure: true },
  );
}

export async function putRolePolicy(call: AwsCall, role: string, policyName: string, policy: object): Promise<void> {
  await call(['iam', 'put-role-policy', '--role-name', role, '--policy-name', policyName, '--policy-document', JSON.stringify(policy)], settle);
}

export async function createInstanceProfile(call: AwsCall, name: string, path: string, tags: Tag[]): Promise<void> {
  await call(['iam', 'create-instance-profile', '--instance-profile-name', name, '--path', path, ...tagArgs(tags)], { expectFailure: true });
}

export async function addRoleToInstanceProfile(call: AwsCall, profile: string, role: string): Promise<void> {
  await call(['iam', 'add-role-to-instance-profile', '--instance-profile-name', profile, '--role-name', role], { ...settle, expectFailure: true });
}

export function removeRoleFromInstanceProfile(call: AwsCall, profile: string, role: string, opts: CallOptions = {}): Promise<unknown> {
  return call(['iam', 'remove-role-from-instance-profile', '--instance-profile-name', profile, '--role-name', role], { expectFailure: true, ...opts });
}

export function deleteInstanceProfile(call: AwsCall, profile: string, opts: CallOptions = {}): Promise<unknown> {
  return call(['iam', 'delete-instance-profile', '--instance-profile-name', profile], { expectFailure: true, ...opts });
}

export function deleteRolePolicy(call: AwsCall, role: string, policyName: string, opts: CallOptions = {}): Promise<unknown> {
  return call(['iam', 'delete-role-policy', '--role-name', role, '--policy-name', policyName], { expectFailure: true, ...opts });
}

export function detachRolePolicy(call: AwsCall, role: string, policyArn: string, opts: CallOptions = {}): Promise<unknown> {
  return call(['iam', 'detach-role-policy', '--role-name', role, '--policy-arn', policyArn], { expectFailure: true, ...opts });
}

export function deleteRole(call: AwsCall, role: string, opts: CallOptions = {}): Promise<unknown> {
  return call(['iam', 'delete-role', '--role-name', role], { expectFailure: true, retryOn: ['DeleteConflict'], attempts: 4, ...opts });
}

/** The names of the roles under an IAM path (status). */
export async function listRoleNames(call: AwsCall, pathPrefix: string): Promise<string[]> {
  const r = await call<{ Roles?: { RoleName: string }[] }>(['iam', 'list-roles', '--path-prefix', pathPrefix]);
  return (r.Roles ?? []).map((x) => x.RoleName);
}

/** The names of the instance profiles under an IAM path (status). */
export async function listInstanceProfileNames(call: AwsCall, pathPrefix: string): Promise<string[]> {
  const r = await call<{ InstanceProfiles?: { InstanceProfileName: string }[] }>(['iam', 'list-instance-profiles', '--path-prefix', pathPrefix]);
  return (r.InstanceProfiles ?? []).map((x) => x.InstanceProfileName);
}
