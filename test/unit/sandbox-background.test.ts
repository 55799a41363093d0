// The sandbox's background traffic (issue 19 item 4, sandbox/router.ts): with
// --background-traffic N every Ready environment's load balancer gets N requests a minute,
// addressed to it directly (not through a CNAME), counted like any other request.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { startBackgroundTraffic } from '../../sandbox/router.js';
import type { EbStore, Environment } from '../../sandbox/eb/store.js';
import type { RequestMetrics } from '../../sandbox/eb/request-metrics.js';

const servers: http.Server[] = [];
afterAll(() => servers.forEach((s) => s.close()));

async function app(): Promise<{ port: number; paths: string[] }> {
  const paths: string[] = [];
  const server = http.createServer((req, res) => {
    paths.push(`${req.method} ${req.url} ${req.headers['user-agent']}`);
    res.statusCode = 404;
    res.end();
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { port: (server.address() as AddressInfo).port, paths };
}

describe('startBackgroundTraffic', () => {
  it('sends GET / to every Ready environment, none to others, each counted with its status', async () => {
    const [ready, old, launching] = await Promise.all([app(), app(), app()]);
    const envs = [
      { id: 'e-ready', status: 'Ready', app: { port: ready.port } },
      { id: 'e-old', status: 'Ready', cname: undefined, app: { port: old.port } }, // off every CNAME: reached all the same
      { id: 'e-launching', status: 'Launching', app: { port: launching.port } },
    ] as unknown as Environment[];
    const recorded: [string, number][] = [];
    const metrics = { record: (e: Environment, status: number) => recorded.push([e.id, status]) } as unknown as RequestMetrics;
    const store = { live: () => envs } as unknown as EbStore;
    const bg = startBackgroundTraffic(store, 1200, metrics); // one round every 50 ms
    const deadline = Date.now() + 10_000;
    while ((ready.paths.length < 2 || old.paths.length < 2) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    bg.stop();
    expect(ready.paths[0]).toBe('GET / sandbox-background-scanner');
    expect(old.paths.length).toBeGreaterThanOrEqual(2);
    expect(launching.paths).toEqual([]);
    expect(recorded.filter(([id]) => id === 'e-ready').every(([, status]) => status === 404)).toBe(true);
    expect(recorded.some(([id]) => id === 'e-launching')).toBe(false);
  });
});
