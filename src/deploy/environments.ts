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

export function isLive(e: Pick<Environment, 'Status'>): boolean {
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

/** `64bit Amazon Linux 2023 v6.6.3 running Node.js 20` -> branch `Node.js 20 on 64bit Amazon Linux 2023`, version [6, 6, 3]. */
export function platformBranch(stack: string): { branch: string; version: number[] } | undefined {
  const m = /^(.+?) v(\d+(?:\.\d+)*) running (.+)$/.exec(stack);
  return m ? { branch: `${m[3]} on ${m[1]}`, version: m[2].split('.').map(Number) } : undefined;
}

function newerVersion(a: number[], b: number[]): number {
  for (let i = 0; i < Math.max(a.length, b.length); i++) if ((a[i] ?? 0) !== (b[i] ?? 0)) return (b[i] ?? 0) - (a[i] ?? 0);
  return 0;
}

export interface PlatformChoice {
  stack?: string;
  /** Why this one: nova.PLATFORM, the live environment's branch, or the newest Node.js. */
  why: string;
  /** The newest Node.js stack when it is on another branch than the one taken: reported, not taken. */
  newerBranch?: string;
}

/**
 * The platform stays put: nova.PLATFORM when set; else the live environment's branch (e.g.
 * Node.js 22 on Amazon Linux 2023) at its newest version, so a daily deploy takes platform
 * patches but never moves to a new Node.js major or OS on its own; else (first deploy) the
 * newest Node.js stack. A newer branch is named so the operator can choose it.
 */
export function choosePlatform(stacks: string[], o: { wanted?: string; live?: string }): PlatformChoice {
  const newest = pickSolutionStack(stacks);
  const report = (stack: string | undefined, why: string): PlatformChoice => {
    const mine = stack && platformBranch(stack)?.branch;
    const other = newest && platformBranch(newest)?.branch;
    return { stack, why, newerBranch: !o.wanted && stack && newest && mine !== other ? newest : undefined };
  };
  if (o.wanted) return report(pickSolutionStack(stacks, o.wanted), `nova.PLATFORM "${o.wanted}"`);
  const live = o.live ? platformBranch(o.live) : undefined;
  if (live) {
    const same = stacks
      .map((s) => ({ s, p: platformBranch(s) }))
      .filter((x) => x.p?.branch === live.branch)
      .sort((a, b) => newerVersion(a.p!.version, b.p!.version))[0]?.s;
    if (same) return report(same, `the live environment's branch (${live.branch})`);
  }
  return report(newest, o.live ? `the newest Node.js stack (the live environment's ${o.live} is no longer offered)` : 'the newest Node.js stack');
}

/** EB's CNAME leads to the load balancer's records, which AWS serves with a 60 s TTL (aws-rules.md R12). */
export const AWS_DNS_TTL_MS = 60_000;

/**
 * How long clients may keep resolving a swapped CNAME to the environment it named. On AWS,
 * the ELB records' 60 s. In the sandbox, the router's own TTL (--dns-ttl), read from the
 * sandbox's status (`strict.dnsTtlMs`), so the tool waits exactly as long as it must there;
 * AWS's figure when the sandbox does not say.
 */
export async function dnsTtlMs(ctx: Pick<Ctx, 'sandbox'>): Promise<number> {
  if (!ctx.sandbox) return AWS_DNS_TTL_MS;
  try {
    const r = await fetch(`${ctx.sandbox.endpoint}/_sandbox/status`, { signal: AbortSignal.timeout(2000) });
    const v = ((await r.json()) as { strict?: { dnsTtlMs?: unknown } })?.strict?.dnsTtlMs;
    if (typeof v === 'number' && v >= 0) return v;
  } catch {
    // fall through: AWS's figure is the safe side
  }
  return AWS_DNS_TTL_MS;
}
