import type { IncomingMessage } from 'node:http';
import { describe, expect, it } from 'vitest';
import { throttlingAnswer } from '../../sandbox/faults.js';
import { attemptOf, isMutatingRequest, serviceOf } from '../../sandbox/front.js';

const message = (headers: Record<string, string>, url = '/') => ({ headers, url }) as unknown as IncomingMessage;
const signed = (service: string) => ({
  authorization: `AWS4-HMAC-SHA256 Credential=sandbox/20250101/ap-northeast-2/${service}/aws4_request, SignedHeaders=host, Signature=abc`,
});

describe('serviceOf', () => {
  it('reads the service from the SigV4 credential scope, or from a presigned URL', () => {
    expect(serviceOf(message(signed('elasticbeanstalk')))).toBe('elasticbeanstalk');
    expect(serviceOf(message(signed('ec2')))).toBe('ec2');
    expect(serviceOf(message({}, '/bucket/key?X-Amz-Credential=sandbox%2F20250101%2Fap-northeast-2%2Fs3%2Faws4_request'))).toBe('s3');
    expect(serviceOf(message({}))).toBeUndefined();
  });
});

describe('throttlingAnswer', () => {
  it("answers in each service's own protocol", () => {
    expect(throttlingAnswer('elasticbeanstalk', message({}))).toMatchObject({ status: 400, body: expect.stringContaining('<Code>Throttling</Code>') });
    expect(throttlingAnswer('iam', message({}))).toMatchObject({ status: 400, body: expect.stringContaining('<Message>Rate exceeded</Message>') });
    expect(throttlingAnswer('ec2', message({}))).toMatchObject({ status: 503, body: expect.stringContaining('<Code>RequestLimitExceeded</Code>') });
    expect(throttlingAnswer('s3', message({}))).toMatchObject({ status: 503, body: expect.stringContaining('<Code>SlowDown</Code>') });
    const json = throttlingAnswer('dynamodb', message({ 'content-type': 'application/x-amz-json-1.0', 'x-amz-target': 'DynamoDB_20120810.ListTables' }));
    expect(json.status).toBe(400);
    expect(JSON.parse(json.body).__type).toContain('ThrottlingException');
  });
});

describe('what a lost answer may hit', () => {
  const form = (action: string) => `Action=${action}&Version=2016-11-15`;
  it('mutating requests only, per protocol', () => {
    expect(isMutatingRequest('ec2', 'POST', {}, form('CreateVpc'))).toBe(true);
    expect(isMutatingRequest('ec2', 'POST', {}, form('DescribeVpcs'))).toBe(false);
    expect(isMutatingRequest('iam', 'POST', {}, form('GetInstanceProfile'))).toBe(false);
    expect(isMutatingRequest('elasticbeanstalk', 'POST', {}, form('CreateEnvironment'))).toBe(true);
    expect(isMutatingRequest('dynamodb', 'POST', { 'x-amz-target': 'DynamoDB_20120810.PutItem' }, '{}')).toBe(true);
    expect(isMutatingRequest('dynamodb', 'POST', { 'x-amz-target': 'DynamoDB_20120810.GetItem' }, '{}')).toBe(false);
    expect(isMutatingRequest('s3', 'PUT', {}, '')).toBe(true);
    expect(isMutatingRequest('s3', 'GET', {}, '')).toBe(false);
  });
  it("reads the aws CLI's attempt header", () => {
    expect(attemptOf({ 'amz-sdk-request': 'attempt=2; max=3' })).toEqual({ attempt: 2, max: 3 });
    expect(attemptOf({ 'amz-sdk-request': 'attempt=1' })).toEqual({ attempt: 1, max: undefined });
    expect(attemptOf({})).toEqual({ attempt: 1, max: undefined });
  });
});
