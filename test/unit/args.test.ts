// The command line's shape: a command's own options may stand before its name, as the
// contract's `./run [options] <command>` allows; global options and their values stay put.
import { describe, expect, it } from 'vitest';
import { commandOptionsAfterName, parseArgs } from '../../src/args.js';
import { UsageError } from '../../src/errors.js';

describe('commandOptionsAfterName', () => {
  it("moves a command's own options (and their values) after its name, leaves the global ones", () => {
    expect(commandOptionsAfterName(['-f', '--grace-minutes', '0', '-e', 'x.json', 'terminate_eb_old_environment', '-v'])).toEqual([
      '-f', '-e', 'x.json', 'terminate_eb_old_environment', '--grace-minutes', '0', '-v',
    ]);
    expect(commandOptionsAfterName(['--lock-wait=5', 'create-nova'])).toEqual(['create-nova', '--lock-wait=5']);
    // -e's value is never taken for a command name, even when it looks like one.
    expect(commandOptionsAfterName(['-e', 'status', 'rollback'])).toEqual(['-e', 'status', 'rollback']);
  });
});

describe('parseArgs', () => {
  it('merges global and command options into one set', () => {
    const p = parseArgs(['-f', '--grace-minutes', '3', 'terminate_eb_old_environment', '--json']);
    expect(p.kind).toBe('command');
    expect(p.opts).toMatchObject({ force: true, graceMinutes: '3', json: true });
  });

  it('refuses a bad number and an option of another command, as usage errors', () => {
    expect(() => parseArgs(['terminate_eb_old_environment', '--grace-minutes', '-5'])).toThrow(UsageError);
    expect(() => parseArgs(['terminate_eb_old_environment', '--grace-minutes', '1.5'])).toThrow(/whole number/);
    expect(() => parseArgs(['status', '--grace-minutes', '1'])).toThrow(/unknown option/);
    expect(() => parseArgs(['sandbox', 'start', '--lose-responses', '2'])).toThrow(/fraction/);
  });

  it("takes the sandbox's --metrics-lag in seconds, 0 or more (AWS: about 120, R101)", () => {
    expect(parseArgs(['sandbox', 'start', '--metrics-lag', '8']).opts).toMatchObject({ metricsLag: '8' });
    expect(parseArgs(['sandbox', 'start', '--metrics-lag', '0']).opts).toMatchObject({ metricsLag: '0' });
    expect(() => parseArgs(['sandbox', 'start', '--metrics-lag', '-1'])).toThrow(/seconds, 0 or more/);
  });

  it("takes the sandbox's --clock-skew in seconds, negative or not: the one option that may be negative (R103)", () => {
    expect(parseArgs(['sandbox', 'start', '--clock-skew', '-300']).opts).toMatchObject({ clockSkew: '-300' });
    expect(parseArgs(['sandbox', 'start', '--clock-skew=300']).opts).toMatchObject({ clockSkew: '300' });
    expect(() => parseArgs(['sandbox', 'start', '--clock-skew', '5m'])).toThrow(/--clock-skew 5m: expected seconds, negative or not/);
    expect(() => parseArgs(['sandbox', 'start', '--metrics-lag', '-5'])).toThrow(/seconds, 0 or more/);
  });

  it('no command is the usage; an unknown one is named', () => {
    expect(parseArgs(['-f']).kind).toBe('usage');
    expect(parseArgs(['deploy'])).toMatchObject({ kind: 'unknown', name: 'deploy' });
  });
});

describe('--wait and --lock-wait agree (issue 23 item 5)', () => {
  it('either flag waits for whatever is in the way: the lock or an updating environment', async () => {
    const { commandOptions } = await import('../../src/args.js');
    expect(commandOptions({ wait: '7' } as never)).toMatchObject({ waitMinutes: 7, lockWaitMinutes: 7 });
    expect(commandOptions({ lockWait: '3' } as never)).toMatchObject({ waitMinutes: 3, lockWaitMinutes: 3 });
    expect(commandOptions({ wait: '7', lockWait: '2' } as never)).toMatchObject({ waitMinutes: 7, lockWaitMinutes: 2 });
    // --lock-wait 0 is "do not wait": no zero-minute wait for an environment either.
    expect(commandOptions({ lockWait: '0' } as never)).toMatchObject({ waitMinutes: undefined, lockWaitMinutes: 0 });
    expect(commandOptions({} as never)).toMatchObject({ waitMinutes: undefined, lockWaitMinutes: undefined });
  });
});
