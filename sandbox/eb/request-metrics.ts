// What each environment's load balancer would report: the router counts the requests it
// hands to an environment's app, and this module publishes them as AWS does.
// - To CloudWatch (moto), as the ALB's `AWS/ApplicationELB` RequestCount with the dimension
//   LoadBalancer = `app/<name>/<id>`: one datapoint per period (--metrics-period, default
//   60 s as on AWS), stamped with the period's start and readable only --metrics-lag after the
//   period is over (default 120 s, AWS's delivery lag, R101; issue 19 item 3), so the newest
//   traffic shows late, as on AWS; and none for a period without
//   requests ("If there are no requests flowing through the load balancer ... the metric is
//   not reported": https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-cloudwatch-metrics.html).
//   Requests the load balancer answers itself without choosing a target (503 while
//   terminating, 502 once gone) are not counted, as AWS does not count them.
//   With it, as AWS names them (same page): HTTPCode_Target_5XX_Count (5xx answers of the
//   target), HTTPCode_ELB_5XX_Count (5xx the load balancer makes itself, here a 502 when the
//   target's connection fails), both Sum and reported only for periods that had some, and
//   TargetResponseTime (seconds from the request leaving the load balancer to the target's
//   answer headers), published as the period's values so that percentiles (p99) can be
//   computed from them, as CloudWatch does from an ALB's (moto's percentiles: R100).
// - To describe-environment-health's ApplicationMetrics: the last 10 seconds (EB API
//   reference, ApplicationMetrics: "usually 10 seconds").
import type { EbStore, Environment } from './store.js';
import type { MotoClient } from '../moto-client.js';

const ACCOUNT_ID = '123456789012';

/** EB's load balancer of the environment, as describe-environment-resources names it (an ALB's ARN). */
export function loadBalancerArn(region: string, environment: Pick<Environment, 'id' | 'resources'>): string | undefined {
  if (!environment.resources?.loadBalancerGroup) return undefined;
  return `arn:aws:elasticloadbalancing:${region}:${ACCOUNT_ID}:loadbalancer/app/${environment.resources.loadBalancerName}/${environment.id.slice(2)}`;
}

/** CloudWatch's LoadBalancer dimension: the ARN's `app/<name>/<id>`. */
export function loadBalancerDimension(arn: string): string {
  return arn.slice(arn.indexOf(':loadbalancer/') + ':loadbalancer/'.length);
}

interface Request {
  at: number;
  status: number;
  ms: number;
}

/** One load balancer's period: what its CloudWatch datapoints are made of. */
interface Period {
  requests: number;
  target5xx: number;
  elb5xx: number;
  /** Target response times, in ms (none for the load balancer's own answers). */
  times: number[];
}

/** CloudWatch takes at most 150 distinct values in one MetricDatum's Values (PutMetricData API Reference). */
const MAX_VALUES = 150;

/** The window ApplicationMetrics covers (EB: "usually 10 seconds"). */
export const APPLICATION_METRICS_WINDOW_S = 10;

export interface ApplicationMetrics {
  Duration: number;
  RequestCount: number;
  StatusCodes?: { Status2xx: number; Status3xx: number; Status4xx: number; Status5xx: number };
  Latency?: Record<'P999' | 'P99' | 'P95' | 'P90' | 'P85' | 'P75' | 'P50' | 'P10', number>;
}

export class RequestMetrics {
  /** Requests counted in the current period, by environment id. */
  private readonly pending = new Map<string, Period>();
  /** The last seconds' requests, by environment id, for ApplicationMetrics. */
  private readonly recent = new Map<string, Request[]>();
  private periodStart = Date.now();
  private timer?: NodeJS.Timeout;
  private publishing: Promise<void> = Promise.resolve();
  /** Periods over but not yet delivered (--metrics-lag): dropped if the sandbox stops first. */
  private readonly delivering = new Set<NodeJS.Timeout>();

  constructor(
    private readonly store: EbStore,
    private readonly moto: Pick<MotoClient, 'query'>,
    private readonly periodMs: number,
    private readonly lagMs = 0,
  ) {}

  start(): void {
    this.periodStart = Date.now();
    this.timer = setInterval(() => {
      this.publishing = this.publishing.then(() => this.publish());
    }, this.periodMs);
    this.timer.unref();
  }

  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    for (const t of this.delivering) clearTimeout(t);
    this.delivering.clear();
    await this.publishing;
  }

  /**
   * One request the load balancer handed to the environment's app, with the answer's status;
   * `elb`: the load balancer answered it itself after choosing the target (its connection failed).
   */
  record(environment: Environment, status: number, ms: number, now = Date.now(), elb = false): void {
    const p = this.pending.get(environment.id) ?? { requests: 0, target5xx: 0, elb5xx: 0, times: [] };
    p.requests++;
    if (status >= 500 && status < 600) {
      if (elb) p.elb5xx++;
      else p.target5xx++;
    }
    if (!elb) p.times.push(ms);
    this.pending.set(environment.id, p);
    const list = this.recent.get(environment.id) ?? [];
    list.push({ at: now, status, ms });
    const cutoff = now - APPLICATION_METRICS_WINDOW_S * 1000;
    while (list.length && list[0].at < cutoff) list.shift();
    this.recent.set(environment.id, list);
  }

  /** describe-environment-health's ApplicationMetrics: requests, status classes (percent) and latency (s) of the last 10 s. */
  applicationMetrics(environmentId: string, now = Date.now()): ApplicationMetrics {
    const cutoff = now - APPLICATION_METRICS_WINDOW_S * 1000;
    const list = (this.recent.get(environmentId) ?? []).filter((r) => r.at >= cutoff);
    const metrics: ApplicationMetrics = { Duration: APPLICATION_METRICS_WINDOW_S, RequestCount: list.length };
    if (!list.length) return metrics;
    const share = (k: number) => Math.round((100 * list.filter((r) => Math.floor(r.status / 100) === k).length) / list.length);
    metrics.StatusCodes = { Status2xx: share(2), Status3xx: share(3), Status4xx: share(4), Status5xx: share(5) };
    // "The average latency for the slowest X percent of requests", in seconds, to the millisecond.
    const slowestFirst = list.map((r) => r.ms / 1000).sort((a, b) => b - a);
    const slowest = (percent: number) => {
      const n = Math.max(1, Math.ceil((slowestFirst.length * percent) / 100));
      return Math.round((slowestFirst.slice(0, n).reduce((a, b) => a + b, 0) / n) * 1000) / 1000;
    };
    metrics.Latency = { P999: slowest(0.1), P99: slowest(1), P95: slowest(5), P90: slowest(10), P85: slowest(15), P75: slowest(25), P50: slowest(50), P10: slowest(90) };
    return metrics;
  }

  /**
   * The period just over: one RequestCount datapoint per load balancer that had requests,
   * delivered to CloudWatch `lagMs` later. The load balancer is named now: an environment
   * terminated meanwhile still has its last minutes delivered, as an ALB's are on AWS.
   */
  private async publish(): Promise<void> {
    const periodStart = this.periodStart;
    this.periodStart = Date.now();
    const counts = [...this.pending];
    this.pending.clear();
    const due: { id: string; dimension: string; period: Period }[] = [];
    for (const [id, period] of counts) {
      const environment = this.store.byId(id);
      const arn = environment && loadBalancerArn(this.store.region, environment);
      if (arn && period.requests > 0) due.push({ id, dimension: loadBalancerDimension(arn), period });
    }
    if (!due.length) return;
    const deliver = async () => {
      for (const d of due) {
        try {
          await this.put(d.dimension, d.period, new Date(periodStart));
        } catch (error) {
          console.error(`sandbox: could not publish the load balancer metrics for ${d.id}: ${(error as Error).message}`);
        }
      }
    };
    if (this.lagMs <= 0) return deliver();
    const timer = setTimeout(() => {
      this.delivering.delete(timer);
      this.publishing = this.publishing.then(deliver);
    }, this.lagMs);
    timer.unref();
    this.delivering.add(timer);
  }

  /** PutMetricData to moto's CloudWatch, as the load balancer's own reporting does on AWS. */
  private async put(dimension: string, p: Period, at: Date): Promise<void> {
    const params: Record<string, string> = { Namespace: 'AWS/ApplicationELB' };
    let n = 0;
    const datum = (name: string, unit: string, values: Record<string, string>) => {
      n++;
      const m = `MetricData.member.${n}`;
      params[`${m}.MetricName`] = name;
      params[`${m}.Unit`] = unit;
      params[`${m}.Timestamp`] = at.toISOString();
      params[`${m}.Dimensions.member.1.Name`] = 'LoadBalancer';
      params[`${m}.Dimensions.member.1.Value`] = dimension;
      for (const [k, v] of Object.entries(values)) params[`${m}.${k}`] = v;
    };
    datum('RequestCount', 'Count', { Value: String(p.requests) });
    if (p.target5xx) datum('HTTPCode_Target_5XX_Count', 'Count', { Value: String(p.target5xx) });
    if (p.elb5xx) datum('HTTPCode_ELB_5XX_Count', 'Count', { Value: String(p.elb5xx) });
    // The period's response times, to the millisecond, as values with counts.
    const counts = new Map<number, number>();
    for (const ms of p.times) counts.set(Math.round(ms) / 1000, (counts.get(Math.round(ms) / 1000) ?? 0) + 1);
    const distinct = [...counts];
    for (let i = 0; i < distinct.length; i += MAX_VALUES) {
      const values: Record<string, string> = {};
      distinct.slice(i, i + MAX_VALUES).forEach(([v, c], j) => {
        values[`Values.member.${j + 1}`] = String(v);
        values[`Counts.member.${j + 1}`] = String(c);
      });
      datum('TargetResponseTime', 'Seconds', values);
    }
    await this.moto.query('monitoring', 'PutMetricData', params);
  }
}
