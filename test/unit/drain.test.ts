// The drain-aware cleanup's decision (issue 14 item 2): past the grace period, an old
// environment goes only once its load balancer served no request in the quiet window; the
// figures it decided on are in each decision. Pure functions, no aws calls.
import { describe, expect, it } from 'vitest';
import type { Environment } from '../../src/aws/eb.js';
import { albDimension } from '../../src/aws/cloudwatch.js';
import { decide, describeTraffic, readTraffic, type Traffic } from '../../src/deploy/cleanup.js';
import { AWS_METRICS_LAG_MS, AWS_METRICS_PERIOD_MS } from '../../src/deploy/metrics-timing.js';
import type { Ctx } from '../../src/context.js';

const REGION = 'ap-northeast-2';
const MAIN = `dv-nova.${REGION}.elasticbeanstalk.com`;
const T0 = 1_760_000_000;
const NOW = new Date((T0 + 3600) * 1000);
const LB = 'app/awseb-AWSEB-1a2b3c4d5e/6f7a8b9c0d1e2f3a';

function env(name: string, cnamePrefix: string, over: Partial<Environment> = {}): Environment {
  return { EnvironmentName: name, EnvironmentId: `e-${name}`, ApplicationName: 'dv', CNAME: `${cnamePrefix}.${REGION}.elasticbeanstalk.com`, Status: 'Ready', Health: 'Green', ...over };
}

const live = env(`nova-${T0}`, 'dv-nova');
// Lost the main CNAME 60 min before NOW (by its CNAME's timestamp): past a 50 min grace.
const old = env(`nova-${T0 - 86_400}`, `dv-nova-${T0}`);
const events = { swaps: [] }; // no swap in the history: dated by its CNAME

function traffic(requests: number | undefined, over: Partial<Traffic> = {}): Traffic {
  return { loadBalancer: LB, requests, windowMinutes: 5, from: new Date(NOW.getTime() - 300_000).toISOString(), to: NOW.toISOString(), ...over };
}
const of = (ds: ReturnType<typeof decide>, e: Environment) => ds.find((d) => d.environment === e.EnvironmentName)!;

describe('decide with the traffic check', () => {
  it('keeps one past the grace that still serves, with the figures in the decision and the reason', () => {
    const t = traffic(42);
    const d = of(decide([live, old], events, MAIN, 50, NOW, 60_000, { traffic: new Map([[old.EnvironmentName, t]]) }), old);
    expect(d.action).toBe('keep');
    expect(d.traffic).toEqual(t);
    expect(d.reason).toMatch(/grace period 50 min is over; still serving: 42 requests on app\/awseb-AWSEB-1a2b3c4d5e\/6f7a8b9c0d1e2f3a in the last 5 min \(\d\d:\d\d:\d\dZ-\d\d:\d\d:\d\dZ\)/);
  });

  it('terminates one past the grace with no request in the window (no datapoint counts as 0), and says so', () => {
    const d = of(decide([live, old], events, MAIN, 50, NOW, 60_000, { traffic: new Map([[old.EnvironmentName, traffic(0)]]) }), old);
    expect(d).toMatchObject({ action: 'terminate', traffic: { requests: 0, loadBalancer: LB, windowMinutes: 5 } });
    expect(d.reason).toMatch(/drained: 0 requests on app\/awseb-AWSEB-.* in the last 5 min/);
  });

  it('keeps one with no request in the window that CloudWatch never measured (issue 20 item 17): quiet is not never measured', () => {
    const d = of(decide([live, old], events, MAIN, 50, NOW, 60_000, { traffic: new Map([[old.EnvironmentName, traffic(0, { measured: false })]]) }), old);
    expect(d.action).toBe('keep');
    expect(d.reason).toMatch(/never measured: CloudWatch lists no RequestCount for app\/awseb-AWSEB-.* in the past two weeks.*it stays \(--force-drain removes it anyway\)/);
    // --force-drain still removes it.
    expect(of(decide([live, old], events, MAIN, 50, NOW, 60_000, { forceDrain: true, traffic: new Map([[old.EnvironmentName, traffic(0, { measured: false })]]) }), old).action).toBe('terminate');
  });

  it('keeps one whose traffic could not be read, naming why (never terminates on missing data)', () => {
    const noLb = traffic(undefined, { loadBalancer: undefined, problem: 'EB names no load balancer for it' });
    const d = of(decide([live, old], events, MAIN, 50, NOW, 60_000, { traffic: new Map([[old.EnvironmentName, noLb]]) }), old);
    expect(d.action).toBe('keep');
    expect(d.reason).toMatch(/cannot tell whether it still serves: EB names no load balancer for it; it stays \(--force-drain removes it anyway\)/);
    // No figures at all (a caller that read none): kept too.
    expect(of(decide([live, old], events, MAIN, 50, NOW, 60_000), old)).toMatchObject({ action: 'keep', reason: expect.stringMatching(/its traffic was not read/) });
  });

  it('--force-drain: the grace alone decides, said in the reason, even while it serves', () => {
    const d = of(decide([live, old], events, MAIN, 50, NOW, 60_000, { forceDrain: true, traffic: new Map([[old.EnvironmentName, traffic(42)]]) }), old);
    expect(d).toMatchObject({ action: 'terminate', forced: true });
    expect(d.reason).toMatch(/grace period 50 min is over; traffic not checked \(--force-drain\)/);
  });

  it('neither drained nor forced overrides the grace, the DNS TTL, the live one, a held one or a spared one', () => {
    const recent = env(`nova-${T0 - 10}`, `dv-nova-${T0 + 3600 - 600}`); // out of service 10 min
    const held = env(`nova-${T0 + 1}`, `dv-nova-${T0 - 100}`);
    const spared = env(`nova-${T0 + 2}`, `dv-nova-${T0 - 200}`);
    const all = [live, recent, held, spared];
    const quiet = new Map(all.map((e) => [e.EnvironmentName, traffic(0)]));
    for (const forceDrain of [false, true]) {
      const ds = decide(all, events, MAIN, 50, NOW, 60_000, { traffic: quiet, forceDrain, held: new Set([held.EnvironmentName]), spare: new Map([[spared.EnvironmentName, 'was made by this deploy']]) });
      expect(ds.every((d) => d.action === 'keep')).toBe(true);
      expect(of(ds, live).reason).toMatch(/holds the main CNAME/);
      expect(of(ds, recent).reason).toMatch(/grace period is 50 min/);
      expect(of(ds, held).reason).toMatch(/^is held/);
      expect(of(ds, spared).reason).toBe('was made by this deploy');
    }
  });

  // Issue 19 item 4: a public load balancer is never quiet.
  it('traffic at or below nova.DRAIN_BACKGROUND_PER_MINUTE is background: drained, with the figures; above it, still serving', () => {
    const bg = of(decide([live, old], events, MAIN, 50, NOW, 60_000, { backgroundPerMinute: 2, traffic: new Map([[old.EnvironmentName, traffic(10)]]) }), old);
    expect(bg).toMatchObject({ action: 'terminate', traffic: { requests: 10 } });
    expect(bg.reason).toMatch(/drained: only background traffic, 10 requests on .* in the last 5 min .*at most nova\.DRAIN_BACKGROUND_PER_MINUTE 2 a minute/);
    expect(of(decide([live, old], events, MAIN, 50, NOW, 60_000, { backgroundPerMinute: 2, traffic: new Map([[old.EnvironmentName, traffic(11)]]) }), old).action).toBe('keep');
    // 0: any request counts as serving.
    expect(of(decide([live, old], events, MAIN, 50, NOW, 60_000, { backgroundPerMinute: 0, traffic: new Map([[old.EnvironmentName, traffic(1)]]) }), old).action).toBe('keep');
  });

  it('past nova.DRAIN_CEILING_MINUTES out of service it goes whatever its traffic says, and the reason says why; before, the keep names the ceiling', () => {
    // `old` lost the main CNAME 60 min before NOW.
    for (const t of [traffic(500), traffic(undefined, { problem: 'CloudWatch refused' }), traffic(0, { measured: false })]) {
      const d = of(decide([live, old], events, MAIN, 50, NOW, 60_000, { ceilingMinutes: 60, traffic: new Map([[old.EnvironmentName, t]]) }), old);
      expect(d).toMatchObject({ action: 'terminate', ceiling: true });
      expect(d.reason).toMatch(/but out of service past nova\.DRAIN_CEILING_MINUTES \(60 min\), so it goes anyway$/);
      const before = of(decide([live, old], events, MAIN, 50, NOW, 60_000, { ceilingMinutes: 61, traffic: new Map([[old.EnvironmentName, t]]) }), old);
      expect(before.action).toBe('keep');
      expect(before.reason).toMatch(/at most until 61 min out of service \(nova\.DRAIN_CEILING_MINUTES\)$/);
    }
    // Never the live one, a held one, or one inside the grace.
    const ds = decide([live, old], events, MAIN, 50, NOW, 60_000, { ceilingMinutes: 1, held: new Set([old.EnvironmentName]), traffic: new Map([[old.EnvironmentName, traffic(500)]]) });
    expect(ds.every((d) => d.action === 'keep')).toBe(true);
  });

  it('reads the quiet window ending where CloudWatch has delivered (period + lag before now), never the undelivered minutes as zero, and says so', async () => {
    const calls: string[][] = [];
    // CloudWatch as it is at NOW: requests came in the last 2 minutes, not yet delivered, so
    // a window that reached NOW would find nothing there; the delivered minutes before had some.
    const call = async (args: string[]) => {
      calls.push(args);
      if (args[1] === 'describe-environment-resources') return { EnvironmentResources: { LoadBalancers: [{ Name: `arn:aws:elasticloadbalancing:${REGION}:123456789012:loadbalancer/${LB}` }] } };
      if (args[1] === 'get-metric-statistics') {
        const end = Date.parse(args[args.indexOf('--end-time') + 1]);
        return { Datapoints: end <= NOW.getTime() - 180_000 ? [{ Sum: 7 }] : [] };
      }
      throw new Error(`unexpected call ${args.join(' ')}`);
    };
    const t = await readTraffic({ call } as unknown as Ctx, old.EnvironmentName, 5, NOW, { periodMs: AWS_METRICS_PERIOD_MS, lagMs: AWS_METRICS_LAG_MS });
    const q = calls.find((c) => c[1] === 'get-metric-statistics')!;
    expect(q[q.indexOf('--end-time') + 1]).toBe(new Date(NOW.getTime() - 180_000).toISOString());
    expect(q[q.indexOf('--start-time') + 1]).toBe(new Date(NOW.getTime() - 480_000).toISOString());
    expect(t).toMatchObject({ requests: 7, windowMinutes: 5, undeliveredSeconds: 180, to: new Date(NOW.getTime() - 180_000).toISOString() });
    expect(describeTraffic(t)).toMatch(/^7 requests on \S+ in the 5 min to \d\d:\d\d:\d\dZ \(.*\); the last 180 s are not yet delivered by CloudWatch: unknown, not counted as quiet$/);
    expect(of(decide([live, old], events, MAIN, 50, NOW, 60_000, { traffic: new Map([[old.EnvironmentName, t]]) }), old).action).toBe('keep');
  });

  it('says one request in the singular', () => {
    expect(describeTraffic(traffic(1))).toMatch(/^1 request on /);
  });
});

describe('albDimension', () => {
  it("is the ARN's app/<name>/<id>, CloudWatch's LoadBalancer dimension", () => {
    expect(albDimension(`arn:aws:elasticloadbalancing:${REGION}:123456789012:loadbalancer/${LB}`)).toBe(LB);
    expect(albDimension(`arn:aws-cn:elasticloadbalancing:cn-north-1:123456789012:loadbalancer/${LB}`)).toBe(LB);
  });

  it('is undefined for a Classic load balancer (a bare name) or a Network one', () => {
    expect(albDimension('awseb-e-x-AWSEBLoa-1ABCDEF')).toBeUndefined();
    expect(albDimension(`arn:aws:elasticloadbalancing:${REGION}:123456789012:loadbalancer/net/x/1`)).toBeUndefined();
  });
});
