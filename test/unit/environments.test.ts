// Reading the application's environments (src/deploy/environments.ts) and the daily
// cleanup's decisions (terminate_eb_old_environment's `decide`): pure functions over
// describe-environments answers and the deploy history's swaps (never EB's events: issue 20 item 1).
import { describe, expect, it } from 'vitest';
import type { Environment } from '../../src/aws/eb.js';
import { ledgerOf, type HistoryRecord, type Ledger, type Swap } from '../../src/deploy/history.js';
import {
  byAgeNewestFirst,
  choosePlatform,
  platformBranch,
  envTimestamp,
  holderOfMain,
  lostMainAt,
  pickSolutionStack,
} from '../../src/deploy/environments.js';
import { decide, KEEP_VERSIONS, versionsToPrune, type Traffic } from '../../src/deploy/cleanup.js';
import { lastSwapPartner, swapPartner } from '../../src/commands/rollback.js';
import { healthGate, madeByThisRun, swapVerified } from '../../src/deploy/blue-green.js';
import { createApplicationVersion, terminateEnvironment } from '../../src/aws/eb.js';
import { AwsCli, parseAwsCliVersion } from '../../src/aws/cli.js';
import { Logger } from '../../src/ui/log.js';
import { Redactor } from '../../src/ui/redact.js';
import { awsError, ok, recordingExec, Sink } from './fakes.js';

const REGION = 'ap-northeast-2';
const MAIN = `dv-nova.${REGION}.elasticbeanstalk.com`;
const T0 = 1_760_000_000; // a deploy's unix time

function env(name: string, cnamePrefix: string | undefined, over: Partial<Environment> = {}): Environment {
  return {
    EnvironmentName: name,
    EnvironmentId: `e-${name}`,
    ApplicationName: 'dv',
    CNAME: cnamePrefix ? `${cnamePrefix}.${REGION}.elasticbeanstalk.com` : undefined,
    Status: 'Ready',
    Health: 'Green',
    ...over,
  };
}

/** `to` took the main CNAME from `from` at `at`, as the deploy history records it. */
function swap(from: string, to: string, at: Date | string): Swap {
  return { from, to, at: new Date(at), command: 'create_nova' };
}
const ledger = (...swaps: Swap[]): Ledger => ({ swaps: swaps.sort((a, b) => b.at.getTime() - a.at.getTime()), holds: new Map() });

describe('holderOfMain', () => {
  it('is the live environment whose CNAME is the main one (case and a trailing dot ignored)', () => {
    const live = env(`nova-${T0 + 100}`, undefined, { CNAME: `DV-Nova.${REGION}.elasticbeanstalk.com.` });
    const old = env(`nova-${T0}`, `dv-nova-${T0 + 100}`);
    expect(holderOfMain([old, live], MAIN)).toBe(live);
  });

  it('ignores a terminated or terminating environment that still shows the main CNAME', () => {
    const gone = env(`nova-${T0}`, 'dv-nova', { Status: 'Terminated' });
    const going = env(`nova-${T0 + 1}`, 'dv-nova', { Status: 'Terminating' });
    expect(holderOfMain([gone, going], MAIN)).toBeUndefined();
    const live = env(`nova-${T0 + 2}`, 'dv-nova');
    expect(holderOfMain([gone, going, live], MAIN)).toBe(live);
  });

  it('is undefined when no environment has the main CNAME, or a CNAME at all', () => {
    expect(holderOfMain([], MAIN)).toBeUndefined();
    expect(holderOfMain([env(`nova-${T0}`, `dv-nova-${T0}`), env('x', undefined)], MAIN)).toBeUndefined();
  });

  it('does not take a longer CNAME that merely starts with the main one', () => {
    expect(holderOfMain([env(`nova-${T0}`, 'dv-nova2')], MAIN)).toBeUndefined();
  });
});

describe('envTimestamp', () => {
  it('reads the unix time of a nova-<timestamp> name', () => {
    expect(envTimestamp(`nova-${T0}`)).toBe(T0);
    expect(envTimestamp('nova-999999999')).toBe(999_999_999);
  });

  it('is undefined for a name we did not make', () => {
    for (const n of ['nova', 'nova-', 'nova-abc', `nova-${T0}-x`, `x-nova-${T0}`, 'nova-12345678', 'nova-123456789012', `Nova-${T0}`]) {
      expect(envTimestamp(n), n).toBeUndefined();
    }
  });

  it('orders environments newest first, unknown ages last', () => {
    const a = env(`nova-${T0}`, undefined);
    const b = env(`nova-${T0 + 86_400}`, undefined);
    const odd = env('handmade', undefined);
    expect(byAgeNewestFirst([a, odd, b]).map((e) => e.EnvironmentName)).toEqual([b.EnvironmentName, a.EnvironmentName, 'handmade']);
  });
});

describe('lostMainAt', () => {
  const name = `nova-${T0}`;

  it('is the newest swap in the history where it gave the main CNAME away', () => {
    const e = env(name, `dv-nova-${T0 + 300}`);
    const l = ledger(
      swap(name, `nova-${T0 + 100}`, '2025-10-09T08:00:00.000Z'),
      swap(`nova-${T0 + 300}`, name, '2025-10-09T10:00:00.000Z'), // it took the main CNAME back then
      swap(name, `nova-${T0 + 200}`, '2025-10-09T09:00:00.000Z'),
    );
    expect(lostMainAt(e, l)).toEqual({ at: new Date('2025-10-09T09:00:00.000Z'), source: 'history' });
  });

  it('after a promote days after the hold began: the promote\'s swap, not the hold\'s CNAME timestamp (item 4)', () => {
    // The held one was made (and its CNAME named) 3 days before it was promoted; the old one
    // took that CNAME in the swap. The grace counts from the promote.
    const held = T0 - 3 * 86_400;
    const old = env(name, `dv-nova-${held}`);
    const promotedAt = new Date(T0 * 1000);
    expect(lostMainAt(old, ledger(swap(name, `nova-${held}`, promotedAt)))).toEqual({ at: promotedAt, source: 'history' });
    expect(lostMainAt(old, ledger())).toEqual({ at: new Date(held * 1000), source: 'cname timestamp' });
  });

  it('ignores swaps of other environments, whose names merely contain its name', () => {
    const e = env(name, `dv-nova-${T0 + 300}`);
    expect(lostMainAt(e, ledger(swap(`${name}0`, 'nova-x', '2025-10-09T11:00:00.000Z')))).toEqual({ at: new Date((T0 + 300) * 1000), source: 'cname timestamp' });
  });

  it('without a record: the timestamp at the end of its CNAME, or EB\'s DateUpdated when later (the safe side)', () => {
    expect(lostMainAt(env(name, `dv-nova-${T0 + 42}`), ledger())).toEqual({ at: new Date((T0 + 42) * 1000), source: 'cname timestamp' });
    const updated = new Date((T0 + 600) * 1000).toISOString();
    expect(lostMainAt(env(name, `dv-nova-${T0 + 42}`, { DateUpdated: updated }), ledger())).toEqual({ at: new Date(updated), source: 'EB DateUpdated' });
  });

  it('is undefined when neither says: the main CNAME itself, a hand-made CNAME, or none', () => {
    expect(lostMainAt(env(name, 'dv-nova'), ledger())).toBeUndefined();
    expect(lostMainAt(env(name, 'my-own-name'), ledger())).toBeUndefined();
    expect(lostMainAt(env(name, undefined), ledger())).toBeUndefined();
  });
});

describe('the ledger: swaps and holds from the history records', () => {
  const rec = (over: Partial<HistoryRecord>): HistoryRecord => ({
    phase: 'dv', time: '', startedAt: '2026-11-27T04:00:00.000Z', command: 'create_nova', outcome: 'ok', exitCode: 0, durationSeconds: 60, who: 'u@h', cwd: '/', ...over,
  });

  it('a record with swappedAt is a swap at that time, whatever its outcome (a deploy that failed after its swap)', () => {
    const l = ledgerOf([rec({ newEnvironment: 'nova-2', oldEnvironment: 'nova-1', swappedAt: '2026-11-27T04:00:30.000Z', outcome: 'failed', exitCode: 1 })]);
    expect(l.swaps).toEqual([{ from: 'nova-1', to: 'nova-2', at: new Date('2026-11-27T04:00:30.000Z'), command: 'create_nova' }]);
  });

  it('an older record without swappedAt: an ok deploy, promote or rollback swapped by its end; a hold or a failure did not', () => {
    const l = ledgerOf([
      rec({ command: 'promote', newEnvironment: 'nova-3', oldEnvironment: 'nova-2' }),
      rec({ newEnvironment: 'nova-3', oldEnvironment: 'nova-2', held: true }),
      rec({ newEnvironment: 'nova-4', oldEnvironment: 'nova-2', outcome: 'failed', exitCode: 1 }),
    ]);
    expect(l.swaps.map((s) => [s.from, s.to, s.at.toISOString()])).toEqual([['nova-2', 'nova-3', '2026-11-27T04:01:00.000Z']]);
    expect([...l.holds]).toEqual([['nova-3', '2026-11-27T04:00:00.000Z']]);
  });

  it('only a held deploy that ended ok is a hold: a failed one (KEEP_FAILED_ENVIRONMENT) or an interrupted one is not (item 3)', () => {
    const l = ledgerOf([
      rec({ newEnvironment: 'nova-5', oldEnvironment: 'nova-2', held: true, outcome: 'failed', exitCode: 1 }),
      rec({ newEnvironment: 'nova-6', outcome: 'interrupted', exitCode: 130 }),
    ]);
    expect(l.holds.size).toBe(0);
  });
});

describe('pickSolutionStack', () => {
  const stacks = [
    '64bit Amazon Linux 2023 v6.5.1 running Node.js 20',
    '64bit Amazon Linux 2023 v6.6.3 running Node.js 20',
    '64bit Amazon Linux 2 v5.10.0 running Node.js 18',
    '64bit Amazon Linux 2023 v6.6.3 running Node.js 22',
    '64bit Amazon Linux 2023 v4.3.0 running Python 3.12',
    '64bit Amazon Linux 2023 v6.6.10 running Docker',
    '64bit Amazon Linux 2023 v6.6.2 running Node.js 22',
  ];

  it('without nova.PLATFORM: the newest "running Node.js" stack, whatever the list order', () => {
    expect(pickSolutionStack(stacks)).toBe('64bit Amazon Linux 2023 v6.6.3 running Node.js 22');
    expect(pickSolutionStack([...stacks].reverse())).toBe('64bit Amazon Linux 2023 v6.6.3 running Node.js 22');
  });

  it('compares versions as numbers, not text (v6.6.10 is newer than v6.6.9)', () => {
    expect(pickSolutionStack(['64bit Amazon Linux 2023 v6.6.9 running Node.js 20', '64bit Amazon Linux 2023 v6.6.10 running Node.js 20'])).toBe(
      '64bit Amazon Linux 2023 v6.6.10 running Node.js 20',
    );
  });

  it('nova.PLATFORM: the exact name when offered, even when it is not the newest', () => {
    expect(pickSolutionStack(stacks, '64bit Amazon Linux 2023 v6.5.1 running Node.js 20')).toBe('64bit Amazon Linux 2023 v6.5.1 running Node.js 20');
  });

  it('nova.PLATFORM: else the newest stack containing it, case-insensitively', () => {
    expect(pickSolutionStack(stacks, 'node.js 20')).toBe('64bit Amazon Linux 2023 v6.6.3 running Node.js 20');
    expect(pickSolutionStack(stacks, 'Amazon Linux 2 v5')).toBe('64bit Amazon Linux 2 v5.10.0 running Node.js 18');
    expect(pickSolutionStack(stacks, 'Python')).toBe('64bit Amazon Linux 2023 v4.3.0 running Python 3.12');
  });

  it('is undefined when nothing matches, or nothing runs Node.js', () => {
    expect(pickSolutionStack(stacks, 'Node.js 8')).toBeUndefined();
    expect(pickSolutionStack(['64bit Amazon Linux 2023 v6.6.10 running Docker'])).toBeUndefined();
    expect(pickSolutionStack([])).toBeUndefined();
  });
});

/** The traffic check's figures for every environment given: no request in the quiet window. */
function drained(envs: { EnvironmentName: string }[]): { traffic: Map<string, Traffic> } {
  const t: Traffic = { loadBalancer: 'app/awseb-AWSEB-x/1', requests: 0, windowMinutes: 5, from: '2025-10-09T07:55:00.000Z', to: '2025-10-09T08:00:00.000Z' };
  return { traffic: new Map(envs.map((e) => [e.EnvironmentName, t])) };
}

describe("terminate_eb_old_environment's decide", () => {
  const now = new Date((T0 + 3600) * 1000);
  const live = env(`nova-${T0}`, 'dv-nova');
  const byName = (ds: ReturnType<typeof decide>) => Object.fromEntries(ds.map((d) => [d.environment, d]));

  it('terminates one that lost the main CNAME longer than the grace period ago, keeps one inside it', () => {
    const old = env(`nova-${T0 - 86_400}`, `dv-nova-${T0 - 3600}`); // replaced 120 min before now
    const recent = env(`nova-${T0 - 7200}`, `dv-nova-${T0 - 100}`);
    const l = ledger(swap(`nova-${T0 - 7200}`, live.EnvironmentName, new Date(now.getTime() - 10 * 60_000))); // 10 min ago
    const d = byName(decide([live, old, recent], l, MAIN, 50, now, 0, drained([old, recent])));
    expect(d[old.EnvironmentName]).toMatchObject({ action: 'terminate' });
    expect(d[old.EnvironmentName].reason).toMatch(/cname timestamp.*120 min ago; grace period 50 min is over/);
    expect(d[recent.EnvironmentName]).toMatchObject({ action: 'keep' });
    expect(d[recent.EnvironmentName].reason).toMatch(/\(history\).*10 min ago; grace period is 50 min/);
  });

  it('the grace period is a minimum: exactly at it is over, a minute before it is not', () => {
    const at50 = env(`nova-${T0 - 1}`, `dv-nova-${T0 + 3600 - 50 * 60}`);
    const at49 = env(`nova-${T0 - 2}`, `dv-nova-${T0 + 3600 - 49 * 60}`);
    const d = byName(decide([live, at50, at49], ledger(), MAIN, 50, now, 0, drained([at50, at49])));
    expect(d[at50.EnvironmentName].action).toBe('terminate');
    expect(d[at49.EnvironmentName].action).toBe('keep');
  });

  it('never terminates the holder of the main CNAME, even with grace 0 and old swap events naming it', () => {
    const d = decide([live], ledger(swap(live.EnvironmentName, `nova-${T0 - 86_400}`, new Date(now.getTime() - 86_400_000))), MAIN, 0, now);
    expect(d).toEqual([{ environment: live.EnvironmentName, action: 'keep', reason: `holds the main CNAME ${MAIN}` }]);
  });

  it('keeps one whose age cannot be established (no swap event, no timestamp in its CNAME)', () => {
    const unknown = env(`nova-${T0 - 86_400}`, 'somebody-elses-name');
    const d = byName(decide([live, unknown], ledger(), MAIN, 0, now));
    expect(d[unknown.EnvironmentName]).toMatchObject({ action: 'keep', reason: 'cannot establish when it stopped serving the main CNAME' });
  });

  it('keeps one that is not Ready (launching, updating, terminating), skips terminated ones and ones we did not make', () => {
    const launching = env(`nova-${T0 - 3}`, `dv-nova-${T0 - 86_400}`, { Status: 'Launching' });
    const updating = env(`nova-${T0 - 4}`, `dv-nova-${T0 - 86_400}`, { Status: 'Updating' });
    const terminating = env(`nova-${T0 - 5}`, `dv-nova-${T0 - 86_400}`, { Status: 'Terminating' });
    const terminated = env(`nova-${T0 - 6}`, `dv-nova-${T0 - 86_400}`, { Status: 'Terminated' });
    const foreign = env('worker-prod', `dv-worker-${T0 - 86_400}`);
    const ds = decide([live, launching, updating, terminating, terminated, foreign], ledger(), MAIN, 0, now);
    const d = byName(ds);
    expect(Object.keys(d).sort()).toEqual([live, launching, updating, terminating].map((e) => e.EnvironmentName).sort());
    for (const e of [launching, updating, terminating]) expect(d[e.EnvironmentName]).toMatchObject({ action: 'keep', reason: `is ${e.Status}, not Ready` });
  });

  it('with nothing holding the main CNAME, still only terminates by age', () => {
    const a = env(`nova-${T0 - 10}`, `dv-nova-${T0 - 86_400}`);
    const b = env(`nova-${T0 - 20}`, 'dv-nova-manual');
    const d = byName(decide([a, b], ledger(), MAIN, 50, now, 0, drained([a, b])));
    expect(d[a.EnvironmentName].action).toBe('terminate');
    expect(d[b.EnvironmentName].action).toBe('keep');
  });
});

describe("rollback's lastSwapPartner (from the history, not EB's events)", () => {
  const [a, b, c] = [`nova-${T0}`, `nova-${T0 + 100}`, `nova-${T0 + 200}`];

  it('is the other party of the newest swap naming the environment, on either side', () => {
    const l = ledger(swap(a, b, '2025-10-09T08:00:00.000Z'), swap(b, c, '2025-10-09T10:00:00.000Z'), swap(b, a, '2025-10-09T09:00:00.000Z'));
    expect(lastSwapPartner(l, b)).toBe(c);
    expect(lastSwapPartner(l, c)).toBe(b);
    expect(lastSwapPartner(l, a)).toBe(b);
  });

  it('rollback twice returns where it started: the newest swap pairs the same two', () => {
    const l = ledger(swap(a, b, '2025-10-09T08:00:00.000Z'), swap(b, a, '2025-10-09T08:10:00.000Z'));
    expect(lastSwapPartner(l, a)).toBe(b);
    expect(lastSwapPartner(l, b)).toBe(a);
  });

  it('is undefined with no swap naming it (a first deploy)', () => {
    expect(lastSwapPartner(ledger(), a)).toBeUndefined();
    expect(lastSwapPartner(ledger(swap(b, c, '2025-10-09T08:00:00.000Z')), a)).toBeUndefined();
    expect(lastSwapPartner(ledger(swap(`${a}0`, b, '2025-10-09T08:00:00.000Z')), a)).toBeUndefined();
  });
});

describe("terminate_eb_old_environment's versionsToPrune", () => {
  // app-0 is the oldest; a day between each.
  const versions = Array.from({ length: 14 }, (_, i) => ({ VersionLabel: `app-${i}`, DateCreated: new Date(Date.UTC(2026, 0, 1 + i)).toISOString() }));

  it('keeps the newest KEEP_VERSIONS and deletes the older ones', () => {
    expect(KEEP_VERSIONS).toBe(10);
    expect(versionsToPrune(versions, new Set()).sort()).toEqual(['app-0', 'app-1', 'app-2', 'app-3']);
  });

  it('never deletes a version an environment runs, however old', () => {
    expect(versionsToPrune(versions, new Set(['app-1'])).sort()).toEqual(['app-0', 'app-2', 'app-3']);
  });

  it('deletes nothing while there are no more than KEEP_VERSIONS, in any order', () => {
    expect(versionsToPrune([...versions.slice(4)].reverse(), new Set())).toEqual([]);
  });
});

describe("terminate_eb_old_environment's decide and the DNS TTL", () => {
  const now = new Date((T0 + 3600) * 1000);
  const live = env(`nova-${T0}`, 'dv-nova');

  it('keeps one that lost the main CNAME less than the TTL ago, even with grace 0; after it, terminates', () => {
    const old = env(`nova-${T0 - 86_400}`, `dv-nova-${T0 - 1}`);
    const justNow = ledger(swap(old.EnvironmentName, live.EnvironmentName, new Date(now.getTime() - 30_000)));
    const [kept] = decide([live, old], justNow, MAIN, 0, now, 60_000).filter((d) => d.environment === old.EnvironmentName);
    expect(kept.action).toBe('keep');
    expect(kept.reason).toContain(`until ${new Date(now.getTime() + 30_000).toISOString()} (DNS TTL 60 s)`);
    const later = ledger(swap(old.EnvironmentName, live.EnvironmentName, new Date(now.getTime() - 61_000)));
    expect(decide([live, old], later, MAIN, 0, now, 60_000, drained([old])).find((d) => d.environment === old.EnvironmentName)?.action).toBe('terminate');
  });
});

describe('the platform stays put', () => {
  const stacks = [
    '64bit Amazon Linux 2023 v6.7.0 running Node.js 24',
    '64bit Amazon Linux 2023 v6.6.3 running Node.js 22',
    '64bit Amazon Linux 2023 v6.6.2 running Node.js 22',
    '64bit Amazon Linux 2 v5.10.2 running Node.js 18',
    '64bit Amazon Linux 2 v5.10.1 running Node.js 18',
  ];

  it('reads a stack as a branch and a version', () => {
    expect(platformBranch('64bit Amazon Linux 2 v5.10.2 running Node.js 18')).toEqual({ branch: 'Node.js 18 on 64bit Amazon Linux 2', version: [5, 10, 2] });
    expect(platformBranch('Docker')).toBeUndefined();
  });

  it('keeps the live branch at its newest version, and names the newer branch without taking it', () => {
    const c = choosePlatform(stacks, { live: '64bit Amazon Linux 2 v5.10.1 running Node.js 18' });
    expect(c.stack).toBe('64bit Amazon Linux 2 v5.10.2 running Node.js 18');
    expect(c.newerBranch).toBe('64bit Amazon Linux 2023 v6.7.0 running Node.js 24');
    expect(choosePlatform(stacks, { live: '64bit Amazon Linux 2023 v6.6.2 running Node.js 22' }).stack).toBe('64bit Amazon Linux 2023 v6.6.3 running Node.js 22');
  });

  it('nova.PLATFORM names the branch to move to; a first deploy takes the newest Node.js', () => {
    const moved = choosePlatform(stacks, { wanted: 'Node.js 24', live: '64bit Amazon Linux 2 v5.10.1 running Node.js 18' });
    expect(moved).toMatchObject({ stack: '64bit Amazon Linux 2023 v6.7.0 running Node.js 24', newerBranch: undefined });
    expect(choosePlatform(stacks, {}).stack).toBe('64bit Amazon Linux 2023 v6.7.0 running Node.js 24');
  });

  it('a live branch no longer offered falls back to the newest Node.js and says so', () => {
    const c = choosePlatform(stacks, { live: '64bit Amazon Linux 2 v5.8.0 running Node.js 16' });
    expect(c.stack).toBe('64bit Amazon Linux 2023 v6.7.0 running Node.js 24');
    expect(c.why).toMatch(/no longer offered/);
  });
});

describe('the health gate', () => {
  const label = 'app-1';
  const e = (Status: any, Health: any, HealthStatus: string) => ({ Status, Health, HealthStatus, VersionLabel: label });

  it('Severe while Launching is reported, not fatal', () => {
    const v = healthGate(e('Launching', 'Red', 'Severe'), [], label, 0);
    expect(v).toMatchObject({ wait: 'Launching, health Red (Severe)' });
    expect('note' in v && v.note).toMatch(/while Launching/);
    expect(healthGate(e('Launching', 'Red', 'Severe'), [{ Message: 'Environment health has transitioned from Pending to Severe. ELB health is failing.' }], label, 0)).toHaveProperty('wait');
  });

  it('fails on EB failure events and FATAL, whatever the status', () => {
    for (const Message of ['Failed to launch environment.', 'Create environment operation is complete, but with errors.', "Stack named 'awseb-e-x-stack' aborted operation."]) {
      expect(healthGate(e('Launching', 'Grey', 'Pending'), [{ Message }], label, 0)).toEqual({ fail: Message });
    }
    expect(healthGate(e('Launching', 'Grey', 'Pending'), [{ Message: 'anything', Severity: 'FATAL' }], label, 0)).toEqual({ fail: 'anything' });
  });

  it('Red after Ready fails only once it persists; Green with our version is done', () => {
    expect(healthGate(e('Ready', 'Red', 'Severe'), [], label, 1)).toHaveProperty('wait');
    expect(healthGate(e('Ready', 'Red', 'Severe'), [], label, 3)).toHaveProperty('fail');
    expect(healthGate(e('Ready', 'Green', 'Ok'), [], label, 0)).toEqual({ done: true });
    expect(healthGate(e('Terminated', 'Grey', 'Unknown'), [], label, 0)).toEqual({ fail: 'it is Terminated' });
  });
});

describe('terminateEnvironment (issue 12: one already terminating is not an error)', () => {
  const cli = (script: Parameters<typeof recordingExec>[0]) => {
    const exec = recordingExec(script);
    const log = new Logger({ stdout: new Sink(), stderr: new Sink(), color: false, verbose: false, json: false, redactor: new Redactor([]) } as any);
    const aws = new AwsCli({ env: {}, log, redactor: new Redactor([]), exec, sleep: async () => undefined, version: parseAwsCliVersion('aws-cli/1.45.11 Python/3.11.7 Linux/6.1 botocore/1.43.11') });
    return { ctx: { aws, call: aws.aws.bind(aws), log } as any, exec };
  };
  const described = (Status: string) => ok(JSON.stringify({ Environments: [{ EnvironmentName: 'nova-1', Status }] }));

  it('answers "already" when EB refuses because it is terminating or gone', async () => {
    const invalid = awsError('InvalidParameterValue', 'TerminateEnvironment', 'Environment named nova-1 is in an invalid state for this operation. Must be Ready.');
    for (const status of ['Terminating', 'Terminated']) {
      const { ctx, exec } = cli([invalid, described(status)]);
      expect(await terminateEnvironment(ctx.call, 'nova-1')).toBe('already');
      expect(exec.calls.map((c) => c.args[1])).toEqual(['terminate-environment', 'describe-environments']);
    }
    const { ctx } = cli([awsError('InvalidParameterValue', 'TerminateEnvironment', "No Environment found for EnvironmentName = 'nova-1'."), ok('{"Environments":[]}')]);
    expect(await terminateEnvironment(ctx.call, 'nova-1')).toBe('already');
  });

  it('still fails when the environment is in another state, or for another error', async () => {
    const invalid = awsError('InvalidParameterValue', 'TerminateEnvironment', 'Environment named nova-1 is in an invalid state for this operation. Must be Ready.');
    await expect(terminateEnvironment(cli([invalid, described('Updating')]).ctx.call, 'nova-1')).rejects.toThrow(/invalid state/);
    await expect(terminateEnvironment(cli([awsError('AccessDenied', 'TerminateEnvironment', 'no')]).ctx.call, 'nova-1')).rejects.toThrow(/AccessDenied|no/);
  });
});

describe('lost answers: the swap is verified, never repeated; an environment we made is adopted', () => {
  const MAINC = `dv-nova.${REGION}.elasticbeanstalk.com`;
  const cli = (script: Parameters<typeof recordingExec>[0]) => {
    const exec = recordingExec(script);
    const log = new Logger({ stdout: new Sink(), stderr: new Sink(), color: false, verbose: false, json: false, redactor: new Redactor([]) } as any);
    const aws = new AwsCli({ env: {}, log, redactor: new Redactor([]), exec, sleep: async () => undefined, version: parseAwsCliVersion('aws-cli/1.45.11 Python/3.11.7 Linux/6.1 botocore/1.43.11') });
    return { ctx: { aws, call: aws.aws.bind(aws), log, dryRun: false, phase: 'dv', sandbox: { endpoint: 'http://127.0.0.1:1', router: '127.0.0.1:2' } } as any, exec };
  };
  const holding = (name: string, cname: string) => ok(JSON.stringify({ Environments: [{ EnvironmentName: name, CNAME: cname, Status: 'Ready' }] }));

  it('a swap whose answer was lost (the retry meets OperationInProgressFailure) is checked with describe, not sent again', async () => {
    const { ctx, exec } = cli([awsError('OperationInProgressFailure', 'SwapEnvironmentCNAMEs', 'An operation is already in progress'), holding('nova-2', MAINC)]);
    await swapVerified(ctx, 'dv', 'nova-1', 'nova-2', MAINC);
    expect(exec.calls.map((c) => c.args[1])).toEqual(['swap-environment-cnames', 'describe-environments']);
  });

  it('a swap that answered waits until EB shows the new holder', async () => {
    const { ctx, exec } = cli([ok(''), holding('nova-2', MAINC)]);
    await swapVerified(ctx, 'dv', 'nova-1', 'nova-2', MAINC);
    expect(exec.calls.filter((c) => c.args[1] === 'swap-environment-cnames')).toHaveLength(1);
  });

  it('a create-application-version retried after a lost answer adopts the version with our bundle, and only that', async () => {
    const exists = awsError('InvalidParameterValue', 'CreateApplicationVersion', 'Application Version app-1 already exists.');
    const version = (key: string) => ok(JSON.stringify({ ApplicationVersions: [{ VersionLabel: 'app-1', SourceBundle: { S3Bucket: 'b', S3Key: key } }] }));
    expect(await createApplicationVersion(cli([exists, version('k')]).ctx.call, 'dv', 'app-1', 'b', 'k', 'd')).toBe('adopted');
    await expect(createApplicationVersion(cli([exists, version('other')]).ctx.call, 'dv', 'app-1', 'b', 'k', 'd')).rejects.toThrow(/already exists/);
  });

  it('adopts an environment with our tags and our version; not one without them', async () => {
    const described = ok(JSON.stringify({ Environments: [{ EnvironmentName: 'nova-5', EnvironmentArn: 'arn:env/nova-5', VersionLabel: 'app-1', Status: 'Launching' }] }));
    const ours = ok(JSON.stringify({ ResourceTags: [{ Key: 'johanna:phase', Value: 'dv' }, { Key: 'johanna:role', Value: 'nova-environment' }] }));
    const theirs = ok(JSON.stringify({ ResourceTags: [{ Key: 'johanna:phase', Value: 'qa' }, { Key: 'johanna:role', Value: 'nova-environment' }] }));
    expect(await madeByThisRun(cli([described, ours]).ctx, 'dv', 'nova-5', 'app-1')).toBe(true);
    expect(await madeByThisRun(cli([described, theirs]).ctx, 'dv', 'nova-5', 'app-1')).toBe(false);
    expect(await madeByThisRun(cli([described]).ctx, 'dv', 'nova-5', 'app-2')).toBe(false);
  });
});

// Found by running the real EB CLI: after an `eb swap` (not in the history) rollback said "the
// previous environment ... is Ready" and refused.
describe("rollback's swapPartner: the history first, else EB's CNAMEs", () => {
  const ctx = { config: { nova: { CNAME: 'dv-nova' } }, region: REGION } as any;
  const live = env(`nova-${T0 + 100}`, 'dv-nova'); // holds the main CNAME since an eb swap
  const before = env(`nova-${T0}`, `dv-nova-${T0 + 100}`); // now at the live one's birth CNAME
  const other = env(`nova-${T0 - 100}`, `dv-nova-${T0 - 50}`);

  it('with no swap recorded, the live environment at the current one\'s birth CNAME, and says so', () => {
    expect(swapPartner(ctx, ledger(), live, [other, before])).toEqual({ partner: before.EnvironmentName, byCname: true });
  });

  it('the history wins when it names one; none at the birth CNAME (or only a terminated one) is none', () => {
    expect(swapPartner(ctx, ledger(swap(other.EnvironmentName, live.EnvironmentName, '2025-10-09T08:00:00.000Z')), live, [other, before])).toEqual({ partner: other.EnvironmentName, byCname: false });
    expect(swapPartner(ctx, ledger(), live, [other])).toEqual({ partner: undefined, byCname: false });
    expect(swapPartner(ctx, ledger(), live, [{ ...before, Status: 'Terminated' }])).toEqual({ partner: undefined, byCname: false });
  });
});
