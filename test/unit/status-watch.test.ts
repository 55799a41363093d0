// status --watch (issue 22 item 9): the rows are EB's figures, turned into the view's units.
import { describe, expect, it } from 'vitest';
import type { Environment } from '../../src/aws/eb.js';
import { countdown, watchLines, watchRows } from '../../src/commands/status-watch.js';

const MAIN = 'dv-nova.ap-northeast-2.elasticbeanstalk.com';
const env = (name: string, cname: string, over: Partial<Environment> = {}): Environment => ({
  EnvironmentName: name,
  EnvironmentId: `e-${name.slice(-6)}`,
  ApplicationName: 'dv',
  CNAME: cname,
  Status: 'Ready',
  Health: 'Green',
  VersionLabel: `v-${name}`,
  DateCreated: '2026-12-01T00:00:00Z',
  ...over,
});

describe('status --watch', () => {
  const live = env('nova-1796300000', MAIN);
  const held = env('nova-1796300100', 'dv-nova-1796300100.ap-northeast-2.elasticbeanstalk.com');
  const old = env('nova-1796200000', 'dv-nova-1796300000.ap-northeast-2.elasticbeanstalk.com');
  const swappedAt = new Date('2026-12-03T10:00:00Z');
  const ledger = { swaps: [{ from: old.EnvironmentName, to: live.EnvironmentName, at: swappedAt }], holds: new Map([[held.EnvironmentName, '2026-12-03T10:05:00Z']]) } as any;
  const heldTags = new Map([[held.EnvironmentName, '2026-12-03T10:05:00Z'], [old.EnvironmentName, undefined]]);

  it('rows: role from the main CNAME and the history; req/s over EB\'s window, 5xx share, P99 in ms; removable after the grace', () => {
    const metrics = new Map([
      [live.EnvironmentName, { Duration: 10, RequestCount: 123, StatusCodes: { Status2xx: 99, Status5xx: 1 }, Latency: { P99: 0.0456 } }],
      [old.EnvironmentName, { Duration: 10, RequestCount: 0 }],
    ]);
    const rows = watchRows([live, held, old, env('nova-1796100000', 'x.elasticbeanstalk.com', { Status: 'Terminated' })], metrics, MAIN, ledger, heldTags, 60);
    expect(rows.map((r) => [r.role, r.name])).toEqual([
      ['held', held.EnvironmentName],
      ['live', live.EnvironmentName],
      ['old', old.EnvironmentName],
    ]);
    const l = rows.find((r) => r.role === 'live')!;
    expect(l).toMatchObject({ requestsPerSecond: 12.3, status5xxPercent: 1, p99Ms: 46, state: 'Ready/Green' });
    expect(l.removableAt).toBeUndefined();
    expect(rows.find((r) => r.role === 'held')!.removableAt).toBeUndefined();
    expect(rows.find((r) => r.role === 'old')).toMatchObject({ requestsPerSecond: 0, removableAt: '2026-12-03T11:00:00.000Z' });
  });

  it('the view: a header with the time and the interval, a table, the lock; the drain countdown', () => {
    const rows = watchRows([live, old], new Map(), MAIN, ledger, heldTags, 60);
    const lines = watchLines('dv', MAIN, rows, { state: 'free' } as any, new Date('2026-12-03T10:48:00Z'), 5);
    expect(lines[0]).toBe(`phase dv at 10:48:00Z, every 5 s (Ctrl-C to stop); main CNAME ${MAIN}`);
    expect(lines[1]).toMatch(/^\s+ROLE\s+ENVIRONMENT\s+STATE\s+VERSION\s+REQ\/S\s+5XX\s+P99\s+DRAIN$/);
    expect(lines.find((l) => l.includes(old.EnvironmentName))).toMatch(/removable in 12 min once drained$/);
    expect(lines.at(-1)).toBe('  lock: free');
    expect(countdown('2026-12-03T10:48:30Z', Date.parse('2026-12-03T10:48:00Z'))).toBe('in 30 s');
    expect(countdown('2026-12-03T10:00:00Z', Date.parse('2026-12-03T10:48:00Z'))).toBe('now');
  });
});
