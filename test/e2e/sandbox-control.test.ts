// Issue 12, the sandbox as a newcomer meets it, with the built ./run: one sandbox per
// endpoint (two phases of one checkout each get their own), a moto killed under a running
// sandbox (status says so, start and the next command heal it), and no process left
// behind by a sandbox whose owner was SIGKILLed (found through /proc, by state folder).
//
// `sandbox stop --all` stops every sandbox of a checkout, so these tests run in a copy of
// the checkout of their own (run, package.json, dist/, node_modules linked): another test
// file's sandbox is never theirs to stop.
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../sandbox/ports.js';
import { onPath } from '../../src/venv.js';
import { ROOT, until } from '../helpers/sandbox-phase.js';
import { sandboxPhaseConfig } from '../helpers/bench-phase.js';

let checkout: string;

beforeAll(() => {
  checkout = mkdtempSync(path.join(os.tmpdir(), 'johanna-checkout-'));
  for (const f of ['run', 'package.json', 'env.sandbox.json']) cpSync(path.join(ROOT, f), path.join(checkout, f));
  cpSync(path.join(ROOT, 'dist'), path.join(checkout, 'dist'), { recursive: true });
  // The policies the sandbox's caller holds by default (sandbox/iam/policies.ts reads them from the checkout).
  cpSync(path.join(ROOT, 'examples'), path.join(checkout, 'examples'), { recursive: true });
  mkdirSync(path.join(checkout, 'sandbox', 'iam'), { recursive: true });
  cpSync(path.join(ROOT, 'sandbox', 'iam', 'AdministratorAccess-AWSElasticBeanstalk.json'), path.join(checkout, 'sandbox', 'iam', 'AdministratorAccess-AWSElasticBeanstalk.json'));
  symlinkSync(path.join(ROOT, 'node_modules'), path.join(checkout, 'node_modules'));
});

afterAll(async () => {
  if (checkout) {
    await run(['sandbox', 'stop', '--all']);
    rmSync(checkout, { recursive: true, force: true });
  }
});

/** The copy's ./run; never rejects. */
async function run(args: string[], timeoutMs = 180_000) {
  const r = await execa(path.join(checkout, 'run'), args, { cwd: checkout, reject: false, stdin: 'ignore', timeout: timeoutMs, env: { ...process.env, NO_COLOR: '1' } });
  return { exitCode: r.exitCode, stdout: String(r.stdout), stderr: String(r.stderr) };
}

/** A phase config of the copy whose sandbox section points at two free ports. */
async function phaseOnFreePorts(phase: string): Promise<{ file: string; port: number; routerPort: number; endpoint: string }> {
  // Two asks for a free port can get the same one (it was free both times): then the router
  // would find the front on its port and the start would fail. Ask until they differ.
  const port = await freePort();
  let routerPort = await freePort();
  while (routerPort === port) routerPort = await freePort();
  const endpoint = `http://127.0.0.1:${port}`;
  const file = path.join(checkout, `env.${phase}.json`);
  writeFileSync(file, JSON.stringify(sandboxPhaseConfig({ phase, endpoint, router: `127.0.0.1:${routerPort}` }), null, 2));
  return { file, port, routerPort, endpoint };
}

/**
 * Every process that holds a folder: its command line names it, or its working directory
 * or an open file is in it. Read straight from /proc, apart from the code under test.
 */
function holders(folder: string): Array<{ pid: number; cmd: string }> {
  const out: Array<{ pid: number; cmd: string }> = [];
  for (const name of readdirSync('/proc').filter((n) => /^\d+$/.test(n))) {
    const pid = Number(name);
    if (pid === process.pid) continue;
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim();
      if (!cmd) continue; // a zombie: already dead, waiting to be reaped
      const links = [readlinkSync(`/proc/${pid}/cwd`), ...readdirSync(`/proc/${pid}/fd`).map((fd) => {
        try {
          return readlinkSync(`/proc/${pid}/fd/${fd}`);
        } catch {
          return '';
        }
      })];
      if (cmd.includes(folder) || links.some((l) => l === folder || l.startsWith(folder + '/'))) out.push({ pid, cmd });
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return !readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.startsWith('Z');
  } catch {
    return false;
  }
};

async function sandboxState(endpoint: string): Promise<{ pid: number; motoPid: number; motoPort: number }> {
  return (await (await fetch(`${endpoint}/_sandbox/status`)).json()) as any;
}

/** The pids whose parent is `pid` (the real moto_server under its guard). */
function childrenOf(pid: number): number[] {
  return readdirSync('/proc')
    .filter((n) => /^\d+$/.test(n))
    .map(Number)
    .filter((p) => {
      try {
        const stat = readFileSync(`/proc/${p}/stat`, 'utf8');
        return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === pid;
      } catch {
        return false;
      }
    });
}

describe('one sandbox per endpoint', () => {
  // BUG before: every sandbox of a checkout shared .sandbox/, so starting a second one on
  // other ports said "already running" about the first (exit 0), and a command of the
  // second phase then failed with "Could not connect".
  it('two phases of one checkout each start their own; status and stop act on the config\'s endpoint; stop --all stops the rest', async () => {
    const a = await phaseOnFreePorts('sba');
    const b = await phaseOnFreePorts('sbb');
    const startA = await run(['-e', a.file, 'sandbox', 'start']);
    expect(startA.exitCode, startA.stderr).toBe(0);
    expect(startA.stdout).toMatch(new RegExp(`^started: endpoint ${a.endpoint}, router 127.0.0.1:${a.routerPort} \\(pid \\d+, log ${checkout}/.sandbox/${a.port}/sandbox.log\\)`));
    const startB = await run(['-e', b.file, 'sandbox', 'start']);
    expect(startB.exitCode, startB.stderr).toBe(0);
    expect(startB.stdout).toMatch(new RegExp(`^started: endpoint ${b.endpoint}, router 127.0.0.1:${b.routerPort} `));
    const [pa, pb] = [await sandboxState(a.endpoint), await sandboxState(b.endpoint)];
    expect(pa.pid).not.toBe(pb.pid);

    // A command of phase b reaches b's sandbox (before: "Could not connect").
    const statusB = await run(['-e', b.file, 'status']);
    expect(statusB.exitCode, statusB.stderr).toBe(0);
    expect(statusB.stdout).toContain('phase sbb in ap-northeast-2');
    expect(statusB.stderr).not.toContain('starting the local sandbox');
    // Which tools it runs (issue 26): this copy has no .venv, so the ones on PATH.
    const awsCli = process.env.JOHANNA_AWS_CLI || `aws (${onPath('aws')} on PATH)`;
    expect(statusB.stdout).toContain(`  aws CLI: ${awsCli} aws-cli/`);
    expect(statusB.stdout).toContain(`  moto_server (the sandbox's): moto_server (${onPath('moto_server')} on PATH)`);

    expect((await run(['-e', b.file, 'sandbox', 'status'])).stdout).toContain(`running: endpoint ${b.endpoint}, router 127.0.0.1:${b.routerPort} (pid ${pb.pid})`);
    const stopA = await run(['-e', a.file, 'sandbox', 'stop']);
    expect(stopA.stdout).toContain(`${a.endpoint}: stopped (pid ${pa.pid})`);
    expect((await run(['-e', a.file, 'sandbox', 'status'])).stdout).toContain(`not running (start it with ./run -e ${path.relative(checkout, a.file)} sandbox start --port ${a.port})`); // the hint carries -e, as typed from the checkout (issue 22 item 5)
    expect((await run(['-e', b.file, 'sandbox', 'status'])).stdout).toContain(`running: endpoint ${b.endpoint}`);

    const stopAll = await run(['sandbox', 'stop', '--all']);
    expect(stopAll.stdout).toContain(`${checkout}/.sandbox/${b.port}: stopped (pid ${pb.pid})`);
    expect(holders(path.join(checkout, '.sandbox'))).toEqual([]);
    expect((await run(['sandbox', 'status', '--all'])).stdout).toContain('none running');
  });

  it('a port taken by something that is not this folder\'s sandbox is an error, not "already running"', async () => {
    const c = await phaseOnFreePorts('sbc');
    const other = (await import('node:http')).createServer((_req, res) => res.end('not a sandbox'));
    await new Promise<void>((resolve) => other.listen(c.port, '127.0.0.1', resolve));
    try {
      const r = await run(['-e', c.file, 'sandbox', 'start']);
      expect(r.exitCode).toBe(1);
      expect(r.stderr).toContain(`port ${c.port} is taken by another server`);
    } finally {
      other.close();
    }
  });

  // Issue 20 item 16: the front kept listening when the router's port was taken.
  it("the router's port taken: exit 1 naming it, and nothing of the sandbox is left listening", async () => {
    const c = await phaseOnFreePorts('sbr');
    const net = await import('node:net');
    const other = net.createServer();
    await new Promise<void>((resolve) => other.listen(c.routerPort, '127.0.0.1', resolve));
    try {
      const r = await run(['-e', c.file, 'sandbox', 'start']);
      expect(r.exitCode, r.stderr).toBe(1);
      expect(r.stderr).toContain(`port ${c.routerPort}`);
      // The endpoint's port is free again: we can listen on it ourselves.
      const probe = net.createServer();
      await new Promise<void>((resolve, reject) => {
        probe.once('error', reject);
        probe.listen(c.port, '127.0.0.1', resolve);
      });
      await new Promise<void>((resolve) => probe.close(() => resolve()));
    } finally {
      other.close();
    }
  });
});

describe('moto killed under a running sandbox', () => {
  // BUG before: status still said "running", start said "already running" (exit 0) and
  // every command exited 1.
  it('status says which part is dead (exit 1); start restarts it; a command of the phase heals it too', async () => {
    const d = await phaseOnFreePorts('sbd');
    expect((await run(['-e', d.file, 'sandbox', 'start'])).exitCode).toBe(0);
    const before = await sandboxState(d.endpoint);
    process.kill(-before.motoPid, 'SIGKILL'); // moto's whole group: its guard and moto_server
    await until('moto to be gone', async () => (alive(before.motoPid) ? undefined : true), 10_000);

    const status = await run(['-e', d.file, 'sandbox', 'status']);
    expect(status.exitCode).toBe(1);
    expect(status.stdout).toContain(`HALF-DEAD: endpoint ${d.endpoint}, router 127.0.0.1:${d.routerPort} (pid ${before.pid}): moto (pid ${before.motoPid}, port ${before.motoPort}) does not answer`);
    expect(status.stdout).toContain(`restart it with ./run -e ${path.relative(checkout, d.file)} sandbox start --port ${d.port}`);

    const start = await run(['-e', d.file, 'sandbox', 'start']);
    expect(start.exitCode, start.stderr).toBe(0);
    expect(start.stdout).toMatch(/^restarted: /);
    expect(start.stderr).toContain('was half-dead (moto');
    const after = await sandboxState(d.endpoint);
    expect(after.pid).not.toBe(before.pid);
    expect((await run(['-e', d.file, 'sandbox', 'status'])).exitCode).toBe(0);

    // The automatic start of a sandbox phase notices it too, and the command then works.
    process.kill(-after.motoPid, 'SIGKILL');
    await until('moto to be gone', async () => (alive(after.motoPid) ? undefined : true), 10_000);
    // A read the documented IAM policies allow (dynamodb:ListTables is not in them; issue 18).
    const cmd = await run(['-e', d.file, '-f', '--', 'aws', 'elasticbeanstalk', 'describe-applications']);
    expect(cmd.stderr).toContain(`the sandbox at ${d.endpoint} is half-dead (moto`);
    expect(cmd.exitCode, cmd.stderr).toBe(0);
    expect(JSON.parse(cmd.stdout)).toEqual({ Applications: [] });
    expect((await run(['-e', d.file, 'sandbox', 'stop'])).exitCode).toBe(0);
  });
});

describe('nothing outlives a SIGKILLed sandbox', () => {
  // BUG before: moto and the apps led their own process groups and nothing watched their
  // parent, so a test or bench process that ran a sandbox in-process and was SIGKILLed left
  // them running for good.
  it('an in-process sandbox (moto and an app started as the emulator starts it): its owner SIGKILLed, all of them go', async () => {
    const stateDir = mkdtempSync(path.join(os.tmpdir(), 'johanna-inproc-'));
    const appDir = path.join(stateDir, 'envs', 'e-test', 'app');
    mkdirSync(appDir, { recursive: true });
    writeFileSync(path.join(appDir, 'server.js'), "require('http').createServer((q, s) => s.end('ok')).listen(process.env.PORT, '127.0.0.1');\n");
    // `sh -c` then node: the app's server is a grandchild, as with npm start.
    writeFileSync(path.join(appDir, 'Procfile'), 'web: node server.js\n');
    const script = `
      const { createSandbox } = await import(${JSON.stringify(path.join(ROOT, 'dist/sandbox/server.js'))});
      const { startApp } = await import(${JSON.stringify(path.join(ROOT, 'dist/sandbox/eb/app-process.js'))});
      const { freePort } = await import(${JSON.stringify(path.join(ROOT, 'dist/sandbox/ports.js'))});
      const sandbox = await createSandbox({ port: 0, routerPort: 0, stateDir: ${JSON.stringify(stateDir)} });
      const port = await freePort();
      const app = startApp(${JSON.stringify(appDir)}, port, {}, ${JSON.stringify(path.join(stateDir, 'envs', 'e-test', 'app.log'))});
      const status = await (await fetch(sandbox.endpoint + '/_sandbox/status')).json();
      console.log(JSON.stringify({ motoPid: status.motoPid, appPid: app.pid, appPort: port }));
      setInterval(() => {}, 1000);
    `;
    const owner = execa(process.execPath, ['--input-type=module', '-e', script], { reject: false, stdin: 'ignore' });
    try {
      const first = await new Promise<string>((resolve, reject) => {
        owner.stdout!.once('data', (d: Buffer) => resolve(d.toString()));
        void owner.then((r) => reject(new Error(`the owner exited: ${r.stderr}`)));
      });
      const { motoPid, appPid, appPort } = JSON.parse(first);
      // The kill point: moto and the app (the app's server answering) are up.
      await until('the app to answer', async () => ((await fetch(`http://127.0.0.1:${appPort}/`).then((r) => r.text()).catch(() => '')) === 'ok' ? true : undefined), 20_000);
      const running = holders(stateDir).map((h) => h.pid);
      expect(running).toEqual(expect.arrayContaining([motoPid, appPid]));
      const grandchildren = [...childrenOf(motoPid), ...childrenOf(appPid)];
      expect(grandchildren.length).toBeGreaterThanOrEqual(2); // moto_server and sh under their guards

      process.kill(owner.pid!, 'SIGKILL');
      await owner;
      await until('every process of the sandbox to be gone', async () => (holders(stateDir).length === 0 ? true : undefined), 20_000).catch(() => undefined);
      expect(holders(stateDir)).toEqual([]);
      for (const pid of [motoPid, appPid, ...grandchildren]) expect(alive(pid), `pid ${pid}`).toBe(false);
    } finally {
      owner.kill('SIGKILL');
      rmSync(stateDir, { recursive: true, force: true });
    }
  });

  it('sandbox stop --all finds what a SIGKILLed background sandbox left by its state folder', async () => {
    let e = await phaseOnFreePorts('sbe');
    let started = await run(['-e', e.file, 'sandbox', 'start']);
    // A free port can be taken by another test file's process before the start binds it: once
    // more on new ports, when the start says a port is taken (cli.ts names it).
    if (started.exitCode !== 0 && /port \d+/.test(started.stderr)) {
      e = await phaseOnFreePorts('sbe');
      started = await run(['-e', e.file, 'sandbox', 'start']);
    }
    expect(started.exitCode, started.stderr).toBe(0);
    const s = await sandboxState(e.endpoint);
    const [moto] = childrenOf(s.motoPid);
    expect(moto).toBeDefined();
    // The sandbox and moto's guard SIGKILLed at once: nothing of ours is left to stop moto.
    process.kill(s.pid, 'SIGKILL');
    process.kill(s.motoPid, 'SIGKILL');
    await until('the sandbox and the guard to be gone', async () => (alive(s.pid) || alive(s.motoPid) ? undefined : true), 10_000);
    expect(alive(moto)).toBe(true);
    const folder = path.join(checkout, '.sandbox', String(e.port));
    expect(holders(folder).map((h) => h.pid)).toContain(moto);

    const stop = await run(['sandbox', 'stop', '--all']);
    expect(stop.exitCode).toBe(0);
    expect(stop.stdout).toContain(`${folder}: killed 1 process left in its folder (pid ${moto})`);
    expect(alive(moto)).toBe(false);
    expect(holders(folder)).toEqual([]);
    expect(existsSync(path.join(folder, 'sandbox.pid'))).toBe(false);
  });
});
