import { defineConfig } from 'vitest/config';

// Real-stack end-to-end tests (test/e2e/): real LiveKit server, SIP bridge, Redis and SIP phones in
// a network namespace (stack/). Needs root. One file at a time: each file starts its own stack, and
// two stacks plus phones and rtc-node processes would overload two cores.
export default defineConfig({
  test: {
    include: ['test/e2e/**/*.test.ts'],
    pool: 'forks',
    fileParallelism: false,
    globalSetup: ['test/e2e/support/global-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
  },
});
