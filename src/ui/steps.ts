// The run's steps, timed: what a closing summary's one-line timeline and a report's
// waterfall are made of. Each finished step is kept in order and written to the run log as
// one line `{ts, step, ms, ok, calls, retries}` beside the aws calls, so a report can be
// built from the log alone, even for a run that was killed after the step.

export interface StepRecord {
  /** When the step began (ISO 8601). */
  ts: string;
  step: string;
  ms: number;
  ok: boolean;
  /** aws/eb invocations the step made, and how many of them were the runner's retries. */
  calls: number;
  retries: number;
}

interface CallSource {
  readonly records: readonly { attempt?: number }[];
}

export class Steps {
  readonly done: StepRecord[] = [];

  constructor(
    private readonly calls: CallSource,
    private readonly sink?: { append(record: object): void },
    private readonly now: () => number = Date.now,
    /** The run's log: a step shows a spinner on a TTY while it runs (issue 22 item 2). */
    private readonly log?: { spin(text: string, since?: number): void; unspin(): void },
  ) {}

  /** Runs `fn` as the step `name`; a step that throws is recorded as failed, and the error goes on. */
  async run<T>(name: string, fn: () => Promise<T>): Promise<T> {
    const start = this.now();
    const from = this.calls.records.length;
    let ok = false;
    this.log?.spin(name, start);
    try {
      const value = await fn();
      ok = true;
      return value;
    } finally {
      this.log?.unspin();
      this.record(name, start, from, ok);
    }
  }

  private record(step: string, start: number, from: number, ok: boolean): void {
    const made = this.calls.records.slice(from);
    const rec: StepRecord = {
      ts: new Date(start).toISOString(),
      step,
      ms: this.now() - start,
      ok,
      calls: made.length,
      retries: made.filter((r) => (r.attempt ?? 1) > 1).length,
    };
    this.done.push(rec);
    this.sink?.append(rec);
  }
}

/** `preflight 2.7s ▸ package 3.4s ▸ swap 3.0s`: the steps in order, a failed one marked. */
export function timeline(steps: readonly StepRecord[]): string {
  return steps.map((s) => `${s.step} ${(s.ms / 1000).toFixed(1)}s${s.ok ? '' : ' (failed)'}`).join(' ▸ ');
}
