// The deploy history (src/deploy/history.ts, src/aws/dynamodb.ts): the record a run leaves
// (built from its result, or from its aws calls when it failed), the ledger's DynamoDB
// calls with a recording `exec` (the table made on first use), and that a ledger which
// cannot be written never changes the run's own outcome.
import { describe, expect, it } from 'vitest';

import { parseConfig } from '../../src/config/load.js';
import { buildCtx, makeRedactor, type Ctx, type GlobalOptions } from '../../src/context.js';
import type { RunLogRecord } from '../../src/aws/cli.js';
import { fromItem, toItem } from '../../src/aws/dynamodb.js';
import { InterruptedError, JohannaError, LockedError, TimeoutError } from '../../src/errors.js';
import {
  appendRecord, buildRecord, ciName, deployOf, describeDeploy, factsFromResult, formatRecord, HISTORY_TABLE,
  readHistory, withHistory, type HistoryRecord, type RunFacts,
} from '../../src/deploy/history.js';
import { Logger } from '../../src/ui/log.js';
import sandboxJson from '../../env.sandbox.json' with { type: 'json' };
import { awsError, ok, recordingExec, Sink, type Call, type Step } from './fakes.js';

const noTable = (op = 'PutItem') => awsError('ResourceNotFoundException', op, 'Requested resource not found');
const op = (c: Call) => c.args.slice(0, 2).join(' ');
const argAfter = (c: Call, flag: string) => c.args[c.args.indexOf(flag) + 1];

/** A sandbox phase's calls carry its endpoint (issue 15), after the operation's own arguments. */
const ENDPOINT = ['--endpoint-url', 'http://127.0.0.1:4566'];

function setup(script: Step[], opts: GlobalOptions = {}, command = 'create_nova'): { ctx: Ctx; exec: ReturnType<typeof recordingExec>; err: Sink } {
  const { config } = parseConfig(structuredClone(sandboxJson), 'env.test.json');
  const redactor = makeRedactor({}, config);
  const err = new Sink();
  const log = new Logger({ verbose: false, json: false, color: false, redactor, stdout: new Sink(), stderr: err });
  const exec = recordingExec(script);
  const ctx = buildCtx({ root: '/nonexistent', command, config, configFile: 'env.test.json', opts, log, redactor, env: {}, exec, runLog: false });
  return { ctx, exec, err };
}

const START = new Date('2026-11-27T04:00:00.000Z');
const END = new Date('2026-11-27T04:00:14.46Z');
const DEPLOY = {
  newEnvironment: 'nova-1764216000',
  oldEnvironment: 'nova-1764129600',
  versionLabel: 'app-261127_040000',
  cname: 'dv-nova.ap-northeast-2.elasticbeanstalk.com',
  gitHashJohanna: 'abc1234',
  gitHashNova: 'def5678',
  elapsedSeconds: 14.4,
};

function facts(over: Partial<RunFacts> = {}): RunFacts {
  return { phase: 'dv', command: 'create_nova', startedAt: START, finishedAt: END, calls: [], env: {}, cwd: '/opt/johanna', who: 'deploy@cron1', suffix: 'a1b2', ...over };
}

function call(args: string[], exitCode = 0): RunLogRecord {
  return { ts: START.toISOString(), tool: 'aws', args, exitCode, ms: 900, mutating: true };
}

describe('buildRecord', () => {
  it('a deploy that worked: who, where, what, both hashes, both environments, probe passed, duration, exit 0', () => {
    expect(buildRecord(facts({ result: DEPLOY }))).toEqual({
      phase: 'dv',
      time: '2026-11-27T04:00:00.000Z#a1b2',
      startedAt: '2026-11-27T04:00:00.000Z',
      command: 'create_nova',
      outcome: 'ok',
      exitCode: 0,
      durationSeconds: 14.5,
      who: 'deploy@cron1',
      cwd: '/opt/johanna',
      ci: undefined,
      versionLabel: 'app-261127_040000',
      newEnvironment: 'nova-1764216000',
      oldEnvironment: 'nova-1764129600',
      gitHashJohanna: 'abc1234',
      gitHashNova: 'def5678',
      probe: 'passed',
      terminated: undefined,
      error: undefined,
    });
  });

  it('`create` nests the deploy under create_nova; its facts are read from there', () => {
    const r = buildRecord(facts({ command: 'create', result: { create_vpc: { vpcId: 'vpc-1' }, create_nova: { ...DEPLOY, oldEnvironment: undefined } } }));
    expect(r).toMatchObject({ command: 'create', outcome: 'ok', newEnvironment: 'nova-1764216000', versionLabel: 'app-261127_040000', gitHashNova: 'def5678' });
    expect(r.oldEnvironment).toBeUndefined();
  });

  it('a rollback names its environments from/to: to is the one now live, from the one it left', () => {
    const r = buildRecord(facts({ command: 'rollback', result: { from: 'nova-2', to: 'nova-1', versionLabel: 'app-1', previousVersionLabel: 'app-2' } }));
    expect(r).toMatchObject({ newEnvironment: 'nova-1', oldEnvironment: 'nova-2', versionLabel: 'app-1', probe: 'passed' });
  });

  it('a cleanup records what it terminated, and no probe (it made no environment)', () => {
    const r = buildRecord(facts({ command: 'terminate_eb_old_environment', result: { graceMinutes: 50, decisions: [], terminated: ['nova-1', 'nova-2'] } }));
    expect(r.terminated).toEqual(['nova-1', 'nova-2']);
    expect(r.probe).toBeUndefined();
  });

  it("a command's own probe verdict wins over the derived one", () => {
    expect(buildRecord(facts({ result: { ...DEPLOY, probe: { ok: true, attempts: 3 } } })).probe).toBe('{"ok":true,"attempts":3}');
  });

  it('a failed deploy has no result: its aws calls say what it created, with which version and hashes', () => {
    const tags = JSON.stringify([{ Key: 'johanna:phase', Value: 'dv' }, { Key: 'git_hash_johanna', Value: 'abc1234' }, { Key: 'git_hash_nova', Value: 'def5678' }]);
    const calls = [
      call(['elasticbeanstalk', 'describe-environments', '--application-name', 'dv']),
      // the first name was taken: only the call that worked counts
      call(['elasticbeanstalk', 'create-environment', '--environment-name', 'nova-1764215999', '--version-label', 'app-x'], 254),
      call(['elasticbeanstalk', 'create-environment', '--application-name', 'dv', '--environment-name', 'nova-1764216000', '--version-label', 'app-261127_040000', '--tags', tags, '--output', 'json', ...ENDPOINT]),
    ];
    const error = new JohannaError('nova-1764216000 does not serve app-261127_040000 at http://x/echo/: HTTP 404');
    const r = buildRecord(facts({ calls, error }));
    expect(r).toMatchObject({
      outcome: 'failed',
      exitCode: 1,
      newEnvironment: 'nova-1764216000',
      versionLabel: 'app-261127_040000',
      gitHashJohanna: 'abc1234',
      gitHashNova: 'def5678',
      probe: 'failed',
      error: 'nova-1764216000 does not serve app-261127_040000 at http://x/echo/: HTTP 404',
    });
    expect(r.oldEnvironment).toBeUndefined();
  });

  it('a swap that happened names the old environment even when the verification failed after it', () => {
    const calls = [call(['elasticbeanstalk', 'swap-environment-cnames', '--source-environment-name', 'nova-1', '--destination-environment-name', 'nova-2'])];
    expect(buildRecord(facts({ calls, error: new TimeoutError('gave up') })).oldEnvironment).toBe('nova-1');
  });

  it('outcomes: locked (exit 3), interrupted (by the error, or by the signal whatever the error), failed (exit 1 for a non-Johanna error)', () => {
    expect(buildRecord(facts({ error: new LockedError("phase 'dv' is locked by x") }))).toMatchObject({ outcome: 'locked', exitCode: 3 });
    expect(buildRecord(facts({ error: new InterruptedError('interrupted while waiting for x') }))).toMatchObject({ outcome: 'interrupted', exitCode: 1 });
    expect(buildRecord(facts({ error: new TimeoutError('gave up'), interrupted: true })).outcome).toBe('interrupted');
    expect(buildRecord(facts({ error: new TypeError('x is undefined') }))).toMatchObject({ outcome: 'failed', exitCode: 1, error: 'x is undefined' });
  });

  // Issue 20 item 15: runs that ended 130 or 143 were recorded as exit 1.
  it('a run stopped by a signal records the code it exits with: 130 for SIGINT, 143 for SIGTERM', () => {
    expect(buildRecord(facts({ error: new TimeoutError('gave up'), interrupted: true, signal: 'SIGINT' }))).toMatchObject({ outcome: 'interrupted', exitCode: 130 });
    expect(buildRecord(facts({ error: new InterruptedError('interrupted while waiting for x'), interrupted: true, signal: 'SIGTERM' }))).toMatchObject({ outcome: 'interrupted', exitCode: 143 });
    expect(buildRecord(facts({ error: new TypeError('x'), interrupted: true, signal: 'SIGINT' })).exitCode).toBe(130);
  });

  it('the error is one line, redacted, at most 300 characters', () => {
    const r = buildRecord(facts({ error: new Error(`token s3cr3t leaked ${'x'.repeat(400)}\nstack`), redact: (t) => t.replaceAll('s3cr3t', '****') }));
    expect(r.error).toMatch(/^token \*\*\*\* leaked x+$/);
    expect(r.error).toHaveLength(300);
  });

  it('two records of the same instant differ by their random suffix', () => {
    const a = buildRecord({ ...facts(), suffix: undefined });
    const b = buildRecord({ ...facts(), suffix: undefined });
    expect(a.time).toMatch(/^2026-11-27T04:00:00\.000Z#[0-9a-f]{4}$/);
    expect(a.time).not.toBe(b.time); // 1 in 65,536 to fail by chance
  });
});

describe('ciName', () => {
  it('names the CI system and its run where it can', () => {
    expect(ciName({})).toBeUndefined();
    expect(ciName({ CI: 'false' })).toBeUndefined();
    expect(ciName({ CI: 'true' })).toBe('CI');
    expect(ciName({ CI: 'true', GITHUB_ACTIONS: 'true', GITHUB_REPOSITORY: 'acme/johanna', GITHUB_WORKFLOW: 'daily deploy', GITHUB_RUN_ID: '42' })).toBe('GitHub Actions acme/johanna "daily deploy" run 42');
    expect(ciName({ GITLAB_CI: 'true', CI_PROJECT_PATH: 'acme/johanna', CI_PIPELINE_ID: '7' })).toBe('GitLab CI acme/johanna pipeline 7');
    expect(ciName({ JENKINS_URL: 'http://j', JOB_NAME: 'deploy', BUILD_NUMBER: '12' })).toBe('Jenkins deploy #12');
  });
});

describe('factsFromResult', () => {
  it('nothing for no result', () => {
    expect(factsFromResult(undefined)).toEqual({});
  });
});

describe('items', () => {
  it('a record goes into DynamoDB JSON and comes back the same, undefined fields left out', () => {
    const rec = buildRecord(facts({ result: { ...DEPLOY, oldEnvironment: undefined }, env: { CI: 'true' } }));
    const item = toItem({ ...rec });
    expect(item.phase).toEqual({ S: 'dv' });
    expect(item.durationSeconds).toEqual({ N: '14.5' });
    expect(item).not.toHaveProperty('oldEnvironment');
    expect(fromItem(JSON.parse(JSON.stringify(item)))).toEqual(Object.fromEntries(Object.entries(rec).filter(([, v]) => v !== undefined)));
    expect(toItem({ terminated: ['a', 'b'], ok: true })).toEqual({ terminated: { L: [{ S: 'a' }, { S: 'b' }] }, ok: { BOOL: true } });
  });
});

describe('the ledger calls', () => {
  const rec = buildRecord(facts({ result: DEPLOY }));

  it('appends with one put-item, marked as history bookkeeping', async () => {
    const { ctx, exec } = setup([ok()]);
    await appendRecord(ctx, rec);
    expect(exec.calls.map(op)).toEqual(['dynamodb put-item']);
    expect(exec.calls[0].args).toEqual(['dynamodb', 'put-item', '--table-name', HISTORY_TABLE, '--item', argAfter(exec.calls[0], '--item'), '--output', 'json', ...ENDPOINT]);
    expect(JSON.parse(argAfter(exec.calls[0], '--item'))).toMatchObject({ phase: { S: 'dv' }, time: { S: '2026-11-27T04:00:00.000Z#a1b2' }, outcome: { S: 'ok' }, exitCode: { N: '0' } });
    expect(ctx.aws.records.map((r) => r.purpose)).toEqual(['history']);
  });

  it('no table yet: creates it keyed by phase and time, pay-per-request, tagged, waits for it, writes again', async () => {
    const { ctx, exec, err } = setup([noTable(), ok('{"TableDescription":{}}'), ok(), ok()]);
    await appendRecord(ctx, rec);
    expect(exec.calls.map(op)).toEqual(['dynamodb put-item', 'dynamodb create-table', 'dynamodb wait', 'dynamodb put-item']);
    expect(exec.calls[1].args).toEqual([
      'dynamodb', 'create-table', '--table-name', HISTORY_TABLE,
      '--attribute-definitions', 'AttributeName=phase,AttributeType=S', 'AttributeName=time,AttributeType=S',
      '--key-schema', 'AttributeName=phase,KeyType=HASH', 'AttributeName=time,KeyType=RANGE',
      '--billing-mode', 'PAY_PER_REQUEST',
      '--tags', 'Key=johanna:role,Value=history-table',
      '--output', 'json',
      ...ENDPOINT,
    ]);
    expect(exec.calls[2].args).toEqual(['dynamodb', 'wait', 'table-exists', '--table-name', HISTORY_TABLE, '--output', 'json', ...ENDPOINT]);
    expect(exec.calls[3].args).toEqual(exec.calls[0].args);
    expect(err.text).toContain(`creating the deploy-history table ${HISTORY_TABLE}`);
    expect(ctx.aws.records.every((r) => r.purpose === 'history')).toBe(true);
  });

  it('a table made by another run at the same moment (ResourceInUse) is fine', async () => {
    const { ctx, exec } = setup([noTable(), awsError('ResourceInUseException', 'CreateTable', 'Table already exists'), ok(), ok()]);
    await appendRecord(ctx, rec);
    expect(exec.calls.map(op)).toEqual(['dynamodb put-item', 'dynamodb create-table', 'dynamodb wait', 'dynamodb put-item']);
  });

  it('reads the newest N of the phase, newest first, with a query (names for the key: reserved words are no trap)', async () => {
    const items = [rec, { ...rec, time: '2026-11-26T04:00:00.000Z#ffff', startedAt: '2026-11-26T04:00:00.000Z' }].map((r) => toItem({ ...r }));
    const { ctx, exec } = setup([ok(JSON.stringify({ Items: items, Count: 2 }))]);
    const got = await readHistory(ctx, 2);
    expect(exec.calls[0].args).toEqual([
      'dynamodb', 'query', '--table-name', HISTORY_TABLE,
      '--key-condition-expression', '#p = :p',
      '--expression-attribute-names', '{"#p":"phase"}',
      '--expression-attribute-values', '{":p":{"S":"dv"}}',
      '--no-scan-index-forward',
      '--max-items', '2',
      '--output', 'json',
      ...ENDPOINT,
    ]);
    expect(got.map((r) => r.startedAt)).toEqual(['2026-11-27T04:00:00.000Z', '2026-11-26T04:00:00.000Z']);
    expect(got[0]).toEqual(JSON.parse(JSON.stringify(rec)));
  });

  it('no table yet reads as no history', async () => {
    const { ctx } = setup([noTable('Query')]);
    expect(await readHistory(ctx, 20)).toEqual([]);
  });

  it('any other read failure is an error', async () => {
    const { ctx } = setup([awsError('AccessDeniedException', 'Query', 'not allowed')]);
    await expect(readHistory(ctx, 20)).rejects.toThrow(/AccessDenied|not allowed/);
  });
});

describe('withHistory', () => {
  it('a changing command leaves its record after it ran, and its result passes through', async () => {
    const { ctx, exec } = setup([ok(), ok()]);
    const result = await withHistory(ctx, true, async () => {
      await ctx.aws.aws(['elasticbeanstalk', 'create-environment', '--environment-name', 'nova-9']);
      return DEPLOY;
    });
    expect(result).toBe(DEPLOY);
    expect(exec.calls.map(op)).toEqual(['elasticbeanstalk create-environment', 'dynamodb put-item']);
    const item = JSON.parse(argAfter(exec.calls[1], '--item'));
    expect(item).toMatchObject({ command: { S: 'create_nova' }, outcome: { S: 'ok' }, newEnvironment: { S: 'nova-1764216000' }, who: { S: expect.stringMatching(/.+@.+/) }, cwd: { S: process.cwd() } });
  });

  it("a failure is recorded and rethrown as it was", async () => {
    const { ctx, exec } = setup([ok()]);
    const boom = new LockedError("phase 'dv' is locked by x");
    await expect(withHistory(ctx, true, async () => Promise.reject(boom))).rejects.toBe(boom);
    expect(JSON.parse(argAfter(exec.calls[0], '--item'))).toMatchObject({ outcome: { S: 'locked' }, exitCode: { N: '3' }, error: { S: "phase 'dv' is locked by x" } });
  });

  it('a ledger that cannot be written is a warning: the result stands, and so does the original error', async () => {
    const { ctx, err } = setup([awsError('AccessDeniedException', 'PutItem', 'not allowed'), awsError('AccessDeniedException', 'PutItem', 'not allowed')]);
    await expect(withHistory(ctx, true, async () => ({ x: 1 }))).resolves.toEqual({ x: 1 });
    expect(err.text).toMatch(/warning: could not add this run to the deploy history \(johanna-history\): .*AccessDenied/);
    const boom = new JohannaError('deploy broke');
    await expect(withHistory(ctx, true, async () => Promise.reject(boom))).rejects.toBe(boom);
  });

  it('read-only commands and dry runs leave no record (the runner throws on any call)', async () => {
    const { ctx } = setup([]);
    await expect(withHistory(ctx, false, async () => ({ y: 2 }))).resolves.toEqual({ y: 2 });
    const dry = setup([], { dryRun: true });
    await expect(withHistory(dry.ctx, true, async () => ({ z: 3 }))).resolves.toEqual({ z: 3 });
  });
});

describe('reading the ledger', () => {
  const deploy = (env: string, startedAt: string, over: Partial<HistoryRecord> = {}): HistoryRecord =>
    ({ ...buildRecord(facts({ result: { ...DEPLOY, newEnvironment: env } })), startedAt, ...over });

  it('what a rollback returns to: the newest successful deploy that made the environment (not a rollback to it)', () => {
    const records = [
      deploy('nova-1', '2026-11-27T05:00:00.000Z', { command: 'rollback' }),
      deploy('nova-2', '2026-11-27T04:00:00.000Z', { outcome: 'failed' }),
      deploy('nova-1', '2026-11-26T04:00:00.000Z', { versionLabel: 'app-261126_040000', who: 'ops@cron1', ci: 'GitHub Actions acme/johanna run 41', swappedAt: '2026-11-26T04:07:12.000Z' }),
    ];
    const d = deployOf(records, 'nova-1');
    expect(d?.startedAt).toBe('2026-11-26T04:00:00.000Z');
    // Deployed is when it went live, its swap (issue 22 item 6), not when the run started;
    // without a swap (a first deploy), when the run ended.
    expect(describeDeploy(d!)).toBe('nova-1 (app-261126_040000, deployed 2026-11-26 04:07 UTC by ops@cron1 in GitHub Actions acme/johanna run 41)');
    expect(describeDeploy({ ...d!, swappedAt: undefined, durationSeconds: 185 })).toContain('deployed 2026-11-26 04:03 UTC by');
    expect(deployOf(records, 'nova-2')).toBeUndefined();
  });

  it('one line a record for ./run history', () => {
    expect(formatRecord(buildRecord(facts({ result: DEPLOY })))).toBe(
      '2026-11-27 04:00:00Z  create_nova  ok  exit 0  14.5s  app-261127_040000  nova-1764216000 (was nova-1764129600)  probe passed  git johanna abc1234 nova def5678  by deploy@cron1 in /opt/johanna',
    );
    // create_nova --hold swapped nothing: its live environment is beside it, not replaced.
    const held = buildRecord(facts({ result: { ...DEPLOY, held: true } }));
    expect(held.held).toBe(true);
    expect(formatRecord(held)).toContain('nova-1764216000 (held beside nova-1764129600)');
    expect(buildRecord(facts({ result: DEPLOY })).held).toBeUndefined();
    expect(formatRecord(buildRecord(facts({ command: 'rollback', error: new JohannaError('no'), env: { CI: '1' } })))).toBe(
      '2026-11-27 04:00:00Z  rollback  failed  exit 1  14.5s  by deploy@cron1 (CI) in /opt/johanna  error: no',
    );
  });
});
