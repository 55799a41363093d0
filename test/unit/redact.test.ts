// Secrets never reach a terminal or a log: registered values, and the shapes of secrets
// nobody registered (access key ids, Slack webhook URLs).
import { describe, expect, it } from 'vitest';
import { MASK, Redactor, secretsFrom } from '../../src/ui/redact.js';
import { makeRedactor } from '../../src/context.js';
import { parseConfig } from '../../src/config/load.js';
import sampleJson from '../../env.sample.json' with { type: 'json' };

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
