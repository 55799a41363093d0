// The phase's Elastic Beanstalk application: created with our tags, and deleted only
// when those tags say it is ours.
import type { CallOptions } from '../aws/cli.js';
import type { AwsCall } from '../aws/ec2.js';
import { AwsCliError } from '../errors.js';
import type { Tag } from '../aws/tags.js';

export interface EbApplication {
  ApplicationName: string;
  ApplicationArn?: string;
}

export async function ebApplication(call: AwsCall, name: string): Promise<EbApplication | undefined> {
  const r = await call<{ Applications?: EbApplication[] }>(['elasticbeanstalk', 'describe-applications', '--application-names', name]);
  // Some stand-ins ignore the name filter; the name decides.
  return r.Applications?.find((a) => a.ApplicationName === name);
}

/** False when it existed already (a killed run created it). */
export async function createEbApplication(call: AwsCall, name: string, tags: Tag[]): Promise<boolean> {
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

export async function ebTags(call: AwsCall, arn: string): Promise<Tag[] | undefined> {
  try {
    const r = await call<{ ResourceTags?: Tag[] }>(['elasticbeanstalk', 'list-tags-for-resource', '--resource-arn', arn], { expectFailure: true });
    return r.ResourceTags ?? [];
  } catch (err) {
    if (err instanceof AwsCliError && err.awsCode === 'ResourceNotFoundException') return undefined;
    throw err;
  }
}

export interface EbEnvironment {
  EnvironmentName: string;
  EnvironmentId?: string;
  Status: string;
  CNAME?: string;
}

export async function ebEnvironments(call: AwsCall, applicationName: string): Promise<EbEnvironment[]> {
  const r = await call<{ Environments?: EbEnvironment[] }>(['elasticbeanstalk', 'describe-environments', '--application-name', applicationName]);
  return r.Environments ?? [];
}

export function deleteEbApplication(call: AwsCall, name: string, opts: CallOptions = {}): Promise<unknown> {
  return call(['elasticbeanstalk', 'delete-application', '--application-name', name], { expectFailure: true, ...opts });
}
