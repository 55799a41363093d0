// Which environment `events` and `logs` look at: the one named with --environment, else
// the live one (the holder of the main CNAME), which is what an operator means by "Nova".
import type { Ctx } from '../context.js';
import { StateError, UsageError } from '../errors.js';
import * as eb from '../aws/eb.js';
import { holderOfMain, isLive, mainCname } from './environments.js';

/** EB's rule for environment names: 4 to 40 letters, digits and hyphens, no hyphen at either end. */
export function checkEnvironmentName(name: string | undefined): string | undefined {
  if (name === undefined) return undefined;
  if (!/^[A-Za-z0-9][A-Za-z0-9-]{2,38}[A-Za-z0-9]$/.test(name)) {
    throw new UsageError(`--environment ${JSON.stringify(name)}: not an environment name (4 to 40 letters, digits and hyphens)`, 'e.g. --environment nova-1764216000; ./run status lists them');
  }
  return name;
}

/** The live environment, or the named one, which must still exist (not Terminated). */
export async function pickEnvironment(ctx: Ctx, environment: string | undefined): Promise<eb.Environment> {
  const app = ctx.config.elasticbeanstalk.APPLICATION_NAME;
  const named = checkEnvironmentName(environment);
  const envs = await eb.describeEnvironments(ctx.call, app);
  const live = envs.filter(isLive);
  const names = live.map((e) => e.EnvironmentName).join(', ') || 'none';
  if (named) {
    const e = live.find((x) => x.EnvironmentName === named);
    if (!e) throw new StateError(`application ${app} has no live environment named ${named}`, `live environments: ${names}`);
    return e;
  }
  const main = mainCname(ctx);
  const holder = holderOfMain(envs, main);
  if (!holder) throw new StateError(`no environment holds ${main}`, `name one with --environment <name> (live environments: ${names})`);
  return holder;
}
