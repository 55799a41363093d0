// Issue 5 end to end: the built ./run against a sandbox of its own, with the real aws CLI.
// One phase lives through the file in order: create from nothing, a daily deploy under
// load, a refused deploy, the old-environment cleanup, and terminate.
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLoad } from '../../bench/load.js';
import { ownCalls, readRunLog, startPhase, type PhaseSandbox, until } from './helpers/sandbox-phase.js';

let p: PhaseSandbox;
const versions: string[] = [];

describe('create_nova: the daily blue/green deploy', () => {
  beforeAll(async () => {
    p = await startPhase({ phase: 'dep', delays: { launchMs: 800, swapMs: 300, terminateMs: 500, launchTimeoutMs: 6000 } });
  });
  afterAll(async () => {
    await p?.close();
  });

  it('refuses create_nova before create_vpc, changing nothing', async () => {
    const r = await p.run(['-f', 'create_nova']);
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toMatch(/run create_vpc first/);
    expect(await p.envs()).toEqual([]);
  });

  it('creates the phase from nothing and serves Nova through the router', async () => {
    const r = await p.run(['-f', '--json', 'create']);
    expect(r.exitCode, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    const nova = out.create_nova;
    expect(nova.newEnvironment).toMatch(/^nova-\d{10}$/);
    expect(nova.oldEnvironment).toBeUndefined();
    expect(nova.versionLabel).toMatch(/^app-\d{6}_\d{6}-[a-z][a-z0-9-]*-[0-9a-f]{4}$/);
    versions.push(nova.versionLabel);
    const a = await p.get(p.host);
    expect(a.status).toBe(200);
    expect(JSON.parse(a.body)).toMatchObject({ echo: 'ok', phase: 'dep', version: nova.versionLabel, host: p.host });
    // EB's world-open SSH on the group it made was closed.
    const sgs = await p.aws(['ec2', 'describe-security-groups', '--filters', `Name=tag:elasticbeanstalk:environment-name,Values=${nova.newEnvironment}`]);
    expect(sgs.SecurityGroups).toHaveLength(1);
    const ssh = sgs.SecurityGroups[0].IpPermissions.filter((x: any) => x.FromPort === 22 && x.IpRanges.some((r: any) => r.CidrIp === '0.0.0.0/0'));
    expect(ssh).toEqual([]);
    // The environment carries the git hashes and our ownership tags.
    const [env] = await p.envs();
    const tags = await p.aws(['elasticbeanstalk', 'list-tags-for-resource', '--resource-arn', env.EnvironmentArn]);
    const keys = Object.fromEntries(tags.ResourceTags.map((t: any) => [t.Key, t.Value]));
    expect(keys).toMatchObject({ 'johanna:phase': 'dep' });
    expect(keys.git_hash_johanna).toMatch(/^([0-9a-f]{7,}(-dirty)?|unknown)$/);
    expect(keys.git_hash_nova).toBeDefined();
  });

  it('deploys the next day under load with zero failed requests, within the call budget', async () => {
    const load = startLoad({ router: p.sandbox.router, host: p.host, rate: 50, maxSeconds: 240 });
    const r = await p.run(['-f', '--json', 'create_nova']);
    await new Promise((res) => setTimeout(res, 1500)); // answers after the switch, too
    const report = await load.stop();
    expect(r.exitCode, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    versions.push(out.versionLabel);
    expect(out.oldEnvironment).toMatch(/^nova-/);
    expect(report.non2xx + report.errors + report.timeouts).toBe(0);
    expect(report.sent).toBeGreaterThan(200);
    expect(report.versions.map((v) => v.version)).toEqual([versions[0], versions[1]]);
    expect(report.flapsAfterSwitch).toBe(0);
    // The main CNAME serves the new version; the old one still answers at its new CNAME.
    expect((await p.get(p.host)).version).toBe(versions[1]);
    expect((await p.get(out.newEnvironmentCname)).version).toBe(versions[0]);
    // Budget: at most 12 aws invocations besides wait polls (and the lock's bookkeeping).
    const calls = ownCalls(readRunLog(out.runLog)).filter((c) => c.purpose !== 'poll');
    expect(calls.length).toBeLessThanOrEqual(12);
    expect(out.readyToServingMs).toBeGreaterThan(0);
  });

  it('refuses a deploy whose Nova fails its health check; the live version keeps serving', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'noecho-'));
    const noEcho = path.join(dir, 'no_echo');
    writeFileSync(noEcho, '');
    const edited = { ...p.config, nova: { ...p.config.nova, ENVIRONMENT: { NOVA_NO_ECHO_FILE: noEcho } } };
    const cfg = path.join(dir, 'env.json');
    writeFileSync(cfg, JSON.stringify(edited));
    const load = startLoad({ router: p.sandbox.router, host: p.host, rate: 50, maxSeconds: 240 });
    const r = await p.run(['-f', '-e', cfg, 'create_nova']);
    const report = await load.stop();
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toMatch(/Red|with errors|Severe/);
    expect(r.stderr).toMatch(/keeps serving/);
    expect(report.non2xx + report.errors + report.timeouts).toBe(0);
    expect(report.versions.map((v) => v.version)).toEqual([versions[1]]);
    // The failed environment is removed; the two good ones remain.
    const left = await until('the failed environment to go', async () => {
      const e = await p.envs();
      return e.length === 2 ? e : undefined;
    });
    expect(left.map((e: any) => e.VersionLabel).sort()).toEqual([...versions].sort());
  });

  it('terminate_eb_old_environment honours the grace period, then removes the old one with --grace-minutes 0', async () => {
    const keep = await p.run(['-f', '--json', 'terminate_eb_old_environment']);
    expect(keep.exitCode, keep.stderr).toBe(0);
    const k = JSON.parse(keep.stdout);
    expect(k.graceMinutes).toBe(50);
    expect(k.terminated).toEqual([]);
    expect(k.decisions.find((d: any) => d.action === 'keep' && /grace period is 50 min/.test(d.reason))).toBeDefined();
    expect(k.decisions.find((d: any) => /holds the main CNAME/.test(d.reason))).toBeDefined();

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
    expect(left[0].VersionLabel).toBe(versions[1]);
    expect((await p.get(p.host)).version).toBe(versions[1]);
  });

  it('terminate leaves nothing of the phase behind', async () => {
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
