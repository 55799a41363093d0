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
