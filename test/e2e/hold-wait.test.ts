// Hold and promote, and wait your turn (issue 14, items 1 and 5), end to end: the built
// ./run against one sandbox phase ("hw"), its tests in order, each building on the state the
// previous one left (each says what it expects to find). The busy and stuck environments are
// made as on AWS: an update-environment whose new version is slow to answer its health
// check (Updating until it does), or never answers (Updating until EB gives up).
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { zipSync, strToU8 } from 'fflate';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { ROOT, RUN, startPhase, until, type PhaseSandbox } from '../helpers/sandbox-phase.js';
import { startNotifyServer, type NotifyServer } from '../helpers/notify-server.js';

const PHASE = 'hw';
const LOGS = path.join(ROOT, 'logs', PHASE);
const LONG = 240_000;

let ph: PhaseSandbox;
let slack: NotifyServer;
let dir: string;

beforeAll(async () => {
  rmSync(LOGS, { recursive: true, force: true });
  dir = mkdtempSync(path.join(os.tmpdir(), 'johanna-hw-'));
  slack = await startNotifyServer();
  ph = await startPhase({
    phase: PHASE,
    // A failing update is Updating until EB gives up on it: long enough to be stuck.
    delays: { launchMs: 300, swapMs: 200, terminateMs: 300, launchTimeoutMs: 150_000 },
    strict: { natDelayMs: 500, iamDelayMs: 500, eniLingerMs: 500, dnsTtlMs: 2000 },
    edit: (c) => {
      c.notify = { SLACK_WEBHOOK_URL: slack.url('/hook') };
    },
  });
}, 120_000);

afterAll(async () => {
  await ph?.close();
  await slack?.close();
  rmSync(LOGS, { recursive: true, force: true });
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function runOk(args: string[]): Promise<{ stdout: string; stderr: string }> {
  const r = await ph.run(args);
  expect(r.exitCode, `./run ${args.join(' ')}\n${r.stderr}`).toBe(0);
  return r;
}

/**
 * The describe-events calls of a run, from its run log (the `runLog` its --json names).
 * Held, promoted, rolled back and out-of-service-since are decided from the deploy history
 * (issue 20 item 1): the only describe-events a deploy makes is its own health gate's poll of
 * the environment it just made (--environment-name, --start-time), never the application's
 * newest 1,000 events.
 */
function describeEventsCalls(out: { runLog?: string }): string[][] {
  expect(out.runLog, 'the run names its run log').toBeTruthy();
  return readFileSync(out.runLog!, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l))
    .filter((r) => Array.isArray(r.args) && r.args[0] === 'elasticbeanstalk' && r.args[1] === 'describe-events')
    .map((r) => r.args as string[]);
}

async function statusJson(): Promise<any> {
  return JSON.parse((await runOk(['--json', 'status'])).stdout);
}

/**
 * An application version whose app starts answering its health check after `delayMs`
 * (never, for -1): EB keeps an environment updated to it Updating until it does.
 */
async function slowVersion(label: string, delayMs: number): Promise<void> {
  const app =
    delayMs < 0
      ? 'setInterval(() => {}, 1000);\n'
      : `setTimeout(() => require('http').createServer((q, s) => { s.setHeader('content-type', 'application/json'); s.end('{"echo":"ok"}'); }).listen(process.env.PORT, '127.0.0.1'), ${delayMs});\n`;
  const zip = path.join(dir, `${label}.zip`);
  writeFileSync(zip, zipSync({ Procfile: strToU8('web: node slow.js\n'), 'slow.js': strToU8(app) }));
  const { S3Bucket: bucket } = await ph.aws(['elasticbeanstalk', 'create-storage-location']);
  await ph.aws(['s3api', 'put-object', '--bucket', bucket, '--key', `test/${label}.zip`, '--body', zip]);
  await ph.aws([
    'elasticbeanstalk', 'create-application-version', '--application-name', ph.config.elasticbeanstalk.APPLICATION_NAME,
    '--version-label', label, '--source-bundle', `S3Bucket=${bucket},S3Key=test/${label}.zip`,
  ]);
}

async function update(envName: string, label: string): Promise<void> {
  await ph.aws(['elasticbeanstalk', 'update-environment', '--environment-name', envName, '--version-label', label]);
}

describe('hold and promote, then wait your turn, on one phase in order', () => {
  let first = ''; // the environment `create` made: live until the promote, then the previous one
  let v1 = '';
  let held = ''; // the one create_nova --hold made
  let heldLabel = '';
  let heldCname = '';

  it('create_nova --hold on a phase with nothing live yet is refused: there is nothing to hold back from', { timeout: LONG }, async () => {
    await runOk(['-f', 'create_vpc']);
    const r = await ph.run(['-f', 'create_nova', '--hold']);
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toMatch(/nothing serves .* yet/);
    expect(r.stderr).toMatch(/run the first deploy without --hold/);
    expect(await ph.envs()).toEqual([]);
  });

  it('create_nova --hold makes, probes and holds a new environment; the live one keeps the main CNAME', { timeout: LONG }, async () => {
    const c = JSON.parse((await runOk(['-f', '--json', 'create_nova'])).stdout);
    first = c.newEnvironment;
    v1 = c.versionLabel;
    const r = await runOk(['-f', '--json', 'create_nova', '--hold']);
    const out = JSON.parse(r.stdout);
    held = out.newEnvironment;
    heldLabel = out.versionLabel;
    heldCname = out.newEnvironmentCname;
    expect(out).toMatchObject({ held: true, oldEnvironment: first, cname: ph.host });
    expect(out.heldSince).toMatch(/^\d{4}-\d\d-\d\dT/);
    expect(out.dnsSettledAt).toBeUndefined();
    expect(r.stderr).toMatch(/probe: http:\/\/.* answered 200 with .* 3 times in a row/);
    expect(r.stderr).not.toMatch(/swap CNAMEs/);
    // Through the router: the main CNAME still serves the first version, the held one its own.
    expect((await ph.get(ph.host)).version).toBe(v1);
    expect((await ph.get(heldCname)).version).toBe(heldLabel);
    // The mark is on EB, not in a local file: the tag given at create-environment.
    const [e] = (await ph.envs()).filter((x: any) => x.EnvironmentName === held);
    const tags = await ph.aws(['elasticbeanstalk', 'list-tags-for-resource', '--resource-arn', e.EnvironmentArn]);
    expect(tags.ResourceTags).toContainEqual({ Key: 'johanna:held', Value: out.heldSince });
    expect(tags.ResourceTags).toContainEqual({ Key: 'johanna:phase', Value: PHASE }); // our ownership tags stay
    expect(slack.posts.at(-1)?.text).toMatch(/create_nova succeeded[\s\S]*held on its own CNAME/);
    // The history says it was held beside the live one, not that it replaced it.
    const [rec] = JSON.parse((await runOk(['--json', 'history', '-n', '1'])).stdout).records;
    expect(rec).toMatchObject({ command: 'create_nova', outcome: 'ok', held: true, newEnvironment: held, oldEnvironment: first });
    expect((await runOk(['history', '-n', '1'])).stdout).toContain(`${held} (held beside ${first})`);
  });

  it('status shows it held, with its version, CNAME and since when', async () => {
    const [s, text] = await Promise.all([statusJson(), runOk(['status']).then((r) => r.stdout)]);
    expect(s.live).toBe(first);
    expect(s.held).toMatchObject({ name: held, versionLabel: heldLabel, cname: heldCname, status: 'Ready' });
    const row = s.environments.find((e: any) => e.name === held);
    expect(row).toMatchObject({ held: true, live: false, heldSince: s.held.since });
    expect(row.eligibleForRemovalAt).toBeUndefined();
    // The ROLE column says held, and the note says since when and what to do (issue 22 item 3).
    expect(text).toMatch(new RegExp(`^\\s+held\\s+${held} .*held since ${s.held.since.replace(/\./g, '\\.')}`, 'm'));
  });

  // Issue 22 item 9: a compact live view, redrawn until Ctrl-C, under load on the live one.
  it('status --watch 1 redraws live and held with req/s, 5xx and P99 each second until Ctrl-C: exit 0', { timeout: LONG }, async () => {
    const load = setInterval(() => void ph.get(ph.host).catch(() => undefined), 50);
    const child = execa(RUN, ['-e', ph.configFile, 'status', '--watch', '1'], { cwd: ROOT, reject: false, stdin: 'ignore', env: { ...process.env, NO_COLOR: '1' } });
    let out = '';
    let stopped = false;
    child.stdout!.on('data', (d: Buffer) => {
      out += String(d);
      // The kill point: a third view has begun (two full ones before it), with requests counted.
      if (!stopped && (out.match(/^phase \S+ at /gm) ?? []).length >= 3 && /^\s+live\s+\S+\s+Ready\/\S+\s+\S+\s+\d+(\.\d)?\s+\d+(\.\d+)?%\s+\d+ ms/m.test(out)) {
        stopped = true;
        process.kill(child.pid!, 'SIGINT');
      }
    });
    const r = await child;
    clearInterval(load);
    expect(stopped, `${r.stdout}\n${r.stderr}`).toBe(true);
    expect(r.exitCode, String(r.stderr)).toBe(0);
    const views = String(r.stdout).split(/^(?=phase \S+ at )/m).filter((v) => v.startsWith('phase '));
    expect(views.length).toBeGreaterThanOrEqual(3);
    for (const v of views.slice(0, 2)) {
      expect(v).toMatch(/every 1 s \(Ctrl-C to stop\)/);
      expect(v).toMatch(/^\s+ROLE\s+ENVIRONMENT\s+STATE\s+VERSION\s+REQ\/S\s+5XX\s+P99\s+DRAIN$/m);
      expect(v).toMatch(new RegExp(`^\\s+live\\s+${first}\\s+Ready/`, 'm'));
      expect(v).toMatch(new RegExp(`^\\s+held\\s+${held}\\s+Ready/\\S+\\s+${heldLabel}`, 'm'));
      expect(v).toMatch(/^\s+lock: free$/m);
    }
  });

  it('a second create_nova refuses, exit 1, naming the held environment and the two ways out', { timeout: LONG }, async () => {
    const before = (await ph.envs()).length;
    const r = await ph.run(['-f', '--json', 'create_nova']);
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toContain(`${held} (${heldLabel}, at ${heldCname}) is held since`);
    // The two ways out carry the run's -e, so they can be pasted as they are (issue 22 item 5).
    expect(r.stderr).toContain(`./run -e ${ph.configFile} promote, or remove it with ./run -e ${ph.configFile} discard`);
    expect((await ph.envs()).length).toBe(before);
    // The held check read the deploy history, not EB's events.
    expect(describeEventsCalls(JSON.parse(r.stdout))).toEqual([]);
  });

  it('the cleanup keeps the held environment even with no grace and no traffic check, and says why', { timeout: LONG }, async () => {
    const r = await runOk(['-f', '--json', 'terminate_eb_old_environment', '--grace-minutes', '0', '--force-drain']);
    const out = JSON.parse(r.stdout);
    expect(out.decisions).toContainEqual(expect.objectContaining({ environment: held, action: 'keep', reason: expect.stringMatching(/is held \(create_nova --hold\)/) }));
    expect(out.terminated).not.toContain(held);
    expect((await ph.envs()).find((e: { EnvironmentName: string }) => e.EnvironmentName === held)?.Status).toBe('Ready');
    expect(describeEventsCalls(out)).toEqual([]);
  });

  it('promote swaps it in: probed again, the main CNAME serves it, recorded as promote, and the channel told', { timeout: LONG }, async () => {
    const posts = slack.posts.length;
    const r = await runOk(['-f', '--json', 'promote']);
    const out = JSON.parse(r.stdout);
    expect(out).toMatchObject({ from: first, to: held, versionLabel: heldLabel, previousVersionLabel: v1, probe: 'passed', dnsTtlSeconds: 2 });
    expect(out.replacing).toMatchObject({ versionLabel: v1 });
    expect(r.stderr).toMatch(new RegExp(`replacing ${first} \\(${v1}, deployed .* by `));
    expect(r.stderr).toMatch(/probe: .* 3 times in a row/);
    expect(r.stderr).toMatch(/DNS TTL passed/);
    expect((await ph.get(ph.host)).version).toBe(heldLabel);
    expect(describeEventsCalls(out)).toEqual([]);
    expect(out.swappedAt).toMatch(/^\d{4}-\d\d-\d\dT/);
    const told = slack.posts.slice(posts).map((p) => p.text);
    const [historyOut, after, again] = await Promise.all([runOk(['--json', 'history', '-n', '1']), statusJson(), ph.run(['-f', 'promote'])]);
    const history = JSON.parse(historyOut.stdout).records;
    expect(history[0]).toMatchObject({ command: 'promote', outcome: 'ok', newEnvironment: held, oldEnvironment: first, versionLabel: heldLabel });
    expect(told).toEqual([expect.stringMatching(new RegExp(`promote succeeded[\\s\\S]*version ${heldLabel} in ${held}[\\s\\S]*previous ${first}`))]);
    // Promoted: no longer held; nothing left to promote.
    expect(after.held).toBeNull();
    expect(again.exitCode).toBe(1);
    expect(again.stderr).toMatch(/no environment is held: nothing to promote/);
    expect(again.stderr).toMatch(/create_nova --hold makes one/);
  });

  it('create_nova --hold --wait waits for another environment\'s update to settle, saying what it waits for, then holds; discard removes it', { timeout: LONG }, async () => {
    await slowVersion('slow-12s', 12_000);
    await update(first, 'slow-12s');
    const r = await runOk(['-f', '--json', 'create_nova', '--hold', '--wait', '2']);
    const out = JSON.parse(r.stdout);
    // Its only describe-events are its own health gate's, on the environment it made.
    for (const args of describeEventsCalls(out)) {
      expect(args).toContain('--environment-name');
      expect(args[args.indexOf('--environment-name') + 1]).toBe(out.newEnvironment);
      expect(args).not.toContain('--max-records');
    }
    expect(r.stderr).toMatch(new RegExp(`wait your turn: ${first} is Updating since `));
    expect(r.stderr).toMatch(new RegExp(`waiting for ${first} to settle: ${first} is Updating since .* \\(\\d+s\\)`));
    expect(r.stderr).toMatch(new RegExp(`${first} settled after \\d+ s; going on`));
    expect(out.waitedSeconds).toBeGreaterThanOrEqual(2);
    expect(out).toMatchObject({ held: true, oldEnvironment: held });

    const d = await runOk(['-f', '--json', 'discard']);
    expect(JSON.parse(d.stdout).terminated).toEqual([out.newEnvironment]);
    expect(d.stderr).toContain(`discard ${out.newEnvironment} (${out.versionLabel}`);
    await until('the discarded environment to go', async () => ((await ph.envs()).some((e: any) => e.EnvironmentName === out.newEnvironment) ? undefined : true));
    expect((await ph.get(ph.host)).version).toBe(heldLabel);
    const none = await runOk(['-f', 'discard']);
    expect(none.stdout).toMatch(/no environment is held: nothing to discard/);
  });

  // Issue 20 item 13: an interrupted promote says whether the swap happened and how to swap
  // back, as the daily deploy does. The kill point is the DNS wait, after the verified swap.
  it('a promote interrupted after its swap: exit 130, naming who serves the main CNAME now and the rollback back', { timeout: LONG }, async () => {
    const hold = JSON.parse((await runOk(['-f', '--json', 'create_nova', '--hold'])).stdout);
    const child = execa(RUN, ['-e', ph.configFile, '-f', 'promote'], { cwd: ROOT, reject: false, stdin: 'ignore', env: { ...process.env, NO_COLOR: '1' } });
    let killed = false;
    child.stderr!.on('data', (d: Buffer) => {
      if (!killed && String(d).includes('DNS: clients that resolved')) {
        killed = true;
        process.kill(child.pid!, 'SIGINT');
      }
    });
    const r = await child;
    expect(killed, String(r.stderr)).toBe(true);
    expect(r.exitCode, String(r.stderr)).toBe(130);
    expect(r.stderr).toContain(`the deploy went live: ${hold.newEnvironment} (${hold.versionLabel}) serves`);
    expect(r.stderr).toContain(`./run -e ${ph.configFile} rollback swaps back to ${held}`);
    expect((await ph.get(ph.host)).version).toBe(hold.versionLabel);
  });

  it('a stuck environment (Updating past nova.DEPLOY_TIMEOUT_MINUTES by EB\'s clock) is named with AWS\'s recovery, exit 1, never waited for', { timeout: LONG }, async () => {
    await slowVersion('never', -1);
    await update(first, 'never');
    // A config whose deploy timeout (the stuck threshold) is the smallest it takes: 1 minute.
    const cfg = path.join(dir, 'env-1min.json');
    writeFileSync(cfg, JSON.stringify({ ...ph.config, nova: { ...ph.config.nova, DEPLOY_TIMEOUT_MINUTES: 1 } }));
    const busy = await until(`EB to show ${first} Updating`, async () => (await ph.envs()).find((x: any) => x.EnvironmentName === first && x.Status === 'Updating'));
    // While it is not stuck yet: without --wait, exit 1 at once naming --wait; with a short
    // --wait, the wait ends at its deadline, exit 1, saying what it waited for.
    const refused = await ph.run(['-f', 'create_nova']);
    expect(refused.exitCode).toBe(1);
    expect(refused.stderr).toMatch(new RegExp(`${first} \\(Updating\\) still changing`));
    expect(refused.stderr).toMatch(/pass --wait <minutes>/);
    const short = await ph.run(['-f', 'create_nova', '--wait', '0.1']);
    expect(short.exitCode).toBe(1);
    expect(short.stderr).toMatch(new RegExp(`gave up waiting for ${first} to settle after \\d+s: still ${first} is Updating`));
    // EB's own record must say it is stuck: Updating, last changed more than a minute ago.
    const stuckAt = Date.parse(busy.DateUpdated) + 61_000;
    await until(
      `EB to show ${first} Updating for over a minute`,
      async () => {
        if (Date.now() < stuckAt) return undefined;
        const e = (await ph.envs()).find((x: any) => x.EnvironmentName === first);
        return e?.Status === 'Updating' && e.DateUpdated === busy.DateUpdated ? e : undefined;
      },
      120_000,
    );
    const before = (await ph.envs()).map((e: any) => e.EnvironmentName).sort();
    const started = Date.now();
    const r = await ph.run(['-f', '-e', cfg, 'create_nova', '--wait', '5']);
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toMatch(new RegExp(`stuck: ${first} has been Updating since .* longer than nova.DEPLOY_TIMEOUT_MINUTES 1`));
    expect(r.stderr).toContain(`abort-environment-update --environment-name ${first}`);
    expect(r.stderr).not.toMatch(/\.\.\. waiting for/);
    expect(Date.now() - started).toBeLessThan(30_000);
    expect((await ph.envs()).map((e: any) => e.EnvironmentName).sort()).toEqual(before);
  });

  it('--wait takes minutes only: bad input is a usage error before any AWS call', async () => {
    const r = await ph.run(['-f', 'create_nova', '--wait', 'abc']);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(/--wait abc: expected minutes, more than 0/);
  });
});
