// The second pass of `npm test`: the lifecycle e2e tests again, with the aws CLI v2 that
// most users have (Debian's /usr/bin/aws, 2.9.19; .ci/run installs it). The first pass
// (vitest.config.ts) runs everything with `aws` on PATH, v1. Only these files run twice,
// to keep CI within its time (budget: 6 minutes for this pass on 2 cores):
// - awscli-v2.test.ts: create, daily deploy, rollback, cleanup, terminate and the
//   passthrough, every argv recorded, plus v1 and v2 side by side;
// - passthrough.test.ts: `./run -- aws ...` output, exit codes and redaction.
// JOHANNA_AWS_CLI may name another v2; test/fixtures/awscli-v2-setup.ts fails the pass,
// loudly, when it is not there or not v2.
import { defineConfig } from 'vitest/config';
import base from './vitest.config';

export const SECOND_PASS_FILES = ['test/e2e/awscli-v2.test.ts', 'test/e2e/passthrough.test.ts'];

export default defineConfig({
  test: {
    ...base.test,
    include: SECOND_PASS_FILES,
    exclude: ['**/node_modules/**'],
    globalSetup: [...(base.test?.globalSetup as string[]), 'test/fixtures/awscli-v2-setup.ts'],
    env: { JOHANNA_AWS_CLI: process.env.JOHANNA_AWS_CLI || '/usr/bin/aws' },
  },
});
