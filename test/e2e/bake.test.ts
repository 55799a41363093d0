// Issue 21 end to end: the bake after a swap, through the built ./run and the real aws CLI.
// One phase lives through the file in order (one sandbox, one create): a good version
// passes (with an alarm already firing before the swap, ignored); a 5xx fault, a latency
// fault and an alarm each swap back by themselves; no traffic is inconclusive; Ctrl-C during
// the bake leaves the new version live. Six deploys in all: each case is one. A sandbox "minute" is its metrics period (2 s here), so a
// bake of 5 minutes takes about 10 s.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { failedRequests, startLoad, type RunningLoad } from '../helpers/load.js';
import { ROOT, RUN, startPhase, type PhaseSandbox, until } from '../helpers/sandbox-phase.js';

let p: PhaseSandbox;
const LONG = 300_000;
const CLIENTS = ['127.0.0.2', '127.0.0.3'];
const ALARM = 'bake-e2e-5xx';

/** The bake's config: 5 minutes, 2 bad ones swap back, 10 requests a minute judged. */
function bakeConfig(name: string, change: (c: any) => void = () => {}): string {
  return p.variant(name, (c) => {
    c.nova.BAKE_MINUTES = 5;
    c.nova.BAKE_FAILURE_LIMIT = 2;
    c.nova.BAKE_MIN_REQUESTS = 10;
    c.nova.BAKE_ALARMS = [ALARM];
    change(c);
  });
}

async function live(): Promise<{ name: string; version: string }> {
  const e = (await p.envs()).find((x: any) => x.CNAME === p.host);
  return { name: e.EnvironmentName, version: e.VersionLabel };
}

async function alarmState(state: 'OK' | 'ALARM'): Promise<void> {
  await p.aws(['cloudwatch', 'set-alarm-state', '--alarm-name', ALARM, '--state-value', state, '--state-reason', `set by the bake test`]);
}

function load(): RunningLoad {
  return startLoad({ router: p.sandbox.router, host: p.host, rate: 20, clients: CLIENTS, maxSeconds: 240 });
}

/** ./run in its own process group, its stderr collected as it comes. */
function spawnRun(configFile: string, args: string[]) {
  const child = execa(RUN, ['-e', configFile, '-f', ...args], { cwd: ROOT, reject: false, detached: true, stdin: 'ignore', env: { ...process.env, NO_COLOR: '1' } });
  let stderr = '';
  child.stderr?.on('data', (d) => (stderr += String(d)));
  return { child, stderr: () => stderr };
}

describe('the bake after a swap (issue 21)', () => {
  beforeAll(async () => {
    p = await startPhase({ phase: 'bake', delays: { launchMs: 500, swapMs: 200, terminateMs: 300, launchTimeoutMs: 6000 }, strict: { metricsPeriodMs: 2000 } });
    await p.aws(['cloudwatch', 'put-metric-alarm', '--alarm-name', ALARM, '--namespace', 'AWS/ApplicationELB', '--metric-name', 'HTTPCode_Target_5XX_Count', '--statistic', 'Sum', '--period', '60', '--evaluation-periods', '1', '--threshold', '1', '--comparison-operator', 'GreaterThanOrEqualToThreshold']);
  }, LONG);
  afterAll(async () => {
    await p?.close();
  });

  it('creates the phase; the first deploy has nothing to swap with, so nothing to bake', { timeout: LONG }, async () => {
    const r = await p.run(['-f', 'create']);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stderr).not.toMatch(/bake minute/);
  });

  it('the sandbox publishes the ALB metrics in AWS names; moto answers p99', { timeout: LONG }, async () => {
    const lb = (await p.aws(['elasticbeanstalk', 'describe-environment-resources', '--environment-name', (await live()).name])).EnvironmentResources.LoadBalancers[0].Name as string;
    const dim = `Name=LoadBalancer,Value=${lb.slice(lb.indexOf(':loadbalancer/') + ':loadbalancer/'.length)}`;
    const start = new Date(Date.now() - 120_000).toISOString();
    for (let i = 0; i < 5; i++) expect((await p.get(p.host)).status).toBe(200);
    const p99 = await until('a TargetResponseTime p99', async () => {
      const r = await p.aws(['cloudwatch', 'get-metric-statistics', '--namespace', 'AWS/ApplicationELB', '--metric-name', 'TargetResponseTime', '--dimensions', dim, '--extended-statistics', 'p99', '--period', '60', '--start-time', start, '--end-time', new Date(Date.now() + 60_000).toISOString()]);
      return r.Datapoints?.[0]?.ExtendedStatistics?.p99 as number | undefined;
    }, 20_000);
    expect(p99).toBeGreaterThanOrEqual(0);
    expect(p99).toBeLessThan(5);
  });

  it('a good version bakes under traffic and passes, a line a minute; an alarm already in ALARM before the swap is ignored, and said so', { timeout: LONG }, async () => {
    await alarmState('ALARM');
    const l = load();
    const r = await p.run(['-f', '--json', 'create_nova'], { configFile: bakeConfig('good') });
    const report = await l.stop();
    await alarmState('OK');
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stderr).toMatch(new RegExp(`ignoring alarm ${ALARM}: already in ALARM before the swap`));
    expect(r.stderr.match(/bake minute \d\/5: \d+ requests, 5xx 0 \(0%\), p99 \d+ ms, health \w+: ok/g)?.length, r.stderr).toBeGreaterThanOrEqual(3);
    expect(r.stderr).toMatch(/bake passed: 5 minutes, 0 bad/);
    expect(JSON.parse(r.stdout).bake).toMatchObject({ verdict: 'passed', ignoredAlarms: [ALARM] });
    expect(report.non2xx + report.errors, failedRequests(report)).toBe(0);
  });

  it('a 5xx fault that starts after the checks swaps back by itself: exit 1, history, failed environment kept', { timeout: LONG }, async () => {
    const before = await live();
    const l = load();
    // Half the requests answer 500 once the new process is up: the probe still gets its 3
    // in a row, the bake sees the share.
    const r = await p.run(['-f', 'create_nova'], { configFile: bakeConfig('bad5xx', (c) => (c.nova.ENVIRONMENT = { NOVA_FAULT_ERROR_SHARE: '0.5' })) });
    await l.stop();
    expect(r.exitCode, r.stderr).toBe(1);
    expect(r.stderr).toMatch(/BAD: 5xx \d+(\.\d+)?% > 1%/);
    expect(r.stderr).toMatch(/rolled back by bake: /);
    expect(await live()).toEqual(before);
    expect((await p.get(p.host)).version).toBe(before.version);
    // The failed one stays for inspection, not live.
    const failed = (await p.envs()).filter((e: any) => e.CNAME !== p.host && e.Status === 'Ready');
    expect(failed.length).toBeGreaterThanOrEqual(1);
    const h = await p.run(['history', '-n', '1']);
    expect(h.stdout).toMatch(/create_nova\s+failed\s+1\s.*rolled back by bake: .*minute \d: 5xx/);
    const s = await p.run(['status']);
    expect(s.stdout).toMatch(/last bake: rolled back by bake: /);
    // The report of that run (issue 22 item 7) shows the bake as a band named by its verdict,
    // and the bake's swap back as a marker.
    const out = path.join(p.dir, 'bad5xx-report.html');
    const rep = await p.run(['report', '--out', out]);
    expect(rep.exitCode, rep.stderr).toBe(0);
    const html = readFileSync(out, 'utf8');
    expect(html).toMatch(/<g class="band" data-label="bake: rolled back"/);
    expect(html).toMatch(/<g class="marker" data-label="swapped back by the bake"/);
  });

  it('a latency fault swaps back on p99', { timeout: LONG }, async () => {
    const before = await live();
    const l = load();
    const r = await p.run(['-f', 'create_nova'], { configFile: bakeConfig('slow', (c) => (c.nova.ENVIRONMENT = { NOVA_FAULT_LATENCY_MS: '700' })) });
    await l.stop();
    expect(r.exitCode, r.stderr).toBe(1);
    expect(r.stderr).toMatch(/BAD: p99 \d+ ms > 500 ms/);
    expect(await live()).toEqual(before);
  });

  it('an alarm that goes into ALARM during the bake swaps back', { timeout: LONG }, async () => {
    await alarmState('OK');
    const before = await live();
    const l = load();
    const run = spawnRun(bakeConfig('alarm'), ['create_nova']);
    await until('the first bake minute', async () => (/bake minute 1\/5/.test(run.stderr()) ? true : undefined), 200_000);
    await alarmState('ALARM');
    const r = await run.child;
    await l.stop();
    expect(r.exitCode, run.stderr()).toBe(1);
    expect(run.stderr()).toMatch(new RegExp(`BAD: alarm ${ALARM} in ALARM`));
    expect(await live()).toEqual(before);
  });

  it('with no traffic the verdict is inconclusive: the new version stays', { timeout: LONG }, async () => {
    const r = await p.run(['-f', '--json', 'create_nova'], { configFile: bakeConfig('quiet') });
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/too little traffic to judge/);
    expect(r.stderr).toMatch(/bake inconclusive: only \d of 5 minutes/);
    const out = JSON.parse(r.stdout);
    expect(out.bake.verdict).toBe('inconclusive');
    expect((await live()).version).toBe(out.versionLabel);
  });

  // Issue 21: promote swaps in too, so it bakes too; --no-bake is the run's exception, said as a warning.
  it('promote bakes what it swaps in, under traffic; create_nova --no-bake swaps with no bake and says so', { timeout: LONG }, async () => {
    const config = bakeConfig('promote');
    const l = load();
    const hold = await p.run(['-f', '--json', 'create_nova', '--hold'], { configFile: config });
    expect(hold.exitCode, hold.stderr).toBe(0);
    const held = JSON.parse(hold.stdout).newEnvironment as string;
    expect(hold.stderr).not.toMatch(/bake minute/); // a hold swaps nothing: nothing to bake
    const pr = await p.run(['-f', '--json', 'promote'], { configFile: config });
    expect(pr.exitCode, pr.stderr).toBe(0);
    expect(pr.stderr).toMatch(/bake minute 1\/5: \d+ requests/);
    expect(pr.stderr).toMatch(/bake passed: 5 minutes, 0 bad/);
    expect(JSON.parse(pr.stdout).bake).toMatchObject({ verdict: 'passed' });
    expect((await live()).name).toBe(held);
    const nb = await p.run(['-f', '--json', 'create_nova', '--no-bake'], { configFile: config });
    const report = await l.stop();
    expect(nb.exitCode, nb.stderr).toBe(0);
    expect(nb.stderr).not.toMatch(/bake minute/);
    expect(nb.stderr).toMatch(new RegExp(`warning: no bake \\(--no-bake\\): nothing watches \\S+ under traffic; \\./run (-e \\S+ )?rollback swaps back to ${held} while it lives`));
    expect(JSON.parse(nb.stdout).bake).toMatchObject({ verdict: 'skipped' });
    expect(report.non2xx + report.errors, failedRequests(report)).toBe(0);
  });

  it('Ctrl-C during the bake leaves the new version live, with the rollback command', { timeout: LONG }, async () => {
    const l = load();
    // A long bake (30 minutes of 2 s), so that status and the interrupt both land inside it.
    const config = bakeConfig('intr', (c) => (c.nova.BAKE_MINUTES = 30));
    const run = spawnRun(config, ['create_nova']);
    // The kill point: the bake has judged its first minute.
    await until('the first bake minute', async () => (/bake minute 1\/30/.test(run.stderr()) ? true : undefined), 200_000);
    const st = await p.run(['status'], { configFile: config });
    expect(st.stdout).toMatch(/bake: in progress: \S+'s create_nova \(since \S+\) swapped in nova-\d+/);
    expect(run.stderr()).not.toMatch(/bake passed|bake inconclusive/);
    process.kill(-run.child.pid!, 'SIGINT');
    const r = await run.child;
    await l.stop();
    expect(r.exitCode, run.stderr()).toBe(130);
    expect(run.stderr()).toMatch(/interrupted during the bake \(minute \d+ of 30\): \S+ \(\S+\) stays live; \.\/run (-e \S+ )?rollback swaps back to \S+/);
    const newest = (await p.envs()).sort((a: any, b: any) => String(b.DateCreated).localeCompare(String(a.DateCreated)))[0];
    expect((await live()).name).toBe(newest.EnvironmentName);
  });
});
