// The CI examples are checked by action-validator (npm @action-validator/cli: GitHub's
// workflow schema from SchemaStore plus its own checks), so a workflow users copy is valid.
import { execa } from 'execa';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = path.resolve(__dirname, '../..');
const DIR = path.join(ROOT, 'examples/github-actions');
const validator = path.join(ROOT, 'node_modules/.bin/action-validator');

describe('examples/github-actions/ (issue 23)', () => {
  const files = readdirSync(DIR).filter((f) => f.endsWith('.yml'));
  it('holds the many-phases workflow and the daily one', () => {
    expect(files.sort()).toEqual(['daily-deploy.yml', 'many-phases.yml']);
  });
  for (const file of files) {
    it(`${file} passes action-validator`, { timeout: 30_000 }, async () => {
      const r = await execa(validator, [path.join(DIR, file)], { reject: false });
      expect(r.exitCode, r.stdout + r.stderr).toBe(0);
    });
  }
  it('the validator does refuse a broken workflow (a misspelt key)', { timeout: 30_000 }, async () => {
    const broken = path.join(mkdtempSync(path.join(os.tmpdir(), 'wf-')), 'broken.yml');
    writeFileSync(broken, readFileSync(path.join(DIR, 'many-phases.yml'), 'utf8').replace('runs-on:', 'runs_on:'));
    const r = await execa(validator, [broken], { reject: false });
    expect(r.exitCode).not.toBe(0);
  });
});
