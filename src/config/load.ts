// Find, read and validate the phase config before anything touches AWS. Every problem is
// reported at once (ConfigError), each with its JSON path and what is expected.
import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import dotenv from 'dotenv';
import { printParseErrorCode, visit } from 'jsonc-parser';
import { ConfigError, type ConfigProblem } from '../errors.js';
import { configSchema, crossFieldProblems, unknownKeys, type Config } from './schema.js';

/** A phase config is a few KiB; anything near this is not one (and must not fill memory). */
export const MAX_CONFIG_BYTES = 1024 * 1024;

export interface LoadedConfig {
  config: Config;
  file: string;
  warnings: string[];
}

/** `.env` beside ./run fills in what the environment does not already set (credentials, webhook). */
export function loadDotenv(root: string): void {
  const file = path.join(root, '.env');
  if (existsSync(file)) dotenv.config({ path: file, override: false, quiet: true } as dotenv.DotenvConfigOptions);
}

/** -e wins, then JOHANNA_ENV, then env.json beside ./run. */
export function resolveConfigPath(root: string, cliEnv: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  if (cliEnv) return path.resolve(cliEnv);
  if (env.JOHANNA_ENV) return path.resolve(root, env.JOHANNA_ENV);
  return path.join(root, 'env.json');
}

export function parseConfig(raw: unknown, file: string): LoadedConfig {
  const result = configSchema.safeParse(raw);
  const problems: ConfigProblem[] = [
    ...(result.success ? [] : result.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message }))),
    ...crossFieldProblems(raw),
  ];
  // A schema failure always has problems; a cross-field one may come with a valid shape.
  if (!result.success || problems.length) {
    throw new ConfigError(file, problems, 'fix the fields above; env.sample.json shows every key with an example value');
  }
  const warnings = unknownKeys(raw).map((k) => `${file}: unknown key ${k} is ignored (a typo?)`);
  if (result.data.aws.AWS_ACCESS_KEY_ID || result.data.aws.AWS_SECRET_ACCESS_KEY) {
    warnings.push(
      `${file}: aws.AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY in the config file are accepted for old configs, but secrets do not belong there: move them to .env or the aws CLI's profile`,
    );
  }
  return { config: result.data as Config, file, warnings };
}

export function loadConfig(file: string): LoadedConfig {
  if (!existsSync(file)) {
    const isDefault = path.basename(file) === 'env.json';
    throw new ConfigError(
      file,
      [{ path: '', message: 'no such config file' }],
      isDefault
        ? `copy env.sample.json to env.json and fill it in (cp env.sample.json env.json), or try the local sandbox with -e env.sandbox.json`
        : 'check the path given with -e/--env or JOHANNA_ENV',
    );
  }
  // Only a regular file of sane size is read: /dev/zero would grow memory without end, and
  // a FIFO would hang a cron job on its read.
  const st = statSync(file);
  if (!st.isFile()) {
    throw new ConfigError(file, [{ path: '', message: 'not a regular file (a device, a pipe or a folder)' }], 'point -e/--env or JOHANNA_ENV at the phase\'s JSON config file');
  }
  if (st.size > MAX_CONFIG_BYTES) {
    throw new ConfigError(file, [{ path: '', message: `${st.size} bytes; a phase config is at most ${MAX_CONFIG_BYTES} bytes` }], 'point -e/--env or JOHANNA_ENV at the phase\'s JSON config file');
  }
  return parseConfig(parseJsonText(readFileSync(file, 'utf8'), file), file);
}

/**
 * Strict JSON, read with jsonc-parser (the VS Code team's scanner) because it reports where
 * and what is wrong without repeating the text: JSON.parse's message quotes the text around
 * the error, which may be an unquoted secret. It also lets us see a key given twice in one
 * object, which JSON.parse silently settles for the last one: ambiguous, so refused.
 * Comments and trailing commas are refused too: the file must stay plain JSON.
 */
export function parseJsonText(text: string, file: string): unknown {
  const problems: ConfigProblem[] = [];
  const seen: Set<string>[] = [];
  visit(
    text,
    {
      onObjectBegin: () => {
        seen.push(new Set());
      },
      onObjectEnd: () => void seen.pop(),
      onObjectProperty: (property, _offset, _length, _line, _col, pathSupplier) => {
        const keys = seen[seen.length - 1];
        if (!keys) return;
        const at = [...pathSupplier(), property].join('.');
        if (keys.has(property)) problems.push({ path: at, message: 'given twice in the same object; which one is meant is ambiguous, so keep only one' });
        keys.add(property);
      },
      onError: (error, _offset, _length, line, col) => {
        // Only the position and the kind: the text there may be a secret.
        problems.push({ path: '', message: `not valid JSON at line ${line + 1}, column ${col + 1}: ${describeJsonError(printParseErrorCode(error))}` });
      },
    },
    { disallowComments: true, allowTrailingComma: false, allowEmptyContent: false },
  );
  if (problems.length) throw new ConfigError(file, problems.slice(0, 10), 'fix the JSON above (the value there is not shown: it may be a secret)');
  try {
    return JSON.parse(text);
  } catch {
    // jsonc-parser found nothing JSON.parse refuses; this is a backstop that quotes nothing.
    throw new ConfigError(file, [{ path: '', message: 'not valid JSON' }]);
  }
}

function describeJsonError(code: string): string {
  const words: Record<string, string> = {
    InvalidSymbol: 'a value that is not JSON (a string needs double quotes)',
    ValueExpected: 'a value expected',
    PropertyNameExpected: 'a key in double quotes expected (or a trailing comma to remove)',
    CommaExpected: 'a comma expected',
    ColonExpected: 'a colon expected',
    CloseBraceExpected: 'a } expected',
    CloseBracketExpected: 'a ] expected',
    EndOfFileExpected: 'nothing expected after the end',
    InvalidCommentToken: 'comments are not JSON',
    UnexpectedEndOfComment: 'comments are not JSON',
    UnexpectedEndOfString: 'a string without its closing quote',
    UnexpectedEndOfNumber: 'an unfinished number',
    InvalidUnicode: 'a bad \\u escape',
    InvalidEscapeCharacter: 'a bad escape in a string',
    InvalidCharacter: 'a control character inside a string',
  };
  return words[code] ?? code;
}
