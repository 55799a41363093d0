// `events`: EB's events for the application without the EB CLI: the live environment's by
// default (--environment for another, which may be gone: its events stay for 6 weeks),
// oldest first, one plain timestamped line each. --follow keeps polling until Ctrl-C.
import type { Ctx } from '../context.js';
import { StateError, UsageError } from '../errors.js';
import * as eb from '../aws/eb.js';
import { holderOfMain, mainCname } from '../deploy/environments.js';
import { checkEnvironmentName } from '../deploy/pick-environment.js';
import { pause, pollMs } from '../time.js';
import { plainLine } from '../ui/plain-text.js';
import type { CommandOptions, CommandResult } from './types.js';

const DEFAULT_COUNT = 50;
/** EB's event on both environments of a CNAME swap. */
const SWAPPED = /Completed swapping CNAMEs for environments/;
/** How often --follow asks which environment is live, besides after a swap event: 12 polls, a minute on AWS. */
const LIVE_RECHECK_POLLS = 12;
/** DescribeEvents' MaxRecords is 1-1000 (the model's range; EB refuses more, R19). */
export const MAX_COUNT = 1000;

export interface EventLine {
  date: string;
  severity: string;
  environment?: string;
  message: string;
}

export async function events(ctx: Ctx, opts: CommandOptions): Promise<CommandResult> {
  const follow = opts.follow;
  if (follow && ctx.json) throw new UsageError('--follow prints events as they come; --json prints one document at the end', 'drop one of them');
  const named = checkEnvironmentName(opts.environment);
  const count = opts.count ?? DEFAULT_COUNT;
  if (count > MAX_COUNT) {
    throw new UsageError(`-n ${count}: EB answers at most ${MAX_COUNT} events (DescribeEvents' MaxRecords is 1-${MAX_COUNT})`, `pass -n ${MAX_COUNT} or less; for older events use --environment, or the EB console`);
  }
  const app = ctx.config.elasticbeanstalk.APPLICATION_NAME;
  const environment = named ?? (await liveEnvironment(ctx, app));

  const first = await eb.describeEvents(ctx.call, app, { environmentName: environment, maxRecords: count });
  const shown = [...first].reverse().map(toLine);
  for (const l of shown) ctx.log.result(format(l));
  if (!shown.length && named) await checkKnown(ctx, app, named);
  if (!shown.length) ctx.log.info(`no events for ${environment ?? `application ${app}`}`);
  if (!follow) return { application: app, environment, events: shown };

  ctx.log.info(`following ${environment ?? `application ${app}`}'s events (Ctrl-C to stop)${named || !environment ? '' : '; after a swap, the new live environment\'s'}`);
  const later = await followEvents(ctx, app, environment, first, first.length >= count, Boolean(environment && !named));
  return { application: app, environment, followed: true, printed: shown.length + later };
}

/**
 * No events for a named environment: say so only if EB knows it (live, or terminated and still
 * listed); an unknown name is a mistake to name, exit 1 (issue 20 "also fix"), not "no events".
 */
async function checkKnown(ctx: Ctx, app: string, name: string): Promise<void> {
  const known = await eb.describeEnvironments(ctx.call, app, { names: [name], includeDeleted: true });
  if (known.some((e) => e.EnvironmentName === name)) return;
  throw new StateError(`application ${app} has no environment ${name} (nor a recently terminated one)`, './run status lists the environments; ./run history names the ones deploys made');
}

/** The live environment's name; without one (a phase not deployed yet) the whole application's events. */
async function liveEnvironment(ctx: Ctx, app: string): Promise<string | undefined> {
  const main = mainCname(ctx);
  const live = holderOfMain(await eb.describeEnvironments(ctx.call, app), main);
  if (!live) ctx.log.info(`no environment holds ${main}: showing every event of application ${app}`);
  return live?.EnvironmentName;
}

/**
 * Poll from the newest event seen. StartTime is inclusive ("on or after"), so events at that
 * very instant come again and are told apart by what they say. Ends at SIGINT/SIGTERM: an
 * interrupted follow is the normal way out, so it is not an error.
 */
async function followEvents(ctx: Ctx, app: string, environment: string | undefined, first: eb.EbEvent[], cut: boolean, followLive: boolean): Promise<number> {
  // With no event yet, every event that comes is new: start at the beginning of time.
  let since = first.length ? new Date(first[0].EventDate) : new Date(0);
  let seen = new Set(first.filter((e) => Date.parse(e.EventDate) === since.getTime()).map(key));
  // -n cut the list: other events of that same instant exist, and are not news.
  if (cut && first.length) {
    for (const e of await eb.describeEvents(ctx.call, app, { environmentName: environment, startTime: since, purpose: 'poll' })) {
      if (Date.parse(e.EventDate) === since.getTime()) seen.add(key(e));
    }
  }
  let printed = 0;
  let polls = 0;
  while (!ctx.signal.aborted) {
    await pause(pollMs(ctx), ctx.signal);
    if (ctx.signal.aborted) break;
    let batch: eb.EbEvent[];
    try {
      batch = await eb.describeEvents(ctx.call, app, { environmentName: environment, startTime: since, purpose: 'poll' });
    } catch (err) {
      // Ctrl-C reaches the aws child too, which then fails: that is the end, not an error.
      if (ctx.signal.aborted) break;
      throw err;
    }
    for (const e of [...batch].reverse()) {
      if (seen.has(key(e))) continue;
      ctx.log.result(format(toLine(e)));
      printed++;
    }
    if (batch.length) {
      const newest = new Date(batch[0].EventDate);
      if (newest.getTime() > since.getTime()) seen = new Set();
      since = newest;
      for (const e of batch) if (Date.parse(e.EventDate) === since.getTime()) seen.add(key(e));
    }
    // Following the live one (no --environment): a swap moves the main CNAME to another
    // environment, whose events are the ones to follow from then on (issue 20 "also fix").
    // Asked when the followed one reports a swap, and once a minute on AWS for one we missed.
    polls++;
    if (followLive && (polls % LIVE_RECHECK_POLLS === 0 || batch.some((e) => SWAPPED.test(e.Message)))) {
      const now = holderOfMain(await eb.describeEnvironments(ctx.call, app, { purpose: 'poll' }), mainCname(ctx))?.EnvironmentName;
      if (now && now !== environment) {
        ctx.log.info(`${now} now holds ${mainCname(ctx)}: following its events (was ${environment})`);
        environment = now;
      }
    }
  }
  return printed;
}

function key(e: eb.EbEvent): string {
  return `${e.EventDate}\u0000${e.EnvironmentName ?? ''}\u0000${e.Message}`;
}

function toLine(e: eb.EbEvent): EventLine {
  return {
    date: new Date(e.EventDate).toISOString(),
    severity: e.Severity ?? 'INFO',
    environment: e.EnvironmentName,
    message: plainLine(e.Message),
  };
}

/** `2026-11-27 04:00:01Z INFO  nova-1764216000  createEnvironment is starting.` */
export function format(l: EventLine): string {
  const when = l.date.replace('T', ' ').replace(/\.\d+Z$/, 'Z');
  return `${when} ${l.severity.padEnd(5)} ${l.environment ?? '-'}  ${l.message}`;
}
