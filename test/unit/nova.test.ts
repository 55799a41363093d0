// Nova, the sample API: the handler in-process on port 0, and the built server as a child
// process for what only a real process shows (SIGTERM, exit code, refused connections).
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { readSettings, startServer, type Running } from '../../nova/src/app.js';
import { LB_IDLE_TIMEOUT_MS } from '../../sandbox/router.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const tmp = mkdtempSync(path.join(os.tmpdir(), 'nova-test-'));
const noEcho = path.join(tmp, 'no_echo');

afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('nova in-process', () => {
  let nova: Running;
  const logged: string[] = [];

  beforeAll(async () => {
    nova = await startServer({
      port: 0,
      env: {
        PHASE: 'dv',
        VERSION_LABEL: 'app-261127_043100',
        HOST_NOVA: 'dv-nova.ap-northeast-2.elasticbeanstalk.com',
        DEBUG: 'True',
        NOVA_NO_ECHO_FILE: noEcho,
      },
      log: (line) => logged.push(line),
    });
  });
  afterAll(() => nova.close());
  afterEach(() => rmSync(noEcho, { force: true }));

  // R45: the load balancer must close an idle connection before Nova does, or it may send a
  // request down one Nova is closing and answer it 502. The sandbox's router is that balancer.
  it('keeps idle connections longer than a load balancer does (60 s), the router included', () => {
    expect(nova.server.keepAliveTimeout).toBeGreaterThan(60_000);
    expect(nova.server.keepAliveTimeout).toBeGreaterThan(LB_IDLE_TIMEOUT_MS);
    expect(nova.server.headersTimeout).toBeGreaterThan(nova.server.keepAliveTimeout);
  });

  it('answers /echo/ with phase, version and host', async () => {
    const res = await fetch(`${nova.url}/echo/`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    const body = await res.json();
    expect(body).toMatchObject({
      echo: 'ok',
      phase: 'dv',
      version: 'app-261127_043100',
      host: 'dv-nova.ap-northeast-2.elasticbeanstalk.com',
    });
    expect(new Date(body.time).toISOString()).toBe(body.time);
  });

  it('accepts /echo without the slash and with a query string', async () => {
    expect((await fetch(`${nova.url}/echo`)).status).toBe(200);
    expect((await fetch(`${nova.url}/echo/?x=1`)).status).toBe(200);
  });

  it('answers 404 while the no-echo file exists, 200 again once it is gone', async () => {
    writeFileSync(noEcho, '');
    const off = await fetch(`${nova.url}/echo/`);
    expect(off.status).toBe(404);
    expect(await off.json()).toHaveProperty('error');
    rmSync(noEcho);
    expect((await fetch(`${nova.url}/echo/`)).status).toBe(200);
  });

  it('answers 404 JSON for other paths and 405 for other methods', async () => {
    const missing = await fetch(`${nova.url}/nope`);
    expect(missing.status).toBe(404);
    expect(await missing.json()).toEqual({ error: 'not found' });
    const post = await fetch(`${nova.url}/echo/`, { method: 'POST' });
    expect(post.status).toBe(405);
    expect(post.headers.get('allow')).toBe('GET, HEAD');
  });

  it('logs one line per request: method, path, status, time', async () => {
    logged.length = 0;
    await (await fetch(`${nova.url}/nope`)).text();
    await new Promise((r) => setImmediate(r)); // 'finish' fires after the client has the body
    expect(logged).toHaveLength(1);
    expect(logged[0]).toMatch(/^GET \/nope 404 \d+\.\dms$/);
  });

  it('says "unknown" for settings that are missing, and logs its requests without DEBUG too', async () => {
    const lines: string[] = [];
    const bare = await startServer({ port: 0, env: { NOVA_NO_ECHO_FILE: noEcho }, log: (l) => lines.push(l) });
    try {
      const body = await (await fetch(`${bare.url}/echo/`)).json();
      expect(body).toMatchObject({ phase: 'unknown', version: 'unknown', host: 'unknown' });
      await new Promise((r) => setImmediate(r)); // 'finish' fires after the client has the body
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(/^GET \/echo\/ 200 \d+\.\dms$/);
    } finally {
      await bare.close();
    }
  });
});

describe("nova's version: what EB deployed, not the property set at creation (issue 25 item 5, R56)", () => {
  const manifest = path.join(tmp, 'app_version_manifest.json');
  const env = (extra: Record<string, string> = {}) => ({ VERSION_LABEL: 'at-creation', EB_APP_VERSION_MANIFEST: manifest, ...extra });

  it("reports the label in EB's manifest (RuntimeSources), which an eb deploy rewrites", () => {
    writeFileSync(manifest, JSON.stringify({ RuntimeSources: { 'nova-dv': { 'by-eb-deploy': { s3url: '' } } }, DeploymentId: 2, Serial: 2 }));
    expect(readSettings(env()).versionLabel).toBe('by-eb-deploy');
  });

  it('prefers a top-level VersionLabel where the platform writes one', () => {
    writeFileSync(manifest, JSON.stringify({ VersionLabel: 'top', RuntimeSources: { 'nova-dv': { other: {} } } }));
    expect(readSettings(env()).versionLabel).toBe('top');
  });

  it('falls back to VERSION_LABEL without a readable manifest, or with an ambiguous one', () => {
    rmSync(manifest, { force: true });
    expect(readSettings(env()).versionLabel).toBe('at-creation');
    writeFileSync(manifest, 'not json');
    expect(readSettings(env()).versionLabel).toBe('at-creation');
    writeFileSync(manifest, JSON.stringify({ RuntimeSources: { a: { one: {}, two: {} } } }));
    expect(readSettings(env()).versionLabel).toBe('at-creation');
  });
});

describe('nova process (built dist/server.js)', () => {
  beforeAll(async () => {
    // The root's TypeScript, as `npm run build` does; output goes to nova/dist (gitignored).
    await execa('node', [path.join(root, 'node_modules/typescript/bin/tsc'), '-p', path.join(root, 'nova/tsconfig.json')]);
  }, 60_000);

  const children: ChildProcess[] = [];
  afterEach(() => {
    for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  });

  /** Spawn the server on a free port and resolve once it says where it listens. */
  async function spawnNova(env: Record<string, string> = {}) {
    const child = spawn(process.execPath, [path.join(root, 'nova/dist/server.js')], {
      env: { PATH: process.env.PATH, PORT: '0', NOVA_NO_ECHO_FILE: noEcho, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.push(child);
    let out = '';
    child.stdout!.on('data', (d) => (out += d));
    const url = await new Promise<string>((resolve, reject) => {
      child.stdout!.on('data', () => {
        const m = /listening on (http:\/\/\S+)/.exec(out);
        if (m) resolve(m[1]);
      });
      child.once('exit', (code) => reject(new Error(`nova exited ${code} before listening: ${out}`)));
    });
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    return { child, url, port: Number(new URL(url).port), exited, output: () => out };
  }

  function refused(port: number): Promise<boolean> {
    return new Promise((resolve) => {
      const s = net.connect(port, '127.0.0.1');
      s.once('connect', () => (s.destroy(), resolve(false)));
      s.once('error', (e: NodeJS.ErrnoException) => resolve(e.code === 'ECONNREFUSED'));
    });
  }

  it('on SIGTERM finishes the in-flight request, refuses new connections, exits 0', async () => {
    const nova = await spawnNova({ NOVA_ECHO_DELAY_MS: '1000', PHASE: 'qa' });
    const inFlight = fetch(`${nova.url}/echo/`);
    await new Promise((r) => setTimeout(r, 200)); // let the request reach the server
    const t0 = Date.now();
    nova.child.kill('SIGTERM');
    await vi.waitFor(() => expect(nova.output()).toContain('SIGTERM'), { timeout: 3000, interval: 10 });
    expect(await refused(nova.port)).toBe(true);

    const res = await inFlight;
    expect(res.status).toBe(200);
    expect((await res.json()).phase).toBe('qa');
    expect(await nova.exited).toBe(0);
    // The answered request's socket closed with it, not after the 5 s keep-alive timeout.
    expect(Date.now() - t0).toBeLessThan(3000);
  }, 15_000);

  it('does not wait for idle keep-alive connections on SIGTERM', async () => {
    const nova = await spawnNova();
    const agent = new http.Agent({ keepAlive: true });
    try {
      const status = await new Promise<number>((resolve, reject) => {
        http.get(`${nova.url}/echo/`, { agent }, (res) => (res.resume(), resolve(res.statusCode!))).on('error', reject);
      });
      expect(status).toBe(200);
      const t0 = Date.now();
      nova.child.kill('SIGTERM');
      expect(await nova.exited).toBe(0);
      // Node's keep-alive timeout is 5 s: exiting well before shows the idle socket was dropped.
      expect(Date.now() - t0).toBeLessThan(2000);
    } finally {
      agent.destroy();
    }
  }, 15_000);
});
