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
    const [first, ...rest] = this.redactor.redact(this.withRunOptions(stripControl(text, this.color))).split('\n');
    return [first, ...rest.map((l) => (l ? `${stamp}  ${l}` : l))].join('\n');
  }

  /**
   * The options a hint needs to be pasted as it is (issue 22 item 5), e.g. `-e envs/prod.json`
   * when the run's config is not the default one: every `./run <...>` we print gets them, so
   * the hints written all over src/ need not each know the run's config.
   */
  runOptions = '';
  private withRunOptions(text: string): string {
    if (!this.runOptions) return text;
    return text.replace(/(^|[\s(`'"])\.\/run (?!-e )/g, `$1./run ${this.runOptions} `);
  }

  private stamp(): string {
    return this.tty ? '' : new Date().toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z') + ' ';
  }

  private line(text: string): void {
    this.clearLive();
    const stamp = this.stamp();
    this.err.write(stamp + this.clean(text, stamp) + '\n');
    this.lastWriteAt = Date.now();
    this.resume();
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
    this.lastWriteAt = Date.now();
    this.resume();
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
    this.lastWriteAt = Date.now();
    (stream === 'out' ? this.out : this.err).write(this.redactor.redact(stripControl(text, this.color)));
  }

  /**
   * What a wait is waiting on (issue 22 item 2: never silent). On a TTY it is one line that
   * a spinner redraws with the elapsed time until the next line replaces it. Elsewhere it
   * prints a plain line when the text changes, and, while it stays the same, a "still
   * waiting" line every `stillEveryMs`, so a cron log shows progress without a flood.
   * `since` (epoch ms) is when the wait began: the elapsed time is counted from it.
   */
  private lastLive = '';
  private lastLiveAt = 0;
  private liveText = '';
  private liveSince: number | undefined;
  private ticker: ReturnType<typeof setInterval> | undefined;
  private frame = 0;
  /** Without a TTY, how often an unchanged wait says it is still waiting (cli.ts: 20 s on AWS, 4 s on the sandbox). */
  stillEveryMs = 20_000;
  live(text: string, since?: number): void {
    const t = this.clean(text).replace(/\n\s*/g, ' ');
    const now = Date.now();
    const elapsed = since === undefined ? '' : ` (${Math.round((now - since) / 1000)}s)`;
    if (this.tty) {
      this.liveText = t;
      this.liveSince = since;
      this.drawLive();
      if (!this.ticker) {
        this.ticker = setInterval(() => this.drawLive(), 125);
        this.ticker.unref();
      }
      return;
    }
    const key = t.replace(/\d+s\b/g, '');
    if (key !== this.lastLive) {
      this.lastLive = key;
      this.lastLiveAt = now;
      this.lastWriteAt = now;
      this.err.write(this.stamp() + '... ' + t + elapsed + '\n');
    } else if (now - Math.max(this.lastLiveAt, this.lastWriteAt) >= this.stillEveryMs) {
      this.lastLiveAt = now;
      this.lastWriteAt = now;
      const what = t.replace(/^waiting for /, '').replace(/ \(\d+s\)$/, '');
      this.err.write(this.stamp() + `... still waiting for ${what}${since === undefined ? '' : ` (${Math.round((now - since) / 1000)} s)`}\n`);
    }
  }

  /**
   * A spinner for a read or a step on a TTY, shown again under every line printed until
   * `unspin` (nothing elsewhere: a cron log gets the lines that follow, and the waits'). The
   * innermost one shows: steps inside a command's read nest.
   */
  private spinning: { text: string; since: number }[] = [];
  private heartbeat: ReturnType<typeof setInterval> | undefined;
  spin(text: string, since = Date.now()): void {
    this.spinning.push({ text, since });
    if (this.tty) this.live(text, since);
    else this.startHeartbeat();
  }
  unspin(): void {
    this.spinning.pop();
    if (!this.tty) {
      if (!this.spinning.length && this.heartbeat) {
        clearInterval(this.heartbeat);
        this.heartbeat = undefined;
      }
      return;
    }
    this.clearLive();
    this.resume();
  }

  /**
   * Without a TTY, a step or a read that has printed nothing for `stillEveryMs` says so:
   * `... still at preflight (12 s)`, so no part of a run is silent in a cron log (a wait's own
   * "still waiting" lines count as output, so they are not doubled).
   */
  private lastWriteAt = Date.now();
  private startHeartbeat(): void {
    if (this.heartbeat) return;
    this.heartbeat = setInterval(() => {
      const top = this.spinning[this.spinning.length - 1];
      const now = Date.now();
      if (!top || now - this.lastWriteAt < this.stillEveryMs) return;
      this.err.write(this.stamp() + `... still at ${this.clean(top.text)} (${Math.round((now - top.since) / 1000)} s)\n`);
      this.lastWriteAt = now;
    }, Math.min(500, this.stillEveryMs / 4));
    this.heartbeat.unref();
  }
  private resume(): void {
    const top = this.spinning[this.spinning.length - 1];
    if (top && this.tty) this.live(top.text, top.since);
  }

  private static FRAMES = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];
  private drawLive(): void {
    const elapsed = this.liveSince !== undefined ? ` (${Math.round((Date.now() - this.liveSince) / 1000)}s)` : '';
    this.frame = (this.frame + 1) % Logger.FRAMES.length;
    this.err.write('\r\x1b[2K' + this.c.cyan(Logger.FRAMES[this.frame] + ' ') + this.liveText + elapsed);
    this.liveShown = true;
  }

  clearLive(): void {
    if (this.ticker) {
      clearInterval(this.ticker);
      this.ticker = undefined;
    }
    if (this.liveShown) {
      this.err.write('\r\x1b[2K');
      this.liveShown = false;
    }
  }

  colors(): ChalkInstance {
    return this.c;
  }
}
