/**
 * The interruption evaluation's scoring, rule by rule of docs/interruption-scenarios.md ("What each
 * sound expects", "Scores, per policy"): the figures published for each policy come from
 * `scoreRun` and `summarize`, so each rule gets a run built by hand that it must score one way,
 * with the boundary on either side where the spec draws one (150 ms stutter, the deadline).
 */
import { describe, expect, it } from 'vitest';
import type { ScenarioRun } from '../src/eval/run-scenario.js';
import type { CallerEvent, Expectation, Scenario } from '../src/eval/scenarios.js';
import { errorCount, scoreRun, summarize } from '../src/eval/score.js';
import type { PlayingInterval } from '../src/sim/audio-output.js';

function scenario(
  events: Array<{ at: number; expect: Expectation; deadline?: number; said?: string }>,
  group = 'backchannel',
): Scenario {
  return {
    id: `${group}/case`,
    file: `${group}/case.json`,
    group,
    agent: { text: 'A long turn.', durationMs: 9000 },
    caller: events.map(
      (e, index): CallerEvent => ({
        index,
        atMs: e.at,
        audio: '(test)',
        transcript: e.said ?? `sound ${index}`,
        expect: e.expect,
        deadlineMs: e.deadline ?? 1500,
        samples: new Int16Array(0),
        durationMs: 400,
      }),
    ),
  };
}

const play = (
  startMs: number,
  endMs: number,
  end: PlayingInterval['end'],
  segment = 0,
): PlayingInterval => ({ startMs, endMs, end, segment });

function run(parts: Partial<ScenarioRun> = {}): ScenarioRun {
  return {
    scenario: 'backchannel/case',
    policy: 'softack',
    endMs: 14_000,
    intervals: [play(0, 9000, 'finish')],
    finals: [],
    turns: [],
    sttLateMaxMs: 0,
    sttSent: [],
    decisions: [],
    ...parts,
  };
}

const failuresOf = (s: Scenario, r: ScenarioRun) => scoreRun(s, r).map((e) => e.failures);

describe('an "ignore" sound (a backchannel while the agent speaks)', () => {
  const s = scenario([{ at: 2000, expect: 'ignore' }]);

  it('is no error when the agent talks on and the sound never becomes a turn', () => {
    const [e] = scoreRun(s, run());
    expect(e).toMatchObject({ failures: [], stops: [], became_turn: false });
  });

  it('is a false interruption when the audio is cleared after it', () => {
    const [e] = scoreRun(s, run({ intervals: [play(0, 2600, 'clear')] }));
    expect(e!.failures).toEqual(['false_interruption']);
    expect(e!.stops).toEqual([{ at_ms: 2600, kind: 'clear' }]);
  });

  it('is a false interruption when the audio pauses and never goes on', () => {
    const [e] = scoreRun(s, run({ intervals: [play(0, 2500, 'pause')] }));
    expect(e!.failures).toEqual(['false_interruption']);
    expect(e!.stops).toEqual([{ at_ms: 2500, kind: 'pause' }]);
  });

  it('is a stutter when the audio pauses more than 150 ms and the same segment goes on', () => {
    const intervals = [play(0, 2500, 'pause'), play(2651, 9000, 'finish')];
    const [e] = scoreRun(s, run({ intervals }));
    expect(e!.failures).toEqual(['stutter']);
    expect(e!.stops).toEqual([{ at_ms: 2500, kind: 'pause', paused_ms: 151 }]);
  });

  it('is no error when the pause is 150 ms or less (not audible as a gap)', () => {
    const intervals = [play(0, 2500, 'pause'), play(2650, 9000, 'finish')];
    const [e] = scoreRun(s, run({ intervals }));
    expect(e!.failures).toEqual([]);
    expect(e!.stops).toEqual([{ at_ms: 2500, kind: 'pause', paused_ms: 150 }]);
  });

  it('takes a pause resumed only by another segment (a new reply) for a stop, not a stutter', () => {
    const intervals = [play(0, 2500, 'pause', 0), play(2600, 4000, 'finish', 1)];
    expect(failuresOf(s, run({ intervals }))).toEqual([['false_interruption']]);
  });

  it('is a false interruption, not also a stutter, when one stop is final and another resumed', () => {
    const intervals = [
      play(0, 2500, 'pause'),
      play(3000, 4000, 'clear'), // resumed 500 ms later, then cleared
    ];
    expect(failuresOf(s, run({ intervals }))).toEqual([['false_interruption']]);
  });

  it('is a spurious reply when its final became a user turn, even with the audio untouched', () => {
    const r = run({
      finals: [{ atMs: 2800, text: 'uh huh', event: 0 }],
      turns: [{ atMs: 2900, text: 'uh huh' }],
    });
    const [e] = scoreRun(s, r);
    expect(e).toMatchObject({ failures: ['spurious_reply'], became_turn: true });
  });

  it('counts a turn committed at the very moment of the final', () => {
    const r = run({
      finals: [{ atMs: 2800, text: 'uh huh', event: 0 }],
      turns: [{ atMs: 2800, text: 'uh huh' }],
    });
    expect(failuresOf(s, r)).toEqual([['spurious_reply']]);
  });

  it('is not charged for a turn committed before its final, or for another sound’s final', () => {
    const r = run({
      finals: [
        { atMs: 2800, text: 'uh huh', event: 0 },
        { atMs: 1000, text: 'hello', event: 1 },
      ],
      turns: [{ atMs: 2700, text: 'hello' }],
    });
    expect(failuresOf(s, r)).toEqual([[]]);
  });

  it('is not charged for an earlier turn holding the same words (a repeated backchannel)', () => {
    const r = run({
      finals: [{ atMs: 2800, text: 'uh huh', event: 0 }],
      turns: [{ atMs: 1500, text: 'uh huh' }],
    });
    expect(scoreRun(s, r)[0]).toMatchObject({ failures: [], became_turn: false });
  });

  it('matches a final’s words without the spaces the STT left around them', () => {
    const r = run({
      finals: [{ atMs: 2800, text: ' uh huh ', event: 0 }],
      turns: [{ atMs: 2900, text: 'uh huh' }],
    });
    expect(scoreRun(s, r)[0]).toMatchObject({ failures: ['spurious_reply'], became_turn: true });
  });

  it('became a turn when any of its finals did, not only the first', () => {
    const r = run({
      finals: [
        { atMs: 2500, text: 'mm', event: 0 },
        { atMs: 2800, text: 'huh', event: 0 },
      ],
      turns: [{ atMs: 2900, text: 'huh' }],
    });
    expect(scoreRun(s, r)[0]).toMatchObject({ failures: ['spurious_reply'], became_turn: true });
  });

  it('is not charged for a later sound’s turn when its own words never became one', () => {
    // The session heard "uh huh" (its final reached it) but made no turn of it; "wait" later did.
    const two = scenario([
      { at: 2000, expect: 'ignore', said: 'uh huh' },
      { at: 6000, expect: 'interrupt', said: 'wait' },
    ]);
    const r = run({
      intervals: [play(0, 6300, 'clear')],
      finals: [
        { atMs: 2800, text: 'uh huh', event: 0 },
        { atMs: 6700, text: 'wait', event: 1 },
      ],
      turns: [{ atMs: 6800, text: 'wait' }],
    });
    expect(scoreRun(two, r).map((e) => [e.failures, e.became_turn])).toEqual([
      [[], false],
      [[], true],
    ]);
    // Had its words been in that turn ("uh huh wait"), it would have been.
    const merged = { ...r, turns: [{ atMs: 6800, text: 'uh huh wait' }] };
    expect(scoreRun(two, merged)[0]!.failures).toEqual(['spurious_reply']);
  });

  it('can be a false interruption and a spurious reply at once', () => {
    const r = run({
      intervals: [play(0, 2500, 'clear')],
      finals: [{ atMs: 2400, text: 'yeah', event: 0 }],
      turns: [{ atMs: 2600, text: 'yeah' }],
    });
    expect(failuresOf(s, r)).toEqual([['false_interruption', 'spurious_reply']]);
  });
});

describe('which sound a stop is charged to', () => {
  const s = scenario([
    { at: 1000, expect: 'ignore' },
    { at: 3000, expect: 'ignore' },
  ]);

  it('to the latest sound at or before it', () => {
    const scored = scoreRun(s, run({ intervals: [play(0, 3000, 'clear')] }));
    expect(scored.map((e) => e.failures)).toEqual([[], ['false_interruption']]);
    const earlier = scoreRun(s, run({ intervals: [play(0, 2999, 'clear')] }));
    expect(earlier.map((e) => e.failures)).toEqual([['false_interruption'], []]);
  });

  it('to no sound when it came before the first one', () => {
    const scored = scoreRun(s, run({ intervals: [play(0, 900, 'clear')] }));
    expect(scored.map((e) => e.failures)).toEqual([[], []]);
    expect(scored.map((e) => e.stops)).toEqual([[], []]);
  });

  it('never charges the end of the turn (finish) or audio still playing (open)', () => {
    const scored = scoreRun(
      s,
      run({ intervals: [play(0, 2000, 'finish', 0), play(2500, 5000, 'open', 1)] }),
    );
    expect(scored.map((e) => e.stops)).toEqual([[], []]);
  });

  it('rounds the reported times to whole ms', () => {
    const [e] = scoreRun(
      scenario([{ at: 1000, expect: 'ignore' }]),
      run({ intervals: [play(0, 1200.4, 'pause'), play(1300.2, 9000, 'finish')] }),
    );
    expect(e!.stops).toEqual([{ at_ms: 1200, kind: 'pause', paused_ms: 100 }]);
  });
});

describe('an "interrupt" sound (the caller takes the floor)', () => {
  const s = scenario([{ at: 3000, expect: 'interrupt', deadline: 1500 }], 'interrupt');

  it('is caught when the audio stops within the deadline; latency is stop − onset', () => {
    const [e] = scoreRun(s, run({ intervals: [play(0, 3420, 'clear')] }));
    expect(e).toMatchObject({ failures: [], latency_ms: 420 });
    expect(e!.not_applicable).toBeUndefined();
  });

  it('counts a pause as a stop, and a stop exactly at the deadline as in time', () => {
    expect(scoreRun(s, run({ intervals: [play(0, 4500, 'pause')] }))[0]).toMatchObject({
      failures: [],
      latency_ms: 1500,
    });
  });

  it('is missed when the audio stops after the deadline', () => {
    const [e] = scoreRun(s, run({ intervals: [play(0, 4501, 'clear')] }));
    expect(e!.failures).toEqual(['missed_interruption']);
    expect(e!.latency_ms).toBeUndefined();
  });

  it('is missed when the agent talks on to the end of its turn after the deadline', () => {
    expect(failuresOf(s, run({ intervals: [play(0, 9000, 'finish')] }))).toEqual([
      ['missed_interruption'],
    ]);
    expect(failuresOf(s, run({ intervals: [play(0, 9000, 'open')] }))).toEqual([
      ['missed_interruption'],
    ]);
  });

  it('uses the sound’s own deadline', () => {
    const short = scenario([{ at: 3000, expect: 'interrupt', deadline: 300 }]);
    expect(failuresOf(short, run({ intervals: [play(0, 3301, 'clear')] }))).toEqual([
      ['missed_interruption'],
    ]);
    expect(failuresOf(short, run({ intervals: [play(0, 3300, 'clear')] }))).toEqual([[]]);
  });

  it('is not applicable, and counted nowhere, when the agent was not playing at onset', () => {
    for (const intervals of [
      [play(0, 2000, 'clear')], // an earlier error already stopped it
      [play(0, 3000, 'clear')], // stopped exactly at onset
      [play(3001, 9000, 'finish')], // starts after the onset
    ]) {
      const [e] = scoreRun(s, run({ intervals }));
      expect(e).toMatchObject({ failures: [], not_applicable: 'agent not playing at onset' });
      expect(e!.latency_ms).toBeUndefined();
    }
  });

  it('takes audio that starts exactly at onset as playing', () => {
    const [e] = scoreRun(s, run({ intervals: [play(3000, 3200, 'clear')] }));
    expect(e).toMatchObject({ failures: [], latency_ms: 200 });
  });

  it('is not applicable when the agent finished its turn before the deadline anyway', () => {
    const [e] = scoreRun(s, run({ intervals: [play(0, 4500, 'finish')] }));
    expect(e).toMatchObject({
      failures: [],
      not_applicable: 'agent finished its turn before the deadline',
    });
    expect(failuresOf(s, run({ intervals: [play(0, 4501, 'finish')] }))).toEqual([
      ['missed_interruption'],
    ]);
  });

  it('reads the interval playing at onset, not an earlier or later one', () => {
    const intervals = [
      play(0, 1000, 'clear', 0),
      play(2000, 3100, 'pause', 1),
      play(3200, 9000, 'clear', 1),
    ];
    expect(scoreRun(s, run({ intervals }))[0]).toMatchObject({ failures: [], latency_ms: 100 });
  });

  it('is never a spurious reply: its words are meant to become a turn', () => {
    const r = run({
      intervals: [play(0, 3300, 'clear')],
      finals: [{ atMs: 3600, text: 'wait', event: 0 }],
      turns: [{ atMs: 3700, text: 'wait' }],
    });
    expect(scoreRun(s, r)[0]).toMatchObject({ failures: [], became_turn: true });
  });
});

describe('a "respond" sound (said while the agent is silent)', () => {
  const s = scenario([{ at: 10_000, expect: 'respond' }], 'respond');

  it('is answered when its final became a turn and agent audio started after that turn', () => {
    const r = run({
      intervals: [play(0, 9000, 'finish', 0), play(11_500, 12_300, 'finish', 1)],
      finals: [{ atMs: 10_600, text: 'yeah', event: 0 }],
      turns: [{ atMs: 11_000, text: 'yeah' }],
    });
    expect(scoreRun(s, r)[0]).toMatchObject({ failures: [], became_turn: true });
  });

  it('accepts a reply starting at the very moment of the turn', () => {
    const r = run({
      intervals: [play(0, 9000, 'finish', 0), play(11_000, 12_300, 'finish', 1)],
      finals: [{ atMs: 10_600, text: 'yeah', event: 0 }],
      turns: [{ atMs: 11_000, text: 'yeah' }],
    });
    expect(failuresOf(s, r)).toEqual([[]]);
  });

  it('is a missed response when it never became a turn', () => {
    const r = run({
      intervals: [play(0, 9000, 'finish', 0), play(11_500, 12_300, 'finish', 1)],
      finals: [{ atMs: 10_600, text: 'yeah', event: 0 }],
    });
    expect(scoreRun(s, r)[0]).toMatchObject({ failures: ['missed_response'], became_turn: false });
  });

  it('is a missed response when it became a turn the agent never answered', () => {
    const r = run({
      finals: [{ atMs: 10_600, text: 'yeah', event: 0 }],
      turns: [{ atMs: 11_000, text: 'yeah' }],
    });
    expect(scoreRun(s, r)[0]).toMatchObject({ failures: ['missed_response'], became_turn: true });
  });

  it('is a missed response when the STT sent no final for it', () => {
    expect(failuresOf(s, run({ turns: [{ atMs: 11_000, text: 'other' }] }))).toEqual([
      ['missed_response'],
    ]);
  });

  it('is never a stop to charge: stops after it are no error of a respond sound', () => {
    const r = run({
      intervals: [play(0, 9000, 'finish', 0), play(11_500, 11_800, 'clear', 1)],
      finals: [{ atMs: 10_600, text: 'yeah', event: 0 }],
      turns: [{ atMs: 11_000, text: 'yeah' }],
    });
    const [e] = scoreRun(s, r);
    expect(e!.failures).toEqual([]);
    expect(e!.stops).toEqual([{ at_ms: 11_800, kind: 'clear' }]);
  });
});

describe('the result of each sound', () => {
  it('names the scenario, its group, the sound and its ground truth', () => {
    const s = scenario([{ at: 2000, expect: 'ignore', said: 'uh-huh' }], 'echo');
    expect(scoreRun(s, run())[0]).toEqual({
      scenario: 'echo/case',
      group: 'echo',
      event: 0,
      at_ms: 2000,
      expect: 'ignore',
      transcript: 'uh-huh',
      failures: [],
      became_turn: false,
      stops: [],
    });
  });
});

describe('a policy’s figures', () => {
  const results = () => [
    ...scoreRun(
      scenario([
        { at: 1000, expect: 'ignore' },
        { at: 3000, expect: 'interrupt' },
      ]),
      run({ intervals: [play(0, 1500, 'pause'), play(1700, 3400, 'clear')] }),
    ), // stutter (200 ms), caught at 400 ms
    ...scoreRun(
      scenario([{ at: 1000, expect: 'ignore' }]),
      run({
        intervals: [play(0, 1200, 'clear')],
        finals: [{ atMs: 1300, text: 'yeah', event: 0 }],
        turns: [{ atMs: 1400, text: 'yeah' }],
      }),
    ), // false interruption + spurious reply
    ...scoreRun(scenario([{ at: 2000, expect: 'interrupt' }]), run()), // missed
    ...scoreRun(
      scenario([{ at: 2000, expect: 'interrupt' }]),
      run({ intervals: [play(0, 2100, 'clear')] }),
    ), // 100 ms
    ...scoreRun(
      scenario([{ at: 2000, expect: 'interrupt' }]),
      run({ intervals: [play(0, 2900, 'clear')] }),
    ), // 900 ms
    ...scoreRun(
      scenario([{ at: 2000, expect: 'interrupt' }]),
      run({ intervals: [play(0, 1000, 'clear')] }),
    ), // n/a
    ...scoreRun(scenario([{ at: 10_000, expect: 'respond' }]), run()), // missed response
  ];

  it('counts each kind of error once per sound, and every sound as an event', () => {
    const p = summarize('softack', 6, results());
    expect(p).toMatchObject({
      name: 'softack',
      scenarios: 6,
      events: 8,
      false_interruptions: 1,
      stutters: 1,
      spurious_replies: 1,
      missed_interruptions: 1,
      missed_responses: 1,
    });
    expect(errorCount(p)).toBe(5);
  });

  it('gives latency percentiles by nearest rank over the caught interruptions only', () => {
    // caught: 100, 400, 900 (the missed and the n/a one have no latency)
    expect(summarize('softack', 6, results()).interrupt_latency_ms).toEqual({
      p50: 400,
      p95: 900,
      max: 900,
    });
    const lat = (ms: number[]) =>
      summarize(
        'x',
        1,
        ms.map((latency_ms, event) => ({ ...results()[0]!, event, latency_ms })),
      ).interrupt_latency_ms;
    expect(lat([40, 10, 30, 20])).toEqual({ p50: 20, p95: 40, max: 40 });
    expect(lat([7])).toEqual({ p50: 7, p95: 7, max: 7 });
    const hundred = Array.from({ length: 100 }, (_, i) => i + 1);
    expect(lat(hundred)).toEqual({ p50: 50, p95: 95, max: 100 });
  });

  it('has no latency figures when nothing was caught, and no errors for no events', () => {
    const p = summarize('none', 0, []);
    expect(p.interrupt_latency_ms).toEqual({ p50: null, p95: null, max: null });
    expect(p.events).toBe(0);
    expect(errorCount(p)).toBe(0);
  });

  it('adds up every kind of error (what "fewer errors than each baseline" compares)', () => {
    const base = summarize('x', 0, []);
    for (const key of [
      'false_interruptions',
      'stutters',
      'spurious_replies',
      'missed_interruptions',
      'missed_responses',
    ] as const) {
      expect(errorCount({ ...base, [key]: 3 })).toBe(3);
    }
  });
});
