/**
 * The job processes' Node flags (src/worker/job-process-flags.ts): the worker adds them to its
 * own execArgv, and a process forked the way agents-js forks job processes (no execArgv given)
 * runs with them (what V8 then saves is measured by npm run bench:calls).
 */
import { fork } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { applyJobProcessFlags, jobProcessNodeFlags } from '../src/worker/job-process-flags.js';

const saved = [...process.execArgv];
afterEach(() => {
  process.execArgv.splice(0, process.execArgv.length, ...saved);
});

/** The flags a forked child runs with. */
const childScript = `process.send({ execArgv: process.execArgv }, () => process.exit(0));`;

function forkChild(): Promise<{ execArgv: string[] }> {
  const file = join(mkdtempSync(join(tmpdir(), 'job-flags-')), 'child.cjs');
  writeFileSync(file, childScript);
  return new Promise((resolve, reject) => {
    // As agents-js forks a job process: no execArgv given, so the parent's is inherited.
    const child = fork(file, []);
    child.once('message', (m) => resolve(m as { execArgv: string[] }));
    child.once('error', reject);
  });
}

describe('job process flags', () => {
  it('0 means Node defaults, any other value a semi-space of that size', () => {
    expect(jobProcessNodeFlags({ JOB_SEMI_SPACE_MB: 0, JOB_OPTIMIZE_FOR_SIZE: false })).toEqual([]);
    expect(jobProcessNodeFlags({ JOB_SEMI_SPACE_MB: 4, JOB_OPTIMIZE_FOR_SIZE: false })).toEqual([
      '--max-semi-space-size=4',
    ]);
  });

  it('--optimize-for-size when JOB_OPTIMIZE_FOR_SIZE is on (off by default)', () => {
    expect(jobProcessNodeFlags({ JOB_SEMI_SPACE_MB: 4, JOB_OPTIMIZE_FOR_SIZE: true })).toEqual([
      '--max-semi-space-size=4',
      '--optimize-for-size',
    ]);
    expect(jobProcessNodeFlags({ JOB_SEMI_SPACE_MB: 0, JOB_OPTIMIZE_FOR_SIZE: true })).toEqual([
      '--optimize-for-size',
    ]);
  });

  it('the worker adds them once to the flags its forks inherit, replacing an earlier value', () => {
    process.execArgv.push('--max-semi-space-size=32');
    applyJobProcessFlags({ JOB_SEMI_SPACE_MB: 4, JOB_OPTIMIZE_FOR_SIZE: false });
    applyJobProcessFlags({ JOB_SEMI_SPACE_MB: 4, JOB_OPTIMIZE_FOR_SIZE: false });
    expect(process.execArgv.filter((a) => a.startsWith('--max-semi-space-size'))).toEqual([
      '--max-semi-space-size=4',
    ]);
  });

  it('a job process forked the way agents-js forks it runs with the flag', async () => {
    applyJobProcessFlags({ JOB_SEMI_SPACE_MB: 1, JOB_OPTIMIZE_FOR_SIZE: false });
    const small = await forkChild();
    expect(small.execArgv).toContain('--max-semi-space-size=1');
    applyJobProcessFlags({ JOB_SEMI_SPACE_MB: 32, JOB_OPTIMIZE_FOR_SIZE: false });
    const large = await forkChild();
    expect(large.execArgv).toContain('--max-semi-space-size=32');
    expect(large.execArgv).not.toContain('--max-semi-space-size=1');
  });
});
