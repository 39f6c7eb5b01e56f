// @ts-check
import base from './stryker.config.mjs';

/**
 * The modules whose mutants run without the TypeScript checker (npm run test:mutation runs this
 * after stryker.config.mjs):
 * - the interruption word lists: every mutant is a word, in code run at import (each runs against
 *   the classifier's tests; no per-test coverage is possible), and a word cannot break a type;
 * - the soft-ack filter: with it instrumented, the checker reports a type error in code that
 *   imports it (agents/phone-agent.ts, a variance error between the filter's function type and
 *   PhoneAgent's), whatever the mutant, so all 76 of its mutants came out "CompileError" (also
 *   with `prioritizePerformanceOverAccuracy: false`). Unchecked, each runs against the tests.
 *
 * @type {import('@stryker-mutator/api/core').PartialStrykerOptions}
 */
export default {
  ...base,
  mutate: [
    'src/telephony/interruption/lexicon.ts',
    'src/telephony/interruption/soft-ack-filter.ts',
  ],
  checkers: [],
  concurrency: 2,
  vitest: { configFile: 'vitest.mutation-unchecked.config.ts', related: false },
  incrementalFile: '.cache/stryker/incremental-unchecked.json',
  htmlReporter: { fileName: 'out/mutation/unchecked.html' },
  jsonReporter: { fileName: 'out/mutation/unchecked.json' },
};
