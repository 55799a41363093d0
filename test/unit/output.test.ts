// Issue 22 items 1-5, the pieces: tables, hints and the nearest command, the summary block,
// and the log's spinner and "still waiting" lines (the e2e tests see them through ./run).
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Chalk } from 'chalk';
import { table } from '../../src/ui/table.js';
import { nearestCommand, runHint } from '../../src/ui/hint.js';
import { summaryLines } from '../../src/ui/summary.js';
import { Logger } from '../../src/ui/log.js';
import { Redactor } from '../../src/ui/redact.js';
import { waitFor } from '../../src/time.js';
import { Steps } from '../../src/ui/steps.js';
import { COMMANDS } from '../../src/commands/registry.js';
import { Sink } from './fakes.js';

const NAMES = [...COMMANDS.map((c) => c.name), 'sandbox'];

describe('table', () => {
  it('pads every column to its widest cell, header included; an empty cell shows -', () => {
    const lines = table(['ROLE', 'ENVIRONMENT', 'CNAME'], [['live', 'nova-1', 'dv-nova-1700000000.ap-northeast-2.elasticbeanstalk.com'], ['previous', 'nova-1700000000', undefined]], '  ');
    expect(lines).toEqual([
      '  ROLE      ENVIRONMENT      CNAME',
      '  live      nova-1           dv-nova-1700000000.ap-northeast-2.elasticbeanstalk.com',
      '  previous  nova-1700000000  -',
    ]);
  });
});

describe('hints', () => {
  it('carry -e when the config is not the default env.json beside ./run, quoted when it must be', () => {
    expect(runHint({ configFile: '/repo/env.json', root: '/repo' }, 'promote')).toBe('./run promote');
    expect(runHint({ configFile: '/etc/johanna/prod.json', root: '/repo' }, 'promote')).toBe('./run -e /etc/johanna/prod.json promote');
    expect(runHint({ configFile: "/tmp/my phase's.json", root: '/repo' }, 'discard')).toBe(`./run -e '/tmp/my phase'\\''s.json' discard`);
    expect(runHint({ configFile: `${process.cwd()}/envs/dv.json`, root: '/repo' }, 'status')).toBe('./run -e envs/dv.json status');
  });

  it('every ./run the log prints gets the run options, once; ../run and text without ./run are left alone', () => {
    const err = new Sink();
    const out = new Sink();
    const log = new Logger({ verbose: false, json: false, color: false, redactor: new Redactor(), stdout: out, stderr: err });
    log.runOptions = '-e envs/dv.json';
    log.info('check ./run status; ./run rollback swaps back (./run -e other.json status too)');
    log.result('next: `./run promote`; cd nova; ../run -- eb list; ./run -- aws ec2 describe-vpcs');
    expect(err.text).toContain('check ./run -e envs/dv.json status; ./run -e envs/dv.json rollback swaps back (./run -e other.json status too)');
    expect(out.text).toBe('next: `./run -e envs/dv.json promote`; cd nova; ../run -- eb list; ./run -e envs/dv.json -- aws ec2 describe-vpcs\n');
  });

  it('an unknown command: the nearest one, by the words people use or by spelling; none when nothing is near', () => {
    expect(nearestCommand('deploy', NAMES)).toBe('create_nova');
    expect(nearestCommand('stauts', NAMES)).toBe('status');
    expect(nearestCommand('rollbak', NAMES)).toBe('rollback');
    expect(nearestCommand('promte', NAMES)).toBe('promote');
    expect(nearestCommand('create-nova', NAMES)).toBe('create_nova');
    expect(nearestCommand('destroy', NAMES)).toBe('terminate');
    expect(nearestCommand('terminate_eb', NAMES)).toBe('terminate_eb_old_environment');
    expect(nearestCommand('frobnicate', NAMES)).toBeUndefined();
  });
});

describe('the summary block', () => {
  const steps = [
    { ts: '', step: 'preflight', ms: 2700, ok: true, calls: 3, retries: 0 },
    { ts: '', step: 'swap', ms: 3000, ok: true, calls: 2, retries: 0 },
  ];
  it('outcome, URL, the sandbox curl with the Host header, what served before, the total and the timeline', () => {
    const lines = summaryLines(
      { command: 'create_nova', ok: true, outcome: 'deployed v2 to nova-2', cname: 'dv-nova.ap-northeast-2.elasticbeanstalk.com', before: 'nova-1 (v1)', totalMs: 41_230, steps, router: '127.0.0.1:4580', healthPath: '/health' },
      new Chalk({ level: 0 }),
    );
    expect(lines.slice(2)).toEqual([
      'create_nova: deployed v2 to nova-2',
      '  url     http://dv-nova.ap-northeast-2.elasticbeanstalk.com/health',
      "  try     curl -H 'Host: dv-nova.ap-northeast-2.elasticbeanstalk.com' http://127.0.0.1:4580/health",
      '  before  nova-1 (v1)',
      '  took    41.2s',
      '  steps   preflight 2.7s ▸ swap 3.0s',
    ]);
  });
  it('the outcome is green when it worked, red when it failed; no curl off the sandbox', () => {
    const c = new Chalk({ level: 1 });
    const good = summaryLines({ command: 'rollback', ok: true, outcome: 'rolled back', cname: 'x.example', totalMs: 1, steps }, c);
    const bad = summaryLines({ command: 'rollback', ok: false, error: 'refused', totalMs: 1, steps }, c);
    expect(good[2]).toBe(c.green('rollback: rolled back'));
    expect(bad[2]).toBe(c.red('rollback FAILED: refused'));
    expect(good.join('\n')).not.toContain('curl');
  });
});

describe('never silent', () => {
  afterEach(() => vi.useRealTimers());

  it('without a TTY an unchanged wait prints "still waiting for X (N s)" every stillEveryMs, and a change at once', async () => {
    vi.useFakeTimers({ now: 0 });
    const err = new Sink();
    const log = new Logger({ verbose: false, json: false, color: false, redactor: new Redactor(), stdout: new Sink(), stderr: err });
    log.stillEveryMs = 20_000;
    let polls = 0;
    const done = waitFor({ log }, {
      what: 'nova-2 to be Ready',
      deadline: 10 * 60_000,
      intervalMs: 5000,
      check: async () => (++polls >= 14 ? { done: true } : { state: polls < 10 ? 'Launching' : 'Updating' }),
    });
    await vi.advanceTimersByTimeAsync(80_000);
    await done;
    const lines = err.text.trim().split('\n').map((l) => l.replace(/^\S+ \S+ /, ''));
    expect(lines[0]).toBe('... waiting for nova-2 to be Ready: Launching (0s)');
    const still = lines.filter((l) => l.startsWith('... still waiting for nova-2 to be Ready: Launching ('));
    expect(still.length).toBeGreaterThanOrEqual(1);
    expect(still.length).toBeLessThanOrEqual(3);
    expect(lines).toContainEqual(expect.stringMatching(/^\.\.\. waiting for nova-2 to be Ready: Updating \(\d+s\)$/));
    // Spaced by the interval (jittered polls make it a little more), never a flood.
    const at = still.map((l) => Number(/\((\d+) s\)$/.exec(l)![1]));
    at.forEach((t, i) => expect(t - (i ? at[i - 1] : 0)).toBeGreaterThanOrEqual(20));
    expect(err.text).not.toMatch(/\x1b/);
  });

  it('without a TTY a step or read that prints nothing says "still at X (N s)" every stillEveryMs, and stops when it ends', async () => {
    vi.useFakeTimers({ now: 0 });
    const err = new Sink();
    const log = new Logger({ verbose: false, json: false, color: false, redactor: new Redactor(), stdout: new Sink(), stderr: err });
    log.stillEveryMs = 3000;
    const steps = new Steps({ records: [] }, undefined, Date.now, log);
    await steps.run('preflight', async () => {
      await vi.advanceTimersByTimeAsync(4000);
      log.info('found the network');
      await vi.advanceTimersByTimeAsync(4000);
    });
    await vi.advanceTimersByTimeAsync(10_000);
    const lines = err.text.trim().split('\n').map((l) => l.replace(/^\S+ \S+ /, ''));
    expect(lines).toEqual(['... still at preflight (3 s)', 'found the network', '... still at preflight (7 s)']);
  });

  it('on a TTY a step shows a spinner with its elapsed time, redrawn until the step ends, and again under a line printed meanwhile', async () => {
    vi.useFakeTimers({ now: 0 });
    const err = Object.assign(new Sink(), { isTTY: true });
    const log = new Logger({ verbose: false, json: false, color: false, redactor: new Redactor(), stdout: new Sink(), stderr: err });
    const steps = new Steps({ records: [] }, undefined, Date.now, log);
    await steps.run('package', async () => {
      await vi.advanceTimersByTimeAsync(2100);
      log.info('built nova.zip');
      await vi.advanceTimersByTimeAsync(1000);
    });
    const frames = err.text.split('\r\x1b[2K').filter(Boolean);
    expect(frames.filter((f) => /^. package \(\d+s\)$/.test(f)).length).toBeGreaterThan(10);
    expect(frames[0]).toMatch(/^. package \(0s\)$/);
    expect(frames.some((f) => f.endsWith('package (2s)'))).toBe(true);
    expect(frames.some((f) => f.endsWith('package (3s)'))).toBe(true);
    expect(err.text).toContain('built nova.zip\n');
    // Cleared at the end: the last thing written is the erase, and no timer is left.
    expect(err.text.endsWith('\r\x1b[2K')).toBe(true);
    const before = err.text.length;
    await vi.advanceTimersByTimeAsync(1000);
    expect(err.text.length).toBe(before);
  });
});
