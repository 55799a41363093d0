// nova.SMOKE_TEST_COMMAND: the operator's own check of a new environment before the swap.
// It is a shell command (`sh -c`), run in the Johanna folder with:
// - the caller's environment WITHOUT any AWS_* variable (in a sandbox phase those would be
//   the real keys from .env) and without the Slack webhook, unless
//   nova.SMOKE_TEST_AWS_CREDENTIALS is true: then it gets the phase's own AWS_* settings,
//   the ones every aws call of the run gets (region, credentials, sandbox endpoint);
// - JOHANNA_PHASE, JOHANNA_URL (http://<the new environment's CNAME>), JOHANNA_HOST, and in a
//   sandbox phase JOHANNA_CONNECT (the router to connect to, sending JOHANNA_HOST as Host).
// It runs as the leader of its own process group: the timeout and Ctrl-C end the whole group,
// so a background child cannot keep the run waiting (issue 20 item 10). Under --dry-run it is
// not run at all: a dry run runs no user command (item 9). Its output is shown with every
// word of the command masked as well as the run's secrets (item 19): a token inside the
// command, echoed by curl -v or sh -x, is a part of a secret the redactor cannot know.
import { execa } from 'execa';
import type { Ctx } from '../context.js';
import { DeployError, InterruptedError } from '../errors.js';
import { Redactor } from '../ui/redact.js';

/** How long the group gets after SIGTERM before SIGKILL. */
export const SMOKE_KILL_GRACE_MS = 2000;

/** The environment the smoke test gets (see the header). */
export function smokeTestEnv(ctx: Pick<Ctx, 'phase' | 'sandbox' | 'config' | 'aws'>, host: string, base: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(base)) if (!/^AWS_/.test(k) && k !== 'SLACK_WEBHOOK_URL') env[k] = v;
  if (ctx.config.nova.SMOKE_TEST_AWS_CREDENTIALS) {
    for (const [k, v] of Object.entries(ctx.aws.env)) if (/^AWS_/.test(k)) env[k] = v;
  }
  env.JOHANNA_PHASE = ctx.phase;
  env.JOHANNA_URL = `http://${host}`;
  env.JOHANNA_HOST = host;
  // In the sandbox, DNS is the router: connect here and send the host as Host.
  if (ctx.sandbox) env.JOHANNA_CONNECT = `http://${ctx.sandbox.router}`;
  return env;
}

/** The words of the command (6+ characters), each a possible secret in the output. */
export function commandWords(cmd: string): string[] {
  return cmd.split(/[\s'"=:,;&|()<>`]+/).filter((w) => w.length >= 6 && !/^\$\{?JOHANNA_/.test(w));
}

function killGroup(pid: number | undefined, signal: NodeJS.Signals): void {
  if (!pid) return;
  try {
    process.kill(-pid, signal);
  } catch {
    // ESRCH: the group is gone already.
  }
}

/** nova.SMOKE_TEST_COMMAND, run with the new environment's URL; a non-zero exit refuses the swap. */
export async function runSmokeTest(ctx: Ctx, host: string, timeoutMs: number): Promise<void> {
  const cmd = ctx.config.nova.SMOKE_TEST_COMMAND;
  if (!cmd) return;
  if (ctx.dryRun) {
    ctx.log.plan('! smoke test (nova.SMOKE_TEST_COMMAND): not run under --dry-run');
    return;
  }
  ctx.log.step('smoke test: nova.SMOKE_TEST_COMMAND');
  const limit = Math.max(1000, timeoutMs);
  // The operator's own command line from the config, so a shell runs it.
  const sub = execa('sh', ['-c', cmd], { env: smokeTestEnv(ctx, host), extendEnv: false, reject: false, all: true, cwd: ctx.root, detached: true, stdin: 'ignore' });
  let ended: 'timeout' | 'interrupt' | undefined;
  const stop = (why: 'timeout' | 'interrupt') => {
    ended ??= why;
    killGroup(sub.pid, 'SIGTERM');
    setTimeout(() => killGroup(sub.pid, 'SIGKILL'), SMOKE_KILL_GRACE_MS).unref();
  };
  const timer = setTimeout(() => stop('timeout'), limit);
  const onAbort = () => stop('interrupt');
  ctx.signal?.addEventListener('abort', onAbort, { once: true });
  // When sh itself exits, whatever it left in the background goes too: it would hold the
  // output pipes open, and the run would wait for it.
  sub.once('exit', () => killGroup(sub.pid, 'SIGKILL'));
  let r;
  try {
    r = await sub;
  } finally {
    clearTimeout(timer);
    ctx.signal?.removeEventListener('abort', onAbort);
  }
  const words = new Redactor(commandWords(cmd));
  for (const line of String(r.all ?? '').split('\n').filter(Boolean)) ctx.log.info(`  | ${words.redact(line)}`);
  if (ended === 'interrupt') throw new InterruptedError('interrupted during the smoke test (its whole process group was stopped)');
  if (ended === 'timeout') throw new DeployError(`smoke test timed out after ${Math.round(limit / 1000)} s (its whole process group was stopped)`, 'the swap was refused; the live environment was not touched');
  if (r.exitCode !== 0) throw new DeployError(`smoke test failed (exit ${r.exitCode ?? r.signal ?? '?'})`, 'the swap was refused; the live environment was not touched');
  ctx.log.ok('smoke test passed');
}
