// `terminate_eb_old_environment`: remove yesterday's environments once DNS caches have
// had time to forget them. Never the one holding the main CNAME, never one whose age we
// cannot establish; says for each what it decided and why.
import type { Ctx } from '../context.js';
import * as eb from '../aws/eb.js';
import { ENV_PREFIX, holderOfMain, lostMainAt, mainCname } from '../deploy/environments.js';
import type { CommandResult } from './registry.js';

export interface Decision {
  environment: string;
  action: 'terminate' | 'keep';
  reason: string;
}

export function decide(envs: eb.Environment[], events: eb.EbEvent[], main: string, graceMinutes: number, now: Date): Decision[] {
  const live = holderOfMain(envs, main);
  return envs
    .filter((e) => e.EnvironmentName.startsWith(ENV_PREFIX) && e.Status !== 'Terminated')
    .map((e): Decision => {
      const keep = (reason: string): Decision => ({ environment: e.EnvironmentName, action: 'keep', reason });
      if (e === live) return keep(`holds the main CNAME ${main}`);
      if (e.Status !== 'Ready') return keep(`is ${e.Status}, not Ready`);
      const lost = lostMainAt(e, events);
      if (!lost) return keep('cannot establish when it stopped serving the main CNAME');
      const minutes = (now.getTime() - lost.at.getTime()) / 60_000;
      const since = `out of service since ${lost.at.toISOString()} (${lost.source}), ${Math.floor(minutes)} min ago`;
      if (minutes < graceMinutes) return keep(`${since}; grace period is ${graceMinutes} min`);
      return { environment: e.EnvironmentName, action: 'terminate', reason: `${since}; grace period ${graceMinutes} min is over` };
    });
}

export async function terminateEbOldEnvironment(ctx: Ctx): Promise<CommandResult> {
  const app = ctx.config.elasticbeanstalk.APPLICATION_NAME;
  const grace = ctx.opts.graceMinutes !== undefined ? Number(ctx.opts.graceMinutes) : ctx.config.nova.OLD_ENVIRONMENT_GRACE_MINUTES;
  const [envs, events] = await Promise.all([eb.describeEnvironments(ctx, app), eb.describeEvents(ctx, app, { maxRecords: 1000 })]);
  const decisions = decide(envs, events, mainCname(ctx), grace, new Date());
  for (const d of decisions) {
    ctx.log.result(`${d.action === 'terminate' ? 'terminate' : 'keep     '} ${d.environment}: ${d.reason}`);
    if (d.action === 'terminate') await eb.terminateEnvironment(ctx, d.environment);
  }
  if (!decisions.length) ctx.log.result('no old environments');
  return { graceMinutes: grace, decisions, terminated: decisions.filter((d) => d.action === 'terminate').map((d) => d.environment) };
}
