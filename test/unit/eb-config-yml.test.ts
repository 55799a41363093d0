// The EB CLI's nova/.elasticbeanstalk/config.yml as Johanna writes it (src/deploy/blue-green.ts
// writeEbConfig): what `eb init` would have written, default_platform included. Found by the
// real EB CLI (issue 25): without it `eb platform show` failed with an AttributeError.
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { writeEbConfig } from '../../src/deploy/blue-green.js';
import { configSchema } from '../../src/config/schema.js';
import sandboxJson from '../../env.sandbox.json' with { type: 'json' };

const root = mkdtempSync(path.join(os.tmpdir(), 'ebcfg-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('writeEbConfig', () => {
  it('names the application, region, environment and, when known, the default platform', () => {
    mkdirSync(path.join(root, 'nova'), { recursive: true });
    const config = configSchema.parse(structuredClone(sandboxJson));
    const ctx = { root, config, region: 'ap-northeast-2' };
    writeEbConfig(ctx, 'nova-1', '64bit Amazon Linux 2023 v6.7.0 running Node.js 24');
    const file = path.join(root, 'nova', '.elasticbeanstalk', 'config.yml');
    const text = readFileSync(file, 'utf8');
    expect(text).toMatch(/^# Written by johanna/);
    expect(text).toContain('    environment: nova-1\n');
    expect(text).toContain('  application_name: dv\n');
    expect(text).toContain('  default_platform: 64bit Amazon Linux 2023 v6.7.0 running Node.js 24\n');
    expect(text).toContain('  default_region: ap-northeast-2\n');
    writeEbConfig(ctx, '');
    expect(readFileSync(file, 'utf8')).not.toContain('default_platform');
  });
});
