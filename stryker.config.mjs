// @ts-check
/**
 * Mutation testing of the modules where a silent regression reaches callers or money
 * (npm run test:mutation; docs/testing.md). StrykerJS changes one thing at a time in these files
 * (a condition, an operator, a string, a removed statement) and runs the tests of
 * vitest.mutation.config.ts against each change: a change no test notices is a "survivor".
 * Target: a mutation score of 85 % or more per module (scripts/mutation-scores.ts checks it).
 *
 * The word lists and the soft-ack filter run apart, without the TypeScript checker, in
 * stryker.unchecked.config.mjs (why there). (The lists are typed `readonly string[]`, not
 * `as const`: StrykerJS does not mutate inside `as const`, and found no mutant at all in them.)
 *
 * @type {import('@stryker-mutator/api/core').PartialStrykerOptions}
 */
export default {
  packageManager: 'npm',
  testRunner: 'vitest',
  vitest: { configFile: 'vitest.mutation.config.ts', related: false },
  checkers: ['typescript'],
  // The mutated modules and their tests only (not scripts, benches or the real-stack harness).
  tsconfigFile: 'tsconfig.mutation.json',
  typescriptChecker: { prioritizePerformanceOverAccuracy: true },
  coverageAnalysis: 'perTest',
  mutate: [
    'src/telephony/interruption/classifier.ts',
    'src/telephony/call-context.ts',
    'src/api/idempotency.ts',
    'src/core/sip-status.ts',
    'src/api/livekit-errors.ts',
    'src/core/signature.ts',
    'src/worker/room-audio-input.ts',
    'src/eval/score.ts',
  ],
  // Two cores: one mutant at a time in each of two test processes.
  concurrency: 2,
  // Re-runs test only what changed since the last run (source or tests); the file is local.
  incremental: true,
  incrementalFile: '.cache/stryker/incremental.json',
  tempDirName: '.cache/stryker/tmp',
  ignorePatterns: ['/.cache', '/out', '/dist', '/dist-bench', '/stack', '/infra', '/bench'],
  timeoutMS: 5000,
  reporters: ['clear-text', 'progress', 'html', 'json'],
  htmlReporter: { fileName: 'out/mutation/index.html' },
  jsonReporter: { fileName: 'out/mutation/report.json' },
  thresholds: { high: 90, low: 85, break: null },
};
