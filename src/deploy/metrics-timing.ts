// When CloudWatch surely has a load balancer's datapoints: the period they come in and how
// late each one arrives (aws-rules.md R101; issue 19 item 3). The bake waits for them and the
// drain check leaves out the minutes not yet delivered, both by these figures.
//
// AWS: an ALB "measures and sends its metrics in 60-second intervals" (ELB User Guide,
// "CloudWatch metrics for your Application Load Balancer",
// https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-cloudwatch-metrics.html),
// each datapoint stamped with its minute's start and sent after that minute; CloudWatch's
// 1-minute metrics are readable "about 2 minutes" later (Datadog, "Cloud Metric Delay",
// https://docs.datadoghq.com/integrations/guide/cloud-metric-delay/; AWS publishes no figure).
// In a sandbox: its --metrics-period and --metrics-lag, read from its status page.
import type { Ctx } from '../context.js';
import { sandboxStrict } from './environments.js';

/** An ALB's metrics period on AWS. */
export const AWS_METRICS_PERIOD_MS = 60_000;
/** How long after its minute ends an ALB's datapoint is surely readable on AWS (R101). */
export const AWS_METRICS_LAG_MS = 120_000;

export interface MetricsTiming {
  /** One datapoint per period, stamped with the period's start. */
  periodMs: number;
  /** How long after its period ends a datapoint is surely readable. */
  lagMs: number;
}

/**
 * AWS's figures, or the sandbox's own (`strict.metricsPeriodMs`, `strict.metricsLagMs` of
 * /_sandbox/status). A figure the sandbox does not give is AWS's: the longer wait is the safe side.
 */
export async function metricsTiming(ctx: Pick<Ctx, 'sandbox'>): Promise<MetricsTiming> {
  const s = await sandboxStrict(ctx);
  return {
    periodMs: typeof s.metricsPeriodMs === 'number' && s.metricsPeriodMs > 0 ? s.metricsPeriodMs : AWS_METRICS_PERIOD_MS,
    lagMs: typeof s.metricsLagMs === 'number' && s.metricsLagMs >= 0 ? s.metricsLagMs : AWS_METRICS_LAG_MS,
  };
}

/**
 * How far back from now a window of datapoints may still be incomplete: a request at time t
 * is in the datapoint of the period around t, which ends up to one period after t and is
 * readable `lagMs` after that. So everything before now − (period + lag) is in; what is after
 * is unknown, never zero.
 */
export function undeliveredMs(t: MetricsTiming): number {
  return t.periodMs + t.lagMs;
}
