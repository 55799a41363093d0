// Operating a phase day to day, as an operator and a cron job do it: status before and
// after create, the daily deploy, rollback (twice), the cleanup of old environments, the
// deploy lock, the smoke-test hook, Slack notifications and cron-friendly output.
//
// Creating a phase costs a minute or more on this machine, so the whole file shares one
// sandbox and one phase ("op1"), and its tests run in order, each building on the state
// the previous one left (each says what it expects to find). A loopback HTTP server
// stands in for the Slack webhook from the start.
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { newestRunLog, ROOT, RUN, startPhase, type PhaseSandbox } from '../helpers/sandbox-phase.js';
import { startNotifyServer, type NotifyServer } from '../helpers/notify-server.js';
import { freePort } from '../helpers/cli.js';
import { httpGet } from '../../src/deploy/probe.js';

const PHASE = 'op1';
const LOGS = path.join(ROOT, 'logs', PHASE);
const SECRET = 'secretpath123';
const HOOK_PATH = `/services/T000/B000/${SECRET}`;
const LABEL = /app-\d{6}_\d{6}-[a-z][a-z0-9-]*-[0-9a-f]{4}/;
const STAMPED = /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}Z /;
const LONG = 300_000;

let ph: PhaseSandbox;
let hook: NotifyServer;
let base: any;
let tmp: string;

type RunResult = Awaited<ReturnType<PhaseSandbox['run']>>;

/**
 * Never silent (issue 22 item 2): the longest time each run of this file printed nothing,
 * on the sandbox without a TTY (whose heartbeat is every 3 s), at most 7 s. Printed at the
 * end, for the record. The longest gap is the first, which counts the process's own start:
 * on a 2-core CI machine under load 10, status and rollback took 5.1–5.9 s to their first line.
 */
const SILENCE_MS = 7000;
const silences: string[] = [];
function expectNeverSilent(what: string, r: RunResult): void {
  silences.push(`${what}: ${((r.longestSilenceMs ?? 0) / 1000).toFixed(1)} s (after: ${r.longestSilenceAfter})`);
  expect(r.longestSilenceMs, `${what} said nothing for ${r.longestSilenceMs} ms after: ${r.longestSilenceAfter}`).toBeLessThanOrEqual(SILENCE_MS);
}

/** Rewrite the phase's config file from the one startPhase wrote, with `edit` applied; ./run reads it afresh each time. */
function writeConfig(edit?: (c: any) => void): void {
  const c = structuredClone(base);
  edit?.(c);
  writeFileSync(ph.configFile, JSON.stringify(c, null, 2));
}

/**
 * The version the main CNAME serves, through the router. Not ph.get: fetch (undici) drops
 * a Host header it is given, so that asks the router for 127.0.0.1 and gets nothing.
 */
async function served(): Promise<string | undefined> {
  const a = await httpGet({ sandbox: { endpoint: ph.sandbox.endpoint, router: ph.sandbox.router } }, ph.host, '/echo/').catch(() => undefined);
  return a?.status === 200 ? a.version : undefined;
}

async function environments(includeDeleted = false): Promise<any[]> {
  const r = await ph.aws(['elasticbeanstalk', 'describe-environments', '--application-name', PHASE, ...(includeDeleted ? ['--include-deleted'] : [])]);
  return r.Environments ?? [];
}

async function putLock(holder: string, expiresAt: number): Promise<void> {
  const item = {
    phase: { S: PHASE },
    holder: { S: holder },
    command: { S: 'create_nova' },
    startedAt: { S: new Date(Date.now() - 3 * 3600_000).toISOString() },
    expiresAt: { N: String(expiresAt) },
  };
  await ph.aws(['dynamodb', 'put-item', '--table-name', 'johanna-locks', '--item', JSON.stringify(item)]);
}

async function lockItem(): Promise<any> {
  const r = await ph.aws(['dynamodb', 'get-item', '--table-name', 'johanna-locks', '--key', JSON.stringify({ phase: { S: PHASE } }), '--consistent-read']);
  return r.Item;
}

function expectNoSecret(...texts: string[]): void {
  for (const t of texts) {
    expect(t).not.toContain(SECRET);
    expect(t).not.toContain(HOOK_PATH);
  }
}

/** Every run log this phase wrote so far, as one text. */
function allRunLogs(): string {
  return readdirSync(LOGS)
    .map((f) => readFileSync(path.join(LOGS, f), 'utf8'))
    .join('\n');
}

beforeAll(async () => {
  rmSync(LOGS, { recursive: true, force: true });
  tmp = mkdtempSync(path.join(os.tmpdir(), 'johanna-operate-'));
  hook = await startNotifyServer();
  ph = await startPhase({
    phase: PHASE,
    delays: { launchMs: 500, swapMs: 200, terminateMs: 300 },
    // The SIGINT case's kill point is the wait for the DNS TTL (below). With the default 5 s,
    // a CI run at load 12 spent most of it verifying the swap before the wait began, and the
    // signal landed after the run had ended (exit 0). 15 s leaves the signal 10 s or more.
    strict: { dnsTtlMs: 15_000 },
    edit: (c) => {
      c.notify = { SLACK_WEBHOOK_URL: hook.url(HOOK_PATH) };
      // The app gets the webhook too, so the URL really goes into create-environment's
      // arguments (the -v line, the run log): the checks below can fail.
      c.nova.ENVIRONMENT = { TEAM_WEBHOOK: hook.url(HOOK_PATH) };
    },
  });
  base = structuredClone(ph.config);
}, 120_000);

afterAll(async () => {
  if (silences.length) console.log(`longest silence of each run (issue 22 item 2):\n  ${silences.join('\n  ')}`);
  await ph?.close();
  if (ph) rmSync(path.dirname(ph.configFile), { recursive: true, force: true }); // startPhase's config and sandbox state
  await hook?.close();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
  rmSync(LOGS, { recursive: true, force: true });
});

describe('operating one phase, in order', () => {
  // Filled as the story goes on.
  let v1 = '';
  let v2 = '';
  let v3 = '';
  let v4 = '';
  let gitJohanna = '';
  let gitNova = '';
  let deploy2: RunResult;
  let deploy2Log = '';

  describe('status of a phase that was never created', () => {
    it('says so in text, exit 0, asking nothing (no -f, stdin closed)', async () => {
      const r = await ph.run(['status']);
      expect(r.exitCode, r.stderr).toBe(0);
      expectNeverSilent('status (never created)', r);
      expect(r.stdout).toContain(`phase ${PHASE} in ap-northeast-2`);
      expect(r.stdout).toMatch(/never created/);
      expect(r.stdout).toContain('lock: free');
      expect(r.stderr).not.toMatch(/type the phase|confirm|pass -f/i);
    }, LONG);

    it('--json: created false, no environments, nothing live, no lock', async () => {
      const r = await ph.run(['status', '--json']);
      expect(r.exitCode, r.stderr).toBe(0);
      const j = JSON.parse(r.stdout);
      expect(j).toMatchObject({ ok: true, command: 'status', phase: PHASE, created: false, environments: [], lock: null });
      expect(j.live).toBeUndefined();
      expect(Object.values(j.resources).every((v) => v === null)).toBe(true);
      expect(hook.posts).toHaveLength(0); // read-only: no news
    }, LONG);
  });

  describe('create, then status', () => {
    it('./run -f create provisions the phase and serves the first version at the main CNAME', async () => {
      const r = await ph.run(['-f', 'create', '--json']);
      expect(r.exitCode, r.stderr).toBe(0);
      expectNeverSilent('create', r);
      // Its steps, both halves, in the run log's step lines (what the summary's timeline shows).
      expect(r.stdout).not.toContain('── summary'); // --json stays as it was: one JSON document
      const j = JSON.parse(r.stdout);
      v1 = j.create_nova.versionLabel;
      gitJohanna = j.create_nova.gitHashJohanna;
      gitNova = j.create_nova.gitHashNova;
      expect(v1).toMatch(LABEL);
      expect(gitJohanna).toBeTruthy();
      expect(gitNova).toBeTruthy();
      expect(await served()).toBe(v1);
      const create = hook.posts.find((p) => p.text?.includes('johanna create succeeded'));
      expect(create?.text).toContain(`on phase ${PHASE}`);
      expect(create?.text).toContain(v1);
    }, LONG);

    it('status (text): every resource present, one environment live with its version and git hashes, lock free', async () => {
      const r = await ph.run(['status']);
      expect(r.exitCode, r.stderr).toBe(0);
      expectNeverSilent('status', r);
      const m = /resources: (\d+) of (\d+) present/.exec(r.stdout);
      expect(m, r.stdout).not.toBeNull();
      expect(m![1]).toBe(m![2]);
      expect(r.stdout).not.toContain('MISSING');
      expect(r.stdout).not.toMatch(/never created/);
      // A table (issue 22 item 3): a header, then one row an environment with its ROLE.
      expect(r.stdout).toMatch(/^\s+ROLE\s+ENVIRONMENT\s+STATE\s+VERSION\s+CNAME\s+GIT\s+AGE\s+REQUESTS\s+NOTE$/m);
      expect(r.stdout).toMatch(/^\s+STATE\s+RESOURCE\s+ID$/m);
      const envLines = r.stdout.split('\n').filter((l) => /^\s+\S+\s+nova-\d+/.test(l));
      expect(envLines, r.stdout).toHaveLength(1);
      expect(envLines[0]).toMatch(/^\s+live\s+nova-\d+\s+Ready\/Green/);
      expect(envLines[0]).toContain(v1);
      expect(envLines[0]).toContain(`${gitJohanna}/${gitNova}`);
      expect(r.stdout).toContain('lock: free');
    }, LONG);

    it('status --json: created, all resources present, the live environment, lock null', async () => {
      const r = await ph.run(['status', '--json']);
      expect(r.exitCode, r.stderr).toBe(0);
      const j = JSON.parse(r.stdout);
      expect(j.created).toBe(true);
      expect(j.mainCname).toBe(ph.host);
      const missing = Object.entries(j.resources).filter(([, v]) => !v);
      expect(missing).toEqual([]);
      expect(j.environments).toHaveLength(1);
      expect(j.environments[0]).toMatchObject({
        live: true,
        status: 'Ready',
        health: 'Green',
        versionLabel: v1,
        cname: ph.host,
        gitHashJohanna: gitJohanna,
        gitHashNova: gitNova,
      });
      expect(j.live).toBe(j.environments[0].name);
      expect(j.lock).toBeNull();
    }, LONG);
  });

  describe('a daily deploy, rollback, and rollback again', () => {
    it('create_nova (-v, no TTY) swaps in a second version', async () => {
      hook.posts.length = 0;
      // NO_COLOR unset on purpose: without a TTY the output must be plain anyway.
      deploy2 = await ph.run(['-f', '-v', 'create_nova'], { env: { NO_COLOR: undefined, FORCE_COLOR: undefined } });
      expect(deploy2.exitCode, deploy2.stderr).toBe(0);
      deploy2Log = newestRunLog(PHASE, 'create_nova');
      v2 = LABEL.exec(/deployed (\S+)/.exec(deploy2.stdout)?.[1] ?? '')?.[0] ?? '';
      expect(v2).toMatch(LABEL);
      expect(v2).not.toBe(v1);
      expect(await served()).toBe(v2);
      expectNeverSilent('create_nova -v', deploy2);
    }, LONG);

    it('its summary block is the last thing it prints: outcome, URL, a curl for the sandbox, the one it replaced, the total, the steps', () => {
      const out = deploy2.stdout.trimEnd().split('\n');
      const at = out.findIndex((l) => l.startsWith('── summary'));
      expect(at, deploy2.stdout).toBeGreaterThan(0);
      const block = out.slice(at + 1);
      expect(block[0]).toMatch(new RegExp(`^create_nova: deployed ${v2} to nova-\\d+, live since \\d\\d:\\d\\d:\\d\\d UTC$`));
      expect(block).toContain(`  url     http://${ph.host}${base.nova.HEALTH_CHECK_URL ?? '/echo/'}`);
      expect(block).toContain(`  try     curl -H 'Host: ${ph.host}' http://${ph.sandbox.router}${base.nova.HEALTH_CHECK_URL ?? '/echo/'}`);
      expect(block.find((l) => l.startsWith('  before '))).toMatch(new RegExp(`^  before  nova-\\d+ \\(${v1}\\)$`));
      const took = Number(/^ {2}took {4}([\d.]+)s$/.exec(block.find((l) => l.startsWith('  took')) ?? '')?.[1]);
      const steps = block.find((l) => l.startsWith('  steps'));
      expect(steps).toMatch(/^ {2}steps {3}preflight [\d.]+s ▸ package [\d.]+s ▸ launch [\d.]+s ▸ ready [\d.]+s ▸ probe [\d.]+s ▸ swap [\d.]+s ▸ verify [\d.]+s ▸ DNS [\d.]+s ▸ cleanup [\d.]+s$/);
      // The timeline's steps add up to no more than the total (the rest is the lock and the history).
      const sum = [...steps!.matchAll(/ ([\d.]+)s/g)].reduce((a, m) => a + Number(m[1]), 0);
      expect(sum).toBeLessThanOrEqual(took + 0.5);
      expect(block.at(-1)).toBe(steps);
      // The bookkeeping (lock, history, cleanup) printed its lines before the block, on stderr.
      expect(deploy2.stderr).not.toContain('── summary');
    });

    it('its output has no escape characters and its progress lines are timestamped', () => {
      expect(deploy2.stdout + deploy2.stderr).not.toContain('\x1b');
      const lines = deploy2.stderr.split('\n').filter(Boolean);
      expect(lines.length).toBeGreaterThan(5);
      expect(lines.filter((l) => !STAMPED.test(l))).toEqual([]);
      expect(deploy2.stderr).toMatch(/Z ==> preflight/);
    });

    it('it posted a success message naming the phase, command, version and git hashes', () => {
      expect(hook.posts).toHaveLength(1);
      const p = hook.posts[0];
      expect(p.path).toBe(HOOK_PATH);
      expect(p.contentType).toMatch(/application\/json/);
      expect(p.text).toMatch(/create_nova succeeded on phase op1/);
      expect(p.text).toContain(`version ${v2}`);
      expect(p.text).toContain(`johanna ${gitJohanna}`);
      expect(p.text).toContain(`nova ${gitNova}`);
      expect(p.text).toMatch(/previous nova-\d+/);
    });

    it('the webhook URL is in neither its stdout, its -v stderr, nor its run log', () => {
      expect(deploy2.stderr).toMatch(/\$ aws /); // -v did print the command lines
      expectNoSecret(deploy2.stdout, deploy2.stderr, readFileSync(deploy2Log, 'utf8'));
    });

    it('rollback: the main CNAME serves the previous version again', async () => {
      hook.posts.length = 0;
      const before = await ph.run(['status']);
      // After a deploy the ROLE column tells the live one from the previous one.
      expect(before.stdout).toMatch(new RegExp(`^\\s+previous\\s+nova-\\d+\\s+Ready/Green\\s+${v1}`, 'm'));
      expect(before.stdout).toMatch(new RegExp(`^\\s+live\\s+nova-\\d+\\s+Ready/Green\\s+${v2}`, 'm'));
      const r = await ph.run(['-f', 'rollback']);
      expect(r.exitCode, r.stderr).toBe(0);
      expectNeverSilent('rollback', r);
      expect(r.stdout).toContain(`rolled back: ${ph.host} serves ${v1}`);
      expect(r.stdout).toMatch(new RegExp(`^rollback: rolled back to ${v1} \\(nova-\\d+\\), live since .* UTC$`, 'm'));
      expect(r.stdout.trimEnd().split('\n').at(-1)).toMatch(/^ {2}steps {3}look [\d.]+s ▸ history [\d.]+s ▸ probe [\d.]+s ▸ swap [\d.]+s ▸ verify [\d.]+s ▸ DNS [\d.]+s$/);
      expect(await served()).toBe(v1);
      expect(hook.posts.map((p) => p.text).join('\n')).toMatch(new RegExp(`rollback succeeded on phase op1[\\s\\S]*version ${v1}`));
    }, LONG);

    it('rollback again: back to the newer version', async () => {
      const r = await ph.run(['-f', 'rollback']);
      expect(r.exitCode, r.stderr).toBe(0);
      // The second rollback returns to the newer deploy, and says so (issue 22 item 6).
      expect(r.stdout).toContain(`rolled forward: ${ph.host} serves ${v2}`);
      expect(r.stdout).toMatch(new RegExp(`^rollback: rolled forward to ${v2} `, 'm'));
      expect(await served()).toBe(v2);
    }, LONG);

    it("after an eb deploy (a new version on the previous environment, as `eb deploy` does it), status shows EB's version and rollback probes and serves it (issue 25 item 5)", async () => {
      const previous = (await environments()).find((e) => e.VersionLabel === v1);
      const bundle = (await ph.aws(['elasticbeanstalk', 'describe-application-versions', '--application-name', PHASE, '--version-labels', v1])).ApplicationVersions[0].SourceBundle;
      const byEb = `${v1}-eb`;
      // What `eb deploy` calls: a new application version, then update-environment to it.
      await ph.aws(['elasticbeanstalk', 'create-application-version', '--application-name', PHASE, '--version-label', byEb, '--source-bundle', `S3Bucket=${bundle.S3Bucket},S3Key=${bundle.S3Key}`]);
      await ph.aws(['elasticbeanstalk', 'update-environment', '--environment-name', previous.EnvironmentName, '--version-label', byEb]);
      for (let end = Date.now() + 60_000; ; ) {
        const e = (await environments()).find((x) => x.EnvironmentName === previous.EnvironmentName);
        if (e.Status === 'Ready' && e.Health === 'Green') break;
        if (Date.now() > end) throw new Error(`the update did not end: ${JSON.stringify(e)}`);
        await new Promise((resolve) => setTimeout(resolve, 300));
      }
      const status = await ph.run(['status', '--json']);
      expect(JSON.stringify(JSON.parse(status.stdout).environments)).toContain(byEb);
      const r = await ph.run(['-f', 'rollback']);
      expect(r.exitCode, r.stderr).toBe(0);
      expect(r.stdout).toContain(`rolled back: ${ph.host} serves ${byEb}`);
      expect(await served()).toBe(byEb);
      const back = await ph.run(['-f', 'rollback']);
      expect(back.exitCode, back.stderr).toBe(0);
      expect(await served()).toBe(v2);
    }, LONG);
  });

  describe('rollback once the previous environment is gone', () => {
    it('terminate_eb_old_environment --grace-minutes 0 removes the previous one, never the live one', async () => {
      const r = await ph.run(['-f', 'terminate_eb_old_environment', '--grace-minutes', '0']);
      expect(r.exitCode, r.stderr).toBe(0);
      expectNeverSilent('terminate_eb_old_environment', r);
      // The cleanup's decisions are a table with a ROLE column (issue 22 item 3).
      expect(r.stdout).toMatch(/^DECISION\s+ENVIRONMENT\s+ROLE\s+REASON$/m);
      expect(r.stdout).toMatch(/^terminate\s+nova-\d+\s+old\s+out of service since/m);
      expect(r.stdout).toMatch(/^keep\s+nova-\d+\s+live\s+holds the main CNAME/m);
      expect(await served()).toBe(v2);
    }, LONG);

    it('rollback is refused (exit 1), saying the previous environment is terminating/terminated; the live version keeps answering', async () => {
      const r = await ph.run(['-f', 'rollback']);
      expect(r.exitCode).toBe(1);
      expect(r.stderr).toMatch(/previous environment nova-\d+ \(.*\) is Terminat(ing|ed)|no previous environment/);
      expect(r.stderr).toContain(v1);
      for (let i = 0; i < 3; i++) expect(await served()).toBe(v2);
    }, LONG);
  });

  describe('the deploy lock', () => {
    it('two create_nova at once: one deploys (exit 0), the other exits 3 naming the holder', async () => {
      hook.posts.length = 0;
      hook.status = 500; // and the channel refuses the news: only a warning
      const a = ph.run(['-f', 'create_nova']);
      const b = ph.run(['-f', 'create_nova']);
      const [ra, rb] = await Promise.all([a, b]);
      hook.status = 200;
      const codes = [ra.exitCode, rb.exitCode].sort();
      expect(codes, ra.stderr + rb.stderr).toEqual([0, 3]);
      const [winner, loser, winnerPid] = ra.exitCode === 0 ? [ra, rb, ra.pid] : [rb, ra, rb.pid];
      expect(loser.stderr).toMatch(/phase 'op1' is locked by \S+@\S+:\d+:[0-9a-f]{6} \(create_nova, since /);
      expect(loser.stderr).toContain(`:${winnerPid}:`);
      expect(loser.stdout).toBe('');
      v3 = LABEL.exec(/deployed (\S+)/.exec(winner.stdout)?.[1] ?? '')?.[0] ?? '';
      expect(v3).toMatch(LABEL);
      expect(await served()).toBe(v3);
      // The winner's webhook answered 500: a warning, exit 0 all the same.
      expect(winner.stderr).toMatch(/warning: notification not accepted by the webhook: HTTP 500/);
      // The loser changed nothing, so it told the channel nothing.
      expect(hook.posts).toHaveLength(1);
      expect(hook.posts[0].text).toContain(v3);
      expect(await lockItem()).toBeUndefined();
    }, LONG);

    it('an expired lock is taken over, with a warning', async () => {
      await putLock('ghost@elsewhere:1', Math.floor(Date.now() / 1000) - 600);
      const r = await ph.run(['-f', 'terminate_eb_old_environment']);
      expect(r.exitCode, r.stderr).toBe(0);
      expect(r.stderr).toMatch(/took over an expired deploy lock from ghost@elsewhere:1 \(create_nova, since /);
      expect(await lockItem()).toBeUndefined(); // and released at the end
    }, LONG);

    it('a live lock held elsewhere: exit 3 naming the holder; status shows it', async () => {
      await putLock('ghost@elsewhere:1', Math.floor(Date.now() / 1000) + 3600);
      hook.posts.length = 0;
      const r = await ph.run(['-f', 'create_nova']);
      expect(r.exitCode).toBe(3);
      expect(r.stderr).toMatch(/phase 'op1' is locked by ghost@elsewhere:1 \(create_nova, since /);
      expect(r.stderr).toContain('--lock-wait');
      expect(hook.posts).toHaveLength(0);
      const s = await ph.run(['status']);
      expect(s.stdout).toMatch(/lock: held by ghost@elsewhere:1 \(create_nova, since /);
      expect(await served()).toBe(v3);
    }, LONG);

    it('--lock-wait 0.05 waits about 3 s for it, then exits 3 too', async () => {
      const started = Date.now();
      const r = await ph.run(['-f', '--lock-wait', '0.05', 'create_nova']);
      const elapsed = Date.now() - started;
      expect(r.exitCode).toBe(3);
      expect(elapsed).toBeGreaterThanOrEqual(3000);
      // (No "waiting for the deploy lock" line to insist on: the 3 s count from before the
      // first try, and on a loaded machine its two aws calls can take that long alone.)
      expect(r.stderr).toMatch(/locked by ghost@elsewhere:1/);
      expect(r.stderr).toContain('still locked after waiting 0.05 min');
      // Still the ghost's: a run that never got the lock must not release it.
      expect((await lockItem())?.holder?.S).toBe('ghost@elsewhere:1');
    }, LONG);

    afterAll(async () => {
      await ph.aws(['dynamodb', 'delete-item', '--table-name', 'johanna-locks', '--key', JSON.stringify({ phase: { S: PHASE } })]);
    });
  });

  describe('the smoke-test hook', () => {
    it('a failing smoke test refuses the swap: exit 1, the old version keeps serving, the new environment is terminated, the channel hears why', async () => {
      writeConfig((c) => {
        c.nova.SMOKE_TEST_COMMAND = 'echo checking $JOHANNA_URL; exit 1';
      });
      hook.posts.length = 0;
      const before = new Set((await environments(true)).map((e) => e.EnvironmentName));
      const r = await ph.run(['-f', '-v', 'create_nova']);
      expect(r.exitCode).toBe(1);
      // The command is secret (it may carry a token), so its words are masked in its output too (issue 20 item 19).
      expect(r.stderr).toMatch(/\| \*\*\* http:\/\/op1-nova-\d+\.ap-northeast-2\.elasticbeanstalk\.com/);
      expect(r.stderr).toContain('smoke test failed (exit 1)');
      expect(r.stderr).not.toMatch(/swap CNAMEs:/);
      expect(await served()).toBe(v3);

      const failed = (await environments(true)).filter((e) => !before.has(e.EnvironmentName));
      expect(failed).toHaveLength(1);
      let status = failed[0].Status;
      for (let i = 0; i < 30 && status !== 'Terminated'; i++) {
        await new Promise((res) => setTimeout(res, 1000));
        status = (await environments(true)).find((e) => e.EnvironmentName === failed[0].EnvironmentName)?.Status;
      }
      expect(['Terminating', 'Terminated']).toContain(status);
      expect(await served()).toBe(v3);

      expect(hook.posts).toHaveLength(1);
      expect(hook.posts[0].text).toMatch(/create_nova FAILED on phase op1/);
      expect(hook.posts[0].text).toMatch(/reason: smoke test failed \(exit 1\)/);
      expectNoSecret(r.stdout, r.stderr, readFileSync(newestRunLog(PHASE, 'create_nova'), 'utf8'));
    }, LONG);

    it('a passing smoke test sees JOHANNA_URL/HOST/CONNECT of the new environment, and the swap goes ahead (webhook unreachable: a warning, exit 0)', async () => {
      const seen = path.join(tmp, 'smoke-env.txt');
      const answer = path.join(tmp, 'smoke-answer.json');
      const dead = await freePort();
      writeConfig((c) => {
        c.nova.SMOKE_TEST_COMMAND =
          `printf '%s\\n%s\\n%s\\n' "$JOHANNA_URL" "$JOHANNA_HOST" "$JOHANNA_CONNECT" > '${seen}' && ` +
          `curl -sf -H "Host: $JOHANNA_HOST" "$JOHANNA_CONNECT/echo/" > '${answer}'`;
        c.notify.SLACK_WEBHOOK_URL = `http://127.0.0.1:${dead}${HOOK_PATH}`;
        c.nova.ENVIRONMENT.TEAM_WEBHOOK = c.notify.SLACK_WEBHOOK_URL;
      });
      const r = await ph.run(['-f', '-v', 'create_nova']);
      expect(r.exitCode, r.stderr).toBe(0);
      expect(r.stderr).toContain('smoke test passed');
      const [url, host, connect] = readFileSync(seen, 'utf8').split('\n');
      expect(host).toMatch(/^op1-nova-\d+\.ap-northeast-2\.elasticbeanstalk\.com$/);
      expect(url).toBe(`http://${host}`);
      expect(host).not.toBe(ph.host); // the new environment, before it takes the main CNAME
      expect(connect).toBe(`http://${ph.sandbox.router}`);
      v4 = JSON.parse(readFileSync(answer, 'utf8')).version;
      expect(v4).toMatch(LABEL);
      expect(v4).not.toBe(v3);
      expect(await served()).toBe(v4);
      expect(r.stderr).toMatch(/warning: could not send the notification/);
      expectNoSecret(r.stdout, r.stderr);
    }, LONG);

    it('a failed environment kept for inspection (nova.KEEP_FAILED_ENVIRONMENT) stays up, off the main CNAME', async () => {
      writeConfig((c) => {
        c.nova.SMOKE_TEST_COMMAND = 'exit 1';
        c.nova.KEEP_FAILED_ENVIRONMENT = 'True';
      });
      const before = new Set((await environments(true)).map((e) => e.EnvironmentName));
      const r = await ph.run(['-f', 'create_nova']);
      expect(r.exitCode).toBe(1);
      expect(r.stderr).toMatch(/keeping nova-\d+ for inspection/);
      const kept = (await environments()).filter((e) => !before.has(e.EnvironmentName));
      expect(kept).toHaveLength(1);
      expect(kept[0]).toMatchObject({ Status: 'Ready', Health: 'Green' });
      expect(kept[0].VersionLabel).not.toBe(v4);
      expect(await served()).toBe(v4);
    }, LONG);

    // Rollback once took the newest live environment by name: this kept failed one, which
    // never served users. The previous one is the other party of the live one's last swap.
    it('rollback then returns to the environment that served before (v3), not to the kept failed one', async () => {
      writeConfig();
      const r = await ph.run(['-f', 'rollback']);
      expect(r.exitCode, r.stderr).toBe(0);
      expect(await served(), r.stdout).toBe(v3);
    }, LONG);

    // Issue 12: a SIGINT once the swap is done must not read as a failed deploy. The kill
    // point is the wait for the DNS TTL, which comes only after EB shows the swap done.
    it('a SIGINT after the swap says the deploy went live, which environment serves, and that rollback swaps back', async () => {
      writeConfig();
      const child = execa(RUN, ['-e', ph.configFile, '-f', 'create_nova'], { cwd: ROOT, reject: false, stdin: 'ignore', env: { ...process.env, NO_COLOR: '1' } });
      let stderr = '';
      let reached = false;
      child.stderr!.on('data', (chunk: Buffer) => {
        stderr += chunk.toString();
        if (!reached && /DNS: clients that resolved/.test(stderr)) {
          reached = true;
          child.kill('SIGINT');
        }
      });
      const r = await child;
      expect(reached, stderr).toBe(true);
      expect(r.exitCode).not.toBe(0);
      const live = /the deploy went live: (nova-\d+) \((app-\d{6}_\d{6}-[a-z][a-z0-9-]*-[0-9a-f]{4})\) serves (\S+), (nova-\d+) keeps answering/.exec(stderr);
      expect(live, stderr).not.toBeNull();
      expect(live![3]).toBe(`${ph.host}`);
      // The hint carries the run's -e, so it can be pasted as it is (issue 22 item 5).
      expect(stderr).toContain(`./run -e ${ph.configFile} rollback swaps back to ${live![4]}`);
      expect(await served()).toBe(live![2]);
    }, LONG);

    it('no run of this phase wrote the webhook URL to its run log', () => {
      expectNoSecret(allRunLogs());
    });
  });
});
