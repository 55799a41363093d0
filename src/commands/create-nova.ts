// `create_nova`: the daily deploy (src/deploy/blue-green.ts has the steps).
import type { Ctx } from '../context.js';
import { deployNova } from '../deploy/blue-green.js';
import type { CommandResult } from './registry.js';

export async function createNova(ctx: Ctx): Promise<CommandResult> {
  return { ...(await deployNova(ctx)) };
}
