// CloudWatch through the aws CLI: how many requests an environment's load balancer served.
// It takes the call (AwsCall) and goes through src/aws/cli.ts.
//
// AWS facts this reads by (Elastic Load Balancing User Guide, "CloudWatch metrics for your
// Application Load Balancer",
// https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-cloudwatch-metrics.html):
// - an ALB reports metrics only while requests flow through it, measured in 60-second
//   intervals; with no requests no datapoint is published, so no datapoint means zero;
// - RequestCount's only meaningful statistic is Sum; its dimension `LoadBalancer` is the
//   last part of the load balancer's ARN, `app/<name>/<id>`; health checks are not counted;
// - a minute's datapoint is sent after that minute, so the newest one arrives late (about 2
//   minutes, R101); get-metric-statistics rounds a StartTime under 15 days old down to the
//   whole minute (CloudWatch API Reference, GetMetricStatistics), which only widens the window.
// So the bake and the drain check ask only for windows CloudWatch has surely delivered
// (src/deploy/metrics-timing.ts).
import type { AwsCall } from './cli.js';

export const ALB_NAMESPACE = 'AWS/ApplicationELB';

/** `app/<name>/<id>` from an ALB's ARN (what EB's describe-environment-resources names); undefined for anything else. */
export function albDimension(arnOrName: string): string | undefined {
  const m = /^arn:aws[\w-]*:elasticloadbalancing:[^:]*:[^:]*:loadbalancer\/(app\/[^/]+\/[^/]+)$/.exec(arnOrName);
  return m?.[1];
}

export interface RequestCount {
  /** The sum of RequestCount over the window: 0 when CloudWatch has no datapoint. */
  requests: number;
  /** How many one-minute datapoints there were. */
  datapoints: number;
}

/** RequestCount (Sum) of one ALB between `start` and `end`, in 60 s periods. */
export async function albRequestCount(call: AwsCall, loadBalancer: string, start: Date, end: Date, purpose?: string): Promise<RequestCount> {
  const r = await call<{ Datapoints?: { Sum?: number }[] }>(
    [
      'cloudwatch', 'get-metric-statistics',
      '--namespace', ALB_NAMESPACE,
      '--metric-name', 'RequestCount',
      '--dimensions', `Name=LoadBalancer,Value=${loadBalancer}`,
      '--statistics', 'Sum',
      '--period', '60',
      '--start-time', start.toISOString(),
      '--end-time', end.toISOString(),
    ],
    { purpose },
  );
  const points = r.Datapoints ?? [];
  return { requests: points.reduce((sum, p) => sum + (p.Sum ?? 0), 0), datapoints: points.length };
}

/**
 * Whether CloudWatch has RequestCount for this load balancer at all. ListMetrics returns only
 * metrics with datapoints in the past two weeks ("ListMetrics doesn't return information about
 * metrics if those metrics haven't reported data in the past two weeks", CloudWatch API
 * Reference, ListMetrics, https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_ListMetrics.html),
 * and an ALB publishes RequestCount only for minutes with requests: none listed means the load
 * balancer was never measured (or not for two weeks), so a quiet window proves nothing (issue 20 item 17).
 */
export async function albRequestCountListed(call: AwsCall, loadBalancer: string, purpose?: string): Promise<boolean> {
  const r = await call<{ Metrics?: unknown[] }>(
    ['cloudwatch', 'list-metrics', '--namespace', ALB_NAMESPACE, '--metric-name', 'RequestCount', '--dimensions', `Name=LoadBalancer,Value=${loadBalancer}`],
    { purpose },
  );
  return (r.Metrics ?? []).length > 0;
}

/**
 * GetMetricStatistics' Period: "Valid values are 1, 5, 10, 30, or any multiple of 60"; and
 * "a single call can return a maximum of 1,440 data points" (CloudWatch API Reference,
 * GetMetricStatistics, https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_GetMetricStatistics.html).
 * The report checks both before it asks.
 */
export function isValidPeriod(seconds: number): boolean {
  return [1, 5, 10, 30].includes(seconds) || (Number.isInteger(seconds) && seconds > 0 && seconds % 60 === 0);
}
export const MAX_DATAPOINTS = 1440;

export interface Datapoint {
  /** The period's start (ms since the epoch). */
  at: number;
  value: number;
}

/**
 * A timestamp as the aws CLI prints it: ISO 8601 (AWS's answer as v1 passes it on, and v2's
 * default iso8601 format), or epoch seconds (a number: v2's --cli-timestamp-format wire for
 * some protocols, and what v1 prints of the sandbox's moto answer). Botocore's own parser
 * takes both; so does this.
 */
export function timestampMs(v: string | number | undefined): number {
  if (typeof v === 'number') return Math.round(v * 1000);
  if (typeof v === 'string' && /^\d+(\.\d+)?$/.test(v)) return Math.round(Number(v) * 1000);
  return Date.parse(v ?? '');
}

/** One ALB metric's Sum, period by period, oldest first: what a chart draws. */
export async function albMetricSeries(call: AwsCall, loadBalancer: string, metric: string, start: Date, end: Date, periodSeconds: number, purpose?: string): Promise<Datapoint[]> {
  const r = await call<{ Datapoints?: { Timestamp?: string | number; Sum?: number }[] }>(
    [
      'cloudwatch', 'get-metric-statistics',
      '--namespace', ALB_NAMESPACE,
      '--metric-name', metric,
      '--dimensions', `Name=LoadBalancer,Value=${loadBalancer}`,
      '--statistics', 'Sum',
      '--period', String(periodSeconds),
      '--start-time', start.toISOString(),
      '--end-time', end.toISOString(),
    ],
    { purpose },
  );
  return (r.Datapoints ?? [])
    .map((p) => ({ at: timestampMs(p.Timestamp), value: p.Sum ?? 0 }))
    .filter((p) => Number.isFinite(p.at))
    .sort((a, b) => a.at - b.at);
}

/**
 * One statistic of one ALB metric between `start` and `end`, in `periodSeconds` periods:
 * the datapoints as CloudWatch gives them. The ALB's HTTPCode_* counts are reported only for
 * periods that had some, so no datapoint means zero (the page above).
 */
async function albStatistic(
  call: AwsCall,
  metric: string,
  loadBalancer: string,
  start: Date,
  end: Date,
  periodSeconds: number,
  stat: { statistics: string[] } | { extended: string[] },
): Promise<{ Sum?: number; SampleCount?: number; ExtendedStatistics?: Record<string, number> }[]> {
  const r = await call<{ Datapoints?: { Sum?: number; SampleCount?: number; ExtendedStatistics?: Record<string, number> }[] }>(
    [
      'cloudwatch', 'get-metric-statistics',
      '--namespace', ALB_NAMESPACE,
      '--metric-name', metric,
      '--dimensions', `Name=LoadBalancer,Value=${loadBalancer}`,
      ...('statistics' in stat ? ['--statistics', ...stat.statistics] : ['--extended-statistics', ...stat.extended]),
      '--period', String(periodSeconds),
      '--start-time', start.toISOString(),
      '--end-time', end.toISOString(),
    ],
    { purpose: 'poll' },
  );
  return r.Datapoints ?? [];
}

/** What the bake judges of one minute of an ALB's traffic (the metric names are AWS's). */
export interface AlbMinute {
  /** RequestCount, Sum. */
  requests: number;
  /** HTTPCode_Target_5XX_Count + HTTPCode_ELB_5XX_Count, Sum. */
  errors5xx: number;
  /** TargetResponseTime p99, in ms; undefined when no target answered in the window. */
  p99Ms?: number;
}

/**
 * The figures of one ALB between `start` and `end`: four get-metric-statistics calls at
 * once (the one door, src/aws/cli.ts). Not one get-metric-data: EB's managed policy, which
 * the tool's documented permissions build on, grants cloudwatch:GetMetricStatistics and
 * DescribeAlarms but not GetMetricData (README "Using it on AWS"). A window of several periods adds up the counts and takes the
 * highest p99 of them (a percentile of percentiles is not one; the highest is the safe side).
 */
export async function albMinute(call: AwsCall, loadBalancer: string, start: Date, end: Date, periodSeconds: number): Promise<AlbMinute> {
  const sum = (points: { Sum?: number }[]) => points.reduce((a, p) => a + (p.Sum ?? 0), 0);
  const [requests, target5xx, elb5xx, latency] = await Promise.all([
    albStatistic(call, 'RequestCount', loadBalancer, start, end, periodSeconds, { statistics: ['Sum'] }),
    albStatistic(call, 'HTTPCode_Target_5XX_Count', loadBalancer, start, end, periodSeconds, { statistics: ['Sum'] }),
    albStatistic(call, 'HTTPCode_ELB_5XX_Count', loadBalancer, start, end, periodSeconds, { statistics: ['Sum'] }),
    albStatistic(call, 'TargetResponseTime', loadBalancer, start, end, periodSeconds, { extended: ['p99'] }),
  ]);
  const p99s = latency.map((p) => p.ExtendedStatistics?.p99).filter((v): v is number => typeof v === 'number');
  return {
    requests: sum(requests),
    errors5xx: sum(target5xx) + sum(elb5xx),
    p99Ms: p99s.length ? Math.round(Math.max(...p99s) * 1000) : undefined,
  };
}

/** A CloudWatch metric alarm's name and state (describe-alarms). */
export interface AlarmState {
  name: string;
  state: 'OK' | 'ALARM' | 'INSUFFICIENT_DATA' | string;
  reason?: string;
}

/** The named metric alarms and their states; a name CloudWatch does not know is left out. */
export async function alarmStates(call: AwsCall, names: string[]): Promise<AlarmState[]> {
  if (!names.length) return [];
  const r = await call<{ MetricAlarms?: { AlarmName: string; StateValue: string; StateReason?: string }[] }>(
    ['cloudwatch', 'describe-alarms', '--alarm-names', ...names],
    { purpose: 'poll' },
  );
  return (r.MetricAlarms ?? []).map((a) => ({ name: a.AlarmName, state: a.StateValue, reason: a.StateReason }));
}
