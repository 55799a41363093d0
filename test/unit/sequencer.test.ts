// npm test's file order (test/fixtures/sequencer.ts): longest first by a CI run's durations.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { fileKey, knownDurations, orderLongestFirst } from '../fixtures/sequencer.js';

describe('the order npm test starts its files in', () => {
  it('longest first; a new end-to-end file before all, a short unit file after; ties keep their order', () => {
    const table = { 'v1:test/e2e/soak.test.ts': 300, 'v1:test/e2e/cli.test.ts': 97, 'awscli-v2:test/e2e/awscli-v2.test.ts': 624, 'v1:test/unit/package.test.ts': 47 };
    const files = ['v1:test/unit/args.test.ts', 'v1:test/e2e/cli.test.ts', 'v1:test/unit/time.test.ts', 'v1:test/e2e/soak.test.ts', 'v1:test/e2e/new.test.ts', 'v1:test/unit/package.test.ts', 'awscli-v2:test/e2e/awscli-v2.test.ts'];
    expect(orderLongestFirst(files, (f) => f, table)).toEqual([
      'v1:test/e2e/new.test.ts',
      'awscli-v2:test/e2e/awscli-v2.test.ts',
      'v1:test/e2e/soak.test.ts',
      'v1:test/e2e/cli.test.ts',
      'v1:test/unit/package.test.ts',
      'v1:test/unit/args.test.ts',
      'v1:test/unit/time.test.ts',
    ]);
  });

  it('keys a file as project:path from the root, and the table names files that exist', () => {
    const root = path.resolve(import.meta.dirname, '../..');
    expect(fileKey({ project: { name: 'v1' }, moduleId: path.join(root, 'test/e2e/bake.test.ts') })).toBe('v1:test/e2e/bake.test.ts');
    const table = knownDurations();
    expect(Object.keys(table).length).toBeGreaterThan(20);
    for (const key of Object.keys(table)) {
      const [project, file] = key.split(':');
      expect(['v1', 'awscli-v2'], key).toContain(project);
      expect(existsSync(path.join(root, file)), key).toBe(true);
    }
  });
});
