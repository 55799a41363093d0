// The smoke test (issue 20 items 9, 10, 11, 19): a real `sh -c`, no AWS involved.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { configSchema } from '../../src/config/schema.js';
import { buildCtx, makeRedactor, type Ctx } from '../../src/context.js';
import { DeployError, InterruptedError } from '../../src/errors.js';
import { runSmokeTest } from '../../src/deploy/smoke-test.js';
import { Logger } from '../../src/ui/log.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const tmp = mkdtempSync(path.join(os.tmpdir(), 'smoke-test-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function ctxFor(nova: Record<string, unknown>, o: { dryRun?: boolean; signal?: AbortSignal } = {}): { ctx: Ctx; output: () => string } {
  const raw = JSON.parse(readFileSync(path.join(root, 'env.sandbox.json'), 'utf8'));
  Object.assign(raw.nova, nova);
  const config = configSchema.parse(raw);
  let text = '';
  const sink = new Writable({ write: (c, _e, cb) => ((text += String(c)), cb()) });
  const redactor = makeRedactor({}, config);
  const log = new Logger({ verbose: false, json: false, color: false, redactor, stdout: sink, stderr: sink });
  const ctx = buildCtx({ root, command: 'create_nova', config, configFile: 'env.sandbox.json', opts: { dryRun: o.dryRun }, log, redactor, runLog: false, signal: o.signal });
  return { ctx, output: () => text };
}

/** Running: a zombie (killed, its parent gone, not yet reaped by init) is not. */
const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    return !/^\d+ \(.*\) Z /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
};

describe('the smoke test', () => {
  it('--dry-run runs no user command', async () => {
    const marker = path.join(tmp, 'ran');
    const { ctx, output } = ctxFor({ SMOKE_TEST_COMMAND: `touch ${marker}` }, { dryRun: true });
    await runSmokeTest(ctx, 'dv-nova-1.example', 60_000);
    expect(existsSync(marker)).toBe(false);
    expect(output()).toMatch(/not run under --dry-run/);
  });

  it('its timeout ends the whole process group: a background child goes too, and the wait is not the child\'s', async () => {
    const pidFile = path.join(tmp, 'bg.pid');
    const { ctx } = ctxFor({ SMOKE_TEST_COMMAND: `sleep 30 & echo $! > ${pidFile}; sleep 30` });
    const started = Date.now();
    const err = await runSmokeTest(ctx, 'h.example', 1000).catch((e) => e);
    const took = Date.now() - started;
    expect(err).toBeInstanceOf(DeployError);
    expect(err.message).toMatch(/timed out after 1 s/);
    expect(took).toBeLessThan(15_000); // the sleeps are 30 s: not waited for
    const pid = Number(readFileSync(pidFile, 'utf8'));
    // SIGTERM reaches the group at once; give the kernel a moment to reap.
    for (let i = 0; i < 50 && alive(pid); i++) await new Promise((r) => setTimeout(r, 100));
    expect(alive(pid)).toBe(false);
  });

  it('Ctrl-C ends the whole process group', async () => {
    const pidFile = path.join(tmp, 'bg2.pid');
    const abort = new AbortController();
    const { ctx } = ctxFor({ SMOKE_TEST_COMMAND: `sleep 30 & echo $! > ${pidFile}; sleep 30` }, { signal: abort.signal });
    const run = runSmokeTest(ctx, 'h.example', 60_000).catch((e) => e);
    for (let i = 0; i < 100 && !existsSync(pidFile); i++) await new Promise((r) => setTimeout(r, 50));
    expect(existsSync(pidFile)).toBe(true); // the kill point: the background child exists
    abort.abort();
    expect(await run).toBeInstanceOf(InterruptedError);
    const pid = Number(readFileSync(pidFile, 'utf8'));
    for (let i = 0; i < 50 && alive(pid); i++) await new Promise((r) => setTimeout(r, 100));
    expect(alive(pid)).toBe(false);
  });

  it('a command that exits leaving a background child does not keep the run waiting', async () => {
    const { ctx } = ctxFor({ SMOKE_TEST_COMMAND: 'sleep 30 & echo checked' });
    const started = Date.now();
    await runSmokeTest(ctx, 'h.example', 60_000);
    expect(Date.now() - started).toBeLessThan(15_000);
  });

  it('gets no AWS_* variable (nor the webhook) unless nova.SMOKE_TEST_AWS_CREDENTIALS', async () => {
    process.env.AWS_SECRET_ACCESS_KEY = 'real-secret-from-dotenv-1234';
    process.env.AWS_ACCESS_KEY_ID_TEST_MARK = 'x';
    try {
      const out1 = path.join(tmp, 'env1');
      await runSmokeTest(ctxFor({ SMOKE_TEST_COMMAND: `env > ${out1}` }).ctx, 'h.example', 60_000);
      const env1 = readFileSync(out1, 'utf8');
      expect(env1).not.toMatch(/^AWS_/m);
      expect(env1).toMatch(/^JOHANNA_URL=http:\/\/h\.example$/m);
      expect(env1).toMatch(/^JOHANNA_PHASE=/m);
      expect(env1).toMatch(/^PATH=/m);

      const out2 = path.join(tmp, 'env2');
      await runSmokeTest(ctxFor({ SMOKE_TEST_COMMAND: `env > ${out2}`, SMOKE_TEST_AWS_CREDENTIALS: true }).ctx, 'h.example', 60_000);
      const env2 = readFileSync(out2, 'utf8');
      // The phase's own settings: a sandbox phase's dummy keys, never the caller's real ones.
      expect(env2).toMatch(/^AWS_DEFAULT_REGION=/m);
      expect(env2).toMatch(/^AWS_SECRET_ACCESS_KEY=sandbox$/m);
      expect(env2).not.toContain('real-secret-from-dotenv-1234');
    } finally {
      delete process.env.AWS_SECRET_ACCESS_KEY;
      delete process.env.AWS_ACCESS_KEY_ID_TEST_MARK;
    }
  });

  it('its output never shows a part of the command (a token it carries)', async () => {
    const { ctx, output } = ctxFor({ SMOKE_TEST_COMMAND: 'echo "Authorization: Bearer tok3n-abc123"; echo all good' });
    await runSmokeTest(ctx, 'h.example', 60_000);
    expect(output()).not.toContain('tok3n-abc123');
    expect(output()).toContain('all good');
  });
});
