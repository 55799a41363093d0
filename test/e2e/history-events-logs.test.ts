// Deploy history, EB events and instance logs without the EB CLI (issue 14, items 3 and 4),
// end to end: the built ./run against one sandbox phase ("hel"), its tests in order, each
// building on the state the previous one left (each says what it expects to find).
import { rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, RUN, startPhase, until, type PhaseSandbox } from '../helpers/sandbox-phase.js';
import { ciName } from '../../src/deploy/history.js';

const PHASE = 'hel';
const LOGS = path.join(ROOT, 'logs', PHASE);
const LABEL = /^app-\d{6}_\d{6}-[a-z][a-z0-9-]*-[0-9a-f]{4}$/;
const HASH = /^[0-9a-f]{7,40}(-dirty)?$/; // -dirty: built from a work tree with changes
const STAMPED_EVENT = /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}Z (TRACE|DEBUG|INFO |WARN |ERROR|FATAL) \S+  \S/;
const LONG = 300_000;
const WHO = `${os.userInfo().username}@${os.hostname()}`;
// The CI system the tests run under (CI=true in .ci/run) is part of every "by" line.
const CI = ciName(process.env);
const BY = `${WHO}${CI ? ` in ${CI}` : ''}`.replace(/[.()"]/g, '\\$&');

let ph: PhaseSandbox;

beforeAll(async () => {
  rmSync(LOGS, { recursive: true, force: true });
  ph = await startPhase({ phase: PHASE, delays: { launchMs: 500, swapMs: 200, terminateMs: 300 } });
}, 120_000);

afterAll(async () => {
  await ph?.close();
  rmSync(LOGS, { recursive: true, force: true });
});

async function runOk(args: string[]): Promise<{ stdout: string; stderr: string }> {
  const r = await ph.run(args);
  expect(r.exitCode, `./run ${args.join(' ')}\n${r.stderr}`).toBe(0);
  return r;
}

async function historyJson(n?: number): Promise<any[]> {
  const r = await runOk(['--json', 'history', ...(n ? ['-n', String(n)] : [])]);
  return JSON.parse(r.stdout).records;
}

describe('history, events and logs of one phase, in order', () => {
  let first = ''; // the environment `create` made
  let second = ''; // the one the daily deploy made, live from then on
  let v1 = '';
  let v2 = '';

  it('a phase never deployed has no history: said on stderr, exit 0, and --json gives an empty list', async () => {
    const r = await runOk(['history']);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain("no deploy history for phase 'hel' yet");
    expect(await historyJson()).toEqual([]);
  });

  it('create then create_nova leave two records, newest first, with who, where, what and how it ended', async () => {
    const c = JSON.parse((await runOk(['-f', '--json', 'create'])).stdout);
    const d = JSON.parse((await runOk(['-f', '--json', 'create_nova'])).stdout);
    first = c.create_nova.newEnvironment;
    second = d.newEnvironment;
    v1 = c.create_nova.versionLabel;
    v2 = d.versionLabel;
    expect(d.oldEnvironment).toBe(first);

    const records = await historyJson();
    expect(records.map((r) => r.command)).toEqual(['create_nova', 'create']);
    const [deploy, create] = records;
    expect(deploy).toMatchObject({
      phase: PHASE,
      outcome: 'ok',
      exitCode: 0,
      who: WHO,
      cwd: ROOT,
      versionLabel: v2,
      newEnvironment: second,
      oldEnvironment: first,
      gitHashJohanna: d.gitHashJohanna,
      gitHashNova: d.gitHashNova,
      probe: 'passed',
    });
    expect(deploy.gitHashJohanna).toMatch(HASH);
    expect(deploy.durationSeconds).toBeGreaterThan(0);
    expect(deploy.time).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z#[0-9a-f]{4}$/);
    expect(create).toMatchObject({ outcome: 'ok', exitCode: 0, versionLabel: v1, newEnvironment: first, probe: 'passed' });
    expect(create.oldEnvironment).toBeUndefined();
    expect(Date.parse(create.startedAt)).toBeLessThan(Date.parse(deploy.startedAt));

    // The ledger is a DynamoDB table of its own, keyed by phase and time, paid per request.
    const t = (await ph.aws(['dynamodb', 'describe-table', '--table-name', 'johanna-history'])).Table;
    expect(t.KeySchema).toEqual([{ AttributeName: 'phase', KeyType: 'HASH' }, { AttributeName: 'time', KeyType: 'RANGE' }]);
    expect(t.BillingModeSummary?.BillingMode).toBe('PAY_PER_REQUEST');
  }, LONG);

  it('history prints a table, a header and one row a record, newest first; -n limits it; -n 0 is a usage error before any aws call', async () => {
    const r = await runOk(['history']);
    const [header, ...lines] = r.stdout.trim().split('\n');
    expect(header).toMatch(/^STARTED\s+COMMAND\s+OUTCOME\s+EXIT\s+TOOK\s+VERSION\s+ENVIRONMENTS\s+PROBE\s+GIT\s+BY\s+ERROR$/);
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(new RegExp(`^\\d{4}-\\d{2}-\\d{2} \\d{2}:\\d{2}:\\d{2}Z  create_nova  ok +0 +[\\d.]+s +${v2}  ${second} \\(was ${first}\\)  passed  \\S+/\\S+  ${WHO.replace(/\./g, '\\.')}`));
    expect(lines[1]).toMatch(/Z {2}create {7}ok +0 /);
    // Columns line up: every row's fields start where the header's do.
    for (const col of ['COMMAND', 'OUTCOME', 'VERSION', 'ENVIRONMENTS']) {
      const at = header.indexOf(col);
      for (const l of lines) expect(l[at - 1], `${col} in ${l}`).toBe(' ');
      for (const l of lines) expect(l[at], `${col} in ${l}`).not.toBe(' ');
    }
    const one = (await runOk(['history', '-n', '1'])).stdout.trim().split('\n');
    expect(one).toHaveLength(2);
    expect(one[1].split(/\s{2,}/)).toEqual(lines[0].split(/\s{2,}/));
    const bad = await ph.run(['history', '-n', '0']);
    expect(bad.exitCode).toBe(2);
    expect(bad.stderr).toContain('--number 0: expected a whole number, 1 or more');
  });

  it("events: the live environment's, oldest first, one plain timestamped line each", async () => {
    const r = await runOk(['events']);
    const lines = r.stdout.trim().split('\n');
    for (const l of lines) expect(l).toMatch(STAMPED_EVENT);
    // After the time (21 characters) and the severity (5 and a space): the environment.
    for (const l of lines) expect(l.slice(27)).toMatch(new RegExp(`^${second}  `));
    expect(lines[0]).toContain('createEnvironment is starting.');
    const launched = lines.findIndex((l) => l.endsWith(`Successfully launched environment: ${second}`));
    const swapped = lines.findIndex((l) => l.includes(`Completed swapping CNAMEs for environments '${first}' and '${second}'.`));
    expect(launched).toBeGreaterThan(0);
    expect(swapped).toBeGreaterThan(launched);
    const times = lines.map((l) => Date.parse(l.slice(0, 20).replace(' ', 'T')));
    expect([...times].sort((a, b) => a - b)).toEqual(times);

    expect((await runOk(['events', '-n', '2'])).stdout.trim().split('\n')).toEqual(lines.slice(-2));
    const old = await runOk(['events', '--environment', first]);
    expect(old.stdout).toContain(`Successfully launched environment: ${first}`);
    expect(old.stdout).not.toContain(`Successfully launched environment: ${second}`);
    const doc = JSON.parse((await runOk(['events', '--json'])).stdout);
    expect(doc).toMatchObject({ ok: true, command: 'events', environment: second });
    expect(doc.events.map((e: any) => e.message)).toContain('createEnvironment is starting.');
  });

  it('events: a bad --environment or --follow with --json is a usage error (exit 2)', async () => {
    const bad = await ph.run(['events', '--environment', 'no good']);
    expect(bad.exitCode).toBe(2);
    expect(bad.stderr).toContain('not an environment name');
    expect((await ph.run(['--json', 'events', '--follow'])).exitCode).toBe(2);
  });

  it('logs: the nova access line of a request made through the router, under a header naming the instance', async () => {
    // The router caches DNS per client as AWS's resolvers do: this client may still reach the
    // first environment until the TTL of the swap has passed. Wait for the live one to answer.
    await until(`${ph.host} to answer with ${v2} for this client`, async () => ((await ph.get(ph.host)).version === v2 ? true : undefined));
    const marker = `marker-${Date.now()}`;
    expect((await ph.get(ph.host, `/echo/?${marker}`)).status).toBe(200);
    const r = await runOk(['logs']);
    expect(r.stdout).toMatch(new RegExp(`^============= i-[0-9a-f]+ \\(${second}, [^)]+\\) =============$`, 'm'));
    expect(r.stdout).toContain('/var/log/web.stdout.log');
    expect(r.stdout).toMatch(new RegExp(`^GET /echo/\\?${marker} 200 \\d+\\.\\dms$`, 'm'));
    // The presigned URL is the key to the logs: never printed.
    expect(r.stdout + r.stderr).not.toContain('/_sandbox/logs/');
    const doc = JSON.parse((await runOk(['--json', 'logs'])).stdout);
    expect(doc.environment).toBe(second);
    expect(doc.instances).toHaveLength(1);
    expect(doc.instances[0].instanceId).toMatch(/^i-/);
    expect(doc.instances[0].files[0].text).toContain(marker);
  }, LONG);

  it('logs: the tail is the last 100 lines; --all fetches the whole file as a bundle', async () => {
    // 120 more requests push the app's first lines out of the tail.
    for (let i = 0; i < 120; i++) expect((await ph.get(ph.host, `/echo/?n=${i}`)).status).toBe(200);
    const tail = (await runOk(['logs'])).stdout;
    expect(tail).toContain('GET /echo/?n=119 200');
    expect(tail).not.toContain('nova listening on');
    const all = (await runOk(['logs', '--all'])).stdout;
    expect(all).toContain('----- var/log/web.stdout.log -----');
    expect(all).toContain('nova listening on');
    expect(all).toContain('GET /echo/?n=0 200');
    expect(all).toContain('GET /echo/?n=119 200');
  }, LONG);

  it('logs of an environment that is not live: exit 1 naming the live ones', async () => {
    const r = await ph.run(['logs', '--environment', 'nova-1']);
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toContain(`application ${PHASE} has no live environment named nova-1`);
    expect(r.stderr).toContain(second);
  });

  it('events --follow prints new events as they come and exits 0 on SIGINT', async () => {
    const sub = execa(RUN, ['-e', ph.configFile, 'events', '--follow', '-n', '1'], { cwd: ROOT, reject: false, stdin: 'ignore', env: { ...process.env, NO_COLOR: '1' } });
    let out = '';
    let err = '';
    sub.stdout!.on('data', (c: Buffer) => (out += c.toString()));
    sub.stderr!.on('data', (c: Buffer) => (err += c.toString()));
    await until('the follow to start', async () => (err.includes('following') && out.includes('\n') ? true : undefined), 60_000);
    const before = out;
    // A new event on the live environment: asking for its logs starts with one.
    await ph.aws(['elasticbeanstalk', 'request-environment-info', '--environment-name', second, '--info-type', 'tail']);
    await until('the new events to be printed', async () => (out.slice(before.length).includes('Pulled logs for environment instances.') ? true : undefined), 60_000);
    const added = out.slice(before.length).trim().split('\n');
    expect(added[0]).toMatch(STAMPED_EVENT);
    expect(added[0]).toContain(`${second}  requestEnvironmentInfo is starting.`);
    expect(added.at(-1)).toContain('Pulled logs for environment instances.');
    // Each event once: polls from the newest event seen do not print it again.
    expect(out.split('requestEnvironmentInfo is starting.').length - 1).toBe(before.split('requestEnvironmentInfo is starting.').length);
    sub.kill('SIGINT');
    const r = await sub;
    expect(r.exitCode, err).toBe(0);
  }, LONG);

  it('a deploy that fails leaves a failed record naming what it tried; a run locked out leaves a locked one', async () => {
    const config = structuredClone(ph.config);
    // Secret by the schema, so the whole value is masked wherever it appears: a command that
    // is not a substring of the failure's own words ("exit 3") keeps those readable.
    config.nova.SMOKE_TEST_COMMAND = 'sh -c "exit 3"';
    const fs = await import('node:fs');
    fs.writeFileSync(ph.configFile, JSON.stringify(config, null, 2));
    try {
      const r = await ph.run(['-f', 'create_nova']);
      expect(r.exitCode).toBe(1);
    } finally {
      fs.writeFileSync(ph.configFile, JSON.stringify(ph.config, null, 2));
    }
    let [failed] = await historyJson(1);
    expect(failed).toMatchObject({ command: 'create_nova', outcome: 'failed', exitCode: 1, who: WHO, gitHashJohanna: expect.stringMatching(HASH) });
    expect(failed.newEnvironment).toMatch(/^nova-\d+$/);
    expect(failed.newEnvironment).not.toBe(second);
    expect(failed.versionLabel).toMatch(LABEL);
    expect(failed.error).toContain('smoke test failed (exit 3)');

    const item = { phase: { S: PHASE }, holder: { S: 'ghost@elsewhere:1:abcdef' }, command: { S: 'create_nova' }, startedAt: { S: new Date().toISOString() }, expiresAt: { N: String(Math.floor(Date.now() / 1000) + 3600) } };
    await ph.aws(['dynamodb', 'put-item', '--table-name', 'johanna-locks', '--item', JSON.stringify(item)]);
    try {
      expect((await ph.run(['-f', 'create_nova'])).exitCode).toBe(3);
    } finally {
      await ph.aws(['dynamodb', 'delete-item', '--table-name', 'johanna-locks', '--key', JSON.stringify({ phase: { S: PHASE } })]);
    }
    [failed] = await historyJson(1);
    expect(failed).toMatchObject({ command: 'create_nova', outcome: 'locked', exitCode: 3 });
    expect(failed.error).toContain('ghost@elsewhere');
    expect(failed.newEnvironment).toBeUndefined();
  }, LONG);

  it('rollback says which deploy it returns to, from the history', async () => {
    const r = await runOk(['-f', 'rollback']);
    expect(r.stderr).toMatch(new RegExp(`returning to ${first} \\(${v1}, deployed \\d{4}-\\d{2}-\\d{2} \\d{2}:\\d{2} UTC by ${BY}\\)`));
    const [rb] = await historyJson(1);
    expect(rb).toMatchObject({ command: 'rollback', outcome: 'ok', newEnvironment: first, oldEnvironment: second, versionLabel: v1 });
  }, LONG);

  it('a dry run leaves no record', async () => {
    const before = (await historyJson()).length;
    await runOk(['-f', '--dry-run', 'terminate_eb_old_environment']);
    expect((await historyJson()).length).toBe(before);
  });
});
