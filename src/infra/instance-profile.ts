// A new instance profile is not usable at once: IAM is eventually consistent, and EC2 and
// Elastic Beanstalk may refuse a profile that IAM itself already answers for (IAM User
// Guide, "Changes that I make are not always immediately visible"; aws-rules.md R8). An
// environment launched in that window fails ("Invalid IAM Instance Profile name").
import type { AwsCall } from '../aws/ec2.js';
import type { Ctx } from '../context.js';
import * as ec2 from '../aws/ec2.js';
import { ownerTags } from '../aws/tags.js';
import { AwsCliError } from '../errors.js';
import { pollMs, waitFor, type Deadline } from '../time.js';
import { ROLE } from './names.js';

// Resolved by EC2 itself from AWS's public SSM parameter, so it names a current Amazon
// Linux image in every region with no lookup of ours; moto resolves it too.
const IMAGE = 'resolve:ssm:/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64';

/**
 * Wait until EC2 accepts the profile: `run-instances --dry-run` with the profile answers
 * DryRunOperation once EC2 sees it and InvalidParameterValue before. A dry run launches
 * nothing and costs nothing. The subnet is ours, so no default VPC is needed.
 *
 * The dry run launches from a launch template made for the check: the managed policy
 * AdministratorAccess-AWSElasticBeanstalk (v10) allows ec2:RunInstances only with an
 * `ec2:LaunchTemplate` condition, and allows ec2:CreateLaunchTemplate*,
 * ec2:DeleteLaunchTemplate* and the iam:PassRole to ec2.amazonaws.com the profile needs
 * (aws-rules.md R18, R35). So the check needs no permission beyond the documented set,
 * rather than a broad ec2:RunInstances that could launch anything.
 *
 * The template stays with the phase, tagged as ours, and terminate_vpc deletes it with the
 * rest (resources.ts, profileCheck): a launch template costs nothing, and deleting it here
 * would be one more call at the end of create_vpc (issue 27). A later check uses it as it is.
 */
export async function waitInstanceProfileUsable(ctx: Ctx, call: AwsCall, profile: string, subnetId: string, deadline: Deadline): Promise<void> {
  if (ctx.dryRun) return;
  // No `iam wait instance-profile-exists` first: this run's own add-role-to-instance-profile
  // succeeded, so IAM has the profile; what may lag is EC2's view of it, which the dry run
  // below asks about (a call saved, issue 27).
  const template = `${profile}-check`;
  await createCheckTemplate(ctx, call, template);
  await waitFor(ctx, {
    what: `EC2 to see instance profile ${profile}`,
    deadline,
    intervalMs: pollMs(ctx),
    backoff: 1.5,
    maxIntervalMs: 10_000,
    hint: 'IAM changes usually reach EC2 within seconds; run the command again',
    check: async () => {
      try {
        await ec2.runInstancesDryRun(call, { template, subnetId, profile }, { expectFailure: true, purpose: 'poll' });
        return { done: undefined };
      } catch (err) {
        if (!(err instanceof AwsCliError)) throw err;
        if (err.awsCode === 'DryRunOperation') return { done: undefined };
        if (err.awsCode === 'InvalidParameterValue' && /iamInstanceProfile|IAM Instance Profile/i.test(err.stderr)) return { state: 'not visible to EC2 yet' };
        throw err;
      }
    },
  });
  ctx.log.ok(`instance profile ${profile} is usable by EC2`);
}

/** The check's launch template, tagged as ours at creation; one an earlier run made is used as it is. */
async function createCheckTemplate(ctx: Ctx, call: AwsCall, template: string): Promise<void> {
  const data = JSON.stringify({ ImageId: IMAGE, InstanceType: 't3.micro' });
  try {
    await ec2.createLaunchTemplate(call, template, data, ownerTags(ctx.phase, ROLE.profileCheck), { expectFailure: true });
  } catch (err) {
    if (!(err instanceof AwsCliError) || !/AlreadyExists/.test(err.awsCode ?? '')) throw err;
  }
}
