// `npm run bench:calls`: issue 27's call counts, per command, in ONE sandbox with short NAT
// and IAM delays (a fraction of the full bench's cost): create_vpc in a fresh account (it
// makes the lock and history tables), create_vpc of a second phase in an account that has
// them, a re-run on that complete phase, its daily create_nova, and terminate_vpc of the
// first phase. Counted from each run
// log by issueCount (test/helpers/bench-phase.ts): a read repeated with the same arguments
// is a poll and counts once.
//
//   node dist/bench/calls.js [--list] [--nat-ms N]
//     --list: every counted call of each command
//     --nat-ms: how long a new NAT gateway stays pending (default 500; AWS takes minutes, and
//       then create_vpc's wall time is how soon its NAT gateway is asked for, plus that wait,
//       plus what the run still has to do after it)
import { existsSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { issueCount, readRunLog, type IssueCount, type RunLogRecord, type RunOutcome } from '../test/helpers/bench-phase.js';
import { startPhase } from '../test/helpers/sandbox-phase.js';

const DELAYS = { launchMs: 1500, swapMs: 500, terminateMs: 1000, launchTimeoutMs: 6000 };
const STRICT = { natDelayMs: 500, iamDelayMs: 500 };

interface Row {
  name: string;
  wallMs: number;
  count: IssueCount;
  recs: RunLogRecord[];
}

function rowOf(name: string, r: RunOutcome): Row {
  if (r.exitCode !== 0) throw new Error(`${name}: exit ${r.exitCode}\n${r.stderr.slice(-3000)}`);
  const file = r.json?.runLog;
  const recs = file && existsSync(file) ? readRunLog(file) : [];
  return { name, wallMs: r.wallMs, count: issueCount(recs), recs };
}

async function main(): Promise<void> {
  const { values } = parseArgs({ args: process.argv.slice(2), options: { list: { type: 'boolean' }, 'nat-ms': { type: 'string' } } });
  const natDelayMs = values['nat-ms'] === undefined ? STRICT.natDelayMs : Number(values['nat-ms']);
  if (!Number.isInteger(natDelayMs) || natDelayMs < 0) throw new Error(`--nat-ms: a whole number of milliseconds, not ${values['nat-ms']}`);
  const p = await startPhase({ phase: 'callsa', delays: DELAYS, strict: { ...STRICT, natDelayMs } });
  const rows: Row[] = [];
  try {
    rows.push(rowOf('create_vpc (fresh account: makes the lock and history tables)', await p.runJson(['create_vpc'])));
    const b = p.phaseConfig('callsb', 31);
    rows.push(rowOf('create_vpc (account with the tables)', await p.runJson(['create_vpc'], b)));
    rows.push(rowOf('create_vpc (re-run, complete phase)', await p.runJson(['create_vpc'], b)));
    rowOf('create_nova (first)', await p.runJson(['create_nova'], b));
    rows.push(rowOf('create_nova (daily)', await p.runJson(['create_nova'], b)));
    rows.push(rowOf('terminate_vpc (the fresh-account phase, no environments)', await p.runJson(['terminate_vpc'])));
  } finally {
    await p.close();
  }
  const L = [
    '| command | calls (polls once) | of which bookkeeping | mutating (bookkeeping apart) | sweep describes | invocations | wall (s) |',
    '|---|---:|---:|---:|---:|---:|---:|',
    ...rows.map((r) => `| ${r.name} | ${r.count.calls} | ${r.count.bookkeeping} | ${r.count.mutating} | ${r.count.sweep} | ${r.count.invocations} | ${(r.wallMs / 1000).toFixed(1)} |`),
  ];
  process.stdout.write(L.join('\n') + '\n');
  if (values.list) {
    for (const r of rows) {
      process.stdout.write(`\n${r.name}:\n`);
      for (const c of r.recs) process.stdout.write(`  ${c.mutating ? '!' : ' '} ${c.args.slice(0, 2).join(' ')}${c.purpose ? ` [${c.purpose}]` : ''}${(c.attempt ?? 1) > 1 ? ` attempt ${c.attempt}` : ''} ${c.args.slice(2).filter((a) => a !== '--output' && a !== 'json' && !a.startsWith('http://') && a !== '--endpoint-url').join(' ').slice(0, 110)}\n`);
    }
  }
}

main().catch((err) => {
  process.stderr.write(`${(err as Error).stack ?? err}\n`);
  process.exit(1);
});
