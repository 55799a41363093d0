// npm test: one vitest run, two projects sharing one pool of workers.
// - v1: every test file, with the aws CLI v1 (`aws` on PATH, or the checkout's .venv) run
//   through a fork server (test/fixtures/aws-fork.ts, started by global-setup.ts): ~0.1 s of
//   CPU a call instead of ~0.6 s.
// - awscli-v2: the aws CLI v2 as most users have it (Debian's /usr/bin/aws, 2.9.19; .ci/run
//   installs it; JOHANNA_TEST_AWS_CLI_V2 names another), each call a plain process, for two
//   files: awscli-v2.test.ts (create, daily deploy, rollback, cleanup, terminate and the
//   passthrough, every argv recorded, then v1 and v2 side by side; it runs here only) and
//   passthrough.test.ts (`./run -- aws ...` output, exit codes and redaction).
//   `npm run test:awscli-v2` runs this project alone.
// With the aws CLI cheap, an e2e file spends most of its time waiting on the sandbox's
// delays, so four files run at once on CI's two cores, the v2 files among them.
import { defineConfig } from 'vitest/config';
import LongestFirst from './test/fixtures/sequencer.js';

export const AWS_CLI_V2 = process.env.JOHANNA_TEST_AWS_CLI_V2 || '/usr/bin/aws';
export const SECOND_PASS_FILES = ['test/e2e/awscli-v2.test.ts', 'test/e2e/passthrough.test.ts'];

export default defineConfig({
  test: {
    globalSetup: ['test/fixtures/global-setup.ts'],
    pool: 'forks',
    fileParallelism: true,
    maxWorkers: 4,
    testTimeout: 120_000,
    hookTimeout: 120_000,
    teardownTimeout: 30_000,
    // Longest files first, from a CI run's durations (test/fixtures/sequencer.ts).
    sequence: { sequencer: LongestFirst },
    projects: [
      {
        extends: true,
        test: {
          name: 'v1',
          include: ['test/**/*.test.ts'],
          exclude: ['**/node_modules/**', 'dist/**', 'nova/dist/**', 'nova/node_modules/**', 'test/e2e/awscli-v2.test.ts'],
        },
      },
      {
        extends: true,
        test: {
          name: 'awscli-v2',
          include: SECOND_PASS_FILES,
          // Fails the project at once, naming the fix, when there is no v2 to run.
          globalSetup: ['test/fixtures/awscli-v2-setup.ts'],
          env: { JOHANNA_AWS_CLI: AWS_CLI_V2 },
        },
      },
    ],
  },
});
