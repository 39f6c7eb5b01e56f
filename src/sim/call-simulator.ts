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
import { mkdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';
import type { ipc, tts, VAD, voice } from '@livekit/agents';
import { type AgentsConfig, loadAgentsFile } from '../agents/agents-file.js';
import { type CodeToolRegistry, defaultCodeTools } from '../agents/code-tools.js';
import { createLLM, createTurnDetector, PHONE_SAMPLE_RATE } from '../agents/providers.js';
import type { PhoneSessionData } from '../agents/session-data.js';
import { type CallJobOptions, runCallJob } from '../call/call-job.js';
import type { CallMetrics, CallSummary } from '../call/call-metrics.js';
import type { CallReporter, WorkerEventType } from '../call/call-report.js';
import {
  createPhoneSessionFactory,
  phoneSessionDeps,
  type SessionModels,
  type TelephonyDeps,
  telephonyDeps,
} from '../call/session.js';
import type { Config } from '../core/config.js';
import { createLiveKitClients, type LiveKitClients } from '../core/livekit.js';
import type { Logger } from '../core/logger.js';
import { concat, interleave, writeWav } from '../core/wav.js';
import { controllerOf, type DecisionRecord } from '../telephony/interruption/index.js';
import type { NoiseSuppression } from '../telephony/noise/index.js';
import { SimAudioInput } from './audio-input.js';
import { type PlayingInterval, SimAudioOutput } from './audio-output.js';
import { callerAudio, lineNoise } from './caller-audio.js';
import { runScript, ScriptState, scriptedLlm } from './caller-script.js';
import { LagMonitor, type LagStats, SimClock } from './clock.js';
import { activeRms } from './noise.js';
import { OfflineTTS, speak } from './offline-tts.js';
import type { Scenario } from './scenario.js';
import { ScriptedSTT, type ScriptedSttEvent, type SttTiming } from './scripted-stt.js';
import { SimTransport } from './sim-transport.js';
import { checkExpectations, type ExpectationCheck, type SimTimelineEntry } from './timeline.js';

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
  /** Each caller line's audio at 8 kHz, already rendered (default: from the scenario's `audio`). */
  callerAudio?: Int16Array[];
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
  const lines =
    o.callerAudio ?? (await Promise.all(scenario.caller.map((l) => callerAudio(l, baseDir))));
  const tts = o.tts ?? new OfflineTTS();
  if (tts instanceof OfflineTTS) await warmTts(tts, scenario, agents);
  // The noise level is set against all of the caller's speech, as the scenario's SNR says.
  const speech = concat(lines);
  const background = scenario.noise
    ? lineNoise(
        scenario.noise.kind,
        scenario.noise.snrDb,
        speech.length > 0 ? activeRms(speech, PHONE_SAMPLE_RATE) : 3000,
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
  /** The scripted STT's timing model (default: the spec's, docs/interruption-scenarios.md). */
  sttTiming?: Partial<SttTiming>;
  /** Called with the call's session before it starts (to listen to its events). */
  onSession?: (session: voice.AgentSession<PhoneSessionData>, sim: SimSessionContext) => void;
  /** The job metadata the call is dispatched with (src/core/job-metadata.ts; e.g. a `resume`). */
  jobMetadata?: string;
}

/** What a session listener can read of the simulation while the call runs. */
export interface SimSessionContext {
  clock: SimClock;
  stt: ScriptedSTT;
  /** The caller line of each utterance given to the STT, in order. */
  lineOfUtterance: readonly number[];
}

export interface SimResult {
  summary: CallSummary;
  timeline: SimTimelineEntry[];
  /** Checks of the caller lines' `expect`: true when the agent did the expected thing. */
  checks: ExpectationCheck[];
  /** Event-loop lag during the call (unless `measureLag: false`). */
  lag?: LagStats;
  files?: { wav: string; json: string };
  /** The caller (left) and agent (right) tracks at 8 kHz. */
  recording: { caller: Int16Array; agent: Int16Array };
  /** When agent audio was audibly playing, on the call's clock. */
  intervals: PlayingInterval[];
  /** The agent's first speech start on the call's clock (undefined: it never spoke). */
  firstSpeechMs: number | undefined;
  /** What the STT sent when, and which caller line each utterance was. */
  stt: { schedule: readonly ScriptedSttEvent[]; lineOfUtterance: readonly number[] };
  /** The interruption policy's decisions (Date.now() stamps; `clock.epochAt(0)` is the clock's 0). */
  decisions: readonly DecisionRecord[];
  /** Date.now() of the call clock's 0. */
  clockEpochMs: number;
}

const RECORD_RATE = 8000;

/**
 * HTTP tools' signing secrets (`secretEnv`) are only needed to call real endpoints, which a
 * simulation does not reach: an unset one reads as a placeholder instead of failing the load.
 */
export const simEnv: NodeJS.ProcessEnv = new Proxy(process.env, {
  get: (env, name) =>
    typeof name === 'string' ? (env[name] ?? 'simulation-placeholder') : undefined,
});

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
  const stt = new ScriptedSTT({ clock, ...(o.sttTiming ? { timing: o.sttTiming } : {}) });
  const lineOfUtterance: number[] = [];
  const state = new ScriptState(clock);
  const llmModel =
    config.LLM_BASE_URL && o.llm !== 'scenario'
      ? createLLM({ ...config, OPENAI_API_KEY: config.OPENAI_API_KEY ?? 'none' })
      : scriptedLlm(scenario, state);

  const executor = o.turnDetection === 'local' ? localTurnExecutor() : undefined;
  const createSession = createPhoneSessionFactory(
    phoneSessionDeps(
      config,
      { agents, codeTools, vad: o.vad, ...(o.noise ? { noise: o.noise } : {}), log: o.log },
      {
        telephony: prepared.telephony,
        models: (): SessionModels => ({ stt, llm: llmModel, tts }),
        ...(executor ? { turnDetector: () => createTurnDetector(executor) } : {}),
        env: simEnv,
      },
    ),
  );
  // The policy's record of its decisions (bound to the session before it starts).
  let decisions: readonly DecisionRecord[] = [];
  const transport = new SimTransport(
    scenario,
    clock,
    input,
    output,
    (s) => {
      decisions = controllerOf(s)?.decisions ?? [];
      state.watch(s);
      o.onSession?.(s, { clock, stt, lineOfUtterance });
    },
    o.onStart,
  );
  if (o.jobMetadata) transport.jobMetadata = o.jobMetadata;
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
  const script = runScript(scenario, lines, {
    clock,
    input,
    stt,
    state,
    transport,
    emit,
    lineOfUtterance,
  });
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
  const intervals = output.playingIntervals(endMs);
  const checks = checkExpectations(timeline, intervals);
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
    intervals,
    firstSpeechMs: state.speechStarts[0],
    stt: { schedule: stt.schedule, lineOfUtterance },
    decisions,
    clockEpochMs: clock.epochAt(0),
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

/** Loaded once per process: null = not tried yet, undefined = not available here. */
let turnExecutor: ipc.InferenceExecutor | undefined | null = null;

/**
 * Runs LiveKit's local end-of-turn model in this process. A worker runs it in its shared
 * inference process; a simulation has no job, so the detector gets an executor that calls the
 * same native model directly. Undefined when the model is not available on this platform (the
 * session then ends turns on VAD silence).
 */
function localTurnExecutor(): ipc.InferenceExecutor | undefined {
  if (turnExecutor !== null) return turnExecutor;
  let mod: typeof import('@livekit/local-inference');
  try {
    mod = createRequire(import.meta.url)('@livekit/local-inference');
    mod.initEot();
  } catch {
    turnExecutor = undefined;
    return undefined;
  }
  turnExecutor = {
    async doInference(method, data) {
      if (method !== 'lk_eot_audio') throw new Error(`no local runner for ${method}`);
      const bytes = Buffer.from((data as { pcm: string }).pcm, 'base64');
      const pcm = new Int16Array(bytes.buffer, bytes.byteOffset, bytes.byteLength >> 1);
      const t0 = performance.now();
      const probability = await mod.predict(pcm);
      return { probability, inferenceDurationMs: performance.now() - t0 };
    },
  };
  return turnExecutor;
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
