import { Agent, createServer, request, type Server, type ServerResponse } from 'node:http';
import type { EbStore } from './eb/store.js';
import type { StrictOptions } from './server.js';

function plain(res: ServerResponse, status: number, text: string): void {
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

/**
 * Stands in for DNS plus each environment's load balancer: every request goes to the app of
 * the environment that holds its Host header's CNAME when the request arrives. Routing is
 * per request, not per connection, so a keep-alive client follows a CNAME swap at once,
 * while requests already in flight finish on the process they reached.
 */
export function createRouter(store: EbStore, strict: Pick<StrictOptions, 'dnsTtlMs'>): Server {
  const agent = new Agent({ keepAlive: true });
  return createServer((req, res) => {
    const host = String(req.headers.host ?? '').replace(/:\d+$/, '').toLowerCase();
    const environment = store.holderOf(host);
    if (!environment) {
      req.resume();
      plain(res, 404, `No environment holds the CNAME ${host || '(no Host header)'}.\n`);
      return;
    }
    const app = environment.app;
    if (environment.status === 'Terminating' || !app || app.exitCode !== undefined) {
      req.resume();
      plain(res, 503, '503 Service Temporarily Unavailable\n');
      return;
    }
    const upstream = request(
      { host: '127.0.0.1', port: app.port, method: req.method, path: req.url, headers: req.headers, agent },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.rawHeaders);
        answer.pipe(res);
      },
    );
    upstream.on('error', () => {
      if (res.headersSent) res.destroy();
      else plain(res, 502, '502 Bad Gateway\n');
    });
    req.pipe(upstream);
  });
}
