// Issue 5 end to end: the built ./run against a sandbox of its own, with the real aws CLI.
// One phase lives through the file in order: create from nothing, a daily deploy under
// load, a refused deploy, the old-environment cleanup, and terminate. The sandbox is strict
// (issue 11): launches pass through Severe (--launch-health-blip), a CNAME prefix is held by
// another account (--taken-cnames), and the router caches DNS per client address with the
// default TTL, so the load comes from several addresses.
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { failedRequests, startLoad } from '../helpers/load.js';
import { ownCalls, readRunLog, ROOT, RUN, startPhase, type PhaseSandbox, type RunResult, until } from '../helpers/sandbox-phase.js';
import { waitingEbCalls, type RunLogRecord } from '../helpers/bench-phase.js';
import { POLL_BUDGET_PER_MINUTE } from '../../src/time.js';

let p: PhaseSandbox;
const versions: string[] = [];
const LONG = 400_000;
/** Several clients, each with its own DNS cache in the router. */
const CLIENTS = ['127.0.0.2', '127.0.0.3', '127.0.0.4'];
const HELD = 'dep-held-elsewhere';
const OLD_PLATFORM = '64bit Amazon Linux 2 v5.10.1 running Node.js 18';

/** Waits until every client has been answered `version` after `afterMs` (a condition, not a sleep). */
async function everyClientGot(load: ReturnType<typeof startLoad>, version: string, afterMs: number): Promise<void> {
  await until(`every client to be answered ${version}`, async () =>
    load.snapshot().clients.every((c) => c.versions.some((v) => v.version === version && v.lastAtMs > afterMs)) ? true : undefined,
  );
}

/** The phase's config with Nova's /echo/ switched off (404), so its health check fails. */
function noEchoConfig(): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'noecho-'));
  const noEcho = path.join(dir, 'no_echo');
  writeFileSync(noEcho, '');
  const edited = { ...p.config, nova: { ...p.config.nova, ENVIRONMENT: { NOVA_NO_ECHO_FILE: noEcho } } };
  const file = path.join(dir, 'env.json');
  writeFileSync(file, JSON.stringify(edited));
  return file;
}

describe('create_nova: the daily blue/green deploy', () => {
  beforeAll(async () => {
    p = await startPhase({
      phase: 'dep',
      delays: { launchMs: 800, swapMs: 300, terminateMs: 6000, launchTimeoutMs: 6000 },
      // The sandbox's default DNS TTL (5 s): the zero-downtime check is about it.
      strict: { launchHealthBlip: true, takenCnames: [HELD], dnsTtlMs: 5000 },
      // The first deploy on an older platform branch; the daily one must keep it.
      edit: (c) => {
        c.nova.PLATFORM = OLD_PLATFORM;
      },
    });
  });
  afterAll(async () => {
    await p?.close();
  });

  it('refuses create_nova before create_vpc, changing nothing', { timeout: LONG }, async () => {
    const r = await p.run(['-f', 'create_nova']);
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toMatch(/run create_vpc first/);
    expect(await p.envs()).toEqual([]);
  });

  // Issue 20 item 14, and what a new user met: a failed first deploy left its broken
  // environment on the main CNAME, and said only EB's "completed with errors".
  it('a failed first deploy says what the health check and the logs say, then removes its environment from the main CNAME', { timeout: LONG }, async () => {
    const vpc = await p.run(['-f', 'create_vpc']);
    expect(vpc.exitCode, vpc.stderr).toBe(0);
    // Once the failed deploy has asked EB to terminate its environment (EB keeps the main CNAME
    // until it is Terminated, 6 s here), a second run starts at once, while the first is still
    // finishing: it finds the CNAME taken by our own environment, not another account's, and
    // waits for it to let go, saying so (a dry run: it reads what a deploy reads, and takes no lock).
    const first = execa(RUN, ['-e', noEchoConfig(), '-f', 'create_nova'], { cwd: ROOT, reject: false, stdin: 'ignore', env: { ...process.env, NO_COLOR: '1' } });
    let seen = '';
    let again: Promise<RunResult> | undefined;
    first.stderr!.on('data', (d: Buffer) => {
      seen += String(d);
      // The kill point's twin: the terminate call has been made (its line comes after it).
      if (!again && /^\S+ \S+ {3}terminating nova-\d{10}$/m.test(seen)) again = p.run(['-f', '--dry-run', 'create_nova']);
    });
    const r = await first;
    const name = /removing (nova-\d{10}) \(set nova\.KEEP_FAILED_ENVIRONMENT to keep a failed one for inspection\)/.exec(String(r.stderr))?.[1];
    expect(r.exitCode, String(r.stderr)).toBe(1);
    expect(name, String(r.stderr)).toBeDefined();
    expect(r.stderr).toMatch(/nothing served \S+ before this first deploy/);
    expect(r.stderr).toMatch(new RegExp(`health check: http://${p.host.replace(/\./g, '\\.')}/echo/ answered \\d{3}`));
    expect(r.stderr).toMatch(new RegExp(`the last \\d+ log lines of i-[0-9a-f]+ \\(${name}\\):`));
    expect(r.stderr).not.toMatch(/holds \S+ after all; it stays/);
    expect(again, 'the second run started once the terminate was asked').toBeDefined();
    const second = await again!;
    expect(second.exitCode, second.stderr).toBe(0);
    expect(second.stderr).toContain(`${name} is terminating and still holds ${p.host}`);
    expect(second.stderr).not.toMatch(/another account/);
    await until('the failed first environment to go', async () => ((await p.envs()).length === 0 ? true : undefined));
  });

  it('creates the phase from nothing and serves Nova through the router; the launch went through Severe', { timeout: LONG }, async () => {
    const r = await p.run(['-f', '--json', 'create']);
    expect(r.exitCode, r.stderr).toBe(0);
    // --launch-health-blip: EB said Severe while Launching; the deploy reported it and waited.
    expect(r.stderr).toMatch(/EB WARN: Environment health has transitioned from Pending to Severe/);
    expect(r.stderr).toMatch(/EB reports Severe health while Launching/);
    const out = JSON.parse(r.stdout);
    // No call of a sandbox phase may reach the real AWS: every one names the sandbox. This
    // pass's CLI is v1; the aws CLI v2 pass proves it argv by argv (awscli-v2.test.ts).
    expect(readRunLog(out.runLog).length).toBeGreaterThan(20);
    expect(readRunLog(out.runLog).filter((l) => !l.args.includes('--endpoint-url'))).toEqual([]);
    const nova = out.create_nova;
    expect(nova.newEnvironment).toMatch(/^nova-\d{10}$/);
    expect(nova.oldEnvironment).toBeUndefined();
    expect(nova.versionLabel).toMatch(/^app-\d{6}_\d{6}-[a-z][a-z0-9-]*-[0-9a-f]{4}$/);
    versions.push(nova.versionLabel);
    expect(nova.solutionStack).toBe(OLD_PLATFORM);
    const a = await p.get(p.host);
    expect(a.status).toBe(200);
    expect(JSON.parse(a.body)).toMatchObject({ echo: 'ok', phase: 'dep', version: nova.versionLabel, host: p.host });
    // EB's group never opened SSH to the world: SSHSourceRestriction is the VPC (R46).
    const sgs = await p.aws(['ec2', 'describe-security-groups', '--filters', `Name=tag:elasticbeanstalk:environment-name,Values=${nova.newEnvironment}`]);
    expect(sgs.SecurityGroups).toHaveLength(1); // eb_public is the load balancer's: EB made no group for it
    const ssh = sgs.SecurityGroups[0].IpPermissions.filter((x: any) => x.FromPort === 22 && x.IpRanges.some((r: any) => r.CidrIp === '0.0.0.0/0'));
    expect(ssh).toEqual([]);
    // Private instances: in the private subnets, no public address.
    const subnets = await p.aws(['ec2', 'describe-subnets', '--filters', 'Name=tag:johanna:phase,Values=dep']);
    const privateIds = subnets.Subnets.filter((x: any) => x.Tags.some((t: any) => t.Key === 'Name' && /private/.test(t.Value))).map((x: any) => x.SubnetId);
    const reservations = await p.aws(['ec2', 'describe-instances', '--filters', `Name=tag:elasticbeanstalk:environment-name,Values=${nova.newEnvironment}`]);
    const instances = reservations.Reservations.flatMap((x: any) => x.Instances);
    expect(instances.length).toBeGreaterThan(0);
    for (const i of instances) {
      expect(privateIds).toContain(i.SubnetId);
      expect(i.PublicIpAddress).toBeUndefined();
    }
    // The environment carries the git hashes and our ownership tags.
    const [env] = await p.envs();
    const tags = await p.aws(['elasticbeanstalk', 'list-tags-for-resource', '--resource-arn', env.EnvironmentArn]);
    const keys = Object.fromEntries(tags.ResourceTags.map((t: any) => [t.Key, t.Value]));
    expect(keys).toMatchObject({ 'johanna:phase': 'dep' });
    expect(keys.git_hash_johanna).toMatch(/^([0-9a-f]{7,}(-dirty)?|unknown)$/);
    expect(keys.git_hash_nova).toBeDefined();
  });

  it('a CNAME prefix held by another account: exit 1 naming it, before anything is uploaded', { timeout: LONG }, async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'held-'));
    const cfg = path.join(dir, 'env.json');
    writeFileSync(cfg, JSON.stringify({ ...p.config, nova: { ...p.config.nova, CNAME: HELD } }));
    const versionsBefore = (await p.aws(['elasticbeanstalk', 'describe-application-versions', '--application-name', 'dep'])).ApplicationVersions.length;
    const envsBefore = await p.envs();
    const r = await p.run(['-f', '-e', cfg, 'create_nova']);
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toContain(`the CNAME prefix '${HELD}'`);
    expect(r.stderr).toMatch(/not available/);
    expect(r.stderr).not.toMatch(/==> package/);
    expect((await p.aws(['elasticbeanstalk', 'describe-application-versions', '--application-name', 'dep'])).ApplicationVersions.length).toBe(versionsBefore);
    expect((await p.envs()).map((e: any) => e.EnvironmentName)).toEqual(envsBefore.map((e: any) => e.EnvironmentName));
  });

  it('deploys the next day under load from several clients with zero failed requests, within the call budget', { timeout: LONG }, async () => {
    // nova.PLATFORM unset from now on: the platform stays on the live branch, at its newest version.
    delete p.config.nova.PLATFORM;
    writeFileSync(p.configFile, JSON.stringify(p.config, null, 2));
    const load = startLoad({ router: p.sandbox.router, host: p.host, rate: 50, clients: CLIENTS, maxSeconds: 400 });
    await until('every client to be answered', async () => (load.snapshot().clients.every((c) => c.ok > 0) ? true : undefined));
    const r = await p.run(['-f', '--json', 'create_nova']);
    expect(r.exitCode, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    versions.push(out.versionLabel);
    expect(out.solutionStack).toBe('64bit Amazon Linux 2 v5.10.2 running Node.js 18');
    expect(r.stderr).toContain('a newer platform branch is offered: 64bit Amazon Linux 2023 v6.7.0 running Node.js 24');
    // The answers after the switch too: every client, through its own DNS cache, reaches the new version.
    await everyClientGot(load, out.versionLabel, load.snapshot().seconds * 1000);
    const report = await load.stop();
    expect(report.failures).toEqual([]);
    for (const c of report.clients) expect(c.versions.map((v) => v.version), c.client).toEqual([versions[0], versions[1]]);
    // It waited out the DNS TTL (the sandbox's 5 s) and said so.
    expect(out.dnsTtlSeconds).toBe(5);
    expect(r.stderr).toMatch(/DNS TTL passed: every client that honours it now reaches/);
    expect(out.oldEnvironment).toMatch(/^nova-/);
    expect(report.non2xx + report.errors + report.timeouts, failedRequests(report)).toBe(0);
    expect(report.sent).toBeGreaterThan(200);
    expect(report.versions.map((v) => v.version)).toEqual([versions[0], versions[1]]);
    expect(report.flapsAfterSwitch).toBe(0);
    // The main CNAME serves the new version; the old one still answers at its new CNAME.
    expect((await p.get(p.host)).version).toBe(versions[1]);
    expect((await p.get(out.newEnvironmentCname)).version).toBe(versions[0]);
    // Budget: at most 12 aws invocations besides wait polls (and the lock's bookkeeping), plus
    // the 2 of the cleanup at its end (describe-environments, describe-events; the traffic
    // check adds 2 per old environment past the grace, none here: yesterday's is inside it).
    expect(readRunLog(out.runLog).filter((l) => !l.args.includes('--endpoint-url'))).toEqual([]);
    const calls = ownCalls(readRunLog(out.runLog)).filter((c) => c.purpose !== 'poll');
    expect(calls.length).toBeLessThanOrEqual(12 + 2);
    expect(out.readyToServingMs).toBeGreaterThan(0);
    // Sharing the account (issue 23): while it waits, at most 2 EB calls a poll and a poll no
    // sooner than 2 x pollMs, i.e. POLL_BUDGET_PER_MINUTE on AWS, 5 times that here (the
    // sandbox polls 5 times as often): calls <= 2 (the first poll) + budget x minutes.
    const waiting = waitingEbCalls(readRunLog(out.runLog) as RunLogRecord[])!;
    expect(waiting.calls).toBeGreaterThanOrEqual(2);
    expect(waiting.calls).toBeLessThanOrEqual(2 + Math.floor((POLL_BUDGET_PER_MINUTE * 5 * waiting.seconds) / 60));
  });

  it('refuses a deploy whose Nova fails its health check; the live version keeps serving', { timeout: LONG }, async () => {
    const cfg = noEchoConfig();
    const load = startLoad({ router: p.sandbox.router, host: p.host, rate: 50, clients: CLIENTS, maxSeconds: 400 });
    const r = await p.run(['-f', '-e', cfg, 'create_nova']);
    const report = await load.stop();
    expect(report.failures).toEqual([]);
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toMatch(/Red|with errors|Severe/);
    expect(r.stderr).toMatch(/keeps serving/);
    expect(r.stderr).toMatch(/health check: http:\/\/\S+\/echo\/ answered \d{3}/);
    expect(report.non2xx + report.errors + report.timeouts, failedRequests(report)).toBe(0);
    expect(report.versions.map((v) => v.version)).toEqual([versions[1]]);
    // The failed environment is removed; the two good ones remain.
    const left = await until('the failed environment to go', async () => {
      const e = await p.envs();
      return e.length === 2 ? e : undefined;
    });
    expect(left.map((e: any) => e.VersionLabel).sort()).toEqual([...versions].sort());
  });

  it('terminate_eb_old_environment honours the grace period, then removes the old one with --grace-minutes 0, under load with 0 failures', { timeout: LONG }, async () => {
    const keep = await p.run(['-f', '--json', 'terminate_eb_old_environment']);
    expect(keep.exitCode, keep.stderr).toBe(0);
    const k = JSON.parse(keep.stdout);
    expect(k.graceMinutes).toBe(50);
    expect(k.terminated).toEqual([]);
    expect(k.decisions.find((d: any) => d.action === 'keep' && /grace period is 50 min/.test(d.reason))).toBeDefined();
    expect(k.decisions.find((d: any) => /holds the main CNAME/.test(d.reason))).toBeDefined();

    // The cleanup once the grace has passed, under load from every client: the DNS TTL since
    // the swap has passed too (create_nova waited it out), so no client reaches the old one.
    const load = startLoad({ router: p.sandbox.router, host: p.host, rate: 50, clients: CLIENTS, maxSeconds: 400 });
    await until('every client to be answered', async () => (load.snapshot().clients.every((c) => c.ok > 0) ? true : undefined));
    const go = await p.run(['-f', '--json', '--grace-minutes', '0', 'terminate_eb_old_environment']);
    expect(go.exitCode, go.stderr).toBe(0);
    const g = JSON.parse(go.stdout);
    expect(g.terminated).toHaveLength(1);
    // Three versions so far, all kept (the newest 10 are).
    expect(g.prunedVersions).toEqual([]);
    const left = await until('the old environment to go', async () => {
      const e = await p.envs();
      return e.length === 1 ? e : undefined;
    });
    await everyClientGot(load, versions[1], load.snapshot().seconds * 1000);
    const report = await load.stop();
    expect(report.failures).toEqual([]);
    expect(report.sent).toBeGreaterThan(50);
    expect(report.versions.map((v) => v.version)).toEqual([versions[1]]);
    expect(left[0].VersionLabel).toBe(versions[1]);
    expect((await p.get(p.host)).version).toBe(versions[1]);
  });

  it('terminate leaves nothing of the phase behind', { timeout: LONG }, async () => {
    const r = await p.run(['-f', 'terminate']);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(await p.envs()).toEqual([]);
    const tagged = await p.aws(['ec2', 'describe-tags', '--filters', 'Name=key,Values=johanna:phase', 'Name=value,Values=dep']);
    expect(tagged.Tags).toEqual([]);
    const apps = await p.aws(['elasticbeanstalk', 'describe-applications']);
    expect(apps.Applications.map((a: any) => a.ApplicationName)).not.toContain('dep');
    const roles = await p.aws(['iam', 'list-roles', '--path-prefix', '/johanna/dep/']);
    expect(roles.Roles).toEqual([]);
    expect((await p.get(p.host)).status).toBe(404);
  });
});
