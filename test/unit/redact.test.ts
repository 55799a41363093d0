// Secrets never reach a terminal or a log: registered values, and the shapes of secrets
// nobody registered (access key ids, Slack webhook URLs).
import { describe, expect, it } from 'vitest';
import { MASK, Redactor, secretsFrom, stripControl } from '../../src/ui/redact.js';
import { makeRedactor } from '../../src/context.js';
import { parseConfig } from '../../src/config/load.js';
import { Logger } from '../../src/ui/log.js';
import { novaOptionSettings } from '../../src/deploy/settings.js';
import sampleJson from '../../env.sample.json' with { type: 'json' };
import { Sink } from './fakes.js';

const SECRET = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';
const TOKEN = 'IQoJb3JpZ2luX2VjEXAMPLETOKEN//////////wEaCXVzLWVhc3QtMSJHMEUCIQ';
const WEBHOOK = 'https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX';

describe('Redactor', () => {
  it('masks a registered value everywhere it appears in a text', () => {
    const r = new Redactor([SECRET]);
    expect(r.redact(`key=${SECRET} again:${SECRET}\n${SECRET}`)).toBe(`key=${MASK} again:${MASK}\n${MASK}`);
  });

  it('masks inside arguments, not only whole arguments, and leaves others alone', () => {
    const r = new Redactor([SECRET, TOKEN]);
    expect(r.redactArgs(['aws', 'sts', '--token', TOKEN, `--x=${SECRET}`, 'describe-vpcs'])).toEqual(['aws', 'sts', '--token', MASK, `--x=${MASK}`, 'describe-vpcs']);
  });

  it('does not change its input array', () => {
    const args = ['a', SECRET];
    new Redactor([SECRET]).redactArgs(args);
    expect(args).toEqual(['a', SECRET]);
  });

  it('keeps values shorter than 6 characters (they would mask ordinary words) and ignores empty ones', () => {
    const r = new Redactor(['dv', 'abcde', '', undefined, 'abcdef']);
    expect(r.redact('dv abcde abcdef')).toBe(`dv abcde ${MASK}`);
  });

  it('masks values with regex metacharacters literally', () => {
    const odd = 'a.b*c+d?(e)[f]$^';
    const r = new Redactor([odd]);
    expect(r.redact(`x ${odd} aXbbc`)).toBe(`x ${MASK} aXbbc`);
  });

  it('masks the longest value first, so a prefix never leaves a tail', () => {
    const short = 'secret';
    const long = 'secret-and-more';
    for (const order of [[short, long], [long, short]]) {
      const r = new Redactor(order);
      expect(r.redact(`${long} ${short}`)).toBe(`${MASK} ${MASK}`);
    }
    // added later, one at a time, in the worse order
    const r = new Redactor();
    r.add(short);
    r.add(long);
    expect(r.redact(long)).toBe(MASK);
  });

  it('masks AKIA/ASIA access key ids even when not registered', () => {
    const r = new Redactor();
    expect(r.redact('id AKIAIOSFODNN7EXAMPLE, temp ASIAIOSFODNN7EXAMPL2.')).toBe(`id ${MASK}, temp ${MASK}.`);
    expect(r.redactArgs(['--access-key', 'AKIAIOSFODNN7EXAMPLE'])).toEqual(['--access-key', MASK]);
    // not the shape: too short, or lower case
    expect(r.redact('AKIA1234 akiaiosfodnn7example')).toBe('AKIA1234 akiaiosfodnn7example');
  });

  it('masks Slack webhook URLs even when not registered, up to a quote or space', () => {
    const r = new Redactor();
    expect(r.redact(`posting to ${WEBHOOK} now`)).toBe(`posting to ${MASK} now`);
    expect(r.redact(JSON.stringify({ url: WEBHOOK }))).toBe(`{"url":"${MASK}"}`);
    expect(r.redact('see https://api.slack.com/messaging/webhooks')).toBe('see https://api.slack.com/messaging/webhooks');
  });

  it('is stable when called repeatedly (global regexes keep no state between calls)', () => {
    const r = new Redactor();
    for (let i = 0; i < 3; i++) expect(r.redact('AKIAIOSFODNN7EXAMPLE')).toBe(MASK);
  });
});

describe('secretsFrom and makeRedactor', () => {
  it('registers credentials and the webhook from the environment', () => {
    const env = { AWS_SECRET_ACCESS_KEY: SECRET, AWS_SESSION_TOKEN: TOKEN, AWS_ACCESS_KEY_ID: 'ASIAEXAMPLEEXAMPLE12', SLACK_WEBHOOK_URL: 'https://example.com/hook/abcdef' };
    expect(secretsFrom(env)).toEqual(expect.arrayContaining([SECRET, TOKEN, 'ASIAEXAMPLEEXAMPLE12', 'https://example.com/hook/abcdef']));
    const r = makeRedactor(env);
    expect(r.redact(`${SECRET} ${TOKEN} https://example.com/hook/abcdef`)).toBe(`${MASK} ${MASK} ${MASK}`);
  });

  it('registers credentials and the webhook from the config file', () => {
    const raw = structuredClone(sampleJson) as Record<string, any>;
    raw.aws.AWS_ACCESS_KEY_ID = 'config-access-key-id';
    raw.aws.AWS_SECRET_ACCESS_KEY = 'config-secret-value';
    raw.notify = { SLACK_WEBHOOK_URL: 'https://chat.example.com/hooks/zzzzzz' };
    const { config } = parseConfig(raw, 'env.json');
    const r = makeRedactor({}, config);
    expect(r.redact('config-access-key-id config-secret-value https://chat.example.com/hooks/zzzzzz')).toBe(`${MASK} ${MASK} ${MASK}`);
  });
});

// Every secret field of the config, as an operator would fill it in: each must be masked
// wherever it appears, by the schema's mark or by its shape, never by a list in the code.
const FIELDS = {
  smoke: 'curl -sf -H "Authorization: Bearer smoketok-4242" "$JOHANNA_URL/echo/"',
  webhook: 'https://chat.example.com/hooks/webhookpath-777',
  gitToken: 'ghp_gittoken0123456789',
  apiToken: 'api-token-value-1',
  dbPassword: 'db-password-value-2',
  signingKey: 'signing-key-value-3',
  mySecret: 'my-secret-value-4',
  shortKey: 'k9!', // too short to register: masked in option settings by its name only
  visible: 'visible-value-5',
};

function secretConfig() {
  const raw = structuredClone(sampleJson) as Record<string, any>;
  raw.nova.SMOKE_TEST_COMMAND = FIELDS.smoke;
  raw.nova.GIT_URL = `https://johanna:${FIELDS.gitToken}@git.example.com/nova.git`;
  raw.nova.GIT_BRANCH = 'main';
  raw.nova.ENVIRONMENT = {
    API_TOKEN: FIELDS.apiToken,
    db_password: FIELDS.dbPassword,
    SigningKey: FIELDS.signingKey,
    MY_SECRET_THING: FIELDS.mySecret,
    FEATURE_FLAG: FIELDS.visible,
  };
  raw.notify = { SLACK_WEBHOOK_URL: FIELDS.webhook };
  const config = parseConfig(raw, 'env.json').config;
  // The config refuses a secret under 6 characters (issue 20 item 19); one can still come
  // from EB's own answers (an environment set up by hand), so the name rule is kept.
  config.nova.ENVIRONMENT = { ...config.nova.ENVIRONMENT, SHORT_KEY: FIELDS.shortKey };
  return config;
}

const secretsOnly = Object.entries(FIELDS).filter(([k]) => k !== 'visible' && k !== 'shortKey').map(([, v]) => v);

describe('redaction by rule', () => {
  it('masks the userinfo of any URL and keeps the rest of it', () => {
    const r = new Redactor();
    expect(r.redact("fatal: unable to access 'https://user:t0ken@github.com/org/repo.git/': 403")).toBe(`fatal: unable to access 'https://${MASK}@github.com/org/repo.git/': 403`);
    expect(r.redact('from https://ghp_abcdef@github.com/o/r main')).toBe(`from https://${MASK}@github.com/o/r main`);
    expect(r.redact('https://user:p@ss@host/x')).toBe(`https://${MASK}@host/x`);
    // no userinfo: unchanged
    for (const t of ['git@github.com:org/repo.git', 'https://example.com/a@b', 'mail me@example.com', 'http://127.0.0.1:4566/']) expect(r.redact(t)).toBe(t);
  });

  it('every secret field of the config is masked in text, by the schema\'s marks', () => {
    const r = makeRedactor({}, secretConfig());
    for (const v of secretsOnly) expect(r.redact(`before ${v} after`), v).toBe(`before ${MASK} after`);
    expect(r.redact(FIELDS.visible)).toBe(FIELDS.visible);
  });

  it('the create-environment arguments: each secret-named setting masked, whatever its length; the others kept', () => {
    const config = secretConfig();
    const r = makeRedactor({}, config);
    const settings = novaOptionSettings({ config, phase: 'dv' }, { vpcId: 'vpc-1', privateSubnetIds: ['subnet-1'], publicSubnetIds: ['subnet-2'], privateSecurityGroupId: 'sg-1', publicSecurityGroupId: 'sg-2', instanceProfile: 'p', serviceRole: 'r', versionLabel: 'app-1' });
    const args = ['elasticbeanstalk', 'create-environment', '--option-settings', JSON.stringify(settings)];
    const shown = r.redactArgs(args);
    for (const v of [...secretsOnly, FIELDS.shortKey]) expect(shown.join(' '), v).not.toContain(v);
    const parsed = JSON.parse(shown[3]) as { OptionName: string; Value: string }[];
    const value = (name: string) => parsed.find((o) => o.OptionName === name)?.Value;
    for (const name of ['API_TOKEN', 'db_password', 'SigningKey', 'MY_SECRET_THING', 'SHORT_KEY']) expect(value(name), name).toBe(MASK);
    expect(value('FEATURE_FLAG')).toBe(FIELDS.visible);
    expect(value('EC2KeyName')).toBe('dv'); // EB's own option, not an app setting
    expect(value('PHASE')).toBe('dv');
  });

  it('the same settings inside a text (an error message, describe-configuration-settings output)', () => {
    const r = new Redactor();
    const ns = 'aws:elasticbeanstalk:application:environment';
    const compact = JSON.stringify([{ Namespace: ns, OptionName: 'Api_Key', Value: 'k1' }, { Namespace: ns, OptionName: 'MODE', Value: 'fast' }]);
    expect(r.redact(`aws elasticbeanstalk create-environment --option-settings ${compact} failed`)).toBe(
      `aws elasticbeanstalk create-environment --option-settings [{"Namespace":"${ns}","OptionName":"Api_Key","Value":"${MASK}"},{"Namespace":"${ns}","OptionName":"MODE","Value":"fast"}] failed`,
    );
    const pretty = JSON.stringify({ OptionSettings: [{ Namespace: ns, OptionName: 'DB_PASSWORD', ResourceName: 'x', Value: 'p"w' }] }, null, 4);
    expect(r.redact(pretty)).not.toContain('p\\"w');
    expect(r.redact(pretty)).toContain(`"Value": "${MASK}"`);
  });

  it('a registered value is masked also where JSON escaped it', () => {
    const v = 'quote"and\\backslash';
    const r = new Redactor([v]);
    expect(r.redact(JSON.stringify({ Value: v }))).toBe(`{"Value":"${MASK}"}`);
  });

  it('the webhook URL and credentials from the environment, and the userinfo of the environment\'s webhook', () => {
    const r = makeRedactor({ SLACK_WEBHOOK_URL: 'https://u:hooktoken99@example.com/h' });
    expect(r.redact('hooktoken99')).toBe(MASK);
  });
});

describe('stripControl', () => {
  it('removes clear-screen, title, bell, carriage return, C1 and lone escapes; keeps newline and tab', () => {
    const evil = 'a\x1b[2Jb\x1b]0;owned\x07c\x07d\re\x9bf\x1bg\x00h\ti\nj\x7f';
    expect(stripControl(evil)).toBe('abcdefgh\ti\nj');
  });

  it('keeps colour codes only when asked (our own, on a TTY)', () => {
    expect(stripControl('\x1b[31mred\x1b[39m', true)).toBe('\x1b[31mred\x1b[39m');
    expect(stripControl('\x1b[31mred\x1b[39m')).toBe('red');
    expect(stripControl('\x1b[2J\x1b[31m', true)).toBe('\x1b[31m');
  });
});

describe('Logger: every line redacted and cleaned', () => {
  const logger = (color = false) => {
    const out = new Sink();
    const err = new Sink();
    const log = new Logger({ verbose: true, json: false, color, redactor: makeRedactor({}, secretConfig()), stdout: out, stderr: err });
    return { log, out, err };
  };

  it('a lock holder or AWS text with control codes and a forged line: stripped, and the forged line indented under ours', () => {
    const { log, out, err } = logger();
    log.error('locked by evil\x1b[2J\x1b]0;title\x07\r\n2026-11-27 04:00:00Z ok deployed');
    log.result('lock: held by x\x07\ny');
    const lines = err.text.split('\n').filter(Boolean);
    expect(err.text).not.toMatch(/[\x00-\x08\x0b-\x1f\x7f-\x9f]/);
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}Z error: locked by evil$/);
    expect(lines[1]).toMatch(/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}Z {3}2026-11-27 04:00:00Z ok deployed$/);
    expect(out.text).toBe('lock: held by x\n  y\n');
  });

  it('every output goes through the redactor: info, debug, result, plan, live, raw, json', () => {
    const { log, out, err } = logger();
    for (const v of secretsOnly) {
      log.info(v);
      log.debug(v);
      log.result(v);
      log.plan(v);
      log.live(v);
      log.raw(v + '\n');
      log.raw(v + '\n', 'err');
      log.jsonResult({ v });
    }
    for (const v of secretsOnly) expect(out.text + err.text, v).not.toContain(v);
    expect(out.text + err.text).toContain(MASK);
  });

  it('--json: a C1 control in data is escaped, so the JSON is unchanged and no terminal obeys it', () => {
    const { log, out } = logger();
    log.jsonResult({ holder: 'a\x9bb\x1b' });
    expect(out.text).not.toMatch(/[\x1b\x9b]/);
    expect(JSON.parse(out.text)).toEqual({ holder: 'a\x9bb\x1b' });
  });

  it('our own colours stay on a colour terminal', () => {
    const { log, err } = logger(true);
    log.ok('done');
    expect(err.text).toContain('\x1b[32m');
  });
});
