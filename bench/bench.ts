// `npm run bench`: how long each command takes and how many aws invocations it makes,
// against sandboxes of its own, over several runs (median and range: this machine is
// noisy); and zero downtime, measured: a steady load on the main CNAME through the
// router during a daily deploy, a rollback, and a refused deploy.
//
//   node dist/bench/bench.js [--runs N] [--quick] [--out FILE] [--rate R]
//   node dist/bench/bench.js --soak N [--out FILE]   (N daily deploys on one sandbox: bench/soak.ts)
//
// Prints a markdown report and writes it to bench/RESULTS.md (with the machine).
import { execa } from 'execa';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { startLoad, type LoadReport, type RunningLoad } from '../test/helpers/load.js';
import { countCalls, readRunLog, waitingEbCalls, ROOT, type CallCounts, type RunLogRecord, type RunOutcome } from '../test/helpers/bench-phase.js';
import { startPhase, type PhaseSandbox } from '../test/helpers/sandbox-phase.js';
import { renderSoak, runSoak } from './soak.js';
import { marksFromRunLog, stepsOfRunLog, stepsSvg, zeroDowntimeSvg, type LoadMarks } from './charts.js';
import type { StepRow } from '../src/ui/report/model.js';
import { POLL_BUDGET_PER_MINUTE } from '../src/time.js';

interface Options {
  runs: number;
  out: string;
  rate: number;
  /** --soak N: N daily deploys on one sandbox instead of the timed runs. */
  soak?: number;
  /** Phases deployed at once in the many-phases scenario (issue 23; default 6). */
  many: number;
}

function parseOptions(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    options: {
      quick: { type: 'boolean' },
      runs: { type: 'string', default: '3' },
      out: { type: 'string', default: path.join(ROOT, 'bench', 'RESULTS.md') },
      rate: { type: 'string', default: '60' },
      soak: { type: 'string' },
      many: { type: 'string', default: '6' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write('usage: npm run bench [-- --runs N | --quick] [--out FILE] [--rate REQ_PER_S] [--many N (0: skip the many-phases scenario)]\n       npm run bench -- --soak N [--out FILE]\n');
    process.exit(0);
  }
  const soak = values.soak === undefined ? undefined : Number(values.soak);
  if (soak !== undefined && (!Number.isInteger(soak) || soak < 1)) throw new Error('--soak: a whole number of days, 1 or more');
  const out = soak !== undefined && values.out === path.join(ROOT, 'bench', 'RESULTS.md') ? path.join(ROOT, 'bench', 'SOAK.md') : values.out!;
  const o: Options = { runs: values.quick ? 1 : Number(values.runs), out: path.resolve(out), rate: Number(values.rate), soak, many: Number(values.many) };
  if (!Number.isInteger(o.many) || o.many < 0) throw new Error('--many: a whole number of phases, 0 or more');
  if (!Number.isInteger(o.runs) || o.runs < 1) throw new Error('--runs: a whole number, 1 or more');
  if (!(o.rate >= 50)) throw new Error('--rate: 50 requests a second or more');
  return o;
}

/** Short EB delays, like the e2e tests; a small launch timeout so the refused deploy goes Red fast. */
const DELAYS = { launchMs: 1500, swapMs: 500, terminateMs: 1000, launchTimeoutMs: 6000 };

const COMMANDS = [
  'create_vpc (empty phase)',
  'create_vpc (re-run, complete phase)',
  'create_nova (first)',
  'create_nova (daily, under load)',
  'create_nova (refused: unhealthy, under load)',
  'rollback (under load)',
  'terminate_eb_old_environment --grace-minutes 0 (drain-aware)',
  'create_nova --hold',
  'promote (under load)',
  'create_nova (bake on, good version, under load)',
  'create_nova (bake on, bad version: rolled back by bake, under load)',
  'terminate_nova',
  'terminate_vpc',
] as const;
type CommandName = (typeof COMMANDS)[number];

interface CommandSample {
  wallMs: number;
  exitCode: number;
  calls: CallCounts;
}

interface LoadSample {
  scenario: string;
  run: number;
  report: LoadReport;
  commandWallMs: number;
  exitCode: number;
  /** ms from the command's start to the first answer of the new version. */
  switchAfterStartMs?: number;
  /** ms from the new environment Ready (the deploy's first call after its wait) to the switch. */
  switchAfterReadyMs?: number;
  /** ms from the start of the swap-environment-cnames call to the switch. */
  switchAfterSwapCallMs?: number;
  versionsExpected: string[];
  /** The swap call and the DNS wait, in ms from the load's start (for the chart). */
  marks?: LoadMarks;
}

interface RunSample {
  /** One aws CLI call against this sandbox, median of a few, one after another. */
  awsCallMs: number;
  commands: Partial<Record<CommandName, CommandSample>>;
  readyToServingMs: { first?: number; daily?: number };
  loads: LoadSample[];
  /** The daily deploy's steps, from its run log (for the chart). */
  dailySteps?: StepRow[];
  /** The daily deploy's EB calls while it waited for its new environment (issue 23). */
  waiting?: { calls: number; seconds: number; perMinute: number };
  /** The bake (issue 21): a good version baked, then a bad one rolled back by the bake. */
  bake?: BakeSample;
}

interface BakeSample {
  /** Failed requests while a good version was swapped in and baked. */
  goodFailed: number;
  /** Failed requests (non-2xx, connection errors, timeouts) over the bad version's whole episode. */
  badFailed: number;
  sent: number;
  /** The first failed answer, the swap back's end, the last answer of the bad version to any client: ms from the first failed answer. */
  swapBackAfterFirstBadMs?: number;
  allBackAfterFirstBadMs?: number;
  rate: number;
  minuteMs: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function log(msg: string): void {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
}

function callsOf(r: RunOutcome): { calls: CallCounts; recs: RunLogRecord[] } {
  const file = r.json?.runLog;
  const recs = file && existsSync(file) ? readRunLog(file) : [];
  return { calls: countCalls(recs), recs };
}

/** The zero-downtime figures of one command run under load: when the answers switched version, against the command's start, the new environment's Ready and the swap call. */
function loadSample(scenario: string, run: number, u: { r: RunOutcome; report: LoadReport; loadStartedAt: number }, versionsExpected: string[]): LoadSample {
  const { recs } = callsOf(u.r);
  const switchAt = u.report.switchedAtMs === undefined ? undefined : u.loadStartedAt + u.report.switchedAtMs;
  const readyAt = readyAtFromRunLog(recs);
  const swapAt = swapCallAt(recs);
  const after = (t?: number) => (switchAt === undefined || t === undefined ? undefined : switchAt - t);
  return {
    scenario,
    run,
    report: u.report,
    commandWallMs: u.r.wallMs,
    exitCode: u.r.exitCode,
    switchAfterStartMs: after(u.r.startedAt),
    switchAfterReadyMs: after(readyAt),
    switchAfterSwapCallMs: after(swapAt),
    versionsExpected,
    marks: u.r.json?.runLog && existsSync(u.r.json.runLog) ? marksFromRunLog(u.r.json.runLog, u.loadStartedAt) : undefined,
  };
}

/** The bad version's episode: its failed requests, and when the bake swapped back and every client was back. */
function bakeSample(good: LoadReport, u: { r: RunOutcome; report: LoadReport; loadStartedAt: number }, rate: number): BakeSample {
  const rep = u.report;
  const recs = readRunLogOf(u.r);
  const swaps = recs.filter((x) => x.args[0] === 'elasticbeanstalk' && x.args[1] === 'swap-environment-cnames');
  const back = swaps[1];
  const swapBackAt = back ? Date.parse(back.ts) + (back.ms ?? 0) : undefined;
  const firstBad = rep.failures.length ? u.loadStartedAt + Math.min(...rep.failures.map((f) => f.atMs)) : undefined;
  const badVersion = rep.versions.find((v, k) => k > 0)?.version;
  const lastBad = badVersion ? Math.max(...rep.clients.map((c) => c.versions.find((v) => v.version === badVersion)?.lastAtMs ?? 0)) : undefined;
  const rel = (t?: number) => (t === undefined || firstBad === undefined ? undefined : t - firstBad);
  return {
    goodFailed: good.non2xx + good.errors + good.timeouts,
    badFailed: rep.non2xx + rep.errors + rep.timeouts,
    sent: rep.sent,
    swapBackAfterFirstBadMs: rel(swapBackAt),
    allBackAfterFirstBadMs: rel(lastBad === undefined ? undefined : u.loadStartedAt + lastBad),
    rate,
    minuteMs: 1000,
  };
}

/** A run's aws calls from its run log: a failed --json run names no runLog, so by its pid. */
function readRunLogOf(r: RunOutcome): RunLogRecord[] {
  const named = callsOf(r).recs;
  if (named.length || r.pid === undefined) return named;
  const dir = path.join(ROOT, 'logs');
  for (const phase of existsSync(dir) ? readdirSync(dir) : []) {
    const f = readdirSync(path.join(dir, phase)).find((n) => n.endsWith(`-${r.pid}.jsonl`));
    if (f) return readRunLog(path.join(dir, phase, f));
  }
  return [];
}

function must(r: RunOutcome, what: string, expected = 0): void {
  if (r.exitCode !== expected) {
    throw new Error(`${what}: exit ${r.exitCode}, expected ${expected}\n${r.stderr.slice(-3000)}`);
  }
}

/** When the deploy saw its new environment Ready: the start of its first call after the wait's polls. */
function readyAtFromRunLog(recs: RunLogRecord[]): number | undefined {
  const i = recs.findIndex((r) => r.args[0] === 'elasticbeanstalk' && r.args[1] === 'create-environment');
  if (i < 0) return undefined;
  const after = recs.slice(i + 1).filter((r) => r.purpose !== 'poll' && r.purpose !== 'lock');
  if (!after.length) return undefined;
  return Math.min(...after.map((r) => Date.parse(r.ts)));
}

function swapCallAt(recs: RunLogRecord[]): number | undefined {
  const s = recs.find((r) => r.args[0] === 'elasticbeanstalk' && r.args[1] === 'swap-environment-cnames');
  return s ? Date.parse(s.ts) : undefined;
}

/** Several clients, each its own DNS cache in the router (sandbox/router.ts), as real users are. */
const CLIENTS = ['127.0.0.2', '127.0.0.3', '127.0.0.4'];

/** Polls the running load until `done` holds: the bench waits on what it needs to see, not for a time. */
async function loadUntil(load: RunningLoad, what: string, done: (r: LoadReport) => boolean, ms = 120_000): Promise<void> {
  const end = Date.now() + ms;
  while (!done(load.snapshot())) {
    if (Date.now() > end) throw new Error(`load: timed out waiting for ${what}`);
    await sleep(100);
  }
}

/**
 * Runs `fn` under a steady load from every client. The load starts once every client has had
 * an answer, and stops once every client has answered `after` (the new version, or for a
 * refused deploy, any answer after the command).
 */
async function underLoad(p: PhaseSandbox, rate: number, fn: () => Promise<RunOutcome>, afterOf?: (r: RunOutcome) => string | undefined): Promise<{ r: RunOutcome; report: LoadReport; loadStartedAt: number }> {
  const loadStartedAt = Date.now();
  const load = startLoad({ router: p.sandbox.router, host: p.host, rate, clients: CLIENTS, maxSeconds: 900 });
  let r: RunOutcome;
  try {
    await loadUntil(load, 'every client to be answered', (s) => s.clients.every((c) => c.ok > 0));
    r = await fn();
    const endedAt = Date.now() - loadStartedAt;
    const after = afterOf?.(r);
    await loadUntil(load, after ? `every client to get ${after}` : 'an answer to every client after the command', (s) =>
      s.clients.every((c) => (after ? c.versions.some((v) => v.version === after && v.lastAtMs > endedAt) : c.versions.some((v) => v.lastAtMs > endedAt))),
    );
  } catch (err) {
    await load.stop().catch(() => undefined);
    throw err;
  }
  const report = await load.stop();
  return { r, report, loadStartedAt };
}

async function envs(p: PhaseSandbox): Promise<any[]> {
  const r = await p.aws(['elasticbeanstalk', 'describe-environments', '--application-name', p.phase, '--no-include-deleted']);
  return (r.Environments as any[]).filter((e) => e.Status !== 'Terminated');
}

async function settled(p: PhaseSandbox): Promise<void> {
  const end = Date.now() + 120_000;
  while (Date.now() < end) {
    const e = await envs(p);
    if (!e.some((x) => ['Launching', 'Updating', 'Terminating'].includes(x.Status))) return;
    await sleep(500);
  }
  throw new Error('environments still changing after 2 min');
}

async function oneRun(i: number, o: Options): Promise<RunSample> {
  const phase = `bench${i + 1}`;
  const s: RunSample = { awsCallMs: 0, commands: {}, readyToServingMs: {}, loads: [] };
  const p = await startPhase({ phase, delays: DELAYS });
  // What one aws invocation costs here, so the original's sequential calls can be priced
  // on this machine rather than quoted from another.
  const single: number[] = [];
  for (let k = 0; k < 5; k++) {
    const t = Date.now();
    await p.aws(['ec2', 'describe-vpcs']);
    single.push(Date.now() - t);
  }
  s.awsCallMs = single.sort((a, b) => a - b)[2];
  /** Check the exit code the step must have, then keep its figures. */
  const record = (name: CommandName, r: RunOutcome, expected = 0) => {
    must(r, name, expected);
    const { calls } = callsOf(r);
    s.commands[name] = { wallMs: r.wallMs, exitCode: r.exitCode, calls };
    log(`run ${i + 1}: ${name}: ${(r.wallMs / 1000).toFixed(1)} s, exit ${r.exitCode}, ${calls.total} aws calls (${calls.mutating} mutating, ${calls.lock} lock, ${calls.poll} poll)`);
  };
  try {
    log(`run ${i + 1}: phase ${phase}, sandbox ${p.sandbox.endpoint}, router ${p.sandbox.router}`);
    let r = await p.runJson(['create_vpc']);
    record('create_vpc (empty phase)', r);

    r = await p.runJson(['create_vpc']);
    record('create_vpc (re-run, complete phase)', r);

    r = await p.runJson(['create_nova']);
    record('create_nova (first)', r);
    s.readyToServingMs.first = r.json.readyToServingMs;
    const v1: string = r.json.versionLabel;

    const daily = await underLoad(p, o.rate, () => p.runJson(['create_nova']), (r) => r.json?.versionLabel);
    record('create_nova (daily, under load)', daily.r);
    s.readyToServingMs.daily = daily.r.json.readyToServingMs;
    s.waiting = waitingEbCalls(callsOf(daily.r).recs);
    if (daily.r.json?.runLog && existsSync(daily.r.json.runLog)) s.dailySteps = stepsOfRunLog(daily.r.json.runLog);
    const v2: string = daily.r.json.versionLabel;
    s.loads.push(loadSample('daily create_nova', i + 1, daily, [v1, v2]));

    // A refused deploy: Nova answers 404 on /echo/, the environment goes Red; v2 keeps serving.
    const noEcho = path.join(p.dir, 'no_echo');
    writeFileSync(noEcho, '');
    const unhealthy = p.variant('unhealthy', (c) => {
      c.nova.ENVIRONMENT = { ...(c.nova.ENVIRONMENT ?? {}), NOVA_NO_ECHO_FILE: noEcho };
    });
    const refused = await underLoad(p, o.rate, () => p.runJson(['create_nova'], unhealthy));
    record('create_nova (refused: unhealthy, under load)', refused.r, 1);
    s.loads.push(loadSample('refused create_nova', i + 1, refused, [v2]));
    await settled(p);

    const rb = await underLoad(p, o.rate, () => p.runJson(['rollback']), () => v1);
    record('rollback (under load)', rb.r);
    s.loads.push(loadSample('rollback', i + 1, rb, [v2, v1]));
    await settled(p);

    // The cleanup under load: the environment rolled away from (v2) goes once the DNS TTL has
    // passed since the rollback (rollback waits it out; the cleanup checks it again).
    const cleanup = await underLoad(p, o.rate, () => p.runJson(['--grace-minutes', '0', 'terminate_eb_old_environment']));
    record('terminate_eb_old_environment --grace-minutes 0 (drain-aware)', cleanup.r);
    s.loads.push(loadSample('cleanup after the grace', i + 1, cleanup, [v1]));
    await settled(p);

    // Hold and promote: the deploy up to the swap, then the swap with the deploy's checks.
    r = await p.runJson(['create_nova', '--hold']);
    record('create_nova --hold', r);
    const v3: string = r.json.versionLabel;
    const pr = await underLoad(p, o.rate, () => p.runJson(['promote']), () => v3);
    record('promote (under load)', pr.r);
    s.loads.push(loadSample('promote', i + 1, pr, [v1, v3]));
    await settled(p);

    // The bake (issue 21): a good version with the bake on loses no request; a version that
    // fails half its requests once live is swapped back by the bake. A sandbox minute is its
    // metrics period (TEST_STRICT: 1 s).
    const bakeOn = (name: string, fault?: Record<string, string>) =>
      p.variant(name, (c) => {
        c.nova.BAKE_MINUTES = 5;
        c.nova.BAKE_FAILURE_LIMIT = 2;
        c.nova.BAKE_MIN_REQUESTS = 10;
        if (fault) c.nova.ENVIRONMENT = { ...(c.nova.ENVIRONMENT ?? {}), ...fault };
      });
    const good = await underLoad(p, o.rate, () => p.runJson(['create_nova'], bakeOn('bake-good')), (r) => r.json?.versionLabel);
    record('create_nova (bake on, good version, under load)', good.r);
    const v4: string = good.r.json.versionLabel;
    s.loads.push(loadSample('create_nova, bake passed', i + 1, good, [v3, v4]));
    await settled(p);
    const bad = await underLoad(p, o.rate, () => p.runJson(['create_nova'], bakeOn('bake-bad', { NOVA_FAULT_ERROR_SHARE: '0.5' })), () => v4);
    record('create_nova (bake on, bad version: rolled back by bake, under load)', bad.r, 1);
    s.bake = bakeSample(good.report, bad, o.rate);
    await settled(p);

    r = await p.runJson(['terminate_nova']);
    record('terminate_nova', r);

    r = await p.runJson(['terminate_vpc']);
    record('terminate_vpc', r);
    return s;
  } finally {
    await p.close();
  }
}

/** Many phases at once (issue 23): wall time and throttles of N first deploys together against one alone. */
interface ManySample {
  n: number;
  aloneMs: number;
  togetherMs: number;
  eachMs: number[];
  failed: number;
  /** EB requests the sandbox's rate rule refused (R90) during the N deploys, and all it answered. */
  throttled: number;
  ebRequests: number;
}

/**
 * N + 1 phases of one account in ONE sandbox at AWS's rates (R90): create_vpc for all, at
 * once; one phase's create_nova alone; then the other N's create_nova together, each its
 * own ./run process, as a CI matrix would run them.
 */
async function manyPhases(n: number): Promise<ManySample> {
  const p = await startPhase({ phase: 'many0', delays: DELAYS, strict: { rateScale: 1 } });
  try {
    const configs = [p.configFile, ...Array.from({ length: n }, (_, i) => p.phaseConfig(`many${i + 1}`, 220 + i))];
    const made = await Promise.all(configs.map((c) => p.runJson(['create_vpc'], c)));
    made.forEach((r, i) => must(r, `many-phases: create_vpc of phase ${i}`));
    const alone = await p.runJson(['create_nova'], configs[0]);
    must(alone, 'many-phases: create_nova alone');
    const eb = async () => (((await (await fetch(`${p.sandbox.endpoint}/_sandbox/status`)).json()) as any).rates?.elasticbeanstalk ?? { allowed: 0, throttled: 0 }) as { allowed: number; throttled: number };
    const before = await eb();
    const started = Date.now();
    const together = await Promise.all(configs.slice(1).map((c) => p.runJson(['create_nova'], c)));
    const togetherMs = Date.now() - started;
    const after = await eb();
    const sample: ManySample = {
      n,
      aloneMs: alone.wallMs,
      togetherMs,
      eachMs: together.map((r) => r.wallMs),
      failed: together.filter((r) => r.exitCode !== 0).length,
      throttled: after.throttled - before.throttled,
      ebRequests: after.allowed + after.throttled - before.allowed - before.throttled,
    };
    log(`many phases: ${n} create_nova at once in ${sec(togetherMs)} s (one alone: ${sec(alone.wallMs)} s); ${sample.failed} failed; EB throttled ${sample.throttled} of ${sample.ebRequests}`);
    // A failed phase says why: the figure alone cannot tell a throttle from a slow machine.
    together.forEach((r, i) => r.exitCode !== 0 && log(`many phases: phase many${i + 1} exit ${r.exitCode}:\n${r.stderr.slice(-2000)}`));
    return sample;
  } finally {
    await p.close();
  }
}

function renderMany(m: ManySample | undefined, o: Options): string[] {
  if (!m) return o.many ? ['## Many phases at once', '', 'Not measured: the scenario failed (see the log).', ''] : [];
  return [
    '## Many phases at once',
    '',
    `${m.n} phases of one account in one sandbox at AWS's rate limits (R90: EB Describe* 2/s, burst 15), each create_nova (a first deploy) its own \`./run\` process, started together after every phase's create_vpc; against one phase's create_nova alone in the same sandbox.`,
    '',
    '| deploys | wall (s) | each (s) | failed | EB requests | throttled (retried by the aws CLI) |',
    '|---:|---:|---|---:|---:|---:|',
    `| 1 alone | ${sec(m.aloneMs)} | | 0 | | |`,
    `| ${m.n} at once | ${sec(m.togetherMs)} | ${m.eachMs.map(sec).join(', ')} | ${m.failed} | ${m.ebRequests} | ${m.throttled} |`,
    '',
  ];
}

// ---------------------------------------------------------------- statistics and report

function median(xs: number[]): number {
  const a = [...xs].sort((x, y) => x - y);
  const m = Math.floor(a.length / 2);
  return a.length % 2 ? a[m] : (a[m - 1] + a[m]) / 2;
}

const sec = (ms: number) => (ms / 1000).toFixed(1);

function medRange(xs: number[], fmt: (n: number) => string): [string, string] {
  if (!xs.length) return ['–', '–'];
  const lo = Math.min(...xs);
  const hi = Math.max(...xs);
  return [fmt(median(xs)), lo === hi ? fmt(lo) : `${fmt(lo)}–${fmt(hi)}`];
}

/** "12" when every run agrees, else "12 (11–14)". */
function countCell(xs: number[]): string {
  if (!xs.length) return '–';
  const lo = Math.min(...xs);
  const hi = Math.max(...xs);
  const m = median(xs);
  return lo === hi ? String(lo) : `${m} (${lo}–${hi})`;
}

async function machine(): Promise<Record<string, string>> {
  const out = async (cmd: string, args: string[]) => {
    const r = await execa(cmd, args, { reject: false, all: true });
    return r.exitCode === 0 ? String(r.all).trim() : '?';
  };
  const cpu = (() => {
    try {
      const text = readFileSync('/proc/cpuinfo', 'utf8');
      return /model name\s*:\s*(.+)/.exec(text)?.[1]?.trim() ?? os.cpus()[0]?.model ?? '?';
    } catch {
      return os.cpus()[0]?.model ?? '?';
    }
  })();
  let moto = await out('moto_server', ['--version']);
  if (moto === '?' || !/\d/.test(moto)) moto = await out('python3', ['-c', 'import moto; print(moto.__version__)']);
  return {
    date: new Date().toISOString(),
    nproc: await out('nproc', []),
    cpu,
    node: process.version,
    aws: (await out('aws', ['--version'])).split('\n')[0],
    moto,
    os: `${os.type()} ${os.release()}`,
    load: os.loadavg().map((x) => x.toFixed(2)).join(' '),
  };
}

function render(runs: RunSample[], m: Record<string, string>, loadEnd: string, o: Options, totalMs: number): string {
  const L: string[] = [];
  L.push('# Johanna bench');
  L.push('');
  L.push(`${runs.length} run${runs.length === 1 ? '' : 's'}, each in a fresh sandbox (moto + EB emulator, delays ${JSON.stringify(DELAYS)}), real aws CLI v1. Wall time is \`./run\` end to end as a user sees it (node start-up included). Median and range over the runs. Total bench time ${sec(totalMs)} s.`);
  L.push('');
  L.push('| command | wall median (s) | wall range (s) | aws calls total | mutating | lock + history | poll | other reads |');
  L.push('|---|---:|---:|---:|---:|---:|---:|---:|');
  for (const name of COMMANDS) {
    const xs = runs.map((r) => r.commands[name]).filter((x): x is CommandSample => !!x);
    if (!xs.length) continue;
    const [wm, wr] = medRange(xs.map((x) => x.wallMs), sec);
    const c = (f: (c: CallCounts) => number) => countCell(xs.map((x) => f(x.calls)));
    L.push(`| ${name} | ${wm} | ${wr} | ${c((k) => k.total)} | ${c((k) => k.mutating)} | ${c((k) => k.lock)} | ${c((k) => k.poll)} | ${c((k) => k.total - k.mutating - k.lock - k.poll)} |`);
  }
  L.push('');
  const retries = runs.flatMap((r) => Object.values(r.commands)).reduce((n, c) => n + (c?.calls.retries ?? 0), 0);
  L.push(`"mutating" excludes the bookkeeping calls, shown under "lock + history": the deploy lock's (DynamoDB put-item/delete-item) and the deploy history's (one put-item a run); "poll" are the wait loops' describe calls; "other reads" are the remaining read-only calls. Retried invocations (src/aws/cli.ts, attempt > 1) over all runs: ${retries}. The first create_vpc of each sandbox also creates the lock and history tables (their describe-table/create-table calls are in its "lock + history").`);
  L.push('');
  const [rsm, rsr] = medRange(runs.map((r) => r.readyToServingMs.daily).filter((x): x is number => x !== undefined), (n) => n.toFixed(0));
  const [rfm, rfr] = medRange(runs.map((r) => r.readyToServingMs.first).filter((x): x is number => x !== undefined), (n) => n.toFixed(0));
  L.push(`**Daily create_nova, new environment Ready → main CNAME serves the new version** (readyToServingMs from --json): median ${rsm} ms, range ${rsr} ms. (First deploy, no swap: median ${rfm} ms, range ${rfr} ms.)`);
  L.push('');
  const [wpm, wpr] = medRange(runs.map((r) => r.waiting?.perMinute).filter((x): x is number => x !== undefined), (n) => n.toFixed(0));
  L.push(
    `**Daily create_nova, EB calls a minute while it waits for its new environment** (run log, create-environment to the first call after the wait): median ${wpm}, range ${wpr}. The sandbox polls 5 times as often as AWS (pollMs 1 s vs 5 s), so on AWS that is a fifth; the budget is ${POLL_BUDGET_PER_MINUTE} a minute on AWS (${POLL_BUDGET_PER_MINUTE * 5} here), so 6 phases of one account waiting at once make ${6 * POLL_BUDGET_PER_MINUTE} of EB's 120 Describe* calls a minute (2/s, R90). test/e2e/deploy.test.ts holds it.`,
  );
  L.push('');
  const [callMs] = medRange(runs.map((r) => r.awsCallMs), (n) => n.toFixed(0));
  const [vpcMs] = medRange(runs.map((r) => r.commands['create_vpc (empty phase)']?.wallMs).filter((x): x is number => x !== undefined), sec);
  L.push(
    `**The original, for comparison:** its create_vpc made 44 aws calls, one after another (the issue quotes ~21 s on its machine). One aws call here takes ${callMs} ms (median, sequential \`aws ec2 describe-vpcs\` against this sandbox), so the original's 44 would take about ${sec(44 * Number(callMs))} s on this machine; ours made ${runs[0]?.commands['create_vpc (empty phase)']?.calls.total ?? '?'} calls (lock included) in ${vpcMs} s, at most 4 at once on ${os.cpus().length} cores: each aws call is a Python process of ~0.8 s CPU, so the CPU, not the network, is the floor here.`,
  );
  L.push('');
  L.push('Call counts per command, before and after issue 27, and create_vpc with a slow NAT gateway: bench/CALLS.md (`npm run bench:calls`; kept by hand, since this file is rewritten by `npm run bench`).', '');
  L.push(`## Zero downtime, measured`);
  L.push('');
  L.push(`A steady ${o.rate} req/s on the main CNAME through the sandbox router, from ${CLIENTS.length} client addresses (${CLIENTS.join(', ')}) in turn. The router caches each client's DNS answer for the sandbox's default TTL (5 s; AWS: 60 s), so after a swap each client moves to the new version when its own cached answer expires, not all at once. The load starts once every client has had an answer and stops once every client has had the expected version after the command ended. "switch" is the first answer of the new version to any client, in ms after the command's start / after the new environment was Ready (the deploy's first call after its wait, from the run log) / after the swap-environment-cnames call began; "flaps" are answers of the old version to a client after that client's first of the new one.`);
  L.push('');
  L.push('| scenario | run | exit | command (s) | sent | req/s | non-2xx | conn errors | timeouts | p99 (ms) | versions answered (count) | switch after start | after Ready | after swap call | flaps |');
  L.push('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|');
  for (const l of runs.flatMap((r) => r.loads)) {
    const rep = l.report;
    const seen = rep.versions.map((v) => `${v.version} (${v.count})`).join(' → ');
    const f = (x?: number) => (x === undefined ? '–' : `${x.toFixed(0)} ms`);
    L.push(
      `| ${l.scenario} | ${l.run} | ${l.exitCode} | ${sec(l.commandWallMs)} | ${rep.sent} | ${(rep.sent / rep.seconds).toFixed(0)} | ${rep.non2xx} | ${rep.errors} | ${rep.timeouts} | ${rep.p99Ms} | ${seen} | ${f(l.switchAfterStartMs)} | ${f(l.switchAfterReadyMs)} | ${f(l.switchAfterSwapCallMs)} | ${rep.flapsAfterSwitch} |`,
    );
  }
  L.push('');
  const bad = runs.flatMap((r) => r.loads).filter((l) => {
    const got = l.report.versions.map((v) => v.version);
    return l.report.non2xx + l.report.errors + l.report.timeouts > 0 || l.report.flapsAfterSwitch > 0 || JSON.stringify(got) !== JSON.stringify(l.versionsExpected);
  });
  L.push(bad.length === 0
    ? 'Every scenario: zero non-2xx, zero connection errors, zero timeouts, from every client address; each client went from the old version to the new one exactly once (the refused deploy and the cleanup: the live version only).'
    : `**${bad.length} scenario run(s) were not clean:** ${bad.map((b) => `${b.scenario} (run ${b.run}): ${b.report.failures.map((x) => `${x.client} ${x.what} at ${x.atMs} ms`).join(', ') || 'versions ' + b.report.versions.map((v) => v.version).join(' → ')}`).join('; ')}.`);
  L.push('');
  L.push('### Per client address (run 1)');
  L.push('');
  L.push('| scenario | client | sent | failed | versions answered (count) | this client switched at (ms from load start) | flaps |');
  L.push('|---|---|---:|---:|---|---:|---:|');
  for (const l of runs[0]?.loads ?? []) {
    for (const c of l.report.clients) {
      L.push(`| ${l.scenario} | ${c.client} | ${c.sent} | ${c.failed} | ${c.versions.map((v) => `${v.version} (${v.count})`).join(' → ')} | ${c.switchedAtMs ?? '–'} | ${c.flapsAfterSwitch} |`);
    }
  }
  L.push('');
  const daily = runs[0]?.loads.find((l) => l.scenario === 'daily create_nova');
  if (daily) {
    const versions = daily.report.versions.map((v) => v.version);
    L.push('### Requests by version over time: the daily deploy (run 1), second by second');
    L.push('');
    L.push('![Answers per second by version around the swap](zero-downtime.svg) (drawn by this run: `bench/zero-downtime.svg`; its steps: `bench/daily-steps.svg`)');
    L.push('');
    L.push(`Seconds from the load's start; the swap call began at ${daily.switchAfterSwapCallMs !== undefined && daily.report.switchedAtMs !== undefined ? `${((daily.report.switchedAtMs - daily.switchAfterSwapCallMs) / 1000).toFixed(1)} s` : '?'}. Rows where nothing changed between the first and last second shown are folded.`);
    L.push('');
    L.push(`| second | ${versions.join(' | ')} | failed | ${CLIENTS.map((c) => `${c} answered`).join(' | ')} |`);
    L.push(`|---:|${versions.map(() => '---:').join('|')}|---:|${CLIENTS.map(() => '---').join('|')}|`);
    const perClientAt = (client: string, second: number) => {
      const c = daily.report.clients.find((x) => x.client === client);
      const v = c?.versions.filter((x) => x.firstAtMs <= (second + 1) * 1000 && x.lastAtMs >= second * 1000).map((x) => x.version) ?? [];
      return v.join(' + ') || '–';
    };
    let previous = '';
    for (const row of daily.report.timeline) {
      const cells = `${versions.map((v) => row.byVersion[v] ?? 0).join(' | ')} | ${row.failed} | ${CLIENTS.map((c) => perClientAt(c, row.second)).join(' | ')}`;
      const shape = versions.map((v) => ((row.byVersion[v] ?? 0) > 0 ? v : '')).join(',') + CLIENTS.map((c) => perClientAt(c, row.second)).join(',') + row.failed;
      if (shape === previous && row.second !== daily.report.timeline.length - 1) continue;
      previous = shape;
      L.push(`| ${row.second} | ${cells} |`);
    }
    L.push('');
  }
  const bakes = runs.map((r) => r.bake).filter((b): b is BakeSample => !!b);
  if (bakes.length) {
    L.push('## The bake (issue 21)');
    L.push('');
    L.push(`A good version deployed with the bake on (5 minutes; a sandbox minute is its metrics period, 1 s), then a bad one: Nova's fault switch answers 500 to half its requests once live (NOVA_FAULT_ERROR_SHARE 0.5), after passing the health gate and the probe. The bake swaps back after 2 bad minutes (BAKE_FAILURE_LIMIT). The load is ${o.rate} req/s from ${CLIENTS.length} clients. Times are from the first failed answer any client got. The bound: failed requests ≤ rate × detection time, where the detection time runs from the first failed answer until every client is back on the good version (the swap back plus the DNS TTL); with half the requests failing, about half the bound is expected.`);
    L.push('');
    L.push('| run | good version, bake on: failed | bad version: failed / sent | first failed → swap back done (s) | first failed → every client back (s) | bound: rate × detection (req) | within |');
    L.push('|---:|---:|---:|---:|---:|---:|---|');
    bakes.forEach((b, k) => {
      const bound = b.allBackAfterFirstBadMs === undefined ? undefined : Math.ceil((b.rate * b.allBackAfterFirstBadMs) / 1000);
      const f = (x?: number) => (x === undefined ? '–' : (x / 1000).toFixed(1));
      L.push(`| ${k + 1} | ${b.goodFailed} | ${b.badFailed} / ${b.sent} | ${f(b.swapBackAfterFirstBadMs)} | ${f(b.allBackAfterFirstBadMs)} | ${bound ?? '–'} | ${bound === undefined ? '?' : b.badFailed <= bound ? 'yes' : '**no**'} |`);
    });
    L.push('');
  }
  L.push('## Machine');
  L.push('');
  for (const [k, v] of Object.entries(m)) L.push(`- ${k === 'load' ? 'load average at start' : k}: ${v}`);
  L.push(`- load average at end: ${loadEnd}`);
  L.push('');
  L.push('Reproduce: `npm run bench` (3 runs), `npm run bench -- --quick` (1 run), `npm run bench -- --runs 5`.');
  L.push('');
  return L.join('\n');
}

/** The charts of run 1 (issue 22 item 8), beside RESULTS.md's tables: bench/zero-downtime.svg and bench/daily-steps.svg. */
function writeCharts(run: RunSample): string[] {
  const written: string[] = [];
  const daily = run.loads.find((l) => l.scenario === 'daily create_nova');
  if (daily) {
    const file = path.join(ROOT, 'bench', 'zero-downtime.svg');
    const versions = daily.report.versions.map((v) => v.version);
    writeFileSync(file, zeroDowntimeSvg(`Daily create_nova under ${daily.report.sent} requests (run ${daily.run}): answers by version`, daily.report.timeline, versions, daily.marks ?? {}) + '\n');
    written.push(file);
  }
  if (run.dailySteps?.length) {
    const file = path.join(ROOT, 'bench', 'daily-steps.svg');
    writeFileSync(file, stepsSvg('Daily create_nova (run 1): steps and their aws calls', run.dailySteps) + '\n');
    written.push(file);
  }
  return written;
}

async function main(): Promise<number> {
  const o = parseOptions(process.argv.slice(2));
  if (o.soak !== undefined) {
    const s = await runSoak(o.soak, { log });
    const report = renderSoak(s);
    process.stdout.write(report);
    writeFileSync(o.out, report);
    log(`wrote ${o.out}`);
    return s.failures.length ? 1 : 0;
  }
  const m = await machine();
  log(`${o.runs} run(s); ${m.nproc} CPUs (${m.cpu}); load ${m.load}`);
  const started = Date.now();
  const runs: RunSample[] = [];
  let failure: Error | undefined;
  for (let i = 0; i < o.runs; i++) {
    try {
      runs.push(await oneRun(i, o));
    } catch (err) {
      failure = err as Error;
      log(`run ${i + 1} failed: ${failure.message}`);
      break;
    }
  }
  if (!runs.length) {
    process.stderr.write(`bench failed: ${failure?.message}\n`);
    return 1;
  }
  let many: ManySample | undefined;
  if (o.many > 0) {
    try {
      many = await manyPhases(o.many);
    } catch (err) {
      failure = err as Error;
      log(`many phases failed: ${failure.message}`);
    }
  }
  const report = render(runs, m, os.loadavg().map((x) => x.toFixed(2)).join(' '), o, Date.now() - started).replace('## Machine', [...renderMany(many, o), '## Machine'].join('\n'));
  process.stdout.write(report);
  mkdirSync(path.dirname(o.out), { recursive: true });
  writeFileSync(o.out, report);
  log(`wrote ${o.out}`);
  for (const f of writeCharts(runs[0])) log(`wrote ${f}`);
  if (failure) {
    process.stderr.write(`bench: a run failed, the report covers the ${runs.length} that finished: ${failure.message}\n`);
    return 1;
  }
  return 0;
}

main().then(
  (code) => process.exit(code),
  (err) => {
    process.stderr.write(`bench: ${(err as Error).stack ?? err}\n`);
    process.exit(1);
  },
);
