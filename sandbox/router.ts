import { Agent, createServer, request, type Server, type ServerResponse } from 'node:http';
import type { EbStore, Environment } from './eb/store.js';
import type { StrictOptions } from './options.js';
import type { RequestMetrics } from './eb/request-metrics.js';

function plain(res: ServerResponse, status: number, text: string): void {
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

/** What a client's resolver remembers of one CNAME: the environment it pointed at, until when. */
interface CachedAnswer {
  environmentId: string;
  expiresAt: number;
}

/**
 * DNS as clients see it: each client (its source address: tests bind 127.0.0.2, 127.0.0.3,
 * ...) resolves a CNAME once and keeps the answer for the TTL (--dns-ttl). EB's CNAME points
 * at the environment's load balancer, whose records AWS serves with TTL 60 (aws-rules.md R12;
 * mozilla/identity-ops#14), and AWS advises not terminating the old environment until old
 * records expire (https://docs.aws.amazon.com/elasticbeanstalk/latest/dg/using-features.CNAMESwap.html).
 */
export class DnsCache {
  private readonly answers = new Map<string, CachedAnswer>();

  private readonly ignoreTtl: Set<string>;

  /** `ignoreTtl`: clients that keep their first answer for good (--dns-ignore-ttl, a fault). */
  constructor(private readonly store: EbStore, private readonly ttlMs: number, ignoreTtl: string[] = []) {
    this.ignoreTtl = new Set(ignoreTtl);
  }

  /** The environment this client reaches for `host` now, or undefined when the name does not resolve. */
  resolve(client: string, host: string, now = Date.now()): Environment | undefined {
    const key = `${client}\u0000${host}`;
    const cached = this.answers.get(key);
    if (cached && now < cached.expiresAt) return this.store.byId(cached.environmentId);
    if (cached && this.ignoreTtl.has(client)) return this.store.byId(cached.environmentId);
    const holder = this.store.holderOf(host);
    if (!holder) {
      this.answers.delete(key);
      return undefined;
    }
    if (this.ttlMs > 0 || this.ignoreTtl.has(client)) this.answers.set(key, { environmentId: holder.id, expiresAt: now + this.ttlMs });
    return holder;
  }
}

/**
 * Stands in for DNS plus each environment's load balancer: every request goes to the app of
 * the environment its client's resolver gives for the Host header's CNAME (DnsCache). A
 * client whose cached answer names an environment that is going or gone gets what its load
 * balancer would give: 503 while it terminates, 502 once it is gone.
 */
/** An Application Load Balancer's default connection idle timeout. */
export const LB_IDLE_TIMEOUT_MS = 60_000;

export function createRouter(store: EbStore, strict: Pick<StrictOptions, 'dnsTtlMs'> & Partial<Pick<StrictOptions, 'dnsIgnoreTtlClients'>>, metrics?: RequestMetrics): Server {
  // As a load balancer: it keeps its connections to the targets and closes one idle for its
  // idle timeout (60 s, AWS's default; aws-rules.md R45). A target that closes first races it.
  const agent = new Agent({ keepAlive: true, timeout: LB_IDLE_TIMEOUT_MS });
  const dns = new DnsCache(store, strict.dnsTtlMs, strict.dnsIgnoreTtlClients);
  const server = createServer((req, res) => {
    const host = String(req.headers.host ?? '').replace(/:\d+$/, '').toLowerCase();
    const client = req.socket.remoteAddress ?? '?';
    const environment = dns.resolve(client, host);
    if (!environment) {
      req.resume();
      plain(res, 404, `No environment holds the CNAME ${host || '(no Host header)'}.\n`);
      return;
    }
    if (environment.status === 'Terminated') {
      req.resume();
      plain(res, 502, '502 Bad Gateway\n');
      return;
    }
    const app = environment.app;
    if (environment.status === 'Terminating' || !app || app.exitCode !== undefined) {
      req.resume();
      plain(res, 503, '503 Service Temporarily Unavailable\n');
      return;
    }
    // From here the load balancer has chosen a target: the request counts in its RequestCount.
    const started = Date.now();
    const upstream = request(
      { host: '127.0.0.1', port: app.port, method: req.method, path: req.url, headers: req.headers, agent },
      (answer) => {
        metrics?.record(environment, answer.statusCode ?? 502, Date.now() - started);
        res.writeHead(answer.statusCode ?? 502, answer.rawHeaders);
        answer.pipe(res);
      },
    );
    upstream.on('error', () => {
      if (res.headersSent) res.destroy();
      else {
        // The load balancer's own 502 (HTTPCode_ELB_5XX_Count), after it chose the target.
        metrics?.record(environment, 502, Date.now() - started, Date.now(), true);
        plain(res, 502, '502 Bad Gateway\n');
      }
    });
    req.pipe(upstream);
  });
  // The client side has the same idle timeout (R45), not Node's 5 s: a client's keep-alive
  // socket idle for 5 s was closed by the router just as the client sent on it, an
  // ECONNRESET no load balancer of AWS's gives (seen in bake.test on a loaded machine).
  server.keepAliveTimeout = LB_IDLE_TIMEOUT_MS;
  server.headersTimeout = LB_IDLE_TIMEOUT_MS + 1000;
  return server;
}

/**
 * Scanners and bots (issue 19 item 4): an internet-facing load balancer is never quiet. With
 * --background-traffic N, every Ready environment's load balancer gets N requests a minute
 * (`GET /`, as a crawler asks), addressed to the load balancer itself as a scanner of AWS's
 * addresses does, not through a CNAME, so an old environment off every CNAME gets them too.
 * They count in its RequestCount like any request. Off (0) unless asked.
 */
export function startBackgroundTraffic(store: EbStore, perMinute: number, metrics?: RequestMetrics): { stop(): void } {
  const agent = new Agent({ keepAlive: false });
  const timer = setInterval(() => {
    for (const environment of store.live()) {
      const app = environment.app;
      if (environment.status !== 'Ready' || !app || app.exitCode !== undefined) continue;
      const started = Date.now();
      request({ host: '127.0.0.1', port: app.port, path: '/', headers: { 'user-agent': 'sandbox-background-scanner' }, agent }, (answer) => {
        metrics?.record(environment, answer.statusCode ?? 502, Date.now() - started);
        answer.resume();
      })
        .on('error', () => metrics?.record(environment, 502, Date.now() - started))
        .end();
    }
  }, 60_000 / perMinute);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}