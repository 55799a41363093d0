// The two DynamoDB tables of the tool's bookkeeping, per account and region: the deploy
// lock's and the deploy history's. Both are made on the first run that needs them; the
// lock's first put finds neither in a new account, so it asks for both at once (issue 27).
import type { AwsCall, CallOptions } from '../aws/cli.js';
import type { TableSpec } from '../aws/dynamodb.js';
import type { Ctx } from '../context.js';

export const LOCK_TABLE = 'johanna-locks';
export const HISTORY_TABLE = 'johanna-history';

/** The lock table: one item a phase, shared by every phase of the account (no phase tag). */
export const LOCK_TABLE_SPEC: TableSpec = { name: LOCK_TABLE, partitionKey: 'phase', role: 'lock-table', what: 'the deploy-lock table', purpose: 'lock' };

export const HISTORY_TABLE_SPEC: TableSpec = {
  name: HISTORY_TABLE,
  partitionKey: 'phase',
  sortKey: 'time',
  role: 'history-table',
  what: 'the deploy-history table',
  purpose: 'history',
};

/**
 * A call on one of the tables: bookkeeping, apart from the command's own work in the run log
 * and counts (its purpose, "lock" or "history"), and each failure expected (quiet at -v): the
 * caller reads it. `extra`: e.g. the lock's first put also reads AWS's clock.
 */
export function bookkeepingCall(ctx: Ctx, table: TableSpec, extra: CallOptions = {}): AwsCall {
  return (args, o) => ctx.aws.aws(args, { ...o, ...extra, purpose: table.purpose, expectFailure: true });
}
