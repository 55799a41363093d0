// The two DynamoDB tables of the tool's bookkeeping, per account and region: the deploy
// lock's and the deploy history's. Both are made on the first run that needs them; the
// lock's first put finds neither in a new account, so it asks for both at once (issue 27).
import type { TableSpec } from '../aws/dynamodb.js';

export const LOCK_TABLE = 'johanna-locks';
export const HISTORY_TABLE = 'johanna-history';

export const LOCK_TABLE_SPEC: TableSpec = { name: LOCK_TABLE, partitionKey: 'phase', role: 'lock-table', what: 'the deploy-lock table', purpose: 'lock' };

export const HISTORY_TABLE_SPEC: TableSpec = {
  name: HISTORY_TABLE,
  partitionKey: 'phase',
  sortKey: 'time',
  role: 'history-table',
  what: 'the deploy-history table',
  purpose: 'history',
};
