// ./run report [RUN]: one self-contained HTML page for a run, built from its run log (the
// steps and their aws calls), its deploy history record and CloudWatch (requests per
// environment around the swap). Read-only; also what every changing command's --report
// writes once it is done.
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Ctx } from '../context.js';
import { albDimension, albMetricSeries, isValidPeriod, MAX_DATAPOINTS } from '../aws/cloudwatch.js';
import * as eb from '../aws/eb.js';
import { readHistory, type HistoryRecord } from '../deploy/history.js';
import { UsageError } from '../errors.js';
import { renderReport, type TrafficChart } from '../ui/report/html.js';
import { environmentsOf, modelOf, parseRunLog, type ParsedRunLog, type RunModel } from '../ui/report/model.js';
import type { Band, Marker, Series } from '../ui/report/svg.js';
import type { CommandOptions, CommandResult } from './types.js';

/** The changing commands (the registry's `changes`), whose run logs a report is about by default. */
const CHANGING = ['create', 'create_vpc', 'create_nova', 'terminate', 'terminate_nova', 'terminate_vpc', 'terminate_eb_old_environment', 'rollback', 'promote', 'discard'];

export const DEFAULT_PERIOD_SECONDS = 60;

/** `<stamp>-<command>-<pid>.jsonl` → its command. */
export function commandOfLog(file: string): string | undefined {
  return /^\d{8}T\d{6}Z-(.+)-\d+\.jsonl$/.exec(path.basename(file))?.[1];
}

/**
 * The run log a report is about: RUN as a file path, or a file name or stamp prefix in
 * logs/<phase>/; without RUN, the newest changing run of the phase. Refused (exit 2) before
 * any call when there is none.
 */
export function pickRunLog(logDir: string, run: string | undefined, own?: string): string {
  if (run && existsSync(run) && run.endsWith('.jsonl')) return path.resolve(run);
  const files = existsSync(logDir) ? readdirSync(logDir).filter((f) => f.endsWith('.jsonl')).sort() : [];
  if (run) {
    const hits = files.filter((f) => f === run || f === `${run}.jsonl` || f.startsWith(run));
    if (hits.length === 1) return path.join(logDir, hits[0]);
    if (hits.length > 1) throw new UsageError(`RUN '${run}' names ${hits.length} run logs in ${logDir}: ${hits.slice(-5).join(', ')}`, 'give more of the file name, e.g. the whole stamp and the command');
    throw new UsageError(`RUN '${run}': no such run log in ${logDir}`, `give a file name or stamp from ${logDir} (ls ${logDir}), or leave RUN out for the newest changing run`);
  }
  const changing = files.filter((f) => CHANGING.includes(commandOfLog(f) ?? '') && path.join(logDir, f) !== own);
  if (!changing.length) throw new UsageError(`no run log of a changing command in ${logDir}`, 'run a changing command first (./run create_nova), or name a run log: ./run report <file>');
  return path.join(logDir, changing[changing.length - 1]);
}

export interface WriteReportOptions {
  runLogFile: string;
  /** Where to write; default: beside the run log, same name, .html. */
  out?: string;
  periodSeconds?: number;
}

export interface WrittenReport {
  file: string;
  /** The run log the report is about (not this run's own, which --json names runLog). */
  reportedRun: string;
  totals: RunModel['totals'];
  steps: number;
  series: { name: string; datapoints: number; requests: number }[];
  outcome?: string;
}

export async function writeReport(ctx: Ctx, o: WriteReportOptions): Promise<WrittenReport> {
  const period = o.periodSeconds ?? DEFAULT_PERIOD_SECONDS;
  const log = parseRunLog(readFileSync(o.runLogFile, 'utf8'));
  // A run reporting on itself (--report) marks the end of its own lines in its log: the
  // reads that follow (history, load balancers, CloudWatch) are the report's, not the run's.
  const own = ctx.aws.runLog;
  if (own && path.resolve(own.file) === path.resolve(o.runLogFile)) own.append({ ts: new Date().toISOString(), report: 'start' });
  const model = modelOf(log);
  const command = commandOfLog(o.runLogFile) ?? 'run';
  const { record, problem } = await historyRecordOf(ctx, command, model.startMs);
  const traffic = await trafficOf(ctx, log, model, record, period);
  const html = renderReport(
    { phase: ctx.phase, command, runLogFile: o.runLogFile, generatedAt: new Date(), cli: log.cli, model, record, recordProblem: problem, traffic },
    (s) => ctx.redactor.redact(s),
  );
  const file = path.resolve(o.out ?? o.runLogFile.replace(/\.jsonl$/, '') + '.html');
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, html);
  return {
    file,
    reportedRun: o.runLogFile,
    totals: model.totals,
    steps: model.rows.length,
    series: (traffic?.series ?? []).map((s) => ({ name: s.name, datapoints: s.points.length, requests: s.points.reduce((a, p) => a + p.v, 0) })),
    outcome: record?.outcome,
  };
}

/** The history record of the run: same command, started within a few seconds of its first line. */
async function historyRecordOf(ctx: Ctx, command: string, startMs: number): Promise<{ record?: HistoryRecord; problem?: string }> {
  let records: HistoryRecord[];
  try {
    records = await readHistory(ctx, 50);
  } catch (err) {
    return { problem: `the deploy history could not be read: ${(err as Error).message}` };
  }
  const near = records
    .filter((r) => r.command === command && Math.abs(Date.parse(r.startedAt) - startMs) < 10_000)
    .sort((a, b) => Math.abs(Date.parse(a.startedAt) - startMs) - Math.abs(Date.parse(b.startedAt) - startMs));
  return near[0] ? { record: near[0] } : { problem: `no history record of ${command} started near ${new Date(startMs).toISOString()} among the newest ${records.length}` };
}

/**
 * Requests per environment of the run (the one it made, the two of its swap, the old and new
 * of its record) from each one's load balancer's RequestCount, period by period, from a
 * minute before the run to now (at most a quarter of an hour after it, and at most
 * MAX_DATAPOINTS periods). Bands: the DNS-TTL wait, and the quiet window the cleanup waits
 * for once the old environment's last request is seen, and the bake (named by its verdict).
 * Markers: the swap call, the swap verified, the bake's swap back.
 */
async function trafficOf(ctx: Ctx, log: ParsedRunLog, model: RunModel, record: HistoryRecord | undefined, period: number): Promise<TrafficChart | undefined> {
  const envs = environmentsOf(log);
  const names = [...new Set([record?.newEnvironment, envs.created, envs.swapped?.source, envs.swapped?.destination, record?.oldEnvironment].filter((n): n is string => Boolean(n)))];
  if (!names.length) return undefined;
  const end = new Date(Math.min(Date.now(), model.endMs + 15 * 60_000));
  const start = new Date(Math.max(model.startMs - 60_000, end.getTime() - MAX_DATAPOINTS * period * 1000));
  const series: Series[] = [];
  const problems: string[] = [];
  for (const name of names) {
    let arn: string | undefined;
    try {
      arn = ((await eb.describeEnvironmentResources(ctx.call, name, 'report')).LoadBalancers ?? []).map((l) => l.Name ?? '').find((n) => albDimension(n));
    } catch (err) {
      problems.push(`${name}: its load balancer could not be found (${(err as Error).message.split('\n')[0]})`);
      continue;
    }
    const lb = arn && albDimension(arn);
    if (!lb) {
      problems.push(`${name}: EB names no Application Load Balancer for it`);
      continue;
    }
    try {
      const points = await albMetricSeries(ctx.call, lb, 'RequestCount', start, end, period, 'report');
      const version = record?.newEnvironment === name ? record.versionLabel : undefined;
      series.push({ name: version ? `${name} (${version})` : name, points: points.map((p) => ({ t: p.at, v: p.value })), data: { environment: name, 'load-balancer': lb, metric: 'RequestCount', period, start: start.toISOString(), end: end.toISOString() } });
    } catch (err) {
      problems.push(`${name}: CloudWatch get-metric-statistics failed (${(err as Error).message.split('\n')[0]})`);
    }
  }
  const at = (ts: string) => Date.parse(ts);
  const bands: Band[] = [];
  const markers: Marker[] = [];
  const dns = log.steps.find((s) => s.step === 'DNS');
  if (dns) bands.push({ label: 'DNS TTL wait', from: at(dns.ts), to: at(dns.ts) + dns.ms });
  if (envs.swapped) markers.push({ label: 'swap call', at: envs.swapped.at });
  const verify = log.steps.find((s) => s.step === 'verify');
  if (verify?.ok) markers.push({ label: 'swap verified', at: at(verify.ts) + verify.ms });
  // The bake (issue 21): its minutes as a band named by its verdict, and its swap back, if any.
  const bake = log.steps.find((s) => s.step === 'bake');
  if (bake) bands.push({ label: `bake${record?.bake ? `: ${record.bake}` : ''}`, from: at(bake.ts), to: at(bake.ts) + bake.ms });
  if (record?.swappedBackAt) markers.push({ label: 'swapped back by the bake', at: at(record.swappedBackAt) });
  const oldName = record?.oldEnvironment ?? (envs.swapped ? [envs.swapped.source, envs.swapped.destination].find((n) => n !== (record?.newEnvironment ?? envs.created)) : undefined);
  const old = series.find((s) => s.data?.environment === oldName);
  const lastBusy = old?.points.filter((p) => p.v > 0).at(-1);
  if (lastBusy) {
    const quiet = ctx.config.nova.DRAIN_QUIET_MINUTES * 60_000;
    const from = lastBusy.t + period * 1000;
    bands.push({ label: `quiet window (${ctx.config.nova.DRAIN_QUIET_MINUTES} min)`, from, to: from + quiet });
  }
  return {
    series,
    bands,
    markers,
    problems,
    note: `CloudWatch AWS/ApplicationELB RequestCount (Sum) per ${period} s, ${start.toISOString()} to ${end.toISOString()}; seconds from the run's start`,
  };
}

export async function report(ctx: Ctx, opts: CommandOptions): Promise<CommandResult> {
  const logDir = path.join(ctx.root, 'logs', ctx.phase);
  const period = opts.periodSeconds ?? DEFAULT_PERIOD_SECONDS;
  if (!isValidPeriod(period)) throw new UsageError(`--period ${period}: CloudWatch takes 1, 5, 10, 30 or a multiple of 60 seconds`, 'e.g. --period 60 (AWS load balancers report each minute)');
  const runLogFile = pickRunLog(logDir, opts.run, ctx.aws.runLog?.file);
  const r = await writeReport(ctx, { runLogFile, out: opts.out, periodSeconds: period });
  ctx.log.info(`report: ${r.file} (${r.steps} steps, ${r.totals.calls} aws calls, ${r.series.length} traffic series)`);
  return { report: r.file, ...r };
}
