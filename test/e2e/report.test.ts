// The deploy report (issue 22 items 7, "Prove it"), end to end on one sandbox phase ("rpt"):
// create, then the daily create_nova under a steady load from two client addresses with
// --report; then ./run report for the same run once the old environment has drained. The
// page's figures are checked against their sources (the run log's step lines, the sandbox's
// CloudWatch read straight with the aws CLI), and the page is opened in a real headless
// Chromium: no console error, the charts' series there, a screenshot written.
import { existsSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, startPhase, until, type PhaseSandbox } from '../helpers/sandbox-phase.js';
import { startLoad, type RunningLoad } from '../helpers/load.js';
import { TEST_METRICS_LAG_MS, TEST_METRICS_PERIOD_MS } from '../helpers/bench-phase.js';
import { visit } from '../helpers/chromium.js';
import { readMarkers, readSeries, readSteps, readTotals } from '../helpers/svg-read.js';

const PHASE = 'rpt';
const CLIENTS = ['127.0.0.2', '127.0.0.3'];
const LONG = 600_000; // create and a daily deploy; the shared 2-core machine can be slow
/** Kept after the run (logs/ is ignored by git), for a person to look at. */
/** A daily create_nova's steps (src/ui/steps.ts), its own cleanup last; no bake (the test phase's BAKE_MINUTES is 0). */
const DAILY_STEPS = ['preflight', 'package', 'launch', 'ready', 'probe', 'swap', 'verify', 'DNS', 'cleanup'];
const SCREENSHOT = path.join(ROOT, 'logs', `${PHASE}-report.png`);

let ph: PhaseSandbox;
let load: RunningLoad | undefined;

beforeAll(async () => {
  ph = await startPhase({ phase: PHASE, delays: { launchMs: 500, swapMs: 200, terminateMs: 300 } });
}, 120_000);

afterAll(async () => {
  await load?.stop();
  await ph?.close();
  rmSync(path.join(ROOT, 'logs', PHASE), { recursive: true, force: true });
});

async function runOk(args: string[]): Promise<any> {
  const r = await ph.run(['-f', '--json', ...args]);
  expect(r.exitCode, `./run ${args.join(' ')}\n${r.stderr}`).toBe(0);
  return JSON.parse(r.stdout);
}

interface Page {
  steps: { step: string; width: number }[];
  series: { environment: string; points: number; width: number }[];
  markers: string[];
  outcome?: string;
  record: boolean;
}

const PAGE_FACTS = `(() => ({
  steps: [...document.querySelectorAll('svg.waterfall g.step')].map((g) => ({ step: g.dataset.step, width: g.querySelector('rect').getBoundingClientRect().width })),
  series: [...document.querySelectorAll('svg.timeseries g.series')].map((g) => ({ environment: g.dataset.environment, points: g.querySelectorAll('circle.point').length, width: g.getBoundingClientRect().width })),
  markers: [...document.querySelectorAll('svg.timeseries g.marker')].map((g) => g.dataset.label),
  outcome: document.querySelector('#outcome')?.dataset.outcome,
  record: Boolean(document.querySelector('#record')),
}))()`;

describe('the report of a daily deploy', () => {
  let first = '';
  let d: any;
  let runLog = '';

  it('create, then create_nova --report under load: the page is written, its waterfall and totals are the run log', { timeout: LONG }, async () => {
    first = (await runOk(['create'])).create_nova.newEnvironment;
    load = startLoad({ router: ph.sandbox.router, host: ph.host, rate: 20, clients: CLIENTS, maxSeconds: 200 });
    await until('every client to be answered', async () => (load!.snapshot().clients.every((c) => c.ok > 0) ? true : undefined));
    const file = path.join(ph.dir, 'deploy.html');
    d = await runOk(['create_nova', '--report', file]);
    expect(d.oldEnvironment).toBe(first);
    expect(d.reportFile).toBe(file);
    runLog = d.runLog;

    const html = readFileSync(file, 'utf8');
    const lines = readFileSync(runLog, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
    const all = lines.filter((l) => l.tool === 'aws' || l.tool === 'eb');
    // The run's own calls end with its lock's release; --report's own reads (the history
    // query, then each environment's load balancer and CloudWatch series) come after, in the
    // same log, and are not part of the run the page describes.
    const end = all.map((c) => c.purpose).lastIndexOf('lock');
    const calls = all.slice(0, end + 1);
    expect(all.slice(end + 1).map((c) => c.purpose)).toEqual(['history', 'report', 'report', 'report', 'report']);
    expect(lines.findIndex((l) => l.report === 'start')).toBe(lines.indexOf(all[end + 1]) - 1); // the mark before them
    const steps = lines.filter((l) => typeof l.step === 'string');
    expect(steps.map((s) => s.step)).toEqual(DAILY_STEPS);
    // Each bar is its step line: the name, the duration, and the calls and retries the run counted itself.
    expect(readSteps(html).map(({ step, ms, ok, calls: n, retries }) => ({ step, ms, ok, calls: n, retries }))).toEqual(steps.map((s) => ({ step: s.step, ms: s.ms, ok: s.ok, calls: s.calls, retries: s.retries })));
    const totals = readTotals(html);
    expect(totals.calls).toBe(calls.length);
    expect(totals.mutating).toBe(calls.filter((c) => c.mutating).length);
    expect(totals.retries).toBe(calls.filter((c) => (c.attempt ?? 1) > 1).length);
    expect(totals.stepsMs).toBe(steps.reduce((a, s) => a + s.ms, 0));
    expect(readSteps(html).reduce((a, s) => a + s.calls, 0) + totals.outsideSteps).toBe(calls.length);
    // The swap call is marked where the run log has it.
    const swap = calls.find((c) => c.args[1] === 'swap-environment-cnames');
    expect(readMarkers(html).find((m) => m.label === 'swap call')?.at).toBe(Date.parse(swap.ts));
  });

  it('./run report for that run, once the old environment has drained: each series is CloudWatch\'s datapoints, and it opens in Chromium with no console error', { timeout: LONG }, async () => {
    await until('every client to be answered by the new version', async () =>
      load!.snapshot().clients.every((c) => c.versions.at(-1)?.version === d.versionLabel) ? true : undefined,
    );
    const sent = await load!.stop();
    load = undefined;
    expect(sent.failures).toEqual([]);
    // The sandbox delivers each 1 s period TEST_METRICS_LAG_MS after it is over: wait until the last one is in.
    const stoppedAt = Date.now();
    await until('the load\'s last second to be published', async () => (Date.now() - stoppedAt > TEST_METRICS_PERIOD_MS + TEST_METRICS_LAG_MS + 1500 ? true : undefined));

    const out = path.join(ph.dir, 'report.html');
    const stamp = path.basename(runLog).slice(0, 16);
    const j = await runOk(['report', stamp, '--period', '1', '-o', out]);
    expect(j.report).toBe(out);
    expect(j.reportedRun).toBe(runLog);
    expect(j.outcome).toBe('ok');
    const html = readFileSync(out, 'utf8');
    // The same run, reported later: the same totals as --report gave (its reads left out).
    expect(readTotals(html)).toEqual(readTotals(readFileSync(path.join(ph.dir, 'deploy.html'), 'utf8')));

    const series = readSeries(html);
    expect(series.map((s) => s.data['data-environment']).sort()).toEqual([first, d.newEnvironment].sort());
    for (const s of series) {
      const a = s.data;
      const cw = await ph.aws([
        'cloudwatch', 'get-metric-statistics', '--namespace', 'AWS/ApplicationELB', '--metric-name', 'RequestCount',
        '--dimensions', `Name=LoadBalancer,Value=${a['data-load-balancer']}`, '--statistics', 'Sum', '--period', a['data-period'],
        '--start-time', a['data-start'], '--end-time', a['data-end'],
      ]);
      // The aws CLI prints moto's timestamps as epoch seconds, AWS's as ISO 8601.
      const expected = (cw.Datapoints ?? []).map((p: any) => ({ t: typeof p.Timestamp === 'number' ? Math.round(p.Timestamp * 1000) : Date.parse(p.Timestamp), v: p.Sum })).sort((x: any, y: any) => x.t - y.t);
      expect(s.points, s.name).toEqual(expected);
      expect(s.points.reduce((n, p) => n + p.v, 0), s.name).toBeGreaterThan(0);
    }
    // Every answer the clients got came through one of the two load balancers (the new one
    // also served the deploy's probe and smoke test).
    const total = series.reduce((n, s) => n + s.points.reduce((m, p) => m + p.v, 0), 0);
    expect(total).toBeGreaterThanOrEqual(sent.ok);
    // The old environment's last request came before the quiet window drawn after it.
    expect(html).toContain('quiet window');

    const v = await visit<Page>(out, PAGE_FACTS, { screenshot: SCREENSHOT });
    expect(v.errors).toEqual([]);
    expect(v.value.steps.map((s) => s.step)).toEqual(DAILY_STEPS);
    expect(v.value.steps.every((s) => s.width >= 1)).toBe(true);
    expect(v.value.series.map((s) => s.environment).sort()).toEqual([first, d.newEnvironment].sort());
    expect(v.value.series.map((s) => s.points)).toEqual(series.map((s) => s.points.length));
    expect(v.value.series.every((s) => s.width > 100)).toBe(true);
    expect(v.value.markers).toEqual(['swap call', 'swap verified']);
    expect(v.value.outcome).toBe('ok');
    expect(v.value.record).toBe(true);
    expect(readFileSync(SCREENSHOT).subarray(0, 8).toString('hex')).toBe('89504e470d0a1a0a'); // a PNG
  });

  it('the browser check can fail: a page with a console error and a blocked load is caught', { timeout: 60_000 }, async () => {
    const bad = path.join(ph.dir, 'bad.html');
    const { writeFileSync } = await import('node:fs');
    writeFileSync(bad, `<!doctype html><meta http-equiv="Content-Security-Policy" content="default-src 'none'; script-src 'unsafe-inline'"><img src="http://127.0.0.1:9/x.png"><script>console.error('boom')</script>`);
    const v = await visit(bad, '1');
    expect(v.errors.some((e) => e === 'console.error: boom')).toBe(true);
    expect(v.errors.some((e) => /Content Security Policy/.test(e))).toBe(true);
  });

  it('./run report without RUN picks the newest changing run, not itself nor a read-only one', { timeout: 60_000 }, async () => {
    const j = await runOk(['report', '--period', '60']);
    expect(j.reportedRun).toBe(runLog);
    expect(existsSync(runLog.replace(/\.jsonl$/, '.html'))).toBe(true);
    expect(readdirSync(path.dirname(runLog)).some((f) => f.includes('-report-'))).toBe(true);
  });
});
