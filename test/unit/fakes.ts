// Test doubles shared by the unit tests: a stream that keeps what is written to it, and
// the recording exec that stands in for the aws CLI (answers from a script, in order, and
// fails the test on any call beyond it, and on any scripted answer that no call used: a
// script longer than the calls means the code under test skipped a call it was expected
// to make).
import { Writable } from 'node:stream';
import { afterEach, expect } from 'vitest';
import type { Exec, ExecOptions, ExecResult, Tool } from '../../src/aws/cli.js';

export class Sink extends Writable {
  text = '';
  isTTY = false;
  override _write(chunk: Buffer, _enc: BufferEncoding, cb: () => void): void {
    this.text += chunk.toString();
    cb();
  }
}

export interface Call {
  file: Tool;
  args: string[];
  opts: ExecOptions;
}

export type Step = ExecResult | ((c: Call) => ExecResult);

/** The scripts of this test's recording execs; afterEach checks that each was used up. */
const scripts: { script: Step[]; calls: Call[] }[] = [];
afterEach(() => {
  const unused = scripts.filter((s) => s.script.length > 0);
  scripts.length = 0;
  for (const u of unused) {
    expect.soft(u.script.length, `the recording exec has ${u.script.length} scripted answer(s) that no call used, after: ${u.calls.map((c) => c.args.slice(0, 2).join(' ')).join(', ') || 'no call'}`).toBe(0);
  }
});

export function recordingExec(script: Step[]): Exec & { calls: Call[] } {
  const calls: Call[] = [];
  scripts.push({ script, calls });
  const exec = (async (file, args, opts) => {
    const call = { file, args, opts };
    calls.push(call);
    const next = script.shift();
    if (!next) throw new Error(`unexpected call: ${file} ${args.join(' ')}`);
    return typeof next === 'function' ? next(call) : next;
  }) as Exec & { calls: Call[] };
  exec.calls = calls;
  return exec;
}

export const ok = (stdout = ''): ExecResult => ({ exitCode: 0, stdout, stderr: '' });

/** What the aws CLI prints for an AWS error with this code. */
export const awsError = (code: string, op = 'Operation', message = 'boom', exitCode = 254): ExecResult => ({
  exitCode,
  stdout: '',
  stderr: `\nAn error occurred (${code}) when calling the ${op} operation: ${message}\n`,
});
