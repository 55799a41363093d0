import { describe, expect, it } from 'vitest';
import { Steps, timeline } from '../../src/ui/steps.js';

describe('Steps: the run timed step by step', () => {
  it('records each step in order with its duration, its calls and retries, and writes it to the sink', async () => {
    const calls = { records: [] as { attempt?: number }[] };
    const sink: object[] = [];
    let t = 1_000;
    const steps = new Steps(calls, { append: (r) => sink.push(r) }, () => t);
    await steps.run('preflight', async () => {
      calls.records.push({}, {});
      t += 2_700;
    });
    await expect(
      steps.run('swap', async () => {
        calls.records.push({}, { attempt: 2 });
        t += 3_000;
        throw new Error('refused');
      }),
    ).rejects.toThrow('refused');
    expect(steps.done).toEqual([
      { ts: new Date(1_000).toISOString(), step: 'preflight', ms: 2_700, ok: true, calls: 2, retries: 0 },
      { ts: new Date(3_700).toISOString(), step: 'swap', ms: 3_000, ok: false, calls: 2, retries: 1 },
    ]);
    expect(sink).toEqual(steps.done);
    expect(timeline(steps.done)).toBe('preflight 2.7s ▸ swap 3.0s (failed)');
  });
});
