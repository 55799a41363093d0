// `./run events` lines (src/commands/events.ts) and the cleaning of text that comes from
// elsewhere (src/ui/plain-text.ts): an event or a log line can carry terminal escapes.
import { describe, expect, it } from 'vitest';
import { events, format } from '../../src/commands/events.js';
import { commandOptions } from '../../src/args.js';
import { parseConfig } from '../../src/config/load.js';
import { buildCtx, makeRedactor, type GlobalOptions } from '../../src/context.js';
import { Logger } from '../../src/ui/log.js';
import { plainLine, plainLines } from '../../src/ui/plain-text.js';
import sandboxJson from '../../env.sandbox.json' with { type: 'json' };
import { ok, recordingExec, Sink, type Step } from './fakes.js';

describe('plainLine', () => {
  it('drops colours, cursor moves, titles and other control characters; line breaks become spaces', () => {
    expect(plainLine('\x1b[31mred\x1b[0m text')).toBe('red text');
    expect(plainLine('a\x1b[2K\x1b[1Ab')).toBe('ab');
    expect(plainLine('\x1b]0;pwned\x07title')).toBe('title');
    expect(plainLine('bell\x07 and\x00 nul\x7f del \u009bcsi')).toBe('bell and nul del csi');
    expect(plainLine('two\r\nlines\tand a tab')).toBe('two lines and a tab');
    expect(plainLine('Environment health has transitioned from Ok to Severe. ELB health is failing.')).toBe(
      'Environment health has transitioned from Ok to Severe. ELB health is failing.',
    );
  });
});

describe('plainLines', () => {
  it('keeps line breaks and tabs, drops the rest of the control characters', () => {
    expect(plainLines('\x1b[32mGET\x1b[0m /echo/ 200\r\n\tindented\x08\n')).toBe('GET /echo/ 200\n\tindented\n');
  });
});

describe('an event line', () => {
  it('time to the second in UTC, severity padded, environment, message', () => {
    expect(format({ date: '2026-11-27T04:00:01.234Z', severity: 'INFO', environment: 'nova-1764216000', message: 'createEnvironment is starting.' })).toBe(
      '2026-11-27 04:00:01Z INFO  nova-1764216000  createEnvironment is starting.',
    );
    expect(format({ date: '2026-11-27T04:00:01.000Z', severity: 'ERROR', message: 'x' })).toBe('2026-11-27 04:00:01Z ERROR -  x');
  });
});

describe('events --follow', () => {
  function setup(script: Step[], opts: GlobalOptions) {
    const { config } = parseConfig(structuredClone(sandboxJson), 'env.test.json');
    const redactor = makeRedactor({}, config);
    const out = new Sink();
    const log = new Logger({ verbose: false, json: false, color: false, redactor, stdout: out, stderr: new Sink() });
    const exec = recordingExec(script);
    const abort = new AbortController();
    const ctx = buildCtx({ root: '/nonexistent', command: 'events', config, configFile: 'env.test.json', opts, log, redactor, env: {}, exec, runLog: false, signal: abort.signal });
    return { ctx, exec, out, abort };
  }
  const ev = (at: string, message: string) => ({ EventDate: at, Message: message, Severity: 'INFO', EnvironmentName: 'nova-2' });
  const T1 = '2026-11-27T04:00:01.000Z';
  const T2 = '2026-11-27T04:00:05.000Z';

  it('prints each new event once, oldest first; events of the instant -n cut off are not news; Ctrl-C ends it with a result', async () => {
    const live = { Environments: [{ EnvironmentName: 'nova-2', Status: 'Ready', CNAME: 'dv-nova.ap-northeast-2.elasticbeanstalk.com' }] };
    let abort = () => {};
    const { ctx, exec, out, abort: ac } = setup(
      [
        ok(JSON.stringify(live)),
        ok(JSON.stringify({ Events: [ev(T1, 'c')] })), // -n 1: the newest only
        ok(JSON.stringify({ Events: [ev(T1, 'c'), ev(T1, 'b')] })), // the same instant, in full
        ok(JSON.stringify({ Events: [ev(T2, 'e'), ev(T2, 'd'), ev(T1, 'c'), ev(T1, 'b')] })),
        () => {
          abort();
          return ok(JSON.stringify({ Events: [ev(T2, 'e'), ev(T2, 'd')] }));
        },
      ],
      {},
    );
    abort = () => ac.abort();
    const result = await events(ctx, commandOptions({ follow: true, number: '1' }));
    expect(out.text.split('\n').filter(Boolean).map((l) => l.slice(-1))).toEqual(['c', 'd', 'e']);
    expect(result).toMatchObject({ environment: 'nova-2', followed: true, printed: 3 });
    expect(exec.calls[3].args).toContain('--start-time');
    expect(exec.calls[3].args[exec.calls[3].args.indexOf('--start-time') + 1]).toBe(T1);
    expect(exec.calls[4].args[exec.calls[4].args.indexOf('--start-time') + 1]).toBe(T2);
  }, 20_000);
});

// Issue 20 "also fix": `events --follow` kept following the old environment after a swap.
describe('events --follow, after a swap', () => {
  it('follows the environment that now holds the main CNAME (no --environment), and says so', async () => {
    const { config } = parseConfig(structuredClone(sandboxJson), 'env.test.json');
    const redactor = makeRedactor({}, config);
    const out = new Sink();
    const err = new Sink();
    const log = new Logger({ verbose: false, json: false, color: false, redactor, stdout: out, stderr: err });
    const abort = new AbortController();
    const main = 'dv-nova.ap-northeast-2.elasticbeanstalk.com';
    const holds = (name: string, other: string) => ok(JSON.stringify({ Environments: [{ EnvironmentName: name, Status: 'Ready', CNAME: main }, { EnvironmentName: other, Status: 'Ready', CNAME: 'dv-nova-1.ap-northeast-2.elasticbeanstalk.com' }] }));
    const at = (t: string, env: string, message: string) => ({ EventDate: t, Message: message, Severity: 'INFO', EnvironmentName: env });
    const exec = recordingExec([
      holds('nova-2', 'nova-3'),
      ok(JSON.stringify({ Events: [at('2026-11-27T04:00:01.000Z', 'nova-2', 'a')] })),
      ok(JSON.stringify({ Events: [at('2026-11-27T04:00:05.000Z', 'nova-2', "Completed swapping CNAMEs for environments 'nova-3' and 'nova-2'.")] })),
      holds('nova-3', 'nova-2'),
      () => {
        abort.abort();
        return ok(JSON.stringify({ Events: [at('2026-11-27T04:00:06.000Z', 'nova-3', 'b')] }));
      },
    ]);
    const ctx = buildCtx({ root: '/nonexistent', command: 'events', config, configFile: 'env.test.json', opts: {}, log, redactor, env: {}, exec, runLog: false, signal: abort.signal });
    const result = await events(ctx, commandOptions({ follow: true }));
    expect(result).toMatchObject({ environment: 'nova-2', followed: true });
    expect(err.text).toContain(`nova-3 now holds ${main}: following its events (was nova-2)`);
    const polled = exec.calls.filter((c) => c.args[1] === 'describe-events').map((c) => c.args[c.args.indexOf('--environment-name') + 1]);
    expect(polled).toEqual(['nova-2', 'nova-2', 'nova-3']);
    expect(out.text.split('\n').filter(Boolean).map((l) => l.slice(-1))).toEqual(['a', '.', 'b']);
  }, 20_000);
});

// Issue 20 "also fix": `events --environment <unknown>` said "no events" and exited 0.
describe('events --environment', () => {
  function setup(script: Step[], opts: GlobalOptions) {
    const { config } = parseConfig(structuredClone(sandboxJson), 'env.test.json');
    const redactor = makeRedactor({}, config);
    const log = new Logger({ verbose: false, json: false, color: false, redactor, stdout: new Sink(), stderr: new Sink() });
    const exec = recordingExec(script);
    return { ctx: buildCtx({ root: '/nonexistent', command: 'events', config, configFile: 'env.test.json', opts, log, redactor, env: {}, exec, runLog: false }), exec };
  }

  it('an environment EB does not know is named, exit 1', async () => {
    const { ctx, exec } = setup([ok('{"Events": []}'), ok('{"Environments": []}')], {});
    const err = await events(ctx, commandOptions({ environment: 'nova-typo' })).catch((e) => e);
    expect(err?.message).toMatch(/has no environment nova-typo/);
    expect(err?.exitCode).toBe(1);
    expect(exec.calls[1].args).toContain('--include-deleted');
  });

  it('a known one (terminated, still listed) with no events is "no events", exit 0', async () => {
    const { ctx } = setup([ok('{"Events": []}'), ok('{"Environments": [{"EnvironmentName": "nova-old", "Status": "Terminated"}]}')], {});
    await expect(events(ctx, commandOptions({ environment: 'nova-old' }))).resolves.toMatchObject({ environment: 'nova-old', events: [] });
  });
});
