// What a command is: the words the registry and every command file share, in a file of
// their own so that no command imports the registry (which loads the commands).
import type { Ctx } from '../context.js';

export type CommandResult = Record<string, unknown>;

/**
 * Every command's own options, parsed and typed once at the CLI edge (src/args.ts
 * commandOptions): numbers are numbers, flags are booleans. A command passes on what its
 * steps need (deployNova(ctx, { hold, waitMinutes })); nothing below src/commands/ reads
 * CLI flags.
 */
export interface CommandOptions {
  /** create_nova --hold: stop before the swap. */
  hold: boolean;
  /** create_nova/promote --no-bake: no bake after the swap (issue 21). */
  noBake: boolean;
  /** create_nova --wait: minutes to wait for a Launching/Updating environment to settle. */
  waitMinutes?: number;
  /** --lock-wait: minutes to wait for another run's deploy lock (changing commands). */
  lockWaitMinutes?: number;
  /** terminate_eb_old_environment --grace-minutes. */
  graceMinutes?: number;
  /** terminate_eb_old_environment --force-drain. */
  forceDrain: boolean;
  /** history/events -n. */
  count?: number;
  /** events/logs --environment. */
  environment?: string;
  /** events --follow. */
  follow: boolean;
  /** status --watch [seconds]: refresh every this many seconds until Ctrl-C. */
  watchSeconds?: number;
  /** logs --all. */
  all: boolean;
  /** --report [FILE] on a changing command: write the run's HTML report (true: beside its run log). */
  report?: string | true;
  /** report [RUN]: a run log's file name, stamp or path. */
  run?: string;
  /** report --out FILE. */
  out?: string;
  /** report --period: CloudWatch's period in seconds. */
  periodSeconds?: number;
}

export type CommandFn = (ctx: Ctx, opts: CommandOptions) => Promise<CommandResult>;

/** status --watch without a number: every 5 s, two to four EB reads a refresh, far under EB's Describe* rate (R90). */
export const WATCH_DEFAULT_SECONDS = 5;
