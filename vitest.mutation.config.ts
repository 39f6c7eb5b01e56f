import { relative } from 'node:path';
import { defineConfig } from 'vitest/config';
import type { TestSequencer, TestSpecification } from 'vitest/node';
import base from './vitest.config.js';

/**
 * The tests StrykerJS runs against each mutant (npm run test:mutation, stryker.config.mjs): the
 * ones that exercise the mutated modules, not the whole suite. A test that kills mutants of a
 * listed module belongs here.
 *
 * Order matters: a mutant StrykerJS cannot attribute to single tests (code run at import, like
 * the word lists of lexicon.ts) runs against all of these, stopping at the first failure, so
 * the fast unit tests go first and the slower integration tests last.
 */
export const mutationTests = [
  'test/soft-ack-classifier.test.ts',
  'test/soft-ack-filter.test.ts',
  'test/call-context.test.ts',
  'test/sip-status.test.ts',
  'test/signature.test.ts',
  'test/eval-score.test.ts',
  'test/idempotency.test.ts',
  'test/room-audio-input.test.ts',
];

class ListedOrder implements TestSequencer {
  constructor(private readonly ctx: { config: { root: string } }) {}
  shard(files: TestSpecification[]): TestSpecification[] {
    return files;
  }
  sort(files: TestSpecification[]): TestSpecification[] {
    const rank = (f: TestSpecification) => {
      const i = mutationTests.indexOf(relative(this.ctx.config.root, f.moduleId));
      return i < 0 ? mutationTests.length : i;
    };
    return [...files].sort((a, b) => rank(a) - rank(b));
  }
}

export default defineConfig({
  test: {
    ...base.test,
    include: mutationTests,
    exclude: ['**/node_modules/**'],
    sequence: { sequencer: ListedOrder },
  },
});
