/**
 * The interruption evaluation's report (src/eval/report.ts): the per-policy figures, the same
 * figures per group of scenarios, every event with what the STT sent when it went wrong, the
 * run's timing figures, the printed table and the error lines. Built from hand-made runs, so
 * each published number is checked against a count done here.
 */
import { describe, expect, it } from 'vitest';
import { buildReport, formatErrors, formatTable } from '../src/eval/report.js';
import type { ScenarioRun } from '../src/eval/run-scenario.js';
import type { EvalRun, Job } from '../src/eval/runner.js';
import type { CallerEvent, Expectation, Scenario } from '../src/eval/scenarios.js';
import type { PlayingInterval } from '../src/sim/audio-output.js';
import type { InterruptionPolicyName } from '../src/telephony/interruption/index.js';

function scenario(
  id: string,
  events: Array<{ at: number; expect: Expectation; said: string }>,
): Scenario {
  const group = id.includes('/') ? id.split('/')[0]! : '(top)';
  return {
    id,
    file: `${id}.json`,
    group,
    agent: { text: 'A long turn.', durationMs: 9000 },
    caller: events.map(
      (e, index): CallerEvent => ({
        index,
        atMs: e.at,
        audio: '(test)',
        transcript: e.said,
        expect: e.expect,
        deadlineMs: 1500,
        samples: new Int16Array(0),
        durationMs: 400,
      }),
    ),
  };
}

const play = (startMs: number, endMs: number, end: PlayingInterval['end']): PlayingInterval => ({
  startMs,
  endMs,
  end,
  segment: 1,
});

function run(
  s: Scenario,
  policy: InterruptionPolicyName,
  parts: Partial<ScenarioRun>,
): ScenarioRun {
  return {
    scenario: s.id,
    policy,
    endMs: 14_000,
    intervals: [play(0, 9000, 'finish')],
    finals: [],
    turns: [],
    sttLateMaxMs: 0,
    sttSent: s.caller.map(() => []),
    decisions: [],
    ...parts,
  };
}

const SCENARIOS = [
  scenario('backchannel/uh-huh', [{ at: 2000, expect: 'ignore', said: 'uh-huh' }]),
  scenario('interrupt/wait', [{ at: 3000, expect: 'interrupt', said: 'wait' }]),
  scenario('interrupt/no-stop', [{ at: 2000, expect: 'interrupt', said: 'no stop' }]),
];

/** softack gets everything right; the baseline stops for the backchannel and misses one "wait". */
function evalRun(): EvalRun {
  const [uh, wait, noStop] = SCENARIOS as [Scenario, Scenario, Scenario];
  const runs: Array<{ job: Job; run: ScenarioRun }> = [];
  let index = 0;
  const add = (s: number, policy: InterruptionPolicyName, r: ScenarioRun) =>
    runs.push({ job: { index: index++, scenario: s, policy }, run: r });
  add(0, 'softack', run(uh, 'softack', { sttLateMaxMs: 12.4 }));
  add(
    0,
    'livekit-default',
    run(uh, 'livekit-default', {
      intervals: [play(0, 2500, 'clear')],
      sttSent: [['[300] "uh" 0.95', '[700] "Uh-huh." final 0.95']],
      sttLateMaxMs: 30,
    }),
  );
  add(
    1,
    'softack',
    run(wait, 'softack', { intervals: [play(0, 3400, 'clear')], sttLateMaxMs: 250 }),
  );
  add(
    1,
    'livekit-default',
    run(wait, 'livekit-default', {
      intervals: [play(0, 9000, 'finish')],
      sttSent: [['[300] "wait" 0.95']],
      sttLateMaxMs: 5,
    }),
  );
  add(
    2,
    'softack',
    run(noStop, 'softack', { intervals: [play(0, 2600, 'clear')], sttLateMaxMs: 40 }),
  );
  add(
    2,
    'livekit-default',
    run(noStop, 'livekit-default', { intervals: [play(0, 2900, 'pause')] }),
  );
  return {
    scenarios: SCENARIOS,
    runs,
    lag: [{ p50: 1, p99: 9, max: 20 }],
    retried: 2,
    durationS: 12.345,
  };
}

const report = () =>
  buildReport(evalRun(), {
    folder: 'fixtures/interruptions',
    policies: ['softack', 'livekit-default'],
    workers: 2,
    concurrency: 4,
    settings: { VAD_ACTIVATION_THRESHOLD: '0.6' },
    retryLateMs: 100,
  });

describe('the evaluation report', () => {
  it('scores each policy over every scenario', () => {
    const [softack, baseline] = report().policies;
    expect(softack).toMatchObject({
      name: 'softack',
      scenarios: 3,
      events: 3,
      false_interruptions: 0,
      missed_interruptions: 0,
      interrupt_latency_ms: { p50: 400, p95: 600, max: 600 },
    });
    expect(baseline).toMatchObject({
      name: 'livekit-default',
      scenarios: 3,
      events: 3,
      false_interruptions: 1,
      missed_interruptions: 1,
      interrupt_latency_ms: { p50: 900, p95: 900, max: 900 },
    });
  });

  it('gives the same figures per group of scenarios, per policy, groups in name order', () => {
    const groups = report().groups.map((g) => [
      g.name,
      g.group,
      g.scenarios,
      g.events,
      g.false_interruptions,
      g.missed_interruptions,
    ]);
    expect(groups).toEqual([
      ['softack', 'backchannel', 1, 1, 0, 0],
      ['softack', 'interrupt', 2, 2, 0, 0],
      ['livekit-default', 'backchannel', 1, 1, 1, 0],
      ['livekit-default', 'interrupt', 2, 2, 0, 1],
    ]);
    const interrupt = report().groups.find((g) => g.name === 'softack' && g.group === 'interrupt');
    expect(interrupt!.interrupt_latency_ms).toEqual({ p50: 400, p95: 600, max: 600 });
  });

  it('lists every event, and for an event that went wrong what the STT sent for it', () => {
    const events = report().events;
    expect(events).toHaveLength(6);
    const wrong = events.filter((e) => e.failures.length > 0);
    expect(wrong.map((e) => [e.policy, e.scenario, e.failures, e.stt_sent])).toEqual([
      [
        'livekit-default',
        'backchannel/uh-huh',
        ['false_interruption'],
        ['[300] "uh" 0.95', '[700] "Uh-huh." final 0.95'],
      ],
      ['livekit-default', 'interrupt/wait', ['missed_interruption'], ['[300] "wait" 0.95']],
    ]);
    for (const e of events.filter((x) => x.failures.length === 0))
      expect(e.stt_sent).toBeUndefined();
    expect(
      events.find((e) => e.policy === 'softack' && e.scenario === 'backchannel/uh-huh'),
    ).toMatchObject({
      run_late_ms: 12,
      group: 'backchannel',
    });
  });

  it('an event that went wrong with nothing recorded from the STT says so', () => {
    const r = evalRun();
    r.runs[1]!.run.sttSent = [];
    const e = buildReport(r, {
      folder: 'x',
      policies: ['livekit-default'],
      workers: 1,
      concurrency: 1,
      settings: {},
      retryLateMs: 100,
    }).events.find((x) => x.failures.length > 0 && x.scenario === 'backchannel/uh-huh');
    expect(e?.stt_sent).toEqual([]);
  });

  it('reports the run: duration, workers, lag, how late the STT fired, retries and late runs', () => {
    expect(report().run).toEqual({
      folder: 'fixtures/interruptions',
      scenarios: 3,
      duration_s: 12.3,
      workers: 2,
      concurrency: 4,
      event_loop_lag_ms: [{ p50: 1, p99: 9, max: 20 }],
      // late (ms), sorted: 0 5 12.4 30 40 250 → nearest rank
      stt_event_late_ms: { p50: 12, p95: 250, max: 250 },
      retried_runs: 2,
      late_runs: 1,
      settings: { VAD_ACTIVATION_THRESHOLD: '0.6' },
    });
  });

  it('only scores the policies asked for', () => {
    const r = buildReport(evalRun(), {
      folder: 'x',
      policies: ['softack'],
      workers: 1,
      concurrency: 1,
      settings: {},
      retryLateMs: 1000,
    });
    expect(r.policies.map((p) => p.name)).toEqual(['softack']);
    expect(new Set(r.events.map((e) => e.policy))).toEqual(new Set(['softack']));
    expect(r.run.late_runs).toBe(0);
  });
});

describe('the printed figures', () => {
  it('one line per error: scenario, sound, expectation, failures, ground truth, STT', () => {
    expect(formatErrors(report(), 'livekit-default')).toEqual([
      'backchannel/uh-huh #0 (ignore at 2000 ms): false_interruption; said "uh-huh"; ' +
        'STT sent [300] "uh" 0.95 → [700] "Uh-huh." final 0.95',
      'interrupt/wait #0 (interrupt at 3000 ms): missed_interruption; said "wait"; ' +
        'STT sent [300] "wait" 0.95',
    ]);
    expect(formatErrors(report(), 'softack')).toEqual([]);
  });

  it('says "nothing" when the STT sent nothing for an error', () => {
    const r = report();
    for (const e of r.events) if (e.failures.length) e.stt_sent = [];
    expect(formatErrors(r, 'livekit-default')[1]).toMatch(/STT sent nothing$/);
  });

  it('a table per policy with the error total and latency, "-" where there is none', () => {
    const r = report();
    const none = {
      ...r.policies[0]!,
      name: 'empty',
      interrupt_latency_ms: { p50: null, p95: null, max: null },
    };
    const lines = formatTable([...r.policies, none]).split('\n');
    expect(lines[0]).toMatch(
      /^\| policy +\| events \| false int\. \| stutters \| spurious \| missed int\. \| missed resp\. \| errors \| latency p50\/p95\/max ms \|$/,
    );
    expect(lines[1]).toMatch(/^\|-+(\|-+){8}\|$/);
    const cells = (line: string) =>
      line
        .split('|')
        .slice(1, -1)
        .map((c) => c.trim());
    expect(cells(lines[2]!)).toEqual([
      'softack',
      '3',
      '0',
      '0',
      '0',
      '0',
      '0',
      '0',
      '400 / 600 / 600',
    ]);
    expect(cells(lines[3]!)).toEqual([
      'livekit-default',
      '3',
      '1',
      '0',
      '0',
      '1',
      '0',
      '2',
      '900 / 900 / 900',
    ]);
    expect(cells(lines[4]!).at(-1)).toBe('- / - / -');
    // Columns line up: every line is as wide as the header.
    expect(new Set(lines.map((l) => l.length)).size).toBe(1);
  });

  it('a grouped table has a group column first', () => {
    const lines = formatTable(report().groups).split('\n');
    expect(lines[0]).toMatch(/^\| group +\| policy /);
    const cells = (line: string) =>
      line
        .split('|')
        .slice(1, -1)
        .map((c) => c.trim());
    expect(cells(lines[2]!).slice(0, 3)).toEqual(['backchannel', 'softack', '1']);
  });
});
