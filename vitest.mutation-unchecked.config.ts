import { defineConfig } from 'vitest/config';
import base from './vitest.config.js';

/** The tests StrykerJS runs against the mutants of stryker.unchecked.config.mjs. */
export default defineConfig({
  test: {
    ...base.test,
    include: ['test/soft-ack-classifier.test.ts', 'test/soft-ack-filter.test.ts'],
    exclude: ['**/node_modules/**'],
    globalSetup: [],
  },
});
