// Unit tests are fast; the e2e tests start `./run`, which starts the real aws CLI (a Python
// process of ~1 s CPU each) and a moto server. On a 2-core machine more than two test
// files at once only makes every timeout flaky, so files run at most two at a time.
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // awscli-v2.test.ts runs once, in the second pass (vitest.awscli-v2.config.ts): its side-by-side
    // half runs both CLIs whatever the pass, and this pass's v1 lifecycle is every other file's.
    exclude: ['**/node_modules/**', 'dist/**', 'nova/dist/**', 'nova/node_modules/**', 'test/e2e/awscli-v2.test.ts'],
    globalSetup: ['test/fixtures/global-setup.ts'],
    pool: 'forks',
    fileParallelism: true,
    maxWorkers: 2,
    testTimeout: 120_000,
    hookTimeout: 120_000,
    teardownTimeout: 30_000,
  },
});
