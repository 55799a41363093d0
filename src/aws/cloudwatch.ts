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
// - a minute's datapoint is sent after that minute, so the newest one arrives late (a minute
//   or more); get-metric-statistics rounds a StartTime under 15 days old down to the whole
//   minute (CloudWatch API Reference, GetMetricStatistics), which only widens the window.
// So a quiet window proves quiet only beyond the newest minute or two: keep it well above
// that on AWS (nova.DRAIN_QUIET_MINUTES, default 5).
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
