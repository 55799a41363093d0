// R90–R95 (docs/aws-rules.md, issue 23): AWS's API rate limits. AWS throttles each account
// in each region with token buckets, one per API family of a service; a request that finds
// its bucket empty is refused with the service's throttling error and NOT performed, and the
// client (the aws CLI's standard retry mode) sends it again after a backoff. The sandbox does
// the same, on by default with AWS's rates; `rateScale` (--rate-scale) only tunes them.
import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import { throttlingAnswer, type FaultAnswer } from './faults.js';

/** One bucket: `burst` tokens at most, `perSecond` added back each second. */
export interface Rate {
  burst: number;
  perSecond: number;
  /** Where the figure comes from (or "unconfirmed"). */
  source: string;
}

const EB_SUPPORT = 'AWS support, quoted in aws/aws-toolkit-azure-devops #62';
const EC2_DOC = 'EC2 API reference, "Request throttling for the Amazon EC2 API" (token bucket sizes and refill rates)';

/**
 * The family a request's action belongs to, and that family's rate. Families share a bucket;
 * EC2 evaluates each API on its own (R91), so its family is the action itself.
 */
export function familyOf(service: string, action: string, method: string): { family: string; rate: Rate } | undefined {
  const read = /^(Describe|List|Get|Check|Validate|Lookup|Head)/.test(action);
  switch (service) {
    case 'elasticbeanstalk':
      // R90: Describe* ~2/s, burst 15, per account and region (support quote). The other
      // EB calls are rarer; their rate is unconfirmed, so they get the same figures, apart.
      return read
        ? { family: 'describe', rate: { burst: 15, perSecond: 2, source: EB_SUPPORT } }
        : { family: 'other', rate: { burst: 15, perSecond: 2, source: 'unconfirmed (EB publishes no rates; the Describe* quote reused)' } };
    case 'ec2':
      // R91: per API; non-mutating 100 tokens refilled 20/s, mutating 200 refilled 5/s.
      return read
        ? { family: action, rate: { burst: 100, perSecond: 20, source: EC2_DOC } }
        : { family: action, rate: { burst: 200, perSecond: 5, source: EC2_DOC } };
    case 'iam':
      // R92: IAM is global; AWS says it uses token buckets per API but publishes no figures.
      return { family: read ? 'read' : 'write', rate: { burst: 20, perSecond: 20, source: 'unconfirmed (IAM publishes no request rates; repost knowledge center iam-sts-throttling-error)' } };
    case 'sts':
      return { family: 'all', rate: { burst: 600, perSecond: 600, source: 'unconfirmed (commonly quoted STS figure)' } };
    case 'dynamodb':
      // R93: the control plane is throttled at 2,500 requests/s (DynamoDB developer guide,
      // "Best practices for managing the control plane"); the data plane is limited by
      // capacity (on demand: per-table throughput), not by a request rate, so it has no bucket.
      if (!/^(CreateTable|UpdateTable|DeleteTable|DescribeTable|ListTables|DescribeTimeToLive|UpdateTimeToLive|TagResource|UntagResource|ListTagsOfResource|DescribeContinuousBackups|UpdateContinuousBackups)$/.test(action)) return undefined;
      return { family: 'control-plane', rate: { burst: 2500, perSecond: 2500, source: 'DynamoDB developer guide, bp-control-plane' } };
    case 's3':
      // R94: 3,500 PUT/COPY/POST/DELETE and 5,500 GET/HEAD requests/s per prefix (S3 user
      // guide, "Best practices design patterns: optimizing Amazon S3 performance").
      return ['GET', 'HEAD'].includes(method)
        ? { family: 'get', rate: { burst: 5500, perSecond: 5500, source: 'S3 user guide, optimizing-performance' } }
        : { family: 'put', rate: { burst: 3500, perSecond: 3500, source: 'S3 user guide, optimizing-performance' } };
    case 'monitoring': {
      // R95: CloudWatch's per-API TPS quotas (CloudWatch service quotas page); others unconfirmed.
      const tps: Record<string, number> = { GetMetricStatistics: 400, GetMetricData: 50, PutMetricData: 500, ListMetrics: 25, DescribeAlarms: 9 };
      const n = tps[action];
      return { family: n ? action : 'other', rate: { burst: n ?? 20, perSecond: n ?? 20, source: n ? 'CloudWatch service quotas' : 'unconfirmed' } };
    }
    default:
      return undefined;
  }
}

/** The API action of a request: the Query form's Action, a JSON target's operation, or S3's method. */
export function actionOf(headers: IncomingHttpHeaders, method: string, body: string): string {
  const target = String(headers['x-amz-target'] ?? '');
  if (target) return target.split('.').pop() ?? '';
  const form = new URLSearchParams(body).get('Action');
  return form ?? method;
}

/**
 * Whose bucket: the caller's access key id stands in for its account (every phase of a
 * sandbox signs with the same keys, so they share one account's buckets, as phases of one
 * AWS account do), and the region of its credential scope. IAM and STS's figures are global.
 */
export function callerOf(req: Pick<IncomingMessage, 'headers' | 'url'>, service: string): string {
  const auth = String(req.headers.authorization ?? '');
  const m = /Credential=([^/,\s]+)\/\d{8}\/([^/]+)\//.exec(auth) ?? /^([^/]+)\/\d{8}\/([^/]+)\//.exec(new URL(req.url ?? '/', 'http://sandbox').searchParams.get('X-Amz-Credential') ?? '');
  const key = m?.[1] ?? 'anonymous';
  const region = service === 'iam' ? 'global' : (m?.[2] ?? 'us-east-1');
  return `${key}/${region}`;
}

interface Bucket {
  tokens: number;
  at: number;
}

/** What the rule did so far, per service: requests allowed and refused. Tests and the bench read it from /_sandbox/status. */
export type RateCounts = Record<string, { allowed: number; throttled: number }>;

export class RateLimits {
  private readonly buckets = new Map<string, Bucket>();
  readonly counts: RateCounts = {};

  /** `scale` multiplies every burst and refill (--rate-scale): tuning, never off. */
  constructor(private readonly scale = 1, private readonly now: () => number = () => Date.now()) {
    if (!(scale > 0)) throw new Error(`rateScale must be more than 0, got ${scale}`);
  }

  /** Takes a token for this request; false when its bucket is empty (the request is refused). */
  take(service: string, caller: string, action: string, method: string, bucketOf = ''): boolean {
    const f = familyOf(service, action, method);
    const count = (this.counts[service] ??= { allowed: 0, throttled: 0 });
    if (!f) {
      count.allowed++;
      return true;
    }
    const burst = Math.max(1, f.rate.burst * this.scale);
    const perMs = (f.rate.perSecond * this.scale) / 1000;
    const key = `${caller}|${service}|${f.family}|${bucketOf}`;
    const t = this.now();
    const b = this.buckets.get(key) ?? { tokens: burst, at: t };
    b.tokens = Math.min(burst, b.tokens + (t - b.at) * perMs);
    b.at = t;
    this.buckets.set(key, b);
    if (b.tokens < 1) {
      count.throttled++;
      return false;
    }
    b.tokens -= 1;
    count.allowed++;
    return true;
  }

  /**
   * The front's one call: undefined to go on, or the service's throttling answer (EB and
   * IAM/STS/CloudWatch `Throttling` "Rate exceeded" 400, EC2 `RequestLimitExceeded` 503,
   * DynamoDB `ThrottlingException` 400, S3 `SlowDown` 503: faults.ts).
   */
  check(service: string, req: IncomingMessage, body: Buffer): FaultAnswer | undefined {
    const method = req.method ?? 'GET';
    const action = actionOf(req.headers, method, body.toString('utf8'));
    const s3Bucket = service === 's3' ? (new URL(req.url ?? '/', 'http://sandbox').pathname.split('/')[1] ?? '') : '';
    if (this.take(service, callerOf(req, service), action, method, s3Bucket)) return undefined;
    return throttlingAnswer(service, req);
  }
}
