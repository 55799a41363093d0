// npm test: one vitest run, two projects sharing one pool of workers.
// - v1: every test file, with the aws CLI v1 (`aws` on PATH, or the checkout's .venv) run
//   through a fork server (test/fixtures/aws-fork.ts, started by global-setup.ts): ~0.2 s of
//   CPU a call instead of ~0.6 s.
// - awscli-v2: the aws CLI v2 as most users have it (Debian's /usr/bin/aws, 2.9.19; .ci/run
//   installs it; JOHANNA_TEST_AWS_CLI_V2 names another), through its own fork server, for
//   three files: awscli-v2.test.ts (create, daily deploy, rollback, cleanup, terminate and the
//   passthrough, every argv recorded, then v1 and v2 side by side, and plain v2 processes
//   finding the CLI; it runs here only), passthrough.test.ts (`./run -- aws ...` output, exit
//   codes and redaction) and aws-fork.test.ts (the fork answers as plain v2 processes do).
//   `npm run test:awscli-v2` runs this project alone.
// With the aws CLI cheap, an e2e file spends most of its time waiting on the sandbox's
// delays, so four files run at once on CI's two cores, the v2 files among them.
import os from 'node:os';
import path from 'node:path';
import { defineConfig } from 'vitest/config';
import { awsPython } from './test/fixtures/aws-fork.js';
import LongestFirst from './test/fixtures/sequencer.js';

export const AWS_CLI_V2 = process.env.JOHANNA_TEST_AWS_CLI_V2 || '/usr/bin/aws';
// The awscli-v2 project's tool runs that v2 through a fork server too (awscli-v2-setup.ts
// starts it here, in this process) when it is a Python script, as Debian's is: ~1.4 s of CPU
// a call otherwise. JOHANNA_TEST_PLAIN_AWS=1 asks for plain processes.
export const AWS_CLI_V2_FORK_DIR = path.join(os.tmpdir(), `johanna-aws-fork-v2-${process.pid}`);
export const AWS_CLI_V2_TOOL = !process.env.JOHANNA_TEST_PLAIN_AWS && awsPython(AWS_CLI_V2) ? path.join(AWS_CLI_V2_FORK_DIR, 'aws') : AWS_CLI_V2;
export const SECOND_PASS_FILES = ['test/e2e/awscli-v2.test.ts', 'test/e2e/passthrough.test.ts', 'test/e2e/aws-fork.test.ts'];

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
          env: { JOHANNA_AWS_CLI: AWS_CLI_V2_TOOL, JOHANNA_TEST_PLAIN_AWS_CLI: AWS_CLI_V2, JOHANNA_TEST_PROJECT: 'awscli-v2' },
        },
      },
    ],
  },
});
