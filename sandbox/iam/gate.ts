// The sandbox's IAM: every request is evaluated against the caller's identity policies as IAM
// does — an explicit deny wins, otherwise an allow is needed, matched on the action, the
// resource ARN and the condition keys (IAM User Guide, "Policy evaluation logic",
// reference_policies_evaluation-logic.html; aws-rules.md R30). The evaluation itself is
// @cloud-copilot/iam-simulate, which carries AWS's action, resource and condition-key data.
import { statSync } from 'node:fs';
import type { IncomingHttpHeaders } from 'node:http';
import { runSimulation } from '@cloud-copilot/iam-simulate';
import type { MotoClient } from '../moto-client.js';
import type { Environment } from '../eb/store.js';
import { isSingleInstance } from '../eb/ec2-side-effects.js';
import { option } from '../eb/validate.js';
import { denialAnswer, denialMessage, type Denial, type DenialAnswer } from './denials.js';
import { DEFAULT_POLICY_FILES, loadPolicies, statementsOf, type IdentityPolicy } from './policies.js';
import { checksOf, IamLookups, type Check, type Where } from './requests.js';

/** moto's account, and the caller the sandbox's credentials stand for. */
export const ACCOUNT = '123456789012';
export const PRINCIPAL = `arn:aws:iam::${ACCOUNT}:user/moto`;
/**
 * The access key of another principal, the account's administrator: what a test does with
 * its own hands (planting a foreign resource, breaking a route, inspecting) is signed with it
 * and allowed, as an administrator's requests are on AWS. The tool signs with 'sandbox'.
 */
export const ADMIN_ACCESS_KEY = 'sandbox-admin';

/** The access key a SigV4 request is signed with (header or presigned URL). */
function accessKeyOf(req: { url?: string; headers: IncomingHttpHeaders }): string | undefined {
  const scope = /Credential=([^/,\s]+)\//.exec(String(req.headers.authorization ?? ''));
  if (scope) return scope[1];
  return new URL(req.url ?? '/', 'http://sandbox').searchParams.get('X-Amz-Credential')?.split('/')[0];
}

function stampOf(files: string[]): string {
  const stamp = (file: string) => {
    try {
      return String(statSync(file).mtimeMs);
    } catch {
      return 'missing';
    }
  };
  return files.map(stamp).join(',');
}

export class IamGate {
  private readonly lookups: IamLookups;
  private readonly where: Where;

  /** The files the policies came from and their modification times, to notice an edit. */
  private source?: { files: string[]; stamp: string };

  /** `policies` undefined: `admin`, every request allowed. */
  constructor(private policies: IdentityPolicy[] | undefined, moto: MotoClient, region: string) {
    this.lookups = new IamLookups(moto);
    this.where = { account: ACCOUNT, region };
  }

  /**
   * The gate for the policy files the sandbox was given. An edited file takes effect at the
   * next request, as a changed policy does on AWS once it has propagated (R8): so a user who
   * adds the permission a denial named can run the command again without a restart.
   */
  static fromFiles(files: string[] | undefined, moto: MotoClient, region: string): IamGate {
    const gate = new IamGate(loadPolicies(files), moto, region);
    if (gate.policies) {
      const list = files && files.length ? files : DEFAULT_POLICY_FILES;
      gate.source = { files: list, stamp: stampOf(list) };
    }
    return gate;
  }

  /** Reads the files again if one changed; a file that no longer parses keeps the last good policies. */
  private refresh(): void {
    if (!this.source) return;
    const stamp = stampOf(this.source.files);
    if (stamp === this.source.stamp) return;
    this.source.stamp = stamp;
    try {
      this.policies = loadPolicies(this.source.files);
    } catch (error) {
      console.error(`sandbox iam: kept the previous policies: ${(error as Error).message}`);
    }
  }

  /** What the status endpoint shows: the policies' names, or "admin". */
  describe(): string[] {
    return this.policies ? this.policies.map((p) => p.name) : ['admin'];
  }

  /** The first check of `checks` the policies do not allow, or undefined when all are allowed. */
  async evaluate(checks: Check[]): Promise<Denial | undefined> {
    this.refresh();
    if (!this.policies) return undefined;
    for (const check of checks) {
      const denial = await this.evaluateOne(check);
      if (denial) return denial;
    }
    return undefined;
  }

  private async evaluateOne(check: Check): Promise<Denial | undefined> {
    const run = (resource: string) =>
      runSimulation(
        {
          request: { principal: PRINCIPAL, action: check.action, resource: { resource, accountId: ACCOUNT }, contextVariables: check.context ?? {} },
          identityPolicies: this.policies!.map((p) => ({ name: p.name, policy: p.policy })),
          serviceControlPolicies: [],
          resourceControlPolicies: [],
        },
        {},
      );
    let result = await run(check.resource);
    // An action with no resource type is evaluated on "*" (the simulator insists on it).
    if (result.resultType === 'error' && check.resource !== '*') result = await run('*');
    const denial: Denial = { principal: PRINCIPAL, action: check.action, resource: check.resource, explicit: false };
    if (result.resultType === 'error') {
      // An action the evaluator does not know: IAM allows nothing it cannot match, so deny,
      // and say why on the sandbox's stderr.
      console.error(`sandbox iam: cannot evaluate ${check.action} on ${check.resource}: ${JSON.stringify(result.errors)}`);
      return denial;
    }
    if (result.overallResult === 'Allowed') return undefined;
    if (result.overallResult === 'ExplicitlyDenied') return { ...denial, explicit: true, deniedBy: this.denyingStatement(check.action) };
    return denial;
  }

  /** The first Deny statement naming the action, "policy, Sid" (for the sandbox's log; AWS does not say). */
  private denyingStatement(action: string): string | undefined {
    for (const p of this.policies ?? []) {
      for (const [i, s] of statementsOf(p).entries()) {
        const actions = [s.Action ?? []].flat();
        if (s.Effect === 'Deny' && actions.some((a) => new RegExp(`^${a.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*')}$`, 'i').test(action))) {
          return `${p.name}, ${s.Sid ?? `statement ${i}`}`;
        }
      }
    }
    return undefined;
  }

  /**
   * The request's answer when the caller may not make it, in the service's own form; undefined
   * when it is allowed (then it goes on to moto or the EB emulator as before).
   */
  async authorize(service: string, req: { method?: string; url?: string; headers: IncomingHttpHeaders }, body: Buffer): Promise<DenialAnswer | undefined> {
    this.refresh();
    if (!this.policies || accessKeyOf(req) === ADMIN_ACCESS_KEY) return undefined;
    const checks = await checksOf({ service, method: req.method ?? 'GET', url: req.url ?? '/', headers: req.headers, body }, this.where, this.lookups);
    const denial = await this.evaluate(checks);
    return denial ? denialAnswer(service, req.headers, req.url ?? '/', denial) : undefined;
  }

  /**
   * EB builds an environment's stack with the caller's permissions: "Elastic Beanstalk uses
   * the user permissions to launch the resources in an environment. These resources include
   * EC2 instances, an Elastic Load Balancing load balancer, and an Auto Scaling group" (EB
   * Developer Guide, "Elastic Beanstalk user policies", concepts-roles-user.html; R34). Each
   * resource the stack creates is checked; a missing permission fails that resource, and EB
   * relays CloudFormation's failure as events and fails the launch (as for R9 [40]). The
   * events' wording per resource follows CloudFormation's "API: <action> <message>" status
   * reasons; the exact text is unconfirmed. Undefined when the stack may be built.
   */
  async stackDenials(environment: Environment): Promise<string[] | undefined> {
    this.refresh();
    if (!this.policies) return undefined;
    const { account, region } = this.where;
    const stack = `awseb-${environment.id}-stack`;
    const single = isSingleInstance(environment.optionSettings);
    const lt = `arn:aws:ec2:${region}:${account}:launch-template/lt-${environment.id.slice(2)}`;
    const profile = option(environment.optionSettings, 'aws:autoscaling:launchconfiguration', 'IamInstanceProfile')?.split('/').pop();
    const roles = profile ? (await this.lookups.profile(profile)).roleArns : [];
    const steps: Array<{ logical: string; what: string; checks: Check[] }> = [
      { logical: 'stack', what: `stack ${stack}`, checks: [{ action: 'cloudformation:CreateStack', resource: `arn:aws:cloudformation:${region}:${account}:stack/${stack}/*` }] },
      {
        logical: 'AWSEBSecurityGroup',
        what: 'security group',
        checks: [
          { action: 'ec2:CreateSecurityGroup', resource: '*' },
          { action: 'ec2:AuthorizeSecurityGroupIngress', resource: '*' },
        ],
      },
      {
        logical: 'AWSEBEC2LaunchTemplate',
        what: 'launch template',
        checks: [
          { action: 'ec2:CreateLaunchTemplate', resource: '*' },
          ...roles.map((arn) => ({ action: 'iam:PassRole', resource: arn, context: { 'iam:PassedToService': 'ec2.amazonaws.com' } })),
        ],
      },
      {
        logical: 'AWSEBAutoScalingGroup',
        what: 'Auto Scaling group',
        checks: [
          { action: 'autoscaling:CreateAutoScalingGroup', resource: `arn:aws:autoscaling:${region}:${account}:autoScalingGroup:00000000-0000-0000-0000-000000000000:autoScalingGroupName/${stack}-AWSEBAutoScalingGroup` },
          { action: 'ec2:RunInstances', resource: `arn:aws:ec2:${region}:${account}:instance/*`, context: { 'ec2:LaunchTemplate': lt } },
        ],
      },
    ];
    if (!single) {
      const lb = `awseb-AWSEB-${environment.id.slice(2)}`;
      steps.push({
        logical: 'AWSEBV2LoadBalancer',
        what: 'load balancer',
        checks: [
          { action: 'elasticloadbalancing:CreateLoadBalancer', resource: `arn:aws:elasticloadbalancing:${region}:${account}:loadbalancer/app/${lb}/1` },
          { action: 'elasticloadbalancing:CreateTargetGroup', resource: `arn:aws:elasticloadbalancing:${region}:${account}:targetgroup/awseb-AWSEB-tg/1` },
          { action: 'elasticloadbalancing:CreateListener', resource: `arn:aws:elasticloadbalancing:${region}:${account}:listener/app/${lb}/1/1` },
        ],
      });
    }
    for (const step of steps) {
      const denial = await this.evaluate(step.checks);
      if (!denial) continue;
      const reason = `API: ${denial.action} ${denialMessage(denial)}`;
      if (step.logical === 'stack') return [`Stack named '${stack}' could not be created. Reason: ${reason}`];
      return [
        `Creating ${step.what} failed. Reason: ${reason}`,
        `Stack named '${stack}' aborted operation. Current state: 'CREATE_FAILED'  Reason: The following resource(s) failed to create: [${step.logical}].`,
      ];
    }
    return undefined;
  }
}
