// @ts-check
import base from './stryker.config.mjs';

/**
 * Mutation testing of the interruption word lists (npm run test:mutation runs it after
 * stryker.config.mjs). Every mutant here is a word or a whole list, in code run at import: each
 * runs against the classifier's tests (no per-test coverage is possible for them), and needs no
 * type check (a word cannot break a type; checking them would re-check every importer).
 *
 * @type {import('@stryker-mutator/api/core').PartialStrykerOptions}
 */
export default {
  ...base,
  mutate: ['src/telephony/interruption/lexicon.ts'],
  checkers: [],
  concurrency: 2,
  vitest: { configFile: 'vitest.mutation-lexicon.config.ts', related: false },
  incrementalFile: '.cache/stryker/incremental-lexicon.json',
  htmlReporter: { fileName: 'out/mutation/lexicon.html' },
  jsonReporter: { fileName: 'out/mutation/lexicon.json' },
};
