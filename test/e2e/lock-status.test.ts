// Issue 12, as an operator meets it, with the built ./run and the real aws CLI against a
// sandbox: a run log that cannot be written (read-only commands go on with a warning,
// changing ones refuse before any call, a run that loses it mid-deploy still cleans up and
// releases its lock), a malformed lock item put by hand (status and the deploy agree, and
// the command they print clears it), and an interrupted deploy exiting 130/143.
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { execa, type ResultPromise } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, RUN, startPhase, type PhaseSandbox, until } from '../helpers/sandbox-phase.js';
import { readRunLogSoFar } from '../helpers/bench-phase.js';

const PHASE = 'lkst';
const LOGS = path.join(ROOT, 'logs', PHASE);
let p: PhaseSandbox;

beforeAll(async () => {
  rmSync(LOGS, { recursive: true, force: true });
  // Launches last 12 s after create-environment answers: EB refuses to terminate a launching
  // environment (R40), so the interrupted deploys below must wait for the launch to end.
  p = await startPhase({ phase: PHASE, delays: { launchMs: 12_000 } });
});

afterAll(async () => {
  rmSync(LOGS, { recursive: true, force: true });
  await p?.close();
});

const lockItem = async () => (await p.aws(['dynamodb', 'get-item', '--table-name', 'johanna-locks', '--key', JSON.stringify({ phase: { S: PHASE } }), '--consistent-read'])).Item;
const tables = async () => (await p.aws(['dynamodb', 'list-tables'])).TableNames as string[];

/** The records of a run log so far; a line being written at this moment is skipped. */
const records = readRunLogSoFar;

function runLogOf(command: string, pid: number): string | undefined {
  if (!existsSync(LOGS)) return undefined;
  const f = readdirSync(LOGS).find((n) => n.endsWith(`-${command}-${pid}.jsonl`));
  return f && path.join(LOGS, f);
}

/** A shell line as the CLI prints it (words, single-quoted words), back into arguments. */
function shellWords(line: string): string[] {
  return [...line.matchAll(/'((?:[^']|'\\'')*)'|(\S+)/g)].map((m) => (m[1] !== undefined ? m[1].replace(/'\\''/g, "'") : m[2]));
}

describe('a run log that cannot be written (logs/<phase> is a file: this fails for root too, unlike a chmod)', () => {
  beforeAll(() => {
    rmSync(LOGS, { recursive: true, force: true });
    mkdirSync(path.dirname(LOGS), { recursive: true });
    writeFileSync(LOGS, 'not a folder\n');
  });
  afterAll(() => rmSync(LOGS, { recursive: true, force: true }));

  // BUG before: status exited 1 with "internal error: EEXIST" (EPERM for a read-only folder).
  it('status still works, with a warning naming the log', async () => {
    const r = await p.run(['status']);
    expect(r.stderr).toContain(`warning: cannot write the run log ${LOGS}/`);
    expect(r.stderr).toContain('this read-only run goes on without a run log');
    expect(r.stderr).not.toContain('internal error');
    expect(r.stdout).toContain(`phase ${PHASE} in ap-northeast-2`);
    expect(r.exitCode).toBe(0);
  });

  // BUG before: a changing command also died with "internal error" (exit 1), and one that
  // lost the log later left its lock held and its new environment up (below).
  it('a changing command refuses before any aws call: exit 2, naming the folder to fix', async () => {
    const r = await p.run(['-f', 'create_vpc']);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain(`error: cannot write the run log ${LOGS}/`);
    expect(r.stderr).toContain(`make ${LOGS} a writable folder`);
    // Nothing was made: not even the lock table, the first thing a changing command makes.
    expect(await tables()).not.toContain('johanna-locks');
    expect((await p.aws(['ec2', 'describe-vpcs', '--filters', `Name=tag:johanna:phase,Values=${PHASE}`])).Vpcs).toEqual([]);
  });

  it('--dry-run of a changing command only reads: it goes on, with the warning', async () => {
    const r = await p.run(['-f', '--dry-run', 'create_vpc']);
    expect(r.stderr).toContain('this read-only run goes on without a run log');
    expect(r.exitCode).toBe(0);
  });
});

describe('a malformed lock item, put with the aws CLI', () => {
  beforeAll(async () => {
    // The table as Johanna makes it, then an item with nothing but its key.
    await p.aws([
      'dynamodb', 'create-table', '--table-name', 'johanna-locks', '--attribute-definitions', 'AttributeName=phase,AttributeType=S',
      '--key-schema', 'AttributeName=phase,KeyType=HASH', '--billing-mode', 'PAY_PER_REQUEST',
    ]);
    await p.aws(['dynamodb', 'put-item', '--table-name', 'johanna-locks', '--item', JSON.stringify({ phase: { S: PHASE } })]);
  });

  let clear = '';

  // BUG before: status said "lock: free" while every deploy was refused as
  // "locked by ? ... expires 1970-01-01", "wait for that run to finish".
  it('status says MALFORMED and prints the command that clears it', async () => {
    const r = await p.run(['status']);
    expect(r.exitCode).toBe(0);
    expect(r.stdout).not.toContain('lock: free');
    expect(r.stdout).toContain('lock: MALFORMED: the item lacks a valid holder, command, startedAt, expiresAt');
    clear = /Clear it with: (.+)$/m.exec(r.stdout)?.[1] ?? '';
    expect(clear).toBe(`./run -e ${p.configFile} -- aws dynamodb delete-item --table-name johanna-locks --key '{"phase":{"S":"${PHASE}"}}'`);
  });

  it('the deploy says the same: malformed, the same command, exit 1 at once (waiting cannot help)', async () => {
    const r = await p.run(['-f', '--lock-wait', '5', 'create_nova'], { timeoutMs: 120_000 });
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toContain(`error: the deploy lock of phase '${PHASE}' is malformed`);
    expect(r.stderr).toContain(clear);
    expect(r.stderr).not.toContain('1970');
    expect(r.stderr).not.toContain('waiting for the deploy lock');
    expect(await lockItem()).toEqual({ phase: { S: PHASE } });
  });

  it('the printed command, run as printed (it asks for the phase), clears it; then status says free', async () => {
    const [run, ...args] = shellWords(clear);
    expect(run).toBe('./run');
    const r = await execa(RUN, args, { cwd: ROOT, reject: false, input: `${PHASE}\n`, env: { ...process.env, NO_COLOR: '1' } });
    expect(r.exitCode, r.stderr).toBe(0);
    expect(await lockItem()).toBeUndefined();
    expect((await p.run(['status'])).stdout).toContain('lock: free');
  });
});

describe('interrupted deploys exit 130 (SIGINT) and 143 (SIGTERM) after their cleanup', () => {
  // A live environment first: these are about a daily deploy, which must remove its new
  // environment and leave the live one serving.
  beforeAll(async () => {
    const r = await p.run(['-f', 'create']);
    expect(r.exitCode, r.stderr).toBe(0);
  }, 400_000);

  /** Start create_nova and return once its create-environment call is in the run log (the kill point). */
  async function deployUntilCreated(): Promise<{ child: ResultPromise; pid: number; log: string; env: string }> {
    const child = execa(RUN, ['-e', p.configFile, '-f', 'create_nova'], { cwd: ROOT, reject: false, stdin: 'ignore', env: { ...process.env, NO_COLOR: '1' } });
    const pid = child.pid!;
    let exited = false;
    void child.then(() => (exited = true));
    const created = await until('create_nova to call create-environment', async () => {
      if (exited) throw new Error(`create_nova ended before create-environment: ${String((await child).stderr).slice(-1500)}`);
      const log = runLogOf('create_nova', pid);
      const rec = records(log).find((r) => r.args[1] === 'create-environment' && r.exitCode === 0);
      return rec && log ? { log, env: rec.args[rec.args.indexOf('--environment-name') + 1] as string } : undefined;
    }, 180_000);
    return { child, pid, ...created };
  }

  // BUG before: a single SIGINT during a deploy exited 1 (the contract says 130); and a
  // run log that broke mid-deploy failed every later call, cleanup and release included.
  it('SIGINT while the new environment launches, its run log broken just before: 130, environment removed, lock released', async () => {
    const { child, pid, env, log } = await deployUntilCreated();
    // The log file becomes a folder: every later append fails with EISDIR, even for root.
    rmSync(log);
    mkdirSync(log);
    process.kill(pid, 'SIGINT');
    const r = await child;
    expect(r.stderr).toContain('SIGINT: stopping at the next safe point');
    expect(r.stderr).toContain(`warning: cannot write the run log ${log}: EISDIR`);
    expect(r.stderr).toContain('the run goes on, but its run log misses every call from here on');
    expect(r.stderr).toContain(`terminating ${env}`);
    expect(r.stderr).toContain(`${env} is Launching: EB terminates no environment pending creation; waiting up to`);
    expect(r.exitCode).toBe(130);
    const left = (await p.envs()).filter((e: any) => e.EnvironmentName === env && e.Status !== 'Terminating');
    expect(left).toEqual([]);
    expect(await lockItem()).toBeUndefined();
    rmSync(log, { recursive: true, force: true });
  });

  it('SIGTERM (a cron or CI timeout) at the same point: 143, environment removed, lock released', async () => {
    // process.kill, not child.kill: execa follows its SIGTERM with a SIGKILL after 5 s.
    const { child, pid, env } = await deployUntilCreated();
    process.kill(pid, 'SIGTERM');
    const r = await child;
    expect(r.stderr).toContain('SIGTERM: stopping at the next safe point');
    expect(r.stderr).toContain(`terminating ${env}`);
    expect(r.exitCode).toBe(143);
    const left = (await p.envs()).filter((e: any) => e.EnvironmentName === env && e.Status !== 'Terminating');
    expect(left).toEqual([]);
    expect(await lockItem()).toBeUndefined();
  });

  // Fencing (issue 20 item 7): the lock taken away mid-run, on the same live phase.
  // BUG before: a run whose lock was deleted or taken over went on changing the phase
  // beside the new holder. Now each change to production first proves the lease is ours.
  it('create_nova stops before its swap with exit 3: the live environment keeps the main CNAME, the other holder\'s lock stays', async () => {
    const host = p.host;
    const before = (await p.get(host)).version;
    // The kill point, observed: create-environment is in the run log. Then another holder
    // takes the lock item, with the real aws CLI, as a second host would.
    const { child, log, env } = await deployUntilCreated();
    const intruder = { phase: { S: PHASE }, holder: { S: 'other@host2:4242:abcdef' }, command: { S: 'create_nova' }, startedAt: { S: new Date().toISOString() }, expiresAt: { N: String(Math.floor(Date.now() / 1000) + 3600) } };
    await p.aws(['dynamodb', 'put-item', '--table-name', 'johanna-locks', '--item', JSON.stringify(intruder)]);
    const overwrittenAt = Date.now();
    const r = await child;
    expect(r.exitCode, String(r.stderr).slice(-2000)).toBe(3);
    expect(r.stderr).toMatch(/no longer holds the deploy lock of phase 'lkst'.*stopped before the swap of .*, which was not done/);
    // Nothing changed after the lock was lost: no swap, no terminate (not even of its own new environment).
    const after = records(log).filter((rec) => Date.parse(rec.ts) >= overwrittenAt && rec.purpose !== 'lock' && rec.purpose !== 'history');
    expect(after.filter((rec) => rec.mutating).map((rec) => rec.args.slice(0, 2).join(' '))).toEqual([]);
    expect((await p.get(host)).version).toBe(before);
    // The other holder's item is untouched; the run is in the history all the same.
    expect(await lockItem()).toEqual(intruder);
    const hist = await p.aws(['dynamodb', 'query', '--table-name', 'johanna-history', '--key-condition-expression', 'phase = :p', '--expression-attribute-values', JSON.stringify({ ':p': { S: PHASE } }), '--no-scan-index-forward', '--max-items', '1']);
    expect(hist.Items[0]).toMatchObject({ command: { S: 'create_nova' }, exitCode: { N: '3' }, newEnvironment: { S: env } });
    // Leave the phase as found: the intruder's lock goes, and the environment it could not remove.
    await p.aws(['dynamodb', 'delete-item', '--table-name', 'johanna-locks', '--key', JSON.stringify({ phase: { S: PHASE } })]);
    await p.aws(['elasticbeanstalk', 'terminate-environment', '--environment-name', env]).catch(() => undefined);
  }, 400_000);
  // Issue 19 item 1: where the run cannot wait for the launch to end, the environment stays
  // marked for removal (johanna:candidate, set at create), status shows it with the command
  // that removes it, and the next cleanup removes it first.
  it('a second SIGINT during that wait: exit at once, the environment left marked; status shows it; the cleanup removes it first', async () => {
    const { child, pid, env, log } = await deployUntilCreated();
    let waiting = false;
    child.stderr!.on('data', (d: Buffer) => {
      if (!waiting && String(d).includes('EB terminates no environment pending creation')) {
        waiting = true;
        process.kill(pid, 'SIGINT');
      }
    });
    process.kill(pid, 'SIGINT');
    const r = await child;
    expect(waiting, String(r.stderr)).toBe(true);
    expect(r.exitCode).toBe(130);
    // The kill point: nothing terminated it (a lenient sandbox would have let the first call through).
    expect(records(log).filter((c) => c.args[1] === 'terminate-environment')).toEqual([]);
    expect((await p.envs()).find((e: any) => e.EnvironmentName === env)?.Status).toMatch(/Launching|Ready/);
    const st = await p.run(['status']);
    // Its ROLE says so (issue 22 item 3), and the note how it goes.
    expect(st.stdout).toMatch(new RegExp(`^\\s+(marked for removal|new)\\s+${env} .*(its deploy at|made by a deploy at).*terminate_eb_old_environment removes it`, 'm'));
    const c = await p.run(['-f', 'terminate_eb_old_environment'], { timeoutMs: 180_000 });
    expect(c.exitCode, c.stderr).toBe(0);
    expect(c.stderr).toContain(`remove ${env} first: marked for removal`);
    expect((await p.envs()).filter((e: any) => e.EnvironmentName === env && e.Status !== 'Terminating')).toEqual([]);
    expect((await p.run(['status'])).stdout).not.toMatch(/^\s+(marked for removal|new)\s+nova-/m);
  }, 400_000);

  it('a SIGINT while the version uploads stops before create-environment: no environment is made', async () => {
    // The bundle's registration is held 2 s (an aws CLI in front of the run's own that sleeps
    // before create-application-version), so the kill point below is a window, not a race:
    // with npm test's fast aws CLI the whole upload takes a fraction of a second.
    const slow = path.join(p.dir, 'slow-aws');
    writeFileSync(slow, `#!/bin/sh\nif [ "$1 $2" = "elasticbeanstalk create-application-version" ]; then sleep 2; fi\nexec '${process.env.JOHANNA_AWS_CLI || 'aws'}' "$@"\n`, { mode: 0o755 });
    const child = execa(RUN, ['-e', p.configFile, '-f', 'create_nova'], { cwd: ROOT, reject: false, stdin: 'ignore', env: { ...process.env, NO_COLOR: '1', JOHANNA_AWS_CLI: slow } });
    const pid = child.pid!;
    // Names, not a count: an earlier case's environment may finish terminating meanwhile.
    const before = new Set((await p.envs()).map((e: any) => e.EnvironmentName));
    // The kill point: the bundle is in S3, create-application-version not answered yet.
    for (let i = 0; i < 3000; i++) {
      const recs = records(runLogOf('create_nova', pid));
      if (recs.some((c) => c.args[1] === 'put-object' && c.exitCode === 0)) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const atKill = records(runLogOf('create_nova', pid));
    expect(atKill.some((c) => c.args[1] === 'put-object')).toBe(true);
    expect(atKill.some((c) => c.args[1] === 'create-application-version')).toBe(false);
    process.kill(pid, 'SIGINT');
    const r = await child;
    expect(r.exitCode).toBe(130);
    expect(r.stderr).toContain('interrupted before create-environment: no environment was made');
    expect(records(runLogOf('create_nova', pid)).filter((c) => c.args[1] === 'create-environment')).toEqual([]);
    expect((await p.envs()).filter((e: any) => !before.has(e.EnvironmentName))).toEqual([]);
    expect(await lockItem()).toBeUndefined();
  });
});
