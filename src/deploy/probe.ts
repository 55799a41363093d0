// HTTP probes of an environment's CNAME. On AWS we ask its DNS name directly; in the
// sandbox the router stands in for DNS, so we connect to it and name the CNAME in Host.
import http from 'node:http';
import type { Ctx } from '../context.js';
import { pause, throwIfInterrupted } from '../time.js';

export interface ProbeAnswer {
  status: number;
  body: string;
  /** The `version` field of Nova's JSON answer, when there is one. */
  version?: string;
}

export function probeTarget(ctx: Pick<Ctx, 'sandbox'>, host: string): { hostname: string; port: number } {
  if (ctx.sandbox) {
    const [hostname, port] = ctx.sandbox.router.split(':');
    return { hostname, port: Number(port) };
  }
  return { hostname: host, port: 80 };
}

export function httpGet(ctx: Pick<Ctx, 'sandbox'>, host: string, path: string, timeoutMs = 5000): Promise<ProbeAnswer> {
  const target = probeTarget(ctx, host);
  return new Promise((resolve, reject) => {
    // One limit for the whole exchange: `timeout` alone only covers an idle socket, and a
    // reset after the headers would otherwise leave this promise unsettled for ever.
    const signal = AbortSignal.timeout(timeoutMs);
    const req = http.get(
      { hostname: target.hostname, port: target.port, path, headers: { Host: host, 'User-Agent': 'johanna-probe' }, timeout: timeoutMs, agent: false, signal },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c) => (body += c));
        res.on('error', reject);
        res.on('close', () => {
          if (!res.complete) reject(new Error(`the answer from ${host}${path} was cut off`));
        });
        res.on('end', () => {
          let version: string | undefined;
          try {
            version = JSON.parse(body)?.version;
          } catch {
            version = undefined;
          }
          resolve({ status: res.statusCode ?? 0, body, version });
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no answer from ${host}${path} within ${timeoutMs} ms`)));
    req.on('error', (err) => reject(err.name === 'AbortError' ? new Error(`no full answer from ${host}${path} within ${timeoutMs} ms`) : err));
  });
}

/**
 * `times` answers in a row must be 200 with our version; a miss starts the count again,
 * until the deadline. Returns what the last answer was, for the error message.
 */
export async function probeUntilServing(
  ctx: Pick<Ctx, 'sandbox' | 'log'> & { signal?: AbortSignal },
  host: string,
  path: string,
  version: string,
  opts: { times: number; deadlineMs: number; intervalMs: number },
): Promise<{ ok: boolean; last: string; tries: number }> {
  const end = Date.now() + opts.deadlineMs;
  let streak = 0;
  let tries = 0;
  let last = 'no answer yet';
  for (;;) {
    throwIfInterrupted(ctx.signal, `${host}${path} to serve ${version}`);
    tries++;
    try {
      const a = await httpGet(ctx, host, path);
      last = `HTTP ${a.status}${a.version ? ` version ${a.version}` : ''}`;
      streak = a.status === 200 && a.version === version ? streak + 1 : 0;
    } catch (err) {
      last = (err as Error).message;
      streak = 0;
    }
    if (streak >= opts.times) return { ok: true, last, tries };
    if (Date.now() >= end) return { ok: false, last, tries };
    await pause(streak > 0 ? Math.min(opts.intervalMs, 150) : opts.intervalMs, ctx.signal);
  }
}
