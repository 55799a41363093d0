// A run, as its run log tells it: the aws calls and the timed steps, read back from
// logs/<phase>/<stamp>-<command>-<pid>.jsonl, with each step's calls, retries and throttles
// and the run's totals. Pure: the report's numbers come from here, and the tests check them
// against the log line by line.
import type { RunLogRecord } from '../../aws/cli.js';
import type { StepRecord } from '../steps.js';
import type { WaterfallBar } from './svg.js';

export interface ParsedRunLog {
  /** The first line: which aws CLI ran the calls. */
  cli?: Record<string, unknown>;
  calls: RunLogRecord[];
  steps: StepRecord[];
  /** For each call, the index in `steps` of the first step line after it in the file (-1: none). */
  nextStep: number[];
  /** Lines that did not parse (a run killed while writing one). */
  skipped: number;
}

export function parseRunLog(text: string): ParsedRunLog {
  const out: ParsedRunLog = { calls: [], steps: [], nextStep: [], skipped: 0 };
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    let r: any;
    try {
      r = JSON.parse(line);
    } catch {
      out.skipped++;
      continue;
    }
    // --report marks where the run ended and its own reads began: they are not the run's.
    if (r && typeof r === 'object' && typeof r.report === 'string' && !r.tool) break;
    if (r && typeof r === 'object' && r.cli && !r.tool) out.cli = r.cli;
    else if (r && typeof r.tool === 'string' && Array.isArray(r.args)) out.calls.push(r as RunLogRecord);
    else if (r && typeof r.step === 'string' && typeof r.ms === 'number') {
      out.steps.push(r as StepRecord);
      while (out.nextStep.length < out.calls.length) out.nextStep.push(out.steps.length - 1);
    } else out.skipped++;
  }
  while (out.nextStep.length < out.calls.length) out.nextStep.push(-1);
  return out;
}

/** A call AWS throttled: its error names throttling, or the aws CLI resent it itself. */
export function isThrottle(c: Pick<RunLogRecord, 'error' | 'cliRetries'>): boolean {
  return /Throttl|Rate exceeded/i.test(c.error ?? '') || (c.cliRetries ?? 0) > 0;
}

/** One of our runner's retries (src/aws/cli.ts: attempt above 1). */
export function isRetry(c: Pick<RunLogRecord, 'attempt'>): boolean {
  return (c.attempt ?? 1) > 1;
}

/** A step of the run as the waterfall draws it (svg.ts WaterfallBar), named by its step. */
export type StepRow = Omit<WaterfallBar, 'label'> & { step: string };

export interface RunTotals {
  calls: number;
  mutating: number;
  retries: number;
  throttles: number;
  failedCalls: number;
  /** Calls made outside every step: the lock, the history record, a command without steps. */
  outsideSteps: number;
  /** Sum of the steps' durations. */
  stepsMs: number;
  /** From the first line to the end of the last call or step. */
  wallMs: number;
}

export interface RunModel {
  /** When the run began (ms since the epoch): its first call or step. */
  startMs: number;
  endMs: number;
  rows: StepRow[];
  totals: RunTotals;
}

const at = (ts: string) => Date.parse(ts);

/**
 * The waterfall's rows and the totals. A call belongs to the step it ended in, as the run
 * counted it (src/ui/steps.ts: the calls recorded between the step's start and its end): a
 * call's line is written when it ends and a step's line when the step ends, so a call is the
 * next step's in the file if it ended after that step began. Any other call (the lock, the
 * history record, a command without steps) counts in outsideSteps.
 */
export function modelOf(log: ParsedRunLog): RunModel {
  const times = [...log.calls.flatMap((c) => [at(c.ts), at(c.ts) + c.ms]), ...log.steps.flatMap((s) => [at(s.ts), at(s.ts) + s.ms])].filter(Number.isFinite);
  const startMs = times.length ? Math.min(...times) : 0;
  const endMs = times.length ? Math.max(...times) : 0;
  const owner = (c: RunLogRecord, i: number) => {
    const j = log.nextStep[i] ?? -1;
    // Strictly after: a call that ended in the very millisecond the step began was recorded
    // before it (its ms is taken, then its line written, then the step starts; one clock).
    return j >= 0 && at(c.ts) + c.ms > at(log.steps[j].ts) ? j : -1;
  };
  const byStep = log.steps.map(() => [] as RunLogRecord[]);
  let outside = 0;
  for (const [n, c] of log.calls.entries()) {
    const i = owner(c, n);
    if (i >= 0) byStep[i].push(c);
    else outside++;
  }
  const rows = log.steps.map((s, i) => ({
    step: s.step,
    startMs: at(s.ts) - startMs,
    ms: s.ms,
    ok: s.ok,
    calls: byStep[i].length,
    retries: byStep[i].filter(isRetry).length,
    throttles: byStep[i].filter(isThrottle).length,
  }));
  return {
    startMs,
    endMs,
    rows,
    totals: {
      calls: log.calls.length,
      mutating: log.calls.filter((c) => c.mutating).length,
      retries: log.calls.filter(isRetry).length,
      throttles: log.calls.filter(isThrottle).length,
      failedCalls: log.calls.filter((c) => c.exitCode !== 0).length,
      outsideSteps: outside,
      stepsMs: log.steps.reduce((a, s) => a + s.ms, 0),
      wallMs: endMs - startMs,
    },
  };
}

/** The value after `flag` in a call's arguments. */
export function argOf(args: readonly string[], flag: string): string | undefined {
  const i = args.indexOf(flag);
  return i >= 0 ? args[i + 1] : undefined;
}

export interface RunEnvironments {
  /** The environment the run created (create-environment). */
  created?: string;
  /** The two environments of the swap call, if there was one, and when it began. */
  swapped?: { source: string; destination: string; at: number };
}

/** Which environments the run made and swapped, from its successful calls. */
export function environmentsOf(log: ParsedRunLog): RunEnvironments {
  const ok = log.calls.filter((c) => c.exitCode === 0 && c.args[0] === 'elasticbeanstalk');
  const create = ok.find((c) => c.args[1] === 'create-environment');
  const swap = ok.filter((c) => c.args[1] === 'swap-environment-cnames').at(-1);
  const source = swap && argOf(swap.args, '--source-environment-name');
  const destination = swap && argOf(swap.args, '--destination-environment-name');
  return {
    created: create && argOf(create.args, '--environment-name'),
    swapped: swap && source && destination ? { source, destination, at: at(swap.ts) } : undefined,
  };
}
