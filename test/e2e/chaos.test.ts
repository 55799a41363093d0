// Issue 7 and 10, a faulty cloud: the sandbox throttles one API request in five, any
// service, and loses the answer of one mutating request in ten after performing it (the
// aws CLI retries the same request, so a create may happen twice). Every command must
// still succeed and leave the phase exactly as it should: one of each resource, and
// nothing after terminate. Short sandbox delays keep the file quick.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { COMPLETE_PHASE, countsOf, phaseInventory } from '../helpers/inventory.js';
import { readRunLog, startPhase, type PhaseSandbox, until } from '../helpers/sandbox-phase.js';

const PHASE = 'chaos';
let p: PhaseSandbox;
const versions: string[] = [];
/** Retried attempts seen in the run logs: proof the faults were really there. */
let retried = 0;

async function ok(args: string[]): Promise<any> {
  const r = await p.run(['-f', '--json', ...args]);
  expect(r.exitCode, `${args.join(' ')}:\n${r.stderr.slice(-3000)}`).toBe(0);
  const out = JSON.parse(r.stdout);
  if (out.runLog) retried += readRunLog(out.runLog).filter((l: any) => (l.attempt ?? 1) > 1).length;
  return out;
}

/** The sandbox's own count of the faults it injected. */
async function faults(): Promise<{ throttled: number; lost: number }> {
  return ((await (await fetch(`${p.sandbox.endpoint}/_sandbox/status`)).json()) as { faults: { throttled: number; lost: number } }).faults;
}

describe('a faulty cloud: failRate 0.2 (one API request in five throttled), loseResponses 0.1', () => {
  beforeAll(async () => {
    p = await startPhase({
      phase: PHASE,
      failRate: 0.2,
      strict: { loseResponses: 0.1 },
      delays: { launchMs: 500, swapMs: 200, terminateMs: 300, launchTimeoutMs: 8000 },
    });
  });
  afterAll(async () => {
    await p?.close();
  });

  it('the sandbox really throttles about one request in five', async () => {
    let throttled = 0;
    for (let i = 0; i < 200; i++) {
      const r = await fetch(`${p.sandbox.endpoint}/`, { signal: AbortSignal.timeout(10_000) });
      const body = await r.text();
      if (r.status === 503 && /SlowDown/.test(body)) throttled++;
    }
    // Binomial(200, 0.2): mean 40, sd ~5.7; these bounds are > 4 sd away.
    expect(throttled).toBeGreaterThan(15);
    expect(throttled).toBeLessThan(70);
    expect((await faults()).throttled).toBe(throttled);
  });

  it('create succeeds and serves the first version, with exactly one of each resource', async () => {
    const out = await ok(['create']);
    versions.push(out.create_nova.versionLabel);
    expect((await p.get(p.host)).version).toBe(versions[0]);
    const inv = await phaseInventory(p.aws, PHASE);
    expect(countsOf(inv, COMPLETE_PHASE)).toEqual(COMPLETE_PHASE);
  }, 600_000);

  it('two daily create_nova succeed; the main CNAME serves the newest', async () => {
    for (let i = 0; i < 2; i++) {
      const out = await ok(['create_nova']);
      expect(out.oldEnvironment).toMatch(/^nova-/);
      versions.push(out.versionLabel);
    }
    expect(new Set(versions).size).toBe(3);
    const a = await p.get(p.host);
    expect(a.status).toBe(200);
    expect(a.version).toBe(versions[2]);
  }, 300_000);

  it('terminate_eb_old_environment --grace-minutes 0 leaves one environment, the live one', async () => {
    await ok(['--grace-minutes', '0', 'terminate_eb_old_environment']);
    const left = await until('the old environments to go', async () => {
      const e = await p.envs();
      return e.length === 1 ? e : undefined;
    });
    expect(left[0].VersionLabel).toBe(versions[2]);
    expect((await p.get(p.host)).version).toBe(versions[2]);
  }, 180_000);

  it('terminate leaves no environment, no EC2 resource tagged for the phase, no IAM role of the phase', async () => {
    await ok(['terminate']);
    expect(await p.envs()).toEqual([]);
    const tagged = await p.aws(['ec2', 'describe-tags', '--filters', 'Name=key,Values=johanna:phase', `Name=value,Values=${PHASE}`]);
    expect(tagged.Tags).toEqual([]);
    const roles = await p.aws(['iam', 'list-roles', '--path-prefix', `/johanna/${PHASE}/`]);
    expect(roles.Roles).toEqual([]);
    const profiles = await p.aws(['iam', 'list-instance-profiles', '--path-prefix', `/johanna/${PHASE}/`]);
    expect(profiles.InstanceProfiles).toEqual([]);
    expect((await p.get(p.host)).status).toBe(404);
    // The EB application goes too (it carries the phase tag).
    const apps = await p.aws(['elasticbeanstalk', 'describe-applications']);
    expect(apps.Applications.map((a: any) => a.ApplicationName)).not.toContain(PHASE);
    // The application's versions went with it, bundles included.
    const bucket = (await p.aws(['s3api', 'list-buckets'])).Buckets.map((b: any) => b.Name).find((n: string) => n.startsWith('elasticbeanstalk-'));
    if (bucket) {
      const objects = (await p.aws(['s3api', 'list-objects-v2', '--bucket', bucket])).Contents ?? [];
      expect(objects.filter((o: any) => versions.some((v) => o.Key.includes(v)))).toEqual([]);
    }
    // The faults were real, counted by the sandbox itself: throttled and lost answers.
    const f = await faults();
    console.log(`chaos: sandbox throttled ${f.throttled} requests and lost ${f.lost} answers; src/aws/cli.ts retried ${retried} times`);
    expect(f.throttled).toBeGreaterThan(20);
    expect(f.lost).toBeGreaterThan(3);
  }, 600_000);
});

describe('the network under many lost answers (loseResponses 0.5, failRate 0.2)', () => {
  let q: PhaseSandbox;
  beforeAll(async () => {
    q = await startPhase({ phase: 'lossy', failRate: 0.2, strict: { loseResponses: 0.5 } });
  });
  afterAll(async () => {
    await q?.close();
  });

  it('create_vpc ends with exactly one of each (duplicates deleted), terminate_vpc with nothing', async () => {
    const run = async (command: string) => {
      const r = await q.run(['-f', '--json', command]);
      expect(r.exitCode, `${command}:\n${r.stderr.slice(-3000)}`).toBe(0);
      return JSON.parse(r.stdout);
    };
    await run('create_vpc');
    const inv = await phaseInventory(q.aws, 'lossy');
    expect([inv.vpcs, inv.igws, inv.eips, inv.liveNats, inv.routeTables, inv.profiles, inv.keyPairs].map((x) => x.length)).toEqual([1, 1, 1, 1, 1, 1, 1]);
    expect(inv.subnets).toHaveLength(4);
    expect(inv.sgs).toHaveLength(2);
    expect(inv.roles).toHaveLength(3);
    await run('terminate_vpc');
    const tagged = await q.aws(['ec2', 'describe-tags', '--filters', 'Name=key,Values=johanna:phase', 'Name=value,Values=lossy']);
    expect(tagged.Tags).toEqual([]);
    expect((await q.aws(['iam', 'list-roles', '--path-prefix', '/johanna/lossy/'])).Roles).toEqual([]);
    const f = (await (await fetch(`${q.sandbox.endpoint}/_sandbox/status`)).json()) as { faults: { lost: number } };
    console.log(`lossy: ${f.faults.lost} answers lost`);
    expect(f.faults.lost).toBeGreaterThan(10);
  }, 900_000);
});
