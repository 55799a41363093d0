// Hints that can be pasted as they are (issue 22 item 5): `./run promote` in a run started
// with `-e envs/prod.json` says `./run -e envs/prod.json promote`, so the next command acts
// on the same phase. And the nearest command for one that does not exist.
import path from 'node:path';

/** What a hint needs of the run: the config file it read, and where `./run` lives. */
export interface HintSource {
  configFile: string;
  root: string;
}

/**
 * `./run [-e FILE] <rest>`: the -e option whenever the run's config is not the default
 * env.json beside ./run (given by -e or JOHANNA_ENV), relative to the current folder when
 * that is shorter, so the hint reads as the user typed it.
 */
export function runHint(src: HintSource | undefined, rest: string): string {
  const opts = src ? runOptions(src) : '';
  return `./run ${opts ? `${opts} ` : ''}${rest}`;
}

/** `-e FILE` when the run's config is not the default, else nothing. */
export function runOptions(src: HintSource): string {
  const file = src.configFile;
  if (path.resolve(file) === path.join(src.root, 'env.json')) return '';
  const rel = path.relative(process.cwd(), file);
  const shown = rel && !rel.startsWith('..') && rel.length < file.length ? rel : file;
  return `-e ${quote(shown)}`;
}

function quote(s: string): string {
  return /^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

/** Words people type for a command of ours. */
const ALIASES: Record<string, string> = {
  deploy: 'create_nova',
  release: 'create_nova',
  ship: 'create_nova',
  up: 'create',
  provision: 'create',
  setup: 'create',
  destroy: 'terminate',
  down: 'terminate',
  delete: 'terminate',
  teardown: 'terminate',
  undo: 'rollback',
  revert: 'rollback',
  swap: 'promote',
  cleanup: 'terminate_eb_old_environment',
  clean: 'terminate_eb_old_environment',
  prune: 'terminate_eb_old_environment',
  log: 'logs',
  info: 'status',
  ls: 'status',
  list: 'status',
  state: 'status',
};

/** Edit distance, for a mistyped name (`stauts` → `status`). */
function distance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0][j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
  }
  return d[a.length][b.length];
}

/** The command `name` most likely meant, if any is near enough to suggest. */
export function nearestCommand(name: string, commands: readonly string[]): string | undefined {
  const n = name.toLowerCase().replace(/-/g, '_');
  if (ALIASES[n] && commands.includes(ALIASES[n])) return ALIASES[n];
  const prefixed = commands.filter((c) => c.startsWith(n) && n.length >= 3);
  if (prefixed.length === 1) return prefixed[0];
  let best: { c: string; d: number } | undefined;
  for (const c of commands) {
    const d = distance(n, c);
    if (!best || d < best.d) best = { c, d };
  }
  return best && best.d <= Math.max(1, Math.floor(best.c.length / 3)) ? best.c : undefined;
}
