// A new instance profile is not usable at once: IAM is eventually consistent, and EC2 and
// Elastic Beanstalk may refuse a profile that IAM itself already answers for (IAM User
// Guide, "Changes that I make are not always immediately visible"; aws-rules.md R8). An
// environment launched in that window fails ("Invalid IAM Instance Profile name").
import type { AwsCall } from '../aws/ec2.js';
import type { Ctx } from '../context.js';
import { AwsCliError } from '../errors.js';
import { pollMs, waitFor, type Deadline } from '../time.js';

// Resolved by EC2 itself from AWS's public SSM parameter, so it names a current Amazon
// Linux image in every region with no lookup of ours; moto resolves it too.
const IMAGE = 'resolve:ssm:/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64';

/**
 * Wait until EC2 accepts the profile: `run-instances --dry-run` with the profile answers
 * DryRunOperation once EC2 sees it and InvalidParameterValue before. A dry run launches
 * nothing and costs nothing; it needs ec2:RunInstances and iam:PassRole on the role, which
 * the EB managed policy grants. The subnet is ours, so no default VPC is needed.
 * An unknown profile answers InvalidParameterValue like a not-yet-visible one, so it is
 * polled until the deadline rather than refused at once: the caller runs this only after
 * its own create of the profile succeeded.
 */
export async function waitInstanceProfileUsable(ctx: Ctx, call: AwsCall, profile: string, subnetId: string, deadline: Deadline): Promise<void> {
  if (ctx.dryRun) return;
  // No `iam wait instance-profile-exists` first: this run's own add-role-to-instance-profile
  // succeeded, so IAM has the profile; what may lag is EC2's view of it, which the dry run
  // below asks about (a call saved, issue 27).
  await waitFor(ctx, {
    what: `EC2 to see instance profile ${profile}`,
    deadline,
    intervalMs: pollMs(ctx),
    backoff: 1.5,
    maxIntervalMs: 10_000,
    hint: 'IAM changes usually reach EC2 within seconds; run the command again',
    check: async () => {
      try {
        await call(
          ['ec2', 'run-instances', '--dry-run', '--image-id', IMAGE, '--instance-type', 't3.micro', '--subnet-id', subnetId, '--iam-instance-profile', `Name=${profile}`],
          { expectFailure: true, purpose: 'poll' },
        );
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
