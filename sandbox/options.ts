// The sandbox's settings as types of their own, so that the parts (front, router, the EB
// emulator) read them without importing server.ts, which builds those parts.
export interface SandboxDelays {
  launchMs?: number;
  swapMs?: number;
  terminateMs?: number;
  launchTimeoutMs?: number;
}

/**
 * AWS behaviours the sandbox reproduces. They are always on (strict by default): these
 * settings only tune how long AWS's delays last here, or add faults. Each rule cites its
 * source where it is enforced; docs/aws-rules.md collects them.
 */
export interface StrictOptions {
  /** A NAT gateway stays `pending` (and `deleting`) this long (--nat-delay, seconds; AWS: minutes). */
  natDelayMs: number;
  /** EB's load balancer and instance interfaces outlive their environment this long (--eni-linger; AWS: minutes). */
  eniLingerMs: number;
  /** A new IAM role or instance profile is invisible to EC2 and EB this long (--iam-delay; AWS: seconds). */
  iamDelayMs: number;
  /** Fraction of mutating requests performed and then answered by a dropped connection (--lose-responses). */
  loseResponses: number;
  /** How long a client keeps the environment its last CNAME lookup gave it (--dns-ttl; AWS: 60 s). */
  dnsTtlMs: number;
  /** CNAME prefixes held by another account in the region (--taken-cnames). */
  takenCnames: string[];
  /** Launches pass through Severe health for a few seconds before Ok (--launch-health-blip). */
  launchHealthBlip: boolean;
  /**
   * How often each load balancer's request count reaches CloudWatch (--metrics-period,
   * seconds; AWS: 60): one datapoint a period, sent once the period is over.
   */
  metricsPeriodMs: number;
  /**
   * How long after its period ends a load balancer's datapoint becomes readable in CloudWatch
   * (--metrics-lag, seconds; AWS: 120, R101): until then get-metric-statistics does not have it
   * (issue 19 item 3). 2 minutes is the figure the bake has always waited on AWS
   * (src/deploy/metrics-timing.ts AWS_METRICS_LAG_MS), from the delay CloudWatch consumers
   * observe for 1-minute metrics ("about 2 minutes", R101's source).
   */
  metricsLagMs: number;
  /**
   * Clients (source addresses) whose resolver keeps a CNAME's first answer forever, ignoring
   * the TTL (--dns-ignore-ttl): a JVM with networkaddress.cache.ttl=-1, the default under a
   * security manager, does this; AWS tells Java clients to set a TTL for that reason.
   */
  dnsIgnoreTtlClients: string[];
  /**
   * The caller's IAM policy files (--policies; the config's sandbox.POLICIES): [] is the
   * documented set (the EB managed policy + examples/iam-policy.json), ['admin'] allows
   * everything. Every request is evaluated against them (sandbox/iam/, R30).
   */
  policies: string[];
  /**
   * How long EB keeps events (--event-retention-minutes; AWS: 6 weeks, "Returns list of event
   * descriptions matching criteria up to the last 6 weeks", DescribeEvents API reference, R51).
   */
  eventRetentionMs: number;
  /**
   * Multiplies every API rate limit's burst and refill (--rate-scale; R90–R95). The rule is
   * always on: 1 is AWS's rates, 10 ten times kinder, 0.5 twice as strict.
   */
  rateScale: number;
  /**
   * Requests a minute that scanners and bots send to every Ready environment's load balancer
   * (--background-traffic; issue 19 item 4). 0 (off) by default: how much an internet-facing
   * load balancer gets varies, and none reaches an internal one.
   */
  backgroundPerMinute: number;
  /**
   * How far AWS's clock is ahead of this machine's (--clock-skew, seconds; negative: behind).
   * Every time AWS answers is shifted by it: EB's DateCreated, DateUpdated, EventDate,
   * SampleTimestamp..., CloudWatch's datapoints, and every answer's HTTP Date header; every
   * time a caller sends (describe-events --start-time, CloudWatch's StartTime/EndTime and
   * Timestamps) is read in AWS's time (R103). 0 by default: a fault, like the others.
   */
  clockSkewMs: number;
  /**
   * How long a new DynamoDB table stays CREATING (--table-create-delay, seconds; R63): its
   * items can be neither read nor written until it is ACTIVE. AWS gives no figure; 5 s is a
   * small on-demand table's usual few seconds (unconfirmed). Any delay at all makes the aws
   * CLI's `dynamodb wait table-exists` sleep its 20 s poll once.
   */
  tableCreateMs: number;
}

export const STRICT_DEFAULTS: StrictOptions = {
  natDelayMs: 3000,
  eniLingerMs: 3000,
  iamDelayMs: 3000,
  loseResponses: 0,
  dnsTtlMs: 5000,
  takenCnames: [],
  launchHealthBlip: false,
  metricsPeriodMs: 60_000,
  metricsLagMs: 120_000,
  dnsIgnoreTtlClients: [],
  policies: [],
  eventRetentionMs: 42 * 24 * 3600 * 1000,
  rateScale: 1,
  backgroundPerMinute: 0,
  clockSkewMs: 0,
  tableCreateMs: 5000,
};
