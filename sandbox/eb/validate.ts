// What CreateEnvironment refuses at once, with EB's codes and messages (aws-rules.md R9).
// IAM and the load balancer's zones are not checked here: EB accepts the request and fails
// the launch later with events (R8, R9), which environments.ts does.
import { EbApiError, invalidParameter } from './errors.js';
import type { MotoLookups } from './moto-iam.js';
import { optionType, valueProblem } from './options-catalog.js';
import type { OptionSetting } from './store.js';

export const configurationError = (message: string) => new EbApiError('ConfigurationValidationException', `Configuration validation exception: ${message}`);

/**
 * Length limits are the model's (EnvironmentName 4-40, DNSCnamePrefix 4-63): botocore refuses
 * too-short values client-side; a longer one reaches EB, which answers ValidationError
 * "1 validation error detected: ... Member must have length less than or equal to 40" (R9 [37]).
 */
function lengthError(value: string, field: string, min: number, max: number): EbApiError | undefined {
  if (value.length > max) {
    return new EbApiError('ValidationError', `1 validation error detected: Value '${value}' at '${field}' failed to satisfy constraint: Member must have length less than or equal to ${max}`);
  }
  if (value.length < min) {
    return new EbApiError('ValidationError', `1 validation error detected: Value '${value}' at '${field}' failed to satisfy constraint: Member must have length greater than or equal to ${min}`);
  }
  return undefined;
}

/** 4-40 letters, digits and hyphens, not starting or ending with a hyphen (CreateEnvironment API reference). */
export function checkEnvironmentName(name: string): void {
  const tooLong = lengthError(name, 'environmentName', 4, 40);
  if (tooLong) throw tooLong;
  // The text for bad characters is unconfirmed (R9); the code is EB's generic one.
  if (!/^[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?$/.test(name)) {
    throw invalidParameter(`Environment name ${name} is invalid: it can contain only letters, numbers and hyphens, and cannot start or end with a hyphen.`);
  }
}

/** 4-63 characters (DNSCnamePrefix in the EB model), a DNS label. */
export function checkCnamePrefix(prefix: string): void {
  const bad = lengthError(prefix, 'cNAMEPrefix', 4, 63);
  if (bad) throw bad;
}

/** Namespaces, option names and value types from the one catalogue (R10). */
export function checkOptionSettings(settings: OptionSetting[]): void {
  for (const s of settings) {
    const type = optionType(s.Namespace, s.OptionName);
    if (!type) {
      throw configurationError(`Invalid option specification (Namespace: '${s.Namespace}', OptionName: '${s.OptionName}'): Unknown configuration setting.`);
    }
    const problem = valueProblem(type, s.Value);
    if (problem) throw invalidOptionValue(s, problem);
  }
  const min = Number(option(settings, 'aws:autoscaling:asg', 'MinSize') ?? 1);
  const max = Number(option(settings, 'aws:autoscaling:asg', 'MaxSize') ?? 4);
  if (min > max) throw invalidOptionValue(settingOf(settings, 'aws:autoscaling:asg', 'MinSize')!, 'MinSize must be less than or equal to MaxSize.');
}

export function invalidOptionValue(s: Pick<OptionSetting, 'Namespace' | 'OptionName' | 'Value'>, reason: string): EbApiError {
  return configurationError(`Invalid option value: '${s.Value}' (Namespace: '${s.Namespace}', OptionName: '${s.OptionName}'): ${reason}`);
}

export function settingOf(settings: OptionSetting[], namespace: string, name: string): OptionSetting | undefined {
  return settings.find((s) => s.Namespace === namespace && s.OptionName === name);
}

export function option(settings: OptionSetting[], namespace: string, name: string): string | undefined {
  return settingOf(settings, namespace, name)?.Value;
}

export const listOf = (value: string | undefined): string[] => (value ?? '').split(',').map((v) => v.trim()).filter(Boolean);

/**
 * The EC2 resources the settings name must exist, and the subnets must be in VPCId. EB's
 * exact texts for these are unconfirmed (R9); they take the documented "Invalid option
 * value" shape with a reason naming the resource.
 */
export async function checkEc2References(lookups: MotoLookups, settings: OptionSetting[]): Promise<void> {
  const vpc = settingOf(settings, 'aws:ec2:vpc', 'VPCId');
  if (vpc && !(await lookups.vpcExists(vpc.Value))) throw invalidOptionValue(vpc, `The VPC '${vpc.Value}' does not exist.`);
  for (const name of ['Subnets', 'ELBSubnets'] as const) {
    const s = settingOf(settings, 'aws:ec2:vpc', name);
    if (!s) continue;
    const ids = listOf(s.Value);
    const found = await lookups.subnets(ids);
    for (const id of ids) {
      const subnet = found.get(id);
      if (!subnet) throw invalidOptionValue(s, `The subnet '${id}' does not exist.`);
      if (vpc && subnet.vpcId !== vpc.Value) throw invalidOptionValue(s, `The subnet '${id}' is not in VPC '${vpc.Value}'. Specify the subnets for the VPC.`);
    }
  }
  const groups = [
    settingOf(settings, 'aws:autoscaling:launchconfiguration', 'SecurityGroups'),
    settingOf(settings, 'aws:elbv2:loadbalancer', 'SecurityGroups'),
    settingOf(settings, 'aws:elbv2:loadbalancer', 'ManagedSecurityGroup'),
  ].filter((s): s is OptionSetting => Boolean(s));
  if (groups.length) {
    const found = await lookups.securityGroups(groups.flatMap((s) => listOf(s.Value)));
    for (const s of groups) {
      for (const id of listOf(s.Value)) {
        const groupVpc = found.get(id);
        if (groupVpc === undefined) throw invalidOptionValue(s, `The security group '${id}' does not exist.`);
        if (vpc && groupVpc !== vpc.Value) throw invalidOptionValue(s, `The security group '${id}' is not in VPC '${vpc.Value}'.`);
      }
    }
  }
  const key = settingOf(settings, 'aws:autoscaling:launchconfiguration', 'EC2KeyName');
  if (key && !(await lookups.keyPairExists(key.Value))) throw invalidOptionValue(key, `The key pair '${key.Value}' does not exist.`);
}
