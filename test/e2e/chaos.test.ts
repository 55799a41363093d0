// Issue 7, a faulty cloud: the sandbox throttles one API request in five, any service.
// The aws CLI retries throttling itself (AWS_MAX_ATTEMPTS=5, standard mode, set by
// Johanna) and src/aws/cli.ts retries on top, so every command must still succeed and
// leave the phase exactly as it should. Short sandbox delays keep the file quick.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readRunLog, startPhase, type PhaseSandbox, until } from './helpers/sandbox-phase.js';

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

describe('a faulty cloud: failRate 0.2 (one API request in five throttled)', () => {
  beforeAll(async () => {
    p = await startPhase({ phase: PHASE, failRate: 0.2, delays: { launchMs: 500, swapMs: 200, terminateMs: 300, launchTimeoutMs: 8000 } });
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
  });

  it('create succeeds and serves the first version', async () => {
    const out = await ok(['create']);
    versions.push(out.create_nova.versionLabel);
    expect((await p.get(p.host)).version).toBe(versions[0]);
  }, 300_000);

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
    // The faults were real: some calls needed more than one attempt of ours.
    console.log(`chaos: ${retried} aws invocations were retries by src/aws/cli.ts`);
  }, 300_000);
});
