// The sandbox's load balancer figures (issue 14 item 2): ApplicationMetrics of the last 10 s,
// the ALB's ARN and CloudWatch dimension, and resolvers that ignore the DNS TTL.
import { describe, expect, it, vi } from 'vitest';
import { MotoClient } from '../../sandbox/moto-client.js';
import { APPLICATION_METRICS_WINDOW_S, loadBalancerArn, loadBalancerDimension, RequestMetrics } from '../../sandbox/eb/request-metrics.js';
import { DnsCache } from '../../sandbox/router.js';
import { EbStore, type Environment } from '../../sandbox/eb/store.js';

const env = (over: Partial<Environment> = {}) =>
  ({ id: 'e-abc123', name: 'nova-1', cname: 'dv-nova.ap-northeast-2.elasticbeanstalk.com', status: 'Ready', resources: { loadBalancerName: 'awseb-AWSEB-1a2b3c', loadBalancerGroup: { id: 'sg-1', name: 'g', ours: true } }, ...over }) as unknown as Environment;

describe('RequestMetrics.applicationMetrics', () => {
  it('counts the last 10 s only, with status classes in percent and the slowest requests in seconds', () => {
    const m = new RequestMetrics(new EbStore('ap-northeast-2'), new MotoClient(1, 'ap-northeast-2'), 60_000);
    const e = env();
    const now = 1_000_000;
    m.record(e, 200, 999, now - (APPLICATION_METRICS_WINDOW_S + 1) * 1000); // too old
    for (let i = 0; i < 3; i++) m.record(e, 200, 10, now - 1000);
    m.record(e, 503, 100, now - 500);
    const a = m.applicationMetrics(e.id, now);
    expect(a).toMatchObject({ Duration: 10, RequestCount: 4, StatusCodes: { Status2xx: 75, Status3xx: 0, Status4xx: 0, Status5xx: 25 } });
    expect(a.Latency).toMatchObject({ P99: 0.1, P10: 0.033 });
  });

  it('is a zero count with no request, and nothing else', () => {
    expect(new RequestMetrics(new EbStore('ap-northeast-2'), new MotoClient(1, 'ap-northeast-2'), 60_000).applicationMetrics('e-none')).toEqual({ Duration: 10, RequestCount: 0 });
  });
});

describe("the environment's load balancer", () => {
  it('is named by its ARN, whose app/<name>/<id> is the CloudWatch dimension; none without one', () => {
    const arn = loadBalancerArn('ap-northeast-2', env())!;
    expect(arn).toBe('arn:aws:elasticloadbalancing:ap-northeast-2:123456789012:loadbalancer/app/awseb-AWSEB-1a2b3c/abc123');
    expect(loadBalancerDimension(arn)).toBe('app/awseb-AWSEB-1a2b3c/abc123');
    expect(loadBalancerArn('ap-northeast-2', env({ resources: undefined }))).toBeUndefined();
  });
});

describe('DnsCache with clients that ignore the TTL', () => {
  it('keeps their first answer after the TTL while others move on', () => {
    const store = new EbStore('ap-northeast-2');
    const a = env({ id: 'e-a', name: 'nova-a' });
    const b = env({ id: 'e-b', name: 'nova-b', cname: 'dv-nova-2.ap-northeast-2.elasticbeanstalk.com' });
    store.environments.push(a, b);
    const dns = new DnsCache(store, 5000, ['127.0.0.7']);
    const host = 'dv-nova.ap-northeast-2.elasticbeanstalk.com';
    expect(dns.resolve('127.0.0.7', host, 0)?.id).toBe('e-a');
    expect(dns.resolve('127.0.0.2', host, 0)?.id).toBe('e-a');
    // The swap: b now holds the main CNAME.
    [a.cname, b.cname] = [b.cname, a.cname];
    expect(dns.resolve('127.0.0.2', host, 6000)?.id).toBe('e-b');
    expect(dns.resolve('127.0.0.7', host, 600_000)?.id).toBe('e-a');
  });
});

describe('RequestMetrics delivers each period late (--metrics-lag; AWS: about 2 minutes, R101)', () => {
  it('a period is readable only the lag after it ends, stamped with its start; 0 delivers at once', async () => {
    vi.useFakeTimers();
    try {
      for (const lag of [3000, 0]) {
        const store = new EbStore('ap-northeast-2');
        const e = env();
        store.environments.push(e);
        const puts: Record<string, string>[] = [];
        const m = new RequestMetrics(store, { query: async (_s: string, _a: string, p: Record<string, string>) => (puts.push(p), '') } as never, 1000, lag);
        const start = Date.now();
        m.start();
        m.record(e, 200, 5);
        m.record(e, 200, 5);
        await vi.advanceTimersByTimeAsync(1000 + lag - 1);
        expect(puts, `lag ${lag}: not before`).toEqual([]);
        await vi.advanceTimersByTimeAsync(1);
        expect(puts).toHaveLength(1);
        expect(puts[0]['MetricData.member.1.MetricName']).toBe('RequestCount');
        expect(puts[0]['MetricData.member.1.Value']).toBe('2');
        expect(puts[0]['MetricData.member.1.Timestamp']).toBe(new Date(start).toISOString());
        await m.close();
      }
    } finally {
      vi.useRealTimers();
    }
  });

  it('a period still in delivery when the sandbox stops is dropped, not sent after close', async () => {
    vi.useFakeTimers();
    try {
      const store = new EbStore('ap-northeast-2');
      const e = env();
      store.environments.push(e);
      const puts: unknown[] = [];
      const m = new RequestMetrics(store, { query: async (_s: string, _a: string, p: unknown) => (puts.push(p), '') } as never, 1000, 5000);
      m.start();
      m.record(e, 200, 5);
      await vi.advanceTimersByTimeAsync(1500);
      await m.close();
      await vi.advanceTimersByTimeAsync(10_000);
      expect(puts).toEqual([]);
    } finally {
      vi.useRealTimers();
    }
  });
});
