import type { IncomingMessage } from 'node:http';
import { describe, expect, it } from 'vitest';
import { RateLimits, actionOf, callerOf, familyOf } from '../../sandbox/rate-limits.js';

const signed = (service: string, key = 'sandbox', region = 'ap-northeast-2') =>
  ({ headers: { authorization: `AWS4-HMAC-SHA256 Credential=${key}/20250101/${region}/${service}/aws4_request, SignedHeaders=host, Signature=abc` }, url: '/', method: 'POST' }) as unknown as IncomingMessage;

describe('AWS rate limits (R90–R95)', () => {
  it("EB Describe*: a burst of 15, then 2 a second (AWS support's figures)", () => {
    let t = 0;
    const r = new RateLimits(1, () => t);
    const take = () => r.take('elasticbeanstalk', 'k/r', 'DescribeEnvironments', 'POST');
    expect(Array.from({ length: 16 }, take).filter(Boolean)).toHaveLength(15);
    t += 1000;
    expect([take(), take(), take()]).toEqual([true, true, false]);
    expect(r.counts.elasticbeanstalk).toEqual({ allowed: 17, throttled: 2 });
  });

  it('buckets are per account and region, and per family: describes do not starve the swap', () => {
    const r = new RateLimits(1, () => 0);
    for (let i = 0; i < 15; i++) r.take('elasticbeanstalk', 'k/a', 'DescribeEvents', 'POST');
    expect(r.take('elasticbeanstalk', 'k/a', 'DescribeEnvironments', 'POST')).toBe(false);
    expect(r.take('elasticbeanstalk', 'k/a', 'SwapEnvironmentCNAMEs', 'POST')).toBe(true);
    expect(r.take('elasticbeanstalk', 'k/b', 'DescribeEnvironments', 'POST')).toBe(true);
    expect(r.take('elasticbeanstalk', 'other/a', 'DescribeEnvironments', 'POST')).toBe(true);
  });

  it('EC2 evaluates each API on its own bucket (100 + 20/s non-mutating, 200 + 5/s mutating)', () => {
    expect(familyOf('ec2', 'DescribeVpcs', 'POST')).toMatchObject({ family: 'DescribeVpcs', rate: { burst: 100, perSecond: 20 } });
    expect(familyOf('ec2', 'CreateVpc', 'POST')).toMatchObject({ rate: { burst: 200, perSecond: 5 } });
    expect(familyOf('dynamodb', 'PutItem', 'POST')).toBeUndefined();
    expect(familyOf('dynamodb', 'DescribeTable', 'POST')?.rate.perSecond).toBe(2500);
    expect(familyOf('s3', 'GET', 'GET')?.rate.perSecond).toBe(5500);
    expect(familyOf('monitoring', 'GetMetricStatistics', 'POST')?.rate.perSecond).toBe(400);
  });

  it('--rate-scale tunes the figures (never below one token), and 0 is refused: the rule stays on', () => {
    const r = new RateLimits(0.01, () => 0);
    expect(r.take('elasticbeanstalk', 'k/r', 'DescribeEnvironments', 'POST')).toBe(true);
    expect(r.take('elasticbeanstalk', 'k/r', 'DescribeEnvironments', 'POST')).toBe(false);
    expect(() => new RateLimits(0)).toThrow(/rateScale/);
  });

  it("answers each service's throttling error and does not perform the request", () => {
    const r = new RateLimits(0.01, () => 0);
    const body = Buffer.from('Action=DescribeEnvironments&Version=2010-12-01');
    expect(r.check('elasticbeanstalk', signed('elasticbeanstalk'), body)).toBeUndefined();
    expect(r.check('elasticbeanstalk', signed('elasticbeanstalk'), body)).toMatchObject({ status: 400, body: expect.stringContaining('<Code>Throttling</Code><Message>Rate exceeded</Message>') });
    const ec2 = Buffer.from('Action=CreateVpc');
    r.check('ec2', signed('ec2'), ec2); // 200 x 0.01: two tokens
    r.check('ec2', signed('ec2'), ec2);
    expect(r.check('ec2', signed('ec2'), ec2)).toMatchObject({ status: 503, body: expect.stringContaining('RequestLimitExceeded') });
  });

  it('reads the caller, region and action from the request', () => {
    expect(callerOf(signed('ec2', 'AKID', 'eu-west-1'), 'ec2')).toBe('AKID/eu-west-1');
    expect(callerOf(signed('iam', 'AKID', 'us-east-1'), 'iam')).toBe('AKID/global');
    expect(actionOf({ 'x-amz-target': 'DynamoDB_20120810.GetItem' }, 'POST', '{}')).toBe('GetItem');
    expect(actionOf({}, 'POST', 'Action=DescribeVpcs')).toBe('DescribeVpcs');
  });
});
