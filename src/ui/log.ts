// Output: results go to stdout, progress and errors to stderr, so `--json` pipes cleanly.
// On a TTY lines are coloured and a wait shows one live line; without one (cron, CI) every
// line is plain and timestamped, with no control characters.
import { Chalk, type ChalkInstance } from 'chalk';
import type { Redactor } from './redact.js';

export interface LogOptions {
  verbose: boolean;
  json: boolean;
  color: boolean;
  redactor: Redactor;
  stdout?: NodeJS.WritableStream & { isTTY?: boolean };
  stderr?: NodeJS.WritableStream & { isTTY?: boolean };
}

export class Logger {
  readonly verbose: boolean;
  readonly json: boolean;
  readonly tty: boolean;
  private readonly c: ChalkInstance;
  private readonly out: NodeJS.WritableStream;
  private readonly err: NodeJS.WritableStream & { isTTY?: boolean };
  private readonly redactor: Redactor;
  private liveShown = false;

  constructor(opts: LogOptions) {
    this.verbose = opts.verbose;
    this.json = opts.json;
    this.out = opts.stdout ?? process.stdout;
    this.err = opts.stderr ?? process.stderr;
    this.tty = Boolean(this.err.isTTY);
    this.c = new Chalk({ level: opts.color ? 1 : 0 });
    this.redactor = opts.redactor;
  }

  private stamp(): string {
    return this.tty ? '' : new Date().toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z') + ' ';
  }

  private line(text: string): void {
    this.clearLive();
    this.err.write(this.stamp() + this.redactor.redact(text) + '\n');
  }

  info(text: string): void {
    this.line(text);
  }
  step(text: string): void {
    this.line(this.c.bold('==> ') + text);
  }
  ok(text: string): void {
    this.line(this.c.green('ok ') + text);
  }
  warn(text: string): void {
    this.line(this.c.yellow('warning: ') + text);
  }
  error(text: string): void {
    this.line(this.c.red('error: ') + text);
  }
  debug(text: string): void {
    if (this.verbose) this.line(this.c.dim(text));
  }

  /** A dry-run's planned call: part of the result, so stdout (stderr under --json). */
  plan(text: string): void {
    this.clearLive();
    const s = this.redactor.redact(text) + '\n';
    if (this.json) this.err.write(s);
    else this.out.write(s);
  }

  /** The command's human-readable result on stdout; suppressed under --json. */
  result(text: string): void {
    if (this.json) return;
    this.clearLive();
    this.out.write(this.redactor.redact(text) + '\n');
  }

  /** The one JSON document of a --json run. */
  jsonResult(value: unknown): void {
    this.out.write(this.redactor.redact(JSON.stringify(value, null, 2)) + '\n');
  }

  /** Raw passthrough output (the aws/eb CLI's own text), redacted. */
  raw(text: string, stream: 'out' | 'err' = 'out'): void {
    (stream === 'out' ? this.out : this.err).write(this.redactor.redact(text));
  }

  /**
   * What a wait is waiting on. On a TTY it rewrites one line; elsewhere it prints a plain
   * line only when the text changes, so a cron log is not flooded by polls.
   */
  private lastLive = '';
  live(text: string): void {
    const t = this.redactor.redact(text);
    if (this.tty) {
      this.err.write('\r\x1b[2K' + this.c.cyan('… ') + t);
      this.liveShown = true;
    } else if (t.replace(/\d+s\b/g, '') !== this.lastLive) {
      this.lastLive = t.replace(/\d+s\b/g, '');
      this.err.write(this.stamp() + '... ' + t + '\n');
    }
  }

  clearLive(): void {
    if (this.liveShown) {
      this.err.write('\r\x1b[2K');
      this.liveShown = false;
    }
  }

  colors(): ChalkInstance {
    return this.c;
  }
}
