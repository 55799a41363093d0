// `create` = create_vpc then create_nova, as in the original: (re)provisioning.
import type { Ctx } from '../context.js';
import { createNova } from './create-nova.js';
import { createVpc } from './create-vpc.js';
import type { CommandOptions, CommandResult } from './types.js';

export async function create(ctx: Ctx, opts: CommandOptions): Promise<CommandResult> {
  const vpc = await createVpc(ctx);
  const nova = await createNova(ctx, opts);
  return { create_vpc: vpc, create_nova: nova };
}
