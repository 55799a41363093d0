// The report's numbers against their sources: the totals and the waterfall against the run
// log's own lines, the requests chart against the CloudWatch datapoints it was drawn from
// (read back from the SVG's data-* attributes), the page's escaping and redaction, and
// which run log `./run report [RUN]` picks.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { buildCtx } from '../../src/context.js';
import { commandOfLog, pickRunLog, writeReport } from '../../src/commands/report.js';
import { commandOptions, parseArgs } from '../../src/args.js';
import { UsageError } from '../../src/errors.js';
import { Logger } from '../../src/ui/log.js';
import { MASK, Redactor } from '../../src/ui/redact.js';
import { renderReport } from '../../src/ui/report/html.js';
import { environmentsOf, isThrottle, modelOf, parseRunLog } from '../../src/ui/report/model.js';
import { esc, timeSeriesSvg, waterfallSvg } from '../../src/ui/report/svg.js';
import sandboxJson from '../../env.sandbox.json' with { type: 'json' };
import { readBands, readMarkers, readSeries, readSteps, readTotals } from '../helpers/svg-read.js';
import { awsError, ok, recordingExec, Sink } from './fakes.js';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'report-test-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const T0 = Date.parse('2026-12-03T10:00:00.000Z');
const iso = (ms: number) => new Date(T0 + ms).toISOString();
const call = (ms: number, args: string[], extra: Record<string, unknown> = {}) => ({ ts: iso(ms), tool: 'aws', args, exitCode: 0, ms: 200, mutating: false, ...extra });
const step = (ms: number, name: string, dur: number, ok = true) => ({ ts: iso(ms), step: name, ms: dur, ok, calls: 0, retries: 0 });

/** A daily deploy's log: a lock outside the steps, a retry, a throttled call, a CLI resend, a failed call. */
const LINES: object[] = [
  { ts: iso(0), cli: { bin: 'aws', version: 'aws-cli/1.45.11', major: 1 } },
  call(0, ['dynamodb', 'put-item', '--table-name', 'johanna-locks'], { mutating: true, purpose: 'lock' }),
  call(300, ['elasticbeanstalk', 'describe-environments']),
  call(600, ['elasticbeanstalk', 'describe-environments'], { attempt: 2, waitMs: 100, exitCode: 254, error: 'An error occurred (Throttling) when calling the DescribeEnvironments operation: Rate exceeded' }),
  step(250, 'preflight', 1000),
  call(1300, ['s3', 'cp'], { mutating: true, cliRetries: 2 }),
  step(1260, 'package', 800),
  call(2100, ['elasticbeanstalk', 'create-environment', '--application-name', 'a', '--environment-name', 'nova-2'], { mutating: true }),
  step(2080, 'launch', 500),
  call(2700, ['elasticbeanstalk', 'describe-environments'], { exitCode: 254, error: 'An error occurred (InvalidParameterValue)' }),
  call(3100, ['elasticbeanstalk', 'describe-environments']),
  step(2600, 'ready', 900),
  call(3600, ['elasticbeanstalk', 'swap-environment-cnames', '--source-environment-name', 'nova-1', '--destination-environment-name', 'nova-2'], { mutating: true }),
  step(3550, 'swap', 600),
  step(4200, 'verify', 300),
  step(4550, 'DNS', 2000),
  call(6700, ['dynamodb', 'delete-item', '--table-name', 'johanna-locks'], { mutating: true, purpose: 'lock' }),
];
const TEXT = LINES.map((l) => JSON.stringify(l)).join('\n') + '\n{"ts":"2026-12-03T10:00:07.000Z","tool":"aw'; // a line cut by a kill

describe('the run model against the run log', () => {
  const log = parseRunLog(TEXT);
  const model = modelOf(log);
  const raw = TEXT.split('\n').flatMap((l) => {
    try {
      return [JSON.parse(l)];
    } catch {
      return [];
    }
  });
  const rawCalls = raw.filter((r) => r.tool === 'aws');
  const rawSteps = raw.filter((r) => typeof r.step === 'string');

  it('totals equal the log: calls, mutating, retries, throttles, failures, step time', () => {
    expect(log.skipped).toBe(1);
    expect(model.totals.calls).toBe(rawCalls.length);
    expect(model.totals.mutating).toBe(rawCalls.filter((c) => c.mutating).length);
    expect(model.totals.retries).toBe(rawCalls.filter((c) => (c.attempt ?? 1) > 1).length);
    expect(model.totals.throttles).toBe(2); // the Rate exceeded answer and the CLI's resends
    expect(model.totals.failedCalls).toBe(rawCalls.filter((c) => c.exitCode !== 0).length);
    expect(model.totals.stepsMs).toBe(rawSteps.reduce((a, s) => a + s.ms, 0));
    expect(model.totals.wallMs).toBe(6900); // first call at 0, the last one ends at 6.7 s + 200 ms
  });

  it('every call is in exactly one step or counted outside them', () => {
    expect(model.rows.map((r) => r.step)).toEqual(rawSteps.map((s) => s.step));
    expect(model.rows.reduce((a, r) => a + r.calls, 0) + model.totals.outsideSteps).toBe(model.totals.calls);
    expect(model.rows.map((r) => [r.step, r.calls, r.retries, r.throttles])).toEqual([
      ['preflight', 2, 1, 1],
      ['package', 1, 0, 1],
      ['launch', 1, 0, 0],
      ['ready', 2, 0, 0],
      ['swap', 1, 0, 0],
      ['verify', 0, 0, 0],
      ['DNS', 0, 0, 0],
    ]);
    expect(model.totals.outsideSteps).toBe(2); // the lock's put and delete
    expect(model.rows[0].startMs).toBe(250);
  });

  it('throttles: an error naming throttling or Rate exceeded, or the CLI resending', () => {
    expect(isThrottle({ error: 'An error occurred (ThrottlingException) ...' })).toBe(true);
    expect(isThrottle({ error: 'Rate exceeded' })).toBe(true);
    expect(isThrottle({ cliRetries: 1 })).toBe(true);
    expect(isThrottle({ error: 'An error occurred (InvalidParameterValue)' })).toBe(false);
    expect(isThrottle({})).toBe(false);
  });

  it('the environments come from the successful create and swap calls', () => {
    expect(environmentsOf(log)).toEqual({ created: 'nova-2', swapped: { source: 'nova-1', destination: 'nova-2', at: T0 + 3600 } });
  });

  it('the waterfall draws exactly the model rows', () => {
    const svg = waterfallSvg(model.rows.map((r) => ({ label: r.step, ...r })));
    expect(readSteps(svg)).toEqual(model.rows.map(({ step, startMs, ms, ok, calls, retries, throttles }) => ({ step, startMs, ms, ok, calls, retries, throttles })));
  });
});

describe('the SVG charts', () => {
  it('a time series draws every point of every series, and escapes names', () => {
    const series = [
      { name: 'nova-1 <old> & "gone"', points: [{ t: 3000, v: 5 }, { t: 1000, v: 7 }, { t: 2000, v: 0 }] },
      { name: 'nova-2', points: [{ t: 2000, v: 3 }] },
    ];
    const svg = timeSeriesSvg({ title: 't', series, bands: [{ label: 'DNS', from: 1500, to: 2500 }], markers: [{ label: 'swap call', at: 1800 }], origin: 0, yLabel: 'y' });
    expect(svg).not.toContain('<old>');
    const back = readSeries(svg);
    expect(back.map((s) => s.name)).toEqual(series.map((s) => s.name));
    expect(back[0].points).toEqual([...series[0].points].sort((a, b) => a.t - b.t));
    expect(back[1].points).toEqual(series[1].points);
    expect(readBands(svg)).toEqual([{ label: 'DNS', from: 1500, to: 2500 }]);
    expect(readMarkers(svg)).toEqual([{ label: 'swap call', at: 1800 }]);
  });

  it('esc leaves nothing that could open a tag or end an attribute', () => {
    expect(esc(`<script>alert("x")</script>&'`)).toBe('&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;&#39;');
  });

  it('empty charts still render', () => {
    expect(waterfallSvg([])).toContain('no steps recorded');
    expect(timeSeriesSvg({ title: 't', series: [], origin: 0, yLabel: 'y' })).toContain('no datapoints');
  });
});

function ctxWith(exec: ReturnType<typeof recordingExec>, secrets: string[] = []) {
  const { config } = parseConfig(structuredClone(sandboxJson), 'env.test.json');
  const redactor = new Redactor(secrets);
  const log = new Logger({ verbose: false, json: false, color: false, redactor, stdout: new Sink(), stderr: new Sink() });
  return buildCtx({ root: tmp, command: 'report', config, configFile: 'env.test.json', opts: {}, log, redactor, env: {}, exec, runLog: false });
}

const lbArn = (id: string) => `arn:aws:elasticloadbalancing:eu-west-1:123456789012:loadbalancer/app/awseb-${id}/abc${id}`;
const resources = (id: string) => ok(JSON.stringify({ EnvironmentResources: { LoadBalancers: [{ Name: lbArn(id) }] } }));
/** As the aws CLI prints them: ISO 8601 from AWS, epoch seconds (a number) from the sandbox's moto. */
const datapoints = (pts: [number, number][], epoch = false) =>
  ok(JSON.stringify({ Label: 'RequestCount', Datapoints: pts.map(([ms, sum]) => ({ Timestamp: epoch ? (T0 + ms) / 1000 : iso(ms), Sum: sum, Unit: 'Count' })) }));

describe('writeReport: the page from the run log, the history and CloudWatch', () => {
  it('the requests chart holds exactly the CloudWatch datapoints; the totals the run log; a secret is masked', async () => {
    const file = path.join(tmp, '20261203T100000Z-create_nova-42.jsonl');
    const SECRET = 'hunter2-very-secret';
    writeFileSync(file, TEXT.replace('"package"', JSON.stringify(`package ${SECRET} <b>`)));
    const newPts: [number, number][] = [[3000, 0], [4000, 12], [5000, 30], [6000, 31]];
    const oldPts: [number, number][] = [[0, 30], [1000, 31], [2000, 30], [3000, 29], [4000, 18], [5000, 2]];
    const exec = recordingExec([
      awsError('ResourceNotFoundException', 'Query', 'Requested resource not found'),
      resources('new'),
      datapoints([...newPts].reverse()), // CloudWatch's order is its own
      resources('old'),
      datapoints(oldPts, true),
    ]);
    const ctx = ctxWith(exec, [SECRET]);
    const r = await writeReport(ctx, { runLogFile: file, periodSeconds: 1 });
    const html = readFileSync(r.file, 'utf8');
    expect(r.file).toBe(file.replace(/\.jsonl$/, '.html'));

    // What was asked: each environment's own load balancer, the period given, a window round the run.
    const cw = exec.calls.filter((c) => c.args[1] === 'get-metric-statistics').map((c) => c.args);
    expect(cw.map((a) => a[a.indexOf('--dimensions') + 1])).toEqual(['Name=LoadBalancer,Value=app/awseb-new/abcnew', 'Name=LoadBalancer,Value=app/awseb-old/abcold']);
    expect(cw.every((a) => a[a.indexOf('--period') + 1] === '1')).toBe(true);

    const series = readSeries(html);
    expect(series.map((s) => s.data['data-environment'])).toEqual(['nova-2', 'nova-1']);
    expect(series[0].points).toEqual(newPts.map(([ms, v]) => ({ t: T0 + ms, v })));
    expect(series[1].points).toEqual(oldPts.map(([ms, v]) => ({ t: T0 + ms, v })));
    expect(r.series).toEqual([
      { name: 'nova-2', datapoints: 4, requests: 73 },
      { name: 'nova-1', datapoints: 6, requests: 140 },
    ]);
    // The DNS wait, the swap call, the swap verified; the quiet window from the old one's last request.
    expect(readBands(html).map((b) => b.label)).toEqual(['DNS TTL wait', `quiet window (${ctx.config.nova.DRAIN_QUIET_MINUTES} min)`]);
    expect(readBands(html)[1].from).toBe(T0 + 6000);
    expect(readMarkers(html)).toEqual([{ label: 'swap call', at: T0 + 3600 }, { label: 'swap verified', at: T0 + 4500 }]);

    const model = modelOf(parseRunLog(readFileSync(file, 'utf8')));
    expect(readTotals(html)).toEqual({ ...model.totals });
    expect(readSteps(html).map((s) => s.calls)).toEqual(model.rows.map((x) => x.calls));

    expect(html).not.toContain(SECRET);
    expect(html).toContain(MASK);
    expect(html).not.toContain('<b>');
    expect(html).toContain('no history record'); // the table is missing: said, not guessed
    // Self-contained: nothing that loads from anywhere.
    expect(html).not.toMatch(/<script|<link|<img|src=|href=|@import|url\(/i);
  });

  it('an environment whose load balancer cannot be found is named, and the others still drawn', async () => {
    const file = path.join(tmp, '20261203T100000Z-create_nova-43.jsonl');
    writeFileSync(file, TEXT);
    const exec = recordingExec([
      awsError('ResourceNotFoundException', 'Query', 'Requested resource not found'),
      resources('new'),
      datapoints([[4000, 3]]),
      awsError('InvalidParameterValue', 'DescribeEnvironmentResources', 'No Environment found for EnvironmentName = nova-1.'),
    ]);
    const r = await writeReport(ctxWith(exec), { runLogFile: file, periodSeconds: 60, out: path.join(tmp, 'out', 'r.html') });
    const html = readFileSync(r.file, 'utf8');
    expect(r.file).toBe(path.join(tmp, 'out', 'r.html'));
    expect(readSeries(html).map((s) => s.name)).toEqual(['nova-2']);
    expect(html).toContain('nova-1: its load balancer could not be found');
  });
});

describe('timestampMs', () => {
  it('ISO 8601 and epoch seconds, as the aws CLI prints either', async () => {
    const { timestampMs } = await import('../../src/aws/cloudwatch.js');
    expect(timestampMs('2026-12-03T14:34:05Z')).toBe(Date.parse('2026-12-03T14:34:05Z'));
    expect(timestampMs('2026-12-03T14:34:05.123000+00:00')).toBe(Date.parse('2026-12-03T14:34:05.123Z'));
    expect(timestampMs(1796308489.332)).toBe(1796308489332);
    expect(timestampMs('1796308489')).toBe(1796308489000);
    expect(timestampMs(undefined)).toBeNaN();
  });
});

describe('renderReport', () => {
  it('the outcome and the record come from the history record', () => {
    const model = modelOf(parseRunLog(TEXT));
    const html = renderReport(
      { phase: 'p', command: 'create_nova', runLogFile: 'x', generatedAt: new Date(T0), model, record: { phase: 'p', time: 't', startedAt: iso(0), command: 'create_nova', outcome: 'failed', exitCode: 1, durationSeconds: 7, who: 'me@host', cwd: '/', error: 'probe <failed>' } },
      (s) => s,
    );
    expect(html).toContain('data-outcome="failed"');
    expect(html).toContain('probe &lt;failed&gt;');
    expect(html).toContain('<table id="record">');
  });
});

describe('./run report [RUN]: which run log', () => {
  const dir = path.join(tmp, 'logs');
  const names = ['20261203T090000Z-create-1.jsonl', '20261203T100000Z-create_nova-2.jsonl', '20261203T110000Z-status-3.jsonl', '20261203T120000Z-report-4.jsonl'];
  it('the newest changing run by default; RUN as a name, a stamp or a path; a clear refusal otherwise', () => {
    mkdirSync(dir, { recursive: true });
    for (const n of names) writeFileSync(path.join(dir, n), '');
    expect(pickRunLog(dir, undefined)).toBe(path.join(dir, names[1]));
    expect(pickRunLog(dir, '20261203T09')).toBe(path.join(dir, names[0]));
    expect(pickRunLog(dir, names[2])).toBe(path.join(dir, names[2]));
    expect(pickRunLog(dir, path.join(dir, names[0]))).toBe(path.join(dir, names[0]));
    expect(() => pickRunLog(dir, '2026')).toThrow(UsageError);
    expect(() => pickRunLog(dir, 'nope')).toThrow(/no such run log/);
    expect(() => pickRunLog(path.join(tmp, 'none'), undefined)).toThrow(/no run log of a changing command/);
    expect(commandOfLog(names[1])).toBe('create_nova');
    expect(commandOfLog('20261203T120000Z-terminate_eb_old_environment-99.jsonl')).toBe('terminate_eb_old_environment');
  });
});

describe('the options', () => {
  const parse = (argv: string[]) => {
    const p = parseArgs(argv);
    if (p.kind !== 'command') throw new Error(`not a command: ${p.kind}`);
    return commandOptions(p.opts);
  };
  it('--report on every changing command, with or without a file; report takes RUN, --out, --period', () => {
    expect(parse(['create_nova', '--report']).report).toBe(true);
    expect(parse(['rollback', '--report', 'r.html']).report).toBe('r.html');
    expect(parse(['create_nova']).report).toBeUndefined();
    expect(parse(['report', '20261203T10', '--period', '5', '-o', 'x.html'])).toMatchObject({ run: '20261203T10', periodSeconds: 5, out: 'x.html' });
    expect(parse(['report']).run).toBeUndefined();
  });
  it('refused at parse: --report on a read-only command, a period CloudWatch does not take, two RUNs', () => {
    expect(() => parseArgs(['status', '--report'])).toThrow(UsageError);
    expect(() => parseArgs(['report', '--period', '7'])).toThrow(/--period.*1, 5, 10, 30 or a multiple of 60/);
    expect(() => parseArgs(['report', 'a', 'b'])).toThrow(/one argument/);
  });
});

describe("--report's own reads", () => {
  it('are not the run: the log is read up to the mark --report leaves', () => {
    const marked = TEXT.split('\n').slice(0, -1).join('\n') + '\n' + JSON.stringify({ ts: iso(7000), report: 'start' }) + '\n' + JSON.stringify(call(7100, ['dynamodb', 'query'], { purpose: 'history' })) + '\n';
    expect(modelOf(parseRunLog(marked)).totals).toEqual(modelOf(parseRunLog(TEXT)).totals);
  });
});

describe('a call on a step boundary', () => {
  it('is the step it ended in, as the run counted it (a call begun in probe, ended in swap, is swap\'s)', () => {
    const lines = [
      step(0, 'probe', 1000),
      call(900, ['elasticbeanstalk', 'describe-environments'], { ms: 300 }), // ended at 1.2 s, after probe's line was written
      step(1000, 'swap', 1000),
    ];
    // The order the run wrote them: probe's line, then the call's (at its end), then swap's.
    const m = modelOf(parseRunLog(lines.map((l) => JSON.stringify(l)).join('\n')));
    expect(m.rows.map((r) => [r.step, r.calls])).toEqual([['probe', 0], ['swap', 1]]);
    // A call that ended in the millisecond the next step began was written before it began: outside.
    const edge = [call(0, ['dynamodb', 'put-item'], { ms: 250, purpose: 'lock' }), step(250, 'preflight', 100)];
    expect(modelOf(parseRunLog(edge.map((l) => JSON.stringify(l)).join('\n'))).rows[0].calls).toBe(0);
  });
});

describe("the bench's charts are its samples", () => {
  it('zero downtime: one series a version and one of failures, each point a second of the timeline', async () => {
    const { zeroDowntimeSeries, zeroDowntimeSvg } = await import('../../bench/charts.js');
    const timeline: { second: number; byVersion: Record<string, number>; failed: number }[] = [
      { second: 0, byVersion: { v1: 60 }, failed: 0 },
      { second: 1, byVersion: { v1: 40, v2: 20 }, failed: 0 },
      { second: 2, byVersion: { v2: 59 }, failed: 1 },
    ];
    const svg = zeroDowntimeSvg('t', timeline, ['v1', 'v2'], { swapCallMs: 800, dnsFromMs: 900, dnsToMs: 2900 });
    const back = readSeries(svg);
    expect(back.map((s) => s.name)).toEqual(['v1', 'v2', 'failed']);
    for (const v of ['v1', 'v2'] as const) {
      expect(back.find((s) => s.name === v)!.points).toEqual(timeline.map((r) => ({ t: r.second * 1000, v: r.byVersion[v] ?? 0 })));
    }
    expect(back[2].points.map((p) => p.v)).toEqual([0, 0, 1]);
    expect(back.flatMap((s) => s.points).reduce((a, p) => a + p.v, 0)).toBe(timeline.reduce((a, r) => a + r.failed + Object.values(r.byVersion).reduce((x, y) => x + y, 0), 0));
    expect(readMarkers(svg)).toEqual([{ label: 'swap call', at: 800 }]);
    expect(readBands(svg)).toEqual([{ label: 'DNS TTL wait', from: 900, to: 2900 }]);
    expect(zeroDowntimeSeries(timeline, ['v1', 'v2'])).toHaveLength(3);
  });
});
