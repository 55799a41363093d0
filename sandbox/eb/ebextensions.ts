// `.ebextensions/*.config` must be YAML or JSON, or EB fails the deploy with the event
// "The configuration file .ebextensions/<file> in application version <label> contains
// invalid YAML or JSON. YAML exception: Invalid Yaml: <why>, JSON exception: Invalid JSON:
// Unexpected character (<c>) at position 0.. Update the configuration file." followed by
// "Failed to deploy application." (seen in awsdocs/elastic-beanstalk-samples#90 and
// awsdocs/aws-elastic-beanstalk-developer-guide#126). We have no YAML parser among our
// dependencies, so this checks the faults those reports show and the common ones beside
// them (tabs in indentation, unclosed quotes or brackets, a value followed by a deeper
// block, a top-level line that is no key), not the whole YAML grammar.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/** Why `text` is not YAML, or undefined when it may be. */
export function yamlProblem(text: string): string | undefined {
  if (text.includes('\u0000')) return "unacceptable character '' (0x0) special characters are not allowed";
  const lines = text.split(/\r?\n/);
  let depth = 0;
  let previous: { indent: number; scalarValue: boolean } | undefined;
  let blockIndent: number | undefined; // inside a `|` or `>` block scalar
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i];
    const where = `line ${i + 1}, column 1`;
    if (!raw.trim() || raw.trim().startsWith('#')) continue;
    const indent = raw.length - raw.trimStart().length;
    if (blockIndent !== undefined) {
      if (indent > blockIndent) continue;
      blockIndent = undefined;
    }
    if (/^ *\t/.test(raw)) return `found character '\\t' that cannot start any token, ${where}`;
    const line = raw.trim().replace(/\s+#.*$/, '');
    if (depth === 0 && previous?.scalarValue && indent > previous.indent) return `mapping values are not allowed here, ${where}`;
    // A list item's content starts after its `- `.
    const contentIndent = indent + (/^-\s+/.exec(raw.trimStart())?.[0].length ?? 0);
    for (const quote of ['"', "'"]) {
      if ((line.split(quote).length - 1) % 2 === 1 && !/^[^"']*:\s*[|>]/.test(line)) return `while scanning a quoted scalar, found unexpected end of line, ${where}`;
    }
    for (const ch of line.replace(/"[^"]*"|'[^']*'/g, '')) {
      if (ch === '[' || ch === '{') depth++;
      if (ch === ']' || ch === '}') depth--;
    }
    if (depth < 0) return `did not find expected node content, ${where}`;
    if (depth === 0 && indent === 0 && !/^(-|---|\.\.\.|[^:]+:(\s|$)|"[^"]*"\s*:|'[^']*'\s*:)/.test(line) && !line.startsWith('{') && !line.startsWith('[')) {
      return `could not find expected ':', ${where}`;
    }
    // A key line: `key:` opens a block; `key: value` is a scalar. A line that is no key
    // (`aws:a:b` has no ': ') is a plain scalar too. A deeper line after a scalar is YAML's
    // "mapping values are not allowed here".
    const key = /^(?:- +)?(?:"[^"]*"|'[^']*'|[^'"]*?):(?:\s+(.*))?$/.exec(line);
    const isKey = key !== null && (key[1] !== undefined || line.endsWith(':'));
    const value = isKey ? key![1] : undefined;
    if (value && /^[|>][-+]?\d*$/.test(value)) blockIndent = indent;
    const scalar = isKey ? value !== undefined && !/^[|>&*[{]/.test(value) : !line.startsWith('-') && !/^[[{]/.test(line);
    previous = { indent: contentIndent, scalarValue: depth === 0 && scalar };
  }
  return depth > 0 ? 'while parsing a flow node, did not find expected end of flow' : undefined;
}

/** EB's event for the first malformed config file of a bundle, or undefined when all parse. */
export function ebextensionsProblem(appDir: string, versionLabel: string): string | undefined {
  const dir = join(appDir, '.ebextensions');
  if (!existsSync(dir)) return undefined;
  for (const file of readdirSync(dir).filter((name) => name.endsWith('.config')).sort()) {
    const text = readFileSync(join(dir, file), 'utf8');
    let json = true;
    try {
      JSON.parse(text);
    } catch {
      json = false;
    }
    const yaml = yamlProblem(text);
    if (json || !yaml) continue;
    const first = text.trimStart()[0] ?? '';
    return (
      `The configuration file .ebextensions/${file} in application version ${versionLabel} contains invalid YAML or JSON. ` +
      `YAML exception: Invalid Yaml: ${yaml}, JSON exception: Invalid JSON: Unexpected character (${first}) at position 0.. Update the configuration file.`
    );
  }
  return undefined;
}
