// Reads a chart back from its SVG (src/ui/report/svg.ts): the data-* attributes each drawn
// element carries, so a test compares what was drawn with where it came from.

function attrs(tag: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of tag.matchAll(/([\w-]+)="([^"]*)"/g)) out[m[1]] = unescape(m[2]);
  return out;
}

function unescape(s: string): string {
  return s.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&amp;/g, '&');
}

export interface ReadSeries {
  name: string;
  data: Record<string, string>;
  points: { t: number; v: number }[];
}

/** Every `<g class="series">` with its points, in the order drawn. */
export function readSeries(svg: string): ReadSeries[] {
  const out: ReadSeries[] = [];
  for (const m of svg.matchAll(/<g class="series"([^>]*)>([\s\S]*?)<\/g>/g)) {
    const a = attrs(m[1]);
    const points = [...m[2].matchAll(/<circle class="point"([^>]*)>/g)].map((c) => {
      const p = attrs(c[1]);
      return { t: Number(p['data-t']), v: Number(p['data-v']) };
    });
    out.push({ name: a['data-series'], data: a, points });
  }
  return out;
}

/** Every waterfall row's figures. */
export function readSteps(svg: string): { step: string; startMs: number; ms: number; ok: boolean; calls: number; retries: number; throttles: number }[] {
  return [...svg.matchAll(/<g class="step"([^>]*)>/g)].map((m) => {
    const a = attrs(m[1]);
    return { step: a['data-step'], startMs: Number(a['data-start-ms']), ms: Number(a['data-ms']), ok: a['data-ok'] === 'true', calls: Number(a['data-calls']), retries: Number(a['data-retries']), throttles: Number(a['data-throttles']) };
  });
}

/** Bands and markers by label. */
export function readBands(svg: string): { label: string; from: number; to: number }[] {
  return [...svg.matchAll(/<g class="band"([^>]*)>/g)].map((m) => {
    const a = attrs(m[1]);
    return { label: a['data-label'], from: Number(a['data-from']), to: Number(a['data-to']) };
  });
}

export function readMarkers(svg: string): { label: string; at: number }[] {
  return [...svg.matchAll(/<g class="marker"([^>]*)>/g)].map((m) => {
    const a = attrs(m[1]);
    return { label: a['data-label'], at: Number(a['data-at']) };
  });
}

/** The report's totals table: data-total → number. */
export function readTotals(html: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const m of html.matchAll(/<td class="n" data-total="(\w+)"(?: data-ms="(\d+)")?>([^<]*)<\/td>/g)) out[m[1]] = Number(m[2] ?? m[3]);
  return out;
}
