// The phase's deploy lock, shared by every machine that runs Johanna against the account
// (two cron hosts, CI runners): a DynamoDB conditional write. The item records who holds
// it, for which command and since when, and expires so that a killed run cannot block the
// phase forever; a live run renews it, so a long command never outlives its lease. Read-only
// commands take no lock. Lock calls are marked purpose "lock" in the run log, apart from
// the command's own work.
import { readFileSync, readlinkSync } from 'node:fs';
import { askCreateTable, createTable, deleteItem, getItem, putItem, toItem, updateItem, type Condition, type Item, type StoredItem, type TransactItem } from '../aws/dynamodb.js';
import { bookkeepingCall, HISTORY_TABLE_SPEC, LOCK_TABLE, LOCK_TABLE_SPEC } from './tables.js';
import type { AwsCall } from '../aws/cli.js';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import type { Ctx } from '../context.js';
import { AwsCliError, LockedError, LockLostError, StateError } from '../errors.js';
import { quoteForDisplay } from '../aws/cli.js';
import { pause, throwIfInterrupted } from '../time.js';

export { LOCK_TABLE };

export interface LockHolder {
  phase: string;
  holder: string;
  /** This boot of this machine: a host name alone is shared by containers on other hosts. */
  machine?: string;
  /**
   * The inode of this process's PID namespace (`/proc/self/ns/pid`): containers on one host
   * share its boot id, and may share a host name, but a pid means a process only inside its
   * own namespace (issue 20 item 5).
   */
  pidns?: string;
  command: string;
  startedAt: string;
  expiresAt: number; // epoch seconds
}

/**
 * A lock item that no run of Johanna wrote (fields missing or of the wrong type). Its
 * condition can never be met, so it blocks every deploy until someone deletes it.
 */
export interface MalformedLock {
  phase: string;
  /** The fields that are missing or not of the type we write. */
  malformed: string[];
  /** The attributes the item does have, as stored. */
  item: Record<string, unknown>;
}

export type LockItem = LockHolder | MalformedLock;

export function isMalformed(l: LockItem | undefined): l is MalformedLock {
  return l !== undefined && 'malformed' in l;
}

/** Lock calls are bookkeeping (purpose "lock" in the run log), and each failure is expected: the caller reads it. */
const lockCall = (ctx: Ctx): AwsCall => bookkeepingCall(ctx, LOCK_TABLE_SPEC);
const CONDITION_FAILED = 'ConditionalCheckFailedException';

const isAwsCode = (err: unknown, code: string) => err instanceof AwsCliError && err.awsCode === code;

function key(phase: string): Item {
  return { phase: { S: phase } };
}

function item(h: LockHolder): Item {
  const { phase, holder, machine, pidns, command, startedAt, expiresAt } = h;
  return toItem({ phase, holder, machine: machine || undefined, pidns: pidns || undefined, command, startedAt, expiresAt });
}

const nowSeconds = () => Math.floor(Date.now() / 1000);
/** The write's condition: the item still names this holder. */
const namesHolder = (holder: string, name = ':me'): Condition => ({ expression: `holder = ${name}`, values: { [name]: { S: holder } } });

/** The item as we write it, or what is wrong with it: a lock we cannot read is never "free". */
function parseItem(phase: string, raw: StoredItem): LockItem {
  const text = (k: string) => (typeof raw[k]?.S === 'string' && raw[k].S !== '' ? raw[k].S : undefined);
  const expires = raw.expiresAt?.N !== undefined ? Number(raw.expiresAt.N) : NaN;
  const malformed = [
    ...['holder', 'command', 'startedAt'].filter((k) => text(k) === undefined),
    ...(Number.isFinite(expires) ? [] : ['expiresAt']),
  ];
  if (malformed.length) return { phase, malformed, item: raw };
  return { phase, holder: text('holder')!, machine: text('machine'), ...(text('pidns') ? { pidns: text('pidns') } : {}), command: text('command')!, startedAt: text('startedAt')!, expiresAt: expires };
}

export async function readLock(ctx: Ctx): Promise<LockItem | undefined> {
  try {
    const found = await getItem(lockCall(ctx), LOCK_TABLE, key(ctx.phase));
    return found ? parseItem(ctx.phase, found) : undefined;
  } catch (err) {
    if (isAwsCode(err, 'ResourceNotFoundException')) return undefined;
    throw err;
  }
}

/** The exact command that deletes the phase's lock item, for the operator to run. */
export function clearLockCommand(ctx: Pick<Ctx, 'phase' | 'configFile'>, cwd = process.cwd()): string {
  const rel = path.relative(cwd, ctx.configFile);
  const file = rel && !rel.startsWith('..') && !path.isAbsolute(rel) ? rel : ctx.configFile;
  return ['./run', '-e', file, '--', 'aws', 'dynamodb', 'delete-item', '--table-name', LOCK_TABLE, '--key', JSON.stringify(key(ctx.phase))].map(quoteForDisplay).join(' ');
}

export function malformedLockError(ctx: Pick<Ctx, 'phase' | 'configFile'>, lock: MalformedLock): StateError {
  return new StateError(
    `the deploy lock of phase '${ctx.phase}' is malformed: its item in ${LOCK_TABLE} lacks a valid ${lock.malformed.join(', ')} ` +
      `(the item: ${JSON.stringify(lock.item)}). No run of Johanna wrote it, and it blocks every deploy of the phase until it is deleted`,
    `check that no deploy of '${ctx.phase}' is running, then clear it with: ${clearLockCommand(ctx)}`,
  );
}

/** What `status` and the deploy both say about the lock, from one reading. */
export type LockState =
  | { state: 'free'; expired?: LockHolder }
  | { state: 'held'; holder: LockHolder }
  | { state: 'malformed'; lock: MalformedLock; clear: string }
  | { state: 'unknown'; error: string };

export async function lockState(ctx: Ctx, now = Date.now()): Promise<LockState> {
  let lock: LockItem | undefined;
  try {
    lock = await readLock(ctx);
  } catch (err) {
    return { state: 'unknown', error: (err as Error).message };
  }
  if (!lock) return { state: 'free' };
  if (isMalformed(lock)) return { state: 'malformed', lock, clear: clearLockCommand(ctx) };
  return lock.expiresAt * 1000 > now ? { state: 'held', holder: lock } : { state: 'free', expired: lock };
}

function describeHolder(h: LockHolder): string {
  return `${h.holder} (${h.command}, since ${h.startedAt}, expires ${new Date(h.expiresAt * 1000).toISOString()})`;
}

/** One attempt: we hold the lock now, another run does, or the item vanished under us (try again). */
type Attempt = { acquired: true } | { acquired: false; holder?: LockHolder };

async function tryAcquire(ctx: Ctx, me: LockHolder, ttlSeconds: number): Promise<Attempt> {
  // ALL_OLD answers with the item we replaced, so taking over an expired lock costs no extra read.
  // The lease runs from this put, not from when the run started: a run that waited for
  // the lock must not write a lease that has already run out (issue 20 item 6).
  const put = () => {
    me.expiresAt = nowSeconds() + ttlSeconds;
    // The run's first call also reads AWS's clock from its answer's Date header (R103), so a
    // run that takes the lock needs no call of its own to learn it (issue 27).
    return putItem(bookkeepingCall(ctx, LOCK_TABLE_SPEC, { measureClock: true }), LOCK_TABLE, item(me), {
      condition: { expression: 'attribute_not_exists(phase) OR expiresAt < :now', values: { ':now': { N: String(nowSeconds()) } } },
      returnOld: true,
    });
  };
  let old;
  try {
    old = await put();
  } catch (err) {
    if (isAwsCode(err, CONDITION_FAILED)) return heldBy(ctx, me);
    if (!isAwsCode(err, 'ResourceNotFoundException')) throw err;
    // The first run ever in this account and region: make the table, then try again, and
    // a run that raced us to it may hold the lock by now. The history's table is missing
    // too, then: it is asked for at once and not waited for, since the run's last write is
    // minutes away and makes it itself if it is not there yet (withTable): two calls fewer.
    await Promise.all([createTable(ctx.call, ctx.log, LOCK_TABLE_SPEC), askCreateTable(bookkeepingCall(ctx, HISTORY_TABLE_SPEC), ctx.log, HISTORY_TABLE_SPEC)]);
    try {
      old = await put();
    } catch (again) {
      if (isAwsCode(again, CONDITION_FAILED)) return heldBy(ctx, me);
      throw again;
    }
  }
  if (old?.holder?.S) {
    ctx.log.warn(
      `took over an expired deploy lock from ${old.holder.S} (${old.command?.S ?? '?'}, since ${old.startedAt?.S ?? '?'})`,
    );
  }
  return { acquired: true };
}

/**
 * Who holds the lock we just failed to take. It may be us: when the answer to our put is
 * lost, the CLI sends the put again and the retry fails its own condition against the
 * item the first one wrote. A dead run of this machine's lock is taken over at once.
 */
async function heldBy(ctx: Ctx, me: LockHolder): Promise<Attempt> {
  const holder = await readLock(ctx);
  if (!holder) return { acquired: false };
  if (isMalformed(holder)) throw malformedLockError(ctx, holder);
  if (holder.holder === me.holder) {
    ctx.log.debug('the deploy lock already names this run (a put whose answer was lost, then retried): we hold it');
    return { acquired: true };
  }
  // Dead only if provably on this machine (boot id) AND in this PID namespace: a pid says
  // nothing about a process in another container, whatever its host name (item 5).
  const deadHere = sameMachineAndNamespace(holder, me) && isDeadHereHolder(holder.holder);
  if (!deadHere) return { acquired: false, holder };
  // Killed on this very machine (its pid is gone): no need to wait for the expiry.
  ctx.log.warn(`the deploy lock was held by ${holder.holder}, a run on this machine that is no longer running; taking it over`);
  try {
    await takeOver(ctx, me, holder.holder);
  } catch (e) {
    if (!isAwsCode(e, CONDITION_FAILED)) throw e;
    const now = await readLock(ctx);
    if (isMalformed(now)) throw malformedLockError(ctx, now);
    if (now?.holder === me.holder) return { acquired: true };
    return { acquired: false, holder: now ?? holder };
  }
  return { acquired: true };
}

/** The kernel's id of this boot: differs between hosts (and reboots), even when host names match. */
export function thisMachine(): string | undefined {
  try {
    return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim() || undefined;
  } catch {
    return undefined;
  }
}

/** The inode of this process's PID namespace, from `/proc/self/ns/pid` (`pid:[4026531836]`). */
export function thisPidNamespace(): string | undefined {
  try {
    return /\[(\d+)\]/.exec(readlinkSync('/proc/self/ns/pid'))?.[1];
  } catch {
    return undefined;
  }
}

/** Both the boot id and the PID namespace recorded, and both ours; anything unknown is "not provably here". */
export function sameMachineAndNamespace(holder: Pick<LockHolder, 'machine' | 'pidns'>, me: Pick<LockHolder, 'machine' | 'pidns'>): boolean {
  return holder.machine !== undefined && holder.machine === me.machine && holder.pidns !== undefined && holder.pidns === me.pidns;
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
  await putItem(lockCall(ctx), LOCK_TABLE, item(me), { condition: namesHolder(dead, ':dead') });
}

/**
 * Keeps the lease alive while the run lives, and fences the run's changes (issue 20 item 7).
 * A renewal moves the expiry to a full TTL from now, conditionally on the item still naming
 * us; it is due only once a third of the TTL has passed since the last one (issue 27: a
 * short run never renews). `create` and `terminate` chain two deadlines, so a run may
 * legitimately outlast one TTL; a killed run stops renewing and its lock expires as before.
 */
class Lease {
  private timer: NodeJS.Timeout | undefined;
  private inFlight: Promise<void> | undefined;
  private lost = false;
  private stopped = false;

  constructor(
    private readonly ctx: Ctx,
    private readonly me: LockHolder,
    private readonly ttlSeconds: number,
    private readonly everyMs: number,
  ) {}

  start(): void {
    this.schedule();
  }

  /** The next renewal, everyMs after the last one (a fence's renewal counts). */
  private schedule(): void {
    clearTimeout(this.timer);
    if (this.stopped || this.lost) return;
    this.timer = setTimeout(() => {
      if (!this.inFlight) this.inFlight = this.renew().then(() => (this.inFlight = undefined));
    }, this.everyMs);
    // The lease follows the run; it never keeps a finished process alive.
    this.timer.unref();
  }

  /** No renewal runs after this resolves, so the release that follows is the last word. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.inFlight;
  }

  /**
   * The fence before a change to production: one conditional write that proves the item
   * still names us with an unexpired lease, and extends it. Lost (deleted, taken over,
   * expired): LockLostError, exit 3, before the change. A write that fails for another
   * reason (DynamoDB unreachable) lets the step go only while our own lease has a third of
   * its TTL left: no other run can take an unexpired lock.
   */
  async confirm(step: string): Promise<void> {
    await this.inFlight;
    if (this.lost) throw this.lostError(step);
    const ok = await this.renew({ unexpired: true });
    if (this.lost) throw this.lostError(step);
    if (!ok && this.me.expiresAt - nowSeconds() < this.ttlSeconds / 3) {
      throw new LockLostError(`cannot confirm that this run still holds the deploy lock of phase '${this.me.phase}' (its lease ends ${new Date(this.me.expiresAt * 1000).toISOString()}); stopping before ${step}`, 'check ./run status; run the command again once DynamoDB answers');
    }
  }

  private lostError(step: string): LockLostError {
    return new LockLostError(
      `this run no longer holds the deploy lock of phase '${this.me.phase}' (deleted, or taken over after its lease lapsed); stopped before ${step}, which was not done`,
      'check ./run status for what the other run is doing, then run this command again',
    );
  }

  private async renew(o: { unexpired?: boolean } = {}): Promise<boolean> {
    const expiresAt = nowSeconds() + this.ttlSeconds;
    try {
      const extend = { expression: 'SET expiresAt = :expires', values: { ':expires': { N: String(expiresAt) } } };
      const cond = namesHolder(this.me.holder);
      const condition = o.unexpired ? { expression: `${cond.expression} AND expiresAt > :now`, values: { ...cond.values, ':now': { N: String(nowSeconds()) } } } : cond;
      await updateItem(lockCall(this.ctx), LOCK_TABLE, key(this.me.phase), extend, condition);
      this.me.expiresAt = expiresAt;
      this.ctx.log.debug(`renewed the deploy lock until ${new Date(expiresAt * 1000).toISOString()}`);
      this.schedule();
      return true;
    } catch (err) {
      if (isAwsCode(err, CONDITION_FAILED)) {
        // Our item is gone, names another run, or its lease ran out: someone deleted it by
        // hand or took it over. Renewing again could only fail the same way.
        this.lost = true;
        clearTimeout(this.timer);
        this.ctx.log.warn(`the deploy lock of phase '${this.me.phase}' no longer names this run (deleted or taken over); another run may start while this one works`);
        return false;
      }
      this.ctx.log.warn(`could not renew the deploy lock (trying again in ${Math.round(this.everyMs / 60_000)} min): ${(err as Error).message}`);
      this.schedule();
      return false;
    }
  }

  /** Right after a wait for the lock: the renewal clock starts now (item 6). */
  async renewNow(): Promise<void> {
    await this.renew();
  }
}

/**
 * Runs whose deploy-history record releases the lock in the same write (issue 27: one
 * transact-write-items instead of a delete-item and a put-item). Set before the run; once
 * the work is done, it holds the holder to release.
 */
const finalWrites = new WeakMap<object, LockHolder | null>();

/** Called before the run: its lock is to be released by the history's final write, not by withPhaseLock. */
export function releaseWithRecord(ctx: Ctx): void {
  finalWrites.set(ctx, null);
}

/** After the run: the lock it still holds (the caller now releases it), if any. */
export function takeRelease(ctx: Ctx): LockHolder | undefined {
  const me = finalWrites.get(ctx) ?? undefined;
  finalWrites.delete(ctx);
  return me;
}

/** The release as an action of a transaction: delete our item, only if it still names us. */
export function releaseAction(me: LockHolder): TransactItem {
  const c = namesHolder(me.holder);
  return { Delete: { TableName: LOCK_TABLE, Key: key(me.phase), ConditionExpression: c.expression, ExpressionAttributeValues: c.values } };
}

/** The lease of the run each context belongs to, for fence(). */
const leases = new WeakMap<object, Lease>();

/**
 * Before each step that changes production (create-environment, a swap, every terminate):
 * stop with exit 3, nothing more changed, unless this run still holds an unexpired lease
 * (issue 20 item 7). A run without the lock (a dry run, a read-only command) passes.
 */
export async function fence(ctx: Ctx, step: string): Promise<void> {
  if (ctx.dryRun) return;
  await leases.get(ctx)?.confirm(step);
}

export interface PhaseLockOptions {
  /** How often a live run renews its lease (default: a third of the TTL, so two renewals may fail before it lapses). */
  renewEveryMs?: number;
  /** --lock-wait: how long to wait for another run's lock before exiting 3 (default 0). */
  waitMinutes?: number;
}

export async function withPhaseLock<T>(ctx: Ctx, fn: () => Promise<T>, o: PhaseLockOptions = {}): Promise<T> {
  // Never shorter than the longest a deploy may take, or a second host could take over a
  // lock whose renewal is merely late.
  const ttlMinutes = Math.max(ctx.config.lock.TTL_MINUTES, ctx.config.nova.DEPLOY_TIMEOUT_MINUTES + 30);
  const me: LockHolder = {
    phase: ctx.phase,
    holder: `${os.userInfo().username}@${os.hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`,
    machine: thisMachine(),
    pidns: thisPidNamespace(),
    command: ctx.command,
    startedAt: new Date().toISOString(),
    expiresAt: 0, // set by each put: the lease runs from the moment we hold the lock
  };
  const waitMinutes = o.waitMinutes ?? 0;
  const deadline = Date.now() + waitMinutes * 60_000;
  let vanished = 0;
  const waitStarted = Date.now();
  let waitedFor: LockHolder | undefined;
  for (;;) {
    const attempt = await tryAcquire(ctx, me, ttlMinutes * 60);
    if (attempt.acquired) {
      if (waitedFor) ctx.log.info(`got the deploy lock after waiting ${Math.round((Date.now() - waitStarted) / 1000)} s for ${waitedFor.holder} (${waitedFor.command})`);
      break;
    }
    // Released between our put and our read: try again at once, a few times.
    if (!attempt.holder && ++vanished < 3) continue;
    const taken = attempt.holder ?? { ...me, holder: 'another run' };
    if (Date.now() >= deadline) {
      throw new LockedError(
        `phase '${ctx.phase}' is locked by ${describeHolder(taken)}`,
        waitMinutes ? `still locked after waiting ${waitMinutes} min` : 'wait for that run to finish, or pass --lock-wait <minutes> to wait for it',
      );
    }
    waitedFor = taken;
    ctx.log.live(`waiting for the deploy lock held by ${taken.holder} (${taken.command})`, waitStarted);
    await pause(Math.min(5000, Math.max(0, deadline - Date.now())), ctx.signal);
    throwIfInterrupted(ctx.signal, 'the deploy lock');
  }
  const lease = new Lease(ctx, me, ttlMinutes * 60, o.renewEveryMs ?? (ttlMinutes * 60_000) / 3);
  lease.start();
  if (waitedFor) await lease.renewNow();
  leases.set(ctx, lease);
  // finally covers success, a failure, an exception in the command and an interrupt (the
  // signal only aborts the run's waits: the command unwinds through here).
  try {
    return await fn();
  } finally {
    leases.delete(ctx);
    await lease.stop();
    // The history, when it follows, releases the lock in the same write as its record (issue 27).
    if (finalWrites.has(ctx)) finalWrites.set(ctx, me);
    else await release(ctx, me);
  }
}

export async function release(ctx: Ctx, me: LockHolder): Promise<void> {
  try {
    await deleteItem(lockCall(ctx), LOCK_TABLE, key(ctx.phase), namesHolder(me.holder));
  } catch (err) {
    if (isAwsCode(err, CONDITION_FAILED)) {
      // A delete whose answer was lost and was retried finds nothing: released all the same.
      const now = await readLock(ctx).catch(() => undefined);
      if (!now || isMalformed(now) || now.holder !== me.holder) {
        if (now && !isMalformed(now)) ctx.log.warn(`the deploy lock had been taken over by ${now.holder} before this run released it`);
        return;
      }
    }
    ctx.log.warn(`could not release the deploy lock: ${(err as Error).message}`);
  }
}

/** The lock in the same words the deploy uses when it meets it (status, status --watch). */
export function describeLock(lock: LockState): string {
  switch (lock.state) {
    case 'free':
      return 'free';
    case 'held':
      return `held by ${lock.holder.holder} (${lock.holder.command}, since ${lock.holder.startedAt})`;
    case 'malformed':
      return (
        `MALFORMED: the item lacks a valid ${lock.lock.malformed.join(', ')} (${JSON.stringify(lock.lock.item)}); ` +
        `it blocks every deploy of the phase. Clear it with: ${lock.clear}`
      );
    case 'unknown':
      return `unknown: could not read it: ${lock.error}`;
  }
}
