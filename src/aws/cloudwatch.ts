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
