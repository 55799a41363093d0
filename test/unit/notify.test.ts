// Slack notifications (src/ui/notify.ts): which runs are news, what the message says, that
// it never carries a secret, and that a webhook that fails is only a warning.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { buildCtx, makeRedactor, type Ctx } from '../../src/context.js';
import { Logger } from '../../src/ui/log.js';
import { MASK } from '../../src/ui/redact.js';
import { message, notify, shouldNotify, webhookUrl } from '../../src/ui/notify.js';
import sandboxJson from '../../env.sandbox.json' with { type: 'json' };
import { Sink } from './fakes.js';

const SECRET_KEY = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';
const SLACK = 'https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX';


function makeCtx(command: string, o: { webhook?: string; env?: NodeJS.ProcessEnv; dryRun?: boolean; aws?: boolean; edit?: (c: any) => void } = {}): Ctx & { out: Sink; err: Sink } {
  const raw = structuredClone(sandboxJson) as any;
  if (o.webhook) raw.notify = { SLACK_WEBHOOK_URL: o.webhook };
  o.edit?.(raw);
  if (o.aws) delete raw.sandbox;
  const { config } = parseConfig(raw, 'env.test.json');
  const env = o.env ?? {};
  const redactor = makeRedactor(env, config);
  const out = new Sink();
  const err = new Sink();
  const log = new Logger({ verbose: true, json: false, color: false, redactor, stdout: out, stderr: err });
  const ctx = buildCtx({
    root: '/nonexistent',
    command,
    config,
    configFile: 'env.test.json',
    opts: { dryRun: o.dryRun },
    log,
    redactor,
    env,
    runLog: false,
    exec: async (file, args) => {
      throw new Error(`unexpected ${file} ${args.join(' ')}`);
    },
  });
  return Object.assign(ctx, { out, err });
}

describe('shouldNotify', () => {
  it('the commands that change what users reach, on success and on failure', () => {
    for (const c of ['create', 'create_nova', 'rollback', 'terminate', 'terminate_nova', 'terminate_vpc']) {
      expect(shouldNotify(c, true, {}), c).toBe(true);
      expect(shouldNotify(c, false, undefined), c).toBe(true);
    }
  });

  it('never the read-only or local ones, nor create_vpc or a passthrough', () => {
    for (const c of ['status', 'sandbox', 'passthrough', 'create_vpc']) {
      expect(shouldNotify(c, true, {}), c).toBe(false);
      expect(shouldNotify(c, false, undefined), c).toBe(false);
    }
  });

  it('the daily cleanup only when it removed something, or failed', () => {
    expect(shouldNotify('terminate_eb_old_environment', true, { terminated: [] })).toBe(false);
    expect(shouldNotify('terminate_eb_old_environment', true, {})).toBe(false);
    expect(shouldNotify('terminate_eb_old_environment', true, undefined)).toBe(false);
    expect(shouldNotify('terminate_eb_old_environment', true, { terminated: ['nova-1760000000'] })).toBe(true);
    expect(shouldNotify('terminate_eb_old_environment', false, undefined)).toBe(true);
  });
});

describe('message', () => {
  const deploy = {
    newEnvironment: 'nova-1760000100',
    oldEnvironment: 'nova-1760000000',
    versionLabel: 'app-251009_083500',
    gitHashJohanna: 'abc1234',
    gitHashNova: 'def5678',
  };

  it('a deploy: success, command, phase, version in its environment, the previous one, git hashes', () => {
    const ctx = makeCtx('create_nova');
    const m = message(ctx, true, deploy, undefined);
    expect(m).toMatch(/^:white_check_mark: johanna create_nova succeeded on phase dv \(\d+s\)/);
    expect(m).toContain('version app-251009_083500 in nova-1760000100');
    expect(m).toContain('previous nova-1760000000');
    expect(m).toContain('git johanna abc1234, nova def5678');
    expect(m).not.toContain('reason');
  });

  it('create: reads the deploy out of its create_nova part', () => {
    const m = message(makeCtx('create'), true, { create_vpc: {}, create_nova: { ...deploy, oldEnvironment: undefined } }, undefined);
    expect(m).toContain('johanna create succeeded on phase dv');
    expect(m).toContain('version app-251009_083500 in nova-1760000100');
    expect(m).not.toContain('previous');
  });

  it('rollback: the version it went back to and where', () => {
    const m = message(makeCtx('rollback'), true, { from: 'nova-1760000100', to: 'nova-1760000000', versionLabel: 'app-251008_083500' }, undefined);
    expect(m).toContain('version app-251008_083500 in nova-1760000000');
  });

  it('the cleanup: what it terminated', () => {
    const m = message(makeCtx('terminate_eb_old_environment'), true, { terminated: ['nova-1', 'nova-2'] }, undefined);
    expect(m).toContain('terminated nova-1, nova-2');
  });

  it('the bake (issue 21): an inconclusive verdict says so and keeps the version; a swap back carries its figures', () => {
    const inconclusive = message(makeCtx('create_nova'), true, { versionLabel: 'v2', bake: { verdict: 'inconclusive', summary: 'inconclusive: only 1 of 10 minutes had 20 requests or more; v2 stays live, unjudged', ignoredAlarms: ['high-5xx'] } }, undefined);
    expect(inconclusive).toContain('bake INCONCLUSIVE: inconclusive: only 1 of 10 minutes had 20 requests or more; v2 stays live, unjudged; the new version stays live, check it yourself');
    expect(inconclusive).toContain('ignored alarms already in ALARM before the swap: high-5xx');
    const back = message(makeCtx('create_nova'), false, undefined, 'rolled back by bake: v2 in nova-2 failed 2 minutes: minute 1: 5xx 50% > 1% (40 requests) | minute 2: 5xx 48% > 1% (42 requests); nova-1 serves dv-nova again');
    expect(back).toMatch(/^:x: johanna create_nova FAILED/);
    expect(back).toContain('reason: rolled back by bake: v2 in nova-2 failed 2 minutes: minute 1: 5xx 50% > 1% (40 requests)');
  });

  it('a failure: FAILED and the reason', () => {
    const m = message(makeCtx('create_nova'), false, undefined, 'smoke test failed (exit 1): ./smoke.sh');
    expect(m).toMatch(/^:x: johanna create_nova FAILED on phase dv/);
    expect(m).toContain('reason: smoke test failed (exit 1): ./smoke.sh');
  });

  it('carries no secret: credentials, the configured webhook, or any Slack webhook URL in the reason', () => {
    const hook = 'http://127.0.0.1:9/services/T000/B000/secretpath123';
    const ctx = makeCtx('create_nova', { webhook: hook, env: { AWS_SECRET_ACCESS_KEY: SECRET_KEY } });
    const m = message(ctx, false, undefined, `could not reach ${hook}; key ${SECRET_KEY}; other ${SLACK}`);
    expect(m).not.toContain('secretpath123');
    expect(m).not.toContain(SECRET_KEY);
    expect(m).not.toContain('XXXXXXXXXXXXXXXXXXXXXXXX');
    expect(m.split(MASK)).toHaveLength(4);
  });

  // What a failed deploy's reason really carries: the smoke test command, the package step's
  // GIT_URL, an aws error quoting the create-environment arguments.
  it('carries none of the config\'s secrets that a failure reason can quote', () => {
    const ctx = makeCtx('create_nova', {
      edit: (c) => {
        c.nova.SMOKE_TEST_COMMAND = 'curl -H "X-Token: smoketok-4242" "$JOHANNA_URL"';
        c.nova.GIT_URL = 'https://johanna:gittoken-5151@git.example.com/nova.git';
        c.nova.GIT_BRANCH = 'main';
        c.nova.ENVIRONMENT = { API_TOKEN: 'apitok-6262', MODE: 'fast-mode-on' };
      },
    });
    const settings = JSON.stringify([{ Namespace: 'aws:elasticbeanstalk:application:environment', OptionName: 'API_TOKEN', Value: 'apitok-6262' }]);
    const reasons = [
      `smoke test failed (exit 1): ${ctx.config.nova.SMOKE_TEST_COMMAND}`,
      `git clone of ${ctx.config.nova.GIT_URL} (branch main) failed: fatal: unable to access '${ctx.config.nova.GIT_URL}/'`,
      `aws elasticbeanstalk create-environment --option-settings ${settings} MODE=fast-mode-on failed (exit 254)`,
    ];
    const m = message(ctx, false, undefined, reasons.join('\n'));
    for (const secret of ['smoketok-4242', 'gittoken-5151', 'apitok-6262']) expect(m, secret).not.toContain(secret);
    expect(m).toContain('https://***@git.example.com/nova.git');
    expect(m).toContain('fast-mode-on'); // what is not secret still reads
  });

  it('carries no control characters from AWS data: the body is as plain as a cron log', () => {
    const m = message(makeCtx('rollback'), false, undefined, 'environment nova-1\x1b[2J\x07 is Terminating\r');
    expect(m).not.toMatch(/[\x00-\x08\x0b-\x1f\x7f-\x9f]/);
    expect(m).toContain('reason: environment nova-1 is Terminating');
  });
});

describe('webhookUrl', () => {
  it('the config wins, else SLACK_WEBHOOK_URL from the environment, else none', () => {
    expect(webhookUrl(makeCtx('create_nova', { webhook: 'http://127.0.0.1:1/a' }), { SLACK_WEBHOOK_URL: SLACK })).toBe('http://127.0.0.1:1/a');
    expect(webhookUrl(makeCtx('create_nova', { aws: true }), { SLACK_WEBHOOK_URL: SLACK })).toBe(SLACK);
    expect(webhookUrl(makeCtx('create_nova', { aws: true }), {})).toBeUndefined();
  });

  it('a sandbox phase never takes the environment\'s webhook: trying the sandbox posts nothing to a real channel', () => {
    expect(webhookUrl(makeCtx('create_nova'), { SLACK_WEBHOOK_URL: SLACK })).toBeUndefined();
  });
});

describe('notify, against a loopback webhook', () => {
  const posts: { path?: string; type?: string; body: string }[] = [];
  let answer = 200;
  let port = 0;
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      posts.push({ path: req.url, type: req.headers['content-type'], body });
      if (answer === 0) return; // never answer
      res.writeHead(answer).end();
    });
  });
  const url = (p = '/services/T000/B000/secretpath123') => `http://127.0.0.1:${port}${p}`;

  beforeAll(async () => {
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  });

  it('posts {"text": message} as JSON to the webhook, and prints nothing', async () => {
    posts.length = 0;
    answer = 200;
    const ctx = makeCtx('create_nova', { webhook: url() });
    await notify(ctx, true, { versionLabel: 'app-251009_083500' });
    expect(posts).toHaveLength(1);
    expect(posts[0].path).toBe('/services/T000/B000/secretpath123');
    expect(posts[0].type).toMatch(/^application\/json/);
    expect(JSON.parse(posts[0].body).text).toContain('create_nova succeeded on phase dv');
    expect(ctx.err.text + ctx.out.text).toBe('');
  });

  it('an HTTP 500: a warning with the status, no throw, no URL', async () => {
    posts.length = 0;
    answer = 500;
    const ctx = makeCtx('create_nova', { webhook: url() });
    await expect(notify(ctx, true, {})).resolves.toBeUndefined();
    expect(ctx.err.text).toMatch(/warning: notification not accepted by the webhook: HTTP 500/);
    expect(ctx.err.text).not.toContain('secretpath123');
  });

  it('unreachable: a warning, no throw, no URL', async () => {
    const ctx = makeCtx('rollback', { webhook: 'http://127.0.0.1:1/services/T000/B000/secretpath123' });
    await expect(notify(ctx, false, undefined, 'boom')).resolves.toBeUndefined();
    expect(ctx.err.text).toMatch(/warning: could not send the notification/);
    expect(ctx.err.text).not.toContain('secretpath123');
  });

  it('a webhook that never answers gives up after 5 s with a warning: a cron job never hangs on it', async () => {
    answer = 0;
    const ctx = makeCtx('create_nova', { webhook: url() });
    const started = Date.now();
    await notify(ctx, true, {});
    expect(Date.now() - started).toBeLessThan(8000);
    expect(ctx.err.text).toMatch(/warning: could not send the notification/);
    expect(ctx.err.text).not.toContain('secretpath123');
    answer = 200;
  }, 15_000);

  it('a SLACK_WEBHOOK_URL from the environment that is not https (nor http to loopback) is not posted to: a warning', async () => {
    const saved = process.env.SLACK_WEBHOOK_URL;
    try {
      for (const bad of ['file:///etc/passwd', 'http://hooks.example.com/services/T/B/x']) {
        process.env.SLACK_WEBHOOK_URL = bad; // notify reads the run's own environment
        const ctx = makeCtx('create_nova', { aws: true });
        await notify(ctx, true, {});
        expect(ctx.err.text).toMatch(/warning: not sending the notification: SLACK_WEBHOOK_URL: expected an https URL/);
      }
    } finally {
      if (saved === undefined) delete process.env.SLACK_WEBHOOK_URL;
      else process.env.SLACK_WEBHOOK_URL = saved;
    }
  });

  it('sends nothing under --dry-run, for a command that is not news, or without a webhook', async () => {
    posts.length = 0;
    answer = 200;
    await notify(makeCtx('create_nova', { webhook: url(), dryRun: true }), true, {});
    await notify(makeCtx('status', { webhook: url() }), true, {});
    await notify(makeCtx('terminate_eb_old_environment', { webhook: url() }), true, { terminated: [] });
    await notify(makeCtx('create_nova', { env: {} }), true, {});
    expect(posts).toHaveLength(0);
  });
});
