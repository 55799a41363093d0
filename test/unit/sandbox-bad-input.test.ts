// Issue 20 item 18: the sandbox refuses what AWS refuses, and survives what a client sends.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { importKeyPairRefusal } from '../../sandbox/ec2/key-material.js';
import { checkHealth } from '../../sandbox/eb/app-process.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const sandboxKey: string = JSON.parse(readFileSync(path.join(root, 'env.sandbox.json'), 'utf8')).common.AWS_KEY_PAIR_MATERIAL;
const form = (material: string) => new URLSearchParams({ Action: 'ImportKeyPair', KeyName: 'dv', PublicKeyMaterial: Buffer.from(material).toString('base64') });
const PRIVATE_BODY = 'b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZWQyNTUxOQAAACBNp4BbHTEG9GZfL03dj/G7GbV6+bh4bzrhcnUPtpsfaQ==';

describe('sandbox: ImportKeyPair as EC2 answers it', () => {
  it('takes one ED25519 public key', () => {
    expect(importKeyPairRefusal(form(sandboxKey))).toBeUndefined();
  });

  it.each([
    ['a private key body after ssh-ed25519', `ssh-ed25519 ${PRIVATE_BODY}`],
    ['garbage base64', 'ssh-rsa AAAAgarbage'],
    ['a type that does not match', sandboxKey.replace('ssh-ed25519', 'ssh-rsa')],
    ['a control character', `${sandboxKey}\u0007`],
  ])('refuses %s with InvalidKey.Format', (_name, material) => {
    const a = importKeyPairRefusal(form(material));
    expect(a?.status).toBe(400);
    expect(a?.body).toContain('<Code>InvalidKey.Format</Code><Message>Key is not in valid OpenSSH public key format</Message>');
  });
});

describe('sandbox: a health check path with a control character', () => {
  it('is a failed check, not a crash (ERR_UNESCAPED_CHARACTERS)', async () => {
    await expect(checkHealth(1, '/echo/\u0001')).resolves.toBe(false);
  });
});
