// The shape docs/architecture.md promises, kept by a test (issue 24): only src/aws/ builds
// aws argv, and no two modules import each other (type-only imports included).
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = path.resolve(import.meta.dirname, '../..');

describe('the shape of the tree (scripts/shape.mjs)', () => {
  const shape = JSON.parse(execFileSync(process.execPath, [path.join(ROOT, 'scripts/shape.mjs'), '--json'], { encoding: 'utf8' }));

  it('only src/aws/ builds an aws argument list', () => {
    expect(shape.argvOutsideAws).toEqual([]);
  });

  it('has no import cycle', () => {
    expect(shape.cycles).toEqual([]);
  });

  it('finds what it looks for (it read the tree)', () => {
    expect(shape.files).toBeGreaterThan(50);
    expect(shape.functions).toBeGreaterThan(500);
  });
});
