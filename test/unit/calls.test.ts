// Issue 27: the calls AWS does not require are not made. The sweep for duplicates runs only
// for the kinds whose create the run log shows resent; the aws CLI's own resends are read
// from its --debug log (the lines below are the real format of aws-cli 1.45 / botocore).
import { describe, expect, it } from 'vitest';
import { splitDebug, type RunLogRecord } from '../../src/aws/cli.js';
import { storageBucketName } from '../../src/aws/eb.js';
import { kindsToSweep } from '../../src/infra/spares.js';
import { issueCount } from '../helpers/bench-phase.js';

const LINE = (msg: string) => `2026-12-03 10:31:17,726 - MainThread - ${msg}`;
const rec = (args: string[], extra: Partial<RunLogRecord> = {}): RunLogRecord => ({ ts: '', tool: 'aws', args, exitCode: 0, ms: 1, mutating: !/^describe/.test(args[1]), ...extra });

describe('splitDebug: the CLI resends read from its --debug log, the log itself dropped', () => {
  it('counts "Retry needed" and keeps only the message after the log', () => {
    const stderr = [
      LINE("botocore.endpoint - DEBUG - Sending http request: <AWSPreparedRequest headers={'Authorization': b'AWS4-HMAC-SHA256 Credential=AKIAEXAMPLE/...'}>"),
      '  File "/x/urllib3/util/retry.py", line 473, in increment',
      LINE('botocore.retries.standard - DEBUG - Retry needed, retrying request after delay of: 0.74'),
      LINE('botocore.retries.standard - DEBUG - Retry needed but retry quota reached, not retrying request.'),
      LINE('awscli.clidriver - DEBUG - Exiting with rc 255'),
      '',
      'An error occurred (InternalError) when calling the CreateVpc operation: boom',
    ].join('\n');
    const r = splitDebug(stderr);
    expect(r.retries).toBe(1);
    expect(r.rest.trim()).toBe('An error occurred (InternalError) when calling the CreateVpc operation: boom');
    expect(r.rest).not.toContain('AKIA');
  });

  it('a call answered at once: no retry, nothing left', () => {
    expect(splitDebug([LINE('botocore.endpoint - DEBUG - Response headers'), LINE('awscli.formatter - DEBUG - RequestId: x'), ''].join('\n'))).toEqual({ retries: 0, rest: '' });
  });
});

describe('kindsToSweep: only the kinds whose create was resent', () => {
  const all = new Set(['vpc', 'internet-gateway', 'elastic-ip'] as const);
  it('a clean run sweeps nothing', () => {
    const records = [rec(['ec2', 'create-vpc']), rec(['ec2', 'create-internet-gateway']), rec(['ec2', 'allocate-address'])];
    expect([...kindsToSweep(records, all)]).toEqual([]);
  });
  it('a lost answer the CLI resent, a retry of ours, a failed attempt: that kind only', () => {
    expect([...kindsToSweep([rec(['ec2', 'create-vpc'], { cliRetries: 1 }), rec(['ec2', 'allocate-address'])], all)]).toEqual(['vpc']);
    expect([...kindsToSweep([rec(['ec2', 'allocate-address'], { attempt: 2 })], all)]).toEqual(['elastic-ip']);
    expect([...kindsToSweep([rec(['ec2', 'create-internet-gateway'], { exitCode: 255 }), rec(['ec2', 'create-internet-gateway'])], all)]).toEqual(['internet-gateway']);
  });
  it('a kind this run did not create is never swept', () => {
    expect([...kindsToSweep([rec(['ec2', 'create-vpc'], { cliRetries: 2 })], new Set(['elastic-ip'] as const))]).toEqual([]);
  });
});

describe('issueCount: a read repeated with the same arguments is a poll and counts once', () => {
  it('counts every mutating call, each distinct read once, the bookkeeping and the sweep apart', () => {
    const poll = rec(['ec2', 'describe-nat-gateways', '--filter', 'Name=nat-gateway-id,Values=nat-1'], { purpose: 'poll' });
    const c = issueCount([
      rec(['dynamodb', 'put-item'], { purpose: 'lock' }),
      poll, poll, poll,
      rec(['ec2', 'create-vpc']),
      rec(['ec2', 'describe-vpcs', '--filters', 'x'], { purpose: 'sweep' }),
      rec(['dynamodb', 'delete-item'], { purpose: 'lock' }),
    ]);
    expect(c).toEqual({ calls: 5, mutating: 1, bookkeeping: 2, sweep: 1, invocations: 7 });
  });
});

describe('storageBucketName (R80)', () => {
  it('elasticbeanstalk-<region>-<account>, the account from an EB ARN; nothing without one', () => {
    expect(storageBucketName('ap-northeast-2', 'arn:aws:elasticbeanstalk:ap-northeast-2:123456789012:environment/app/nova-1')).toBe('elasticbeanstalk-ap-northeast-2-123456789012');
    expect(storageBucketName('ap-northeast-2', undefined)).toBeUndefined();
    expect(storageBucketName('ap-northeast-2', 'not-an-arn')).toBeUndefined();
  });
});
