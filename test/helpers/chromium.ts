// A real browser for the tests: Debian's headless Chromium (/usr/bin/chromium; .ci/run
// installs it), driven over the DevTools protocol on a pipe (--remote-debugging-pipe: fd 3
// in, fd 4 out, one NUL-terminated JSON message each way). No npm library: this needs five
// protocol methods, and puppeteer-core would bring a dozen dependencies for them. Nothing
// listens on a port; the page is a local file.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Readable, Writable } from 'node:stream';

export const CHROMIUM = process.env.JOHANNA_CHROMIUM ?? '/usr/bin/chromium';

export interface PageVisit<T> {
  /** console.error/assert calls, uncaught exceptions, and the browser's own error entries (a blocked load, a CSP violation). */
  errors: string[];
  /** What `evaluate` returned, computed in the page once it loaded. */
  value: T;
  /** The PNG written, if asked. */
  screenshot?: string;
}

/**
 * Opens `file` in headless Chromium, waits for its load event, runs `expression` in the page
 * (its JSON value comes back), collects every console error, and writes a full-page
 * screenshot to `screenshot` if given.
 */
export async function visit<T = unknown>(file: string, expression: string, o: { screenshot?: string; timeoutMs?: number } = {}): Promise<PageVisit<T>> {
  if (!existsSync(CHROMIUM)) throw new Error(`no Chromium at ${CHROMIUM}: apt-get install -y --no-install-recommends chromium (or set JOHANNA_CHROMIUM)`);
  const profile = mkdtempSync(path.join(os.tmpdir(), 'johanna-chromium-'));
  const args = [
    '--headless',
    '--disable-gpu',
    '--no-first-run',
    '--no-default-browser-check',
    '--disable-extensions',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    '--remote-debugging-pipe',
    `--user-data-dir=${profile}`,
    // Chromium's own sandbox refuses to start as root (CI runs as root); the page is our own file.
    ...(process.getuid?.() === 0 ? ['--no-sandbox'] : []),
    'about:blank',
  ];
  const child = spawn(CHROMIUM, args, { stdio: ['ignore', 'ignore', 'pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr = (stderr + d).slice(-4000)));
  const toBrowser = child.stdio[3] as Writable;
  const fromBrowser = child.stdio[4] as Readable;
  const pending = new Map<number, { resolve: (v: any) => void; reject: (e: Error) => void }>();
  const listeners: ((m: any) => void)[] = [];
  let buf = '';
  fromBrowser.on('data', (d: Buffer) => {
    buf += d.toString('utf8');
    let i: number;
    while ((i = buf.indexOf('\0')) >= 0) {
      const msg = JSON.parse(buf.slice(0, i));
      buf = buf.slice(i + 1);
      if (msg.id !== undefined && pending.has(msg.id)) {
        const p = pending.get(msg.id)!;
        pending.delete(msg.id);
        if (msg.error) p.reject(new Error(`${msg.error.message} (${msg.error.code})`));
        else p.resolve(msg.result);
      } else {
        for (const l of listeners) l(msg);
      }
    }
  });
  let next = 0;
  const send = (method: string, params: object = {}, sessionId?: string): Promise<any> =>
    new Promise((resolve, reject) => {
      const id = ++next;
      pending.set(id, { resolve, reject });
      toBrowser.write(JSON.stringify({ id, method, params, ...(sessionId ? { sessionId } : {}) }) + '\0');
    });
  const gone = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  let done = false;
  const exited = gone.then((): never => {
    throw new Error(`chromium exited (${child.exitCode ?? child.signalCode}) before the visit ended:\n${stderr}`);
  });
  exited.catch(() => undefined);
  const timeoutMs = o.timeoutMs ?? 60_000;
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`chromium: no answer within ${timeoutMs} ms:\n${stderr}`)), timeoutMs)));

  const errors: string[] = [];
  const work = async (): Promise<PageVisit<T>> => {
    const { targetInfos } = await send('Target.getTargets');
    const page = targetInfos.find((t: any) => t.type === 'page');
    const { targetId } = page ?? (await send('Target.createTarget', { url: 'about:blank' }));
    const { sessionId } = await send('Target.attachToTarget', { targetId, flatten: true });
    let loaded!: () => void;
    const load = new Promise<void>((r) => (loaded = r));
    listeners.push((m) => {
      if (m.sessionId !== sessionId) return;
      if (m.method === 'Page.loadEventFired') loaded();
      if (m.method === 'Runtime.consoleAPICalled' && ['error', 'assert'].includes(m.params.type)) {
        errors.push(`console.${m.params.type}: ${m.params.args.map((a: any) => a.value ?? a.description ?? '').join(' ')}`);
      }
      if (m.method === 'Runtime.exceptionThrown') errors.push(`exception: ${m.params.exceptionDetails?.exception?.description ?? m.params.exceptionDetails?.text}`);
      if (m.method === 'Log.entryAdded' && m.params.entry.level === 'error') errors.push(`${m.params.entry.source}: ${m.params.entry.text}`);
    });
    await send('Page.enable', {}, sessionId);
    await send('Runtime.enable', {}, sessionId);
    await send('Log.enable', {}, sessionId);
    await send('Emulation.setDeviceMetricsOverride', { width: 1100, height: 900, deviceScaleFactor: 1, mobile: false }, sessionId);
    await send('Page.navigate', { url: pathToFileURL(path.resolve(file)).href }, sessionId);
    await load;
    const r = await send('Runtime.evaluate', { expression, returnByValue: true }, sessionId);
    if (r.exceptionDetails) throw new Error(`the expression threw in the page: ${r.exceptionDetails.exception?.description ?? r.exceptionDetails.text}`);
    let screenshot: string | undefined;
    if (o.screenshot) {
      const shot = await send('Page.captureScreenshot', { format: 'png', captureBeyondViewport: true }, sessionId);
      writeFileSync(o.screenshot, Buffer.from(shot.data, 'base64'));
      screenshot = o.screenshot;
    }
    // Errors logged while the page settled arrive before the answers above; one more round trip flushes them.
    await send('Runtime.evaluate', { expression: '0' }, sessionId);
    done = true;
    await send('Browser.close').catch(() => undefined);
    return { errors, value: r.result.value as T, screenshot };
  };
  try {
    return await Promise.race([work(), exited, timeout]);
  } finally {
    clearTimeout(timer);
    // The profile folder is the browser's until it has exited: wait for that, a few seconds at most.
    const killer = setTimeout(() => child.kill('SIGKILL'), done ? 5000 : 0);
    await gone;
    clearTimeout(killer);
    rmSync(profile, { recursive: true, force: true, maxRetries: 3 });
  }
}
