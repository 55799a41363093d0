// `./run sandbox start|stop|status`, and the automatic start for a phase whose config has
// a `sandbox` section, so `./run -e env.sandbox.json -f create` works on a fresh clone.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { loadConfig } from '../config/load.js';
import type { GlobalOptions, SandboxTarget } from '../context.js';
import { EXIT, UsageError } from '../errors.js';
import type { Logger } from '../ui/log.js';

// Loaded on use: a real-AWS run never needs the sandbox's code.
const control = () => import('../../sandbox/control.js');

export const DEFAULT_PORT = 4566;
export const DEFAULT_ROUTER_PORT = 4580;

function stateDir(root: string): string {
  return path.join(root, '.sandbox');
}

function portOf(hostPort: string): number {
  return Number(hostPort.replace(/\/$/, '').split(':').pop());
}

/** Anything answering HTTP there (our sandbox, or a moto or LocalStack of the user's own). */
async function answers(endpoint: string): Promise<boolean> {
  try {
    await fetch(endpoint, { signal: AbortSignal.timeout(1500) });
    return true;
  } catch {
    return false;
  }
}

/** Start the sandbox in the background if nothing answers at the phase's endpoint yet. */
export async function ensureSandbox(root: string, target: SandboxTarget, log: Logger): Promise<void> {
  if (await answers(target.endpoint)) return;
  const { startSandbox } = await control();
  log.step(`starting the local sandbox at ${target.endpoint} (router ${target.router})`);
  const s = await startSandbox({ port: portOf(target.endpoint), routerPort: portOf(target.router), stateDir: stateDir(root) });
  log.ok(`sandbox running (pid ${s.pid}); stop it with ./run sandbox stop`);
}

/** `./run sandbox start`'s own flags; the strict ones are in seconds (or a rate, or a list). */
export interface SandboxFlags {
  port?: string;
  routerPort?: string;
  failRate?: string;
  foreground?: boolean;
  natDelay?: string;
  eniLinger?: string;
  iamDelay?: string;
  dnsTtl?: string;
  loseResponses?: string;
  takenCnames?: string;
  launchHealthBlip?: boolean;
}

function strictFromFlags(opts: SandboxFlags) {
  const ms = (s: string | undefined) => (s === undefined ? undefined : Number(s) * 1000);
  const given = {
    natDelayMs: ms(opts.natDelay),
    eniLingerMs: ms(opts.eniLinger),
    iamDelayMs: ms(opts.iamDelay),
    dnsTtlMs: ms(opts.dnsTtl),
    loseResponses: opts.loseResponses === undefined ? undefined : Number(opts.loseResponses),
    takenCnames: opts.takenCnames?.split(',').map((c) => c.trim()).filter(Boolean),
    launchHealthBlip: opts.launchHealthBlip || undefined,
  };
  return Object.fromEntries(Object.entries(given).filter(([, v]) => v !== undefined));
}

export interface SandboxCommandInput {
  root: string;
  action: string | undefined;
  opts: GlobalOptions & SandboxFlags;
  log: Logger;
  configFile: string;
}

export async function sandboxCommand(i: SandboxCommandInput): Promise<number> {
  const { opts, log } = i;
  const dir = stateDir(i.root);
  const { sandboxStatus, startSandbox, stopSandbox } = await control();
  // Ports default to the phase config's sandbox section when there is one.
  let port = DEFAULT_PORT;
  let routerPort = DEFAULT_ROUTER_PORT;
  if (existsSync(i.configFile)) {
    const sb = loadConfig(i.configFile).config.sandbox;
    if (sb) {
      port = portOf(sb.ENDPOINT);
      routerPort = portOf(sb.ROUTER);
    }
  }
  if (opts.port) port = Number(opts.port);
  if (opts.routerPort) routerPort = Number(opts.routerPort);

  switch (i.action) {
    case 'start': {
      // In the foreground the sandbox runs inside this process and startSandbox returns
      // only once it has been stopped (Ctrl-C or SIGTERM).
      if (opts.foreground) log.info(`sandbox in the foreground at http://127.0.0.1:${port}, router 127.0.0.1:${routerPort}; Ctrl-C stops it`);
      const s = await startSandbox({
        port,
        routerPort,
        stateDir: dir,
        failRate: opts.failRate ? Number(opts.failRate) : undefined,
        foreground: Boolean(opts.foreground),
        strict: strictFromFlags(opts),
      });
      if (opts.json) log.jsonResult({ ok: true, command: 'sandbox start', ...s });
      else if (opts.foreground) log.result('sandbox stopped');
      else log.result(`${s.alreadyRunning ? 'already running' : 'started'}: endpoint ${s.endpoint}, router ${s.router} (pid ${s.pid}, log ${path.join(dir, 'sandbox.log')})`);
      return EXIT.ok;
    }
    case 'stop': {
      const s = await stopSandbox(dir);
      if (opts.json) log.jsonResult({ ok: true, command: 'sandbox stop', ...s });
      else log.result(s.stopped ? `stopped (pid ${s.pid})` : 'not running');
      return EXIT.ok;
    }
    case 'status': {
      const s = await sandboxStatus(dir);
      if (opts.json) {
        log.jsonResult({ ok: true, command: 'sandbox status', ...s });
      } else if (!s.running) {
        log.result('not running (start it with ./run sandbox start)');
      } else {
        log.result(`running: endpoint ${s.endpoint}, router ${s.router} (pid ${s.pid})`);
        for (const e of (s.environments ?? []) as Record<string, unknown>[]) {
          log.result(`  ${String(e.name).padEnd(20)} ${String(e.cname ?? '').padEnd(50)} ${e.status} ${e.health}`);
        }
      }
      return EXIT.ok;
    }
    default:
      throw new UsageError(`sandbox takes start, stop or status${i.action ? `, not '${i.action}'` : ''}`, './run sandbox start');
  }
}
