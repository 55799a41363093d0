// `history`: the phase's deploy history, newest first, read-only. Every changing command
// leaves one record (src/deploy/history.ts): who, where, what, how it ended.
import type { Ctx } from '../context.js';
import { historyTable, HISTORY_TABLE, readHistory } from '../deploy/history.js';
import type { CommandOptions, CommandResult } from './types.js';

const DEFAULT_COUNT = 20;

export async function history(ctx: Ctx, opts: CommandOptions): Promise<CommandResult> {
  const count = opts.count ?? DEFAULT_COUNT;
  const records = await readHistory(ctx, count);
  if (!records.length) ctx.log.info(`no deploy history for phase '${ctx.phase}' yet (DynamoDB table ${HISTORY_TABLE})`);
  if (records.length) for (const line of historyTable(records)) ctx.log.result(line);
  return { records };
}
