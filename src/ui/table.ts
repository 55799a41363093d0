// Tables for the terminal (issue 22 item 3): a header row and columns padded to the widest
// cell, whatever the width of names and CNAMEs. Plain text, so a cron log keeps its shape.

/** Rows of cells under `headers`, every column as wide as its widest cell; `indent` before each line. */
export function table(headers: string[], rows: (string | number | undefined)[][], indent = ''): string[] {
  const cells = rows.map((r) => headers.map((_, i) => (r[i] === undefined || r[i] === '' ? '-' : String(r[i]))));
  const widths = headers.map((h, i) => Math.max(h.length, ...cells.map((r) => r[i].length)));
  const line = (r: string[]) => indent + r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]))).join('  ');
  return [line(headers), ...cells.map(line)];
}
