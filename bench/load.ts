// A steady HTTP load on a CNAME through the sandbox router, with autocannon (a well-kept
// load generator, rather than a hand-written loop), recording every answer's version so a
// deploy's switch-over is seen to the millisecond. Bounded in rate and time; loopback only.
import autocannon from 'autocannon';

export interface LoadOptions {
  /** host:port of the sandbox router (loopback). */
  router: string;
  /** The CNAME, sent as the Host header. */
  host: string;
  path?: string;
  /** Requests a second, all connections together. */
  rate?: number;
  connections?: number;
  /** Hard stop, whatever happens. */
  maxSeconds: number;
}

export interface VersionSeen {
  version: string;
  firstAtMs: number;
  lastAtMs: number;
  count: number;
}

export interface LoadReport {
  sent: number;
  ok: number;
  non2xx: number;
  errors: number;
  timeouts: number;
  p99Ms: number;
  seconds: number;
  /** In the order they first answered. */
  versions: VersionSeen[];
  /** When answers switched to the last version seen (ms from the load's start). */
  switchedAtMs?: number;
  /** Answers of an older version after the first of the newest: should be none (atomic switch). */
  flapsAfterSwitch: number;
}

export interface RunningLoad {
  stop(): Promise<LoadReport>;
}

export function startLoad(o: LoadOptions): RunningLoad {
  if (!/^(127\.\d+\.\d+\.\d+|localhost):\d+$/.test(o.router)) throw new Error(`load only goes to loopback, not ${o.router}`);
  const started = Date.now();
  const versions: VersionSeen[] = [];
  const byVersion = new Map<string, VersionSeen>();
  const order: { at: number; version: string }[] = [];
  let finish: (err: Error | null, r: autocannon.Result) => void = () => undefined;
  const done = new Promise<autocannon.Result>((resolve, reject) => {
    finish = (err, r) => (err ? reject(err) : resolve(r));
  });
  const instance = autocannon({
    url: `http://${o.router}`,
    connections: o.connections ?? 4,
    overallRate: o.rate ?? 60,
    duration: o.maxSeconds,
    timeout: 10,
    requests: [
      {
        method: 'GET',
        path: o.path ?? '/echo/',
        headers: { host: o.host },
        onResponse: (status: number, body: string) => {
          if (status !== 200) return;
          let version = '?';
          try {
            version = JSON.parse(body).version ?? '?';
          } catch {
            version = '?';
          }
          const at = Date.now() - started;
          let v = byVersion.get(version);
          if (!v) {
            v = { version, firstAtMs: at, lastAtMs: at, count: 0 };
            byVersion.set(version, v);
            versions.push(v);
          }
          v.count++;
          v.lastAtMs = at;
          order.push({ at, version });
        },
      },
    ],
  } as autocannon.Options, (err, r) => finish(err, r));
  return {
    async stop() {
      instance.stop();
      const r = await done;
      const last = versions[versions.length - 1];
      const switchAt = versions.length > 1 ? last.firstAtMs : undefined;
      const flaps = switchAt === undefined ? 0 : order.filter((x) => x.at > switchAt && x.version !== last.version).length;
      return {
        sent: r.requests.sent,
        ok: r['2xx'],
        non2xx: r.non2xx,
        errors: r.errors,
        timeouts: r.timeouts,
        p99Ms: r.latency.p99,
        seconds: (Date.now() - started) / 1000,
        versions,
        switchedAtMs: switchAt,
        flapsAfterSwitch: flaps,
      };
    },
  };
}
