// Drain-aware cleanup (issue 14, item 2), end to end: the built ./run against one sandbox
// phase ("drn") whose router counts real requests per environment and publishes them to
// moto's CloudWatch each second (TEST_METRICS_PERIOD_MS). Its tests run in order, each
// building on the state the previous one left.
//
// The clients that keep reaching an old environment: one client address (JVM) is a resolver
// that ignores the DNS TTL (--dns-ignore-ttl), as a JVM with networkaddress.cache.ttl=-1
// does; it keeps calling the main CNAME and so keeps reaching the environment it first
// resolved, long after the swap and the TTL. That is the case the traffic check exists for:
// the grace period and the TTL have passed, and the old environment still serves.
import { rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, startPhase, until, type PhaseSandbox } from '../helpers/sandbox-phase.js';
import { startLoad, type RunningLoad } from '../helpers/load.js';

const PHASE = 'drn';
const JVM = '127.0.0.7';
const JVM2 = '127.0.0.9';
const QUIET_MINUTES = 0.1; // 6 s: six of the test sandbox's 1 s metric periods
const LB = /^app\/awseb-AWSEB-[0-9a-f]+\/[0-9a-z]+$/;
const LONG = 240_000;

let ph: PhaseSandbox;
let jvm: RunningLoad | undefined;
let jvm2: RunningLoad | undefined;

beforeAll(async () => {
  ph = await startPhase({
    phase: PHASE,
    delays: { launchMs: 500, swapMs: 200, terminateMs: 300 },
    strict: { dnsIgnoreTtlClients: [JVM, JVM2] },
    edit: (c) => (c.nova.DRAIN_QUIET_MINUTES = QUIET_MINUTES),
  });
}, 120_000);

afterAll(async () => {
  await jvm?.stop();
  await jvm2?.stop();
  await ph?.close();
  rmSync(path.join(ROOT, 'logs', PHASE), { recursive: true, force: true });
});

async function runOk(args: string[]): Promise<{ stdout: string; stderr: string }> {
  const r = await ph.run(args);
  expect(r.exitCode, `./run ${args.join(' ')}\n${r.stderr}`).toBe(0);
  return r;
}

async function cleanup(...more: string[]): Promise<any> {
  return JSON.parse((await runOk(['-f', '--json', 'terminate_eb_old_environment', '--grace-minutes', '0', ...more])).stdout);
}

function setConfig(edit: (c: any) => void): void {
  edit(ph.config);
  writeFileSync(ph.configFile, JSON.stringify(ph.config, null, 2));
}

describe('the cleanup waits for an old environment to drain', () => {
  let first = ''; // made by create; the JVM client stays on it
  let second = ''; // the daily deploy's, live after it
  let firstVersion = '';
  let firstLb = '';

  it('create, then a client that ignores the TTL settles on the first environment, then the daily deploy; its own cleanup keeps the old one (grace)', { timeout: LONG }, async () => {
    const c = JSON.parse((await runOk(['-f', '--json', 'create'])).stdout);
    first = c.create_nova.newEnvironment;
    firstVersion = c.create_nova.versionLabel;
    jvm = startLoad({ router: ph.sandbox.router, host: ph.host, rate: 5, clients: [JVM], maxSeconds: 200 });
    await until('the JVM client to be answered', async () => (jvm!.snapshot().clients[0]?.ok > 0 ? true : undefined));

    const d = JSON.parse((await runOk(['-f', '--json', 'create_nova'])).stdout);
    second = d.newEnvironment;
    expect(d.oldEnvironment).toBe(first);
    // create_nova's cleanup ran: the old one is inside the grace period (50 min), the new one is live.
    expect(d.cleanup.graceMinutes).toBe(50);
    expect(d.cleanup.drainQuietMinutes).toBe(QUIET_MINUTES);
    expect(d.cleanup.terminated).toEqual([]);
    expect(d.cleanup.decisions.find((x: any) => x.environment === first).reason).toMatch(/grace period is 50 min/);
    expect(d.cleanup.decisions.find((x: any) => x.environment === second).reason).toMatch(/holds the main CNAME/);
  });

  it('past the grace and the TTL, an old environment that still has a client is kept, with nonzero figures printed and in --json', { timeout: LONG }, async () => {
    // The JVM client still reaches the first environment, through the main CNAME.
    const before = jvm!.snapshot().sent;
    await until('more JVM requests', async () => (jvm!.snapshot().sent > before + 5 ? true : undefined));
    expect(jvm!.snapshot().versions.map((v) => v.version)).toEqual([firstVersion]);

    const plain = await runOk(['-f', 'terminate_eb_old_environment', '--grace-minutes', '0']);
    const line = plain.stdout.split('\n').find((l) => l.includes(first))!;
    // The cleanup's decisions are a table: DECISION, ENVIRONMENT, ROLE, REASON (issue 22 item 3).
    expect(line, plain.stdout).toMatch(new RegExp(`^keep +${first} +\\S+ +out of service since .*grace period 0 min is over; still serving: [1-9]\\d* requests? on app/awseb-AWSEB-\\S+ in the ${QUIET_MINUTES} min to \\S+Z \\(.*\\); the last 2 s are not yet delivered by CloudWatch`));

    const j = await cleanup();
    expect(j.terminated).toEqual([]);
    expect(j.forceDrain).toBe(false);
    const kept = j.decisions.find((x: any) => x.environment === first);
    expect(kept.action).toBe('keep');
    expect(kept.traffic.requests).toBeGreaterThan(0);
    expect(kept.traffic.windowMinutes).toBe(QUIET_MINUTES);
    expect(kept.traffic.loadBalancer).toMatch(LB);
    firstLb = kept.traffic.loadBalancer;
    // The figure is CloudWatch's: the sandbox's load balancer published the router's counts there.
    expect(await ph.requestCount(firstLb, 60)).toBeGreaterThan(0);
    // The load balancer is the one EB names for the environment.
    const res = await ph.aws(['elasticbeanstalk', 'describe-environment-resources', '--environment-name', first]);
    expect(res.EnvironmentResources.LoadBalancers[0].Name).toMatch(new RegExp(`:loadbalancer/${firstLb.replace(/\//g, '\\/')}$`));
    expect((await ph.envs()).map((e: any) => e.EnvironmentName).sort()).toEqual([first, second].sort());
  });

  it('describe-environment-health reports the last 10 s in ApplicationMetrics, and status shows it', { timeout: LONG }, async () => {
    const h = await ph.aws(['elasticbeanstalk', 'describe-environment-health', '--environment-name', first, '--attribute-names', 'ApplicationMetrics']);
    expect(h.ApplicationMetrics.Duration).toBe(10);
    expect(h.ApplicationMetrics.RequestCount).toBeGreaterThan(0);
    expect(h.ApplicationMetrics.StatusCodes.Status2xx).toBe(100);
    const s = JSON.parse((await runOk(['--json', 'status'])).stdout);
    const e = s.environments.find((x: any) => x.name === first);
    expect(e.requests).toMatchObject({ count: expect.any(Number), seconds: 10 });
    expect(e.requests.count).toBeGreaterThan(0);
  });

  it('once the client stops and the quiet window has passed, the next cleanup removes it, with zero figures', { timeout: LONG }, async () => {
    const report = await jvm!.stop();
    jvm = undefined;
    expect(report.failures).toEqual([]);
    expect(report.versions.map((v) => v.version)).toEqual([firstVersion]);
    const stopped = Date.now();
    // Poll the cleanup itself: it keeps the environment while the window still holds requests.
    const done = await until(
      'the cleanup to remove the drained environment',
      async () => {
        const j = await cleanup();
        return j.terminated.includes(first) ? j : undefined;
      },
      90_000,
    );
    const gone = done.decisions.find((x: any) => x.environment === first);
    expect(gone.action).toBe('terminate');
    expect(gone.reason).toMatch(/drained: 0 requests on app\/awseb-AWSEB-/);
    expect(gone.traffic).toMatchObject({ requests: 0, loadBalancer: firstLb, windowMinutes: QUIET_MINUTES });
    // Not before the window could be quiet.
    expect(Date.now() - stopped).toBeGreaterThanOrEqual(QUIET_MINUTES * 60_000 - 2000);
    await until('the first environment to be gone', async () => ((await ph.envs()).length === 1 ? true : undefined));
  });

  let busy = ''; // old from the last deploy on, still serving a client that ignores the TTL

  it("create_nova's own cleanup removes an old environment already past the grace and drained, keeps one that still serves, never the new or the live one", { timeout: LONG }, async () => {
    const a = JSON.parse((await runOk(['-f', '--json', 'create_nova'])).stdout);
    const drained = a.oldEnvironment; // out of service from now on; no client reaches it
    expect(drained).toBe(second);
    expect(a.cleanup.terminated).toEqual([]); // inside the 50 min grace
    busy = a.newEnvironment;
    // A second JVM-like client settles on the live environment before the next deploy swaps it out.
    jvm2 = startLoad({ router: ph.sandbox.router, host: ph.host, rate: 5, clients: [JVM2], maxSeconds: 150 });
    await until('the second JVM client to be answered', async () => (jvm2!.snapshot().clients[0]?.ok > 0 ? true : undefined));
    setConfig((c) => (c.nova.OLD_ENVIRONMENT_GRACE_MINUTES = 0));
    try {
      const b = JSON.parse((await runOk(['-f', '--json', 'create_nova'])).stdout);
      expect(b.oldEnvironment).toBe(busy);
      expect(b.cleanup.graceMinutes).toBe(0);
      expect(b.cleanup.terminated).toEqual([drained]);
      const by = (name: string) => b.cleanup.decisions.find((x: any) => x.environment === name);
      expect(by(drained).traffic).toMatchObject({ requests: 0, windowMinutes: QUIET_MINUTES, loadBalancer: expect.stringMatching(LB) });
      expect(by(busy)).toMatchObject({ action: 'keep', traffic: { requests: expect.any(Number) } });
      expect(by(busy).traffic.requests).toBeGreaterThan(0);
      expect(by(b.newEnvironment)).toMatchObject({ action: 'keep', reason: expect.stringMatching(/holds the main CNAME/) });
      await until('the drained environment to be gone', async () => {
        const names = (await ph.envs()).map((e: any) => e.EnvironmentName);
        return names.includes(drained) ? undefined : names;
      });
      expect((await ph.envs()).map((e: any) => e.EnvironmentName).sort()).toEqual([busy, b.newEnvironment].sort());
    } finally {
      setConfig((c) => delete c.nova.OLD_ENVIRONMENT_GRACE_MINUTES);
    }
  });

  it('--force-drain removes an old environment that still serves, and says the check was skipped', { timeout: LONG }, async () => {
    try {
      const r = await ph.run(['-f', '--json', 'terminate_eb_old_environment', '--grace-minutes', '0', '--force-drain']);
      expect(r.exitCode, r.stderr).toBe(0);
      expect(r.stderr).toContain('--force-drain: the traffic check is skipped');
      const j = JSON.parse(r.stdout);
      expect(j.forceDrain).toBe(true);
      expect(j.terminated).toEqual([busy]);
      const forced = j.decisions.find((x: any) => x.environment === busy);
      expect(forced).toMatchObject({ action: 'terminate', forced: true });
      expect(forced.reason).toMatch(/traffic not checked \(--force-drain\)/);
      expect(forced.traffic).toBeUndefined();
    } finally {
      // Its client now meets a load balancer that is going, then gone: what --force-drain risks.
      await jvm2?.stop();
    }
  });
});
