// Issue 20 item 2, the short soak in npm test: ten days on one sandbox, each kind of day at
// least once (daily, hold+promote, daily+rollback, hold+discard, a failed deploy kept, a
// failed held deploy kept, then the first four again), each ended by the cleanup, with events
// kept only 30 s. bench/soak.ts checks
// after every step, from EB, the router and the history table (never from the tool's answer
// alone), that live, held and old are right, that the cleanup removed exactly what it should,
// and that the history agrees with EB. `npm run bench -- --soak N` runs it longer.
import { describe, expect, it } from 'vitest';
import { DAYS, runSoak } from '../../bench/soak.js';

describe('the soak: a week of cron runs on one phase', () => {
  it('ten days, every kind of day: every check holds', { timeout: 20 * 60_000 }, async () => {
    const days = 10;
    const r = await runSoak(days, { phase: 'soakt' });
    expect(r.failures).toEqual([]);
    // Each kind of day ran its commands, and every day ended with its cleanup.
    const commands = r.steps.map((s) => s.command);
    for (const c of ['create', 'create_nova', 'create_nova --hold', 'promote', 'rollback', 'discard']) expect(commands).toContain(c);
    expect(r.steps.filter((s) => s.command.startsWith('terminate_eb_old_environment'))).toHaveLength(days);
    // The failed deploys kept for inspection were removed by that day's cleanup.
    const failedDays = r.steps.filter((s) => s.kind.startsWith('failed') && s.command.startsWith('terminate_eb_old_environment'));
    expect(failedDays).toHaveLength(Array.from({ length: days }, (_, i) => DAYS[i % DAYS.length]).filter((k) => k.startsWith('failed')).length);
    for (const d of failedDays) expect(d.terminated!.length).toBeGreaterThanOrEqual(1);
    expect(r.checks).toBeGreaterThanOrEqual(6 * days);
  });
});
