// Issue 7, interrupted runs: create_vpc, create_nova and terminate_vpc each killed with
// SIGKILL (the whole process group, so no aws child survives) at several points, then run
// again. The re-run must take over the dead run's deploy lock (its pid is gone on this
// host), finish the job, and duplicate nothing; a final terminate leaves nothing behind.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { execa, type ResultPromise } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ownCalls, readRunLog, ROOT, RUN, startPhase, type PhaseSandbox, type RunLogLine, until } from '../helpers/sandbox-phase.js';
import { readRunLogSoFar } from '../helpers/bench-phase.js';
import { COMPLETE_PHASE, countsOf, phaseInventory, vpcsWithCidr as vpcsWithCidrOf } from '../helpers/inventory.js';

const PHASE = 'intr';
let p: PhaseSandbox;
const killedWith: string[] = [];

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** `./run` in its own process group, so that a kill of the group takes its aws children too. */
function spawnRun(args: string[]): ResultPromise {
  return execa(RUN, ['-e', p.configFile, '-f', ...args], {
    cwd: ROOT,
    reject: false,
    detached: true,
    stdin: 'ignore',
    env: { ...process.env, NO_COLOR: '1' },
  });
}

/** The run log a given run (by pid) writes: logs/<phase>/<stamp>-<command>-<pid>.jsonl. */
function runLogOf(command: string, pid: number): string | undefined {
  const dir = path.join(ROOT, 'logs', PHASE);
  if (!existsSync(dir)) return undefined;
  const f = readdirSync(dir).find((n) => n.endsWith(`-${command}-${pid}.jsonl`));
  return f ? path.join(dir, f) : undefined;
}

const records = readRunLogSoFar;

/**
 * Start `command`, SIGKILL its process group as soon as `when` holds for its run log's
 * records (polled every 100 ms), and wait for it to be gone. Fails if the run ended first.
 */
async function killWhen(command: string, label: string, when: (recs: RunLogLine[]) => boolean, extraArgs: string[] = []): Promise<RunLogLine[]> {
  const child = spawnRun([...extraArgs, command]);
  const pid = child.pid!;
  let exited = false;
  void child.then(() => (exited = true));
  const deadline = Date.now() + 240_000;
  let recs: RunLogLine[] = [];
  for (;;) {
    recs = records(runLogOf(command, pid));
    if (when(recs)) break;
    if (exited) {
      const r = await child;
      throw new Error(`${command} ended (exit ${r.exitCode}) before the kill point "${label}" (${recs.length} calls):\n${String(r.stderr).slice(-2000)}`);
    }
    // A kill at the deadline would prove nothing about the point it was meant for.
    if (Date.now() > deadline) {
      process.kill(-pid, 'SIGKILL');
      throw new Error(`the kill point "${label}" of ${command} never came in 240 s (${recs.length} calls)`);
    }
    await sleep(100);
  }
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    // Already gone.
  }
  await child;
  killedWith.push(`${command} after ${recs.length} calls (${label})`);
  // No process of that group is left running (aws children included); zombies waiting
  // for init to reap them do not count.
  const gone = Date.now() + 10_000;
  while (groupMembers(pid).length && Date.now() < gone) await sleep(200);
  expect(groupMembers(pid), `process group ${pid} still has live members`).toEqual([]);
  return recs;
}

/** Live (not zombie) processes of a process group, from /proc. */
function groupMembers(pgid: number): string[] {
  const out: string[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${d}/stat`, 'utf8');
    } catch {
      continue;
    }
    // pid (comm) state ppid pgrp ...: comm may hold spaces, so split after its ')'.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (Number(rest[2]) === pgid && rest[0] !== 'Z' && rest[0] !== 'X') out.push(`${d} ${stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'))} ${rest[0]}`);
  }
  return out;
}

const afterCalls = (k: number) => (recs: RunLogLine[]) => recs.length >= k;
const afterCall = (sub: string, op: string, extra = 0) => (recs: RunLogLine[]) => {
  const i = recs.findIndex((r) => r.args[0] === sub && r.args[1] === op && r.exitCode === 0);
  return i >= 0 && recs.length >= i + 1 + extra;
};

async function runOk(args: string[], what = args.join(' ')): Promise<any> {
  const r = await p.run(['-f', '--json', ...args], { timeoutMs: 300_000 });
  expect(r.exitCode, `${what}:\n${r.stderr.slice(-3000)}`).toBe(0);
  return JSON.parse(r.stdout);
}

/** A killed create_nova may leave an environment Launching (or Updating after a swap): wait it out. */
async function settled(): Promise<any[]> {
  return until('no environment Launching/Updating/Terminating', async () => {
    const e = await p.envs();
    return e.some((x) => ['Launching', 'Updating', 'Terminating'].includes(x.Status)) ? undefined : e;
  });
}

/** Everything of the phase in EC2 and IAM, found by its tags and IAM path. */
const inventory = () => phaseInventory(p.aws, PHASE);
const vpcsWithCidr = () => vpcsWithCidrOf(p.aws, p.config.common.AWS_VPC_EB);

async function expectCompletePhase(): Promise<void> {
  const inv = await inventory();
  expect(await vpcsWithCidr()).toHaveLength(1);
  const { routeTables: _, ...phase } = COMPLETE_PHASE;
  expect(countsOf(inv, phase)).toEqual(phase);
  expect(inv.vpcs[0].CidrBlock).toBe(p.config.common.AWS_VPC_EB);
  const apps = await p.aws(['elasticbeanstalk', 'describe-applications']);
  expect(apps.Applications.filter((a: any) => a.ApplicationName === PHASE)).toHaveLength(1);
}

const tagOf = (o: any, key: string) => (o.Tags ?? []).find((t: any) => t.Key === key)?.Value;

/** Not counts but content: the routes, their targets, the associations and the rules. */
async function expectPhaseContent(): Promise<void> {
  const inv = await inventory();
  const vpcId = inv.vpcs[0].VpcId;
  const subnet = (name: string) => inv.subnets.find((x) => tagOf(x, 'Name') === name).SubnetId;
  const rts = (await p.aws(['ec2', 'describe-route-tables', '--filters', `Name=vpc-id,Values=${vpcId}`])).RouteTables as any[];
  const pub = rts.find((rt) => tagOf(rt, 'johanna:role') === 'route-table-public');
  const main = rts.find((rt) => rt.Associations?.some((a: any) => a.Main));
  const defaultRoute = (rt: any) => rt.Routes.find((r: any) => r.DestinationCidrBlock === '0.0.0.0/0');
  expect(defaultRoute(pub).GatewayId).toBe(inv.igws[0].InternetGatewayId);
  expect(inv.igws[0].Attachments).toEqual([expect.objectContaining({ VpcId: vpcId })]);
  expect(pub.Associations.map((a: any) => a.SubnetId).sort()).toEqual([subnet('eb_public_1'), subnet('eb_public_2')].sort());
  expect(defaultRoute(main).NatGatewayId).toBe(inv.liveNats[0].NatGatewayId);
  expect(inv.liveNats[0].State).toBe('available');
  expect(inv.liveNats[0].NatGatewayAddresses[0].AllocationId).toBe(inv.eips[0].AllocationId);
  const sg = Object.fromEntries(inv.sgs.map((g: any) => [g.GroupName, g]));
  const rules = (g: any) =>
    g.IpPermissions.flatMap((x: any) => [
      ...(x.IpRanges ?? []).map((r: any) => `${x.IpProtocol}:${x.FromPort}:${r.CidrIp}`),
      ...(x.UserIdGroupPairs ?? []).map((r: any) => `${x.IpProtocol}:${x.FromPort}:${r.GroupId}`),
    ]).sort();
  expect(rules(sg.eb_public)).toEqual(['tcp:80:0.0.0.0/0']);
  expect(rules(sg.eb_private)).toEqual([`tcp:22:${p.config.common.AWS_VPC_EB}`, `tcp:80:${sg.eb_public.GroupId}`].sort());
  const profile = (await p.aws(['iam', 'get-instance-profile', '--instance-profile-name', `johanna-${PHASE}-eb-ec2-role`])).InstanceProfile;
  expect(profile.Roles.map((r: any) => r.RoleName)).toEqual([`johanna-${PHASE}-eb-ec2-role`]);
}

describe('interrupted runs: SIGKILL at several points, then run again', () => {
  beforeAll(async () => {
    p = await startPhase({ phase: PHASE, delays: { launchMs: 800, swapMs: 300, terminateMs: 500, launchTimeoutMs: 8000 } });
  });
  afterAll(async () => {
    // Nothing of ours may outlive the file, even on failure.
    await p?.close();
    if (killedWith.length) console.log(`interrupt: killed ${killedWith.join('; ')}`);
  });

  it('create_vpc killed between attaching the gateway and routing to it, then after 3 and 11 calls, is finished by content', async () => {
    // The gateway attached, the public route not made yet: the kill point is proven twice,
    // by the run log (the attach succeeded) and by the sandbox (no route yet).
    await killWhen('create_vpc', 'after attach-internet-gateway', afterCall('ec2', 'attach-internet-gateway'));
    const tables = await p.aws(['ec2', 'describe-route-tables', '--filters', `Name=tag:johanna:phase,Values=${PHASE}`]);
    for (const rt of tables.RouteTables) expect(rt.Routes.some((r: any) => r.DestinationCidrBlock === '0.0.0.0/0')).toBe(false);

    for (const k of [3, 11]) await killWhen('create_vpc', `k=${k}`, afterCalls(k));
    const done = await runOk(['create_vpc']);
    expect(done.vpcId).toMatch(/^vpc-/);
    const again = await runOk(['create_vpc']);
    expect(ownCalls(readRunLog(again.runLog)).filter((l) => l.mutating)).toEqual([]);
    await expectCompletePhase();
    await expectPhaseContent();
  }, 600_000);

  it('create_nova killed early, after create-environment, and after the swap; each re-run deploys, nothing is duplicated', async () => {
    const first = await runOk(['create_nova']);
    const labels = [first.versionLabel];

    // Early: lock and preflight only, nothing created yet (or the upload at most).
    await killWhen('create_nova', 'k=4', afterCalls(4));
    // After create-environment: an environment is left Launching; the next run refuses
    // while it is, so wait until it is Ready, then deploy.
    await killWhen('create_nova', 'after create-environment', afterCall('elasticbeanstalk', 'create-environment'));
    await settled();
    const second = await runOk(['create_nova'], 'create_nova after a kill after create-environment');
    labels.push(second.versionLabel);
    expect((await p.get(p.host)).version).toBe(second.versionLabel);

    // After the swap: the killed run's version already holds the main CNAME.
    await killWhen('create_nova', 'after swap-environment-cnames', afterCall('elasticbeanstalk', 'swap-environment-cnames'));
    await settled();
    const third = await runOk(['create_nova'], 'create_nova after a kill after the swap');
    labels.push(third.versionLabel);
    expect((await p.get(p.host)).version).toBe(third.versionLabel);

    // The leftovers never held the main CNAME or are old: gone with --grace-minutes 0.
    await settled();
    await runOk(['--grace-minutes', '0', 'terminate_eb_old_environment']);
    const left = await until('one environment', async () => {
      const e = await p.envs();
      return e.length === 1 ? e : undefined;
    });
    expect(left[0].VersionLabel).toBe(third.versionLabel);
    expect((await p.get(p.host)).version).toBe(third.versionLabel);
    // One application, versions not duplicated.
    const versions = await p.aws(['elasticbeanstalk', 'describe-application-versions', '--application-name', PHASE]);
    const vl = versions.ApplicationVersions.map((v: any) => v.VersionLabel);
    expect(new Set(vl).size).toBe(vl.length);
    await expectCompletePhase();
  }, 600_000);

  it('terminate_vpc killed after 3 and 12 calls is finished by the next run; a final terminate leaves nothing', async () => {
    await runOk(['terminate_nova']);
    expect(await p.envs()).toEqual([]);
    for (const k of [3, 12]) await killWhen('terminate_vpc', `k=${k}`, afterCalls(k));
    await runOk(['terminate_vpc'], 'terminate_vpc after two kills');
    await runOk(['terminate'], 'the final terminate');

    expect(await p.envs()).toEqual([]);
    const tagged = await p.aws(['ec2', 'describe-tags', '--filters', 'Name=key,Values=johanna:phase', `Name=value,Values=${PHASE}`]);
    expect(tagged.Tags).toEqual([]);
    const inv = await inventory();
    expect(inv.vpcs).toEqual([]);
    expect(inv.liveNats).toEqual([]);
    expect(inv.eips).toEqual([]);
    expect(inv.roles).toEqual([]);
    expect(inv.profiles).toEqual([]);
    expect(inv.keyPairs).toEqual([]);
    expect(await vpcsWithCidr()).toEqual([]);
    const apps = await p.aws(['elasticbeanstalk', 'describe-applications']);
    expect(apps.Applications.map((a: any) => a.ApplicationName)).not.toContain(PHASE);
    // The lock item is gone too (the final terminate released what it took over).
    const lock = await p.aws(['dynamodb', 'get-item', '--table-name', 'johanna-locks', '--key', JSON.stringify({ phase: { S: PHASE } })]);
    expect(lock.Item).toBeUndefined();
  }, 480_000);
});
