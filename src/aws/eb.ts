// Elastic Beanstalk through the aws CLI: small typed functions that build argv and read
// the JSON. Each takes the call (AwsCall: ctx.call, or a bounded copy of it) and goes
// through src/aws/cli.ts.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { AwsCliError } from '../errors.js';
import type { AwsCall, CallOptions } from './cli.js';
import type { Tag } from './tags.js';

export interface Environment {
  EnvironmentName: string;
  EnvironmentId: string;
  ApplicationName: string;
  VersionLabel?: string;
  SolutionStackName?: string;
  CNAME?: string;
  EndpointURL?: string;
  Status: 'Launching' | 'Updating' | 'Ready' | 'Terminating' | 'Terminated' | 'Aborting' | 'LinkingFrom' | 'LinkingTo';
  Health?: 'Green' | 'Yellow' | 'Red' | 'Grey';
  HealthStatus?: string;
  DateCreated?: string;
  DateUpdated?: string;
  EnvironmentArn?: string;
}

export interface EbEvent {
  EventDate: string;
  Message: string;
  Severity?: string;
  EnvironmentName?: string;
  VersionLabel?: string;
}

export interface OptionSetting {
  Namespace: string;
  OptionName: string;
  Value: string;
}

export async function describeEnvironments(
  call: AwsCall,
  app: string,
  opts: { names?: string[]; includeDeleted?: boolean; purpose?: string } = {},
): Promise<Environment[]> {
  const args = ['elasticbeanstalk', 'describe-environments', '--application-name', app];
  if (opts.names?.length) args.push('--environment-names', ...opts.names);
  if (opts.includeDeleted) args.push('--include-deleted');
  else args.push('--no-include-deleted');
  const r = await call<{ Environments?: Environment[] }>(args, { purpose: opts.purpose });
  return r.Environments ?? [];
}

export async function describeEvents(
  call: AwsCall,
  app: string,
  /**
   * maxRecords: the newest this many events, however many pages they take. It is passed as
   * --max-items, so the CLI follows NextToken; --max-records would turn its paging off and
   * return one page (at most 1000, R19).
   */
  opts: { environmentName?: string; startTime?: Date; maxRecords?: number; purpose?: string } = {},
): Promise<EbEvent[]> {
  const args = ['elasticbeanstalk', 'describe-events', '--application-name', app];
  if (opts.environmentName) args.push('--environment-name', opts.environmentName);
  if (opts.startTime) args.push('--start-time', opts.startTime.toISOString());
  if (opts.maxRecords) args.push('--max-items', String(opts.maxRecords));
  const r = await call<{ Events?: EbEvent[] }>(args, { purpose: opts.purpose });
  return r.Events ?? [];
}

export async function listSolutionStacks(call: AwsCall): Promise<string[]> {
  const r = await call<{ SolutionStacks?: string[] }>(['elasticbeanstalk', 'list-available-solution-stacks']);
  return r.SolutionStacks ?? [];
}

/**
 * The name of the bucket EB keeps an account's application versions in, in a region:
 * "elasticbeanstalk-region-account-id" (aws-rules.md R80). The account id is the fifth
 * field of any EB ARN of the account, e.g. the live environment's EnvironmentArn.
 */
export function storageBucketName(region: string, arnOfTheAccount: string | undefined): string | undefined {
  const account = arnOfTheAccount?.split(':')[4];
  return account && /^\d{12}$/.test(account) ? `elasticbeanstalk-${region}-${account}` : undefined;
}

/** The bucket EB keeps application versions in (created on first use; idempotent). */
export async function storageBucket(call: AwsCall): Promise<string> {
  const r = await call<{ S3Bucket?: string }>(['elasticbeanstalk', 'create-storage-location']);
  return r.S3Bucket ?? '<eb-storage-bucket>';
}

export async function createApplicationVersion(call: AwsCall, app: string, label: string, bucket: string, key: string, description: string): Promise<'created' | 'adopted'> {
  try {
    await call([
      'elasticbeanstalk', 'create-application-version',
      '--application-name', app,
      '--version-label', label,
      '--description', description.slice(0, 200),
      '--source-bundle', `S3Bucket=${bucket},S3Key=${key}`,
      '--no-auto-create-application',
    ]);
    return 'created';
  } catch (err) {
    // A retried request whose first answer was lost finds the version it made (R17): the same
    // label with our bundle is ours; anything else is a real conflict.
    if (!(err instanceof AwsCliError && /Application Version .* already exists/i.test(err.stderr))) throw err;
    const r = await call<{ ApplicationVersions?: { SourceBundle?: { S3Bucket?: string; S3Key?: string } }[] }>([
      'elasticbeanstalk', 'describe-application-versions', '--application-name', app, '--version-labels', label,
    ]);
    const same = r.ApplicationVersions?.[0]?.SourceBundle;
    if (same?.S3Bucket === bucket && same?.S3Key === key) return 'adopted';
    throw err;
  }
}

/** Whether a CNAME prefix is free in the region (prefixes are shared by every account). */
export async function checkDnsAvailability(call: AwsCall, prefix: string): Promise<{ available: boolean; cname?: string }> {
  const r = await call<{ Available?: boolean; FullyQualifiedCNAME?: string }>(['elasticbeanstalk', 'check-dns-availability', '--cname-prefix', prefix]);
  // A dry run answers {} for nothing; only a mutating call is skipped, and this one is not.
  return { available: r.Available !== false, cname: r.FullyQualifiedCNAME };
}

export interface CreateEnvironmentInput {
  app: string;
  name: string;
  cnamePrefix: string;
  versionLabel: string;
  solutionStack: string;
  optionSettings: OptionSetting[];
  tags: Tag[];
}

/**
 * The option settings carry nova.ENVIRONMENT's secrets: on the aws process's command line
 * any user of the machine could read them with `ps` while the call runs (issue 20 item 19).
 * So they go in a file only this user can read (a 0700 folder of its own, the file 0600),
 * passed as file://, and removed when the call returns. A --dry-run runs nothing: it shows
 * the settings inline, the secret ones masked (src/ui/redact.ts).
 */
export async function createEnvironment(call: AwsCall, i: CreateEnvironmentInput, o: { dryRun: boolean }): Promise<Environment> {
  const settings = JSON.stringify(i.optionSettings);
  const dir = o.dryRun ? undefined : mkdtempSync(path.join(os.tmpdir(), 'johanna-settings-'));
  const file = dir && path.join(dir, 'option-settings.json');
  if (file) writeFileSync(file, settings, { mode: 0o600 });
  try {
    return await call<Environment>([
      'elasticbeanstalk', 'create-environment',
      '--application-name', i.app,
      '--environment-name', i.name,
      '--cname-prefix', i.cnamePrefix,
      '--version-label', i.versionLabel,
      '--solution-stack-name', i.solutionStack,
      '--tier', 'Name=WebServer,Type=Standard',
      '--option-settings', file ? `file://${file}` : settings,
      '--tags', JSON.stringify(i.tags),
    ]);
  } finally {
    if (dir) rmSync(dir, { recursive: true, force: true });
  }
}

/** Sent once: a resent swap would swap back (the caller, swapVerified, asks EB what happened). */
export async function swapCnames(call: AwsCall, source: string, destination: string): Promise<void> {
  await call(
    ['elasticbeanstalk', 'swap-environment-cnames', '--source-environment-name', source, '--destination-environment-name', destination],
    { once: true },
  );
}

/**
 * Terminates one environment. One already terminating or gone (a retried request, a second
 * cleanup, EB tearing down a failed launch) is not an error for us: answers 'already' then.
 * EB's answer for it is "invalid state ... Must be Ready" or "No Environment found" (R13),
 * so those are checked against what EB says of the environment before being forgiven.
 */
export async function terminateEnvironment(call: AwsCall, name: string): Promise<'terminating' | 'already'> {
  try {
    await call(['elasticbeanstalk', 'terminate-environment', '--environment-name', name], { expectFailure: true });
    return 'terminating';
  } catch (err) {
    if (!(err instanceof AwsCliError && /invalid state for this operation|No Environment found/i.test(err.stderr))) throw err;
    const r = await call<{ Environments?: Environment[] }>(['elasticbeanstalk', 'describe-environments', '--environment-names', name, '--include-deleted']);
    const env = r.Environments?.find((e) => e.EnvironmentName === name && e.Status !== 'Terminated') ?? r.Environments?.[0];
    if (!env || env.Status === 'Terminating' || env.Status === 'Terminated') return 'already';
    throw err;
  }
}

/**
 * EB refuses to terminate an environment pending creation or deployment (aws-rules.md R40):
 * "Cannot terminate environment named X. It is currently pending creation." (or "pending
 * deployment."). Not an error of ours: wait for the operation to end (src/deploy/remove.ts).
 */
export const PENDING_REFUSAL = /Cannot terminate environment named .*It is currently pending (creation|deployment)/i;

/** Cancels an update in progress (only while Updating, R40); EB puts the previous version and settings back. */
export async function abortEnvironmentUpdate(call: AwsCall, name: string): Promise<void> {
  await call(['elasticbeanstalk', 'abort-environment-update', '--environment-name', name], { expectFailure: true });
}

export async function listTags(call: AwsCall, arn: string): Promise<Tag[]> {
  const r = await call<{ ResourceTags?: Tag[] }>(['elasticbeanstalk', 'list-tags-for-resource', '--resource-arn', arn]);
  return r.ResourceTags ?? [];
}

// Instance logs without the EB CLI (`./run logs`); `./run events` uses describeEvents above.

export type InfoType = 'tail' | 'bundle';

/** One instance's compiled logs: `Message` is a presigned S3 URL, valid 15 minutes (EB API reference, EnvironmentInfoDescription). */
export interface EnvironmentInfo {
  InfoType: InfoType;
  Ec2InstanceId?: string;
  SampleTimestamp?: string;
  Message?: string;
}

/** Ask every instance of the environment to compile its logs (asynchronous: see retrieveEnvironmentInfo). */
export async function requestEnvironmentInfo(call: AwsCall, environmentName: string, infoType: InfoType): Promise<void> {
  await call(['elasticbeanstalk', 'request-environment-info', '--environment-name', environmentName, '--info-type', infoType]);
}

/** The compiled logs of the environment's instances so far, latest last. */
export async function retrieveEnvironmentInfo(call: AwsCall, environmentName: string, infoType: InfoType, purpose?: string): Promise<EnvironmentInfo[]> {
  const r = await call<{ EnvironmentInfo?: EnvironmentInfo[] }>(
    ['elasticbeanstalk', 'retrieve-environment-info', '--environment-name', environmentName, '--info-type', infoType],
    { purpose },
  );
  return r.EnvironmentInfo ?? [];
}

/** The environment's EC2 instances, by id. */
export async function environmentInstances(call: AwsCall, environmentName: string): Promise<string[]> {
  const r = await call<{ EnvironmentResources?: { Instances?: { Id: string }[] } }>([
    'elasticbeanstalk', 'describe-environment-resources', '--environment-name', environmentName,
  ]);
  return (r.EnvironmentResources?.Instances ?? []).map((i) => i.Id);
}

/** Every version of the application (labels only matter here). */
export async function listApplicationVersionsOf(call: AwsCall, app: string): Promise<{ VersionLabel: string; DateCreated?: string }[]> {
  const r = await call<{ ApplicationVersions?: { VersionLabel: string; DateCreated?: string }[] }>(['elasticbeanstalk', 'describe-application-versions', '--application-name', app]);
  return r.ApplicationVersions ?? [];
}

/** One version and its source bundle in EB's S3 bucket (AWS keeps the bundle unless told). */
export function deleteApplicationVersionOf(call: AwsCall, app: string, label: string, opts: CallOptions = {}): Promise<unknown> {
  return call(['elasticbeanstalk', 'delete-application-version', '--application-name', app, '--version-label', label, '--delete-source-bundle'], { expectFailure: true, ...opts });
}

/** The phase's application, created with our tags and deleted only when they say it is ours. */
export interface Application {
  ApplicationName: string;
  ApplicationArn?: string;
}

export async function describeApplication(call: AwsCall, name: string): Promise<Application | undefined> {
  const r = await call<{ Applications?: Application[] }>(['elasticbeanstalk', 'describe-applications', '--application-names', name]);
  // Some stand-ins ignore the name filter; the name decides.
  return r.Applications?.find((a) => a.ApplicationName === name);
}

/** Whether the application exists (status). */
export async function applicationExists(call: AwsCall, app: string): Promise<boolean> {
  return (await describeApplication(call, app)) !== undefined;
}

/** False when it existed already (a killed run created it). */
export async function createApplication(call: AwsCall, name: string, tags: Tag[]): Promise<boolean> {
  try {
    await call(
      [
        'elasticbeanstalk', 'create-application', '--application-name', name,
        '--description', 'Johanna: the Nova application of this phase',
        '--tags', ...tags.map((t) => `Key=${t.Key},Value=${t.Value}`),
      ],
      { expectFailure: true },
    );
    return true;
  } catch (err) {
    // Created by a run that was killed before it could see the answer.
    if (err instanceof AwsCliError && /already exists/i.test(err.stderr)) return false;
    throw err;
  }
}

/** A resource's tags; undefined when EB does not know the resource (listTags throws then). */
export async function tagsIfAny(call: AwsCall, arn: string): Promise<Tag[] | undefined> {
  try {
    const r = await call<{ ResourceTags?: Tag[] }>(['elasticbeanstalk', 'list-tags-for-resource', '--resource-arn', arn], { expectFailure: true });
    return r.ResourceTags ?? [];
  } catch (err) {
    if (err instanceof AwsCliError && err.awsCode === 'ResourceNotFoundException') return undefined;
    throw err;
  }
}

export function deleteApplication(call: AwsCall, name: string, opts: CallOptions = {}): Promise<unknown> {
  return call(['elasticbeanstalk', 'delete-application', '--application-name', name], { expectFailure: true, ...opts });
}

// ---- for the drain-aware cleanup (terminate_eb_old_environment) --------------------------

/** What EB made for an environment; only the parts Johanna reads. */
export interface EnvironmentResources {
  /** For an Application Load Balancer, `Name` is its ARN (EB API reference, LoadBalancer). */
  LoadBalancers?: { Name?: string }[];
  Instances?: { Id: string }[];
}

export async function describeEnvironmentResources(call: AwsCall, environmentName: string, purpose?: string): Promise<EnvironmentResources> {
  const r = await call<{ EnvironmentResources?: EnvironmentResources }>(
    ['elasticbeanstalk', 'describe-environment-resources', '--environment-name', environmentName],
    { purpose },
  );
  return r.EnvironmentResources ?? {};
}

/** EB's request figures for the environment (enhanced health): the last `Duration` seconds, usually 10. */
export interface ApplicationMetrics {
  Duration?: number;
  RequestCount?: number;
  StatusCodes?: { Status2xx?: number; Status3xx?: number; Status4xx?: number; Status5xx?: number };
  Latency?: Record<string, number>;
}

export async function describeApplicationMetrics(call: AwsCall, environmentName: string): Promise<ApplicationMetrics | undefined> {
  const r = await call<{ ApplicationMetrics?: ApplicationMetrics }>([
    'elasticbeanstalk', 'describe-environment-health', '--environment-name', environmentName, '--attribute-names', 'ApplicationMetrics',
  ]);
  return r.ApplicationMetrics;
}
