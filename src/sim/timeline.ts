/**
 * The simulated call's timeline: what happened when (the call's own events from its metrics,
 * the caller's lines and hang-up), the check of each line's `expect` against when the agent's
 * audio really played, and the readable lines the demo prints.
 */
import type { CallSummary, TimelineEvent } from '../call/call-metrics.js';
import { maskNumber } from '../core/phone.js';
import type { SimAudioOutput } from './audio-output.js';
import type { LagStats } from './clock.js';
import type { Scenario } from './scenario.js';

export type SimTimelineEntry =
  | TimelineEvent
  | {
      t: number;
      type: 'caller-line';
      text: string;
      endT: number;
      expect?: 'ignore' | 'interrupt' | 'respond';
      /** What happened to an `ignore`/`interrupt` line (filled in at the end). */
      verdict?: string;
    }
  | { t: number; type: 'hang-up' };

/** A caller line's `expect`, checked: true when the agent did the expected thing. */
export interface ExpectationCheck {
  line: number;
  text: string;
  expect: string;
  ok: boolean;
  verdict: string;
}

/** An `interrupt` line is met when the agent's audio stopped within this long of its onset. */
const INTERRUPT_DEADLINE_MS = 1500;

/** Did the agent do what each line expected? Read from when agent audio actually played. */
export function checkExpectations(
  timeline: SimTimelineEntry[],
  playing: ReturnType<SimAudioOutput['playingIntervals']>,
): ExpectationCheck[] {
  const said = timeline.filter(
    (e): e is Extract<SimTimelineEntry, { type: 'caller-line' }> => e.type === 'caller-line',
  );
  return said.flatMap((line, i) => {
    if (!line.expect || line.expect === 'respond') return [];
    const over = playing.find((p) => p.startMs <= line.t && p.endMs > line.t);
    let ok: boolean;
    let verdict: string;
    if (line.expect === 'ignore') {
      const stopped =
        over &&
        over.end !== 'finish' &&
        over.end !== 'open' &&
        over.endMs < line.endT + INTERRUPT_DEADLINE_MS;
      ok = !!over && !stopped;
      verdict = !over
        ? 'agent was not speaking'
        : ok
          ? 'ignored: the agent kept talking'
          : `agent audio stopped ${Math.round(over.endMs - line.t)} ms after onset`;
    } else {
      const stopMs =
        over && over.end !== 'finish' && over.end !== 'open' ? over.endMs - line.t : undefined;
      ok = stopMs !== undefined && stopMs <= INTERRUPT_DEADLINE_MS;
      verdict =
        stopMs === undefined
          ? 'agent did not stop'
          : `interruption: agent stopped ${Math.round(stopMs)} ms after onset`;
    }
    line.verdict = verdict;
    return [{ line: i, text: line.text, expect: line.expect, ok, verdict }];
  });
}

// ── printing ─────────────────────────────────────────────────────────────────────────────────

/** One readable line per timeline entry (null for entries not worth a line). */
export function formatEntry(e: SimTimelineEntry): string | null {
  const t = `${(e.t / 1000).toFixed(2).padStart(7)}s`;
  switch (e.type) {
    case 'call-start':
      return `${t}  call      ${e.direction} call${e.agent ? `, answered by ${e.agent}` : ''}`;
    case 'caller-line':
      return `${t}  caller    "${e.text}"${e.expect ? `   [${e.expect}${e.verdict ? `: ${e.verdict}` : ''}]` : ''}`;
    case 'agent-speech-start':
      return `${t}  agent     ${e.agent ?? ''} starts speaking${e.latencyMs !== undefined ? `   (turn latency ${e.latencyMs} ms)` : ''}`;
    case 'agent-message':
      return `${t}  agent     ${e.agent ?? ''}: "${e.text}"${e.interrupted ? '   [cut off]' : ''}`;
    case 'interruption':
      return `${t}  interrupt the caller took the floor from ${e.agent ?? 'the agent'}`;
    case 'backchannel-ignored':
      return `${t}  ignored   backchannel "${e.text}" (agent kept talking)`;
    case 'false-interruption':
      return `${t}  resumed   false interruption${e.resumed ? ', agent resumed' : ''}`;
    case 'handoff':
      return `${t}  handoff   ${e.from ?? '?'} → ${e.to}`;
    case 'hang-up':
      return `${t}  caller    hangs up`;
    case 'call-end':
      return `${t}  call      ended: ${e.outcome} (by ${e.endedBy})`;
    default:
      return null;
  }
}

export function formatSummary(r: {
  summary: CallSummary;
  checks: ExpectationCheck[];
  lag?: LagStats;
}): string {
  const s = r.summary;
  const m = s.metrics;
  const lat = m.turnLatency;
  const lines = [
    `Call ${(s.durationMs / 1000).toFixed(1)} s · ${s.outcome} (ended by ${s.endedBy}) · agents: ${s.agents.join(' → ')}`,
    `Turns: ${m.userTurns} caller, ${m.agentTurns} agent · turn latency p50 ${lat.p50 ?? '-'} ms, p95 ${lat.p95 ?? '-'} ms, max ${lat.max ?? '-'} ms`,
    `Interruptions ${m.interruptions} · backchannels ignored ${m.backchannelsIgnored} · handoffs ${m.handoffs.length}${r.lag ? ` · event-loop lag p99 ${r.lag.p99} ms` : ''}`,
    ...r.checks.map((c) => `${c.ok ? 'ok  ' : 'FAIL'} "${c.text}" (${c.expect}): ${c.verdict}`),
  ];
  return lines.join('\n');
}

export function describeCall(scenario: Scenario): string {
  const from = scenario.call.from ? maskNumber(scenario.call.from, false) : 'a hidden number';
  const to = scenario.call.to ? maskNumber(scenario.call.to, false) : 'our number';
  return `${scenario.name}\n  inbound call from ${from} to ${to}`;
}
