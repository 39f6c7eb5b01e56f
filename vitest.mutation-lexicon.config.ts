import { defineConfig } from 'vitest/config';
import base from './vitest.config.js';

/** The tests StrykerJS runs against each mutant of the word lists (stryker.lexicon.config.mjs). */
export default defineConfig({
  test: {
    ...base.test,
    include: ['test/soft-ack-classifier.test.ts'],
    exclude: ['**/node_modules/**'],
    globalSetup: [],
  },
});
