/**
 * A phone call without LiveKit, keys or network: the product's call job (src/call/call-job.ts)
 * and phone session (src/call/session.ts) run over a simulated line.
 *
 * - The caller is a scenario (examples/demo-call.json): lines said at moments relative to what
 *   the agent does (after it finished talking, or so many ms into a given reply), as narrowband
 *   WAV clips or, where a clip is missing, offline speech; optional line noise under all of it.
 * - Real Silero VAD and noise suppression hear that audio; the STT is scripted from the
 *   scenario (no speech recogniser runs offline); the LLM is deterministic rules from the
 *   scenario unless LLM_BASE_URL points at an OpenAI-compatible server; the agent speaks
 *   through eSpeak (offline-tts.ts).
 * - The telephony features run as on a real call over `SimCallMedia` (src/telephony): the
 *   agents have their transfer, DTMF and end_call tools, the caller may press keys, silence
 *   and the length limit end the call. Server-side operations (transfers) go to the LiveKit
 *   server of the settings or `livekit` (tests: the stand-in); without one they fail and the
 *   agent says so, as on a real call whose transfer failed.
 * - Out come the call summary, a merged timeline (who spoke when, interruptions, handoffs,
 *   latencies) and a stereo recording (caller left, agent right).
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';
import { inference, type ipc, type tts, type VAD, voice } from '@livekit/agents';
import { isFrameProcessor } from '@livekit/rtc-node';
import { type Static, Type } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { type AgentsConfig, handoffToolName, loadAgentsFile } from '../agents/agents-file.js';
import { type CodeToolRegistry, defaultCodeTools } from '../agents/code-tools.js';
import { createLLM, PHONE_SAMPLE_RATE } from '../agents/providers.js';
import type { PhoneSessionData } from '../agents/session-data.js';
import {
  type Caller,
  type CallJobOptions,
  type CallSessionParts,
  type CallTransport,
  runCallJob,
} from '../call/call-job.js';
import type { CallMetrics, CallSummary, TimelineEvent } from '../call/call-metrics.js';
import type { CallReporter, WorkerEventType } from '../call/call-report.js';
import {
  createPhoneSessionFactory,
  type SessionModels,
  type TelephonyDeps,
  telephonyDeps,
} from '../call/session.js';
import type { Config } from '../core/config.js';
import { ConfigError } from '../core/errors.js';
import { createLiveKitClients, type LiveKitClients } from '../core/livekit.js';
import type { Logger } from '../core/logger.js';
import { maskNumber } from '../core/phone.js';
import { concat, interleave, readWav, resample, toMono, writeWav } from '../core/wav.js';
import { resolveSoftAckOptions } from '../telephony/interruption/index.js';
import type { NoiseSuppression } from '../telephony/noise/index.js';
import { SimAudioInput } from './audio-input.js';
import { SimAudioOutput } from './audio-output.js';
import { LagMonitor, type LagStats, SimClock } from './clock.js';
import { activeRms, mixNoise, type NoiseKind, noiseKinds, seedOf } from './noise.js';
import { OfflineTTS, speak } from './offline-tts.js';
import { ScriptedLLM, type ScriptedReply } from './scripted-llm.js';
import { ScriptedSTT } from './scripted-stt.js';
import { SimCallMedia } from './sim-call-media.js';
import { syntheticSpeech } from './synthetic-tts.js';

// ── scenario format ──────────────────────────────────────────────────────────────────────────

const AudioPart = Type.Union([
  Type.String({ minLength: 1, description: 'WAV file, relative to the scenario file' }),
  Type.Object({ tts: Type.String({ minLength: 1 }) }, { additionalProperties: false }),
  /** A speech-like tone of this many ms: Silero hears speech; no file and no TTS needed. */
  Type.Object(
    { synthetic: Type.Integer({ minimum: 20, maximum: 60_000 }) },
    { additionalProperties: false },
  ),
]);

const Trigger = {
  /** `agent-done`: `delayMs` after the agent finished talking (it spoke since the last line). */
  after: Type.Union([Type.Literal('agent-done'), Type.Literal('reply-start')]),
  /** With `reply-start`: the id of the scripted reply whose start anchors `delayMs`. */
  reply: Type.Optional(Type.String()),
  delayMs: Type.Integer({ minimum: 0, maximum: 120_000 }),
};

const CallerLine = Type.Object(
  {
    ...Trigger,
    /** What the (scripted) speech-to-text hears. */
    say: Type.Optional(Type.String()),
    /** Keys the caller presses instead of speaking (e.g. "1", or "4711#" when asked for digits). */
    dtmf: Type.Optional(Type.String({ pattern: '^[0-9*#]+$' })),
    /** The audio, in order (default: the `say` text spoken by the offline TTS). */
    audio: Type.Optional(Type.Array(AudioPart, { minItems: 1 })),
    /** eSpeak voice for synthesised caller audio. */
    voice: Type.Optional(Type.String()),
    /** What a good agent does with it: checked and shown in the timeline. */
    expect: Type.Optional(
      Type.Union([Type.Literal('ignore'), Type.Literal('interrupt'), Type.Literal('respond')]),
    ),
  },
  { additionalProperties: false },
);

const LlmRule = Type.Object(
  {
    id: Type.Optional(Type.String({ minLength: 1 })),
    /** Only while this agent talks. */
    agent: Type.Optional(Type.String()),
    /** Case-insensitive regular expression over the caller's last words. */
    match: Type.Optional(Type.String()),
    reply: Type.Optional(Type.String()),
    /** Hand the call to this agent (calls its handoff tool). */
    handoff: Type.Optional(Type.String()),
    /** Call this tool of the agent (e.g. end_call, collect_digits), after `reply` if any. */
    tool: Type.Optional(Type.String({ minLength: 1 })),
    args: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
  },
  { additionalProperties: false },
);

export const ScenarioSchema = Type.Object(
  {
    name: Type.String(),
    description: Type.Optional(Type.String()),
    /** Agents file, relative to the scenario (default: the repository's example). */
    agentsFile: Type.Optional(Type.String()),
    call: Type.Object(
      {
        direction: Type.Optional(Type.Literal('inbound')),
        from: Type.Optional(Type.String()),
        to: Type.Optional(Type.String()),
        attributes: Type.Optional(Type.Record(Type.String(), Type.String())),
      },
      { additionalProperties: false },
    ),
    noise: Type.Optional(
      Type.Object(
        {
          kind: Type.Union(noiseKinds.map((k) => Type.Literal(k))),
          snrDb: Type.Number({ minimum: -10, maximum: 60 }),
        },
        { additionalProperties: false },
      ),
    ),
    caller: Type.Array(CallerLine),
    /** When the caller hangs up (default: 600 ms after the agent's last words). */
    hangUp: Type.Optional(Type.Object(Trigger, { additionalProperties: false })),
    llm: Type.Array(LlmRule),
  },
  { additionalProperties: false },
);

export type Scenario = Static<typeof ScenarioSchema>;
type CallerLineSpec = Static<typeof CallerLine>;
type TriggerSpec = Pick<CallerLineSpec, 'after' | 'reply' | 'delayMs'>;

/** Reads and validates a scenario; errors name the file and the JSON path. */
export function loadScenario(path: string): Scenario {
  let data: unknown;
  try {
    data = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new ConfigError(`${path}: ${(err as Error).message}`);
  }
  const first = Value.Errors(ScenarioSchema, data).First();
  if (first) throw new ConfigError(`${path}: ${first.path || '/'}: ${first.message}`);
  const scenario = data as Scenario;
  for (const [i, line] of scenario.caller.entries()) {
    if ((line.say === undefined) === (line.dtmf === undefined)) {
      throw new ConfigError(`${path}: /caller/${i}: needs exactly one of say or dtmf`);
    }
    if (line.after === 'reply-start' && !scenario.llm.some((r) => r.id && r.id === line.reply)) {
      throw new ConfigError(`${path}: /caller/${i}/reply: no llm rule has id "${line.reply}"`);
    }
  }
  return scenario;
}

// ── running a call ───────────────────────────────────────────────────────────────────────────

/** What a simulated call needs before it starts, prepared once (a job process's prewarm). */
export interface PrepareOptions {
  scenario: Scenario;
  /** Directory the scenario's relative paths start from. */
  baseDir: string;
  config: Config;
  /** LiveKit server API for transfers (default: from the settings; unreachable without them). */
  livekit?: Pick<LiveKitClients, 'sip' | 'rooms'>;
  /** The agent's voice (default: eSpeak). The call benchmark passes a timing-only TTS. */
  tts?: tts.TTS;
  /** The agents, already loaded (default: the scenario's `agentsFile`). */
  agents?: AgentsConfig;
}

/**
 * A scenario ready to run: the agents file parsed, the telephony features' dependencies (hold
 * audio, LiveKit clients) loaded, caller audio and line noise rendered, the TTS warmed. A
 * worker's job process does the same work in prewarm (src/worker/job-entry.ts), so a call's own
 * CPU starts at the first ring, in the benchmark as in production.
 */
export interface PreparedSimulation {
  readonly scenario: Scenario;
  readonly config: Config;
  readonly agents: AgentsConfig;
  readonly codeTools: CodeToolRegistry;
  readonly telephony: TelephonyDeps;
  readonly tts: tts.TTS;
  /** Each caller line's audio at 8 kHz (empty for key presses). */
  readonly lines: Int16Array[];
  /** Looped line noise under the call, if the scenario has some. */
  readonly background: Int16Array | undefined;
}

export async function prepareSimulation(o: PrepareOptions): Promise<PreparedSimulation> {
  const { scenario, baseDir, config } = o;
  const codeTools = defaultCodeTools();
  const agents =
    o.agents ??
    loadAgentsFile(resolve(baseDir, scenario.agentsFile ?? '../config/agents.example.yaml'), {
      codeToolNames: codeTools.names(),
      env: simEnv,
    });
  // Caller audio, prepared before the call so synthesis never stalls the line.
  const lines = await Promise.all(scenario.caller.map((l) => callerAudio(l, baseDir)));
  const tts = o.tts ?? new OfflineTTS();
  if (tts instanceof OfflineTTS) await warmTts(tts, scenario, agents);
  const speechRms = lines.find((l) => l.length > 0);
  const background = scenario.noise
    ? lineNoise(
        scenario.noise.kind,
        scenario.noise.snrDb,
        speechRms ? activeRms(speechRms, PHONE_SAMPLE_RATE) : 3000,
        scenario.name,
      )
    : undefined;
  return {
    scenario,
    config,
    agents,
    codeTools,
    telephony: telephonyDeps(config, o.livekit ?? simLiveKit(config)),
    tts,
    lines,
    background,
  };
}

export interface SimulateOptions {
  /** The scenario, prepared (prepareSimulation) or to prepare now. */
  call: PreparedSimulation | PrepareOptions;
  log: Logger;
  /** Loaded once per process and shared (Silero). */
  vad: VAD;
  /** The process's noise suppression (loadNoiseSuppression); none when absent. */
  noise?: NoiseSuppression;
  /** Call events the agent reports (call.transferred, call.voicemail, call.summary). */
  onReport?: (type: WorkerEventType, data: Record<string, unknown>) => void;
  /** Limits of the call job (e.g. a short maxCallDurationMs). */
  limits?: CallJobOptions['limits'];
  /** Turn detector: `local` = LiveKit's v1-mini model in this process; `vad` = VAD silence. */
  turnDetection?: 'local' | 'vad';
  /**
   * `configured`: the OpenAI-compatible server of LLM_BASE_URL when set (the demo);
   * `scenario`: always the scenario's rules (never a network call). Default `configured`.
   */
  llm?: 'configured' | 'scenario';
  /** Writes call.wav and timeline.json here. */
  outDir?: string;
  /** Keep both tracks for `recording` and call.wav (default true; the benchmark does not). */
  record?: boolean;
  /**
   * Measure event-loop lag (default true). Its 10 ms sampling timer wakes the process 100
   * times a second, which the benchmark, measuring lateness itself, does not want to pay.
   */
  measureLag?: boolean;
  /** Called with every timeline entry as it happens (the demo prints them live). */
  onEvent?: (e: SimTimelineEntry) => void;
  /** Called when the call's timeline starts (audio frame k is due at `clock` k·CALLER_FRAME_MS). */
  onStart?: (clock: SimClock) => void;
}

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

export interface SimResult {
  summary: CallSummary;
  timeline: SimTimelineEntry[];
  /** Checks of the caller lines' `expect`: true when the agent did the expected thing. */
  checks: { line: number; text: string; expect: string; ok: boolean; verdict: string }[];
  /** Event-loop lag during the call (unless `measureLag: false`). */
  lag?: LagStats;
  files?: { wav: string; json: string };
  /** The caller (left) and agent (right) tracks at 8 kHz. */
  recording: { caller: Int16Array; agent: Int16Array };
}

const RECORD_RATE = 8000;

/**
 * HTTP tools' signing secrets (`secretEnv`) are only needed to call real endpoints, which a
 * simulation does not reach: an unset one reads as a placeholder instead of failing the load.
 */
const simEnv: NodeJS.ProcessEnv = new Proxy(process.env, {
  get: (env, name) =>
    typeof name === 'string' ? (env[name] ?? 'simulation-placeholder') : undefined,
});
const INTERRUPT_DEADLINE_MS = 1500;

export async function simulateCall(o: SimulateOptions): Promise<SimResult> {
  const prepared = 'telephony' in o.call ? o.call : await prepareSimulation(o.call);
  const { scenario, config, agents, codeTools, lines, tts } = prepared;
  const clock = new SimClock();
  const lag = o.measureLag === false ? undefined : new LagMonitor().start();

  const record = o.record ?? true;
  const input = new SimAudioInput({
    clock,
    sampleRate: PHONE_SAMPLE_RATE,
    frameMs: config.CALLER_FRAME_MS,
    record,
  });
  const output = new SimAudioOutput({
    clock,
    ...(record ? { recordSampleRate: RECORD_RATE } : {}),
  });
  input.setBackground(prepared.background);
  const stt = new ScriptedSTT({ clock });
  const state = new ScriptState(clock);
  const llmModel =
    config.LLM_BASE_URL && o.llm !== 'scenario'
      ? createLLM({ ...config, OPENAI_API_KEY: config.OPENAI_API_KEY ?? 'none' })
      : scriptedLlm(scenario, state);

  const createSession = createPhoneSessionFactory({
    agents,
    codeTools,
    vad: o.vad,
    ...(o.noise ? { noise: o.noise } : {}),
    telephony: prepared.telephony,
    models: (): SessionModels => ({ stt, llm: llmModel, tts }),
    ...(o.turnDetection === 'local' ? { turnDetector: localTurnDetector() } : {}),
    interruption: resolveSoftAckOptions(config),
    env: simEnv,
    log: o.log,
  });
  const transport = new SimTransport(scenario, clock, input, output, state, o.onStart);
  const reporter: CallReporter = {
    report: (_callId, type, data) => o.onReport?.(type, data),
    flush: async () => {},
  };

  let metrics: CallMetrics | undefined;
  const entries: SimTimelineEntry[] = [];
  const emit = (e: SimTimelineEntry) => {
    entries.push(e);
    o.onEvent?.(e);
  };
  const script = runScript(scenario, lines, { clock, input, stt, state, transport, emit });
  const summary = await runCallJob({
    transport,
    agents,
    createSession,
    reporter,
    log: o.log,
    ...(o.limits ? { limits: o.limits } : {}),
    now: () => clock.epochAt(clock.now()),
    onMetrics: (m) => {
      metrics = m;
      state.metrics = m;
      m.onEvent = (e) => emit(e);
    },
  });
  transport.finish();
  await script.catch((err) => o.log.warn({ err }, 'scenario script failed'));
  const endMs = clock.now();
  await input.close();
  output.close();

  const offset = metrics ? metrics.startedAt - clock.epochAt(0) : 0;
  const timeline = entries
    .map((e) => (isCallerEntry(e) ? e : { ...e, t: Math.round(e.t + offset) }))
    .sort((a, b) => a.t - b.t);
  const checks = checkExpectations(timeline, output.playingIntervals(endMs));
  const recording = {
    caller: input.recording(),
    agent: output.recording(endMs),
  };
  const result: SimResult = {
    summary,
    timeline,
    checks,
    ...(lag ? { lag: lag.stop() } : {}),
    recording,
  };
  if (o.outDir) result.files = writeOutputs(o.outDir, scenario, result);
  return result;
}

/**
 * The LiveKit server API of the settings; without them an address where nothing listens, so a
 * transfer fails fast ("a technical problem") as it would against an unreachable server.
 */
function simLiveKit(config: Config): Pick<LiveKitClients, 'sip' | 'rooms'> {
  return createLiveKitClients({
    LIVEKIT_URL: config.LIVEKIT_URL ?? 'http://127.0.0.1:9',
    LIVEKIT_API_KEY: config.LIVEKIT_API_KEY ?? 'simulation',
    LIVEKIT_API_SECRET: config.LIVEKIT_API_SECRET ?? 'simulation',
    LIVEKIT_TIMEOUT_MS: 2000,
  });
}

function isCallerEntry(e: SimTimelineEntry): boolean {
  return e.type === 'caller-line' || e.type === 'hang-up';
}

/** What the script and the transport share: agent activity on the sim clock. */
class ScriptState {
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

/** The simulated line: the same interface as the LiveKit room for the call job. */
class SimTransport implements CallTransport {
  readonly callId: string;
  readonly jobMetadata = '';
  /** The room side: the caller is a participant here too (presence, key presses). */
  readonly media = new SimCallMedia({ keyGapMs: 200 });
  readonly closed: Promise<string>;
  #close!: (reason: string) => void;
  readonly caller: SimCaller;

  constructor(
    scenario: Scenario,
    private readonly clock: SimClock,
    private readonly input: SimAudioInput,
    private readonly output: SimAudioOutput,
    private readonly state: ScriptState,
    private readonly onStart?: (clock: SimClock) => void,
  ) {
    this.callId = `sim-${seedOf(scenario.name).toString(16)}`;
    this.closed = new Promise((r) => {
      this.#close = r;
    });
    this.caller = new SimCaller({
      'sip.callID': 'SCL_sim',
      'sip.trunkID': 'ST_sim',
      'sip.ruleID': 'SDR_sim',
      'sip.callStatus': 'ringing',
      ...(scenario.call.from ? { 'sip.phoneNumber': scenario.call.from } : {}),
      ...(scenario.call.to ? { 'sip.trunkPhoneNumber': scenario.call.to } : {}),
      ...scenario.call.attributes,
    });
    this.caller.onLeave = () => this.media.leave(this.caller.identity);
  }

  async waitForCaller(): Promise<Caller> {
    this.media.join(this.caller.identity, { ...this.caller.attributes() });
    return this.caller;
  }

  async startSession(parts: CallSessionParts, _caller: Caller): Promise<void> {
    const session = parts.session as voice.AgentSession<PhoneSessionData>;
    this.state.watch(session);
    // As a room's AudioStream does: the call's processor runs inside the audio source.
    // (LiveKit Cloud's filter exists only on Cloud room tracks: nothing to run here.)
    const piece = parts.noise?.forRoom();
    this.input.useProcessor(isFrameProcessor(piece) ? piece : undefined);
    session.input.audio = this.input;
    session.output.audio = this.output;
    await session.start({ agent: parts.agent });
    this.clock.start();
    this.onStart?.(this.clock);
    // LiveKit answers an inbound call once the agent's audio track is up.
    this.caller.set({ 'sip.callStatus': 'active' });
  }

  async hangUp(): Promise<void> {
    this.caller.leave('agent hung up');
    this.#close('hung up');
  }

  finish(): void {
    this.#close('simulation over');
  }
}

class SimCaller implements Caller {
  readonly identity = 'sip_caller';
  readonly left: Promise<string>;
  #leave!: (reason: string) => void;
  #attrs: Record<string, string>;
  readonly #listeners = new Set<(a: Readonly<Record<string, string>>) => void>();

  constructor(attrs: Record<string, string>) {
    this.#attrs = { ...attrs };
    this.left = new Promise((r) => {
      this.#leave = r;
    });
  }

  attributes(): Readonly<Record<string, string>> {
    return this.#attrs;
  }

  onAttributesChanged(fn: (a: Readonly<Record<string, string>>) => void): () => void {
    this.#listeners.add(fn);
    return () => this.#listeners.delete(fn);
  }

  /** Told when the caller leaves (the transport's media sees the participant go). */
  onLeave: (() => void) | undefined;

  set(changes: Record<string, string>): void {
    this.#attrs = { ...this.#attrs, ...changes };
    for (const fn of this.#listeners) fn(this.#attrs);
  }

  leave(reason: string): void {
    if (this.#gone) return;
    this.#gone = true;
    this.#leave(reason);
    this.onLeave?.();
  }

  #gone = false;
}

interface ScriptDeps {
  clock: SimClock;
  input: SimAudioInput;
  stt: ScriptedSTT;
  state: ScriptState;
  transport: SimTransport;
  emit: (e: SimTimelineEntry) => void;
}

/** Says the caller's lines when their triggers fire, then hangs up. */
async function runScript(scenario: Scenario, audio: Int16Array[], d: ScriptDeps): Promise<void> {
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
    d.stt.addUtterance({ atMs: at, durationMs: end - at, transcript: line.say ?? '' });
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
    if (trigger.after === 'reply-start') {
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
function scriptedLlm(scenario: Scenario, state: ScriptState): ScriptedLLM {
  const rules = scenario.llm.map((r) => ({
    ...r,
    re: r.match ? new RegExp(r.match, 'i') : undefined,
  }));
  return new ScriptedLLM((turn): ScriptedReply | undefined => {
    if (turn.toolOutput) return undefined; // tools already said what was needed
    const agent = state.currentAgent();
    const rule = rules.find(
      (r) =>
        (!r.agent || r.agent === agent) &&
        (!r.re || r.re.test(turn.userText)) &&
        (!r.handoff || turn.tools.includes(handoffToolName(r.handoff))),
    );
    if (!rule) return undefined;
    if (rule.id) state.replied(rule.id);
    if (rule.handoff) return { toolCalls: [{ name: handoffToolName(rule.handoff), args: {} }] };
    if (rule.tool) {
      return {
        ...(rule.reply ? { text: rule.reply } : {}),
        toolCalls: [{ name: rule.tool, args: rule.args ?? {} }],
      };
    }
    return rule.reply ? { text: rule.reply } : undefined;
  });
}

/** eSpeak renders every known agent sentence before the call, so speech starts without delay. */
async function warmTts(tts: OfflineTTS, scenario: Scenario, agents: AgentsConfig): Promise<void> {
  const texts = [
    ...scenario.llm.map((r) => r.reply),
    ...[...agents.agents.values()].flatMap((a) => [
      a.greeting,
      ...(a.handoffs ?? []).map((h) => h.transition),
    ]),
  ].filter((t): t is string => !!t);
  await tts.warmUp();
  for (const text of texts) {
    // The session synthesises sentence by sentence: warm the same units.
    for (const sentence of text.match(/[^.!?]+[.!?]*/g) ?? [text]) {
      await speak(sentence.trim(), tts.options);
    }
  }
}

/** Caller audio for one line at 8 kHz: its clips and synthesised parts, in order. */
async function callerAudio(line: CallerLineSpec, baseDir: string): Promise<Int16Array> {
  if (line.say === undefined) return new Int16Array(0); // keys only
  const say = line.say;
  const voiceOpts = { voice: line.voice ?? 'en-us+m3', rate: 165, sampleRate: PHONE_SAMPLE_RATE };
  const parts: Int16Array[] = [];
  for (const part of line.audio ?? [{ tts: say }]) {
    if (typeof part === 'string') {
      const file = resolve(baseDir, part);
      if (existsSync(file)) {
        const wav = readWav(file);
        parts.push(resample(toMono(wav), wav.sampleRate, PHONE_SAMPLE_RATE));
        continue;
      }
      // A missing clip must not break the demo: say the line's words instead.
      parts.push((await speak(say, voiceOpts)).samples);
      continue;
    }
    parts.push(
      'synthetic' in part
        ? syntheticSpeech(part.synthetic, PHONE_SAMPLE_RATE)
        : (await speak(part.tts, voiceOpts)).samples,
    );
  }
  // 120 ms between parts, like a breath between "wait" and the rest of the sentence.
  const gap = new Int16Array(Math.round(PHONE_SAMPLE_RATE * 0.12));
  return concat(parts.flatMap((p, i) => (i === 0 ? [p] : [gap, p])));
}

function lineNoise(
  kind: NoiseKind,
  snrDb: number,
  speechRms: number,
  seedText: string,
): Int16Array {
  // 10 s of it, looped under the call.
  return mixNoise(new Int16Array(PHONE_SAMPLE_RATE * 10), kind, snrDb, speechRms, seedOf(seedText));
}

/**
 * LiveKit's local end-of-turn model, run in this process. A worker runs it in its shared
 * inference process; here there is no job, so the simulator hands the detector an executor
 * that calls the same native model directly.
 */
function localTurnDetector(): (() => inference.TurnDetector) | undefined {
  let mod: typeof import('@livekit/local-inference');
  try {
    mod = createRequire(import.meta.url)('@livekit/local-inference');
    mod.initEot();
  } catch {
    return undefined; // model unavailable on this platform: VAD endpointing
  }
  const executor: ipc.InferenceExecutor = {
    async doInference(method, data) {
      if (method !== 'lk_eot_audio') throw new Error(`no local runner for ${method}`);
      const bytes = Buffer.from((data as { pcm: string }).pcm, 'base64');
      const pcm = new Int16Array(bytes.buffer, bytes.byteOffset, bytes.byteLength >> 1);
      const t0 = performance.now();
      const probability = await mod.predict(pcm);
      return { probability, inferenceDurationMs: performance.now() - t0 };
    },
  };
  return () =>
    new inference.TurnDetector({ version: 'v1-mini', sampleRate: PHONE_SAMPLE_RATE, executor });
}

/** Did the agent do what each line expected? Read from when agent audio actually played. */
function checkExpectations(
  timeline: SimTimelineEntry[],
  playing: ReturnType<SimAudioOutput['playingIntervals']>,
): SimResult['checks'] {
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

function writeOutputs(
  outDir: string,
  scenario: Scenario,
  r: SimResult,
): { wav: string; json: string } {
  mkdirSync(outDir, { recursive: true });
  const wav = join(outDir, 'call.wav');
  const json = join(outDir, 'timeline.json');
  const n = Math.max(r.recording.caller.length, r.recording.agent.length);
  const pad = (x: Int16Array) => {
    const out = new Int16Array(n);
    out.set(x);
    return out;
  };
  writeWav(wav, {
    sampleRate: RECORD_RATE,
    channels: 2,
    samples: interleave([pad(r.recording.caller), pad(r.recording.agent)]),
  });
  const { recording: _, files: __, ...rest } = r;
  writeFileSync(json, `${JSON.stringify({ scenario: scenario.name, ...rest }, null, 2)}\n`);
  return { wav, json };
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

export function formatSummary(r: SimResult): string {
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
