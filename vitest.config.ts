import { defineConfig } from 'vitest/config';

// Two cores: run test files in two forked processes; native addons (onnxruntime, rtc-node)
// are safer in forks than in worker threads.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // The real-stack tests run apart (npm run test:e2e, vitest.e2e.config.ts): they need root.
    exclude: ['test/e2e/**', '**/node_modules/**'],
    pool: 'forks',
    poolOptions: { forks: { maxForks: 2, minForks: 1 } },
    globalSetup: ['test/support/global-setup.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
  },
});
