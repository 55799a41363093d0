// AWS's clock is not this machine's (issue 19 item 6, R103), end to end: the built ./run and
// the real aws CLI against a sandbox whose clock is 5 minutes ahead, and one 5 minutes
// behind (--clock-skew). Both phases run at once (about a minute together). Each shows:
// - no event of the deploy missed: create_nova prints every event EB has for its new
//   environment (a --start-time by this machine's clock is 4 minutes in AWS's future when
//   AWS is behind, and would find none);
// - no environment removed early: past the grace and the DNS TTL, an old environment that a
//   client still reaches is kept, because the cleanup reads CloudWatch's window in AWS's
//   time (by this machine's, the window is 5 minutes off and finds no request either way).
// The lock is not here: its times are written and compared by this machine's clock only,
// never against AWS's (docs/aws-rules.md R103 says why skew cannot break it).
import { rmSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ROOT, startPhase, until, type PhaseSandbox } from '../helpers/sandbox-phase.js';
import { startLoad, type RunningLoad } from '../helpers/load.js';

const JVM = '127.0.0.7'; // a client that keeps the main CNAME's first answer (--dns-ignore-ttl)
const QUIET_MINUTES = 0.1; // 6 s of the test sandbox's 1 s metric periods
const LONG = 150_000;

const cases = [
  { phase: 'skp', skewSeconds: 300 },
  { phase: 'skm', skewSeconds: -300 },
];

const opened: { ph?: PhaseSandbox; load?: RunningLoad }[] = [];
afterAll(async () => {
  for (const o of opened) {
    await o.load?.stop();
    await o.ph?.close();
  }
  for (const c of cases) rmSync(path.join(ROOT, 'logs', c.phase), { recursive: true, force: true });
});

describe.concurrent.each(cases)('AWS $skewSeconds s off this machine ($phase)', ({ phase, skewSeconds }) => {
  it('prints every event of the launch, and keeps an old environment that still serves', { timeout: LONG }, async () => {
    const own: { ph?: PhaseSandbox; load?: RunningLoad } = {};
    opened.push(own);
    const ph = (own.ph = await startPhase({
      phase,
      delays: { launchMs: 500, swapMs: 200, terminateMs: 300 },
      strict: { clockSkewMs: skewSeconds * 1000, dnsIgnoreTtlClients: [JVM] },
      edit: (c) => ((c.nova.DRAIN_QUIET_MINUTES = QUIET_MINUTES), (c.nova.OLD_ENVIRONMENT_GRACE_MINUTES = 0)),
    }));
    const run = async (args: string[]) => {
      const r = await ph.run(args);
      expect(r.exitCode, `./run ${args.join(' ')}\n${r.stderr}`).toBe(0);
      return r;
    };
    const c = await run(['-f', '--json', 'create']);
    const first = JSON.parse(c.stdout).create_nova.newEnvironment as string;
    const events = (await ph.aws(['elasticbeanstalk', 'describe-events', '--environment-name', first])).Events as { Message: string; EventDate: string }[];
    expect(events.length).toBeGreaterThan(2);
    // EB's events carry AWS's time, not this machine's.
    const newest = Math.max(...events.map((e) => Date.parse(e.EventDate)));
    expect(Math.abs(newest - skewSeconds * 1000 - Date.now())).toBeLessThan(120_000);
    const printed = c.stderr.split('\n').filter((l) => / EB (INFO|WARN|ERROR|DEBUG|TRACE|FATAL): /.test(l));
    for (const e of events) expect(printed.some((l) => l.endsWith(`: ${e.Message}`)), `not printed: ${e.Message}\n${printed.join('\n')}`).toBe(true);

    own.load = startLoad({ router: ph.sandbox.router, host: ph.host, rate: 5, clients: [JVM], maxSeconds: 120 });
    await until('the client to be answered', async () => (own.load!.snapshot().clients[0]?.ok > 0 ? true : undefined));
    const d = JSON.parse((await run(['-f', '--json', 'create_nova'])).stdout);
    expect(d.oldEnvironment).toBe(first);
    // Past the grace (0) and the TTL, and the client still reaches the old one through the main CNAME.
    const before = own.load.snapshot().sent;
    await until('more requests from the client', async () => (own.load!.snapshot().sent > before + 10 ? true : undefined));
    const j = JSON.parse((await run(['-f', '--json', 'terminate_eb_old_environment', '--grace-minutes', '0'])).stdout);
    const kept = j.decisions.find((x: any) => x.environment === first);
    expect(j.terminated, JSON.stringify(kept)).toEqual([]);
    expect(kept.action).toBe('keep');
    expect(kept.traffic.requests).toBeGreaterThan(0);
    // The window it read is AWS's minutes.
    expect(Math.abs(Date.parse(kept.traffic.to) - skewSeconds * 1000 - Date.now())).toBeLessThan(60_000);
    expect((await ph.envs()).map((e: any) => e.EnvironmentName)).toContain(first);
  });
});
