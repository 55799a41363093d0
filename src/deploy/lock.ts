// The phase's deploy lock, shared by every machine that runs Johanna against the account
// (two cron hosts, CI runners): a DynamoDB conditional write. The item records who holds
// it, for which command and since when, and expires so that a killed run cannot block the
// phase forever. Read-only commands take no lock. Lock calls are marked purpose "lock" in
// the run log, apart from the command's own work.
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { randomBytes } from 'node:crypto';
import type { Ctx } from '../context.js';
import { AwsCliError, LockedError } from '../errors.js';
import { TAG_ROLE } from '../aws/tags.js';
import { pause, throwIfInterrupted } from '../time.js';

export const LOCK_TABLE = 'johanna-locks';

export interface LockHolder {
  phase: string;
  holder: string;
  /** This boot of this machine: a host name alone is shared by containers on other hosts. */
  machine?: string;
  command: string;
  startedAt: string;
  expiresAt: number; // epoch seconds
}

const opts = { purpose: 'lock' } as const;

function item(h: LockHolder): string {
  return JSON.stringify({
    phase: { S: h.phase },
    holder: { S: h.holder },
    ...(h.machine ? { machine: { S: h.machine } } : {}),
    command: { S: h.command },
    startedAt: { S: h.startedAt },
    expiresAt: { N: String(h.expiresAt) },
  });
}

export async function readLock(ctx: Ctx): Promise<LockHolder | undefined> {
  try {
    const r = await ctx.aws.aws<{ Item?: Record<string, { S?: string; N?: string }> }>(
      ['dynamodb', 'get-item', '--table-name', LOCK_TABLE, '--key', JSON.stringify({ phase: { S: ctx.phase } }), '--consistent-read'],
      { ...opts, expectFailure: true },
    );
    if (!r.Item) return undefined;
    return {
      phase: ctx.phase,
      holder: r.Item.holder?.S ?? '?',
      machine: r.Item.machine?.S,
      command: r.Item.command?.S ?? '?',
      startedAt: r.Item.startedAt?.S ?? '?',
      expiresAt: Number(r.Item.expiresAt?.N ?? 0),
    };
  } catch (err) {
    if (err instanceof AwsCliError && err.awsCode === 'ResourceNotFoundException') return undefined;
    throw err;
  }
}

async function createTable(ctx: Ctx): Promise<void> {
  ctx.log.info(`creating the deploy-lock table ${LOCK_TABLE} (DynamoDB, on-demand: no cost while idle)`);
  try {
    await ctx.aws.aws(
      [
        'dynamodb', 'create-table', '--table-name', LOCK_TABLE,
        '--attribute-definitions', 'AttributeName=phase,AttributeType=S',
        '--key-schema', 'AttributeName=phase,KeyType=HASH',
        '--billing-mode', 'PAY_PER_REQUEST',
        // Shared by every phase of the account, so it carries the role tag but no phase.
        '--tags', `Key=${TAG_ROLE},Value=lock-table`,
      ],
      opts,
    );
  } catch (err) {
    // Another run created it at the same moment: fine, we wait for it like our own.
    if (!(err instanceof AwsCliError && err.awsCode === 'ResourceInUseException')) throw err;
  }
  await ctx.aws.aws(['dynamodb', 'wait', 'table-exists', '--table-name', LOCK_TABLE], opts);
}

function describeHolder(h: LockHolder): string {
  return `${h.holder} (${h.command}, since ${h.startedAt}, expires ${new Date(h.expiresAt * 1000).toISOString()})`;
}

/** Try once; undefined means we hold it now, else who does. */
async function tryAcquire(ctx: Ctx, me: LockHolder): Promise<LockHolder | undefined> {
  // ALL_OLD answers with the item we replaced, so taking over an expired lock costs no extra read.
  const put = () =>
    ctx.aws.aws<{ Attributes?: Record<string, { S?: string; N?: string }> }>(
      [
        'dynamodb', 'put-item', '--table-name', LOCK_TABLE, '--item', item(me),
        '--condition-expression', 'attribute_not_exists(phase) OR expiresAt < :now',
        '--expression-attribute-values', JSON.stringify({ ':now': { N: String(Math.floor(Date.now() / 1000)) } }),
        '--return-values', 'ALL_OLD',
      ],
      { ...opts, expectFailure: true },
    );
  let answer;
  try {
    answer = await put();
  } catch (err) {
    if (!(err instanceof AwsCliError)) throw err;
    if (err.awsCode === 'ConditionalCheckFailedException') return heldBy(ctx, me);
    if (err.awsCode !== 'ResourceNotFoundException') throw err;
    // The first run ever in this account and region: make the table, then try again, and
    // a run that raced us to it may hold the lock by now.
    await createTable(ctx);
    try {
      answer = await put();
    } catch (again) {
      if (again instanceof AwsCliError && again.awsCode === 'ConditionalCheckFailedException') return heldBy(ctx, me);
      throw again;
    }
  }
  const old = answer?.Attributes;
  if (old?.holder?.S) {
    ctx.log.warn(
      `took over an expired deploy lock from ${old.holder.S} (${old.command?.S ?? '?'}, since ${old.startedAt?.S ?? '?'})`,
    );
  }
  return undefined;
}

/** Who holds the lock we just failed to take; undefined when a dead run of this host did and we took it over. */
async function heldBy(ctx: Ctx, me: LockHolder): Promise<LockHolder | undefined> {
  const holder = await readLock(ctx);
  // Our own write, whose answer was lost and whose retry met its own condition (R17).
  if (holder?.holder === me.holder) return undefined;
  const deadHere = holder && holder.machine !== undefined && holder.machine === me.machine && isDeadHereHolder(holder.holder);
  if (!holder || !deadHere) return holder ?? { ...me, holder: 'another run' };
  // Killed on this very machine (its pid is gone): no need to wait for the expiry.
  ctx.log.warn(`the deploy lock was held by ${holder.holder}, a run on this machine that is no longer running; taking it over`);
  try {
    await takeOver(ctx, me, holder.holder);
  } catch (e) {
    if (e instanceof AwsCliError && e.awsCode === 'ConditionalCheckFailedException') return (await readLock(ctx)) ?? holder;
    throw e;
  }
  return undefined;
}

/** The kernel's id of this boot: differs between hosts (and reboots), even when host names match. */
export function thisMachine(): string | undefined {
  try {
    return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim() || undefined;
  } catch {
    return undefined;
  }
}

/** `user@host:pid:token` of a process on this host that no longer exists. */
export function isDeadHereHolder(holder: string, host = os.hostname()): boolean {
  const m = /^[^@]*@(.+):(\d+):[0-9a-f]+$/.exec(holder);
  if (!m || m[1] !== host) return false;
  try {
    process.kill(Number(m[2]), 0);
    return false;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

/** Replace exactly that holder's item, so two runs racing for a dead one cannot both win. */
async function takeOver(ctx: Ctx, me: LockHolder, dead: string): Promise<void> {
  await ctx.aws.aws(
    [
      'dynamodb', 'put-item', '--table-name', LOCK_TABLE, '--item', item(me),
      '--condition-expression', 'holder = :dead',
      '--expression-attribute-values', JSON.stringify({ ':dead': { S: dead } }),
    ],
    { ...opts, expectFailure: true },
  );
}

export async function withPhaseLock<T>(ctx: Ctx, fn: () => Promise<T>): Promise<T> {
  // Never shorter than the longest a deploy may take, or a second host could take over a
  // lock that is still in use.
  const ttlMinutes = Math.max(ctx.config.lock.TTL_MINUTES, ctx.config.nova.DEPLOY_TIMEOUT_MINUTES + 30);
  const me: LockHolder = {
    phase: ctx.phase,
    holder: `${os.userInfo().username}@${os.hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`,
    machine: thisMachine(),
    command: ctx.command,
    startedAt: new Date().toISOString(),
    expiresAt: Math.floor(Date.now() / 1000) + ttlMinutes * 60,
  };
  const waitMinutes = ctx.opts.lockWait ? Number(ctx.opts.lockWait) : 0;
  const deadline = Date.now() + waitMinutes * 60_000;
  for (;;) {
    const taken = await tryAcquire(ctx, me);
    if (!taken) break;
    if (Date.now() >= deadline) {
      throw new LockedError(
        `phase '${ctx.phase}' is locked by ${describeHolder(taken)}`,
        waitMinutes ? `still locked after waiting ${waitMinutes} min` : 'wait for that run to finish, or pass --lock-wait <minutes> to wait for it',
      );
    }
    ctx.log.live(`waiting for the deploy lock held by ${taken.holder} (${taken.command})`);
    await pause(Math.min(5000, Math.max(0, deadline - Date.now())), ctx.signal);
    throwIfInterrupted(ctx.signal, 'the deploy lock');
  }
  try {
    return await fn();
  } finally {
    try {
      await ctx.aws.aws(
        [
          'dynamodb', 'delete-item', '--table-name', LOCK_TABLE, '--key', JSON.stringify({ phase: { S: ctx.phase } }),
          '--condition-expression', 'holder = :me',
          '--expression-attribute-values', JSON.stringify({ ':me': { S: me.holder } }),
        ],
        { ...opts, expectFailure: true },
      );
    } catch (err) {
      ctx.log.warn(`could not release the deploy lock: ${(err as Error).message}`);
    }
  }
}
