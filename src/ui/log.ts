// Output: results go to stdout, progress and errors to stderr, so `--json` pipes cleanly.
// On a TTY lines are coloured and a wait shows one live line; without one (cron, CI) every
// line is plain and timestamped, with no control characters. Every line is redacted, and
// cleaned of control characters that did not come from us (AWS data, a lock holder, a
// tool's output), so nothing printed can clear a screen, ring a bell or forge a log line.
import { Chalk, type ChalkInstance } from 'chalk';
import { stripControl, type Redactor } from './redact.js';

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
  private readonly color: boolean;
  private liveShown = false;

  constructor(opts: LogOptions) {
    this.verbose = opts.verbose;
    this.json = opts.json;
    this.out = opts.stdout ?? process.stdout;
    this.err = opts.stderr ?? process.stderr;
    this.tty = Boolean(this.err.isTTY);
    this.c = new Chalk({ level: opts.color ? 1 : 0 });
    this.color = opts.color;
    this.redactor = opts.redactor;
  }

  /**
   * What may be printed of `text`: control characters out (our own colour codes stay when
   * we colour), then redacted. A continuation line is indented (and stamped off a TTY), so
   * a newline inside data can never start a line that passes for one of ours.
   */
  private clean(text: string, stamp = ''): string {
    const [first, ...rest] = this.redactor.redact(stripControl(text, this.color)).split('\n');
    return [first, ...rest.map((l) => (l ? `${stamp}  ${l}` : l))].join('\n');
  }

  private stamp(): string {
    return this.tty ? '' : new Date().toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z') + ' ';
  }

  private line(text: string): void {
    this.clearLive();
    const stamp = this.stamp();
    this.err.write(stamp + this.clean(text, stamp) + '\n');
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
    const s = this.clean(text) + '\n';
    if (this.json) this.err.write(s);
    else this.out.write(s);
  }

  /** The command's human-readable result on stdout; suppressed under --json. */
  result(text: string): void {
    if (this.json) return;
    this.clearLive();
    this.out.write(this.clean(text) + '\n');
  }

  /**
   * The one JSON document of a --json run. JSON escapes C0 controls itself; C1 ones
   * (U+0080-U+009F, which some terminals obey) are escaped here, so the value is unchanged.
   */
  jsonResult(value: unknown): void {
    const text = JSON.stringify(value, null, 2).replace(/[\u0080-\u009f]/g, (ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`);
    this.out.write(this.redactor.redact(text) + '\n');
  }

  /** Raw passthrough output (the aws/eb CLI's own text), cleaned and redacted, lines as they are. */
  raw(text: string, stream: 'out' | 'err' = 'out'): void {
    (stream === 'out' ? this.out : this.err).write(this.redactor.redact(stripControl(text, this.color)));
  }

  /**
   * What a wait is waiting on. On a TTY it rewrites one line; elsewhere it prints a plain
   * line only when the text changes, so a cron log is not flooded by polls.
   */
  private lastLive = '';
  live(text: string): void {
    const t = this.clean(text).replace(/\n\s*/g, ' ');
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
