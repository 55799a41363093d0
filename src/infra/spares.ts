// Duplicates of our resources. CreateVpc, CreateInternetGateway and AllocateAddress take no
// ClientToken, so when an answer is lost (a network fault, a killed run) and the aws CLI
// retries, AWS makes a second one, tagged like the first (aws-rules.md R17). They are found
// by our tags and deleted, so a phase always ends with exactly one of each.
import type { RunLogRecord } from '../aws/cli.js';
import * as ec2 from '../aws/ec2.js';
import { phaseFilters } from '../aws/tags.js';
import type { Ctx } from '../context.js';
import { AwsCliError } from '../errors.js';
import type { DesiredPhase } from './desired.js';
import { isOurs, type Spare } from './discover.js';
import { ROLE } from './names.js';

/** The sweep's describes are marked in the run log, so a clean run can be seen to have made none. */
const SWEEP = { purpose: 'sweep' };

/** The create of each kind that takes no ClientToken, as the run log names it. */
const CREATE_OF: Record<'vpc' | 'internet-gateway' | 'elastic-ip', string> = {
  vpc: 'create-vpc',
  'internet-gateway': 'create-internet-gateway',
  'elastic-ip': 'allocate-address',
};

/**
 * The kinds a sweep must look at, from this run's calls (the run log's records): those
 * whose create was sent more than once, by the aws CLI inside its process after a lost
 * answer, a 5xx or throttling (cliRetries), or by our runner (attempt > 1), or that failed
 * once. A create sent once and answered made one resource and no duplicate, so a clean run
 * reads nothing more (aws-rules.md R81).
 */
export function kindsToSweep(records: readonly RunLogRecord[], created: ReadonlySet<Spare['kind']>): Set<Spare['kind']> {
  const out = new Set<Spare['kind']>();
  for (const kind of created) {
    if (kind === 'route-table') continue;
    const op = CREATE_OF[kind];
    const sent = records.filter((r) => r.tool === 'aws' && r.args[0] === 'ec2' && r.args[1] === op && !r.dryRun);
    const resent = sent.length > 1 || sent.some((r) => (r.cliRetries ?? 0) > 0 || (r.attempt ?? 1) > 1 || r.exitCode !== 0);
    if (resent) out.add(kind);
  }
  return out;
}

const GONE = ['InvalidVpcID.NotFound', 'InvalidInternetGatewayID.NotFound', 'InvalidAllocationID.NotFound', 'InvalidRouteTableID.NotFound'];

/** Delete one spare; already gone counts as done. */
export async function deleteSpare(call: ec2.AwsCall, s: Spare): Promise<void> {
  try {
    if (s.kind === 'vpc') await ec2.deleteVpc(call, s.id);
    if (s.kind === 'internet-gateway') await ec2.deleteInternetGateway(call, s.id);
    if (s.kind === 'elastic-ip') await ec2.releaseAddress(call, s.id);
    if (s.kind === 'route-table') await ec2.deleteRouteTable(call, s.id);
  } catch (err) {
    if (err instanceof AwsCliError && GONE.includes(err.awsCode ?? '')) return;
    throw err;
  }
}

/**
 * After this run created a VPC, internet gateway or Elastic IP: the ones of ours that are
 * not the one it kept (a retry's first, lost, answer) and hold nothing.
 */
export async function findSpares(call: ec2.AwsCall, d: DesiredPhase, kept: { vpc?: string; igw?: string; eip?: string }, kinds: Set<Spare['kind']>): Promise<Spare[]> {
  const [vpcs, igws, eips] = await Promise.all([
    kinds.has('vpc') ? ec2.describeVpcs(call, phaseFilters(d.phase, ROLE.vpc), SWEEP) : [],
    kinds.has('internet-gateway') ? ec2.describeInternetGateways(call, phaseFilters(d.phase, ROLE.internetGateway), SWEEP) : [],
    kinds.has('elastic-ip') ? ec2.describeAddresses(call, phaseFilters(d.phase, ROLE.natEip), SWEEP) : [],
  ]);
  return [
    ...vpcs.filter((v) => isOurs(v.Tags, d.phase, ROLE.vpc) && v.VpcId !== kept.vpc && v.CidrBlock === d.vpcCidr).map((v) => ({ kind: 'vpc' as const, id: v.VpcId })),
    ...igws.filter((g) => g.InternetGatewayId !== kept.igw && !g.Attachments?.length).map((g) => ({ kind: 'internet-gateway' as const, id: g.InternetGatewayId })),
    ...eips.filter((a) => a.AllocationId !== kept.eip && !a.AssociationId).map((a) => ({ kind: 'elastic-ip' as const, id: a.AllocationId })),
  ];
}

/** Find and delete this run's spares; says what it removed. */
export async function sweepSpares(ctx: Ctx, call: ec2.AwsCall, d: DesiredPhase, kept: { vpc?: string; igw?: string; eip?: string }, kinds: Set<Spare['kind']>): Promise<string[]> {
  if (kinds.size === 0 || ctx.dryRun) return [];
  const spares = await findSpares(call, d, kept, kinds);
  await Promise.all(spares.map((s) => deleteSpare(call, s)));
  const labels = spares.map((s) => `deleted spare ${s.kind} ${s.id} (a duplicate from a retried create)`);
  for (const l of labels) ctx.log.ok(l);
  return labels;
}
