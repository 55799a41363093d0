// Packaging Nova: the real nova/ folder, a messy copy (to prove what stays out of the
// zip), a local git repo for GIT_URL mode (file://, never the network), and gitHash.
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { strFromU8, unzipSync } from 'fflate';
import { afterAll, describe, expect, it } from 'vitest';
import { asgConfig, displayUrl, gitHash, listFiles, packageNova, versionLabelFor } from '../../src/deploy/package.js';
import { PackageError } from '../../src/errors.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const tmp = mkdtempSync(path.join(os.tmpdir(), 'package-test-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const NOVA_ZIP = ['.ebextensions/asg.config', 'Procfile', 'dist/app.js', 'dist/server.js', 'package.json'];
const HASH = /^[0-9a-f]{7,}(-dirty)?$|^unknown$/;

function unzip(file: string): Record<string, Uint8Array> {
  return unzipSync(readFileSync(file));
}

/** Run git with a fixed identity, so tests do not depend on the machine's git config. */
function git(cwd: string, ...args: string[]) {
  return execa('git', ['-c', 'user.name=test', '-c', 'user.email=test@example.com', '-c', 'commit.gpgsign=false', ...args], { cwd });
}

/** A copy of nova's buildable files in a fresh folder. */
function novaCopy(dir: string): string {
  mkdirSync(dir, { recursive: true });
  for (const f of ['src', 'package.json', 'tsconfig.json', 'Procfile']) cpSync(path.join(root, 'nova', f), path.join(dir, f), { recursive: true });
  return dir;
}

describe('versionLabelFor', () => {
  it('formats UTC as app-YYMMDD_HHMMSS-<phase>-<4 hex>', () => {
    expect(versionLabelFor(new Date(Date.UTC(2026, 10, 27, 4, 31, 0)), 'dv', '1a2b')).toBe('app-261127_043100-dv-1a2b');
    expect(versionLabelFor(new Date('2030-01-02T03:04:05+09:00'), 'qa', 'ffff')).toBe('app-300101_180405-qa-ffff');
    expect(versionLabelFor(new Date(), 'dv')).toMatch(/^app-\d{6}_\d{6}-dv-[0-9a-f]{4}$/);
  });

  // Two phases (two cron lines at 04:00), or two runs of one, in the same second once got
  // one label, so one S3 key and one .build/<label>.zip: each uploaded the other's bundle.
  it('is unique per phase and per run within one second, and fits EB\'s 100 characters', () => {
    const t = new Date(Date.UTC(2026, 10, 27, 4, 0, 0));
    const labels = new Set<string>();
    for (const phase of ['dv', 'qa']) for (let i = 0; i < 20; i++) labels.add(versionLabelFor(t, phase));
    expect(labels.size).toBeGreaterThanOrEqual(38); // 4 random hex digits: a repeat among 20 is rare, two is rarer
    expect(versionLabelFor(t, 'p'.repeat(16)).length).toBeLessThanOrEqual(100);
  });

  it('sorts by time, across phases and after the old labels of the same second', () => {
    const a = versionLabelFor(new Date(Date.UTC(2026, 10, 27, 4, 0, 0)), 'zz', 'ffff');
    const b = versionLabelFor(new Date(Date.UTC(2026, 10, 27, 4, 0, 1)), 'aa', '0000');
    expect([b, a, 'app-261127_040000'].sort()).toEqual(['app-261127_040000', a, b]);
  });
});

describe('packageNova', () => {
  it('zips the real nova folder: dist, package.json, Procfile and the asg config only', async () => {
    const outDir = path.join(tmp, 'out-real');
    const r = await packageNova({ root, asgMin: 1, asgMax: 3, versionLabel: 'app-261127_043100', outDir });

    expect(r.zipPath).toBe(path.join(outDir, 'app-261127_043100.zip'));
    expect(r.bytes).toBe(statSync(r.zipPath).size);
    expect(r.files).toEqual(NOVA_ZIP);
    const zip = unzip(r.zipPath);
    expect(Object.keys(zip).sort()).toEqual(NOVA_ZIP);
    expect(strFromU8(zip['Procfile'])).toBe('web: node dist/server.js\n');
    expect(JSON.parse(strFromU8(zip['package.json'])).scripts.start).toBe('node dist/server.js');
    expect(strFromU8(zip['dist/server.js'])).toContain('startServer');
    expect(strFromU8(zip['.ebextensions/asg.config'])).toBe(asgConfig(1, 3));
    expect(asgConfig(1, 3)).toContain('option_settings:\n  aws:autoscaling:asg:\n    MinSize: "1"\n    MaxSize: "3"\n');
    expect(r.gitHashJohanna).toMatch(HASH);
    expect(r.gitHashNova).toMatch(HASH);

    // Same content, same bytes: entry times are fixed, entries sorted.
    const again = await packageNova({ root, asgMin: 1, asgMax: 3, versionLabel: 'again', outDir });
    expect(readFileSync(again.zipPath).equals(readFileSync(r.zipPath))).toBe(true);
  }, 60_000);

  // tsc once per content (~2.7 s of CPU a deploy otherwise): the compiled tree is kept in
  // <outDir>/compiled under a hash of the source, and a changed source is compiled anew.
  it('compiles a source once and reuses it until a file of it changes', async () => {
    const dir = novaCopy(path.join(tmp, 'cached'));
    const outDir = path.join(tmp, 'out-cached');
    const store = path.join(outDir, 'compiled');
    const first = await packageNova({ root, novaDir: dir, asgMin: 1, asgMax: 1, versionLabel: 'c1', outDir });
    const trees = readdirSync(store);
    expect(trees).toHaveLength(1);
    // Reused, not rebuilt: a file planted in the kept tree reaches the next zip.
    writeFileSync(path.join(store, trees[0], 'planted.js'), '// from the cache\n');
    const second = await packageNova({ root, novaDir: dir, asgMin: 1, asgMax: 1, versionLabel: 'c2', outDir });
    expect(second.files).toEqual([...first.files, 'dist/planted.js'].sort());
    // A change to any file of the source is a new tree, compiled from it.
    writeFileSync(path.join(dir, 'src', 'server.ts'), readFileSync(path.join(dir, 'src', 'server.ts'), 'utf8') + '\nexport const CHANGED = 42;\n');
    const third = await packageNova({ root, novaDir: dir, asgMin: 1, asgMax: 1, versionLabel: 'c3', outDir });
    expect(readdirSync(store)).toHaveLength(2);
    expect(third.files).toEqual(first.files);
    expect(strFromU8(unzip(third.zipPath)['dist/server.js'])).toContain('CHANGED = 42');
    // Nothing half-built is left beside the trees.
    expect(readdirSync(store).every((t) => /^[0-9a-f]{32}$/.test(t))).toBe(true);
  }, 60_000);

  it('leaves out node_modules, sources, tests, EB and git state; keeps .ebextensions', async () => {
    const dir = novaCopy(path.join(tmp, 'messy'));
    for (const junk of ['node_modules/x/index.js', 'test/a.test.ts', '.elasticbeanstalk/config.yml', '.git/HEAD', 'dist/stale.js']) {
      mkdirSync(path.dirname(path.join(dir, junk)), { recursive: true });
      writeFileSync(path.join(dir, junk), 'junk');
    }
    mkdirSync(path.join(dir, '.ebextensions'));
    writeFileSync(path.join(dir, '.ebextensions/logs.config'), 'option_settings: {}\n');
    writeFileSync(path.join(dir, '.ebextensions/asg.config'), 'theirs');

    const r = await packageNova({ root, novaDir: dir, asgMin: 2, asgMax: 2, versionLabel: 'v', outDir: path.join(tmp, 'out-messy') });

    // dist/stale.js is absent: we compile into a clean folder, not the source's dist/.
    expect(r.files).toEqual(['.ebextensions/asg.config', '.ebextensions/logs.config', ...NOVA_ZIP.slice(1)]);
    expect(strFromU8(unzip(r.zipPath)['.ebextensions/asg.config'])).toBe(asgConfig(2, 2));
  }, 60_000);

  it('clones GIT_URL at GIT_BRANCH (a local repo over file://) and records its hash', async () => {
    const repo = novaCopy(path.join(tmp, 'nova-repo'));
    await git(repo, 'init', '-q', '-b', 'main');
    await git(repo, 'add', '.');
    await git(repo, 'commit', '-q', '-m', 'nova');
    await git(repo, 'checkout', '-q', '-b', 'release');
    writeFileSync(path.join(repo, 'Procfile'), 'web: node dist/server.js # release\n');
    await git(repo, 'commit', '-q', '-am', 'release');
    const head = (await git(repo, 'rev-parse', '--short', 'HEAD')).stdout.trim();
    await git(repo, 'checkout', '-q', 'main');

    const r = await packageNova({
      root,
      gitUrl: `file://${repo}`,
      gitBranch: 'release',
      asgMin: 1,
      asgMax: 1,
      versionLabel: 'from-git',
      outDir: path.join(tmp, 'out-git'),
    });
    expect(r.files).toEqual(NOVA_ZIP);
    expect(strFromU8(unzip(r.zipPath)['Procfile'])).toContain('# release');
    expect(r.gitHashNova).toBe(head);
  }, 60_000);

  // A folder we cannot read once counted as an empty one, and the zip went out without it.
  it('a .ebextensions that cannot be read as a folder fails the package; only a missing one is empty', async () => {
    expect(await listFiles(path.join(tmp, 'no-such-folder'))).toEqual([]);
    const dir = novaCopy(path.join(tmp, 'ebext-file'));
    writeFileSync(path.join(dir, '.ebextensions'), 'a file where a folder belongs');
    await expect(listFiles(path.join(dir, '.ebextensions'))).rejects.toThrow(/cannot read .*\.ebextensions: ENOTDIR/);
    await expect(packageNova({ root, novaDir: dir, asgMin: 1, asgMax: 1, versionLabel: 'x', outDir: path.join(tmp, 'out-ebext') })).rejects.toBeInstanceOf(PackageError);
  }, 60_000);

  // GIT_URL went to git with no `--` before it: a value starting with '-' was a git option.
  it('passes GIT_URL after `--`: a value like an option is taken as the repository', async () => {
    const base = { root, asgMin: 1, asgMax: 1, versionLabel: 'x', outDir: path.join(tmp, 'out-dash') };
    await expect(packageNova({ ...base, gitUrl: '--bare', gitBranch: 'main' })).rejects.toThrow(/repository '--bare' does not exist/);
  }, 30_000);

  it('never shows the credentials of a GIT_URL in its error, only the URL around them', async () => {
    const base = { root, asgMin: 1, asgMax: 1, versionLabel: 'x', outDir: path.join(tmp, 'out-cred') };
    const err = await packageNova({ ...base, gitUrl: 'https://johanna:gittoken12345@127.0.0.1:1/nova.git', gitBranch: 'main' }).catch((e: Error) => e);
    expect(err).toBeInstanceOf(PackageError);
    expect((err as Error).message).toContain('git clone of https://***@127.0.0.1:1/nova.git (branch main) failed');
    expect((err as Error).message).not.toContain('gittoken12345');
    expect((err as Error).message).not.toContain('johanna:');
    expect(displayUrl('ssh://git@host/x.git')).toBe('ssh://***@host/x.git');
    expect(displayUrl('file:///srv/nova')).toBe('file:///srv/nova');
  }, 30_000);

  it('says what failed for a missing branch or a bad ASG size', async () => {
    const base = { root, asgMin: 1, asgMax: 1, versionLabel: 'x', outDir: path.join(tmp, 'out-bad') };
    await expect(packageNova({ ...base, gitUrl: `file://${path.join(tmp, 'nova-repo')}`, gitBranch: 'nope' })).rejects.toThrow(
      /git clone .* \(branch nope\) failed/,
    );
    await expect(packageNova({ ...base, asgMin: 3, asgMax: 2 })).rejects.toBeInstanceOf(PackageError);
  }, 30_000);
});

describe('gitHash', () => {
  it("is the short HEAD hash, '-dirty' only for changes under the folder, 'unknown' outside git", async () => {
    const repo = path.join(tmp, 'hash-repo');
    mkdirSync(path.join(repo, 'nova'), { recursive: true });
    writeFileSync(path.join(repo, 'a.txt'), 'a');
    writeFileSync(path.join(repo, 'nova', 'b.txt'), 'b');
    await git(repo, 'init', '-q', '-b', 'main');
    await git(repo, 'add', '.');
    await git(repo, 'commit', '-q', '-m', 'one');
    const head = (await git(repo, 'rev-parse', '--short', 'HEAD')).stdout.trim();

    expect(await gitHash(repo)).toBe(head);
    writeFileSync(path.join(repo, 'a.txt'), 'changed');
    expect(await gitHash(repo)).toBe(`${head}-dirty`);
    expect(await gitHash(path.join(repo, 'nova'))).toBe(head);
    writeFileSync(path.join(repo, 'nova', 'new.txt'), 'untracked');
    expect(await gitHash(path.join(repo, 'nova'))).toBe(`${head}-dirty`);

    const plain = mkdtempSync(path.join(os.tmpdir(), 'not-git-'));
    try {
      expect(await gitHash(plain)).toBe('unknown');
    } finally {
      rmSync(plain, { recursive: true, force: true });
    }
  });

  it("never writes the user's index: a run killed mid-read could leave .git/index.lock behind", async () => {
    const repo = path.join(tmp, 'lock-repo');
    mkdirSync(repo, { recursive: true });
    writeFileSync(path.join(repo, 'a.txt'), 'a');
    await git(repo, 'init', '-q', '-b', 'main');
    await git(repo, 'add', '.');
    await git(repo, 'commit', '-q', '-m', 'one');
    // Same content, new stat data: a plain `git status` refreshes (rewrites) the index here.
    const later = new Date(Date.now() + 60_000);
    utimesSync(path.join(repo, 'a.txt'), later, later);
    const index = path.join(repo, '.git', 'index');
    const before = readFileSync(index);
    expect((await gitHash(repo)).endsWith('-dirty')).toBe(false);
    expect(readFileSync(index).equals(before)).toBe(true);
  });
});
