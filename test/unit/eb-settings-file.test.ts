// Issue 20 item 19: nova.ENVIRONMENT's secrets were on the command line of
// `aws elasticbeanstalk create-environment`, readable by any user with `ps`.
import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { Exec } from '../../src/aws/cli.js';
import { createEnvironment } from '../../src/aws/eb.js';
import { configSchema } from '../../src/config/schema.js';
import { buildCtx } from '../../src/context.js';
import { Logger } from '../../src/ui/log.js';
import { Redactor } from '../../src/ui/redact.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const config = configSchema.parse(JSON.parse(readFileSync(path.join(root, 'env.sandbox.json'), 'utf8')));
const SECRET = 'db-password-0123456789';

describe('create-environment option settings', () => {
  it('go from a 0600 file (file://), removed afterwards: no secret on the command line', async () => {
    const seen: { args: string[]; file?: string; mode?: number; content?: string }[] = [];
    const exec: Exec = async (_tool, args) => {
      const i = args.indexOf('--option-settings');
      const v = args[i + 1] ?? '';
      const file = v.startsWith('file://') ? v.slice('file://'.length) : undefined;
      seen.push({ args, file, mode: file ? statSync(file).mode & 0o777 : undefined, content: file ? readFileSync(file, 'utf8') : undefined });
      return { exitCode: 0, stdout: '{"EnvironmentName":"nova-1"}', stderr: '' };
    };
    const sink = new Writable({ write: (_c, _e, cb) => cb() });
    const redactor = new Redactor();
    const log = new Logger({ verbose: false, json: true, color: false, redactor, stdout: sink, stderr: sink });
    const ctx = buildCtx({ root, command: 'create_nova', config, configFile: 'env.sandbox.json', opts: {}, log, redactor, exec, runLog: false });
    const settings = [{ Namespace: 'aws:elasticbeanstalk:application:environment', OptionName: 'DB_PASSWORD', Value: SECRET }];
    await createEnvironment(ctx.call, { app: 'dv', name: 'nova-1', cnamePrefix: 'dv-nova-1', versionLabel: 'v', solutionStack: 's', optionSettings: settings, tags: [] }, { dryRun: false });
    expect(seen).toHaveLength(1);
    expect(seen[0].args.join(' ')).not.toContain(SECRET);
    expect(seen[0].file).toBeDefined();
    expect(seen[0].mode).toBe(0o600);
    expect(JSON.parse(seen[0].content!)).toEqual(settings);
    expect(existsSync(seen[0].file!)).toBe(false);
  });
});
