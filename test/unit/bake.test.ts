// Issue 21: the bake's pieces that need no AWS: a minute's verdict, the bake's verdict, the
// history's record of a swap back, the sandbox's ALB metrics, and Nova's fault switch.
import { describe, expect, it } from 'vitest';
import { judgeMinute, verdictOf, type MinuteFigures } from '../../src/deploy/bake.js';
import { buildRecord, factsFromResult, formatRecord, ledgerOf, type HistoryRecord } from '../../src/deploy/history.js';
import { RequestMetrics } from '../../sandbox/eb/request-metrics.js';
import { EbStore, type Environment } from '../../sandbox/eb/store.js';
import { createHandler, faultActive, readSettings } from '../../nova/src/app.js';
import { BakeFailedError } from '../../src/deploy/bake.js';

const T = { maxPercent: 1, maxP99Ms: 500, minRequests: 20 };

describe('judgeMinute', () => {
  it('judges the 5xx share and p99 only with enough requests; health and alarms always', () => {
    expect(judgeMinute({ requests: 100, errors5xx: 1 }, 'Ok', [], T)).toEqual({ errorPercent: 1, judged: true, bad: [] });
    expect(judgeMinute({ requests: 100, errors5xx: 2, p99Ms: 501 }, 'Ok', [], T).bad).toEqual(['5xx 2% > 1%', 'p99 501 ms > 500 ms']);
    // Too few requests: 5 of 10 failing is not judged, but Degraded health and an alarm are.
    expect(judgeMinute({ requests: 10, errors5xx: 5, p99Ms: 900 }, 'Degraded', ['a'], T)).toEqual({ errorPercent: 50, judged: false, bad: ['health Degraded', 'alarm a in ALARM'] });
    expect(judgeMinute({ requests: 0, errors5xx: 0 }, 'Ok', [], T)).toEqual({ errorPercent: undefined, judged: false, bad: [] });
  });
});

describe('verdictOf', () => {
  const m = (bad: boolean, judged = true) => ({ bad: bad ? ['x'] : [], judged }) as MinuteFigures;
  it('swaps back at the failure limit, not before; one noisy minute passes', () => {
    expect(verdictOf([m(true)], 5, 2)).toBeUndefined();
    expect(verdictOf([m(true), m(false), m(true)], 5, 2)).toBe('rolled back');
    expect(verdictOf([m(true), m(false), m(false), m(false), m(false)], 5, 2)).toBe('passed');
  });
  it('is inconclusive, never "passed", with fewer than half the minutes judged', () => {
    expect(verdictOf([m(false, false), m(false, false), m(false, false), m(false), m(false)], 5, 2)).toBe('inconclusive');
    expect(verdictOf([m(false, false), m(false, false), m(false), m(false), m(false)], 5, 2)).toBe('passed');
  });
});

describe('the history of a bake', () => {
  const facts = { newEnvironment: 'nova-2', oldEnvironment: 'nova-1', versionLabel: 'v2', swappedAt: '2026-12-01T04:00:10.000Z' };
  it('records a swap back from the error of a failed bake: both swaps in the ledger, the figures in the line', () => {
    const error = new BakeFailedError('rolled back by bake: ...', 'inspect', { ...facts, bake: 'rolled back', bakeFigures: 'minute 2: 5xx 50% > 1% (40 requests)', swappedBackAt: '2026-12-01T04:00:30.000Z' });
    const r = buildRecord({ phase: 'dv', command: 'create_nova', startedAt: new Date('2026-12-01T04:00:00Z'), finishedAt: new Date('2026-12-01T04:01:00Z'), error, calls: [], env: {}, cwd: '/', who: 'u@h', suffix: '0000' });
    expect(r).toMatchObject({ outcome: 'failed', exitCode: 1, newEnvironment: 'nova-2', oldEnvironment: 'nova-1', swappedAt: facts.swappedAt, bake: 'rolled back', swappedBackAt: '2026-12-01T04:00:30.000Z' });
    expect(formatRecord(r)).toMatch(/rolled back by bake: minute 2: 5xx 50% > 1% \(40 requests\)/);
    const ledger = ledgerOf([r as HistoryRecord]);
    expect(ledger.swaps.map((s) => `${s.from}->${s.to}`)).toEqual(['nova-2->nova-1', 'nova-1->nova-2']);
  });
  it("takes a passed bake's verdict from the result", () => {
    expect(factsFromResult({ ...facts, bake: { verdict: 'passed', summary: 's' } }).bake).toBe('passed');
  });
});

describe("the sandbox's ALB metrics", () => {
  it('publishes RequestCount, the 5xx counts of target and load balancer, and the response times as values', async () => {
    const store = new EbStore('ap-northeast-2');
    const e = { id: 'e-abc123', name: 'nova-1', cname: 'x', status: 'Ready', resources: { loadBalancerName: 'awseb-1', loadBalancerGroup: { id: 'sg', name: 'g', ours: true } } } as unknown as Environment;
    store.environments.push(e);
    const sent: Record<string, string>[] = [];
    const m = new RequestMetrics(store, { query: async (_s: string, _a: string, p: Record<string, string>) => void sent.push(p) } as never, 50);
    m.start();
    m.record(e, 200, 10);
    m.record(e, 200, 10);
    m.record(e, 500, 30);
    m.record(e, 502, 1, Date.now(), true);
    await new Promise((r) => setTimeout(r, 120));
    await m.close();
    const p = sent[0];
    const byName = (n: string) => Object.keys(p).find((k) => k.endsWith('.MetricName') && p[k] === n)!.replace('.MetricName', '');
    expect(p[`${byName('RequestCount')}.Value`]).toBe('4');
    expect(p[`${byName('HTTPCode_Target_5XX_Count')}.Value`]).toBe('1');
    expect(p[`${byName('HTTPCode_ELB_5XX_Count')}.Value`]).toBe('1');
    const t = byName('TargetResponseTime');
    expect(p[`${t}.Unit`]).toBe('Seconds');
    expect([p[`${t}.Values.member.1`], p[`${t}.Counts.member.1`], p[`${t}.Values.member.2`], p[`${t}.Counts.member.2`]]).toEqual(['0.01', '2', '0.03', '1']);
    expect(p[`${t}.Values.member.3`]).toBeUndefined();
  });
});

describe("Nova's fault switch", () => {
  it('is off by default, and on after its uptime', () => {
    expect(readSettings({}).fault).toEqual({ errorShare: 0, latencyMs: 0, afterS: 0 });
    const s = readSettings({ NOVA_FAULT_ERROR_SHARE: '1', NOVA_FAULT_AFTER_S: '30' });
    expect(faultActive(s, 29)).toBe(false);
    expect(faultActive(s, 30)).toBe(true);
    expect(faultActive(readSettings({ NOVA_FAULT_AFTER_S: '1' }), 99)).toBe(false);
  });
  it('answers 500 once on', async () => {
    const s = { ...readSettings({ NOVA_FAULT_ERROR_SHARE: '1' }), noEchoFile: '/nonexistent' };
    const status = (uptime: number) =>
      new Promise<number>((resolve) => {
        const res = { statusCode: 0, setHeader() {}, on() {}, writeHead(code: number) { this.statusCode = code; }, end() { resolve(this.statusCode); } };
        createHandler({ ...s, fault: { ...s.fault, afterS: 10 } }, () => {}, () => uptime)({ url: '/echo/', method: 'GET' } as never, res as never);
      });
    expect(await status(5)).toBe(200);
    expect(await status(11)).toBe(500);
  });
});

describe('--no-bake', () => {
  it('skips the bake and says so, naming the rollback', async () => {
    const { bakeAfterSwap } = await import('../../src/deploy/bake.js');
    const warned: string[] = [];
    const ctx = { config: { nova: { BAKE_MINUTES: 10 } }, log: { warn: (t: string) => warned.push(t) } } as never;
    const b = { versionLabel: 'v2', oldEnvironment: 'nova-1' } as never;
    expect(await bakeAfterSwap(ctx, true, b)).toMatchObject({ verdict: 'skipped', summary: 'skipped (--no-bake)' });
    expect(warned).toEqual(['no bake (--no-bake): nothing watches v2 under traffic; ./run rollback swaps back to nova-1 while it lives']);
    const noted: string[] = [];
    const off = { config: { nova: { BAKE_MINUTES: 0 } }, log: { info: (t: string) => noted.push(t) } } as never;
    expect(await bakeAfterSwap(off, false, b)).toMatchObject({ verdict: 'skipped', summary: 'skipped (nova.BAKE_MINUTES is 0)' });
    expect(noted).toEqual(['  no bake (nova.BAKE_MINUTES is 0): nothing watches v2 under traffic; ./run rollback swaps back to nova-1 while it lives']);
  });
});

describe('status: a bake in progress', () => {
  it("is the lock's create_nova that has swapped in the environment it made", async () => {
    const { bakingNow } = await import('../../src/commands/status.js');
    const lock = { state: 'held', holder: { phase: 'dv', holder: 'u@h:1:ab', command: 'create_nova', startedAt: '2026-12-01T04:00:00.000Z', expiresAt: 0 } } as never;
    const made = { EnvironmentName: 'nova-2', VersionLabel: 'v2', DateCreated: '2026-12-01T04:01:00.000Z' } as never;
    const before = { EnvironmentName: 'nova-1', VersionLabel: 'v1', DateCreated: '2026-11-30T04:01:00.000Z' } as never;
    expect(bakingNow(lock, made, 10)).toBe("u@h:1:ab's create_nova (since 2026-12-01T04:00:00.000Z) swapped in nova-2 (v2) and is baking it or finishing (nova.BAKE_MINUTES here: 10)");
    expect(bakingNow(lock, before, 10)).toBeUndefined();
    expect(bakingNow({ state: 'free' } as never, made, 10)).toBeUndefined();
  });
});
