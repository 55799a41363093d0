import { afterEach, describe, expect, it, vi } from 'vitest';
import { crc32 } from 'node:zlib';
import { CreatingTables, tablesOf } from '../../sandbox/dynamodb-tables.js';

const ok = (body: unknown) => ({ status: 200, headers: { 'x-amz-crc32': '1' }, body: Buffer.from(JSON.stringify(body)) });

describe('the sandbox keeps a new DynamoDB table CREATING (R63)', () => {
  it('names the tables of a request: TableName, batch RequestItems, each transact action', () => {
    expect(tablesOf('PutItem', { TableName: 'a' })).toEqual(['a']);
    expect(tablesOf('BatchWriteItem', { RequestItems: { a: [], b: [] } })).toEqual(['a', 'b']);
    expect(tablesOf('TransactWriteItems', { TransactItems: [{ Delete: { TableName: 'a' } }, { Put: { TableName: 'b' } }] })).toEqual(['a', 'b']);
    expect(tablesOf('ListTables', {})).toEqual([]);
  });

  afterEach(() => vi.useRealTimers());

  it('refuses item operations on it until the delay has passed; DescribeTable says CREATING with a true CRC', () => {
    vi.useFakeTimers({ now: 1_000_000 });
    const t = new CreatingTables(300);
    const made = t.observe('CreateTable', { TableName: 'a' }, ok({ TableDescription: { TableName: 'a', TableStatus: 'ACTIVE' } }));
    expect(JSON.parse(made.body.toString()).TableDescription.TableStatus).toBe('CREATING');
    expect(made.headers['x-amz-crc32']).toBe(String(crc32(made.body)));
    const refused = t.refuse('TransactWriteItems', { TransactItems: [{ Put: { TableName: 'b' } }, { Put: { TableName: 'a' } }] });
    expect(refused?.status).toBe(400);
    expect(JSON.parse(refused!.body.toString()).__type).toMatch(/#ResourceNotFoundException$/);
    expect(t.refuse('PutItem', { TableName: 'b' })).toBeUndefined();
    expect(t.refuse('DescribeTable', { TableName: 'a' })).toBeUndefined();
    vi.setSystemTime(1_000_299);
    expect(t.refuse('PutItem', { TableName: 'a' })?.status).toBe(400);
    vi.setSystemTime(1_000_300);
    expect(t.refuse('PutItem', { TableName: 'a' })).toBeUndefined();
    expect(JSON.parse(t.observe('DescribeTable', { TableName: 'a' }, ok({ Table: { TableStatus: 'ACTIVE' } })).body.toString()).Table.TableStatus).toBe('ACTIVE');
  });

  it('with no delay changes nothing', () => {
    const t = new CreatingTables(0);
    const a = ok({ TableDescription: { TableStatus: 'ACTIVE' } });
    expect(t.observe('CreateTable', { TableName: 'a' }, a)).toBe(a);
    expect(t.refuse('PutItem', { TableName: 'a' })).toBeUndefined();
  });
});
