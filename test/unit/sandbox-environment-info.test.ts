// The emulator's RequestEnvironmentInfo / RetrieveEnvironmentInfo (sandbox/eb/environment-info.ts):
// an app's real log file compiled into tail (last 100 lines) or bundle (zip) samples, served
// at a loopback URL for 15 minutes, with EB's events and error codes, answered as the
// botocore model's XML.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { unzipSync } from 'fflate';
import { afterAll, describe, expect, it } from 'vitest';
import { appLogFile, EnvironmentInfo, SAMPLE_LIFETIME_MS } from '../../sandbox/eb/environment-info.js';
import { EbApiError } from '../../sandbox/eb/errors.js';
import { loadElasticBeanstalkModel } from '../../sandbox/eb/model.js';
import { QueryParams } from '../../sandbox/eb/params.js';
import { EbStore, type Environment } from '../../sandbox/eb/store.js';
import { successResponse } from '../../sandbox/eb/xml.js';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'env-info-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function environment(store: EbStore, over: Partial<Environment> = {}): Environment {
  const e = {
    id: 'e-abcdefghij',
    name: 'nova-1764216000',
    applicationName: 'dv',
    solutionStackName: 'stack',
    cnamePrefix: 'dv-nova',
    cname: 'dv-nova.ap-northeast-2.elasticbeanstalk.com',
    endpointUrl: 'lb',
    dateCreated: new Date(),
    dateUpdated: new Date(),
    status: 'Ready',
    health: 'Green',
    healthStatus: 'Ok',
    optionSettings: [],
    tags: [],
    generation: 0,
    failedChecks: 0,
    resources: { vpcId: 'vpc-1', instanceIds: ['i-0123456789abcdef0'], loadBalancerEnis: [], loadBalancerName: 'awseb-AWSEB-1' },
    ...over,
  } as Environment;
  store.environments.push(e);
  return e;
}

function setup(over: Partial<Environment> = {}) {
  const stateDir = mkdtempSync(path.join(tmp, 'state-'));
  const store = new EbStore('ap-northeast-2');
  const env = environment(store, over);
  let now = Date.parse('2026-11-27T04:00:00Z');
  const clock = { advance: (ms: number) => (now += ms) };
  const info = new EnvironmentInfo(store, { stateDir, endpoint: () => 'http://127.0.0.1:4566', compileMs: 0, now: () => now });
  const log = (text: string) => {
    mkdirSync(path.dirname(appLogFile(stateDir, env.id)), { recursive: true });
    writeFileSync(appLogFile(stateDir, env.id), text);
  };
  return { store, env, info, log, clock };
}

const params = (p: Record<string, string>) => new QueryParams(new URLSearchParams(p));

/** Poll until the background compile has produced `count` samples. */
async function samples(info: EnvironmentInfo, p: Record<string, string>, count = 1) {
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    const r = info.retrieve(params(p));
    if (r.EnvironmentInfo.length >= count) return r.EnvironmentInfo;
    await new Promise((r) => setTimeout(r, 5));
  }
  throw new Error('no sample was compiled in 10 s');
}

/** Wait on the condition, not on a count of turns of the event loop (a loaded CI machine). */
async function until(ok: () => boolean): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!ok() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
}

function pathOf(url: string): string {
  return new URL(url).pathname;
}

describe('EnvironmentInfo', () => {
  it('tail: the last 100 lines of the app log under its path, at a URL on the front, with the instance and time', async () => {
    const { info, log, store } = setup();
    log(Array.from({ length: 150 }, (_, i) => `GET /echo/ 200 ${i}.0ms`).join('\n') + '\n');
    expect(info.request(params({ EnvironmentName: 'nova-1764216000', InfoType: 'tail' }))).toBeUndefined();
    const [s] = await samples(info, { EnvironmentName: 'nova-1764216000', InfoType: 'tail' });
    expect(s).toMatchObject({ InfoType: 'tail', Ec2InstanceId: 'i-0123456789abcdef0', SampleTimestamp: new Date('2026-11-27T04:00:00Z') });
    expect(s.Message).toMatch(/^http:\/\/127\.0\.0\.1:4566\/_sandbox\/logs\/e-abcdefghij\/[0-9a-f]{32}\?X-Amz-Date=\d{8}T\d{6}Z&X-Amz-Expires=900&X-Amz-Signature=[0-9a-f]{64}$/);
    const answer = info.serve(pathOf(s.Message));
    expect(answer.status).toBe(200);
    const lines = answer.body.toString().split('\n');
    expect(lines.slice(0, 3)).toEqual(['-'.repeat(40), '/var/log/web.stdout.log', '-'.repeat(40)]);
    expect(lines.slice(3, -1)).toHaveLength(100);
    expect(lines[3]).toBe('GET /echo/ 200 50.0ms');
    expect(lines[102]).toBe('GET /echo/ 200 149.0ms');
    expect(store.events.map((e) => e.message)).toEqual([
      'requestEnvironmentInfo is starting.',
      '[Instance: i-0123456789abcdef0] Successfully finished tailing 1 log(s)',
      'Pulled logs for environment instances.',
    ]);
  });

  // Found by the real EB CLI: `eb logs` waits for the request's events by its RequestId.
  it("the request's events carry its RequestId", async () => {
    const { info, store } = setup();
    info.request(new QueryParams(new URLSearchParams({ EnvironmentName: 'nova-1764216000', InfoType: 'tail' }), 'req-42'));
    await samples(info, { EnvironmentName: 'nova-1764216000', InfoType: 'tail' });
    await until(() => store.events.some((e) => e.message === 'Pulled logs for environment instances.'));
    expect(store.events.map((e) => e.requestId)).toEqual(['req-42', 'req-42', 'req-42']);
  });

  it('a sample is what the log was when compiled; a later request adds a newer one, latest last', async () => {
    const { info, log, clock } = setup();
    log('first\n');
    info.request(params({ EnvironmentId: 'e-abcdefghij', InfoType: 'tail' }));
    const [a] = await samples(info, { EnvironmentId: 'e-abcdefghij', InfoType: 'tail' });
    log('first\nsecond\n');
    clock.advance(1000);
    info.request(params({ EnvironmentId: 'e-abcdefghij', InfoType: 'tail' }));
    const [a2, b] = await samples(info, { EnvironmentId: 'e-abcdefghij', InfoType: 'tail' }, 2);
    // The same sample, signed anew: a new URL for every retrieval (issue 19 item 5).
    expect(a2.Message).not.toBe(a.Message);
    expect(pathOf(a2.Message)).toBe(pathOf(a.Message));
    expect(a2.SampleTimestamp).toEqual(a.SampleTimestamp);
    expect(info.serve(pathOf(a.Message)).body.toString()).not.toContain('second');
    expect(info.serve(pathOf(b.Message)).body.toString()).toContain('second');
    expect(b.SampleTimestamp.getTime()).toBeGreaterThan(a.SampleTimestamp.getTime());
  });

  it('bundle: the whole log in a zip; tail samples and bundle samples are apart', async () => {
    const { info, log } = setup();
    const whole = Array.from({ length: 300 }, (_, i) => `line ${i}`).join('\n') + '\n';
    log(whole);
    info.request(params({ EnvironmentName: 'nova-1764216000', InfoType: 'bundle' }));
    const [s] = await samples(info, { EnvironmentName: 'nova-1764216000', InfoType: 'bundle' });
    expect(info.retrieve(params({ EnvironmentName: 'nova-1764216000', InfoType: 'tail' })).EnvironmentInfo).toEqual([]);
    const answer = info.serve(pathOf(s.Message));
    expect(answer.contentType).toBe('application/zip');
    const files = unzipSync(new Uint8Array(answer.body));
    expect(Object.keys(files)).toEqual(['var/log/web.stdout.log']);
    expect(Buffer.from(files['var/log/web.stdout.log']).toString()).toBe(whole);
  });

  it('after 15 minutes the sample is gone from retrieve and its URL answers 403 as S3 does', async () => {
    const { info, log, clock } = setup();
    log('x\n');
    info.request(params({ EnvironmentName: 'nova-1764216000', InfoType: 'tail' }));
    const [s] = await samples(info, { EnvironmentName: 'nova-1764216000', InfoType: 'tail' });
    clock.advance(SAMPLE_LIFETIME_MS - 1);
    expect(info.serve(pathOf(s.Message)).status).toBe(200);
    clock.advance(1);
    const gone = info.serve(pathOf(s.Message));
    expect(gone.status).toBe(403);
    expect(gone.body.toString()).toContain('<Code>AccessDenied</Code>');
    expect(info.retrieve(params({ EnvironmentName: 'nova-1764216000', InfoType: 'tail' })).EnvironmentInfo).toEqual([]);
    expect(info.serve('/_sandbox/logs/e-abcdefghij/00ff').status).toBe(403);
  });

  it("EB's errors: neither id nor name, an unknown environment, a missing or unknown InfoType", () => {
    const { info } = setup();
    const code = (p: Record<string, string>) => {
      try {
        info.request(params(p));
        return 'no error';
      } catch (e) {
        return `${(e as EbApiError).code}: ${(e as EbApiError).message}`;
      }
    };
    expect(code({ InfoType: 'tail' })).toBe('MissingRequiredParameter: You must specify either EnvironmentId or EnvironmentName.');
    expect(code({ EnvironmentName: 'nova-9', InfoType: 'tail' })).toBe("InvalidParameterValue: No Environment found for EnvironmentName = 'nova-9'.");
    expect(code({ EnvironmentName: 'nova-1764216000' })).toBe('MissingParameter: The request must contain the parameter InfoType');
    expect(code({ EnvironmentName: 'nova-1764216000', InfoType: 'all' })).toMatch(/^ValidationError: .*Value 'all' at 'infoType'.*\[tail, bundle, analyze\]/);
    expect(code({ EnvironmentName: 'nova-1764216000', InfoType: 'analyze' })).toMatch(/^InvalidParameterValue: .*tail or bundle/);
  });

  it('an environment without an instance yet has nothing to compile, and says it pulled', async () => {
    const { info, store } = setup({ resources: undefined });
    info.request(params({ EnvironmentName: 'nova-1764216000', InfoType: 'tail' }));
    await until(() => store.events.length >= 2);
    expect(store.events.map((e) => e.message)).toEqual(['requestEnvironmentInfo is starting.', 'Pulled logs for environment instances.']);
    expect(info.retrieve(params({ EnvironmentName: 'nova-1764216000', InfoType: 'tail' })).EnvironmentInfo).toEqual([]);
  });

  it("serializes as botocore's RetrieveEnvironmentInfoResult (the aws CLI parses it from the same model)", async () => {
    const { info, log } = setup();
    log('x\n');
    info.request(params({ EnvironmentName: 'nova-1764216000', InfoType: 'tail' }));
    await samples(info, { EnvironmentName: 'nova-1764216000', InfoType: 'tail' });
    const model = loadElasticBeanstalkModel();
    const xml = successResponse(model, 'RetrieveEnvironmentInfo', info.retrieve(params({ EnvironmentName: 'nova-1764216000', InfoType: 'tail' })));
    expect(xml).toMatch(
      /<RetrieveEnvironmentInfoResult><EnvironmentInfo><member><InfoType>tail<\/InfoType><Ec2InstanceId>i-0123456789abcdef0<\/Ec2InstanceId><SampleTimestamp>2026-11-27T04:00:00.000Z<\/SampleTimestamp><Message>http:\/\/127.0.0.1:4566\/_sandbox\/logs\/e-abcdefghij\/[0-9a-f]{32}\?X-Amz-Date=\d{8}T\d{6}Z&amp;X-Amz-Expires=900&amp;X-Amz-Signature=[0-9a-f]{64}<\/Message><\/member><\/EnvironmentInfo><\/RetrieveEnvironmentInfoResult>/,
    );
    expect(successResponse(model, 'RequestEnvironmentInfo', undefined)).toMatch(/^<RequestEnvironmentInfoResponse [^>]+><ResponseMetadata>/);
  });
});
