// The commands users type. `changes` commands ask for the phase confirmation and hold the
// deploy lock; read-only and local ones ask nothing.
import type { Ctx } from '../context.js';

export type CommandResult = Record<string, unknown>;
export type CommandFn = (ctx: Ctx) => Promise<CommandResult>;

export interface CommandSpec {
  name: string;
  summary: string;
  changes: boolean;
  load: () => Promise<CommandFn>;
}

export const COMMANDS: CommandSpec[] = [
  {
    name: 'create',
    summary: 'create_vpc, then create_nova: (re)provision the whole phase',
    changes: true,
    load: async () => (await import('./create.js')).create,
  },
  {
    name: 'create_vpc',
    summary: 'create what the phase is missing: key pair, IAM roles, EB application, VPC and network',
    changes: true,
    load: async () => (await import('./create-vpc.js')).createVpc,
  },
  {
    name: 'create_nova',
    summary: 'the daily deploy: a new Nova environment, health-gated, swapped in with no downtime',
    changes: true,
    load: async () => (await import('./create-nova.js')).createNova,
  },
  {
    name: 'terminate',
    summary: 'terminate_nova, then terminate_vpc: remove the whole phase',
    changes: true,
    load: async () => (await import('./terminate.js')).terminate,
  },
  {
    name: 'terminate_nova',
    summary: 'terminate every environment of the application and wait until they are gone',
    changes: true,
    load: async () => (await import('./terminate-nova.js')).terminateNova,
  },
  {
    name: 'terminate_vpc',
    summary: "delete the phase's network, roles, key pair and application (only what carries its tags)",
    changes: true,
    load: async () => (await import('./terminate-vpc.js')).terminateVpc,
  },
  {
    name: 'terminate_eb_old_environment',
    summary: 'terminate environments that lost the main CNAME more than the grace period ago',
    changes: true,
    load: async () => (await import('./terminate-eb-old-environment.js')).terminateEbOldEnvironment,
  },
  {
    name: 'status',
    summary: "show the phase: network resources, environments, which one is live, the lock (read-only)",
    changes: false,
    load: async () => (await import('./status.js')).status,
  },
  {
    name: 'rollback',
    summary: 'swap the main CNAME back to the previous environment while it still lives',
    changes: true,
    load: async () => (await import('./rollback.js')).rollback,
  },
  {
    name: 'history',
    summary: "the phase's deploy history, newest first: who ran what, when, how it ended (read-only; -n)",
    changes: false,
    load: async () => (await import('./history.js')).history,
  },
  {
    name: 'events',
    summary: "EB's events of the live environment, oldest first (read-only; -n, --environment, --follow)",
    changes: false,
    load: async () => (await import('./events.js')).events,
  },
  {
    name: 'logs',
    summary: "the live environment's instance logs, last 100 lines of each (read-only; --environment, --all for whole files)",
    changes: false,
    load: async () => (await import('./logs.js')).logs,
  },
];

export function findCommand(name: string): CommandSpec | undefined {
  const canonical = name.replace(/-/g, '_');
  return COMMANDS.find((c) => c.name === canonical);
}
