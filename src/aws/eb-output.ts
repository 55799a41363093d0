// The EB CLI answers in text, not JSON. We parse the two answers we read (`eb list`,
// `eb status`) so `--json` can give structured results for them.

export interface EbList {
  environments: string[];
  current?: string;
}

/** `eb list`: one environment a line; `* ` marks the one this folder uses. */
export function parseEbList(text: string): EbList {
  const out: EbList = { environments: [] };
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trimEnd();
    if (!line.trim()) continue;
    const m = /^\*\s+(\S+)$/.exec(line.trim());
    const name = m ? m[1] : line.trim();
    if (/\s/.test(name)) continue; // not an environment line (a warning, a header)
    out.environments.push(name);
    if (m) out.current = name;
  }
  return out;
}

export type EbStatus = Record<string, string | Record<string, string> | null>;

/**
 * `eb status`: "Environment details for: NAME" then `  Key: value` lines; some keys open
 * a block of deeper-indented lines (e.g. "  Platform:" or health details), and
 * `CNAME: UNKNOWN` means none yet (null).
 */
export function parseEbStatus(text: string): EbStatus {
  const out: EbStatus = {};
  let block: { key: string; indent: number; value: Record<string, string> } | undefined;
  for (const raw of text.split(/\r?\n/)) {
    if (!raw.trim()) continue;
    const header = /^Environment details for:\s*(.+)$/.exec(raw.trim());
    if (header) {
      out['Environment'] = header[1].trim();
      block = undefined;
      continue;
    }
    const m = /^(\s*)([^:]+?):\s?(.*)$/.exec(raw);
    if (!m) continue;
    const indent = m[1].length;
    const key = m[2].trim();
    const value = m[3].trim();
    if (block && indent > block.indent) {
      block.value[key] = value;
      continue;
    }
    block = undefined;
    if (value === '') {
      const nested: Record<string, string> = {};
      out[key] = nested;
      block = { key, indent, value: nested };
    } else {
      out[key] = value === 'UNKNOWN' ? null : value;
    }
  }
  return out;
}
