// Hold and promote, and wait your turn (issue 14 items 1 and 5): the pure rules over
// describe-environments / list-tags-for-resource answers and the deploy history (never EB's
// events: issue 20 items 1 and 3). Which environment is held (what the cleanup must keep),
// which are busy, which are stuck.
import { describe, expect, it } from 'vitest';
import type { Environment } from '../../src/aws/eb.js';
import { ledgerOf, type HistoryRecord, type Ledger } from '../../src/deploy/history.js';
import { toItem } from '../../src/aws/dynamodb.js';
import { busyEnvironments, everSwapped, findHeld, heldEnvironments, heldNames, readHeldTags, stuckRecovery } from '../../src/deploy/environments.js';
import { commandOptions, parseArgs } from '../../src/args.js';
import { UsageError } from '../../src/errors.js';
import { AwsCli, parseAwsCliVersion } from '../../src/aws/cli.js';
import { Logger } from '../../src/ui/log.js';
import { Redactor } from '../../src/ui/redact.js';
import { awsError, ok, recordingExec, Sink } from './fakes.js';

const REGION = 'ap-northeast-2';
const MAIN = `dv-nova.${REGION}.elasticbeanstalk.com`;

function env(name: string, cnamePrefix: string, over: Partial<Environment> = {}): Environment {
  return {
    EnvironmentName: name,
    EnvironmentId: `e-${name}`,
    ApplicationName: 'dv',
    CNAME: `${cnamePrefix}.${REGION}.elasticbeanstalk.com`,
    Status: 'Ready',
    Health: 'Green',
    ...over,
  };
}
const rec = (over: Partial<HistoryRecord>): HistoryRecord => ({
  phase: 'dv', time: '2026-11-27T04:00:00.000Z#0001', startedAt: '2026-11-27T04:00:00.000Z', command: 'create_nova', outcome: 'ok', exitCode: 0, durationSeconds: 60, who: 'u@h', cwd: '/', ...over,
});
/** The history of a successful `create_nova --hold` of nova-200 beside nova-100. */
const holdRecord = rec({ newEnvironment: 'nova-200', oldEnvironment: 'nova-100', held: true });
const swapRecord = (from: string, to: string, command = 'create_nova') => rec({ command, newEnvironment: to, oldEnvironment: from, swappedAt: '2026-11-28T04:00:00.000Z' });
const ledger = (...records: HistoryRecord[]): Ledger => ledgerOf(records);

describe('held environments', () => {
  const live = env('nova-100', 'dv-nova');
  const heldOne = env('nova-200', 'dv-nova-200');
  const old = env('nova-50', 'dv-nova-100');
  const since = '2026-11-27T04:00:00.000Z';
  const held = ledger(holdRecord);

  it('is the one with the held tag, off the main CNAME, whose held deploy ended ok, never swapped', () => {
    const tags = new Map([['nova-200', since], ['nova-50', undefined]]);
    const found = heldEnvironments([live, heldOne, old], ledger(holdRecord, swapRecord('nova-50', 'nova-100')), tags, MAIN);
    expect(found.map((h) => [h.environment.EnvironmentName, h.since])).toEqual([['nova-200', since]]);
    expect(heldNames([live, heldOne, old], held, tags, MAIN)).toEqual(new Set(['nova-200']));
  });

  it('is no longer held once the history records a swap naming it (promoted, then replaced), or once it holds the main CNAME', () => {
    const tags = new Map([['nova-200', since]]);
    expect(heldEnvironments([live, heldOne], ledger(holdRecord, swapRecord('nova-100', 'nova-200', 'promote')), tags, MAIN)).toEqual([]);
    const promoted = env('nova-200', 'dv-nova');
    expect(heldEnvironments([promoted], held, tags, MAIN)).toEqual([]);
  });

  it('promoted and later swapped out again: not held, however long ago the swap (EB\'s events play no part)', () => {
    // The year-old case of item 1: the promote's swap event scrolled out of EB's newest
    // 1,000 events long ago; the ledger still has it.
    const tags = new Map([['nova-200', since]]);
    const later = ledger(holdRecord, swapRecord('nova-100', 'nova-200', 'promote'), swapRecord('nova-200', 'nova-300'));
    expect(heldNames([env('nova-300', 'dv-nova'), heldOne], later, tags, MAIN)).toEqual(new Set());
    expect(everSwapped('nova-200', later)).toBe(true);
    expect(everSwapped('nova-20', later)).toBe(false); // a name that is a prefix of another
  });

  it('a failed held deploy kept for inspection, or a hold killed mid-launch (no record, or interrupted), is not held (item 3)', () => {
    const tags = new Map([['nova-200', since]]);
    expect(heldNames([live, heldOne], ledger(rec({ newEnvironment: 'nova-200', outcome: 'failed', exitCode: 1 })), tags, MAIN)).toEqual(new Set());
    expect(heldNames([live, heldOne], ledger(rec({ newEnvironment: 'nova-200', outcome: 'interrupted', exitCode: 130 })), tags, MAIN)).toEqual(new Set());
    expect(heldNames([live, heldOne], ledger(), tags, MAIN)).toEqual(new Set());
  });

  it('a history that could not be read (the cleanup\'s safe side): every tagged one counts as held', () => {
    expect(heldNames([live, heldOne], undefined, new Map([['nova-200', since]]), MAIN)).toEqual(new Set(['nova-200']));
  });

  it('stays held while EB updates it (the cleanup must keep it), but not once it terminates', () => {
    const tags = new Map([['nova-200', since]]);
    expect(heldNames([live, { ...heldOne, Status: 'Updating' }], held, tags, MAIN)).toEqual(new Set(['nova-200']));
    expect(heldNames([live, { ...heldOne, Status: 'Terminating' }], held, tags, MAIN)).toEqual(new Set());
    expect(heldNames([live, { ...heldOne, Status: 'Terminated' }], held, tags, MAIN)).toEqual(new Set());
  });

  it('without the tag nothing is held, however the environment looks', () => {
    expect(heldNames([live, heldOne, old], held, new Map(), MAIN)).toEqual(new Set());
  });
});

describe('reading the held tag: the fewest calls, and never a guess that acts', () => {
  const cli = (script: Parameters<typeof recordingExec>[0]) => {
    const exec = recordingExec(script);
    const stderr = new Sink();
    const log = new Logger({ stdout: new Sink(), stderr, color: false, verbose: false, json: false, redactor: new Redactor([]) } as any);
    const aws = new AwsCli({ env: {}, log, redactor: new Redactor([]), exec, sleep: async () => undefined, version: parseAwsCliVersion('aws-cli/1.45.11 Python/3.11.7 Linux/6.1 botocore/1.43.11') });
    return { ctx: { aws, call: aws.aws.bind(aws), log } as any, exec, stderr };
  };
  const live = env('nova-100', 'dv-nova', { EnvironmentArn: 'arn:live' });
  const other = env('nova-200', 'dv-nova-200', { EnvironmentArn: 'arn:other' });
  const tags = (held?: string) => ok(JSON.stringify({ ResourceTags: [{ Key: 'johanna:phase', Value: 'dv' }, ...(held ? [{ Key: 'johanna:held', Value: held }] : [])] }));

  it('with only the live environment, no call at all', async () => {
    const { ctx, exec } = cli([]);
    expect(await findHeld(ctx, 'dv', [live], MAIN)).toEqual([]);
    expect(exec.calls).toEqual([]);
  });

  it('reads the tags of the others, and the deploy history (one query, never describe-events) only when one carries the held tag', async () => {
    const untagged = cli([tags()]);
    expect(await findHeld(untagged.ctx, 'dv', [live, other], MAIN)).toEqual([]);
    expect(untagged.exec.calls.map((c) => c.args.slice(0, 2))).toEqual([['elasticbeanstalk', 'list-tags-for-resource']]);
    const history = (records: HistoryRecord[]) => ok(JSON.stringify({ Items: records.map((r) => toItem({ ...r } as any)) }));
    const tagged = cli([tags('2026-11-27T04:00:00Z'), history([{ ...holdRecord }])]);
    expect((await findHeld(tagged.ctx, 'dv', [live, other], MAIN)).map((h) => h.environment.EnvironmentName)).toEqual(['nova-200']);
    expect(tagged.exec.calls.map((c) => c.args[1])).toEqual(['list-tags-for-resource', 'query']);
    const q = tagged.exec.calls[1].args;
    // One query by phase, filtered to the environment's records, paged to the end by the CLI (no --max-items).
    expect(q[q.indexOf('--filter-expression') + 1]).toBe('newEnvironment IN (:e0) OR oldEnvironment IN (:e0)');
    expect(JSON.parse(q[q.indexOf('--expression-attribute-values') + 1])).toMatchObject({ ':e0': { S: 'nova-200' } });
    expect(q).not.toContain('--max-items');
    // Promoted long ago and swapped out since: EB's events are not read at all (the
    // recording runner fails any call beyond its script), so an empty or paged event list
    // cannot change the answer.
    const promoted = cli([tags('2026-11-27T04:00:00Z'), history([swapRecord('nova-200', 'nova-100'), swapRecord('nova-100', 'nova-200', 'promote'), holdRecord])]);
    expect(await findHeld(promoted.ctx, 'dv', [live, other], MAIN)).toEqual([]);
    expect(promoted.exec.calls.map((c) => c.args[1])).toEqual(['list-tags-for-resource', 'query']);
  });

  it('a history that cannot be read fails promote/discard/create_nova (never a guess that acts)', async () => {
    const c = cli([tags('2026-11-27T04:00:00Z'), awsError('AccessDeniedException', 'Query', 'not allowed')]);
    await expect(findHeld(c.ctx, 'dv', [live, other], MAIN)).rejects.toThrow(/not allowed/);
  });

  it('tags that cannot be read fail promote/discard/create_nova, but count as held for the cleanup', async () => {
    const denied = () => awsError('AccessDenied', 'ListTagsForResource', 'not allowed');
    await expect(readHeldTags(cli([denied()]).ctx, [live, other], MAIN)).rejects.toThrow(/AccessDenied|not allowed/);
    const c = cli([denied()]);
    const read = await readHeldTags(c.ctx, [live, other], MAIN, { unreadableIsHeld: true });
    expect(heldNames([live, other], undefined, read, MAIN)).toEqual(new Set(['nova-200']));
    expect(c.stderr.text).toMatch(/could not read the tags of nova-200 .*keeping it as if held/);
  });
});

describe('busy and stuck environments', () => {
  const now = new Date('2026-11-27T04:40:00Z');

  it('Launching and Updating are busy; Ready, Terminating and Terminated are not', () => {
    const envs = [
      env('nova-1', 'a1', { Status: 'Launching', DateUpdated: '2026-11-27T04:35:00Z' }),
      env('nova-2', 'a2', { Status: 'Updating', DateUpdated: '2026-11-27T04:39:00Z' }),
      env('nova-3', 'a3'),
      env('nova-4', 'a4', { Status: 'Terminating' }),
      env('nova-5', 'a5', { Status: 'Terminated' }),
    ];
    const busy = busyEnvironments(envs, now, 30);
    expect(busy.map((b) => [b.environment.EnvironmentName, b.stuck, b.minutes])).toEqual([
      ['nova-1', false, 5],
      ['nova-2', false, 1],
    ]);
  });

  it('stuck: the same status past the deploy timeout by EB\'s DateUpdated (else DateCreated); unknown age is not stuck', () => {
    const envs = [
      env('nova-1', 'a1', { Status: 'Updating', DateUpdated: '2026-11-27T04:09:00Z' }),
      env('nova-2', 'a2', { Status: 'Launching', DateCreated: '2026-11-27T04:00:00Z' }),
      env('nova-3', 'a3', { Status: 'Updating', DateUpdated: '2026-11-27T04:10:00Z' }),
      env('nova-4', 'a4', { Status: 'Updating' }),
    ];
    expect(busyEnvironments(envs, now, 30).map((b) => [b.environment.EnvironmentName, b.stuck])).toEqual([
      ['nova-1', true],
      ['nova-2', true],
      ['nova-3', false], // exactly 30 min: not past it
      ['nova-4', false],
    ]);
  });

  it('the recovery AWS documents: abort an update; terminate (or rebuild) a stuck launch', () => {
    expect(stuckRecovery({ EnvironmentName: 'nova-1', Status: 'Updating' })).toMatch(/abort-environment-update --environment-name nova-1/);
    const launch = stuckRecovery({ EnvironmentName: 'nova-2', Status: 'Launching' });
    expect(launch).toMatch(/terminate-environment --environment-name nova-2/);
    expect(launch).not.toMatch(/abort/);
  });
});

describe('create_nova --hold and --wait on the command line', () => {
  it('takes them, and refuses a --wait that is not a number of minutes before anything runs', () => {
    const p = parseArgs(['create_nova', '--hold', '--wait', '5']);
    expect(p.kind).toBe('command');
    expect(p.opts.hold).toBe(true);
    expect(p.opts.wait).toBe('5');
    expect(commandOptions(p.opts)).toMatchObject({ hold: true, waitMinutes: 5 });
    expect(() => parseArgs(['create_nova', '--wait', 'abc'])).toThrow(UsageError);
    expect(() => parseArgs(['create_nova', '--wait', '0'])).toThrow(/--wait 0: expected minutes, more than 0/);
  });

  it('--hold belongs to create_nova only', () => {
    let err: unknown;
    try {
      parseArgs(['rollback', '--hold']);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(UsageError);
    expect((err as UsageError).hint).toBe('--hold belongs to create_nova');
  });

  it('promote and discard are commands with their own --help', () => {
    for (const name of ['promote', 'discard']) {
      const p = parseArgs([name, '--help']);
      expect(p.kind).toBe('text');
      if (p.kind === 'text') expect(p.text).toMatch(/--lock-wait/);
    }
    const help = parseArgs(['create_nova', '--help']);
    if (help.kind === 'text') expect(help.text).toMatch(/--hold[\s\S]*--wait <minutes>/);
    else throw new Error('no help text');
  });
});

const tags = (held?: string) => ok(JSON.stringify({ ResourceTags: [{ Key: 'johanna:phase', Value: 'dv' }, ...(held ? [{ Key: 'johanna:held', Value: held }] : [])] }));

describe('the cleanup decides from the history and EB\'s state, never from describe-events (issue 20 items 1, 3, 4)', () => {
  // Built like a run: the config of a sandbox phase, a recording runner that fails any call
  // beyond its script, so a describe-events (empty, paged, or forgotten by EB) cannot be made.
  const setup = async (script: Parameters<typeof recordingExec>[0]) => {
    const { parseConfig } = await import('../../src/config/load.js');
    const { buildCtx, makeRedactor } = await import('../../src/context.js');
    const sandboxJson = (await import('../../env.sandbox.json', { with: { type: 'json' } })).default;
    const { config } = parseConfig(structuredClone(sandboxJson), 'env.test.json');
    config.sandbox = undefined as any; // AWS's DNS TTL (60 s), without asking a sandbox
    const redactor = makeRedactor({}, config);
    const log = new Logger({ verbose: false, json: false, color: false, redactor, stdout: new Sink(), stderr: new Sink() } as any);
    const exec = recordingExec(script);
    const ctx = buildCtx({ root: '/nonexistent', command: 'terminate_eb_old_environment', config, configFile: 'env.test.json', opts: {}, log, redactor, env: {}, exec, runLog: false });
    return { ctx, exec, config };
  };
  const items = (records: HistoryRecord[]) => ok(JSON.stringify({ Items: records.map((r) => toItem({ ...r } as any)) }));

  it('a held environment promoted a year ago and swapped out since is removed like any old one; a failed held deploy too; no describe-events', async () => {
    const { cleanupOldEnvironments } = await import('../../src/deploy/cleanup.js');
    let ctxConfig: any;
    const year = '2025-12-01T04:00:00.000Z';
    const script: Parameters<typeof recordingExec>[0] = [
      () => ok(JSON.stringify({ Environments: [
        { ...env('nova-300', ctxConfig.nova.CNAME), EnvironmentArn: 'arn:300' },
        { ...env('nova-200', `${ctxConfig.nova.CNAME}-1764216000`), EnvironmentArn: 'arn:200' }, // promoted a year ago, replaced since
        { ...env('nova-250', `${ctxConfig.nova.CNAME}-1761969600`), EnvironmentArn: 'arn:250', Health: 'Red' }, // a failed held deploy, kept
      ] })),
      items([
        rec({ newEnvironment: 'nova-300', oldEnvironment: 'nova-200', swappedAt: '2026-11-01T04:00:00.000Z' }),
        rec({ newEnvironment: 'nova-250', oldEnvironment: 'nova-200', held: true, outcome: 'failed', exitCode: 1 }),
        rec({ command: 'promote', newEnvironment: 'nova-200', oldEnvironment: 'nova-100', swappedAt: year }),
        rec({ newEnvironment: 'nova-200', oldEnvironment: 'nova-100', held: true, startedAt: '2025-11-28T04:00:00.000Z' }),
      ]),
      tags('2025-11-28T04:00:00.000Z'),
      tags('2026-10-31T04:00:00.000Z'),
      ok(), // terminate nova-200
      ok(), // terminate nova-250
    ];
    const { ctx, exec, config } = await setup(script);
    ctxConfig = config;
    const r = await cleanupOldEnvironments(ctx, { graceMinutes: 0, quietMinutes: 5, forceDrain: true });
    expect(r.terminated.sort()).toEqual(['nova-200', 'nova-250']);
    const d200 = r.decisions.find((d) => d.environment === 'nova-200')!;
    expect(d200.reason).toMatch(/out of service since 2026-11-01T04:00:00.000Z \(history\)/);
    // Each environment's tags are read once (environmentTags), and serve both the rule for those
    // marked for removal (issue 19 item 1) and the one for held ones past the grace.
    expect(exec.calls.map((c) => c.args[1])).toEqual(['describe-environments', 'query', 'list-tags-for-resource', 'list-tags-for-resource', 'terminate-environment', 'terminate-environment']);
    expect(exec.calls.some((c) => c.args[1] === 'describe-events')).toBe(false);
  });

  it('a history that cannot be read: every held-tagged one is kept (the safe side), with a warning', async () => {
    const { cleanupOldEnvironments } = await import('../../src/deploy/cleanup.js');
    let cfg: any;
    const { ctx, exec, config } = await setup([
      () => ok(JSON.stringify({ Environments: [{ ...env('nova-300', cfg.nova.CNAME), EnvironmentArn: 'arn:300' }, { ...env('nova-200', `${cfg.nova.CNAME}-1764216000`), EnvironmentArn: 'arn:200' }] })),
      awsError('AccessDeniedException', 'Query', 'not allowed'),
      tags('2025-11-28T04:00:00.000Z'),
    ]);
    cfg = config;
    const r = await cleanupOldEnvironments(ctx, { graceMinutes: 0, quietMinutes: 5, forceDrain: true });
    expect(r.terminated).toEqual([]);
    expect(r.decisions.find((d) => d.environment === 'nova-200')?.reason).toMatch(/^is held/);
    expect(exec.calls.map((c) => c.args[1])).toEqual(['describe-environments', 'query', 'list-tags-for-resource']);
  });
});
