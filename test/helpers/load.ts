// A steady HTTP load on a CNAME through the sandbox router, recording every answer's
// version, per client address and over time, so a deploy's switch-over is seen to the
// millisecond for each client. Bounded in rate and time; loopback only.
//
// Why not autocannon (which this used before): the router caches DNS answers per client
// source address, as resolvers do (sandbox/router.ts), so a zero-downtime proof must send
// from several addresses (127.0.0.2, 127.0.0.3, ...) and autocannon cannot bind one. This
// is node's own http client with `localAddress`, one keep-alive agent a client.
import { Agent, request } from 'node:http';

export interface LoadOptions {
  /** host:port of the sandbox router (loopback). */
  router: string;
  /** The CNAME, sent as the Host header. */
  host: string;
  path?: string;
  /** Requests a second, all clients together. */
  rate?: number;
  /** Source addresses, one simulated client (resolver) each; default 127.0.0.1 only. */
  clients?: string[];
  /** Hard stop, whatever happens. */
  maxSeconds: number;
  /** Per-request timeout (default 10 s). */
  timeoutMs?: number;
}

export interface VersionSeen {
  version: string;
  firstAtMs: number;
  lastAtMs: number;
  count: number;
}

export interface ClientReport {
  client: string;
  sent: number;
  ok: number;
  failed: number;
  /** In the order this client first got them. */
  versions: VersionSeen[];
  /** When this client first got the last version it saw (ms from the load's start). */
  switchedAtMs?: number;
  /** Answers of an older version after this client's first of the newest. */
  flapsAfterSwitch: number;
}

/** One second of the load: answers by version and failures, over all clients. */
export interface LoadSecond {
  second: number;
  byVersion: Record<string, number>;
  failed: number;
}

export interface LoadFailure {
  atMs: number;
  client: string;
  what: string;
}

export interface LoadReport {
  sent: number;
  ok: number;
  non2xx: number;
  errors: number;
  timeouts: number;
  p99Ms: number;
  seconds: number;
  /** In the order they first answered, over all clients. */
  versions: VersionSeen[];
  /** When the first client got the last version seen (ms from the load's start). */
  switchedAtMs?: number;
  /** Flaps summed over clients: each client must switch once (DNS caches differ between clients). */
  flapsAfterSwitch: number;
  clients: ClientReport[];
  timeline: LoadSecond[];
  /** The first few failed requests, for the report. */
  failures: LoadFailure[];
}

export interface RunningLoad {
  stop(): Promise<LoadReport>;
  /** What has been seen so far (for waiting on a condition while the load runs). */
  snapshot(): LoadReport;
}

interface Answer {
  at: number;
  client: string;
  version?: string;
  status?: number;
  error?: 'error' | 'timeout';
  /** A failure's cause: the socket error's code, or a non-2xx answer's body (cut). */
  detail?: string;
  ms: number;
}

const LOOPBACK = /^127\.\d+\.\d+\.\d+$/;

function seen(list: VersionSeen[], version: string, at: number): void {
  let v = list.find((x) => x.version === version);
  if (!v) {
    v = { version, firstAtMs: at, lastAtMs: at, count: 0 };
    list.push(v);
  }
  v.count++;
  v.lastAtMs = Math.max(v.lastAtMs, at);
}

function percentile(xs: number[], p: number): number {
  if (!xs.length) return 0;
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

/** Per-client switch and flaps: a client's answers, in time order, must change version once. */
function clientReport(client: string, answers: Answer[]): ClientReport {
  const mine = answers.filter((a) => a.client === client).sort((a, b) => a.at - b.at);
  const versions: VersionSeen[] = [];
  for (const a of mine) if (a.version) seen(versions, a.version, a.at);
  const last = versions[versions.length - 1];
  const switchedAtMs = versions.length > 1 ? last.firstAtMs : undefined;
  const flaps = switchedAtMs === undefined ? 0 : mine.filter((a) => a.at > switchedAtMs && a.version && a.version !== last.version).length;
  return {
    client,
    sent: mine.length,
    ok: mine.filter((a) => a.version).length,
    failed: mine.filter((a) => !a.version).length,
    versions,
    switchedAtMs,
    flapsAfterSwitch: flaps,
  };
}

export function summarize(answers: Answer[], clients: string[], started: number, now: number): LoadReport {
  const versions: VersionSeen[] = [];
  for (const a of [...answers].sort((x, y) => x.at - y.at)) if (a.version) seen(versions, a.version, a.at);
  const perClient = clients.map((c) => clientReport(c, answers));
  const timeline: LoadSecond[] = [];
  for (const a of answers) {
    const second = Math.floor(a.at / 1000);
    while (timeline.length <= second) timeline.push({ second: timeline.length, byVersion: {}, failed: 0 });
    if (a.version) timeline[second].byVersion[a.version] = (timeline[second].byVersion[a.version] ?? 0) + 1;
    else timeline[second].failed++;
  }
  const last = versions[versions.length - 1];
  return {
    sent: answers.length,
    ok: answers.filter((a) => a.status === 200).length,
    non2xx: answers.filter((a) => a.status !== undefined && (a.status < 200 || a.status >= 300)).length,
    errors: answers.filter((a) => a.error === 'error').length,
    timeouts: answers.filter((a) => a.error === 'timeout').length,
    p99Ms: percentile(answers.map((a) => a.ms), 99),
    seconds: (now - started) / 1000,
    versions,
    switchedAtMs: versions.length > 1 ? Math.min(...perClient.map((c) => c.versions.find((v) => v.version === last.version)?.firstAtMs ?? Infinity)) : undefined,
    flapsAfterSwitch: perClient.reduce((n, c) => n + c.flapsAfterSwitch, 0),
    clients: perClient,
    timeline,
    failures: answers
      .filter((a) => !a.version)
      .slice(0, 10)
      .map((a) => ({ atMs: a.at, client: a.client, what: (a.error ?? `HTTP ${a.status}`) + (a.detail ? `: ${a.detail}` : '') })),
  };
}

/** A zero-failure assertion's message: the first few failed requests, with their causes. */
export function failedRequests(r: LoadReport): string {
  return `failed requests (the first few): ${JSON.stringify(r.failures)}`;
}

export function startLoad(o: LoadOptions): RunningLoad {
  const [hostname, portText] = o.router.split(':');
  if (!(LOOPBACK.test(hostname) || hostname === 'localhost') || !/^\d+$/.test(portText ?? '')) throw new Error(`load only goes to loopback, not ${o.router}`);
  const clients = o.clients?.length ? o.clients : ['127.0.0.1'];
  for (const c of clients) if (!LOOPBACK.test(c)) throw new Error(`load clients are loopback addresses, not ${c}`);
  const rate = o.rate ?? 60;
  const timeoutMs = o.timeoutMs ?? 10_000;
  const agents = new Map(clients.map((c) => [c, new Agent({ keepAlive: true, maxSockets: 4 })]));
  const started = Date.now();
  const answers: Answer[] = [];
  const inFlight = new Set<Promise<void>>();
  let next = 0;

  const one = (client: string): Promise<void> =>
    new Promise((resolve) => {
      const at = Date.now() - started;
      const done = (a: Omit<Answer, 'at' | 'client' | 'ms'>) => {
        answers.push({ at, client, ms: Date.now() - started - at, ...a });
        resolve();
      };
      const req = request(
        { host: hostname, port: Number(portText), path: o.path ?? '/echo/', headers: { host: o.host }, agent: agents.get(client), localAddress: client, timeout: timeoutMs },
        (res) => {
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (chunk) => (body += chunk));
          res.on('error', (err: NodeJS.ErrnoException) => done({ error: 'error', detail: err.code ?? err.message }));
          res.on('end', () => {
            let version: string | undefined;
            if (res.statusCode === 200) {
              try {
                version = JSON.parse(body).version ?? '?';
              } catch {
                version = '?';
              }
            }
            done({ status: res.statusCode, version, ...(version ? {} : { detail: body.slice(0, 200) }) });
          });
        },
      );
      req.on('timeout', () => {
        req.destroy();
        done({ error: 'timeout' });
      });
      req.on('error', (err: NodeJS.ErrnoException) => done({ error: 'error', detail: err.code ?? err.message }));
      req.end();
    });

  // A fixed schedule (requests due by now), not a fixed gap: timers on a busy machine run late.
  const timer = setInterval(() => {
    const due = Math.floor(((Date.now() - started) / 1000) * rate);
    while (next < due) {
      const p = one(clients[next % clients.length]);
      inFlight.add(p);
      void p.finally(() => inFlight.delete(p));
      next++;
    }
  }, Math.max(5, Math.floor(1000 / rate)));
  const hardStop = setTimeout(() => clearInterval(timer), o.maxSeconds * 1000);
  hardStop.unref();

  return {
    snapshot: () => summarize(answers, clients, started, Date.now()),
    async stop() {
      clearInterval(timer);
      clearTimeout(hardStop);
      await Promise.all([...inFlight]);
      for (const agent of agents.values()) agent.destroy();
      return summarize(answers, clients, started, Date.now());
    },
  };
}
