// Nova's request handling, kept apart from process concerns (signals, exit) so tests can
// run it in-process on port 0.
import { existsSync, readFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

/** What Nova reads from its environment (EB environment properties set by johanna). */
export interface Settings {
  phase: string;
  versionLabel: string;
  hostNova: string;
  urlNova: string;
  /** While this file exists /echo/ answers 404, so the load balancer takes the instance out. */
  noEchoFile: string;
  /** Test-only: hold each /echo/ answer this long (graceful-shutdown and load tests). */
  echoDelayMs: number;
  /**
   * The fault switch (off by default; set through EB environment properties, i.e.
   * nova.ENVIRONMENT): once the process has been up `faultAfterS` seconds, answer 500 to
   * this share (0..1) of /echo/ requests and/or add this much latency to each. A version so
   * set passes the health gate, the probe and the smoke test, then fails under traffic:
   * what the bake after the swap is for (issue 21).
   */
  fault: { errorShare: number; latencyMs: number; afterS: number };
}

export const DEFAULT_NO_ECHO_FILE = '/etc/nova/no_echo';
/**
 * Where EB says which version it deployed on the instance (Amazon Linux 2 and later; not in AWS's
 * documents, seen read by public apps, R56). The sandbox names its own in EB_APP_VERSION_MANIFEST.
 */
export const DEFAULT_APP_VERSION_MANIFEST = '/opt/elasticbeanstalk/deployment/app_version_manifest.json';

/**
 * The version EB deployed (its manifest's RuntimeSources.<app>.<label>), which an `eb deploy`
 * changes; undefined when there is no readable manifest (then VERSION_LABEL, set at creation).
 */
export function deployedVersion(file: string): string | undefined {
  try {
    const manifest = JSON.parse(readFileSync(file, 'utf8'));
    // Some platform versions also write the label at the top (VersionLabel); others only RuntimeSources.
    if (typeof manifest?.VersionLabel === 'string' && manifest.VersionLabel) return manifest.VersionLabel;
    const sources = manifest?.RuntimeSources;
    const labels = sources && typeof sources === 'object' ? Object.values(sources).flatMap((app) => (app && typeof app === 'object' ? Object.keys(app) : [])) : [];
    return labels.length === 1 ? labels[0] : undefined;
  } catch {
    return undefined;
  }
}

export function readSettings(env: NodeJS.ProcessEnv): Settings {
  const text = (name: string) => env[name] || 'unknown';
  const delay = Number(env.NOVA_ECHO_DELAY_MS ?? 0);
  return {
    phase: text('PHASE'),
    versionLabel: deployedVersion(env.EB_APP_VERSION_MANIFEST || DEFAULT_APP_VERSION_MANIFEST) ?? text('VERSION_LABEL'),
    hostNova: text('HOST_NOVA'),
    urlNova: text('URL_NOVA'),
    noEchoFile: env.NOVA_NO_ECHO_FILE || DEFAULT_NO_ECHO_FILE,
    echoDelayMs: Number.isFinite(delay) && delay > 0 ? delay : 0,
    fault: {
      errorShare: Math.min(1, nonNegative(env.NOVA_FAULT_ERROR_SHARE)),
      latencyMs: nonNegative(env.NOVA_FAULT_LATENCY_MS),
      afterS: nonNegative(env.NOVA_FAULT_AFTER_S),
    },
  };
}

function nonNegative(v: string | undefined): number {
  const n = Number(v ?? 0);
  return Number.isFinite(n) && n > 0 ? n : 0;
}

/** Whether the fault switch is on now: set, and the process up long enough. */
export function faultActive(s: Pick<Settings, 'fault'>, uptimeS: number): boolean {
  return (s.fault.errorShare > 0 || s.fault.latencyMs > 0) && uptimeS >= s.fault.afterS;
}

export interface Handler {
  (req: http.IncomingMessage, res: http.ServerResponse): void;
  /** Ask keep-alive clients to reconnect elsewhere: set once shutdown has begun. */
  draining: boolean;
}

export function createHandler(s: Settings, log: (line: string) => void = console.log, uptimeS: () => number = () => process.uptime()): Handler {
  const handler = ((req, res) => {
    const started = performance.now();
    // Read `draining` when answering, not when the request arrived: a request in flight at
    // SIGTERM must still tell its client to close, or its socket lingers until keep-alive ends.
    const reply = (status: number, body: unknown) => send(res, status, body, handler.draining);
    // One access line per request, always: it is what `./run logs` shows of live traffic.
    res.on('finish', () => {
      log(`${req.method} ${req.url} ${res.statusCode} ${(performance.now() - started).toFixed(1)}ms`);
    });

    const path = (req.url ?? '/').split('?')[0];
    if (path !== '/echo/' && path !== '/echo') return reply(404, { error: 'not found' });
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('Allow', 'GET, HEAD');
      return reply(405, { error: 'method not allowed' });
    }
    const answer = () => {
      // Checked on every request (not cached) so that touching the file takes the instance
      // out of the health check within one check interval, and removing it brings it back.
      if (existsSync(s.noEchoFile)) return reply(404, { error: 'echo is switched off on this instance' });
      if (faulty && s.fault.errorShare > 0 && Math.random() < s.fault.errorShare) return reply(500, { error: 'fault switch: NOVA_FAULT_ERROR_SHARE' });
      reply(200, {
        echo: 'ok',
        phase: s.phase,
        version: s.versionLabel,
        host: s.hostNova,
        time: new Date().toISOString(),
      });
    };
    const faulty = faultActive(s, uptimeS());
    const delayMs = s.echoDelayMs + (faulty ? s.fault.latencyMs : 0);
    if (delayMs > 0) setTimeout(answer, delayMs);
    else answer();
  }) as Handler;
  handler.draining = false;
  return handler;
}

function send(res: http.ServerResponse, status: number, body: unknown, closeConnection: boolean): void {
  const text = JSON.stringify(body);
  if (closeConnection) res.setHeader('Connection', 'close');
  res.writeHead(status, {
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': Buffer.byteLength(text),
    'Cache-Control': 'no-store',
  });
  res.end(text);
}

export interface StartOptions {
  port?: number;
  /** 127.0.0.1 by default: on EB nginx on the same instance proxies to it. */
  host?: string;
  env?: NodeJS.ProcessEnv;
  log?: (line: string) => void;
}

export interface Running {
  server: http.Server;
  handler: Handler;
  port: number;
  url: string;
  /** Stop accepting, let in-flight requests finish, resolve when the last connection closed. */
  close(): Promise<void>;
}

/** Longer than a load balancer's default idle timeout (60 s), so that the balancer closes idle connections, not we. */
export const KEEP_ALIVE_MS = 65_000;

export async function startServer(o: StartOptions = {}): Promise<Running> {
  const env = o.env ?? process.env;
  const handler = createHandler(readSettings(env), o.log);
  // The load balancer in front reuses its connections to us; if we close an idle one first,
  // it may send a request down it as it closes and answer that request 502. AWS: make the
  // application's idle timeout larger than the load balancer's (60 s by default; ELB user
  // guide, "Edit attributes for your Application Load Balancer", Connection idle timeout).
  // Node's default is 5 s. (aws-rules.md R45.)
  const server = http.createServer({ keepAliveTimeout: KEEP_ALIVE_MS, headersTimeout: KEEP_ALIVE_MS + 1000 }, handler);
  const host = o.host ?? (env.NOVA_BIND || '127.0.0.1');
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port ?? 8080, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  return {
    server,
    handler,
    port,
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
    close: () =>
      new Promise<void>((resolve, reject) => {
        handler.draining = true;
        // close() stops listening and waits for open connections; idle keep-alive ones
        // would otherwise hold it open until their timeout, so drop them now. Busy ones
        // finish their request, answer with "Connection: close", then close.
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeIdleConnections();
      }),
  };
}
