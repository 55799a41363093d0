// Secrets never reach any output, end to end: the built ./run against its own sandbox,
// with each secret field of the config really on its way out — into create-environment's
// arguments (the -v line, the run log, a dry run's plan), a failure's message (stderr,
// --json on stdout) and the Slack webhook's body. Each test also checks that what is not
// secret does show, so a test that sees nothing cannot pass for one that sees no secret.
// A lock holder with control characters shows that AWS data is printed clean.
import { readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, startPhase, type PhaseSandbox } from '../helpers/sandbox-phase.js';
import { startNotifyServer, type NotifyServer } from '../helpers/notify-server.js';
import { freePort } from '../helpers/cli.js';

const PHASE = 'sec1';
const LOGS = path.join(ROOT, 'logs', PHASE);
const LONG = 300_000;

// One value per secret field; none is a substring of our own output.
const S = {
  webhookPath: 'hookpath-s3cr3t-7a7a',
  smokeToken: 'smoketok-s3cr3t-8b8b',
  gitToken: 'gittok-s3cr3t-9c9c',
  apiToken: 'apitok-s3cr3t-1d1d',
  dbPassword: 'dbpw-s3cr3t-2e2e',
  signingKey: 'sigkey-s3cr3t-3f3f',
  appSecret: 'appsec-s3cr3t-4a4a',
  shortKey: 'k9xQ2z', // the shortest secret value the config takes (MIN_SECRET_CHARS, 6; shorter ones are refused): masked by its name in the option settings
};
const VISIBLE = 'visible-value-5b5b';

let ph: PhaseSandbox;
let hook: NotifyServer;
let base: any;

/** Rewrite the phase's config from the one startPhase wrote, with `edit` applied; ./run reads it afresh each time. */
function configWith(edit: (c: any) => void): void {
  const c = structuredClone(base);
  edit(c);
  writeFileSync(ph.configFile, JSON.stringify(c, null, 2));
}

/** Every run log this phase wrote so far, as one text. */
function allRunLogs(): string {
  return readdirSync(LOGS)
    .map((f) => readFileSync(path.join(LOGS, f), 'utf8'))
    .join('\n');
}

function expectNoSecret(where: string, text: string, also: string[] = []): void {
  for (const v of [...Object.values(S).filter((v) => v !== S.shortKey), ...also]) expect(text, `${where} shows ${v}`).not.toContain(v);
}

const appEnvironment = () => ({
  API_TOKEN: S.apiToken,
  db_password: S.dbPassword,
  SigningKey: S.signingKey,
  MY_SECRET_VALUE: S.appSecret,
  SHORT_KEY: S.shortKey,
  // The app gets the channel's webhook too: a secret by its value, under a plain name.
  TEAM_WEBHOOK: hook.url(`/services/T000/B000/${S.webhookPath}`),
  FEATURE_FLAG: VISIBLE,
});

beforeAll(async () => {
  rmSync(LOGS, { recursive: true, force: true });
  hook = await startNotifyServer();
  ph = await startPhase({
    phase: PHASE,
    delays: { launchMs: 300, swapMs: 100, terminateMs: 200 },
    edit: (c) => {
      c.notify = { SLACK_WEBHOOK_URL: hook.url(`/services/T000/B000/${S.webhookPath}`) };
      c.nova.ENVIRONMENT = appEnvironment();
      // A failing smoke test that carries a token, as a real one would in a header.
      c.nova.SMOKE_TEST_COMMAND = `curl -s -o /dev/null -H 'X-Token: ${S.smokeToken}' "$JOHANNA_CONNECT/echo/" -H "Host: $JOHANNA_HOST"; exit 3`;
    },
  });
  base = structuredClone(ph.config);
  const r = await ph.run(['-f', 'create_vpc']);
  if (r.exitCode !== 0) throw new Error(`create_vpc failed: ${r.stderr}`);
}, LONG);

afterAll(async () => {
  await ph?.close();
  await hook?.close();
  rmSync(LOGS, { recursive: true, force: true });
});

describe('no secret field reaches stdout, stderr, the run log or the webhook', () => {
  it('a dry run prints create-environment on stdout: the secret-named settings masked, the others shown', async () => {
    const r = await ph.run(['-f', '--dry-run', 'create_nova']);
    expect(r.exitCode, r.stderr).toBe(0);
    const plan = r.stdout.split('\n').find((l) => l.startsWith('! aws elasticbeanstalk create-environment')) ?? '';
    expect(plan).toContain(VISIBLE);
    expect(plan).toMatch(/"OptionName":"API_TOKEN","Value":"\*\*\*"/);
    expect(plan).toMatch(/"OptionName":"SHORT_KEY","Value":"\*\*\*"/);
    expect(plan).toMatch(/"OptionName":"TEAM_WEBHOOK","Value":"\*\*\*"/);
    expectNoSecret('stdout', r.stdout, [`"${S.shortKey}"`]);
    expectNoSecret('stderr', r.stderr);
  }, LONG);

  it('a deploy whose smoke test fails: -v line, run log, --json error and the webhook body', async () => {
    hook.posts.length = 0;
    const r = await ph.run(['-f', '-v', '--json', 'create_nova']);
    expect(r.exitCode, r.stderr).toBe(1);
    // The create-environment call was made, its settings in a file only this user reads
    // (issue 20 item 19: never on a command line that ps shows), and the smoke test's
    // failure names the command.
    const vLine = r.stderr.split('\n').find((l) => l.includes('$ aws elasticbeanstalk create-environment')) ?? '';
    expect(vLine).toMatch(/--option-settings file:\/\/\S+option-settings\.json/);
    expect(vLine).not.toContain(VISIBLE);
    expect(r.stderr).toContain('smoke test failed (exit 3)');
    const out = JSON.parse(r.stdout);
    expect(out.error.message).toMatch(/^smoke test failed \(exit 3\)/);
    const log = allRunLogs();
    expect(log).toContain('create-environment');

    expectNoSecret('stdout', r.stdout, [`"${S.shortKey}"`]);
    expectNoSecret('stderr', r.stderr, [`"${S.shortKey}"`]);
    expectNoSecret('the run log', log, [`"Value":"${S.shortKey}"`, `\\"Value\\":\\"${S.shortKey}\\"`]);

    expect(hook.posts).toHaveLength(1);
    expect(hook.posts[0].text).toMatch(/create_nova FAILED on phase sec1/);
    expect(hook.posts[0].text).toMatch(/reason: smoke test failed \(exit 3\)/);
    expectNoSecret('the webhook body', hook.posts[0].body);
  }, LONG);

  // An AwsCliError's message quotes the call's arguments: here create-environment's, with
  // the settings, refused by EB because the key pair it names does not exist. (A CNAME held
  // elsewhere no longer gets that far: the deploy's DNS preflight stops it before the upload.)
  it('an aws error quoting create-environment\'s arguments: stderr, --json, run log, webhook', async () => {
    configWith((c) => {
      c.common.AWS_KEY_PAIR_NAME = 'sec1-no-such-key';
      delete c.nova.SMOKE_TEST_COMMAND;
    });
    hook.posts.length = 0;
    const r = await ph.run(['-f', '-v', '--json', 'create_nova']);
    expect(r.exitCode, r.stderr).toBe(1);
    const error = r.stderr.split('\n').find((l) => l.includes('error: aws elasticbeanstalk create-environment')) ?? '';
    // The settings went in a file (issue 20 item 19): the error quotes its name, not them.
    expect(error, r.stderr).toMatch(/--option-settings file:\/\/\S+ .* failed \(exit \d+\): .*The key pair 'sec1-no-such-key' does not exist/);
    expect(error).not.toContain(VISIBLE);
    const message = JSON.parse(r.stdout).error.message as string;
    expect(message).toContain("The key pair 'sec1-no-such-key' does not exist");
    expectNoSecret('stdout', r.stdout, [`"${S.shortKey}"`]);
    expectNoSecret('stderr', r.stderr, [`"${S.shortKey}"`]);
    expectNoSecret('the run log', allRunLogs(), [`"Value":"${S.shortKey}"`, `\\"Value\\":\\"${S.shortKey}\\"`]);
    expect(hook.posts).toHaveLength(1);
    expect(hook.posts[0].text).toContain("The key pair 'sec1-no-such-key' does not exist");
    expectNoSecret('the webhook body', hook.posts[0].body);
  }, LONG);

  it('a GIT_URL with credentials: the package line and the clone error show the URL with ***', async () => {
    const dead = await freePort();
    const url = `https://johanna:${S.gitToken}@127.0.0.1:${dead}/nova.git`;
    configWith((c) => {
      c.nova.GIT_URL = url;
      c.nova.GIT_BRANCH = 'main';
      delete c.nova.SMOKE_TEST_COMMAND;
    });
    hook.posts.length = 0;
    const r = await ph.run(['-f', '-v', '--json', 'create_nova']);
    expect(r.exitCode, r.stderr).toBe(1);
    expect(r.stderr).toMatch(new RegExp(`==> package app-\\S+ from https://\\*\\*\\*@127\\.0\\.0\\.1:${dead}/nova\\.git main`));
    expect(r.stderr).toContain(`git clone of https://***@127.0.0.1:${dead}/nova.git (branch main) failed`);
    expect(JSON.parse(r.stdout).error.message).toContain(`git clone of https://***@127.0.0.1:${dead}/nova.git`);
    expectNoSecret('stdout', r.stdout, ['//johanna']);
    expectNoSecret('stderr', r.stderr, ['//johanna']);
    expectNoSecret('the run log', allRunLogs());
    expect(hook.posts).toHaveLength(1);
    expect(hook.posts[0].text).toContain(`https://***@127.0.0.1:${dead}/nova.git`);
    expectNoSecret('the webhook body', hook.posts[0].body, ['//johanna']);
  }, LONG);
});

describe('AWS data is printed without its control characters', () => {
  it('a lock holder with clear-screen, title, bell and a forged line: status prints it clean, the forged line indented', async () => {
    configWith(() => undefined);
    const holder = 'evil\x1b[2J\x1b]0;owned\x07\x07\r\n2026-11-27 04:00:00Z ok deploy done';
    const item = {
      phase: { S: PHASE },
      holder: { S: holder },
      command: { S: 'create_nova' },
      startedAt: { S: new Date().toISOString() },
      expiresAt: { N: String(Math.floor(Date.now() / 1000) + 3600) },
    };
    await ph.aws(['dynamodb', 'put-item', '--table-name', 'johanna-locks', '--item', JSON.stringify(item)]);
    try {
      const r = await ph.run(['status']);
      expect(r.exitCode, r.stderr).toBe(0);
      expect(r.stdout).toContain('lock: held by evil');
      expect(r.stdout + r.stderr).not.toMatch(/[\x00-\x08\x0b-\x1f\x7f-\x9f]/);
      // the forged text is on a continuation line, never at the start of one
      expect(r.stdout).not.toMatch(/^2026-11-27 04:00:00Z ok deploy done/m);
      expect(r.stdout).toMatch(/^ +2026-11-27 04:00:00Z ok deploy done/m);
      const j = await ph.run(['status', '--json']);
      expect(j.stdout).not.toMatch(/[\x00-\x08\x0b-\x1f\x7f-\x9f]/);
      expect(JSON.parse(j.stdout).lock.holder).toBe(holder); // --json keeps the data, escaped
    } finally {
      await ph.aws(['dynamodb', 'delete-item', '--table-name', 'johanna-locks', '--key', JSON.stringify({ phase: { S: PHASE } })]);
    }
  }, LONG);
});
