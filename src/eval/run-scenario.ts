/**
 * Runs one scenario under one interruption policy through a real AgentSession: the caller's
 * clips (with the scenario's line noise) go through the real Silero VAD at 8 kHz, transcripts
 * come from the scripted STT (spec timing model), the LLM is scripted ("Sure." to every user
 * turn), and the agent's turn is `duration_ms` of synthetic audio played in real time.
 * Returns the raw record (what played when, which transcripts became turns); score.ts judges.
 */

import type { ReadableStream } from 'node:stream/web';
import { type VAD, voice } from '@livekit/agents';
import type { AudioFrame } from '@livekit/rtc-node';
import { concat } from '../core/wav.js';
import { SimAudioInput } from '../sim/audio-input.js';
import { type PlayingInterval, SimAudioOutput } from '../sim/audio-output.js';
import { SimClock } from '../sim/clock.js';
import { activeRms, addInto, mixNoise, seedOf } from '../sim/noise.js';
import { ScriptedLLM } from '../sim/scripted-llm.js';
import { defaultSttTiming, ScriptedSTT, type SttTiming } from '../sim/scripted-stt.js';
import { SyntheticTTS, syntheticSpeechStream } from '../sim/synthetic-tts.js';
import {
  attachInterruptionPolicy,
  type DecisionRecord,
  defaultSoftAckOptions,
  type InterruptionPolicyName,
  interruptionSessionOptions,
  interruptionSpeechFilter,
  type SoftAckOptions,
} from '../telephony/interruption/index.js';
import { SCENARIO_SAMPLE_RATE, type Scenario } from './scenarios.js';

export const REPLY_TEXT = 'Sure.';

export interface RunOptions {
  vad: VAD;
  policy: InterruptionPolicyName;
  /** Options of the softack policy (default: the product defaults). */
  softAck?: SoftAckOptions;
  timing?: SttTiming;
  /** How long to keep listening after the last scripted thing happened (ms). */
  tailMs?: number;
  /** Caller audio frame length (CALLER_FRAME_MS). */
  frameMs: number;
}

export interface ScenarioRun {
  scenario: string;
  policy: InterruptionPolicyName;
  endMs: number;
  intervals: PlayingInterval[];
  /** Final transcripts the session received: time, text, caller event index (-1: unknown). */
  finals: Array<{ atMs: number; text: string; event: number }>;
  /** User turns committed to the chat: time and text. */
  turns: Array<{ atMs: number; text: string }>;
  /** How late scripted STT events went out (ms, max): timer lag on this run. */
  sttLateMaxMs: number;
  decisions: Array<Omit<DecisionRecord, 'at'> & { atMs: number }>;
}

/** The eval's agent: a plain Agent whose STT events pass the policy's filter (as PhoneAgent's). */
class EvalAgent extends voice.Agent {
  private readonly speechFilter = interruptionSpeechFilter();

  override async sttNode(
    audio: ReadableStream<AudioFrame>,
    modelSettings: voice.ModelSettings,
  ): Promise<ReturnType<typeof this.speechFilter> | null> {
    const events = await super.sttNode(audio, modelSettings);
    return events && this.speechFilter(events, this);
  }
}

/** The caller's track: clips at their onsets, line noise at the scenario's SNR. */
function callerTrack(s: Scenario, totalMs: number): Int16Array {
  const track = new Int16Array(Math.ceil((totalMs * SCENARIO_SAMPLE_RATE) / 1000));
  for (const e of s.caller)
    addInto(track, e.samples, Math.round((e.atMs * SCENARIO_SAMPLE_RATE) / 1000));
  if (s.noise) {
    const speech = concat(s.caller.map((e) => e.samples));
    mixNoise(
      track,
      s.noise.kind,
      s.noise.snrDb,
      activeRms(speech, SCENARIO_SAMPLE_RATE),
      seedOf(s.id),
    );
  }
  return track;
}

export async function runScenario(s: Scenario, o: RunOptions): Promise<ScenarioRun> {
  const timing = o.timing ?? defaultSttTiming;
  const lastEnd = Math.max(...s.caller.map((e) => e.atMs + e.durationMs + timing.finalDelayMs));
  const endMs = Math.max(s.agent.durationMs, lastEnd) + (o.tailMs ?? 2500);

  const clock = new SimClock();
  const input = new SimAudioInput({
    clock,
    sampleRate: SCENARIO_SAMPLE_RATE,
    frameMs: o.frameMs,
  });
  const output = new SimAudioOutput({ clock });
  const stt = new ScriptedSTT({ clock, timing });
  const utteranceEvent: number[] = [];
  for (const e of s.caller) {
    if (!e.transcript.trim()) continue;
    stt.addUtterance({ atMs: e.atMs, durationMs: e.durationMs, transcript: e.transcript });
    utteranceEvent.push(e.index);
  }
  input.play(callerTrack(s, endMs), 0);

  const softAck = { ...(o.softAck ?? defaultSoftAckOptions), policy: o.policy };
  const policyOptions = interruptionSessionOptions(softAck);
  const session = new voice.AgentSession({
    vad: o.vad,
    stt,
    llm: new ScriptedLLM((turn) => (turn.userText ? REPLY_TEXT : undefined)),
    tts: new SyntheticTTS({ sampleRate: SCENARIO_SAMPLE_RATE }),
    ...('aecWarmupDuration' in policyOptions
      ? { aecWarmupDuration: policyOptions.aecWarmupDuration }
      : {}),
    turnHandling: { turnDetection: 'vad', interruption: policyOptions.turnHandling.interruption },
  });
  session.input.audio = input;
  session.output.audio = output;

  const finals: ScenarioRun['finals'] = [];
  const turns: ScenarioRun['turns'] = [];
  session.on(voice.AgentSessionEventTypes.UserInputTranscribed, (ev) => {
    if (!ev.isFinal || !ev.transcript) return;
    const now = clock.now();
    // The scheduled final this is: same text, sent at or before now, latest first.
    const sent = stt.schedule
      .filter(
        (x) =>
          x.kind === 'final' &&
          x.sentAtMs !== undefined &&
          x.sentAtMs <= now + 1 &&
          x.text === ev.transcript,
      )
      .at(-1);
    finals.push({
      atMs: now,
      text: ev.transcript,
      event: sent ? (utteranceEvent[sent.utterance] ?? -1) : -1,
    });
  });
  session.on(voice.AgentSessionEventTypes.ConversationItemAdded, (ev) => {
    const item = ev.item;
    if (item.type === 'message' && item.role === 'user')
      turns.push({ atMs: clock.now(), text: item.textContent ?? '' });
  });

  // Bound before start, as in production, so the policy sees every speech from the first.
  const controller =
    o.policy === 'softack' || o.policy === 'seed-grace'
      ? attachInterruptionPolicy(session, softAck)
      : undefined;
  try {
    await session.start({
      agent: new EvalAgent({ instructions: 'Phone agent under evaluation.' }),
    });
    // Timeline 0 is when the agent's turn starts playing (the spec's "agent starts at 0 ms"):
    // the clock starts once its audio reaches the output, so session start-up does not shift it.
    session.say(s.agent.text, {
      audio: syntheticSpeechStream(s.agent.durationMs, SCENARIO_SAMPLE_RATE),
    });
    await output.whenAudioQueued();
    clock.start();
    const epoch = clock.epochAt(0);
    await clock.sleepUntil(endMs);
    const intervals = output.playingIntervals();
    const sttLateMaxMs = Math.max(0, ...stt.schedule.map((x) => (x.sentAtMs ?? x.atMs) - x.atMs));
    const decisions = (controller?.decisions ?? []).map(({ at, ...d }) => ({
      ...d,
      atMs: at - epoch,
    }));
    return {
      scenario: s.id,
      policy: o.policy,
      endMs,
      intervals,
      finals,
      turns,
      sttLateMaxMs,
      decisions,
    };
  } finally {
    controller?.dispose();
    await session.close().catch(() => {});
    await input.close();
    output.close();
  }
}
