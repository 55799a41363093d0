// The commands users type. `changes` commands ask for the phase confirmation and hold the
// deploy lock; read-only and local ones ask nothing.
import type { CommandFn } from './types.js';

export type { CommandFn, CommandOptions, CommandResult } from './types.js';

/** An option that belongs to some commands only; elsewhere it is refused (exit 2). */
export interface OptionSpec {
  flags: string;
  description: string;
  /** For a numeric value: the test it must pass and how to say what is expected. */
  number?: { ok: (n: number) => boolean; what: string };
}

export interface CommandSpec {
  name: string;
  summary: string;
  changes: boolean;
  /** The command's own options; changing commands also take --lock-wait. */
  options?: OptionSpec[];
  /** A positional argument commander parses (`[run]`); commands without one take none. */
  argument?: { name: string; description: string };
  /** One line shown under the command's --help. */
  example?: string;
  load: () => Promise<CommandFn>;
}

/** Every changing command holds the deploy lock, so each can wait for another run's. */
export const LOCK_WAIT: OptionSpec = {
  flags: '--lock-wait <minutes>',
  description: "wait up to this long for whatever is in the way, another run's deploy lock or (create_nova) an updating environment, instead of exiting; the same as create_nova's --wait",
  number: { ok: (n) => n >= 0, what: 'minutes, 0 or more' },
};

export const GRACE_MINUTES: OptionSpec = {
  flags: '--grace-minutes <n>',
  description: 'override the grace period (nova.OLD_ENVIRONMENT_GRACE_MINUTES) for this run',
  number: { ok: (n) => Number.isInteger(n) && n >= 0, what: 'a whole number of minutes, 0 or more' },
};

export const FORCE_DRAIN: OptionSpec = {
  flags: '--force-drain',
  description: "skip the traffic check (nova.DRAIN_QUIET_MINUTES of no requests on the old environment's load balancer): the grace period alone decides",
};

const NUMBER = (what: string, dflt: number): OptionSpec => ({
  flags: '-n, --number <n>',
  description: `how many ${what} to show [${dflt}]`,
  number: { ok: (n) => Number.isInteger(n) && n > 0, what: 'a whole number, 1 or more' },
});
const ENVIRONMENT: OptionSpec = { flags: '--environment <name>', description: 'this environment instead of the live one' };

/** Every changing command can write its run's HTML report once it is done (./run report). */
export const REPORT: OptionSpec = {
  flags: '--report [file]',
  description: "when done, write the run's HTML report (steps, aws calls, requests per environment, history record) to FILE, default beside its run log in logs/<phase>/",
};

/** A command's options, including the ones every changing command takes. */
export function optionsOf(spec: Pick<CommandSpec, 'changes' | 'options'>): OptionSpec[] {
  return [...(spec.options ?? []), ...(spec.changes ? [LOCK_WAIT, REPORT] : [])];
}

export const COMMANDS: CommandSpec[] = [
  {
    name: 'create',
    summary: 'create_vpc, then create_nova: (re)provision the whole phase',
    changes: true,
    example: './run -e env.json -f create',
    load: async () => (await import('./create.js')).create,
  },
  {
    name: 'create_vpc',
    summary: 'create what the phase is missing: key pair, IAM roles, EB application, VPC and network',
    changes: true,
    example: './run -e env.json --dry-run create_vpc',
    load: async () => (await import('./create-vpc.js')).createVpc,
  },
  {
    name: 'create_nova',
    summary: 'the daily deploy: a new Nova environment, health-gated, swapped in with no downtime',
    changes: true,
    example: './run -f create_nova   (every morning, from cron or CI); ./run -f create_nova --hold --wait 20',
    options: [
      { flags: '--no-bake', description: 'skip the bake after the swap (nova.BAKE_MINUTES): nothing watches the new version under traffic, and the output says so' },
      { flags: '--hold', description: 'stop before the CNAME swap: the new environment stays on its own CNAME, checked and held (./run promote, ./run discard)' },
      {
        flags: '--wait <minutes>',
        description: "wait up to this long for whatever is in the way, an environment Launching or Updating or another run's deploy lock, instead of exiting (a stuck environment still fails); the same as --lock-wait",
        number: { ok: (n) => n > 0, what: 'minutes, more than 0' },
      },
    ],
    load: async () => (await import('./create-nova.js')).createNova,
  },
  {
    name: 'terminate',
    summary: 'terminate_nova, then terminate_vpc: remove the whole phase',
    changes: true,
    example: './run -e env.json terminate',
    load: async () => (await import('./terminate.js')).terminate,
  },
  {
    name: 'terminate_nova',
    summary: 'terminate every environment of the application and wait until they are gone',
    changes: true,
    example: './run -e env.json -f terminate_nova',
    load: async () => (await import('./terminate-nova.js')).terminateNova,
  },
  {
    name: 'terminate_vpc',
    summary: "delete the phase's network, roles, key pair and application (only what carries its tags)",
    changes: true,
    example: './run -e env.json -f terminate_vpc',
    load: async () => (await import('./terminate-vpc.js')).terminateVpc,
  },
  {
    name: 'terminate_eb_old_environment',
    summary: 'terminate environments that lost the main CNAME more than the grace period ago and whose traffic has stopped',
    changes: true,
    example: './run -f terminate_eb_old_environment --grace-minutes 0',
    options: [GRACE_MINUTES, FORCE_DRAIN],
    load: async () => (await import('./terminate-eb-old-environment.js')).terminateEbOldEnvironment,
  },
  {
    name: 'status',
    summary: "show the phase: network resources, environments, which one is live, the lock (read-only)",
    changes: false,
    options: [
      {
        flags: '--watch [seconds]',
        description: 'redraw a compact live view every few seconds [5] until Ctrl-C (exit 0): live, held and old environments with req/s, 5xx share and P99, when each old one may go, the lock',
        number: { ok: (n) => n >= 1 && n <= 3600, what: 'seconds from 1 to 3600' },
      },
    ],
    example: './run -e env.json status --json',
    load: async () => (await import('./status.js')).status,
  },
  {
    name: 'rollback',
    summary: 'swap the main CNAME back to the previous environment while it still lives',
    changes: true,
    example: './run -f rollback',
    load: async () => (await import('./rollback.js')).rollback,
  },
  {
    name: 'promote',
    summary: 'swap in the environment create_nova --hold left on its own CNAME: probed again, verified, DNS TTL waited out',
    changes: true,
    example: './run -f promote',
    options: [
      { flags: '--no-bake', description: 'skip the bake after the swap (nova.BAKE_MINUTES): nothing watches the new version under traffic, and the output says so' },
    ],
    load: async () => (await import('./promote.js')).promote,
  },
  {
    name: 'discard',
    summary: 'terminate the environment create_nova --hold left on its own CNAME',
    changes: true,
    example: './run -f discard',
    load: async () => (await import('./discard.js')).discard,
  },
  {
    name: 'history',
    summary: "the phase's deploy history, newest first: who ran what, when, how it ended (read-only)",
    changes: false,
    options: [NUMBER('records', 20)],
    example: './run history -n 5 --json',
    load: async () => (await import('./history.js')).history,
  },
  {
    name: 'events',
    summary: "EB's events of the live environment, oldest first (read-only)",
    changes: false,
    // At most 1000: DescribeEvents' MaxRecords is 1-1000 (R19); refused at parse, before any call.
    options: [{ ...NUMBER('events', 50), number: { ok: (n) => Number.isInteger(n) && n > 0 && n <= 1000, what: "a whole number from 1 to 1000 (EB's limit)" } }, ENVIRONMENT, { flags: '--follow', description: 'keep printing new events until Ctrl-C (exit 0)' }],
    example: './run events --follow',
    load: async () => (await import('./events.js')).events,
  },
  {
    name: 'logs',
    summary: "the live environment's instance logs, last 100 lines of each (read-only)",
    changes: false,
    options: [ENVIRONMENT, { flags: '--all', description: 'the whole log files (bundle), not the last 100 lines (tail)' }],
    example: './run logs --environment nova-1764216000',
    load: async () => (await import('./logs.js')).logs,
  },
  {
    name: 'report',
    summary: "write one self-contained HTML page for a run, the newest changing one by default: its steps and aws calls, requests per environment around the swap (CloudWatch), its history record (read-only)",
    changes: false,
    argument: { name: '[run]', description: 'a run log in logs/<phase>/: its file name, a stamp prefix, or a path' },
    options: [
      { flags: '-o, --out <file>', description: 'where to write the page [beside the run log, .html]' },
      {
        flags: '--period <seconds>',
        description: "CloudWatch's period for the requests chart [60]; 1, 5, 10, 30 or a multiple of 60",
        number: { ok: (n) => [1, 5, 10, 30].includes(n) || (Number.isInteger(n) && n > 0 && n % 60 === 0), what: 'seconds: 1, 5, 10, 30 or a multiple of 60 (CloudWatch)' },
      },
    ],
    example: './run report --period 60; ./run report 20261203T134742Z -o deploy.html',
    load: async () => (await import('./report.js')).report,
  },
];
