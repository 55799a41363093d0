// The bench's pictures (issue 22 item 8): the same two charts as ./run report, drawn by the
// same module (src/ui/report/svg.ts) from the bench's own samples: requests answered per
// version, second by second, around the daily deploy's swap (what the zero-downtime table
// in RESULTS.md counts), and the daily deploy's steps from its run log.
import { readFileSync } from 'node:fs';
import type { LoadSecond } from '../test/helpers/load.js';
import { modelOf, parseRunLog, type StepRow } from '../src/ui/report/model.js';
import { timeSeriesSvg, waterfallSvg, type Band, type Marker, type Series } from '../src/ui/report/svg.js';

/** Moments of the command, in ms from the load's start. */
export interface LoadMarks {
  swapCallMs?: number;
  dnsFromMs?: number;
  dnsToMs?: number;
}

/** The marks of a run, from its run log, against the load's start. */
export function marksFromRunLog(file: string, loadStartedAt: number): LoadMarks {
  const log = parseRunLog(readFileSync(file, 'utf8'));
  const swap = log.calls.find((c) => c.args[0] === 'elasticbeanstalk' && c.args[1] === 'swap-environment-cnames');
  const dns = log.steps.find((s) => s.step === 'DNS');
  return {
    swapCallMs: swap ? Date.parse(swap.ts) - loadStartedAt : undefined,
    dnsFromMs: dns ? Date.parse(dns.ts) - loadStartedAt : undefined,
    dnsToMs: dns ? Date.parse(dns.ts) + dns.ms - loadStartedAt : undefined,
  };
}

/** The waterfall rows of a run log. */
export function stepsOfRunLog(file: string): StepRow[] {
  return modelOf(parseRunLog(readFileSync(file, 'utf8'))).rows;
}

/** One series a version (every second, zeros included, so a line falls to 0 when the version stops answering) and one of failures. */
export function zeroDowntimeSeries(timeline: readonly LoadSecond[], versions: readonly string[]): Series[] {
  return [
    ...versions.map((v) => ({ name: v, points: timeline.map((row) => ({ t: row.second * 1000, v: row.byVersion[v] ?? 0 })) })),
    { name: 'failed', points: timeline.map((row) => ({ t: row.second * 1000, v: row.failed })) },
  ];
}

export function zeroDowntimeSvg(title: string, timeline: readonly LoadSecond[], versions: readonly string[], marks: LoadMarks): string {
  const markers: Marker[] = marks.swapCallMs === undefined ? [] : [{ label: 'swap call', at: marks.swapCallMs }];
  const bands: Band[] = marks.dnsFromMs === undefined || marks.dnsToMs === undefined ? [] : [{ label: 'DNS TTL wait', from: marks.dnsFromMs, to: marks.dnsToMs }];
  return timeSeriesSvg({
    title,
    note: 'answers per second by version, all clients together; seconds from the load\'s start',
    series: zeroDowntimeSeries(timeline, versions),
    bands,
    markers,
    origin: 0,
    yLabel: 'answers per second',
  });
}

export function stepsSvg(title: string, rows: readonly StepRow[]): string {
  return waterfallSvg(rows.map((r) => ({ label: r.step, ...r })), title);
}
