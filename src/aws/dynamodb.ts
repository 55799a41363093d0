// DynamoDB through the aws CLI: our small tables (the deploy lock, the deploy history) are
// made on first use, pay-per-request, so an idle account pays nothing for them. Items
// travel in DynamoDB's attribute-value JSON; these helpers turn plain records into it and back.
import type { Logger } from '../ui/log.js';
import { AwsCliError } from '../errors.js';
import type { AwsCall } from './cli.js';
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
export async function createTable(call: AwsCall, log: Pick<Logger, 'info'>, t: TableSpec): Promise<void> {
  await askCreateTable(call, log, t);
  await call(['dynamodb', 'wait', 'table-exists', '--table-name', t.name], { purpose: t.purpose });
}

/** Ask for the table without waiting for it: a write before it is ACTIVE says it is missing. */
export async function askCreateTable(call: AwsCall, log: Pick<Logger, 'info'>, t: TableSpec): Promise<void> {
  log.info(`creating ${t.what} ${t.name} (DynamoDB, on-demand: no cost while idle)`);
  const keys = [t.partitionKey, ...(t.sortKey ? [t.sortKey] : [])];
  try {
    await call(
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
}

/** Run a write; if the table does not exist yet (the first run in this account and region), make it and write again. */
export async function withTable<T>(call: AwsCall, log: Pick<Logger, 'info'>, t: TableSpec, write: () => Promise<T>): Promise<T> {
  try {
    return await write();
  } catch (err) {
    if (!isMissingTable(err)) throw err;
  }
  await createTable(call, log, t);
  return write();
}

export function isMissingTable(err: unknown): boolean {
  return err instanceof AwsCliError && err.awsCode === 'ResourceNotFoundException';
}

export type AttributeValue = { S: string } | { N: string } | { BOOL: boolean } | { L: AttributeValue[] };
export type Item = Record<string, AttributeValue>;
/** An item as DynamoDB answers it: whoever wrote it, its fields may be of any type or missing. */
export type StoredItem = Record<string, { S?: string; N?: string; BOOL?: boolean; L?: unknown[] }>;
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

/** A condition on the item a write finds, and the values it names (`:now`, `:me`). */
export interface Condition {
  expression: string;
  values: Item;
}

/** The `--condition-expression` and `--expression-attribute-values` of a conditional write. */
function conditionArgs(c: Condition | undefined, moreValues: Item = {}): string[] {
  const values = { ...moreValues, ...c?.values };
  return [
    ...(c ? ['--condition-expression', c.expression] : []),
    ...(Object.keys(values).length ? ['--expression-attribute-values', JSON.stringify(values)] : []),
  ];
}

/** The item under `key`, read consistently (the newest write, not a replica's); undefined when there is none. */
export async function getItem(call: AwsCall, table: string, key: Item): Promise<StoredItem | undefined> {
  const r = await call<{ Item?: StoredItem }>(['dynamodb', 'get-item', '--table-name', table, '--key', JSON.stringify(key), '--consistent-read']);
  return r.Item;
}

/**
 * Write the item, if the condition holds for the one it replaces (ConditionalCheckFailedException
 * when not). With `returnOld` the answer is the item it replaced, so a take-over needs no extra read.
 */
export async function putItem(call: AwsCall, table: string, item: Item, o: { condition?: Condition; returnOld?: boolean } = {}): Promise<StoredItem | undefined> {
  const r = await call<{ Attributes?: StoredItem } | undefined>([
    'dynamodb', 'put-item', '--table-name', table, '--item', JSON.stringify(item),
    ...conditionArgs(o.condition),
    ...(o.returnOld ? ['--return-values', 'ALL_OLD'] : []),
  ]);
  return r?.Attributes;
}

/** Set fields of the item under `key` (`update` names its values like the condition does). */
export async function updateItem(call: AwsCall, table: string, key: Item, update: { expression: string; values: Item }, condition?: Condition): Promise<void> {
  await call([
    'dynamodb', 'update-item', '--table-name', table, '--key', JSON.stringify(key),
    '--update-expression', update.expression,
    ...conditionArgs(condition, update.values),
  ]);
}

export async function deleteItem(call: AwsCall, table: string, key: Item, condition?: Condition): Promise<void> {
  await call(['dynamodb', 'delete-item', '--table-name', table, '--key', JSON.stringify(key), ...conditionArgs(condition)]);
}

/** The newest `limit` items whose partition key `name` is `value` (a table sorted by time), newest first. */
export async function queryNewest(call: AwsCall, table: string, partition: { name: string; value: string }, limit: number): Promise<StoredItem[]> {
  const r = await call<{ Items?: StoredItem[] }>([
    'dynamodb', 'query', '--table-name', table,
    '--key-condition-expression', '#p = :p',
    '--expression-attribute-names', JSON.stringify({ '#p': partition.name }),
    '--expression-attribute-values', JSON.stringify({ ':p': { S: partition.value } }),
    '--no-scan-index-forward',
    '--max-items', String(limit),
  ]);
  return r.Items ?? [];
}

/**
 * Every item of one partition that `filter` keeps, newest first: one Query, which the aws
 * CLI pages through to the end (it follows LastEvaluatedKey by itself, 1 MB a page). The
 * filter runs at DynamoDB, so only the matching items travel.
 */
export async function queryAll(call: AwsCall, table: string, partition: { name: string; value: string }, filter?: Condition & { names?: Record<string, string> }): Promise<StoredItem[]> {
  const values = { ':p': { S: partition.value }, ...(filter?.values ?? {}) };
  const r = await call<{ Items?: StoredItem[] }>([
    'dynamodb', 'query', '--table-name', table,
    '--key-condition-expression', '#p = :p',
    ...(filter ? ['--filter-expression', filter.expression] : []),
    '--expression-attribute-names', JSON.stringify({ '#p': partition.name, ...(filter?.names ?? {}) }),
    '--expression-attribute-values', JSON.stringify(values),
    '--no-scan-index-forward',
  ]);
  return r.Items ?? [];
}

/** One action of a TransactWriteItems call, in the API's own shape. */
export type TransactItem =
  | { Put: { TableName: string; Item: Item; ConditionExpression?: string; ExpressionAttributeValues?: Item } }
  | { Delete: { TableName: string; Key: Item; ConditionExpression?: string; ExpressionAttributeValues?: Item } };

/**
 * Several writes that all happen or none do (TransactWriteItems, up to 100 actions). A
 * failed condition cancels the whole transaction: TransactionCanceledException, whose
 * message lists each action's reason in order ("[ConditionalCheckFailed, None]").
 */
export async function transactWrite(call: AwsCall, items: TransactItem[]): Promise<void> {
  await call(['dynamodb', 'transact-write-items', '--transact-items', JSON.stringify(items)]);
}

/** The cancellation reasons of a TransactionCanceledException, in the order of its actions. */
export function cancellationReasons(err: unknown): string[] | undefined {
  if (!(err instanceof AwsCliError) || err.awsCode !== 'TransactionCanceledException') return undefined;
  const m = /\[([^\]]*)\]/.exec(err.stderr);
  return m ? m[1].split(',').map((r) => r.trim()) : [];
}
