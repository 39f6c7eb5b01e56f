/**
 * The interruption evaluation's runner (src/eval/runner.ts): every (scenario, policy) pair runs
 * once, scenario-major, at most `concurrency` sessions at once with staggered starts; runs whose
 * scripted STT fired late are measured again in a lighter second pass (the more faithful of the
 * two is kept), but not when most runs were late or when the time budget is spent. The sessions
 * themselves are stood in for (a scenario run is the production session, tested in
 * eval-runs-the-production-session.test.ts): each fake run says how late it was.
 */
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import type { RunOptions, ScenarioRun } from '../src/eval/run-scenario.js';
import type { Scenario } from '../src/eval/scenarios.js';

/** How late each attempt of a (scenario, policy) pair is, in order; missing = on time. */
const lateness = new Map<string, number[]>();
const attempts: Array<{ scenario: string; policy: string; timing?: RunOptions['timing'] }> = [];
let inFlight = 0;
let maxInFlight = 0;
/** How long a fake run takes (ms). */
let runMs = 20;
const startedAt: number[] = [];

vi.mock('../src/eval/run-scenario.js', () => ({
  runScenario: async (s: Scenario, _ctx: unknown, o: RunOptions): Promise<ScenarioRun> => {
    const key = `${s.id}|${o.policy}`;
    const n = attempts.filter((a) => `${a.scenario}|${a.policy}` === key).length;
    attempts.push({ scenario: s.id, policy: o.policy, ...(o.timing ? { timing: o.timing } : {}) });
    startedAt.push(performance.now());
    inFlight++;
    maxInFlight = Math.max(maxInFlight, inFlight);
    await new Promise((r) => setTimeout(r, runMs));
    inFlight--;
    return {
      scenario: s.id,
      policy: o.policy,
      endMs: 1000,
      intervals: [],
      finals: [],
      turns: [],
      sttLateMaxMs: lateness.get(key)?.[n] ?? 0,
      sttSent: [],
      decisions: [
        { text: `attempt ${n}`, final: true, overAgent: true, decision: 'pass', atMs: 0 },
      ],
    };
  },
}));

const { runEval } = await import('../src/eval/runner.js');

let folder: string;
const IDS = ['a/one', 'a/two', 'b/three'];

beforeAll(() => {
  // Three scenarios in two groups, with a real clip (the loader reads it).
  folder = mkdtempSync(join(tmpdir(), 'eval-runner-'));
  mkdirSync(join(folder, 'a'));
  mkdirSync(join(folder, 'b'));
  copyFileSync(
    resolve(import.meta.dirname, '../fixtures/interruptions/clips/okay.en-us.170.wav'),
    join(folder, 'okay.wav'),
  );
  for (const id of IDS) {
    writeFileSync(
      join(folder, `${id}.json`),
      JSON.stringify({
        id,
        agent: { text: 'A turn.', duration_ms: 3000 },
        caller: [{ at_ms: 1000, audio: '../okay.wav', transcript: 'okay', expect: 'ignore' }],
      }),
    );
  }
});
afterAll(() => rmSync(folder, { recursive: true, force: true }));

beforeEach(() => {
  lateness.clear();
  attempts.length = 0;
  startedAt.length = 0;
  inFlight = 0;
  maxInFlight = 0;
  runMs = 20;
});

const options = (
  o: Partial<Parameters<typeof runEval>[0]> = {},
): Parameters<typeof runEval>[0] => ({
  folder,
  policies: ['softack', 'livekit-default'],
  concurrency: 4,
  workers: 1,
  settings: {},
  staggerMs: 0,
  retryLateMs: 100,
  maxRetryShare: 0.5,
  budgetS: 600,
  ...o,
});

describe('the evaluation runner', () => {
  it('runs every scenario under every policy once, the policies of one scenario side by side', async () => {
    const progress: Array<[number, number]> = [];
    const r = await runEval(options({ onProgress: (done, total) => progress.push([done, total]) }));
    expect(r.scenarios.map((s) => s.id)).toEqual(IDS);
    expect(r.runs.map(({ job }) => [job.index, r.scenarios[job.scenario]!.id, job.policy])).toEqual(
      [
        [0, 'a/one', 'softack'],
        [1, 'a/one', 'livekit-default'],
        [2, 'a/two', 'softack'],
        [3, 'a/two', 'livekit-default'],
        [4, 'b/three', 'softack'],
        [5, 'b/three', 'livekit-default'],
      ],
    );
    expect(r.runs.every(({ job, run }) => run.scenario === r.scenarios[job.scenario]!.id)).toBe(
      true,
    );
    expect(r.runs.every(({ job, run }) => run.policy === job.policy)).toBe(true);
    expect(attempts).toHaveLength(6);
    expect(progress).toEqual([1, 2, 3, 4, 5, 6].map((n) => [n, 6]));
    expect(r.retried).toBe(0);
    expect(r.lag).toHaveLength(1);
    expect(r.durationS).toBeGreaterThan(0);
  }, 30_000);

  it('runs at most `concurrency` sessions at once, starts staggered', async () => {
    runMs = 150;
    await runEval(options({ concurrency: 2, staggerMs: 30 }));
    expect(maxInFlight).toBe(2);
    const gaps = startedAt.slice(1).map((t, i) => t - startedAt[i]!);
    // (timers may fire a millisecond or two early against performance.now)
    for (const gap of gaps) expect(gap).toBeGreaterThanOrEqual(26);
  }, 30_000);

  it('hands the STT timing to each run, over the spec’s defaults', async () => {
    await runEval(options({ timing: { interimDelayMs: 500 } }));
    expect(attempts[0]!.timing).toEqual({ interimDelayMs: 500, finalDelayMs: 400 });
    await runEval(options());
    expect(attempts.at(-1)!.timing).toBeUndefined();
  }, 30_000);

  it('runs the late runs again, fewer at once, and keeps the less late of the two', async () => {
    lateness.set('a/two|softack', [400, 50]); // second attempt more faithful: kept
    lateness.set('b/three|livekit-default', [300, 350]); // second attempt worse: first kept
    const r = await runEval(options({ concurrency: 8 }));
    expect(r.retried).toBe(2);
    const again = attempts.slice(6).map((a) => `${a.scenario}|${a.policy}`);
    // Latest first.
    expect(again).toEqual(['a/two|softack', 'b/three|livekit-default']);
    const runOf = (id: string, policy: string) =>
      r.runs.find(({ job }) => r.scenarios[job.scenario]!.id === id && job.policy === policy)!.run;
    expect(runOf('a/two', 'softack').sttLateMaxMs).toBe(50);
    expect(runOf('a/two', 'softack').decisions[0]!.text).toBe('attempt 1');
    expect(runOf('b/three', 'livekit-default').sttLateMaxMs).toBe(300);
    expect(runOf('a/one', 'softack').decisions[0]!.text).toBe('attempt 0');
    expect(r.lag).toHaveLength(2);
  }, 30_000);

  it('measures again only runs later than the threshold', async () => {
    lateness.set('a/one|softack', [100]); // at the threshold: not late
    lateness.set('a/one|livekit-default', [101]);
    const r = await runEval(options());
    expect(r.retried).toBe(1);
    expect(attempts.slice(6).map((a) => `${a.scenario}|${a.policy}`)).toEqual([
      'a/one|livekit-default',
    ]);
  }, 30_000);

  it('does not run them again when more than maxRetryShare of the runs were late (a busy machine)', async () => {
    for (const id of IDS) {
      lateness.set(`${id}|softack`, [500]);
      lateness.set(`${id}|livekit-default`, [500]);
    }
    const r = await runEval(options({ maxRetryShare: 0.5 }));
    expect(r.retried).toBe(0);
    expect(attempts).toHaveLength(6);
    // Exactly at the share: still retried.
    lateness.clear();
    attempts.length = 0;
    for (const id of IDS) lateness.set(`${id}|softack`, [500]);
    const half = await runEval(options({ maxRetryShare: 0.5 }));
    expect(half.retried).toBe(3);
  }, 30_000);

  it('runs again only what fits in the time budget', async () => {
    lateness.set('a/one|softack', [500]);
    const r = await runEval(options({ budgetS: 1 }));
    expect(r.retried).toBe(0);
    expect(attempts).toHaveLength(6);
  }, 30_000);
});
