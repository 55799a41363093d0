// How create_vpc and terminate_vpc schedule their aws calls: the longest chain of steps first.
import { describe, expect, it } from 'vitest';
import type { Ctx } from '../../src/context.js';
import { boundedCall, chainLengths, runGraph, type Task } from '../../src/infra/run.js';

describe('chainLengths', () => {
  it('counts the tasks waiting on each in its longest chain of dependents, ignoring deps not in the graph', () => {
    const tasks: Task[] = [
      { id: 'vpc', deps: [], run: async () => {} },
      { id: 'igw', deps: ['vpc'], run: async () => {} },
      { id: 'attach', deps: ['igw', 'vpc'], run: async () => {} },
      { id: 'nat', deps: ['attach', 'eip'], run: async () => {} },
      { id: 'eip', deps: ['vpc', 'role'], run: async () => {} },
      { id: 'role', deps: ['gone-already'], run: async () => {} },
      { id: 'key', deps: [], run: async () => {} },
    ];
    expect(Object.fromEntries(chainLengths(tasks))).toEqual({ vpc: 3, igw: 2, attach: 1, nat: 0, eip: 1, role: 2, key: 0 });
  });

  it('a cycle is a bug, named', () => {
    expect(() => chainLengths([{ id: 'a', deps: ['b'], run: async () => {} }, { id: 'b', deps: ['a'], run: async () => {} }])).toThrow(/depends on itself/);
  });
});

/** Steps that each make one call through a one-slot boundedCall; `served` is the calls' order, and the step named `failing` fails. */
function oneSlot(failing?: string) {
  const served: string[] = [];
  const aws = async (args: string[]) => {
    served.push(args[0]);
    if (args[0] === failing) throw new Error('no');
    return {};
  };
  const call = boundedCall({ aws: { aws } } as unknown as Ctx, 1);
  const step = (id: string, deps: string[] = []): Task => ({ id, deps, run: async () => void (await call([id])) });
  return { served, step };
}

describe('runGraph with boundedCall', () => {
  it('with one slot, the chain runs through before the steps nothing waits on, though they were listed first', async () => {
    const { served, step } = oneSlot();
    const failures = await runGraph([step('key'), step('app'), step('c1'), step('c2', ['c1']), step('c3', ['c2']), step('c4', ['c3'])]);
    expect(failures).toEqual([]);
    // In the order given, with a first-come queue: key, app, c1, c2, c3, c4. The chain's last
    // step has nothing waiting on it either, so it takes its turn after those that came first.
    expect(served).toEqual(['c1', 'c2', 'c3', 'key', 'app', 'c4']);
  });

  it('equals are served first come, and a failed step blocks only what waits on it', async () => {
    const { served, step } = oneSlot('bad');
    const failures = await runGraph([step('a'), step('bad'), step('b'), step('after-bad', ['bad'])]);
    expect(served).toEqual(['bad', 'a', 'b']);
    expect(failures.map((f) => f.id)).toEqual(['bad', 'after-bad']);
  });
});
