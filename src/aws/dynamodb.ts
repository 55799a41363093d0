// DynamoDB through the aws CLI: our small tables (the deploy lock, the deploy history) are
// made on first use, pay-per-request, so an idle account pays nothing for them. Items
// travel in DynamoDB's attribute-value JSON; these helpers turn plain records into it and back.
import type { Ctx } from '../context.js';
import { AwsCliError } from '../errors.js';
import { TAG_ROLE } from './tags.js';

export interface TableSpec {
  name: string;
  /** The partition key, and the sort key if the table has one; both strings. */
  partitionKey: string;
  sortKey?: string;
  /** The value of our role tag: shared by every phase of the account, so no phase tag. */
  role: string;
  /** Said once when the table is made, e.g. "the deploy-history table". */
  what: string;
  /** The run-log purpose of these calls (bookkeeping apart from the command's own work). */
  purpose: string;
}

/**
 * Create the table and wait until it is ACTIVE. Another run creating it at the same moment
 * is fine: we wait for theirs like for our own.
 */
export async function createTable(ctx: Ctx, t: TableSpec): Promise<void> {
  ctx.log.info(`creating ${t.what} ${t.name} (DynamoDB, on-demand: no cost while idle)`);
  const keys = [t.partitionKey, ...(t.sortKey ? [t.sortKey] : [])];
  try {
    await ctx.aws.aws(
      [
        'dynamodb', 'create-table', '--table-name', t.name,
        '--attribute-definitions', ...keys.map((k) => `AttributeName=${k},AttributeType=S`),
        '--key-schema', `AttributeName=${t.partitionKey},KeyType=HASH`, ...(t.sortKey ? [`AttributeName=${t.sortKey},KeyType=RANGE`] : []),
        '--billing-mode', 'PAY_PER_REQUEST',
        '--tags', `Key=${TAG_ROLE},Value=${t.role}`,
      ],
      { purpose: t.purpose },
    );
  } catch (err) {
    if (!(err instanceof AwsCliError && err.awsCode === 'ResourceInUseException')) throw err;
  }
  await ctx.aws.aws(['dynamodb', 'wait', 'table-exists', '--table-name', t.name], { purpose: t.purpose });
}

/** Run a write; if the table does not exist yet (the first run in this account and region), make it and write again. */
export async function withTable<T>(ctx: Ctx, t: TableSpec, write: () => Promise<T>): Promise<T> {
  try {
    return await write();
  } catch (err) {
    if (!isMissingTable(err)) throw err;
  }
  await createTable(ctx, t);
  return write();
}

export function isMissingTable(err: unknown): boolean {
  return err instanceof AwsCliError && err.awsCode === 'ResourceNotFoundException';
}

export type AttributeValue = { S: string } | { N: string } | { BOOL: boolean } | { L: AttributeValue[] };
export type Item = Record<string, AttributeValue>;
export type Plain = string | number | boolean | string[];

/** A flat record as an item; undefined fields are left out (DynamoDB has no "undefined"). */
export function toItem(record: Record<string, Plain | undefined>): Item {
  const item: Item = {};
  for (const [k, v] of Object.entries(record)) {
    if (v === undefined) continue;
    if (typeof v === 'string') item[k] = { S: v };
    else if (typeof v === 'number') item[k] = { N: String(v) };
    else if (typeof v === 'boolean') item[k] = { BOOL: v };
    else item[k] = { L: v.map((s) => ({ S: s })) };
  }
  return item;
}

/** The inverse of toItem, for the types it writes; anything else is skipped. */
export function fromItem(item: Record<string, Record<string, unknown>>): Record<string, Plain> {
  const out: Record<string, Plain> = {};
  for (const [k, v] of Object.entries(item)) {
    if (typeof v.S === 'string') out[k] = v.S;
    else if (typeof v.N === 'string') out[k] = Number(v.N);
    else if (typeof v.BOOL === 'boolean') out[k] = v.BOOL;
    else if (Array.isArray(v.L)) out[k] = (v.L as { S?: string }[]).map((x) => x.S ?? '');
  }
  return out;
}
