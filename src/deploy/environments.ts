// Reading the application's environments: which one holds the main CNAME, how old each
// one is, and since when an old one has been out of service.
import type { Ctx } from '../context.js';
import { listTags, type Environment } from '../aws/eb.js';
import type { Tag } from '../aws/tags.js';
import { lastSwapOf, ledgerOf, readHistoryOf, type Ledger } from './history.js';

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
 * When `env` last lost the main CNAME: the newest swap the deploy history records with it
 * on the losing side (issue 20 items 1 and 4: EB forgets its events, and a promote days
 * after the hold began must not count from the hold). Without such a record (a deploy
 * kept for inspection, or one from before the ledger), the later of two times from EB's
 * current state: the timestamp at the end of its CNAME (the original's rule: that CNAME was
 * made by the deploy that replaced it) and EB's DateUpdated, so it is never earlier than
 * the last change EB made to it: the safe side for a grace period.
 */
export function lostMainAt(env: Environment, ledger: Pick<Ledger, 'swaps'>, awsOffsetMs = 0): { at: Date; source: 'history' | 'cname timestamp' | 'EB DateUpdated' } | undefined {
  const swap = ledger.swaps.find((s) => s.from === env.EnvironmentName);
  if (swap) return { at: swap.at, source: 'history' };
  const m = /-(\d{9,11})\./.exec(env.CNAME ?? '');
  if (!m) return undefined;
  const fromCname = new Date(Number(m[1]) * 1000);
  // The swap's time and the CNAME's are this machine's; DateUpdated is AWS's, brought to ours (R103).
  const updated = env.DateUpdated ? new Date(Date.parse(env.DateUpdated) - awsOffsetMs) : undefined;
  if (updated && !Number.isNaN(updated.getTime()) && updated > fromCname) return { at: updated, source: 'EB DateUpdated' };
  return { at: fromCname, source: 'cname timestamp' };
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
  const v = (await sandboxStrict(ctx)).dnsTtlMs;
  return typeof v === 'number' && v >= 0 ? v : AWS_DNS_TTL_MS;
}

/**
 * The sandbox's strict settings (`strict` of its `/_sandbox/status`), read once a run: the DNS
 * TTL and the metrics timing both come from it, and they do not change while the sandbox
 * runs. {} on AWS, or when the page cannot be read (not kept, so a later read may succeed):
 * each caller then takes AWS's figure, the safe side.
 */
const strictReads = new WeakMap<object, Promise<Record<string, unknown>>>();
export function sandboxStrict(ctx: Pick<Ctx, 'sandbox'>): Promise<Record<string, unknown>> {
  const sandbox = ctx.sandbox;
  if (!sandbox) return Promise.resolve({});
  let read = strictReads.get(ctx);
  if (!read) {
    read = (async () => {
      const r = await fetch(`${sandbox.endpoint}/_sandbox/status`, { signal: AbortSignal.timeout(2000) });
      return ((await r.json()) as { strict?: Record<string, unknown> })?.strict ?? {};
    })();
    strictReads.set(ctx, read);
    read.catch(() => strictReads.delete(ctx));
  }
  return read.catch(() => ({}));
}

// ---- hold and promote (issue 14 item 1) ---------------------------------------------------

/**
 * `create_nova --hold` marks its environment with this tag, at create-environment time
 * (value: when the hold began, ISO). The tag is never changed afterwards. Whether EB
 * applies a tag change of a running environment to its resources through an environment
 * update is unconfirmed (the tagging guide,
 * https://docs.aws.amazon.com/elasticbeanstalk/latest/dg/using-features.tagging.html, and
 * the UpdateTagsForResource reference do not say), and an update would make the environment
 * Updating at the moment of a promote. So whether it is still held is read from the deploy
 * history (issue 20 items 1 and 3): its held deploy ended ok, and no swap names it since.
 */
export const HELD_TAG = 'johanna:held';

export interface Held {
  environment: Environment;
  /** When `create_nova --hold` made it (the tag's value). */
  since: string;
}

/** Whether the ledger records a completed CNAME swap naming `name`. */
export function everSwapped(name: string, ledger: Pick<Ledger, 'swaps'>): boolean {
  return lastSwapOf(ledger as Ledger, name) !== undefined;
}

/**
 * The held environments: carrying HELD_TAG, not terminating or terminated, not holding the
 * main CNAME, made by a `create_nova --hold` that ended ok (a failed one kept for
 * inspection, or one killed mid-launch, is not held: item 3), and never part of a swap
 * since (a promote, or a later deploy, swaps it). Pure: `heldTags` maps an environment's
 * name to its HELD_TAG value (undefined: no tag); `ledger` undefined means the history could
 * not be read, and then every tagged one counts as held (the cleanup's safe side).
 * Not required to be Ready: a held environment EB is updating is still held, and the
 * cleanup must keep it.
 */
export function heldEnvironments(envs: Environment[], ledger: Ledger | undefined, heldTags: ReadonlyMap<string, string | undefined>, main: string): Held[] {
  return envs
    .filter((e) => isLive(e) && !sameHost(e.CNAME, main))
    .filter((e) => heldTags.get(e.EnvironmentName) !== undefined)
    .filter((e) => !ledger || (ledger.holds.has(e.EnvironmentName) && !everSwapped(e.EnvironmentName, ledger)))
    .map((e) => ({ environment: e, since: heldTags.get(e.EnvironmentName)! }));
}

/** The names of the held environments: what the cleanup must keep. */
export function heldNames(envs: Environment[], ledger: Ledger | undefined, heldTags: ReadonlyMap<string, string | undefined>, main: string): Set<string> {
  return new Set(heldEnvironments(envs, ledger, heldTags, main).map((h) => h.environment.EnvironmentName));
}

/**
 * An environment's tags, read once per run: our tags are set at create-environment and never
 * changed (see HELD_TAG), so the marked-for-removal rule, the held rule and the cleanup read
 * one answer (issue 27: the cleanup read them twice). A read that failed is not kept.
 */
const tagReads = new WeakMap<Ctx, Map<string, Promise<Tag[]>>>();
export function environmentTags(ctx: Ctx, arn: string): Promise<Tag[]> {
  let reads = tagReads.get(ctx);
  if (!reads) tagReads.set(ctx, (reads = new Map()));
  let read = reads.get(arn);
  if (!read) {
    read = listTags(ctx.call, arn);
    reads.set(arn, read);
    read.catch(() => reads!.delete(arn));
  }
  return read;
}

/** The environments whose tags the held and marked rules read: live `nova-*` ones off the main CNAME (none but the live one on a usual day). */
export function offMain(envs: Environment[], main: string): Environment[] {
  return envs.filter((e) => isLive(e) && e.EnvironmentName.startsWith(ENV_PREFIX) && e.EnvironmentArn && !sameHost(e.CNAME, main));
}

/**
 * HELD_TAG of the environments that could be held (live `nova-*` ones that do not hold the
 * main CNAME), read with list-tags-for-resource: one call each, and none on a usual day,
 * when only the live environment exists. Tags that cannot be read fail the command, except
 * for the cleanup (`unreadableIsHeld`): it must never remove a held one by mistake, so for
 * it such an environment counts as held. promote and discard must never act on a guess.
 */
export async function readHeldTags(ctx: Ctx, envs: Environment[], main: string, o: { unreadableIsHeld?: boolean } = {}): Promise<Map<string, string | undefined>> {
  const out = new Map<string, string | undefined>();
  await Promise.all(
    offMain(envs, main).map(async (e) => {
        try {
          out.set(e.EnvironmentName, (await environmentTags(ctx, e.EnvironmentArn!)).find((t) => t.Key === HELD_TAG)?.Value);
        } catch (err) {
          if (!o.unreadableIsHeld) throw err;
          ctx.log.warn(`could not read the tags of ${e.EnvironmentName} (${(err as Error).message}); keeping it as if held`);
          out.set(e.EnvironmentName, 'unknown (its tags could not be read)');
        }
      }),
  );
  return out;
}

/**
 * The held environments of the application, with the fewest calls: the deploy history (one
 * query) only when one carries the tag. A history that cannot be read fails the command:
 * create_nova, promote and discard never act on a guess.
 */
export async function findHeld(ctx: Ctx, _app: string, envs: Environment[], main: string, read?: { ledger: Ledger; of: ReadonlySet<string> }): Promise<Held[]> {
  const tags = await readHeldTags(ctx, envs, main);
  const tagged = [...tags].filter(([, v]) => v !== undefined).map(([k]) => k);
  if (!tagged.length) return [];
  // The caller's ledger when it was read for every one of them (create_nova's preflight reads one for both rules).
  const ledger = read && tagged.every((n) => read.of.has(n)) ? read.ledger : ledgerOf(await readHistoryOf(ctx, tagged));
  return heldEnvironments(envs, ledger, tags, main);
}

// ---- wait your turn (issue 14 item 5) ------------------------------------------------------

/** EB's statuses of an environment in the middle of an operation. */
export const BUSY_STATUSES: ReadonlySet<string> = new Set(['Launching', 'Updating', 'Aborting', 'LinkingFrom', 'LinkingTo']);

export interface Busy {
  environment: Environment;
  /** Since when EB reports this status: its DateUpdated (else DateCreated). */
  since?: Date;
  minutes?: number;
  stuck: boolean;
}

/**
 * The application's environments in the middle of an operation, and whether each is stuck:
 * in the same status for longer than `timeoutMinutes`, judged from EB's DateUpdated (when
 * EB last changed it), never from how long we have waited.
 */
export function busyEnvironments(envs: Environment[], now: Date, timeoutMinutes: number): Busy[] {
  return envs
    .filter((e) => BUSY_STATUSES.has(e.Status))
    .map((e) => {
      const at = e.DateUpdated ?? e.DateCreated;
      const since = at ? new Date(at) : undefined;
      const minutes = since && !Number.isNaN(since.getTime()) ? (now.getTime() - since.getTime()) / 60_000 : undefined;
      return { environment: e, since, minutes, stuck: minutes !== undefined && minutes > timeoutMinutes };
    });
}

/**
 * What AWS documents for an environment stuck in an operation: abort an update
 * (AbortEnvironmentUpdate "Cancels in-progress environment configuration update or
 * application version deployment", https://docs.aws.amazon.com/elasticbeanstalk/latest/api/API_AbortEnvironmentUpdate.html),
 * or terminate it and build it again (rebuild-environment "terminates all of its resources
 * and replaces them with new resources with the same configuration",
 * https://docs.aws.amazon.com/elasticbeanstalk/latest/dg/environment-management-rebuild.html).
 */
export function stuckRecovery(e: Pick<Environment, 'EnvironmentName' | 'Status'>): string {
  const name = e.EnvironmentName;
  if (e.Status === 'Updating') {
    return `abort the update: ./run -- aws elasticbeanstalk abort-environment-update --environment-name ${name} (EB rolls back to the last working configuration); if it stays stuck, rebuild it (./run -- aws elasticbeanstalk rebuild-environment --environment-name ${name}) or terminate it`;
  }
  return `terminate it and build again: ./run -- aws elasticbeanstalk terminate-environment --environment-name ${name}, then run create_nova (or rebuild it: ./run -- aws elasticbeanstalk rebuild-environment --environment-name ${name})`;
}
