// The daily deploy: a brand-new environment, health-gated, probed, then swapped in with
// the live one's CNAME, so nothing is down. Any failure before the swap leaves the live
// environment untouched and removes the new one.
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Ctx } from '../context.js';
import { AwsCliError, DeployError, InterruptedError, StateError, VerifyError } from '../errors.js';
import * as eb from '../aws/eb.js';
import * as s3 from '../aws/s3.js';
import { ownerTags, tagValue } from '../aws/tags.js';
import { findPhaseNetwork, isOurs } from '../infra/discover.js';
import { iamNames } from '../infra/names.js';
import { packageNova, versionLabelFor } from './package.js';
import { busyEnvironments, choosePlatform, cnameFor, dnsTtlMs, findHeld, holderOfMain, isLive, mainCname, sameHost, stuckRecovery, ENV_PREFIX, HELD_TAG, type Busy } from './environments.js';
import { httpGet, probeUntilServing } from './probe.js';
import { compiledLogs } from './instance-logs.js';
import { fence } from './lock.js';
import { CANDIDATE_TAG, candidateTags, removeEnvironment, removeMarked, settleBoundMs } from './remove.js';
import { novaOptionSettings } from './settings.js';
import { runSmokeTest } from './smoke-test.js';
import { pause, pollMs, waitFor } from '../time.js';
import { ledgerOf, readHistoryOf } from './history.js';
import { alarmStates } from '../aws/cloudwatch.js';
import type { BakeResult } from './bake-result.js';

export interface DeployResult {
  newEnvironment: string;
  oldEnvironment?: string;
  /** The version the old environment runs (what the bake swaps back to). */
  previousVersionLabel?: string;
  versionLabel: string;
  cname: string;
  newEnvironmentCname?: string;
  solutionStack?: string;
  gitHashJohanna?: string;
  gitHashNova?: string;
  elapsedSeconds: number;
  readyToServingMs?: number;
  /** When the swap completed (the history records it: issue 20 item 4). */
  swappedAt?: string;
  /** When every client honouring the DNS TTL reaches the new environment (after a swap). */
  dnsSettledAt?: string;
  dnsTtlSeconds?: number;
  oldEligibleForRemovalAt?: string;
  /** create_nova --hold: the new environment was made, checked and left on its own CNAME. */
  held?: boolean;
  heldSince?: string;
  /** create_nova --wait: how long it waited for other environments to settle. */
  waitedSeconds?: number;
  dryRun?: boolean;
  /** The bake after the swap (issue 21): its verdict and figures; absent when nothing was swapped. */
  bake?: BakeResult;
  /** nova.BAKE_ALARMS in ALARM before the swap (the bake ignores them). */
  alarmsFiringBeforeSwap?: string[];
}

const DRY_RUN_NETWORK = {
  vpcId: '<vpc-id>',
  publicSubnetIds: ['<subnet-public_1-id>', '<subnet-public_2-id>'] as [string, string],
  privateSubnetIds: ['<subnet-private_1-id>', '<subnet-private_2-id>'] as [string, string],
  ebPublicSgId: '<sg-eb_public-id>',
  ebPrivateSgId: '<sg-eb_private-id>',
};

/**
 * EB's words for a deploy that went wrong (aws-rules.md R8, R9, R11); seen in an event, we
 * stop waiting at once. Severe health during a launch is not among them: real launches often
 * pass through it and recover (R11), so the health gate judges health only once Ready.
 */
export const FAILURE_EVENT = /(is complete, but with errors|Failed to deploy application|Failed to launch environment|Stack named .* aborted|contains invalid YAML or JSON)/i;

const SEVERE_WHILE_LAUNCHING = 'EB reports Severe health while Launching; EB launches often pass through it, so the deploy waits';

/** Red/Severe after Ready must last this many polls in a row to fail the deploy. */
const RED_POLLS = 3;

/** What the health gate makes of one look at the environment and its new events. */
export type GateVerdict = { done: true } | { fail: string; hint?: string } | { wait: string; note?: string };

/**
 * The health gate as EB behaves: failure events fail at once; Red/Severe while Launching is
 * reported and waited out; Red/Severe after Ready fails once it has lasted RED_POLLS polls.
 */
export function healthGate(
  e: Pick<eb.Environment, 'Status' | 'Health' | 'HealthStatus' | 'VersionLabel'> | undefined,
  events: Pick<eb.EbEvent, 'Message' | 'Severity'>[],
  label: string,
  redPolls: number,
): GateVerdict {
  for (const ev of events) {
    if (FAILURE_EVENT.test(ev.Message) || ev.Severity === 'FATAL') return { fail: ev.Message };
  }
  if (!e) return { wait: 'not visible yet' };
  if (!isLive(e)) return { fail: `it is ${e.Status}` };
  const red = e.Health === 'Red' || e.HealthStatus === 'Severe';
  if (red && e.Status === 'Launching') return { wait: `Launching, health ${e.Health} (${e.HealthStatus ?? '?'})`, note: SEVERE_WHILE_LAUNCHING };
  if (red && e.Status === 'Ready' && redPolls >= RED_POLLS) {
    return { fail: `it is Ready with health ${e.Health} (${e.HealthStatus ?? '?'})`, hint: 'the live environment was not touched; the new version fails its health check' };
  }
  if (e.Status === 'Ready' && e.Health === 'Green' && e.VersionLabel === label) return { done: true };
  return { wait: `${e.Status}, health ${e.Health ?? '?'}` };
}

/** What the preflight learned: nothing has been changed yet. */
interface Preflight {
  app: string;
  main: string;
  network: NonNullable<Awaited<ReturnType<typeof findPhaseNetwork>>> | typeof DRY_RUN_NETWORK;
  /** The environment that holds the main CNAME today, if any. */
  old?: eb.Environment;
  stack: string;
  /** The deploy's second: names the version, the new environment and its CNAME prefix. */
  now: Date;
  /** --hold: stop before the swap, tag the new environment HELD_TAG with this time. */
  holdSince?: string;
  waitedSeconds?: number;
}

/** The new environment, created (or adopted after a lost answer). */
interface Created {
  versionLabel: string;
  newName: string;
  cnamePrefix: string;
  gitHashJohanna: string;
  gitHashNova: string;
}

/**
 * The daily deploy, as the steps a person would list: preflight, package and upload,
 * create, then go live (health gate, probe, smoke test, swap, verify, DNS). One deadline
 * for all of it; the cleanup rule for a failure is in goLive, in one place.
 */
/** What the command asks of the deploy (create_nova's options, typed at the CLI edge). */
export interface DeployOptions {
  /** --hold: stop before the swap. */
  hold?: boolean;
  /** --wait: minutes to wait for another environment's operation to settle. */
  waitMinutes?: number;
}

export async function deployNova(ctx: Ctx, o: DeployOptions = {}): Promise<DeployResult> {
  const started = Date.now();
  const deadline = started + ctx.config.nova.DEPLOY_TIMEOUT_MINUTES * 60_000;
  const pre = await ctx.steps.run('preflight', () => preflight(ctx, deadline, o));
  const version = await ctx.steps.run('package', () => packageAndUpload(ctx, pre));
  const created = await ctx.steps.run('launch', () => createNewEnvironment(ctx, pre, version));
  const base: Omit<DeployResult, 'elapsedSeconds'> = {
    newEnvironment: created.newName,
    oldEnvironment: pre.old?.EnvironmentName,
    previousVersionLabel: pre.old?.VersionLabel,
    versionLabel: created.versionLabel,
    cname: pre.main,
    newEnvironmentCname: cnameFor(ctx, created.cnamePrefix),
    solutionStack: pre.stack,
    gitHashJohanna: created.gitHashJohanna,
    gitHashNova: created.gitHashNova,
    ...(pre.holdSince ? { held: true, heldSince: pre.holdSince } : {}),
    ...(pre.waitedSeconds !== undefined ? { waitedSeconds: pre.waitedSeconds } : {}),
  };
  if (ctx.dryRun) {
    ctx.log.plan(`(then: wait for ${created.newName} Ready/Green, probe ${ctx.config.nova.HEALTH_CHECK_URL}${pre.holdSince ? ', and hold it there: no swap' : pre.old ? `, swap CNAMEs with ${pre.old.EnvironmentName}` : ''})`);
    return { ...base, elapsedSeconds: (Date.now() - started) / 1000, dryRun: true };
  }
  const live = await goLive(ctx, pre, created, deadline);
  const result: DeployResult = { ...base, elapsedSeconds: Math.round((Date.now() - started) / 100) / 10, ...live };
  if (result.held) printHeld(ctx, result);
  else printSummary(ctx, result);
  const before = pre.old ? `${pre.old.EnvironmentName} (${pre.old.VersionLabel ?? '?'})` : undefined;
  ctx.summary = result.held
    ? { outcome: `held ${result.versionLabel} in ${result.newEnvironment}; ${result.cname} still serves ${result.oldEnvironment ?? 'nothing'}`, cname: result.newEnvironmentCname, before }
    : { outcome: `deployed ${result.versionLabel} to ${result.newEnvironment}, live since ${clock(result.swappedAt)}`, cname: result.cname, before };
  return result;
}

/** 1. Everything read, nothing changed: the network, the live environment, the platform, the CNAMEs. */
async function preflight(ctx: Ctx, deadline: number, o: DeployOptions): Promise<Preflight> {
  const app = ctx.config.elasticbeanstalk.APPLICATION_NAME;
  const nova = ctx.config.nova;
  const main = mainCname(ctx);
  ctx.log.step('preflight: the phase network, the application\'s environments, the CNAMEs');
  // AWS's clock is read here, beside the reads, once for the run: the stuck check below and
  // the events of the launch compare with EB's timestamps (R103).
  const [found, listed, stacks] = await Promise.all([
    findPhaseNetwork(ctx),
    eb.describeEnvironments(ctx.call, app),
    eb.listSolutionStacks(ctx.call),
    ctx.aws.clockOffset(),
  ]);
  // A dry run of `create` on a new phase has planned the network but not made it.
  const network = found ?? (ctx.dryRun ? DRY_RUN_NETWORK : undefined);
  if (!network) throw new StateError(`the phase '${ctx.phase}' has no VPC made by Johanna`, 'run create_vpc first (or create, which does both)');
  // An environment a killed or interrupted deploy left behind goes first (src/deploy/remove.ts).
  // One history query serves both rules below: for the environments marked or held by their tags.
  const tags = await candidateTags(ctx, listed, main);
  const named = new Set([...tags].filter(([, t]) => tagValue(t, CANDIDATE_TAG) !== undefined || tagValue(t, HELD_TAG) !== undefined).map(([n]) => n));
  const ledger = named.size ? ledgerOf(await readHistoryOf(ctx, [...named])) : { swaps: [], holds: new Map() };
  const marked = await removeMarked(ctx, app, listed, ledger, main, deadline);
  const current = marked.removed.length ? await eb.describeEnvironments(ctx.call, app) : listed;
  const waitStarted = Date.now();
  const envs = await waitYourTurn(ctx, app, current, deadline, o.waitMinutes);
  const waitedSeconds = envs === current ? undefined : Math.round((Date.now() - waitStarted) / 1000);
  const old = holderOfMain(envs, main);
  // One held environment at a time: a second would leave the operator two candidates and
  // the cleanup two environments it may not touch.
  const [held] = await findHeld(ctx, app, envs, main, { ledger, of: named });
  if (held) {
    const h = held.environment;
    throw new StateError(
      `${h.EnvironmentName} (${h.VersionLabel ?? '?'}, at ${h.CNAME ?? '?'}) is held since ${held.since}: create_nova --hold made it and it has not been swapped in`,
      `promote it with ./run promote, or remove it with ./run discard; then run create_nova again`,
    );
  }
  const holdSince = o.hold ? new Date().toISOString() : undefined;
  if (holdSince && !old) {
    throw new StateError(`--hold keeps a new environment beside the live one, but nothing serves ${main} yet`, 'run the first deploy without --hold');
  }
  if (old && old.Status !== 'Ready') {
    throw new StateError(`${old.EnvironmentName} holds ${main} but is ${old.Status}, not Ready`, 'wait until it is Ready, or terminate it, then deploy again');
  }
  const platform = choosePlatform(stacks, { wanted: nova.PLATFORM, live: old?.SolutionStackName });
  const stack = platform.stack;
  if (!stack) {
    throw new StateError(
      nova.PLATFORM ? `no solution stack matches nova.PLATFORM "${nova.PLATFORM}"` : 'no "running Node.js" solution stack is offered in this region',
      'list them with ./run -- aws elasticbeanstalk list-available-solution-stacks and set nova.PLATFORM',
    );
  }
  ctx.log.info(`  platform: ${stack} (${platform.why})`);
  if (platform.newerBranch) {
    ctx.log.warn(`a newer platform branch is offered: ${platform.newerBranch}; staying on ${stack}. To move, set nova.PLATFORM to it (test it first)`);
  }
  // CNAME prefixes are shared by every account in the region: the first deploy's, the
  // operator's nova.CNAME, may be held elsewhere, which would fail the create after the
  // upload, so it is asked about before anything is made. A daily deploy's prefix carries
  // the second it was made in; should one be taken all the same, create-environment says
  // so and the next second's is taken (createNewEnvironment): no call to ask first (issue 27).
  const now = new Date();
  const prefix = old ? `${nova.CNAME}-${Math.floor(now.getTime() / 1000)}` : nova.CNAME;
  let dns = old ? { available: true } : await eb.checkDnsAvailability(ctx.call, prefix);
  if (!dns.available && (await letGoOfMain(ctx, app, envs, main, deadline))) dns = await eb.checkDnsAvailability(ctx.call, prefix);
  if (!dns.available) {
    throw new StateError(
      `the CNAME prefix '${prefix}' (${cnameFor(ctx, prefix)}) is not available: another account or application in ${ctx.region} holds it`,
      prefix === nova.CNAME ? 'choose another nova.CNAME; nothing was created' : 'run create_nova again in a second; nothing was created',
    );
  }
  return { app, main, network, old, stack, now, holdSince, waitedSeconds };
}

/** How the preflight polls another environment to settle: from pollMs, growing 1.5x, up to 30 s (4 s in a sandbox). */
function settlePolls(ctx: Ctx): { intervalMs: number; backoff: number; maxIntervalMs: number } {
  return { intervalMs: pollMs(ctx), backoff: 1.5, maxIntervalMs: ctx.sandbox ? 4000 : 30_000 };
}

/**
 * EB keeps a terminating environment's CNAME until it is Terminated: right after a failed first
 * deploy was removed, its own environment, not another account, holds the main CNAME. Waits,
 * saying so, under the deploy's deadline, for that environment to be gone; true when it waited.
 */
async function letGoOfMain(ctx: Ctx, app: string, envs: eb.Environment[], main: string, deadline: number): Promise<boolean> {
  const leaving = envs.find((e) => e.Status === 'Terminating' && sameHost(e.CNAME, main));
  if (!leaving) return false;
  const name = leaving.EnvironmentName;
  ctx.log.info(`  ${name} is terminating and still holds ${main}, which EB lets go only once it is Terminated: waiting for that`);
  await waitFor(ctx, {
    what: `${name} to let go of ${main}`,
    deadline,
    ...settlePolls(ctx),
    hint: `nothing was created; run create_nova again once ${name} is Terminated`,
    check: async () => {
      const now = (await eb.describeEnvironments(ctx.call, app, { purpose: 'poll' })).find((e) => e.EnvironmentName === name);
      return !now || now.Status === 'Terminated' ? { done: true } : { state: `${name} is ${now.Status}` };
    },
  });
  return true;
}

/**
 * Another environment of the application is in the middle of an operation (another deploy,
 * EB's managed update, someone's update-environment). Without --wait: exit 1, as ever. With
 * --wait <minutes>: wait for it to settle, polling with backoff, under the deploy's deadline.
 * One stuck (the same status longer than nova.DEPLOY_TIMEOUT_MINUTES, by EB's DateUpdated)
 * is named with AWS's recovery steps and never waited for.
 */
async function waitYourTurn(ctx: Ctx, app: string, envs: eb.Environment[], deadline: number, waitMinutes: number | undefined): Promise<eb.Environment[]> {
  const timeout = ctx.config.nova.DEPLOY_TIMEOUT_MINUTES;
  const first = busyEnvironments(envs, ctx.aws.awsNow(), timeout);
  if (!first.length) return envs;
  throwIfStuck(first, timeout);
  const names = first.map((b) => b.environment.EnvironmentName).join(', ');
  if (waitMinutes === undefined) {
    throw new StateError(
      `environment${first.length > 1 ? 's' : ''} ${first.map((b) => `${b.environment.EnvironmentName} (${b.environment.Status})`).join(', ')} still changing`,
      'another deploy or an EB update may be running; wait for it, then run create_nova again (or pass --wait <minutes>)',
    );
  }
  const until = Math.min(deadline, Date.now() + waitMinutes * 60_000);
  const started = Date.now();
  ctx.log.step(`wait your turn: ${describeBusy(first)}; waiting up to ${Math.round((until - started) / 1000)} s for ${first.length > 1 ? 'them' : 'it'} to settle (--wait ${waitMinutes})`);
  const settled = await waitFor<eb.Environment[]>(ctx, {
    what: `${names} to settle`,
    deadline: until,
    ...settlePolls(ctx),
    hint: 'nothing was changed; run create_nova again later, or with a longer --wait',
    check: async () => {
      const now = await eb.describeEnvironments(ctx.call, app, { purpose: 'poll' });
      const busy = busyEnvironments(now, ctx.aws.awsNow(), timeout);
      throwIfStuck(busy, timeout);
      return busy.length ? { state: describeBusy(busy) } : { done: now };
    },
  });
  ctx.log.ok(`${names} settled after ${Math.round((Date.now() - started) / 1000)} s; going on with the deploy`);
  return settled;
}

function describeBusy(busy: Busy[]): string {
  return busy.map((b) => `${b.environment.EnvironmentName} is ${b.environment.Status}${b.since ? ` since ${b.since.toISOString()}` : ''}`).join(', ');
}

function throwIfStuck(busy: Busy[], timeoutMinutes: number): void {
  const stuck = busy.filter((b) => b.stuck);
  if (!stuck.length) return;
  const what = stuck
    .map((b) => `${b.environment.EnvironmentName} has been ${b.environment.Status} since ${b.since!.toISOString()} (${Math.floor(b.minutes!)} min, longer than nova.DEPLOY_TIMEOUT_MINUTES ${timeoutMinutes})`)
    .join('; ');
  throw new StateError(`stuck: ${what}; not waiting for it, nothing was changed`, stuck.map((b) => stuckRecovery(b.environment)).join('; '));
}

/** 2. Package Nova and upload it as an application version (adopted if a lost answer made it). */
async function packageAndUpload(ctx: Ctx, pre: Preflight): Promise<Omit<Created, 'newName' | 'cnamePrefix'>> {
  const nova = ctx.config.nova;
  const versionLabel = versionLabelFor(pre.now, ctx.phase);
  ctx.log.step(`package ${versionLabel}${nova.GIT_URL ? ` from ${nova.GIT_URL} ${nova.GIT_BRANCH}` : ' from ./nova'}`);
  const pkg = await packageNova({
    root: ctx.root,
    gitUrl: nova.GIT_URL,
    gitBranch: nova.GIT_BRANCH,
    asgMin: nova.AWS_ASG_MIN_VALUE,
    asgMax: nova.AWS_ASG_MAX_VALUE,
    versionLabel,
    outDir: path.join(ctx.root, '.build'),
  });
  ctx.log.info(`  ${pkg.files.length} files, ${(pkg.bytes / 1024).toFixed(1)} KiB; johanna ${pkg.gitHashJohanna}, nova ${pkg.gitHashNova}`);
  const key = `johanna/${pre.app}/${versionLabel}.zip`;
  const bucket = await upload(ctx, pre, key, pkg.zipPath);
  const made = await eb.createApplicationVersion(ctx.call, pre.app, versionLabel, bucket, key, `johanna ${pkg.gitHashJohanna}, nova ${pkg.gitHashNova}`);
  if (made === 'adopted') ctx.log.info(`  application version ${versionLabel} was already made by this run (a lost answer); using it`);
  return { versionLabel, gitHashJohanna: pkg.gitHashJohanna, gitHashNova: pkg.gitHashNova };
}

/**
 * The bundle into EB's bucket. A daily deploy knows the bucket's name from the live
 * environment's ARN (R80), and EB made the bucket when it first deployed, so it skips
 * create-storage-location; should the bucket be gone (NoSuchBucket), that call makes it
 * again. The first deploy asks EB for it. Answers the bucket used.
 */
async function upload(ctx: Ctx, pre: Preflight, key: string, file: string): Promise<string> {
  const call = ctx.call;
  const known = eb.storageBucketName(ctx.region, pre.old?.EnvironmentArn);
  if (known) {
    try {
      await s3.putObject(call, known, key, file);
      return known;
    } catch (err) {
      if (!(err instanceof AwsCliError && err.awsCode === 'NoSuchBucket')) throw err;
      ctx.log.info(`  EB's bucket ${known} is gone; asking EB to make it again`);
    }
  }
  const bucket = await eb.storageBucket(ctx.call);
  await s3.putObject(call, bucket, key, file);
  return bucket;
}

/**
 * 3. Create the new environment. Its name is unique per account and region, not per
 * application, so two phases deploying in the same second would collide: take the next.
 */
async function createNewEnvironment(ctx: Ctx, pre: Preflight, v: Omit<Created, 'newName' | 'cnamePrefix'>): Promise<Created> {
  const nova = ctx.config.nova;
  const names = iamNames(ctx.phase);
  const { network, old } = pre;
  let ts = Math.floor(pre.now.getTime() / 1000);
  // A Ctrl-C during packaging or the upload stops here, before anything runs at EB.
  if (ctx.signal?.aborted) throw new InterruptedError(`interrupted before create-environment: no environment was made (application version ${v.versionLabel} stays; the cleanup prunes old versions)`);
  for (let attempt = 1; ; attempt++, ts++) {
    const newName = `${ENV_PREFIX}${ts}`;
    const cnamePrefix = old ? `${nova.CNAME}-${ts}` : nova.CNAME;
    ctx.log.step(`create ${newName} at ${cnameFor(ctx, cnamePrefix)} (${pre.stack})`);
    await fence(ctx, `create-environment ${newName}`);
    try {
      await eb.createEnvironment(ctx.call, {
        app: pre.app,
        name: newName,
        cnamePrefix,
        versionLabel: v.versionLabel,
        solutionStack: pre.stack,
        optionSettings: novaOptionSettings(ctx, {
          vpcId: network.vpcId,
          privateSubnetIds: network.privateSubnetIds,
          publicSubnetIds: network.publicSubnetIds,
          privateSecurityGroupId: network.ebPrivateSgId,
          publicSecurityGroupId: network.ebPublicSgId,
          instanceProfile: names.instanceProfile,
          serviceRole: names.serviceRoleOption,
          versionLabel: v.versionLabel,
        }),
        tags: [
          ...ownerTags(ctx.phase, 'nova-environment'),
          { Key: 'git_hash_johanna', Value: v.gitHashJohanna },
          { Key: 'git_hash_nova', Value: v.gitHashNova },
          // Set once, here: see HELD_TAG for why a hold is never marked by changing tags later,
          // and CANDIDATE_TAG for the mark that a deploy which never goes live leaves.
          ...(pre.holdSince ? [{ Key: HELD_TAG, Value: pre.holdSince }] : [{ Key: CANDIDATE_TAG, Value: pre.now.toISOString() }]),
        ],
      }, { dryRun: ctx.dryRun });
      return { ...v, newName, cnamePrefix };
    } catch (err) {
      // A daily deploy's CNAME prefix held elsewhere (not asked about first): the next second's.
      const cnameTaken = old && err instanceof AwsCliError && /DNS name \(.*\) is not available/i.test(err.stderr);
      if (cnameTaken && attempt < 5) {
        ctx.log.warn(`the CNAME prefix ${cnamePrefix} is held elsewhere; trying ${nova.CNAME}-${ts + 1}`);
        continue;
      }
      const taken = err instanceof AwsCliError && /Environment .* already exists/i.test(err.stderr);
      if (!taken) throw err;
      // The aws CLI retries a request whose answer was lost; the retry finds the environment
      // the first attempt made. Ours carries our tags and this version: adopt it.
      if (await madeByThisRun(ctx, pre.app, newName, v.versionLabel)) {
        ctx.log.info(`  ${newName} already exists with our tags and ${v.versionLabel}: the create's answer was lost; adopting it`);
        return { ...v, newName, cnamePrefix };
      }
      if (attempt >= 5) throw err;
      ctx.log.warn(`${newName} is taken in this account (another phase deploying this second?); trying ${ENV_PREFIX}${ts + 1}`);
    }
  }
}

/**
 * 4-8. Health gate, probe and smoke test, swap, verify, DNS. The cleanup rule lives here,
 * once: a failure before the swap removes the new environment and leaves the live one
 * untouched; an interrupt once the swap has begun says the deploy went live and how to go
 * back; after the swap nothing is removed.
 */
async function goLive(ctx: Ctx, pre: Preflight, c: Created, deadline: number): Promise<Partial<DeployResult>> {
  const { app, main, old } = pre;
  const nova = ctx.config.nova;
  const left = () => Math.max(0, deadline - Date.now());
  let swapStarted = false;
  let swapped = false;
  try {
    // For the EB CLI passthrough on AWS; a sandbox phase has no EB CLI endpoint to give it,
    // and its many test phases would only fight over the one file. Inside the try, so a
    // file that cannot be written still removes the new environment.
    if (!ctx.sandbox) writeEbConfig(ctx, c.newName, pre.stack);

    // 4. Wait, with one deadline, printing EB's events as they come.
    const ready = await ctx.steps.run('ready', () => waitUntilReady(ctx, app, c.newName, c.versionLabel, deadline));
    const readyAt = Date.now();
    ctx.log.ok(`${c.newName} is Ready, Green, running ${c.versionLabel}`);

    // 5. (The original closed the SSH port EB opened to the world here. EB opens 22 only
    // from SSHSourceRestriction, which settings.ts sets to the VPC, so it is never open to
    // the world: no describe and no revoke, a call saved every day; issue 27, aws-rules R46.)
    // 6. Probe the new environment itself, then the operator's smoke test.
    const own = ready.CNAME ?? cnameFor(ctx, c.cnamePrefix);
    await ctx.steps.run('probe', () => checkBeforeSwap(ctx, c.newName, own, c.versionLabel, { probeMs: Math.min(60_000, left()), smokeMs: left() }));
    if (pre.holdSince) {
      return { readyToServingMs: Date.now() - readyAt };
    }

    // 7. Swap, once. The bake's alarms are read first: one already in ALARM says nothing of
    // the new version, so the bake ignores it.
    const firingBefore = old && nova.BAKE_MINUTES > 0 && nova.BAKE_ALARMS.length ? (await alarmStates(ctx.call, nova.BAKE_ALARMS)).filter((a) => a.state === 'ALARM').map((a) => a.name) : [];
    const ttlMs = await dnsTtlMs(ctx);
    let swapDoneAt = Date.now();
    if (old) {
      ctx.log.step(`swap CNAMEs: ${c.newName} takes ${main} from ${old.EnvironmentName}`);
      swapStarted = true;
      await ctx.steps.run('swap', () => swapVerified(ctx, app, old.EnvironmentName, c.newName, main));
      swapped = true;
      swapDoneAt = Date.now();
    }
    // 8. Verify: the main CNAME serves the new version (HTTP first: it is what users see),
    // then that EB says the new one holds it. Our own resolver may still hold the old answer
    // for up to the TTL, so the verification gets at least 5 minutes even past the deadline.
    const verifyMs = Math.max(left(), 5 * 60_000, 2 * ttlMs);
    const servingMs = await ctx.steps.run('verify', async () => {
      const verify = await probeUntilServing(ctx, main, nova.HEALTH_CHECK_URL, c.versionLabel, { times: 1, deadlineMs: verifyMs, intervalMs: 200 });
      if (!verify.ok) throw new VerifyError(`${main} does not serve ${c.versionLabel} after the swap: ${verify.last}`);
      const serving = Date.now() - readyAt;
      await waitUntilHolding(ctx, app, c.newName, main, verifyMs);
      return serving;
    });
    // 9. Until the DNS TTL has passed, clients may still reach the old one: it is not free.
    const dns = old ? await ctx.steps.run('DNS', () => waitOutDnsTtl(ctx, main, old.EnvironmentName, c.newName, swapDoneAt, ttlMs)) : undefined;
    const graceMs = nova.OLD_ENVIRONMENT_GRACE_MINUTES * 60_000;
    return {
      readyToServingMs: servingMs,
      swappedAt: old ? new Date(swapDoneAt).toISOString() : undefined,
      dnsSettledAt: dns?.toISOString(),
      dnsTtlSeconds: old ? ttlMs / 1000 : undefined,
      oldEligibleForRemovalAt: old ? new Date(swapDoneAt + Math.max(graceMs, ttlMs)).toISOString() : undefined,
      ...(firingBefore.length ? { alarmsFiringBeforeSwap: firingBefore } : {}),
    };
  } catch (err) {
    if (swapStarted && err instanceof InterruptedError) throw await interruptedAfterSwap(ctx, app, main, c.newName, c.versionLabel, old!.EnvironmentName, err);
    if (err instanceof DeployError) await showFailure(ctx, c.newName, cnameFor(ctx, c.cnamePrefix));
    if (!swapped && !swapStarted) await discardFailed(ctx, c.newName, old?.EnvironmentName, deadline);
    throw err;
  }
}

/**
 * The checks before a swap, for the daily deploy and for promote: the environment's own
 * CNAME answers 200 with `label` 3 times in a row, then the operator's smoke test passes.
 */
export async function checkBeforeSwap(ctx: Ctx, name: string, own: string, label: string, o: { probeMs: number; smokeMs: number; hint?: string }): Promise<void> {
  const url = ctx.config.nova.HEALTH_CHECK_URL;
  const probe = await probeUntilServing(ctx, own, url, label, { times: 3, deadlineMs: o.probeMs, intervalMs: pollMs(ctx) });
  if (!probe.ok) throw new DeployError(`${name} does not serve ${label} at http://${own}${url}: ${probe.last}`, o.hint);
  ctx.log.ok(`probe: http://${own}${url} answered 200 with ${label} 3 times in a row`);
  await runSmokeTest(ctx, own, o.smokeMs);
}

/** Whether `name` is the environment this deploy made: our ownership tags and our version. */
export async function madeByThisRun(ctx: Ctx, app: string, name: string, label: string): Promise<boolean> {
  const [e] = await eb.describeEnvironments(ctx.call, app, { names: [name] });
  if (!e?.EnvironmentArn || e.VersionLabel !== label) return false;
  return isOurs(await eb.listTags(ctx.call, e.EnvironmentArn), ctx.phase, 'nova-environment');
}

/**
 * Swap the CNAMEs once, and know whether it happened. The aws CLI retries a request whose
 * answer was lost; at EB the retry either meets the swap in progress
 * (OperationInProgressFailure) or, later, swaps back (R17). So an error is never answered
 * with a second swap: EB is asked what it did, and the swap counts when `to` holds `main`.
 */
export async function swapVerified(ctx: Ctx, app: string, from: string, to: string, main: string): Promise<void> {
  let failure: unknown;
  await fence(ctx, `the swap of ${main} from ${from} to ${to}`);
  try {
    await eb.swapCnames(ctx.call, from, to);
  } catch (err) {
    if (!(err instanceof AwsCliError)) throw err;
    failure = err;
    ctx.log.warn(`the swap call failed (${err.awsCode ?? `exit ${err.cliExitCode}`}); asking EB whether it swapped anyway, without swapping again`);
  }
  if (ctx.dryRun) return;
  // EB takes about 5 s to swap (R12); the sandbox, its swap delay.
  await waitFor(ctx, {
    what: `EB to give ${main} to ${to}`,
    deadline: Date.now() + (failure ? 60_000 : 10 * 60_000),
    intervalMs: Math.min(pollMs(ctx), 1000),
    hint: failure ? `the swap did not happen (${(failure as Error).message}); ${from} keeps serving` : undefined,
    check: async () => {
      const [e] = await eb.describeEnvironments(ctx.call, app, { names: [to], purpose: 'poll' });
      return e && sameHost(e.CNAME, main) ? { done: e } : { state: `${to} at ${e?.CNAME} (${e?.Status})` };
    },
  });
  if (failure) ctx.log.ok(`EB did swap: ${to} holds ${main} (the failed call's answer was lost)`);
}

/** After a swap verified over HTTP: wait until EB, too, shows `name` Ready and holding `main`. */
export async function waitUntilHolding(ctx: Ctx, app: string, name: string, main: string, ms: number): Promise<eb.Environment> {
  return waitFor<eb.Environment>(ctx, {
    what: `EB to show ${name} holding ${main}`,
    deadline: Date.now() + ms,
    intervalMs: Math.min(pollMs(ctx), 1000),
    check: async () => {
      const [e] = await eb.describeEnvironments(ctx.call, app, { names: [name], purpose: 'poll' });
      return e && sameHost(e.CNAME, main) && e.Status === 'Ready' ? { done: e } : { state: `${name} at ${e?.CNAME} (${e?.Status})` };
    },
  });
}

/**
 * After a swap, clients that resolved `main` before it keep reaching `from` until their DNS
 * answer expires. Wait that out (60 s on AWS), then say so: until then `from` is not free.
 */
export async function waitOutDnsTtl(ctx: Ctx, main: string, from: string, to: string, swapDoneAt: number, ttlMs: number): Promise<Date> {
  const at = new Date(swapDoneAt + ttlMs);
  ctx.log.info(`  DNS: clients that resolved ${main} before the swap reach ${from} until ${at.toISOString()} (TTL ${ttlMs / 1000} s); it keeps serving them`);
  await pause(Math.max(0, at.getTime() - Date.now()), ctx.signal);
  if (ctx.signal?.aborted) throw new InterruptedError(`interrupted while waiting for the DNS TTL of ${main} to pass`);
  ctx.log.ok(`DNS TTL passed: every client that honours it now reaches ${to} at ${main}`);
  return at;
}

/** An interrupt once the swap was asked for (the daily deploy, promote): say where the main CNAME is now, and how to go back. */
export async function interruptedAfterSwap(ctx: Ctx, app: string, main: string, to: string, label: string, from: string, err: InterruptedError): Promise<InterruptedError> {
  let holder: string | undefined;
  try {
    holder = holderOfMain(await eb.describeEnvironments(ctx.call, app), main)?.EnvironmentName;
  } catch {
    holder = undefined;
  }
  if (holder === to) {
    return new InterruptedError(
      `${err.message}; the deploy went live: ${to} (${label}) serves ${main}, ${from} keeps answering clients with cached DNS`,
      `./run rollback swaps back to ${from}`,
    );
  }
  return new InterruptedError(
    `${err.message}, during the swap of ${main} from ${from} to ${to}: ${holder ? `${holder} holds it now` : 'EB did not say who holds it'}; EB may still complete the swap`,
    `check ./run status; if ${to} serves ${main}, ./run rollback swaps back to ${from}`,
  );
}

async function waitUntilReady(ctx: Ctx, app: string, name: string, label: string, deadline: number): Promise<eb.Environment> {
  // One start for the whole wait, not the newest event seen: EB may make an event visible
  // after a later-stamped one, and a start moved past it would never return it. The ids
  // seen keep each event printed once; a launch has tens of events, far below a page's
  // 1,000. It is also one poll, asked the same way each time (issue 27's count). EB's
  // events are stamped by AWS's clock, and --start-time is read by it: a minute before now
  // by AWS's clock, not this machine's (R103), or a clock ahead of AWS's misses the first.
  await ctx.aws.clockOffset();
  const since = new Date(ctx.aws.awsNow().getTime() - 60_000);
  const seen = new Set<string>();
  let redPolls = 0;
  let noted = false;
  return waitFor<eb.Environment>(ctx, {
    what: `${name} to be Ready and Green with ${label}`,
    deadline,
    // Two EB calls a poll, a poll every 2 x pollMs (10 s on AWS; an environment launches in
    // minutes): one waiting deploy stays within POLL_BUDGET_PER_MINUTE (12 a minute on AWS),
    // so six phases of one account fit in EB's Describe* rate (2/s, R90) with room to spare.
    intervalMs: 2 * pollMs(ctx),
    check: async () => {
      const [envs, events] = await Promise.all([
        eb.describeEnvironments(ctx.call, app, { names: [name], purpose: 'poll' }),
        eb.describeEvents(ctx.call, app, { environmentName: name, startTime: since, purpose: 'poll' }),
      ]);
      const fresh = [...events].reverse().filter((ev) => {
        const id = ev.EventDate + ev.Message;
        if (seen.has(id)) return false;
        seen.add(id);
        return true;
      });
      for (const ev of fresh) ctx.log.info(`  EB ${ev.Severity ?? 'INFO'}: ${ev.Message}`);
      const e = envs[0];
      redPolls = e && e.Status === 'Ready' && (e.Health === 'Red' || e.HealthStatus === 'Severe') ? redPolls + 1 : 0;
      const verdict = healthGate(e, fresh, label, redPolls);
      if ('fail' in verdict) {
        throw new DeployError(`${name} failed: ${verdict.fail}`, verdict.hint);
      }
      // A poll may miss a short Severe spell during the launch; its event never is.
      const launchEnded = fresh.findIndex((ev) => /^Successfully launched environment/.test(ev.Message));
      const severeEvent = fresh.findIndex((ev) => /transitioned from \w+ to Severe/.test(ev.Message));
      const note = ('note' in verdict ? verdict.note : undefined) ?? (severeEvent >= 0 && (launchEnded < 0 || severeEvent < launchEnded) ? SEVERE_WHILE_LAUNCHING : undefined);
      if (note && !noted) {
        noted = true;
        ctx.log.warn(note);
      }
      if ('done' in verdict) return { done: e! };
      return { state: verdict.wait };
    },
  });
}

/** How long a failed deploy waits for EB to compile the new environment's log tail. */
const FAILURE_LOGS_MS = 30_000;
/** Log lines shown per instance after a failed deploy (`./run logs` shows the last 100). */
const FAILURE_LOG_LINES = 20;

/**
 * What a failed deploy's new environment says about itself, shown before it is removed (EB's
 * events only say "completed with errors"): what the health check answers, then the last
 * lines of each instance's logs. Anything that cannot be read is said, and never fails the run.
 */
async function showFailure(ctx: Ctx, name: string, host: string): Promise<void> {
  const url = ctx.config.nova.HEALTH_CHECK_URL;
  try {
    const a = await httpGet(ctx, host, url);
    ctx.log.info(`  health check: http://${host}${url} answered ${a.status}: ${a.body.replace(/\s+/g, ' ').trim().slice(0, 200) || '(empty body)'}`);
  } catch (err) {
    ctx.log.info(`  health check: http://${host}${url} did not answer: ${(err as Error).message}`);
  }
  try {
    const [instances, before] = await Promise.all([eb.environmentInstances(ctx.call, name), eb.retrieveEnvironmentInfo(ctx.call, name, 'tail')]);
    if (!instances.length) return ctx.log.info(`  ${name} has no instances to take logs from`);
    await eb.requestEnvironmentInfo(ctx.call, name, 'tail');
    const { logs, missing } = await compiledLogs(ctx, name, 'tail', instances, before, FAILURE_LOGS_MS);
    for (const l of logs) {
      const lines = l.files.flatMap((f) => f.text.replace(/\n$/, '').split('\n')).slice(-FAILURE_LOG_LINES);
      ctx.log.info(`  the last ${lines.length} log lines of ${l.instanceId} (${name}):`);
      for (const line of lines) ctx.log.info(`    ${line}`);
    }
    if (missing.length) ctx.log.info(`  no logs came from ${missing.join(', ')} within ${FAILURE_LOGS_MS / 1000} s`);
  } catch (err) {
    if (err instanceof InterruptedError) throw err;
    ctx.log.warn(`could not fetch ${name}'s log tail: ${(err as Error).message}`);
  }
}

/**
 * Remove the new environment of a deploy that failed or was interrupted before the swap.
 * EB refuses to terminate it while it launches (R40), so this waits for the launch to end,
 * within the deadline and settleBoundMs, saying so; what it cannot wait for stays marked
 * for removal (CANDIDATE_TAG), and the next create_nova or cleanup removes it first.
 */
async function discardFailed(ctx: Ctx, name: string, old: string | undefined, deadline: number): Promise<void> {
  const keep = ctx.config.nova.KEEP_FAILED_ENVIRONMENT;
  try {
    // A swap that failed on our side may still have happened on EB's (a lost answer, then a
    // retry that errs): never terminate the environment that serves the main CNAME. A first
    // deploy's environment holds it from birth and never served anyone: it goes like any
    // failed one (issue 20 item 14), and the next create_nova starts afresh.
    const main = mainCname(ctx);
    const [env] = old ? await eb.describeEnvironments(ctx.call, ctx.config.elasticbeanstalk.APPLICATION_NAME, { names: [name] }) : [];
    if (env && sameHost(env.CNAME, main)) {
      ctx.log.warn(`${name} holds ${main} after all; it stays. Check ./run status (./run rollback swaps back).`);
      return;
    }
  } catch (err) {
    ctx.log.warn(`could not check whether ${name} serves ${ctx.config.nova.CNAME}: ${(err as Error).message}; leaving it in place`);
    return;
  }
  ctx.log.warn(`${old ? `${old} keeps serving; ` : `nothing served ${ctx.config.nova.CNAME} before this first deploy; `}${keep ? `keeping ${name} for inspection (nova.KEEP_FAILED_ENVIRONMENT)` : `removing ${name} (set nova.KEEP_FAILED_ENVIRONMENT to keep a failed one for inspection)`}`);
  if (keep) return;
  const boundMs = Math.min(settleBoundMs(ctx), Math.max(0, deadline - Date.now()));
  try {
    const r = await removeEnvironment(ctx, ctx.config.elasticbeanstalk.APPLICATION_NAME, name, { boundMs });
    if (r === 'left') {
      const why = boundMs <= 0 ? 'the deploy\'s deadline has passed' : `it did not end within ${Math.round(boundMs / 1000)} s`;
      ctx.log.warn(`${name} is still launching and EB refuses to terminate it meanwhile; ${why}, so it is left marked for removal: the next create_nova or ./run terminate_eb_old_environment removes it first (./run status shows it)`);
    } else ctx.log.info(`  ${r === 'already' ? 'already terminating' : 'terminating'} ${name}`);
  } catch (err) {
    ctx.log.warn(`could not terminate ${name}: ${(err as Error).message}; it stays marked for removal: the next create_nova or terminate_eb_old_environment removes it`);
  }
}

/** So that `cd nova; ../run -- eb list` works as in the talk (ignored by git). */
export function writeEbConfig(ctx: Pick<Ctx, 'root' | 'config' | 'region'>, envName: string, platform?: string): void {
  const dir = path.join(ctx.root, 'nova', '.elasticbeanstalk');
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    path.join(dir, 'config.yml'),
    [
      '# Written by johanna create_nova for the EB CLI passthrough (cd nova; ../run -- eb ...).',
      'branch-defaults:',
      '  default:',
      `    environment: ${envName}`,
      'global:',
      `  application_name: ${ctx.config.elasticbeanstalk.APPLICATION_NAME}`,
      // As `eb init` writes it: `eb platform show` and `eb create` read it (a missing one is
      // an AttributeError in ebcli/objects/solutionstack.py, found by the real EB CLI).
      ...(platform ? [`  default_platform: ${platform}`] : []),
      `  default_region: ${ctx.region}`,
      '  profile: null',
      '  sc: null',
      '  workspace_type: Application',
      '',
    ].join('\n'),
  );
}

/** `07:25:03 UTC`: when it went live (the swap), or now for a first deploy that swapped nothing. */
function clock(iso: string | undefined): string {
  return (iso ?? new Date().toISOString()).slice(11, 19) + ' UTC';
}

function printSummary(ctx: Ctx, r: DeployResult): void {
  ctx.log.result(`deployed ${r.versionLabel} to ${r.newEnvironment}; ${r.cname} serves it`);
  if (r.oldEnvironment) ctx.log.result(`  previous: ${r.oldEnvironment}, now at ${r.newEnvironmentCname}; DNS TTL (${r.dnsTtlSeconds} s) passed at ${r.dnsSettledAt}; eligible for removal after ${r.oldEligibleForRemovalAt}`);
  ctx.log.result(`  git: johanna ${r.gitHashJohanna}, nova ${r.gitHashNova}`);
  ctx.log.result(`  took ${r.elapsedSeconds}s; Ready to serving on the main CNAME: ${((r.readyToServingMs ?? 0) / 1000).toFixed(1)}s`);
}

function printHeld(ctx: Ctx, r: DeployResult): void {
  ctx.log.result(`held ${r.versionLabel} in ${r.newEnvironment} at ${r.newEnvironmentCname} (since ${r.heldSince}); ${r.cname} still serves ${r.oldEnvironment}`);
  ctx.log.result(`  git: johanna ${r.gitHashJohanna}, nova ${r.gitHashNova}; took ${r.elapsedSeconds}s`);
  ctx.log.result(`  next: ${ctx.hint('-f promote')} swaps it in (probed again, verified, DNS TTL waited out); ${ctx.hint('-f discard')} removes it`);
}
