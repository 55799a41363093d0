// The command line: commander subcommands built from the registry, so each command's
// --help shows its own options and an example, and an option that belongs to one command
// is refused (exit 2) elsewhere. The contract's forms keep working: options before or after
// the command (`./run --grace-minutes 0 terminate_eb_old_environment`), kebab-case aliases,
// and everything after `--` passed through to aws/eb untouched (cli.ts splits that off).
import { existsSync, readFileSync } from 'node:fs';
import { Command, CommanderError, Option } from 'commander';
import { COMMANDS, optionsOf, type CommandSpec, type OptionSpec } from './commands/registry.js';
import { WATCH_DEFAULT_SECONDS, type CommandOptions } from './commands/types.js';
import type { SandboxFlags } from './commands/sandbox.js';
import type { GlobalOptions } from './context.js';
import { UsageError } from './errors.js';

/** package.json's version: one folder up from src/ (tests run the sources), two from dist/src/. */
export const VERSION: string = (() => {
  for (const rel of ['../package.json', '../../package.json']) {
    const file = new URL(rel, import.meta.url);
    if (existsSync(file)) return JSON.parse(readFileSync(file, 'utf8')).version;
  }
  return 'unknown';
})();

/** Options every command takes. */
const GLOBAL: OptionSpec[] = [
  { flags: '-f, --force', description: 'skip the phase confirmation prompt' },
  { flags: '-e, --env <file>', description: 'the phase config (default env.json beside ./run, or $JOHANNA_ENV)' },
  { flags: '--dry-run', description: 'run read-only aws calls, print mutating ones as "! aws ..."' },
  { flags: '-v, --verbose', description: 'print every aws/eb command line (secrets redacted) with its duration' },
  { flags: '--json', description: 'one machine-readable JSON result on stdout' },
  { flags: '--no-color', description: 'plain output' },
];

const seconds = { ok: (n: number) => n >= 0, what: 'seconds, 0 or more' };
const fraction = { ok: (n: number) => n >= 0 && n <= 1, what: 'a fraction from 0 to 1' };
const port = { ok: (n: number) => Number.isInteger(n) && n > 0 && n < 65536, what: 'a TCP port' };

/** `./run sandbox start|stop|status`'s own options. */
export const SANDBOX_OPTIONS: OptionSpec[] = [
  { flags: '--port <n>', description: 'the endpoint port (default: the config\'s sandbox.ENDPOINT, else 4566)', number: port },
  { flags: '--router-port <n>', description: 'the CNAME router port (default: the config\'s sandbox.ROUTER, else 4580)', number: port },
  { flags: '--foreground', description: 'run in this terminal until Ctrl-C' },
  { flags: '--fail-rate <r>', description: 'answer this fraction of API requests with throttling errors', number: fraction },
  { flags: '--lose-responses <r>', description: 'perform this fraction of mutating requests, then drop the answer', number: fraction },
  { flags: '--nat-delay <s>', description: 'how long a NAT gateway stays pending/deleting [3]', number: seconds },
  { flags: '--eni-linger <s>', description: "how long EB's interfaces outlive their environment [3]", number: seconds },
  { flags: '--iam-delay <s>', description: 'how long a new role or instance profile stays invisible to EC2 and EB [3]', number: seconds },
  { flags: '--dns-ttl <s>', description: "how long a client keeps a CNAME's answer [5; AWS: 60]", number: seconds },
  { flags: '--taken-cnames <list>', description: 'CNAME prefixes held by another account (comma-separated)' },
  { flags: '--launch-health-blip', description: 'launches pass through Severe health before Ok' },
  { flags: '--metrics-period <s>', description: "how often each load balancer's RequestCount reaches CloudWatch [60; AWS: 60]", number: { ok: (n: number) => n > 0, what: 'seconds, more than 0' } },
  { flags: '--metrics-lag <s>', description: "how long after its period a load balancer's datapoint becomes readable in CloudWatch [120; AWS: about 120]", number: { ok: (n: number) => n >= 0, what: 'seconds, 0 or more' } },
  { flags: '--dns-ignore-ttl <addresses>', description: "clients (127.0.0.x, comma-separated) that keep a CNAME's first answer forever, as a JVM caching DNS does" },
  { flags: '--policies <files>', description: "the caller's IAM policy files (comma-separated), or admin [the README's documented set]" },
  { flags: '--event-retention-minutes <m>', description: 'how long EB keeps events [60480; AWS: 6 weeks]', number: { ok: (n: number) => n > 0, what: 'minutes, more than 0' } },
  { flags: '--rate-scale <x>', description: "multiply AWS's API rate limits (token buckets) by this [1: AWS's rates]; the limits stay on", number: { ok: (n: number) => n > 0, what: 'a number more than 0' } },
  { flags: '--background-traffic <n>', description: "requests a minute that scanners send to every environment's load balancer [0: none]", number: { ok: (n: number) => n >= 0, what: 'requests a minute, 0 or more' } },
  { flags: '--clock-skew <s>', description: "how far AWS's clock is ahead of this machine's, in seconds (negative: behind) [0]", number: { ok: (n: number) => Number.isFinite(n), what: 'seconds, negative or not' } },
  { flags: '--table-create-delay <s>', description: 'how long a new DynamoDB table stays CREATING, its items unreadable and unwritable [5; AWS: a few seconds]', number: { ok: (n: number) => n >= 0, what: 'seconds, 0 or more' } },
  { flags: '--all', description: 'stop or status: every sandbox of this checkout' },
];

/** "How to Play": the commands, the passthrough, the options (`./run`, `./run --help`). */
export function usage(): string {
  const rows: [string, string][] = [
    ...COMMANDS.map((c): [string, string] => [`./run ${c.name}`, c.summary]),
    ['./run sandbox start|stop|status', 'the local AWS stand-in, one per endpoint port (./run sandbox --help)'],
    ['./run [AWS CLI COMMAND]', "(ex: './run -- aws ec2 describe-instances')"],
    ['cd [EB DIR]; ../run [EB CLI COMMAND]', "(ex: 'cd nova; ../run -- eb list --region ap-northeast-2')"],
  ];
  const option = (o: OptionSpec, note = '') => `   ${o.flags.padEnd(25)} ${note}${o.description}`;
  const owned = new Map<string, { o: OptionSpec; by: string[] }>();
  for (const c of COMMANDS) {
    for (const o of optionsOf(c)) {
      const entry = owned.get(o.flags) ?? { o, by: [] };
      entry.by.push(c.name);
      owned.set(o.flags, entry);
    }
  }
  const lines = [
    'How to Play',
    ...rows.map(([l, r]) => `   ${l.padEnd(38)} ${r}`),
    '',
    'Options:',
    ...GLOBAL.map((o) => option(o)),
    '   --version                 print the version',
    '',
    "Command options (./run <command> --help shows a command's own, with an example):",
    ...[...owned.values()].map(({ o, by }) => option(o, by.length > 3 ? 'changing commands: ' : `${by.join(', ')}: `)),
    '',
    'Exit codes: 0 done, 1 failed, 2 usage or config error, 3 phase locked by another run,',
    '            130 canceled or interrupted by SIGINT, 143 interrupted by SIGTERM (after the cleanup).',
  ];
  return lines.join('\n') + '\n';
}

const SANDBOX_EXAMPLE = '\nExample:\n  ./run sandbox start --port 4566 --router-port 4580 --dns-ttl 60\n';

export type ParsedOptions = GlobalOptions & SandboxFlags & Record<string, unknown>;

export type Parsed =
  | { kind: 'usage'; opts: ParsedOptions }
  | { kind: 'text'; text: string; opts: ParsedOptions }
  | { kind: 'unknown'; name: string; opts: ParsedOptions }
  | { kind: 'command'; spec: CommandSpec; opts: ParsedOptions }
  | { kind: 'sandbox'; action: string | undefined; opts: ParsedOptions };

const kebab = (name: string) => name.replace(/_/g, '-');

function longFlag(o: OptionSpec): string {
  return /--[\w-]+/.exec(o.flags)![0];
}
function takesValue(o: OptionSpec): boolean {
  return /[<[]/.test(o.flags);
}
function attrName(o: OptionSpec): string {
  return new Option(o.flags).attributeName();
}

const SANDBOX: Pick<CommandSpec, 'name' | 'options' | 'changes'> = { name: 'sandbox', options: SANDBOX_OPTIONS, changes: false };
const ALL: Pick<CommandSpec, 'name' | 'options' | 'changes'>[] = [...COMMANDS, SANDBOX];

/**
 * Move the command's own options that stand before its name to after it, where commander
 * looks for them: `./run --grace-minutes 0 terminate_eb_old_environment` is the contract's form.
 */
export function commandOptionsAfterName(argv: string[]): string[] {
  const names = new Set(ALL.flatMap((c) => [c.name, kebab(c.name)]));
  const globalWithValue = new Set(GLOBAL.filter(takesValue).flatMap((o) => o.flags.split(/[ ,]+/).filter((f) => f.startsWith('-'))));
  const commandOption = new Map(ALL.flatMap((c) => optionsOf(c)).map((o) => [longFlag(o), o]));
  const moved: string[] = [];
  const kept: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (names.has(a)) return [...kept, a, ...moved, ...argv.slice(i + 1)];
    const own = commandOption.get(a.split('=')[0]);
    if (own) {
      moved.push(a);
      if (takesValue(own) && !a.includes('=') && i + 1 < argv.length) moved.push(argv[++i]);
    } else {
      kept.push(a);
      if (globalWithValue.has(a) && i + 1 < argv.length) kept.push(argv[++i]);
    }
  }
  return [...kept, ...moved];
}

/** The numbers a command's options take, checked before anything else runs. */
function checkNumbers(options: OptionSpec[], values: Record<string, unknown>): void {
  for (const o of options) {
    const v = values[attrName(o)];
    // `--watch` alone (an optional value, absent): the command's default.
    if (!o.number || v === undefined || v === true) continue;
    const s = String(v);
    // A sign only where the option allows a negative (--clock-skew): its `ok` says.
    if (!/^-?\d+(\.\d+)?$/.test(s) || !o.number.ok(Number(s))) throw new UsageError(`${longFlag(o)} ${s}: expected ${o.number.what}`);
  }
}

function addOptions(cmd: Command, options: OptionSpec[]): void {
  for (const o of options) cmd.option(o.flags, o.description);
}

/** "--grace-minutes is an option of terminate_eb_old_environment", for an option used elsewhere. */
function ownerHint(message: string): string | undefined {
  const flag = /unknown option '([^'=]+)/.exec(message)?.[1];
  if (!flag) return undefined;
  const owners = ALL.filter((c) => optionsOf(c).some((o) => longFlag(o) === flag)).map((c) => c.name);
  if (!owners.length) return undefined;
  return owners.length > 3 ? `${flag} belongs to the commands that change the phase` : `${flag} belongs to ${owners.join(', ')}`;
}

export function parseArgs(argv: string[]): Parsed {
  let picked: Parsed | undefined;
  let printed = '';
  const program = new Command('./run')
    .exitOverride()
    .configureOutput({ writeOut: (s) => (printed += s), writeErr: () => undefined })
    .configureHelp({ showGlobalOptions: true, sortSubcommands: false })
    .version(VERSION, '--version', 'print the version')
    .argument('[command...]')
    .allowExcessArguments(true);
  addOptions(program, GLOBAL);
  // `./run --help` and `./run` show the list of commands as the original did ("How to Play").
  program.helpInformation = () => usage();
  program.action((operands: string[]) => {
    const opts = program.opts() as ParsedOptions;
    if (operands.length === 0) picked = { kind: 'usage', opts };
    else if (operands[0] === 'help') picked = helpFor(operands[1], opts);
    else picked = { kind: 'unknown', name: operands[0], opts };
  });

  const subcommands = new Map<string, Command>();
  // The text under a command's --help (its example), so `./run help <command>` shows it too.
  const after = new Map<string, string>();
  for (const spec of COMMANDS) {
    const sub = program.command(spec.name).description(spec.summary).allowExcessArguments(true);
    if (kebab(spec.name) !== spec.name) sub.alias(kebab(spec.name));
    if (spec.argument) sub.argument(spec.argument.name, spec.argument.description);
    addOptions(sub, optionsOf(spec));
    if (spec.example) {
      sub.addHelpText('after', `\nExample:\n  ${spec.example}\n`);
      after.set(spec.name, `\nExample:\n  ${spec.example}\n`);
    }
    sub.action((...a: unknown[]) => {
      const cmd = a[a.length - 1] as Command;
      const args = cmd.args.slice(spec.argument ? 1 : 0);
      if (args.length) throw new UsageError(`${spec.name} takes ${spec.argument ? `one argument, ${spec.argument.name},` : 'no arguments,'} got: ${cmd.args.join(' ')}`);
      const opts = cmd.optsWithGlobals() as ParsedOptions;
      checkNumbers(optionsOf(spec), opts);
      const positional = spec.argument ? (cmd.processedArgs[0] as string | undefined) : undefined;
      picked = { kind: 'command', spec, opts: positional === undefined ? opts : { ...opts, run: positional } };
    });
    subcommands.set(spec.name, sub);
  }
  const sandbox = program
    .command('sandbox')
    .description('the local AWS stand-in: start, stop or status')
    .argument('[action]', 'start, stop or status')
    .addHelpText('after', SANDBOX_EXAMPLE);
  after.set('sandbox', SANDBOX_EXAMPLE);
  addOptions(sandbox, SANDBOX_OPTIONS);
  sandbox.action((action: string | undefined, _o: unknown, cmd: Command) => {
    const opts = cmd.optsWithGlobals() as ParsedOptions;
    checkNumbers(SANDBOX_OPTIONS, opts);
    picked = { kind: 'sandbox', action, opts };
  });
  subcommands.set('sandbox', sandbox);

  function helpFor(name: string | undefined, opts: ParsedOptions): Parsed {
    const sub = name ? subcommands.get(name.replace(/-/g, '_')) : undefined;
    if (!name) return { kind: 'usage', opts };
    if (!sub) return { kind: 'unknown', name, opts };
    return { kind: 'text', text: sub.helpInformation() + (after.get(sub.name()) ?? ''), opts };
  }

  try {
    program.parse(commandOptionsAfterName(argv), { from: 'user' });
  } catch (err) {
    if (err instanceof CommanderError) {
      if (['commander.helpDisplayed', 'commander.version', 'commander.help'].includes(err.code)) {
        return { kind: 'text', text: printed, opts: {} as ParsedOptions };
      }
      throw new UsageError(err.message.replace(/^error: /, ''), ownerHint(err.message) ?? 'see ./run --help, or ./run <command> --help');
    }
    throw err;
  }
  return picked ?? { kind: 'usage', opts: program.opts() as ParsedOptions };
}

/**
 * A command's own options as the command takes them: parsed once, here, at the edge.
 * parseArgs has already refused a number that fails its OptionSpec test (exit 2).
 */
export function commandOptions(o: ParsedOptions): CommandOptions {
  const num = (v: unknown) => (v === undefined || v === null || v === '' ? undefined : Number(v));
  return {
    hold: Boolean(o.hold),
    noBake: o.bake === false,
    // One wait for whatever is in the way (issue 23): --wait and --lock-wait each cover both
    // another run's deploy lock and (create_nova) an environment that is updating.
    waitMinutes: num(o.wait) ?? (num(o.lockWait) || undefined),
    lockWaitMinutes: num(o.lockWait) ?? num(o.wait),
    graceMinutes: num(o.graceMinutes),
    forceDrain: Boolean(o.forceDrain),
    count: num(o.number),
    environment: typeof o.environment === 'string' ? o.environment : undefined,
    follow: Boolean(o.follow),
    watchSeconds: o.watch === true ? WATCH_DEFAULT_SECONDS : num(o.watch),
    all: Boolean(o.all),
    report: o.report === true || typeof o.report === 'string' ? (o.report as string | true) : undefined,
    run: typeof o.run === 'string' ? o.run : undefined,
    out: typeof o.out === 'string' ? o.out : undefined,
    periodSeconds: num(o.period),
  };
}
