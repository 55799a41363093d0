// `./run sandbox start|stop|status`, and the automatic start for a phase whose config has
// a `sandbox` section, so `./run -e env.sandbox.json -f create` works on a fresh clone.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { loadConfig } from '../config/load.js';
import type { GlobalOptions, SandboxTarget } from '../context.js';
import { EXIT, StateError, UsageError } from '../errors.js';
import type { Logger } from '../ui/log.js';
import { describeTool } from '../venv.js';
import { table } from '../ui/table.js';

// Loaded on use: a real-AWS run never needs the sandbox's code.
const control = () => import('../../sandbox/control.js');

export const DEFAULT_PORT = 4566;
export const DEFAULT_ROUTER_PORT = 4580;

/** Every sandbox of a checkout keeps its state under .sandbox/, one folder per endpoint port. */
function sandboxRoot(root: string): string {
  return path.join(root, '.sandbox');
}

function portOf(hostPort: string): number {
  return Number(hostPort.replace(/\/$/, '').split(':').pop());
}

/**
 * Start the sandbox in the background if nothing answers at the phase's endpoint yet; a
 * half-dead one of this checkout (moto or the router gone) is restarted. One we did not
 * start (a test's, or a moto or LocalStack of the user's) is used as it is, unless it is
 * a sandbox of ours with a dead part: then the run stops here, saying what to do, instead
 * of failing at its first aws call.
 */
export async function ensureSandbox(root: string, target: SandboxTarget, log: Logger): Promise<void> {
  const { checkEndpoint, sandboxStatus, startSandbox, stateDirFor } = await control();
  const port = portOf(target.endpoint);
  const dir = stateDirFor(sandboxRoot(root), port);
  const mine = await sandboxStatus(dir);
  if (mine.running && mine.healthy) {
    if (mine.motoServer) log.debug(`sandbox: moto_server ${describeTool(mine.motoServer)}`);
    return;
  }
  if (!mine.running) {
    const check = await checkEndpoint(target.endpoint);
    if (check.sandbox && check.sandbox.problems.length) {
      throw new StateError(
        `the sandbox at ${target.endpoint} (pid ${check.sandbox.pid ?? '?'}) is half-dead: ${check.sandbox.problems.join('; ')}`,
        `it was not started from ${dir}, so restart it where it was started, or end it (kill ${check.sandbox.pid ?? '<pid>'}) and run this again`,
      );
    }
    if (check.answers) return;
  }
  if (mine.running) log.warn(`the sandbox at ${target.endpoint} is half-dead (${mine.problems?.join('; ')}): restarting it; what it held is gone`);
  else log.step(`starting the local sandbox at ${target.endpoint} (router ${target.router})`);
  const s = await startSandbox({ port, routerPort: portOf(target.router), stateDir: dir, strict: target.policies ? { policies: target.policies } : undefined });
  if (s.motoServer) log.debug(`sandbox: moto_server ${describeTool(s.motoServer)}`);
  log.ok(`sandbox running (pid ${s.pid}); stop it with ./run sandbox stop${portFlag(port)}`);
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
  metricsPeriod?: string;
  metricsLag?: string;
  backgroundTraffic?: string;
  dnsIgnoreTtl?: string;
  /** The caller's IAM policy files, comma-separated, or "admin". */
  policies?: string;
  eventRetentionMinutes?: string;
  rateScale?: string;
  clockSkew?: string;
  tableCreateDelay?: string;
  /** `sandbox stop --all` (and `status --all`): every sandbox of this checkout. */
  all?: boolean;
}

/** The strict settings given, converted once here (seconds to ms); the sandbox takes them as they are. */
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
    metricsPeriodMs: ms(opts.metricsPeriod),
    metricsLagMs: ms(opts.metricsLag),
    dnsIgnoreTtlClients: opts.dnsIgnoreTtl?.split(',').map((c) => c.trim()).filter(Boolean),
    policies: opts.policies === undefined ? undefined : policyFiles(opts.policies.split(','), process.cwd(), '--policies'),
    eventRetentionMs: opts.eventRetentionMinutes === undefined ? undefined : Number(opts.eventRetentionMinutes) * 60_000,
    rateScale: opts.rateScale === undefined ? undefined : Number(opts.rateScale),
    backgroundPerMinute: opts.backgroundTraffic === undefined ? undefined : Number(opts.backgroundTraffic),
    clockSkewMs: ms(opts.clockSkew),
    tableCreateMs: ms(opts.tableCreateDelay),
  };
  return Object.fromEntries(Object.entries(given).filter(([, v]) => v !== undefined));
}

/**
 * The caller's policy files as the sandbox takes them: absolute paths, or ["admin"]. A file
 * that is not there is bad input (exit 2), named with where it came from.
 */
export function policyFiles(list: string[], base: string, from: string): string[] {
  const files = list.map((f) => f.trim()).filter(Boolean);
  if (!files.length) throw new UsageError(`${from} names no policy file`, `give policy files (comma-separated), or admin`);
  if (files.includes('admin')) {
    if (files.length > 1) throw new UsageError(`${from}: admin allows everything and cannot be combined with files`, `give either admin or policy files`);
    return files;
  }
  return files.map((f) => {
    const full = path.resolve(base, f);
    if (!existsSync(full)) throw new UsageError(`${from}: no policy file ${full}`, `name an IAM policy JSON file, or admin`);
    return full;
  });
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
  const { sandboxStatus, startSandbox, stateDirFor, stateDirs, stopAllSandboxes, stopSandbox } = await control();
  // Ports default to the phase config's sandbox section when there is one.
  let port = DEFAULT_PORT;
  let routerPort = DEFAULT_ROUTER_PORT;
  let policies: string[] | undefined;
  if (existsSync(i.configFile)) {
    const sb = loadConfig(i.configFile).config.sandbox;
    if (sb) {
      port = portOf(sb.ENDPOINT);
      routerPort = portOf(sb.ROUTER);
      if (sb.POLICIES) policies = policyFiles(sb.POLICIES, path.dirname(path.resolve(i.configFile)), 'sandbox.POLICIES');
    }
  }
  if (opts.port) port = Number(opts.port);
  if (opts.routerPort) routerPort = Number(opts.routerPort);
  if (opts.all && i.action === 'start') throw new UsageError('--all goes with sandbox stop or status, not start', './run sandbox stop --all');
  const dir = stateDirFor(sandboxRoot(i.root), port);

  switch (i.action) {
    case 'start': {
      // In the foreground the sandbox runs inside this process and startSandbox returns
      // only once it has been stopped (Ctrl-C or SIGTERM).
      if (opts.foreground) log.info(`sandbox in the foreground at http://127.0.0.1:${port}, router 127.0.0.1:${routerPort}; Ctrl-C stops it`);
      let s;
      try {
        s = await startSandbox({
          port,
          routerPort,
          stateDir: dir,
          failRate: opts.failRate ? Number(opts.failRate) : undefined,
          foreground: Boolean(opts.foreground),
          strict: { ...(policies ? { policies } : {}), ...strictFromFlags(opts) },
        });
      } catch (err) {
        throw new StateError((err as Error).message);
      }
      if (s.restarted) log.warn(`the sandbox at http://127.0.0.1:${port} was half-dead (${s.restarted.join('; ')}): restarted it; what it held is gone`);
      if (s.alreadyRunning && s.router !== `127.0.0.1:${routerPort}`) log.warn(`it runs with its router at ${s.router}, not 127.0.0.1:${routerPort}; stop it first (./run sandbox stop${portFlag(port)}) to change that`);
      if (s.motoServer) log.debug(`sandbox: moto_server ${describeTool(s.motoServer)}`);
      if (opts.json) log.jsonResult({ ok: true, command: 'sandbox start', ...s, stateDir: dir });
      else if (opts.foreground) log.result('sandbox stopped');
      else log.result(`${s.alreadyRunning ? 'already running' : s.restarted ? 'restarted' : 'started'}: endpoint ${s.endpoint}, router ${s.router} (pid ${s.pid}, log ${path.join(dir, 'sandbox.log')})`);
      return EXIT.ok;
    }
    case 'stop': {
      if (opts.all) {
        const all = await stopAllSandboxes(sandboxRoot(i.root));
        if (opts.json) log.jsonResult({ ok: true, command: 'sandbox stop', all });
        else if (!all.some((s) => s.stopped || s.orphans?.length)) log.result('none running');
        for (const s of all) {
          if (!opts.json && (s.stopped || s.orphans?.length)) log.result(`${s.stateDir}: ${stopWords(s)}`);
        }
        return EXIT.ok;
      }
      const s = await stopSandbox(dir);
      if (opts.json) log.jsonResult({ ok: true, command: 'sandbox stop', ...s, stateDir: dir });
      else log.result(`http://127.0.0.1:${port}: ${stopWords(s)}`);
      return EXIT.ok;
    }
    case 'status': {
      const dirs = opts.all ? stateDirs(sandboxRoot(i.root)) : [dir];
      const all = await Promise.all(dirs.map((d) => sandboxStatus(d)));
      if (opts.json) log.jsonResult({ ok: all.every((s) => !s.running || s.healthy), command: 'sandbox status', ...(opts.all ? { all } : all[0]) });
      if (!opts.json) {
        for (const s of opts.all ? all.filter((x) => x.running) : all) {
          const p = Number(path.basename(s.stateDir ?? dir)) || port;
          printStatus(log, s, p, opts.all ? `${s.endpoint}: ` : '');
        }
      }
      if (opts.all && !all.some((s) => s.running) && !opts.json) log.result('none running');
      // A half-dead sandbox fails every aws call: a status that says so must not exit 0.
      return all.some((s) => s.running && !s.healthy) ? EXIT.failed : EXIT.ok;
    }
    default:
      throw new UsageError(`sandbox takes start, stop or status${i.action ? `, not '${i.action}'` : ''}`, './run sandbox start');
  }
}

function stopWords(s: { stopped: boolean; pid?: number; orphans?: number[] }): string {
  const orphans = s.orphans?.length ? `killed ${s.orphans.length} process${s.orphans.length === 1 ? '' : 'es'} left in its folder (pid ${s.orphans.join(', ')})` : '';
  if (s.stopped) return `stopped (pid ${s.pid})${orphans ? `; ${orphans}` : ''}`;
  return orphans || 'not running';
}

/** ` --port N`, or nothing for the default port: what to add to act on that sandbox again. */
function portFlag(port: number): string {
  return port === DEFAULT_PORT ? '' : ` --port ${port}`;
}

function printStatus(log: Logger, s: Awaited<ReturnType<Awaited<ReturnType<typeof control>>['sandboxStatus']>>, port: number, label = ''): void {
  const flag = portFlag(port);
  if (!s.running) {
    log.result(`${label}not running (start it with ./run sandbox start${flag})`);
    return;
  }
  if (!s.healthy) {
    log.result(`${label}HALF-DEAD: endpoint ${s.endpoint}, router ${s.router} (pid ${s.pid}): ${s.problems?.join('; ')}`);
    log.result(`  every aws call fails against it: restart it with ./run sandbox start${flag} (what it held is gone), or stop it with ./run sandbox stop${flag}`);
    return;
  }
  log.result(`${label}running: endpoint ${s.endpoint}, router ${s.router} (pid ${s.pid})`);
  if (s.motoServer) log.result(`  moto_server: ${describeTool(s.motoServer)}`);
  const envs = (s.environments ?? []) as Record<string, unknown>[];
  if (!envs.length) return;
  // The ROLE column (issue 22 item 3): the one on a phase's main CNAME (no deploy stamp in
  // its prefix) serves it; the others wait beside it (previous, held or old: ./run status
  // tells which, from the phase's history). A CNAME that does not match the name is a swap.
  const role = (e: Record<string, unknown>) =>
    /^Terminat/.test(String(e.status)) ? 'gone' : e.cname && !/^[^.]*-\d{9,}\./.test(String(e.cname)) ? 'live' : 'beside';
  const rows = envs.map((e) => [String(e.application ?? ''), role(e), String(e.name), String(e.cname ?? ''), `${e.status}/${e.health}`, e.port === undefined ? '' : String(e.port)]);
  for (const line of table(['APPLICATION', 'ROLE', 'ENVIRONMENT', 'CNAME', 'STATE', 'PORT'], rows, '  ')) log.result(line);
}
