/**
 * The caller's side of a simulated call: the scenario's lines said when their triggers fire
 * (after the agent finished talking, or so many ms into a scripted reply), key presses, the
 * hang-up; and the scenario's LLM rules as a deterministic LLM, which tells the script when a
 * scripted reply was produced. Both read the agent's activity on the simulation's clock
 * (`ScriptState`).
 */
import { voice } from '@livekit/agents';
import type { PhoneSessionData } from '../agents/session-data.js';
import type { CallMetrics } from '../call/call-metrics.js';
import type { SimAudioInput } from './audio-input.js';
import type { SimClock } from './clock.js';
import type { CallerLineSpec, Scenario, TriggerSpec } from './scenario.js';
import { scenarioRule } from './scenario-rules.js';
import { ScriptedLLM } from './scripted-llm.js';
import type { ScriptedSTT, SttResult } from './scripted-stt.js';
import type { SimTransport } from './sim-transport.js';
import type { SimTimelineEntry } from './timeline.js';

/** What the script and the transport share: agent activity on the sim clock. */
export class ScriptState {
  metrics: CallMetrics | undefined;
  session: voice.AgentSession<PhoneSessionData> | undefined;
  /** Sim time at which each scripted reply id was produced by the LLM. */
  readonly replies = new Map<string, number>();
  /** Sim times the agent started speaking. */
  readonly speechStarts: number[] = [];
  agentBusy = false;
  lastBusyEnd = 0;
  #waiters: Array<() => void> = [];

  constructor(readonly clock: SimClock) {}

  /** Resolves at the next agent state change or scripted reply. */
  changed(): Promise<void> {
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  /** Scripted reply `id` was produced now. */
  replied(id: string): void {
    this.replies.set(id, this.clock.now());
    this.#notify();
  }

  #notify(): void {
    for (const resolve of this.#waiters.splice(0)) resolve();
  }

  watch(session: voice.AgentSession<PhoneSessionData>): void {
    this.session = session;
    session.on(voice.AgentSessionEventTypes.AgentStateChanged, (ev) => {
      const now = this.clock.now();
      if (ev.newState === 'speaking') this.speechStarts.push(now);
      const busy = ev.newState === 'speaking' || ev.newState === 'thinking';
      if (this.agentBusy && !busy) this.lastBusyEnd = now;
      this.agentBusy = busy;
      this.#notify();
    });
  }

  currentAgent(): string | undefined {
    return this.session?.userData?.currentAgent;
  }
}

export interface ScriptDeps {
  clock: SimClock;
  input: SimAudioInput;
  stt: ScriptedSTT;
  state: ScriptState;
  transport: SimTransport;
  emit: (e: SimTimelineEntry) => void;
  /** The caller line of each utterance given to the STT, in order (filled as lines are said). */
  lineOfUtterance: number[];
}

/** Says the caller's lines when their triggers fire, then hangs up. */
export async function runScript(
  scenario: Scenario,
  audio: Int16Array[],
  d: ScriptDeps,
): Promise<void> {
  await d.clock.whenStarted();
  let since = 0; // agent activity before this instant does not count for the next trigger
  for (const [i, line] of scenario.caller.entries()) {
    const at = await waitFor(line, since, d);
    if (at === undefined) return; // the call ended first
    if (line.dtmf !== undefined) {
      // Keys, not speech: they reach the agent through the call's media, as from a room.
      d.emit({ t: Math.round(at), type: 'caller-line', text: `[keys ${line.dtmf}]`, endT: at });
      await d.transport.media.pressDigits(d.transport.caller.identity, line.dtmf);
      since = d.clock.now();
      continue;
    }
    const samples = audio[i]!;
    const end = d.input.play(samples, at);
    d.stt.addUtterance({
      atMs: at,
      durationMs: end - at,
      transcript: line.say ?? '',
      ...(line.stt ? { results: line.stt.map(sttResult) } : {}),
    });
    d.lineOfUtterance.push(i);
    d.emit({
      t: Math.round(at),
      type: 'caller-line',
      text: line.say ?? '',
      endT: Math.round(end),
      ...(line.expect ? { expect: line.expect } : {}),
    });
    since = end;
    await d.clock.sleepUntil(end);
  }
  const hang = scenario.hangUp ?? { after: 'agent-done', delayMs: 600 };
  const at = await waitFor(hang, since, d);
  if (at === undefined) return;
  d.emit({ t: Math.round(at), type: 'hang-up' });
  d.transport.caller.leave('caller hung up');
}

/** A scenario's `stt` entry as the scripted STT takes it. */
function sttResult(r: NonNullable<CallerLineSpec['stt']>[number]): SttResult {
  return {
    afterMs: r.after_ms,
    text: r.text,
    ...(r.final ? { final: true } : {}),
    ...(r.confidence !== undefined ? { confidence: r.confidence } : {}),
  };
}

/** Sim instant at which `trigger` fires (undefined if the call ends before). */
async function waitFor(
  trigger: TriggerSpec,
  since: number,
  d: ScriptDeps,
): Promise<number | undefined> {
  const { clock, state } = d;
  let over = false;
  const closed = d.transport.closed.then(() => {
    over = true;
  });
  for (;;) {
    if (over) return undefined;
    const now = clock.now();
    // Woken by what can make the trigger fire: an agent state change, an LLM reply, the delay.
    let wakeAt: number | undefined;
    if (trigger.after === 'agent-start') {
      const start = state.speechStarts[0];
      if (start !== undefined) {
        await clock.sleepUntil(start + trigger.delayMs);
        return over ? undefined : start + trigger.delayMs;
      }
    } else if (trigger.after === 'reply-start') {
      const producedAt = state.replies.get(trigger.reply ?? '');
      const start =
        producedAt === undefined ? undefined : state.speechStarts.find((s) => s >= producedAt);
      if (start !== undefined) {
        await clock.sleepUntil(start + trigger.delayMs);
        return over ? undefined : start + trigger.delayMs;
      }
    } else if (state.speechStarts.some((s) => s >= since) && !state.agentBusy) {
      wakeAt = state.lastBusyEnd + trigger.delayMs;
      if (now >= wakeAt) return now;
    }
    const stop = new AbortController();
    await Promise.race([
      state.changed(),
      closed,
      ...(wakeAt === undefined ? [] : [clock.sleepUntil(wakeAt, stop.signal)]),
    ]);
    stop.abort();
  }
}

/** The scenario's LLM rules as a deterministic `llm.LLM`. */
export function scriptedLlm(scenario: Scenario, state: ScriptState): ScriptedLLM {
  return new ScriptedLLM(
    scenarioRule(scenario.llm, {
      currentAgent: () => state.currentAgent(),
      onReply: (id) => state.replied(id),
    }),
  );
}
