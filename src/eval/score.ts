/**
 * Scores scenario runs by the spec's rules, from what the agent's audio did (playing
 * intervals) and which transcripts became user turns:
 *   - a stop (audio paused or cleared) is charged to the latest caller event at or before it;
 *   - ignore: a stop not resumed → false interruption; paused > 150 ms then resumed → stutter;
 *     its final transcript committed in a user turn (one holding its words) → spurious reply;
 *   - interrupt: audio playing at onset must stop within the deadline (latency = stop − onset);
 *     if the agent was not playing at onset (an earlier error already stopped it) there is
 *     nothing to stop: reported as n/a, counted nowhere;
 *   - respond: its transcript committed in a user turn and agent audio starting after it.
 */
import type { ScenarioRun } from './run-scenario.js';
import type { Expectation, Scenario } from './scenarios.js';

const STUTTER_MS = 150;

export type Failure =
  | 'false_interruption'
  | 'stutter'
  | 'spurious_reply'
  | 'missed_interruption'
  | 'missed_response';

export interface EventResult {
  scenario: string;
  /** The scenario's first folder (`backchannel`, `interrupt`, `noise`, ...). */
  group: string;
  event: number;
  at_ms: number;
  expect: Expectation;
  transcript: string;
  failures: Failure[];
  /** Interrupt events: ms from onset to the audio stopping. */
  latency_ms?: number;
  /** Interrupt events where the agent was not playing at onset. */
  not_applicable?: string;
  became_turn: boolean;
  /** Stops charged to this event: [at_ms, kind, paused_ms?]. */
  stops: Array<{ at_ms: number; kind: 'pause' | 'clear'; paused_ms?: number }>;
}

export interface PolicyScore {
  name: string;
  scenarios: number;
  events: number;
  false_interruptions: number;
  stutters: number;
  spurious_replies: number;
  missed_interruptions: number;
  missed_responses: number;
  interrupt_latency_ms: { p50: number | null; p95: number | null; max: number | null };
}

interface Stop {
  atMs: number;
  kind: 'pause' | 'clear';
  /** For pauses: how long until the same segment played again (undefined: never). */
  pausedMs?: number;
}

function stopsOf(run: ScenarioRun): Stop[] {
  const stops: Stop[] = [];
  run.intervals.forEach((iv, i) => {
    if (iv.end !== 'pause' && iv.end !== 'clear') return;
    if (iv.end === 'clear') {
      stops.push({ atMs: iv.endMs, kind: 'clear' });
      return;
    }
    const resumed = run.intervals.slice(i + 1).find((n) => n.segment === iv.segment);
    stops.push({
      atMs: iv.endMs,
      kind: 'pause',
      ...(resumed ? { pausedMs: resumed.startMs - iv.endMs } : {}),
    });
  });
  return stops;
}

export function scoreRun(s: Scenario, run: ScenarioRun): EventResult[] {
  const stops = stopsOf(run);
  const chargedTo = (atMs: number) => {
    let owner = -1;
    for (const e of s.caller) if (e.atMs <= atMs) owner = e.index;
    return owner;
  };
  return s.caller.map((e) => {
    const mine = stops.filter((st) => chargedTo(st.atMs) === e.index);
    const finals = run.finals.filter((f) => f.event === e.index);
    // The turn that committed a final: at or after it, holding its words (a later turn of
    // another sound's words alone does not make this sound a turn).
    const turnOf = (f: { atMs: number; text: string }) =>
      run.turns.find((u) => u.atMs >= f.atMs && u.text.includes(f.text.trim()));
    const committed = finals.map(turnOf).find((u) => u !== undefined);
    const failures: Failure[] = [];
    const result: EventResult = {
      scenario: s.id,
      group: s.group,
      event: e.index,
      at_ms: e.atMs,
      expect: e.expect,
      transcript: e.transcript,
      failures,
      became_turn: committed !== undefined,
      stops: mine.map((st) => ({
        at_ms: Math.round(st.atMs),
        kind: st.kind,
        ...(st.kind === 'pause' && st.pausedMs !== undefined
          ? { paused_ms: Math.round(st.pausedMs) }
          : {}),
      })),
    };
    if (e.expect === 'ignore') {
      if (mine.some((st) => st.kind === 'clear' || st.pausedMs === undefined))
        failures.push('false_interruption');
      else if (mine.some((st) => (st.pausedMs ?? 0) > STUTTER_MS)) failures.push('stutter');
      if (committed) failures.push('spurious_reply');
    } else if (e.expect === 'interrupt') {
      const playing = run.intervals.find((iv) => iv.startMs <= e.atMs && iv.endMs > e.atMs);
      if (!playing) {
        result.not_applicable = 'agent not playing at onset';
      } else if (playing.end === 'finish' && playing.endMs <= e.atMs + e.deadlineMs) {
        result.not_applicable = 'agent finished its turn before the deadline';
      } else if (
        (playing.end === 'pause' || playing.end === 'clear') &&
        playing.endMs <= e.atMs + e.deadlineMs
      ) {
        result.latency_ms = Math.round(playing.endMs - e.atMs);
      } else {
        failures.push('missed_interruption');
      }
    } else {
      const replied = committed && run.intervals.some((iv) => iv.startMs >= committed.atMs);
      if (!replied) failures.push('missed_response');
    }
    return result;
  });
}

function percentile(sorted: number[], p: number): number | null {
  if (sorted.length === 0) return null;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!;
}

export function summarize(name: string, scenarios: number, results: EventResult[]): PolicyScore {
  const count = (f: Failure) => results.filter((r) => r.failures.includes(f)).length;
  const lat = results
    .map((r) => r.latency_ms)
    .filter((x): x is number => x !== undefined)
    .sort((a, b) => a - b);
  return {
    name,
    scenarios,
    events: results.length,
    false_interruptions: count('false_interruption'),
    stutters: count('stutter'),
    spurious_replies: count('spurious_reply'),
    missed_interruptions: count('missed_interruption'),
    missed_responses: count('missed_response'),
    interrupt_latency_ms: {
      p50: percentile(lat, 50),
      p95: percentile(lat, 95),
      max: lat.at(-1) ?? null,
    },
  };
}

/** Errors of a policy (what "fewer errors than each baseline" compares). */
export function errorCount(p: PolicyScore): number {
  return (
    p.false_interruptions +
    p.stutters +
    p.spurious_replies +
    p.missed_interruptions +
    p.missed_responses
  );
}
