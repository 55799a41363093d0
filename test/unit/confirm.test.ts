// The phase confirmation: the operator types the phase name. Piped stdin gives one line;
// at the end of input it fails at once (exit 2), never hangs; a wrong name cancels (130).
import { PassThrough, Readable, Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { confirmPhase, readLine } from '../../src/ui/confirm.js';
import { CanceledError, EXIT, NonInteractiveError } from '../../src/errors.js';
import { Logger } from '../../src/ui/log.js';
import { Redactor } from '../../src/ui/redact.js';

class Sink extends Writable {
  text = '';
  override _write(chunk: Buffer, _enc: BufferEncoding, cb: () => void): void {
    this.text += chunk.toString();
    cb();
  }
}

function logger() {
  const err = new Sink();
  const out = new Sink();
  return { log: new Logger({ verbose: false, json: false, color: false, redactor: new Redactor(), stdout: out, stderr: err }), err, out };
}

/** A non-TTY stdin that gives `chunks` and then ends. */
const piped = (...chunks: string[]) => Readable.from(chunks.map((c) => Buffer.from(c)));

/** A fake TTY stdin: nothing is read from it; the answer comes from `ask`. */
function tty(): NodeJS.ReadableStream & { isTTY: boolean } {
  return Object.assign(new PassThrough(), { isTTY: true });
}

describe('confirmPhase, piped stdin (no TTY)', () => {
  it('the right name resolves, and the phase and CNAME were shown', async () => {
    const { log, err, out } = logger();
    await expect(confirmPhase('dv', 'dv-nova', log, { stdin: piped('dv\n') })).resolves.toBeUndefined();
    expect(err.text).toContain("PHASE         : 'dv'");
    expect(err.text).toContain("CNAME of Nova : 'dv-nova'");
    expect(err.text).toContain("Please type in the name of phase 'dv' to confirm:");
    expect(out.text).toBe(''); // stdout is for results
  });

  it('the right name with CRLF, surrounding blanks, or without a final newline', async () => {
    for (const input of ['dv\r\n', '  dv  \n', 'dv']) {
      await expect(confirmPhase('dv', 'dv-nova', logger().log, { stdin: piped(input) }), JSON.stringify(input)).resolves.toBeUndefined();
    }
  });

  it('the answer may arrive in pieces; only the first line counts', async () => {
    await expect(confirmPhase('qa', 'qa-nova', logger().log, { stdin: piped('q', 'a\nrest\n') })).resolves.toBeUndefined();
    await expect(confirmPhase('qa', 'qa-nova', logger().log, { stdin: piped('xx\nqa\n') })).rejects.toBeInstanceOf(CanceledError);
  });

  it('a wrong name is a CanceledError, exit 130', async () => {
    const err = await confirmPhase('dv', 'dv-nova', logger().log, { stdin: piped('op\n') }).catch((e) => e);
    expect(err).toBeInstanceOf(CanceledError);
    expect(err.exitCode).toBe(EXIT.canceled);
    expect(err.exitCode).toBe(130);
    expect(err.code).toBe('CANCELED');
    expect(err.message).toContain("you typed 'op', not the phase name 'dv'");
  });

  it('an empty line is a wrong name (cancel), not a missing one', async () => {
    await expect(confirmPhase('dv', 'dv-nova', logger().log, { stdin: piped('\n') })).rejects.toBeInstanceOf(CanceledError);
  });

  it('an empty stream (end of input) is a NonInteractiveError, exit 2, that says to pass -f', async () => {
    const started = Date.now();
    const err = await confirmPhase('dv', 'dv-nova', logger().log, { stdin: piped() }).catch((e) => e);
    expect(err).toBeInstanceOf(NonInteractiveError);
    expect(err.exitCode).toBe(EXIT.usage);
    expect(err.exitCode).toBe(2);
    expect(err.code).toBe('NON_INTERACTIVE');
    expect(err.hint).toContain('pass -f');
    expect(Date.now() - started).toBeLessThan(1000);
  });

  it('a stream that already ended (like /dev/null) fails at once too', async () => {
    const s = new PassThrough();
    s.end();
    await expect(confirmPhase('dv', 'dv-nova', logger().log, { stdin: s })).rejects.toBeInstanceOf(NonInteractiveError);
  });

  it('a stream error rejects instead of hanging', async () => {
    const s = new PassThrough();
    setTimeout(() => s.destroy(new Error('EIO')), 10);
    await expect(confirmPhase('dv', 'dv-nova', logger().log, { stdin: s })).rejects.toThrow('EIO');
  });
});

describe('confirmPhase at a TTY', () => {
  it('asks through the prompt; the right name resolves', async () => {
    const asked: string[] = [];
    const ask = async (m: string) => (asked.push(m), 'dv');
    await expect(confirmPhase('dv', 'dv-nova', logger().log, { stdin: tty(), ask })).resolves.toBeUndefined();
    expect(asked).toEqual(["Please type in the name of phase 'dv' to confirm:"]);
  });

  it('a wrong name cancels (130)', async () => {
    const err = await confirmPhase('dv', 'dv-nova', logger().log, { stdin: tty(), ask: async () => 'qa' }).catch((e) => e);
    expect(err).toBeInstanceOf(CanceledError);
    expect(err.exitCode).toBe(130);
  });

  it('Ctrl-C in the prompt (ExitPromptError) cancels (130), not crashes', async () => {
    const ask = async () => {
      const e = new Error('User force closed the prompt with SIGINT');
      e.name = 'ExitPromptError';
      throw e;
    };
    const err = await confirmPhase('dv', 'dv-nova', logger().log, { stdin: tty(), ask }).catch((e) => e);
    expect(err).toBeInstanceOf(CanceledError);
    expect(err.exitCode).toBe(130);
  });

  it('another prompt failure propagates as is', async () => {
    const ask = async () => {
      throw new TypeError('broken');
    };
    await expect(confirmPhase('dv', 'dv-nova', logger().log, { stdin: tty(), ask })).rejects.toThrow(TypeError);
  });
});

describe('readLine', () => {
  it('undefined at the end of input with nothing read; the partial line otherwise', async () => {
    await expect(readLine(piped())).resolves.toBeUndefined();
    await expect(readLine(piped('abc'))).resolves.toBe('abc');
    await expect(readLine(piped('abc\r\ndef\n'))).resolves.toBe('abc');
  });
});
