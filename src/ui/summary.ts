// The block that ends every changing run (issue 22 item 1), the last thing it prints:
// the outcome, where to look (the URL, and on the sandbox a curl with the Host header),
// what served before, the total time, and the steps' one-line timeline. Cleanup and
// bookkeeping (the lock, the history record, the notification) come before it.
import type { ChalkInstance } from 'chalk';
import { timeline, type StepRecord } from './steps.js';

/** What a command tells the closing block, beside its steps: filled in as it learns it. */
export interface RunSummary {
  /** One line: what happened ("deployed app-1 to nova-2", "rolled forward to ..."). */
  outcome?: string;
  /** The CNAME users reach, when the command changed what it serves or checked it. */
  cname?: string;
  /** The environment that served before this run (and its version). */
  before?: string;
}

export interface SummaryBlock extends RunSummary {
  command: string;
  ok: boolean;
  /** The error's message, for a failed run. */
  error?: string;
  totalMs: number;
  steps: readonly StepRecord[];
  /** The sandbox's CNAME router (host:port) and the health path, for a pasteable curl. */
  router?: string;
  healthPath?: string;
}

export function summaryLines(b: SummaryBlock, c: ChalkInstance): string[] {
  const outcome = b.ok ? c.green(`${b.command}: ${b.outcome ?? 'done'}`) : c.red(`${b.command} FAILED: ${b.error ?? 'see above'}`);
  const row = (k: string, v: string) => `  ${k.padEnd(7)} ${v}`;
  const lines = ['', c.bold('── summary ' + '─'.repeat(30)), outcome];
  if (b.cname) {
    lines.push(row('url', `http://${b.cname}${b.healthPath ?? '/'}`));
    if (b.router) lines.push(row('try', `curl -H 'Host: ${b.cname}' http://${b.router}${b.healthPath ?? '/'}`));
  }
  if (b.before) lines.push(row('before', b.before));
  lines.push(row('took', `${(b.totalMs / 1000).toFixed(1)}s`));
  if (b.steps.length) lines.push(row('steps', timeline(b.steps)));
  return lines;
}
