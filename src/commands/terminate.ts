// `terminate` = terminate_nova then terminate_vpc, so terminate_vpc never meets a live environment.
import type { Ctx } from '../context.js';
import type { CommandResult } from './types.js';
import { terminateNova } from './terminate-nova.js';
import { terminateVpc } from './terminate-vpc.js';

export async function terminate(ctx: Ctx): Promise<CommandResult> {
  const nova = await terminateNova(ctx);
  const vpc = await terminateVpc(ctx);
  return { terminate_nova: nova, terminate_vpc: vpc };
}
