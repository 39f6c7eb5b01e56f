/**
 * Runs one scenario under one interruption policy as a phone call through the product's own
 * call path: the simulator's call (src/sim/call-simulator.ts) runs the call job and the phone
 * session exactly as a worker builds them for a real call (src/call/session.ts: PhoneAgent,
 * the session options, endpointing, LiveKit's turn detector, the noise suppressor in the
 * caller's audio path, the policy bound where production binds it). Only the models are
 * scripted: the STT sends what the scenario says (its `stt` results, or the timing model), the
 * LLM answers "Sure." to every user turn, and the agent's turn is the evaluated agent's
 * greeting, spoken for exactly `agent.duration_ms` by a timing-only TTS.
 *
 * Baselines differ from softack only by the setting INTERRUPTION_POLICY. Returns the raw record
 * (what played when, which transcripts became turns) on the scenario's timeline, whose 0 is the
 * moment the agent's turn starts playing; score.ts judges it.
 */
import type { VAD } from '@livekit/agents';
import { voice } from '@livekit/agents';
import type { AgentsConfig } from '../agents/agents-file.js';
import type { AgentSpec } from '../agents/agents-schema.js';
import { speakable } from '../agents/prompts.js';
import type { Config } from '../core/config.js';
import type { LiveKitClients } from '../core/livekit.js';
import type { Logger } from '../core/logger.js';
import type { PlayingInterval } from '../sim/audio-output.js';
import { simulateCall } from '../sim/call-simulator.js';
import type { Scenario as SimScenario } from '../sim/scenario.js';
import { defaultSttTiming, type SttTiming } from '../sim/scripted-stt.js';
import { SyntheticTTS } from '../sim/synthetic-tts.js';
import type { DecisionRecord, InterruptionPolicyName } from '../telephony/interruption/index.js';
import type { NoiseSuppression } from '../telephony/noise/index.js';
import type { Scenario } from './scenarios.js';

export const REPLY_TEXT = 'Sure.';
/**
 * Listening time after the last scripted thing: a reply to a `respond` sound may wait for the
 * turn detector's longest endpointing delay (2.5 s), the LLM and the TTS.
 */
const DEFAULT_TAIL_MS = 4000;
/** The agent's voice: ElevenLabs' `pcm_16000`, as deployed. */
const TTS_SAMPLE_RATE = 16000;

/** What an evaluation process loads once for all its runs. */
export interface EvalContext {
  /** The settings (without INTERRUPTION_POLICY: each run sets its policy). */
  config: Config;
  /** The deployment's agents file. */
  agents: AgentsConfig;
  /** The agent under evaluation (its interruption overrides apply). */
  agentName: string;
  vad: VAD;
  noise?: NoiseSuppression;
  /** Where telephony's server calls go: nowhere reachable (no transfer happens in a scenario). */
  livekit: Pick<LiveKitClients, 'sip' | 'rooms'>;
  log: Logger;
}

export interface RunOptions {
  policy: InterruptionPolicyName;
  /** The STT timing model for sounds without explicit `stt` results. */
  timing?: SttTiming;
  /** How long to keep listening after the last scripted thing happened (ms). */
  tailMs?: number;
  /** Called with the call's session before it starts (tests compare it with a worker's). */
  onSession?: (session: voice.AgentSession) => void;
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
  /** What the STT sent per caller event: `[at_ms after onset] text (final, confidence)`. */
  sttSent: string[][];
  decisions: Array<Omit<DecisionRecord, 'at'> & { atMs: number }>;
}

export async function runScenario(
  s: Scenario,
  ctx: EvalContext,
  o: RunOptions,
): Promise<ScenarioRun> {
  const timing = { ...defaultSttTiming, ...o.timing };
  const lastEnd = Math.max(...s.caller.map((e) => e.atMs + e.durationMs + timing.finalDelayMs));
  const endMs = Math.max(s.agent.durationMs, lastEnd) + (o.tailMs ?? DEFAULT_TAIL_MS);
  const config: Config = { ...ctx.config, INTERRUPTION_POLICY: o.policy };

  const finals: Array<{ atSim: number; text: string; event: number }> = [];
  const turns: Array<{ atSim: number; text: string }> = [];
  const r = await simulateCall({
    call: {
      scenario: simScenario(s, endMs),
      baseDir: '.',
      config,
      agents: withTurn(ctx.agents, ctx.agentName, s.agent.text),
      tts: timedVoice(s.agent.text, s.agent.durationMs),
      livekit: ctx.livekit,
      callerAudio: s.caller.map((e) => e.samples),
    },
    log: ctx.log,
    vad: ctx.vad,
    ...(ctx.noise ? { noise: ctx.noise } : {}),
    turnDetection: 'local',
    llm: 'scenario',
    record: false,
    measureLag: false,
    sttTiming: timing,
    onSession: (session, sim) => {
      o.onSession?.(session);
      session.on(voice.AgentSessionEventTypes.UserInputTranscribed, (ev) => {
        if (!ev.isFinal || !ev.transcript) return;
        const now = sim.clock.now();
        // The scheduled final this is: same text, sent at or before now, latest first.
        const sent = sim.stt.schedule
          .filter(
            (x) =>
              x.kind === 'final' &&
              x.sentAtMs !== undefined &&
              x.sentAtMs <= now + 1 &&
              x.text === ev.transcript,
          )
          .at(-1);
        const event = sent ? (sim.lineOfUtterance[sent.utterance] ?? -1) : -1;
        finals.push({ atSim: now, text: ev.transcript, event });
      });
      session.on(voice.AgentSessionEventTypes.ConversationItemAdded, (ev) => {
        const item = ev.item;
        if (item.type === 'message' && item.role === 'user')
          turns.push({ atSim: sim.clock.now(), text: item.textContent ?? '' });
      });
    },
  });

  // The scenario's 0: when the agent's turn started playing on the call's clock.
  const t0 = r.firstSpeechMs;
  if (t0 === undefined) throw new Error(`${s.id}: the agent never started its turn`);
  const byUtterance = r.stt.lineOfUtterance;
  const sttSent = s.caller.map(() => [] as string[]);
  for (const x of r.stt.schedule) {
    const event = byUtterance[x.utterance];
    if (event === undefined || x.sentAtMs === undefined) continue;
    const after = Math.round(x.sentAtMs - t0 - s.caller[event]!.atMs);
    sttSent[event]!.push(
      `[${after}] "${x.text}"${x.kind === 'final' ? ' final' : ''} ${x.confidence}`,
    );
  }
  return {
    scenario: s.id,
    policy: o.policy,
    endMs,
    intervals: r.intervals.map((iv) => ({ ...iv, startMs: iv.startMs - t0, endMs: iv.endMs - t0 })),
    finals: finals.map(({ atSim, ...f }) => ({ ...f, atMs: atSim - t0 })),
    turns: turns.map(({ atSim, text }) => ({ atMs: atSim - t0, text })),
    sttLateMaxMs: Math.max(0, ...r.stt.schedule.map((x) => (x.sentAtMs ?? x.atMs) - x.atMs)),
    sttSent,
    decisions: r.decisions.map(({ at, ...d }) => ({ ...d, atMs: at - r.clockEpochMs - t0 })),
  };
}

/** The scenario as a simulated call: every sound `at_ms` after the agent's turn started. */
function simScenario(s: Scenario, endMs: number): SimScenario {
  return {
    name: s.id,
    call: { direction: 'inbound' },
    ...(s.noise ? { noise: { kind: s.noise.kind, snrDb: s.noise.snrDb } } : {}),
    caller: s.caller.map((e) => ({
      after: 'agent-start' as const,
      delayMs: Math.round(e.atMs),
      say: e.transcript,
      ...(e.stt
        ? {
            stt: e.stt.map((x) => ({
              after_ms: Math.round(x.afterMs),
              text: x.text,
              ...(x.final ? { final: true } : {}),
              ...(x.confidence !== undefined ? { confidence: x.confidence } : {}),
            })),
          }
        : {}),
      expect: e.expect,
    })),
    hangUp: { after: 'agent-start', delayMs: Math.round(endMs) },
    llm: [{ match: '\\S', reply: REPLY_TEXT }],
  };
}

/**
 * The agents file with the evaluated agent's greeting set to the scenario's turn, taking every
 * call: its class, tools and interruption overrides are the deployment's.
 */
function withTurn(agents: AgentsConfig, name: string, text: string): AgentsConfig {
  const spec = agents.agents.get(name);
  if (!spec) throw new Error(`the agents file has no agent "${name}"`);
  const evaluated: AgentSpec = { ...spec, greeting: text };
  return {
    ...agents,
    agents: new Map([...agents.agents, [name, evaluated]]),
    routes: [{ default: true, agent: name }],
    defaultAgent: name,
  };
}

/** A voice that speaks `text` for `durationMs` (sentence by sentence, as the TTS node asks). */
function timedVoice(text: string, durationMs: number): SyntheticTTS {
  const chars = speakable(text).replace(/\s+/g, ' ').trim().length;
  return new SyntheticTTS({
    sampleRate: TTS_SAMPLE_RATE,
    msPerChar: durationMs / Math.max(1, chars),
    minMs: 0,
  });
}
