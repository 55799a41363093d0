// R63: a new DynamoDB table is CREATING for a while, its items neither readable nor
// writable. The tool makes its two bookkeeping tables on an account's first run and asks
// for the history's without waiting (src/deploy/lock.ts), so it must wait, or make and wait,
// wherever it meets one not ACTIVE. A sandbox whose tables are ACTIVE at once (moto's own,
// or TEST_STRICT's) would let a tool that writes at once pass.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPhase, type PhaseSandbox } from '../helpers/sandbox-phase.js';
import { HISTORY_TABLE, LOCK_TABLE } from '../../src/deploy/tables.js';

// How long a new table stays CREATING: four aws calls must fit inside it (the first test), which
// at 8 s a CI run under load 10 did not (the write went through, the table already ACTIVE).
const CREATE_MS = 20_000;
const LONG = 240_000;

async function historyOf(p: PhaseSandbox): Promise<any[]> {
  const r = await p.runOk(['--json', 'history']);
  return JSON.parse(r.stdout).records;
}

async function refusal(p: PhaseSandbox, args: string[]): Promise<string> {
  try {
    await p.aws(args);
    return '';
  } catch (err) {
    return (err as Error).message;
  }
}

describe('a new DynamoDB table is CREATING before it is ACTIVE (R63)', () => {
  let p: PhaseSandbox;
  beforeAll(async () => {
    p = await startPhase({ phase: 'tbl', strict: { tableCreateMs: CREATE_MS } });
  }, LONG);
  afterAll(() => p?.close());

  it('the sandbox: DescribeTable says CREATING and an item write is refused with ResourceNotFoundException until then', { timeout: LONG }, async () => {
    const made = await p.aws(['dynamodb', 'create-table', '--table-name', 'probe', '--attribute-definitions', 'AttributeName=k,AttributeType=S', '--key-schema', 'AttributeName=k,KeyType=HASH', '--billing-mode', 'PAY_PER_REQUEST']);
    expect(made.TableDescription.TableStatus).toBe('CREATING');
    expect((await p.aws(['dynamodb', 'describe-table', '--table-name', 'probe'])).Table.TableStatus).toBe('CREATING');
    const put = ['dynamodb', 'put-item', '--table-name', 'probe', '--item', '{"k":{"S":"a"}}'];
    expect(await refusal(p, put)).toMatch(/ResourceNotFoundException/);
    // A transaction naming it is refused too, whatever else it names.
    expect(await refusal(p, ['dynamodb', 'transact-write-items', '--transact-items', JSON.stringify([{ Put: { TableName: 'probe', Item: { k: { S: 'b' } } } }])])).toMatch(/ResourceNotFoundException/);
    // The CLI's own waiter sees it ACTIVE in the end; then the write goes through.
    await p.aws(['dynamodb', 'wait', 'table-exists', '--table-name', 'probe']);
    expect((await p.aws(['dynamodb', 'describe-table', '--table-name', 'probe'])).Table.TableStatus).toBe('ACTIVE');
    await p.aws(put);
  });

  it("an account's first run waits for the lock's table, and its record reaches the history's though that was made CREATING beside it", { timeout: LONG }, async () => {
    const r = await p.runOk(['-f', 'terminate_vpc']);
    expect(r.stderr).toContain(`creating the deploy-lock table ${LOCK_TABLE}`);
    expect(r.stderr).toContain(`creating the deploy-history table ${HISTORY_TABLE}`);
    expect(r.stderr).not.toMatch(/could not (add this run to the deploy history|release the deploy lock)/);
    const records = await historyOf(p);
    expect(records.map((x) => x.command)).toEqual(['terminate_vpc']);
    expect((await p.aws(['dynamodb', 'get-item', '--table-name', LOCK_TABLE, '--key', '{"phase":{"S":"tbl"}}'])).Item).toBeUndefined();
  });

  it('a history table made by the last write (not there yet) is waited for before the record is written', { timeout: LONG }, async () => {
    // The history's table gone, the lock's there: the run's last write meets no table, makes
    // it (CREATING for 8 s here) and must wait, or the record is lost.
    await p.aws(['dynamodb', 'delete-table', '--table-name', HISTORY_TABLE]);
    const r = await p.runOk(['-f', 'terminate_vpc']);
    expect(r.stderr).toContain(`creating the deploy-history table ${HISTORY_TABLE}`);
    expect(r.stderr).not.toMatch(/could not (add this run to the deploy history|release the deploy lock)/);
    expect((await historyOf(p)).map((x) => x.command)).toEqual(['terminate_vpc']);
    expect((await p.aws(['dynamodb', 'get-item', '--table-name', LOCK_TABLE, '--key', '{"phase":{"S":"tbl"}}'])).Item).toBeUndefined();
  });
});
