// `npm run bench -- --soak N` (issue 20 item 2): N daily deploys against one sandbox, with
// promote, rollback, hold, discard and failed deploys mixed in, as a year of cron runs would
// meet them. After every step it checks, from EB and the router (never from the tool's own
// answer alone): which environment is live (EB's main CNAME holder, and the version the main
// CNAME serves), which is held (`status --json`), and that the deploy history agrees with EB
// (the newest recorded swap's `to` is the live one; the step's record names what it made).
// Every day ends with the cleanup (grace 0, --force-drain), which must remove exactly the
// environments that are neither live nor held — a failed deploy kept for inspection and a
// held deploy that failed included (item 3) — and nothing else.
import path from 'node:path';
import { writeFileSync } from 'node:fs';
import { startPhase, type PhaseSandbox } from '../test/helpers/sandbox-phase.js';
import type { RunOutcome } from '../test/helpers/bench-phase.js';
import { fromItem } from '../src/aws/dynamodb.js';
import { ledgerOf, type HistoryRecord } from '../src/deploy/history.js';

/** The kinds of day, in the order they repeat. */
export const DAYS = ['daily', 'hold+promote', 'daily+rollback', 'hold+discard', 'failed (kept)', 'failed held (kept)'] as const;
export type Day = (typeof DAYS)[number];

export interface SoakStep {
  day: number;
  kind: Day;
  command: string;
  exitCode: number;
  wallMs: number;
  live: string;
  held?: string;
  terminated?: string[];
}

export interface SoakResult {
  days: number;
  steps: SoakStep[];
  checks: number;
  wallMs: number;
  failures: string[];
}

const DELAYS = { launchMs: 300, swapMs: 200, terminateMs: 300, launchTimeoutMs: 4000 };
/**
 * EB keeps events 6 weeks (R51); the soak's sandbox keeps them 30 s, so each day's events are
 * gone before the next day's decisions, which must therefore come from the history and EB's
 * state, as they do on a year-old phase.
 */
export const SOAK_EVENT_RETENTION_MS = 30_000;

export async function runSoak(n: number, o: { log?: (msg: string) => void; phase?: string } = {}): Promise<SoakResult> {
  const log = o.log ?? (() => undefined);
  const started = Date.now();
  const p = await startPhase({
    phase: o.phase ?? 'soak',
    delays: DELAYS,
    strict: { natDelayMs: 200, iamDelayMs: 200, eniLingerMs: 200, dnsTtlMs: 500, eventRetentionMs: SOAK_EVENT_RETENTION_MS },
    // The cleanup inside create_nova keeps everything (a long grace); the day's own cleanup
    // step, with grace 0, is the one whose removals are checked.
    edit: (c) => {
      c.nova.OLD_ENVIRONMENT_GRACE_MINUTES = 600;
    },
  });
  const steps: SoakStep[] = [];
  const failures: string[] = [];
  let checks = 0;
  const check = (ok: boolean, what: string) => {
    checks++;
    if (!ok) failures.push(what);
  };
  const unhealthy = (keep: boolean) =>
    p.variant(`unhealthy-${keep}`, (c) => {
      c.nova.ENVIRONMENT = { ...(c.nova.ENVIRONMENT ?? {}), NOVA_NO_ECHO_FILE: path.join(p.dir, 'no_echo') };
      c.nova.KEEP_FAILED_ENVIRONMENT = keep;
      c.nova.OLD_ENVIRONMENT_GRACE_MINUTES = 600;
    });
  writeFileSync(path.join(p.dir, 'no_echo'), '');

  const model: { live?: string; liveVersion?: string; held?: string } = {};

  const run = async (day: number, kind: Day, args: string[], expected: number, file?: string): Promise<RunOutcome> => {
    const r = await p.runJson(args, file);
    const step: SoakStep = { day, kind, command: args.join(' '), exitCode: r.exitCode, wallMs: r.wallMs, live: '' };
    steps.push(step);
    check(r.exitCode === expected, `day ${day} (${kind}): ${args.join(' ')} exit ${r.exitCode}, expected ${expected}: ${r.stderr.slice(-400)}`);
    if (r.exitCode !== expected) throw new Error(failures.at(-1));
    return r;
  };

  const ebEnvs = async () => ((await p.aws(['elasticbeanstalk', 'describe-environments', '--application-name', p.config.elasticbeanstalk.APPLICATION_NAME, '--no-include-deleted'])).Environments as any[]).filter((e) => e.Status !== 'Terminated');
  const holder = (envs: any[]) => envs.find((e) => e.Status !== 'Terminating' && String(e.CNAME).toLowerCase() === p.host.toLowerCase())?.EnvironmentName;
  const history = async (): Promise<HistoryRecord[]> => {
    const r = await p.aws(['dynamodb', 'query', '--table-name', 'johanna-history', '--key-condition-expression', 'phase = :p', '--expression-attribute-values', JSON.stringify({ ':p': { S: p.phase } }), '--no-scan-index-forward']);
    return (r.Items as any[]).map((i) => fromItem(i) as unknown as HistoryRecord);
  };

  /** Live, held, and history vs EB, after a step. */
  const verify = async (day: number, kind: Day, what: string) => {
    const [envs, status, records] = await Promise.all([ebEnvs(), p.runJson(['status']), history()]);
    const live = holder(envs);
    check(live === model.live, `day ${day} (${kind}) after ${what}: EB says ${live} holds the main CNAME, expected ${model.live}`);
    const served = (await p.get(p.host)).version;
    check(served === model.liveVersion, `day ${day} (${kind}) after ${what}: the main CNAME serves ${served}, expected ${model.liveVersion}`);
    const held = status.json?.held?.name ?? undefined;
    check(held === model.held, `day ${day} (${kind}) after ${what}: status says held ${held}, expected ${model.held}`);
    const ledger = ledgerOf(records);
    const lastSwapTo = ledger.swaps[0]?.to;
    check(lastSwapTo === undefined || lastSwapTo === live, `day ${day} (${kind}) after ${what}: the history's newest swap gave the main CNAME to ${lastSwapTo}, EB says ${live}`);
    const last = steps.at(-1)!;
    last.live = live ?? '';
    last.held = held;
  };

  /** The day's cleanup: exactly the environments neither live nor held go. */
  const cleanup = async (day: number, kind: Day, mustGo: string[]) => {
    const before = await ebEnvs();
    const expected = before
      .filter((e) => e.Status === 'Ready' && e.EnvironmentName !== model.live && e.EnvironmentName !== model.held)
      .map((e) => e.EnvironmentName)
      .sort();
    const r = await run(day, kind, ['terminate_eb_old_environment', '--grace-minutes', '0', '--force-drain'], 0);
    const terminated = [...(r.json?.terminated ?? [])].sort();
    steps.at(-1)!.terminated = terminated;
    check(JSON.stringify(terminated) === JSON.stringify(expected), `day ${day} (${kind}): the cleanup removed [${terminated}], expected [${expected}]`);
    for (const name of mustGo) check(terminated.includes(name), `day ${day} (${kind}): ${name} (a failed deploy kept for inspection) escaped the cleanup`);
    check(!model.held || !terminated.includes(model.held), `day ${day} (${kind}): the cleanup removed the held ${model.held}`);
    await settle();
    await verify(day, kind, 'the cleanup');
  };

  const settle = async () => {
    const end = Date.now() + 120_000;
    while (Date.now() < end) {
      if (!(await ebEnvs()).some((x) => ['Launching', 'Updating', 'Terminating'].includes(x.Status))) return;
      await new Promise((r) => setTimeout(r, 300));
    }
    throw new Error('environments still changing after 2 min');
  };

  try {
    let r = await run(0, 'daily', ['create'], 0);
    model.live = r.json.create_nova?.newEnvironment ?? r.json.newEnvironment;
    model.liveVersion = r.json.create_nova?.versionLabel ?? r.json.versionLabel;
    for (let day = 1; day <= n; day++) {
      const kind = DAYS[(day - 1) % DAYS.length];
      log(`soak day ${day}/${n}: ${kind}`);
      let mustGo: string[] = [];
      if (kind === 'daily' || kind === 'daily+rollback') {
        const before = { live: model.live, version: model.liveVersion };
        r = await run(day, kind, ['create_nova'], 0);
        model.live = r.json.newEnvironment;
        model.liveVersion = r.json.versionLabel;
        await verify(day, kind, 'create_nova');
        if (kind === 'daily+rollback') {
          r = await run(day, kind, ['rollback'], 0);
          check(r.json.to === before.live, `day ${day}: rollback went to ${r.json.to}, expected ${before.live}`);
          model.live = before.live;
          model.liveVersion = before.version;
          await verify(day, kind, 'rollback');
        }
      } else if (kind === 'hold+promote' || kind === 'hold+discard') {
        r = await run(day, kind, ['create_nova', '--hold'], 0);
        model.held = r.json.newEnvironment;
        const heldVersion = r.json.versionLabel;
        await verify(day, kind, 'create_nova --hold');
        if (kind === 'hold+promote') {
          await run(day, kind, ['promote'], 0);
          model.live = model.held;
          model.liveVersion = heldVersion;
        } else {
          await run(day, kind, ['discard'], 0);
        }
        model.held = undefined;
        await settle();
        await verify(day, kind, kind === 'hold+promote' ? 'promote' : 'discard');
      } else {
        const hold = kind === 'failed held (kept)';
        r = await run(day, kind, ['create_nova', ...(hold ? ['--hold'] : [])], 1, unhealthy(true));
        const kept = (await ebEnvs()).map((e) => e.EnvironmentName).filter((nm) => nm !== model.live && nm !== model.held);
        mustGo = kept;
        await settle();
        await verify(day, kind, `a failed create_nova${hold ? ' --hold' : ''} (kept)`);
      }
      await cleanup(day, kind, mustGo);
    }
  } catch (err) {
    if (!failures.includes((err as Error).message)) failures.push((err as Error).message);
  } finally {
    await p.close();
  }
  return { days: n, steps, checks, wallMs: Date.now() - started, failures };
}

export function renderSoak(s: SoakResult): string {
  const L: string[] = [];
  const by = new Map<string, number[]>();
  for (const st of s.steps) {
    const k = st.command.replace(/ --grace-minutes 0 --force-drain/, ' (grace 0, force-drain)');
    by.set(k, [...(by.get(k) ?? []), st.wallMs]);
  }
  L.push(`## Soak: ${s.days} days on one sandbox (issue 20 item 2)`, '');
  L.push(`${s.steps.length} runs, ${s.checks} checks, ${s.failures.length} failed; ${(s.wallMs / 60_000).toFixed(1)} min in all.`, '');
  L.push('| command | runs | median wall (s) | max (s) |', '|---|---|---|---|');
  for (const [k, xs] of by) {
    const sorted = [...xs].sort((a, b) => a - b);
    L.push(`| ${k} | ${xs.length} | ${(sorted[Math.floor(sorted.length / 2)] / 1000).toFixed(1)} | ${(sorted.at(-1)! / 1000).toFixed(1)} |`);
  }
  if (s.failures.length) L.push('', 'Failures:', ...s.failures.map((f) => `- ${f}`));
  L.push('');
  return L.join('\n');
}
