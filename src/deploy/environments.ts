// Reading the application's environments: which one holds the main CNAME, how old each
// one is, and since when an old one has been out of service.
import type { Ctx } from '../context.js';
import type { EbEvent, Environment } from '../aws/eb.js';

export const ENV_PREFIX = 'nova-';

/** `dv-nova.ap-northeast-2.elasticbeanstalk.com`: the CNAME users reach Nova at. */
export function mainCname(ctx: Pick<Ctx, 'config' | 'region'>): string {
  return cnameFor(ctx, ctx.config.nova.CNAME);
}

export function cnameFor(ctx: Pick<Ctx, 'region'>, prefix: string): string {
  return `${prefix}.${ctx.region}.elasticbeanstalk.com`;
}

export function sameHost(a: string | undefined, b: string): boolean {
  return (a ?? '').toLowerCase().replace(/\.$/, '') === b.toLowerCase();
}

export function isLive(e: Environment): boolean {
  return e.Status !== 'Terminated' && e.Status !== 'Terminating';
}

export function holderOfMain(envs: Environment[], main: string): Environment | undefined {
  return envs.find((e) => isLive(e) && sameHost(e.CNAME, main));
}

/** The unix time in `nova-<timestamp>`; undefined for a name we did not make. */
export function envTimestamp(name: string): number | undefined {
  const m = /^nova-(\d{9,11})$/.exec(name);
  return m ? Number(m[1]) : undefined;
}

/** Newest first, by the timestamp in the name. */
export function byAgeNewestFirst(envs: Environment[]): Environment[] {
  return [...envs].sort((a, b) => (envTimestamp(b.EnvironmentName) ?? 0) - (envTimestamp(a.EnvironmentName) ?? 0));
}

/**
 * When `env` last lost the main CNAME: the newest "Completed swapping CNAMEs" event that
 * names it while it does not hold the main CNAME. Falls back to the timestamp at the end
 * of its CNAME (the original's rule: that CNAME was made by the deploy that replaced it).
 */
export function lostMainAt(env: Environment, events: EbEvent[]): { at: Date; source: 'swap event' | 'cname timestamp' } | undefined {
  const swaps = events
    .filter((e) => /Completed swapping CNAMEs/i.test(e.Message) && e.Message.includes(`'${env.EnvironmentName}'`))
    .sort((a, b) => Date.parse(b.EventDate) - Date.parse(a.EventDate));
  if (swaps.length) return { at: new Date(swaps[0].EventDate), source: 'swap event' };
  const m = /-(\d{9,11})\./.exec(env.CNAME ?? '');
  if (m) return { at: new Date(Number(m[1]) * 1000), source: 'cname timestamp' };
  return undefined;
}

/** Pick the solution stack: the configured one (exact, else the newest containing it), else the newest Node.js. */
export function pickSolutionStack(stacks: string[], wanted?: string): string | undefined {
  const nums = (s: string) => (s.match(/\d+/g) ?? []).map(Number);
  const newestFirst = (a: string, b: string) => {
    const x = nums(a);
    const y = nums(b);
    for (let i = 0; i < Math.max(x.length, y.length); i++) if ((x[i] ?? 0) !== (y[i] ?? 0)) return (y[i] ?? 0) - (x[i] ?? 0);
    return 0;
  };
  if (wanted) {
    if (stacks.includes(wanted)) return wanted;
    return stacks.filter((s) => s.toLowerCase().includes(wanted.toLowerCase())).sort(newestFirst)[0];
  }
  return stacks.filter((s) => /running Node\.js/.test(s)).sort(newestFirst)[0];
}
