// The deploy report: one self-contained HTML page (inline CSS and SVG; no script, no font,
// no image, no link that leaves the file), so it opens the same from a CI artifact, a mail
// or a laptop with no network. Every text is redacted through the run's Redactor and then
// escaped; the whole page is redacted once more at the end.
import type { HistoryRecord } from '../../deploy/history.js';
import type { RunModel } from './model.js';
import { esc, timeSeriesSvg, waterfallSvg, type Band, type Marker, type Series } from './svg.js';

export interface TrafficChart {
  series: Series[];
  bands: Band[];
  markers: Marker[];
  /** What was read and how (period, window). */
  note: string;
  /** What could not be read, each said plainly (an environment whose load balancer is gone). */
  problems: string[];
}

export interface ReportInput {
  phase: string;
  command: string;
  runLogFile: string;
  generatedAt: Date;
  cli?: Record<string, unknown>;
  model: RunModel;
  /** The run's deploy history record, when one was found. */
  record?: HistoryRecord;
  /** Why there is no record (the table unreadable, no record near the run's start). */
  recordProblem?: string;
  traffic?: TrafficChart;
}

const CSS = `body{font-family:system-ui,sans-serif;margin:24px;color:#222;max-width:1000px}
h1{font-size:20px;margin:0 0 4px}h2{font-size:16px;margin:28px 0 8px}
table{border-collapse:collapse;font-size:13px}th,td{border:1px solid #ddd;padding:3px 8px;text-align:left;vertical-align:top}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}
.ok{color:#05723a;font-weight:bold}.bad{color:#b00020;font-weight:bold}.muted{color:#666}
svg{max-width:100%;height:auto;border:1px solid #eee}`;

export function renderReport(r: ReportInput, redact: (s: string) => string): string {
  const t = (s: unknown) => esc(redact(String(s ?? '')));
  const outcome = r.record?.outcome;
  const ok = outcome === 'ok' || (!r.record && r.model.totals.failedCalls === 0 && r.model.rows.every((x) => x.ok));
  const tot = r.model.totals;
  const started = r.model.startMs ? new Date(r.model.startMs).toISOString() : '?';
  const parts: string[] = [];
  parts.push('<!doctype html><html lang="en"><head><meta charset="utf-8">');
  // No network, ever: the page may load nothing, not even by accident.
  parts.push(`<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">`);
  parts.push(`<title>${t(`Johanna report: ${r.command} on ${r.phase}, ${started}`)}</title><style>${CSS}</style></head><body>`);
  parts.push(`<h1>${t(`${r.command} on phase ${r.phase}`)}</h1>`);
  parts.push(`<p id="outcome" data-outcome="${t(outcome ?? (ok ? 'ok' : 'failed'))}">outcome: <span class="${ok ? 'ok' : 'bad'}">${t(outcome ?? (ok ? 'ok (from the run log)' : 'failed (from the run log)'))}</span>` +
    `${r.record?.error ? ` — ${t(r.record.error)}` : ''}; started ${t(started)}, ${t((tot.wallMs / 1000).toFixed(1))} s in the run log.</p>`);

  parts.push('<h2>Steps</h2>');
  parts.push(waterfallSvg(r.model.rows.map(({ step, ...bar }) => ({ ...bar, label: redact(step) })), 'Steps and their aws calls'));
  parts.push('<table id="totals"><tr><th>aws calls</th><th>mutating</th><th>retries</th><th>throttles</th><th>failed calls</th><th>calls outside steps</th><th>steps (s)</th><th>wall (s)</th></tr>');
  parts.push(
    `<tr><td class="n" data-total="calls">${tot.calls}</td><td class="n" data-total="mutating">${tot.mutating}</td><td class="n" data-total="retries">${tot.retries}</td>` +
      `<td class="n" data-total="throttles">${tot.throttles}</td><td class="n" data-total="failedCalls">${tot.failedCalls}</td><td class="n" data-total="outsideSteps">${tot.outsideSteps}</td>` +
      `<td class="n" data-total="stepsMs" data-ms="${tot.stepsMs}">${(tot.stepsMs / 1000).toFixed(1)}</td><td class="n" data-total="wallMs" data-ms="${tot.wallMs}">${(tot.wallMs / 1000).toFixed(1)}</td></tr></table>`,
  );
  parts.push('<p class="muted">A call belongs to the step it ended in, as the run counted it; "calls outside steps" are the deploy lock, the history record and anything else between steps. A throttle is a call AWS refused as throttled or that the aws CLI resent itself.</p>');

  parts.push('<h2>Requests per version over time</h2>');
  if (r.traffic) {
    parts.push(
      timeSeriesSvg({
        title: 'Requests per environment (load balancer RequestCount)',
        note: "each environment's load balancer; seconds from the run's start",
        series: r.traffic.series.map((s) => ({ ...s, name: redact(s.name) })),
        bands: r.traffic.bands.map((b) => ({ ...b, label: redact(b.label) })),
        markers: r.traffic.markers.map((m) => ({ ...m, label: redact(m.label) })),
        origin: r.model.startMs,
        yLabel: 'requests per period',
      }),
    );
    parts.push(`<p class="muted" id="traffic-note">${t(r.traffic.note)}</p>`);
    if (r.traffic.problems.length) parts.push(`<ul class="problems">${r.traffic.problems.map((p) => `<li>${t(p)}</li>`).join('')}</ul>`);
  } else {
    parts.push('<p class="muted">No environment of this run to read traffic for.</p>');
  }

  parts.push('<h2>History record</h2>');
  if (r.record) {
    parts.push('<table id="record">' + Object.entries(r.record).map(([k, v]) => `<tr><th>${t(k)}</th><td>${t(Array.isArray(v) ? v.join(', ') : v)}</td></tr>`).join('') + '</table>');
  } else {
    parts.push(`<p class="muted">${t(r.recordProblem ?? 'no history record found for this run')}</p>`);
  }
  parts.push('<h2>Source</h2>');
  parts.push(`<p class="muted">Run log ${t(r.runLogFile)}${r.cli ? `; aws CLI ${t(r.cli.version)}` : ''}. Report written ${t(r.generatedAt.toISOString())} by ./run report.</p>`);
  parts.push('</body></html>\n');
  return redact(parts.join('\n'));
}
