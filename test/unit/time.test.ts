import { describe, expect, it } from 'vitest';
import { AwsCliError } from '../../src/errors.js';
import { jittered, waitFor } from '../../src/time.js';

const log = { live: () => {}, clearLive: () => {}, info: (m: string) => lines.push(m) };
let lines: string[] = [];

describe('waitFor shares the account politely (issue 23)', () => {
  it('jitters each pause up to 25 % longer, never shorter', () => {
    expect(jittered(1000, () => 0)).toBe(1000);
    expect(jittered(1000, () => 0.999999)).toBe(1250);
  });

  it('a poll throttled past the CLI\'s retries is not a failure: it backs off and polls again', async () => {
    lines = [];
    let polls = 0;
    const started = Date.now();
    const done = await waitFor({ log }, {
      what: 'x',
      deadline: Date.now() + 10_000,
      intervalMs: 20,
      check: async () => {
        polls++;
        if (polls === 1) throw new AwsCliError(['aws', 'elasticbeanstalk', 'describe-environments'], 254, 'An error occurred (Throttling) when calling the DescribeEnvironments operation (reached max retries: 7): Rate exceeded');
        return { done: 'ok' };
      },
    });
    expect(done).toBe('ok');
    expect(polls).toBe(2);
    expect(lines.join('\n')).toMatch(/throttling this account's calls \(Throttling\)/);
    expect(Date.now() - started).toBeGreaterThanOrEqual(38); // the doubled interval (40 ms); timers may fire a ms early
  });

  it('other errors still fail the wait at once', async () => {
    const failing = waitFor({ log }, { what: 'x', deadline: Date.now() + 1000, intervalMs: 10, check: async () => { throw new AwsCliError(['aws'], 254, 'An error occurred (AccessDenied) when calling X'); } });
    await expect(failing).rejects.toThrow(/AccessDenied/);
  });
});
