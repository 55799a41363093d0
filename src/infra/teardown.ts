// terminate_vpc's work: delete what carries this phase's tags, in dependency order, and
// nothing else. Each kind's delete is its entry's in resources.ts; this file finds what
// there is, runs the deletes as a graph and reports. Each delete treats "already gone" as
// done, so a killed run is finished by the next one; whatever cannot be deleted is
// reported with the reason.
import * as ec2 from '../aws/ec2.js';
import * as iam from '../aws/iam.js';
import type { CallOptions } from '../aws/cli.js';
import { phaseFilters, TAG_PHASE, TAG_ROLE, tagValue } from '../aws/tags.js';
import type { Ctx } from '../context.js';
import { AwsCliError, BlockedError, InterruptedError, RecordedError, StateError } from '../errors.js';
import type { DesiredPhase } from './desired.js';
import { phaseResources } from './discover.js';
import { describeEnvironments } from '../aws/eb.js';
import { IAM_ROLE_KEYS, ROLE, type IamNames, type IamRoleKey } from './names.js';
import { DELETE_ORDER, GONE, type TeardownScope } from './resources.js';
import { runGraph, type Task } from './run.js';
import type { AddTask, Del, TeardownResult } from './types.js';
import { pause, pollMs, throwIfInterrupted, waitUntil, type Deadline } from '../time.js';

/** The live environments that block a teardown. */
export function liveEnvironments(envs: { EnvironmentName: string; Status: string }[]): string[] {
  return envs.filter((e) => e.Status !== 'Terminated').map((e) => `${e.EnvironmentName} (${e.Status})`);
}

export async function teardownPhase(ctx: Ctx, call: ec2.AwsCall, d: DesiredPhase, deadline: Deadline): Promise<TeardownResult> {
  const out: TeardownResult = { deleted: [], notOurs: [], left: [] };
  const phase = d.phase;
  const [envs, roles, tags, keyPairs] = await Promise.all([
    describeEnvironments(call, d.applicationName),
    iam.roleDetails(call),
    ec2.describeTagsByKeys(call, [TAG_PHASE, TAG_ROLE]),
    ec2.describeKeyPairs(call, phaseFilters(phase, ROLE.keyPair)),
  ]);
  const live = liveEnvironments(envs);
  if (live.length > 0) {
    throw new StateError(
      `application ${d.applicationName} still has live environments: ${live.join(', ')}`,
      'terminate them first (./run terminate_nova, or ./run terminate for the whole phase), then run terminate_vpc again',
    );
  }
  // describe-tags names candidates; a VPC is real only if it still has its main route
  // table, and with no real VPC nothing of the network is left (it is deleted last).
  const res = phaseResources(tags, phase);
  const ids = (role: string) => res.get(role) ?? [];
  const vpcCandidates = ids(ROLE.vpc);
  const routeTables = vpcCandidates.length ? await ec2.describeRouteTables(call, vpcCandidates) : [];
  const vpcs = [...new Set(routeTables.map((rt) => rt.VpcId))];

  const every = pollMs(ctx);
  /**
   * One delete: "gone" answers count as done; DependencyViolation (ENIs still draining,
   * another delete not visible yet) is retried until the deadline; anything else is left.
   */
  const del: Del = async (label, fn, retryDependency = true) => {
    const started = Date.now();
    for (let attempt = 1; ; attempt++) {
      // Ctrl-C stops between any two deletions (issue 20 item 8): a deletion already sent
      // finishes, no new one starts, and what is left is listed.
      if (ctx.signal?.aborted) {
        out.left.push({ item: label, reason: 'not deleted: the run was interrupted' });
        throw new RecordedError(label);
      }
      try {
        await fn(attempt > 1 ? { purpose: 'poll' } : {});
        out.deleted.push(label);
        if (!ctx.dryRun) ctx.log.ok(`deleted ${label}`);
        return;
      } catch (err) {
        const code = err instanceof AwsCliError ? err.awsCode ?? '' : '';
        if (GONE.has(code)) return;
        // EB says "gone" in its message only (a retried delete after a lost answer).
        if (err instanceof AwsCliError && /No Application (Version )?named .* found|Application Version .* does not exist/i.test(err.stderr)) return;
        // Interfaces of a terminated environment linger for minutes (R6): wait them out,
        // in a pause that Ctrl-C cuts short.
        if (retryDependency && code === 'DependencyViolation' && deadline.left() > every) {
          ctx.log.live(`${label}: still in use, retrying`, started);
          await pause(every, ctx.signal);
          throwIfInterrupted(ctx.signal, `${label} to be free of dependencies`);
          continue;
        }
        out.left.push({ item: label, reason: (err as Error).message });
        throw new RecordedError(label);
      }
    }
  };
  const tasks: Task[] = [];
  const task: AddTask = (id, deps, run) => tasks.push({ id, deps, run: async () => void (await run()) });
  const t: TeardownScope = {
    ctx, call, d, deadline, out, task, del, ids,
    roleDetails: roles,
    ourRoles: ourRolesForTeardown(d.iam, phase, roles, out),
    keyPairs,
    vpcs,
    routeTables,
  };
  for (const kind of DELETE_ORDER.account) kind.delete?.(t);
  if (vpcs.length > 0) {
    // EB's instances must be gone first: their ENIs hold the subnets and security groups.
    task('instances', [], async () => {
      for (const vpc of vpcs) {
        await waitUntil(ctx, deadline, `the instances in ${vpc} to terminate`, async () =>
          (await ec2.describeLiveInstances(call, vpc, { purpose: 'poll' })).length === 0,
        );
      }
    });
    for (const kind of DELETE_ORDER.network) kind.delete?.(t);
  }

  const failures = await runGraph(tasks);
  for (const f of failures) {
    if (f.error instanceof RecordedError) continue;
    if (f.error instanceof BlockedError) continue; // what blocked it is listed already
    out.left.push({ item: f.id, reason: (f.error as Error)?.message ?? String(f.error) });
  }
  const blocked = failures.filter((f) => f.error instanceof BlockedError).map((f) => f.id);
  if (ctx.signal?.aborted) {
    if (blocked.length) out.left.push({ item: blocked.join(', '), reason: 'not attempted: the run was interrupted' });
    throw new InterruptedError(
      `terminate_vpc of phase ${phase} stopped by the interrupt after deleting ${out.deleted.length}${out.deleted.length ? ` (${out.deleted.join(', ')})` : ''}; left:\n` +
        out.left.map((l) => `  - ${l.item}: ${l.reason}`).join('\n'),
      'run terminate_vpc again to delete the rest (it starts from what is still there)',
    );
  }
  if (blocked.length) out.left.push({ item: blocked.join(', '), reason: 'not attempted: something they depend on could not be deleted' });
  return out;
}

/** Our roles: by name, under our path, and (where IAM shows tags) with our phase tag; others are reported as not ours. */
function ourRolesForTeardown(names: IamNames, phase: string, details: iam.RoleDetail[], out: TeardownResult): Map<IamRoleKey, iam.RoleDetail> {
  const mine = new Map<IamRoleKey, iam.RoleDetail>();
  for (const key of IAM_ROLE_KEYS) {
    const d = details.find((r) => r.RoleName === names.roles[key]);
    if (!d) continue;
    const ours = d.Path === names.path && (d.Tags === undefined || tagValue(d.Tags, TAG_PHASE) === phase);
    if (ours) mine.set(key, d);
    else out.notOurs.push(`IAM role ${d.RoleName} (path ${d.Path})`);
  }
  return mine;
}
