// Commander wiring, config, confirmation and dispatch. The only place that exits.
import { fileURLToPath } from 'node:url';
import os from 'node:os';
import path from 'node:path';
import { loadConfig, loadDotenv, resolveConfigPath } from './config/load.js';
import { buildCtx, makeRedactor, useColor, type Ctx, type GlobalOptions } from './context.js';
import { EXIT, JohannaError, LockedError, RunLogError, UsageError } from './errors.js';
import { commandOptions, parseArgs, usage } from './args.js';
import type { CommandOptions } from './commands/types.js';
import { passthrough, passthroughChanges } from './commands/passthrough.js';
import { sandboxCommand } from './commands/sandbox.js';
import { ensureSandbox } from './commands/sandbox.js';
import { confirmPhase } from './ui/confirm.js';
import { Logger } from './ui/log.js';
import { Redactor } from './ui/redact.js';
import { withPhaseLock } from './deploy/lock.js';
import { withHistory } from './deploy/history.js';
import { notify } from './ui/notify.js';
import { summaryLines } from './ui/summary.js';
import { nearestCommand, runHint, runOptions } from './ui/hint.js';
import { COMMANDS } from './commands/registry.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

export async function main(argv: string[]): Promise<number> {
  const dd = argv.indexOf('--');
  const mine = dd >= 0 ? argv.slice(0, dd) : argv;
  const through = dd >= 0 ? argv.slice(dd + 1) : undefined;
  let log = new Logger({ verbose: false, json: false, color: false, redactor: new Redactor() });
  // Known before parsing, so even a usage error answers in JSON when asked to.
  let json = mine.includes('--json');
  let commandName = through ? through[0] ?? '' : '';
  let ctx: Ctx | undefined;
  let interrupt: Interrupt | undefined;
  let runStarted = 0;
  let changing = false;
  try {
    const parsed = parseArgs(mine);
    const opts = parsed.opts;
    json = Boolean(opts.json) || json;
    log = new Logger({ verbose: Boolean(opts.verbose), json, color: useColor(opts, process.env, process.stderr), redactor: makeRedactor(process.env) });
    if (parsed.kind === 'text') {
      process.stdout.write(parsed.text);
      return EXIT.ok;
    }
    if (!through && parsed.kind === 'usage') {
      if (json) log.jsonResult({ ok: true, command: 'usage', usage: usage() });
      else process.stdout.write(usage());
      return EXIT.ok;
    }
    if (!through && parsed.kind === 'unknown') {
      commandName = parsed.name;
      // The nearest command, not the whole help (issue 22 item 5); the help when none is near.
      const near = nearestCommand(commandName, [...COMMANDS.map((c) => c.name), 'sandbox']);
      if (near) log.error(`unknown command: ${commandName}; did you mean ${near}? (${runHint(undefined, `${near} --help`)} shows what it does; ./run --help lists them all)`);
      else process.stderr.write(`unknown command: ${commandName}\n\n` + usage());
      if (json) log.jsonResult({ ok: false, command: commandName, error: { code: 'USAGE', message: `unknown command: ${commandName}` } });
      return EXIT.usage;
    }
    if (through && parsed.kind !== 'usage') {
      throw new UsageError(`a command and aws/eb arguments together: ${parsed.kind === 'unknown' ? parsed.name : parsed.kind === 'command' ? parsed.spec.name : 'sandbox'} ... -- ${through.join(' ')}`, 'put only options before --, e.g. ./run -e env.json -- aws ec2 describe-vpcs');
    }
    commandName = through ? through[0] ?? '' : parsed.kind === 'command' ? parsed.spec.name : 'sandbox';

    if (parsed.kind === 'sandbox') {
      loadDotenv(ROOT);
      log.runOptions = runOptions({ configFile: resolveConfigPath(ROOT, opts.env), root: ROOT });
      return await sandboxCommand({ root: ROOT, action: parsed.action, opts, log, configFile: resolveConfigPath(ROOT, opts.env) });
    }
    const spec = parsed.kind === 'command' ? parsed.spec : undefined;
    if (through && through.length === 0) throw new UsageError('nothing after --', "e.g. ./run -- aws ec2 describe-vpcs");

    loadDotenv(ROOT);
    const configFile = resolveConfigPath(ROOT, opts.env);
    const { config, warnings } = loadConfig(configFile);
    const redactor = makeRedactor(process.env, config);
    log = new Logger({ verbose: Boolean(opts.verbose), json, color: useColor(opts, process.env, process.stderr), redactor });
    for (const w of warnings) log.warn(w);
    interrupt = onInterrupt(log);
    ctx = buildCtx({ root: ROOT, command: spec?.name ?? 'passthrough', config, configFile, opts, log, redactor, signal: interrupt.signal });
    // Without a TTY an unchanged wait says it still waits every 20 s on AWS; the sandbox runs
    // its delays 5 times shorter (as pollMs polls), so every 3 s there, under the 5 s the
    // sandbox's runs are held to (issue 22 item 2).
    log.stillEveryMs = ctx.sandbox ? 3000 : 20_000;
    log.runOptions = runOptions({ configFile, root: ROOT });
    checkRunLog(ctx, through ? passthroughChanges(through) : spec!.changes && !ctx.dryRun);

    // Read-only passthroughs (aws describe-/list-/get-..., eb list/status/health/...) ask nothing.
    const needsConfirm = through ? passthroughChanges(through) : spec!.changes;
    if (needsConfirm && !opts.force) await confirmPhase(ctx.phase, config.nova.CNAME, log, { stdin: process.stdin, configFile, destroys: spec ? destroysOf(spec.name, config) : undefined });
    runStarted = Date.now();
    if (ctx.sandbox) await ensureSandbox(ctx.root, ctx.sandbox, log);

    if (through) {
      const r = await passthrough(ctx, through, process.cwd());
      if (json) log.jsonResult({ ok: r.exitCode === 0, command: through[0], exitCode: r.exitCode, output: r.output });
      return r.exitCode;
    }
    changing = spec!.changes;
    const fn = await spec!.load();
    const options = commandOptions(opts);
    const run = () => fn(ctx!, options);
    const runCtx = ctx; // a const for the closure below: ctx is a let
    let result;
    // The run shows a spinner on a TTY (its steps their own), and without one says it is
    // still at it when it has printed nothing for a while (log.ts): never silent, the lock
    // and the history included.
    log.spin(spec!.changes ? spec!.name : `${spec!.name}: reading`);
    try {
      // Every changing run, locked out or not, leaves its record in the deploy history.
      result = await withHistory(runCtx, spec!.changes, () => (spec!.changes && !runCtx.dryRun ? withPhaseLock(runCtx, run, { waitMinutes: options.lockWaitMinutes }) : run()));
    } catch (err) {
      // A failed run's report is the one most worth reading: written before the error is.
      await reportIfAsked(runCtx, options);
      // A run that lost the lock race changed nothing: no news for the channel.
      log.unspin();
      if (!(err instanceof LockedError)) await notify(ctx, false, undefined, (err as Error).message);
      throw err;
    }
    log.unspin();
    const reportFile = await reportIfAsked(runCtx, options);
    await notify(ctx, true, result);
    if (spec!.changes && !ctx.dryRun) printSummary(ctx, log, spec!.name, runStarted);
    if (json) log.jsonResult({ ok: true, command: spec!.name, phase: ctx.phase, ...result, ...runLogJson(ctx), ...(reportFile ? { reportFile } : {}), awsCalls: ctx.aws.records.length });
    return EXIT.ok;
  } catch (err) {
    const e = err instanceof JohannaError ? err : undefined;
    if (e) {
      log.error(e.message);
      if (e.hint) log.info(`  -> ${e.hint}`);
    } else {
      log.error(`internal error: ${(err as Error)?.message ?? String(err)}`);
    }
    if (log.verbose && err instanceof Error && err.stack) log.debug(err.stack);
    if (ctx && runStarted && !through && ctx.command !== 'passthrough' && changing && !ctx.dryRun) printSummary(ctx, log, ctx.command, runStarted, (err as Error)?.message ?? String(err));
    if (json) {
      log.jsonResult({
        ok: false,
        command: commandName,
        error: { code: e?.code ?? 'INTERNAL', message: e?.message ?? String((err as Error)?.message ?? err), hint: e?.hint },
        ...(interrupt?.received ? { interrupted: interrupt.received } : {}),
        ...(ctx ? { ...runLogJson(ctx), awsCalls: ctx.aws.records.length } : {}),
      });
    }
    // A run stopped by a signal exits as the shell reports one (128 + its number: 130 for
    // SIGINT, 143 for SIGTERM), whatever error the stop surfaced as: an aborted wait, or an
    // aws child that got the terminal's Ctrl-C too. It gets there only after its cleanup.
    if (interrupt?.received) return 128 + os.constants.signals[interrupt.received];
    return e?.exitCode ?? EXIT.failed;
  }
}

/**
 * --report [FILE]: the run's HTML report, once the run and its history record are done. A
 * report that cannot be written is a warning: the run's own outcome stands.
 */
async function reportIfAsked(ctx: Ctx, options: CommandOptions): Promise<string | undefined> {
  const file = ctx.aws.runLog?.file;
  if (!options.report || !file || ctx.aws.runLog?.problem) return undefined;
  try {
    const { writeReport } = await import('./commands/report.js');
    const r = await writeReport(ctx, { runLogFile: file, out: options.report === true ? undefined : options.report });
    ctx.log.info(`report: ${r.file}`);
    return r.file;
  } catch (err) {
    ctx.log.warn(`--report: the report could not be written: ${(err as Error).message}`);
    return undefined;
  }
}

/** What terminate, terminate_nova and terminate_vpc remove: said at the prompt, before the answer. */
function destroysOf(command: string, config: Ctx['config']): string[] | undefined {
  const app = config.elasticbeanstalk.APPLICATION_NAME;
  const envs = `every environment of the EB application ${app}, the live one (${config.nova.CNAME}) too`;
  const net = `the phase's network (VPC, subnets, internet and NAT gateways, route tables, security groups), its IAM roles and instance profile, its key pair and the EB application ${app} with its versions`;
  if (command === 'terminate') return [envs, net];
  if (command === 'terminate_nova') return [envs];
  if (command === 'terminate_vpc') return [net];
  return undefined;
}

/**
 * The closing block of a changing run (src/ui/summary.ts): after the lock, the history
 * record and the notification, so it is the last thing printed. A result goes to stdout;
 * a failed run has none, so its block goes to stderr under the error.
 */
function printSummary(ctx: Ctx, log: Logger, command: string, started: number, error?: string): void {
  const lines = summaryLines(
    {
      command,
      ok: error === undefined,
      error,
      ...ctx.summary,
      totalMs: Date.now() - started,
      steps: ctx.steps.done,
      router: ctx.sandbox?.router,
      healthPath: ctx.config.nova.HEALTH_CHECK_URL,
    },
    log.colors(),
  );
  for (const l of lines) (error === undefined ? log.result(l) : log.info(l));
}

/** An unwritable run log (logs/<phase> not a writable folder): changing commands refuse before any call. */

function checkRunLog(ctx: Ctx, changes: boolean): void {
  const runLog = ctx.aws.runLog;
  if (!runLog) return;
  if (runLog.problem) {
    if (changes) {
      throw new RunLogError(
        `${runLog.problem}; a changing command keeps a record of every aws call, so nothing was done`,
        `make ${path.dirname(runLog.file)} a writable folder, or look first with --dry-run or status (they run without a log)`,
      );
    }
    ctx.log.warn(`${runLog.problem}; this read-only run goes on without a run log`);
  }
  // Once started, a run that loses its log finishes its work or its cleanup and releases
  // its lock: stopping half-way would do more harm than a log with missing lines.
  runLog.onProblem = (problem) => ctx.log.warn(`${problem}; the run goes on, but its run log misses every call from here on`);
}

function runLogJson(ctx: Ctx): Record<string, unknown> {
  const runLog = ctx.aws.runLog;
  return { runLog: runLog?.file, ...(runLog?.problem ? { runLogProblem: runLog.problem } : {}) };
}

interface Interrupt {
  signal: AbortSignal;
  /** The first signal received, if any. */
  received?: 'SIGINT' | 'SIGTERM';
}

/**
 * SIGINT/SIGTERM (Ctrl-C, a cron or CI timeout) abort the run's waits, so a deploy removes
 * its new environment and every command releases its lock on the way out. A second signal
 * exits at once.
 */
function onInterrupt(log: Logger): Interrupt {
  const abort = new AbortController();
  const interrupt: Interrupt = { signal: abort.signal };
  const handler = (sig: 'SIGINT' | 'SIGTERM') => {
    if (abort.signal.aborted) process.exit(128 + os.constants.signals[sig]);
    log.warn(`${sig}: stopping at the next safe point and cleaning up (send it again to stop at once)`);
    interrupt.received = sig;
    // The reason names the signal, so the history records the code the run exits with.
    abort.abort(sig);
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  return interrupt;
}

// Exit explicitly: a stray handle (a prompt, a socket) must never keep a cron job alive.
// Writes to pipes and files are synchronous on POSIX, so nothing printed is lost.
main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err) => {
    process.stderr.write(String(err?.stack ?? err) + '\n');
    process.exit(EXIT.failed);
  },
);
