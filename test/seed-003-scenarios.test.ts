/**
 * The four scenarios of seed 003, as session-level tests: a real AgentSession with the softack
 * policy, real Silero VAD over the corpus's 8 kHz clips, the spec's STT timing, the agent's
 * audio played in real time. The four run at once (each takes ~8 s of real time); a run whose
 * timers a loaded machine made late is measured again alone.
 */
import { resolve } from 'node:path';
import { initializeLogger } from '@livekit/agents';
import { beforeAll, describe, expect, it } from 'vitest';
import { readWav } from '../src/core/wav.js';
import {
  type EvalContext,
  REPLY_TEXT,
  runScenario,
  type ScenarioRun,
} from '../src/eval/run-scenario.js';
import { loadEvalContext } from '../src/eval/runner.js';
import type { CallerEvent, Scenario } from '../src/eval/scenarios.js';

const clips = resolve(import.meta.dirname, '../fixtures/interruptions/clips');
const RATE = 8000;

function clip(name: string): Int16Array {
  return readWav(resolve(clips, `${name}.wav`)).samples;
}

/** Clips joined with short gaps, as one utterance ("yeah okay but wait"). */
function joined(names: string[], gapMs = 60): Int16Array {
  const parts = names.map(clip);
  const gap = (gapMs * RATE) / 1000;
  const out = new Int16Array(parts.reduce((n, p) => n + p.length + gap, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length + gap;
  }
  return out;
}

function event(
  index: number,
  atMs: number,
  samples: Int16Array,
  transcript: string,
  expect: CallerEvent['expect'],
): CallerEvent {
  return {
    index,
    atMs,
    audio: '(test)',
    transcript,
    expect,
    deadlineMs: 1500,
    samples,
    durationMs: (samples.length * 1000) / RATE,
  };
}

const explanation = {
  text: 'So the new plan has three parts. First the base fee, then the minutes you use, then the taxes at the end of the month.',
  durationMs: 7000,
};

const scenarios: Record<string, Scenario> = {
  backchannels: {
    id: 'seed-003/long-explanation-backchannels',
    file: '(test)',
    group: 'seed-003',
    agent: explanation,
    caller: [
      event(0, 1200, clip('okay.en-us.170'), 'okay', 'ignore'),
      event(1, 2800, clip('yeah.en-us-m3.150'), 'yeah', 'ignore'),
      event(2, 4400, clip('uh-huh.en-gb.160'), 'uh-huh', 'ignore'),
    ],
  },
  silentYeah: {
    id: 'seed-003/yeah-while-silent',
    file: '(test)',
    group: 'seed-003',
    agent: { text: 'Would you like me to book that for you?', durationMs: 2200 },
    caller: [event(0, 3200, clip('yeah.en-gb.160'), 'yeah', 'respond')],
  },
  noStop: {
    id: 'seed-003/no-stop',
    file: '(test)',
    group: 'seed-003',
    agent: explanation,
    caller: [event(0, 2000, clip('no-stop.en-us.170'), 'no stop', 'interrupt')],
  },
  mixed: {
    id: 'seed-003/yeah-okay-but-wait',
    file: '(test)',
    group: 'seed-003',
    agent: explanation,
    caller: [
      event(
        0,
        2000,
        joined(['yeah.en-us.170', 'okay-but.en-gb.160', 'wait.en-us-m3.150']),
        'yeah okay but wait',
        'interrupt',
      ),
    ],
  },
};

/** Scripted STT events later than this (ms) make a run unfaithful: it is measured again. */
const LATE_MS = 150;
const runs: Record<string, ScenarioRun> = {};
let ctx: EvalContext;

beforeAll(async () => {
  initializeLogger({ pretty: false, level: 'error' });
  // The example agents file's receptionist, as the evaluation runs it (production session).
  ctx = await loadEvalContext({});
  const run = (s: Scenario) => runScenario(s, ctx, { policy: 'softack', tailMs: 3000 });
  const entries = await Promise.all(
    Object.entries(scenarios).map(async ([key, s]) => [key, await run(s)] as const),
  );
  for (const [key, r] of entries) runs[key] = r;
  // Four real-time sessions at once on a loaded machine can starve each other's timers: a run
  // whose scripted STT fired late is measured again on its own (as the evaluation does), and the
  // more faithful run is kept.
  for (const [key, s] of Object.entries(scenarios)) {
    for (let attempt = 0; attempt < 2 && runs[key]!.sttLateMaxMs > LATE_MS; attempt++) {
      const again = await run(s);
      if (again.sttLateMaxMs < runs[key]!.sttLateMaxMs) runs[key] = again;
    }
  }
}, 120_000);

/** Agent audio intervals of the agent's own turn (segment 1). */
const agentTurn = (r: ScenarioRun) => r.intervals.filter((i) => i.segment === 1);

describe('seed 003 scenarios (softack, real audio, real VAD)', () => {
  it('1. long explanation: "okay… yeah… uh-huh" are ignored — no pause, no stop, no turn', () => {
    const r = runs.backchannels!;
    const turn = agentTurn(r);
    expect(turn).toHaveLength(1); // never paused or cut: one continuous stretch
    expect(turn[0]!.end).toBe('finish');
    expect(turn[0]!.endMs - turn[0]!.startMs).toBeGreaterThan(explanation.durationMs - 100);
    expect(r.turns).toEqual([]); // no user turn, not even after the agent finished
    expect(r.finals).toEqual([]); // the framework never saw the words
    expect(r.intervals.filter((i) => i.segment > 1)).toEqual([]); // no reply
    expect(r.decisions.filter((d) => d.final).map((d) => [d.text, d.decision])).toEqual([
      ['okay', 'ignore'],
      ['yeah', 'ignore'],
      ['uh-huh', 'ignore'],
    ]);
  });

  it('2. "yeah" while the agent is silent is an answer: it becomes a turn and gets a reply', () => {
    const r = runs.silentYeah!;
    expect(agentTurn(r)[0]!.end).toBe('finish');
    expect(r.turns.map((t) => t.text)).toEqual(['yeah']);
    const reply = r.intervals.find((i) => i.segment === 2);
    expect(reply).toBeDefined();
    expect(reply!.startMs).toBeGreaterThan(r.turns[0]!.atMs);
    expect(REPLY_TEXT).toBe('Sure.');
  });

  it('3. "no stop" stops the agent at once and becomes the next turn', () => {
    const r = runs.noStop!;
    const turn = agentTurn(r);
    expect(turn).toHaveLength(1);
    expect(turn[0]!.end).toBe('clear');
    const latency = turn[0]!.endMs - 2000;
    expect(latency).toBeGreaterThan(0);
    // The first interim ("no") comes 300 ms after onset, or as late as the run's timers were.
    expect(latency).toBeLessThan(900 + r.sttLateMaxMs);
    expect(r.turns.map((t) => t.text)).toEqual(['no stop']);
  });

  it('4. "yeah okay but wait" interrupts on "but", after the backchannels', () => {
    const r = runs.mixed!;
    const turn = agentTurn(r);
    expect(turn[0]!.end).toBe('clear');
    const interrupting = r.decisions.find((d) => d.decision === 'interrupt');
    expect(interrupting).toMatchObject({ text: 'yeah okay but', command: 'but' });
    expect(
      r.decisions.filter((d) => d.atMs < interrupting!.atMs).every((d) => d.decision === 'ignore'),
    ).toBe(true);
    expect(turn[0]!.endMs - 2000).toBeLessThan(1500 + r.sttLateMaxMs);
    expect(r.turns.map((t) => t.text)).toEqual(['yeah okay but wait']);
  });
});
