// The report's and the bench's pictures, drawn as SVG strings: a waterfall of steps and a
// time series (requests per version over time). No charting library: two chart kinds, a few
// dozen lines each, rendered server-side to a string that needs no script, no font and no
// network to show. Every drawn value also travels as a data-* attribute on its element, so
// a test (or a reader with the browser's inspector) can read back exactly what was drawn.

/** Escapes text for HTML and SVG, content and attribute values alike. */
export function esc(s: string | number | undefined): string {
  return String(s ?? '')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}

/** Colours that stay apart for the colour-blind (Okabe-Ito), then greys. */
export const PALETTE = ['#0072B2', '#E69F00', '#009E73', '#CC79A7', '#D55E00', '#56B4E9', '#F0E442', '#777777'];

const FONT = 'font-family="system-ui, sans-serif" font-size="12"';

function fmtSeconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)}s`;
}

export interface WaterfallBar {
  label: string;
  /** ms from the run's start. */
  startMs: number;
  ms: number;
  ok: boolean;
  calls: number;
  retries: number;
  throttles: number;
}

/** One row a step: a bar from its start for its duration, its aws calls beside it. */
export function waterfallSvg(bars: readonly WaterfallBar[], title = 'Steps'): string {
  const rowH = 22;
  const labelW = 130;
  const chartW = 560;
  const noteW = 230;
  const top = 28;
  const width = labelW + chartW + noteW;
  const height = top + Math.max(1, bars.length) * rowH + 24;
  const end = Math.max(1, ...bars.map((b) => b.startMs + b.ms));
  const x = (ms: number) => labelW + (ms / end) * chartW;
  const rows = bars.map((b, i) => {
    const y = top + i * rowH;
    const w = Math.max(1, x(b.startMs + b.ms) - x(b.startMs));
    const fill = b.ok ? PALETTE[0] : PALETTE[4];
    const note = `${b.calls} call${b.calls === 1 ? '' : 's'}, ${b.retries} retr${b.retries === 1 ? 'y' : 'ies'}, ${b.throttles} throttle${b.throttles === 1 ? '' : 's'}`;
    return (
      `<g class="step" data-step="${esc(b.label)}" data-start-ms="${b.startMs}" data-ms="${b.ms}" data-ok="${b.ok}" data-calls="${b.calls}" data-retries="${b.retries}" data-throttles="${b.throttles}">` +
      `<title>${esc(`${b.label}: ${fmtSeconds(b.ms)}${b.ok ? '' : ' (failed)'}; ${note}`)}</title>` +
      `<text x="${labelW - 8}" y="${y + 15}" text-anchor="end">${esc(b.label)}</text>` +
      `<rect x="${x(b.startMs).toFixed(1)}" y="${y + 4}" width="${w.toFixed(1)}" height="${rowH - 8}" fill="${fill}" rx="2"/>` +
      `<text x="${labelW + chartW + 8}" y="${y + 15}">${esc(`${fmtSeconds(b.ms)}${b.ok ? '' : ' failed'} · ${note}`)}</text>` +
      `</g>`
    );
  });
  const axisY = top + bars.length * rowH + 4;
  const ticks = niceTicks(0, end, 6).map((t) => `<line x1="${x(t).toFixed(1)}" y1="${top}" x2="${x(t).toFixed(1)}" y2="${axisY}" stroke="#ddd"/><text x="${x(t).toFixed(1)}" y="${axisY + 14}" text-anchor="middle" fill="#555">${esc(fmtSeconds(t))}</text>`);
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" class="chart waterfall" role="img" aria-label="${esc(title)}" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" ${FONT}>` +
    `<rect width="100%" height="100%" fill="#fff"/>` +
    `<text x="8" y="18" font-weight="bold">${esc(title)}</text>` +
    ticks.join('') +
    rows.join('') +
    (bars.length ? '' : `<text x="${labelW}" y="${top + 15}" fill="#555">no steps recorded</text>`) +
    `</svg>`
  );
}

export interface Point {
  /** x: ms (epoch or from a start; the caller's unit, as long as bands and markers share it). */
  t: number;
  v: number;
}

export interface Series {
  name: string;
  points: Point[];
  /** Extra attributes for the series' group, e.g. the load balancer it was read from. */
  data?: Record<string, string | number>;
}

/** A shaded span of x: the DNS-TTL window, the quiet window. */
export interface Band {
  label: string;
  from: number;
  to: number;
}

/** A vertical line at one x: the swap call, a bake verdict. */
export interface Marker {
  label: string;
  at: number;
}

export interface TimeSeriesChart {
  title: string;
  series: readonly Series[];
  bands?: readonly Band[];
  markers?: readonly Marker[];
  /** x is shown relative to this (ms), as seconds. */
  origin: number;
  yLabel: string;
  /** A note under the title (the period, where the figures come from). */
  note?: string;
}

/** Lines with a dot at each datapoint, one colour a series, bands and markers behind them. */
export function timeSeriesSvg(c: TimeSeriesChart): string {
  const left = 56;
  const right = 16;
  const top = 44;
  const plotW = 700;
  const plotH = 220;
  const legendH = 20 * Math.max(1, c.series.length);
  const width = left + plotW + right;
  const height = top + plotH + 36 + legendH;
  const xs = [...c.series.flatMap((s) => s.points.map((p) => p.t)), ...(c.bands ?? []).flatMap((b) => [b.from, b.to]), ...(c.markers ?? []).map((m) => m.at)];
  const x0 = xs.length ? Math.min(...xs) : c.origin;
  const x1 = xs.length ? Math.max(...xs, x0 + 1) : c.origin + 1;
  const yMax = Math.max(1, ...c.series.flatMap((s) => s.points.map((p) => p.v)));
  const yTop = niceTicks(0, yMax, 5).at(-1) ?? yMax;
  const X = (t: number) => left + ((t - x0) / (x1 - x0)) * plotW;
  const Y = (v: number) => top + plotH - (v / Math.max(yTop, yMax)) * plotH;
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" class="chart timeseries" role="img" aria-label="${esc(c.title)}" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" ${FONT}>`);
  out.push(`<rect width="100%" height="100%" fill="#fff"/>`);
  out.push(`<text x="8" y="18" font-weight="bold">${esc(c.title)}</text>`);
  if (c.note) out.push(`<text x="8" y="34" fill="#555">${esc(c.note)}</text>`);
  // Labels of neighbouring bands and markers are staggered, one line each, so they never overlap.
  for (const [i, b] of (c.bands ?? []).entries()) {
    out.push(
      `<g class="band" data-label="${esc(b.label)}" data-from="${b.from}" data-to="${b.to}"><title>${esc(b.label)}</title>` +
        `<rect x="${X(b.from).toFixed(1)}" y="${top}" width="${Math.max(1, X(b.to) - X(b.from)).toFixed(1)}" height="${plotH}" fill="#f3e6c4" opacity="0.7"/>` +
        `<text x="${(X(b.from) + 3).toFixed(1)}" y="${top + 12 + i * 14}" fill="#7a5a00">${esc(b.label)}</text></g>`,
    );
  }
  for (const t of niceTicks(0, Math.max(yTop, yMax), 5)) {
    out.push(`<line x1="${left}" y1="${Y(t).toFixed(1)}" x2="${left + plotW}" y2="${Y(t).toFixed(1)}" stroke="#eee"/><text x="${left - 6}" y="${(Y(t) + 4).toFixed(1)}" text-anchor="end" fill="#555">${esc(t)}</text>`);
  }
  for (const t of niceTicks(x0 - c.origin, x1 - c.origin, 8)) {
    const px = X(t + c.origin);
    if (px < left - 0.5 || px > left + plotW + 0.5) continue;
    out.push(`<line x1="${px.toFixed(1)}" y1="${top + plotH}" x2="${px.toFixed(1)}" y2="${top + plotH + 4}" stroke="#555"/><text x="${px.toFixed(1)}" y="${top + plotH + 16}" text-anchor="middle" fill="#555">${esc(fmtSeconds(t))}</text>`);
  }
  out.push(`<line x1="${left}" y1="${top + plotH}" x2="${left + plotW}" y2="${top + plotH}" stroke="#555"/><line x1="${left}" y1="${top}" x2="${left}" y2="${top + plotH}" stroke="#555"/>`);
  out.push(`<text x="12" y="${top + plotH / 2}" transform="rotate(-90 12 ${top + plotH / 2})" text-anchor="middle" fill="#555">${esc(c.yLabel)}</text>`);
  for (const [i, m] of (c.markers ?? []).entries()) {
    out.push(
      `<g class="marker" data-label="${esc(m.label)}" data-at="${m.at}"><title>${esc(m.label)}</title>` +
        `<line x1="${X(m.at).toFixed(1)}" y1="${top}" x2="${X(m.at).toFixed(1)}" y2="${top + plotH}" stroke="#333" stroke-dasharray="4 3"/>` +
        `<text x="${(X(m.at) + 3).toFixed(1)}" y="${top + plotH - 4 - i * 14}" fill="#333">${esc(m.label)}</text></g>`,
    );
  }
  c.series.forEach((s, i) => {
    const colour = PALETTE[i % PALETTE.length];
    const pts = [...s.points].sort((a, b) => a.t - b.t);
    const extra = Object.entries(s.data ?? {}).map(([k, v]) => ` data-${k}="${esc(v)}"`).join('');
    out.push(`<g class="series" data-series="${esc(s.name)}" data-count="${pts.length}"${extra}>`);
    if (pts.length > 1) out.push(`<polyline fill="none" stroke="${colour}" stroke-width="2" points="${pts.map((p) => `${X(p.t).toFixed(1)},${Y(p.v).toFixed(1)}`).join(' ')}"/>`);
    for (const p of pts) {
      out.push(`<circle class="point" data-t="${p.t}" data-v="${p.v}" cx="${X(p.t).toFixed(1)}" cy="${Y(p.v).toFixed(1)}" r="3" fill="${colour}"><title>${esc(`${s.name}: ${p.v} at ${fmtSeconds(p.t - c.origin)}`)}</title></circle>`);
    }
    const ly = top + plotH + 36 + i * 20;
    out.push(`<rect x="${left}" y="${ly - 10}" width="12" height="12" fill="${colour}"/><text x="${left + 18}" y="${ly}">${esc(`${s.name} (${pts.reduce((a, p) => a + p.v, 0)} in ${pts.length} datapoint${pts.length === 1 ? '' : 's'})`)}</text>`);
    out.push(`</g>`);
  });
  if (!c.series.length) out.push(`<text x="${left + 8}" y="${top + 20}" fill="#555">no datapoints</text>`);
  out.push(`</svg>`);
  return out.join('');
}

/** Round tick values from `lo` to at least `hi`, about `n` of them. */
export function niceTicks(lo: number, hi: number, n: number): number[] {
  const span = Math.max(hi - lo, 1e-9);
  const raw = span / Math.max(1, n);
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? raw;
  const out: number[] = [];
  for (let t = Math.ceil(lo / step) * step; t <= hi + step * 0.999 && out.length < 50; t += step) out.push(Number(t.toPrecision(12)));
  return out;
}
