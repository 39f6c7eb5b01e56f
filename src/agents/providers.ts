/**
 * The model providers of a phone session, each configured from the environment (src/agents/
 * settings.ts), each failing with ConfigError naming the missing variable:
 *
 * - STT: Deepgram at 8 kHz (phone audio is narrowband; sending 16 kHz would only upsample it),
 *   nova-3 by default, with the agent's keyterms.
 * - TTS: ElevenLabs as `pcm_16000` (the only narrow PCM format the plugin decodes; LiveKit
 *   resamples to the line), voice per agent.
 * - LLM: the OpenAI plugin against any OpenAI-compatible server (`LLM_BASE_URL`).
 * - VAD: Silero at 8 kHz with thresholds for phone lines.
 * - Turn detector: LiveKit's local `v1-mini` model (the default would call LiveKit's cloud).
 */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { inference, type ipc, type VAD } from '@livekit/agents';
import * as deepgram from '@livekit/agents-plugin-deepgram';
import * as elevenlabs from '@livekit/agents-plugin-elevenlabs';
import * as openai from '@livekit/agents-plugin-openai';
import * as silero from '@livekit/agents-plugin-silero';
import { InferenceSession } from 'onnxruntime-node';
import type { Config } from '../core/config.js';
import { ConfigError } from '../core/errors.js';
import { gateSileroSession, type SilenceGateStats } from '../telephony/silence-gate.js';
import type { AgentSpec } from './agents-schema.js';
import type { AgentModels } from './phone-agent.js';

export type ProviderSettings = Pick<
  Config,
  | 'DEEPGRAM_API_KEY'
  | 'DEEPGRAM_MODEL'
  | 'DEEPGRAM_LANGUAGE'
  | 'DEEPGRAM_BASE_URL'
  | 'ELEVEN_API_KEY'
  | 'ELEVEN_BASE_URL'
  | 'ELEVEN_MODEL'
  | 'ELEVEN_VOICE_ID'
  | 'OPENAI_API_KEY'
  | 'LLM_BASE_URL'
  | 'LLM_MODEL'
  | 'LLM_TEMPERATURE'
  | 'VAD_ACTIVATION_THRESHOLD'
  | 'VAD_SILENCE_GATE'
>;

/** Audio rate of the phone line (G.711). */
export const PHONE_SAMPLE_RATE = 8000;

/**
 * Silero settings for phone lines (ms). `npm run bench:vad` (corpus clips over pink line noise at
 * 20/10/5 dB SNR, 8 kHz) detected every word and had no false start on coughs, breaths or line
 * noise at thresholds 0.5–0.7 with 50 or 100 ms minimum speech; a 100 ms minimum only added
 * ~64 ms of detection latency, so the library's 50 ms stays. The threshold (VAD_ACTIVATION_THRESHOLD,
 * 0.6) keeps a margin above 0.5 for echo and crosstalk, at 0–32 ms of latency. Less prefix
 * padding (narrowband audio), and a shorter silence since the turn detector decides the end of
 * the turn anyway.
 */
export const phoneVadDefaults = {
  minSpeechDuration: 50,
  minSilenceDuration: 450,
  prefixPaddingDuration: 300,
  // The plugin's own limit: one minute of speech kept for the STT's padding.
  maxBufferedSpeech: 60_000,
  sampleRate: PHONE_SAMPLE_RATE,
  forceCPU: true,
} as const satisfies Omit<
  Required<NonNullable<Parameters<typeof silero.VAD.load>[0]>>,
  'activationThreshold'
>;

function required(name: keyof ProviderSettings, value: string | undefined, what: string): string {
  if (!value) throw new ConfigError(`${name} is required for ${what}`);
  return value;
}

export function createSTT(s: ProviderSettings, opts: { keyterms?: readonly string[] } = {}) {
  return new deepgram.STT({
    apiKey: required('DEEPGRAM_API_KEY', s.DEEPGRAM_API_KEY, 'speech-to-text (Deepgram)'),
    model: s.DEEPGRAM_MODEL,
    language: s.DEEPGRAM_LANGUAGE,
    sampleRate: PHONE_SAMPLE_RATE,
    keyterm: [...(opts.keyterms ?? [])],
    // Spoken numbers come back as digits ("five five five" → 555): easier for tools.
    numerals: true,
    ...(s.DEEPGRAM_BASE_URL ? { baseUrl: s.DEEPGRAM_BASE_URL.replace(/\/$/, '') } : {}),
  });
}

export function createTTS(s: ProviderSettings, opts: { voice?: string } = {}) {
  return new elevenlabs.TTS({
    apiKey: required('ELEVEN_API_KEY', s.ELEVEN_API_KEY, 'text-to-speech (ElevenLabs)'),
    model: s.ELEVEN_MODEL,
    voiceId: opts.voice ?? s.ELEVEN_VOICE_ID,
    encoding: 'pcm_16000',
    ...(s.ELEVEN_BASE_URL ? { baseURL: s.ELEVEN_BASE_URL.replace(/\/$/, '') } : {}),
  });
}

export function createLLM(s: ProviderSettings) {
  return new openai.LLM({
    apiKey: required('OPENAI_API_KEY', s.OPENAI_API_KEY, 'the LLM (OpenAI-compatible server)'),
    model: s.LLM_MODEL,
    temperature: s.LLM_TEMPERATURE,
    ...(s.LLM_BASE_URL ? { baseURL: s.LLM_BASE_URL } : {}),
  });
}

/**
 * Loads the Silero model (~2 MB ONNX, CPU); call once per process (worker prewarm). The model's
 * session is the plugin's (same file, same single-threaded CPU options), behind the silence gate
 * (src/telephony/silence-gate.ts) unless VAD_SILENCE_GATE is off.
 */
export async function loadVAD(
  s: Pick<ProviderSettings, 'VAD_ACTIVATION_THRESHOLD' | 'VAD_SILENCE_GATE'>,
  stats?: SilenceGateStats,
): Promise<VAD> {
  const session = await InferenceSession.create(sileroModelFile(), {
    interOpNumThreads: 1,
    intraOpNumThreads: 1,
    executionMode: 'sequential',
    executionProviders: [{ name: 'cpu' }],
  });
  return new silero.VAD(
    s.VAD_SILENCE_GATE ? gateSileroSession(session, undefined, stats) : session,
    {
      ...phoneVadDefaults,
      activationThreshold: s.VAD_ACTIVATION_THRESHOLD,
    },
  );
}

/** The Silero model the plugin ships (beside its entry file). */
function sileroModelFile(): string {
  return join(
    dirname(createRequire(import.meta.url).resolve('@livekit/agents-plugin-silero')),
    'silero_vad.onnx',
  );
}

/**
 * LiveKit's local end-of-turn model. A worker's job runs it in the worker's shared inference
 * process; the simulator passes an executor that runs the same native model in its own process.
 * It keeps its own model rate (it resamples the 8 kHz line audio itself).
 */
export function createTurnDetector(executor?: ipc.InferenceExecutor) {
  return new inference.TurnDetector({ version: 'v1-mini', ...(executor ? { executor } : {}) });
}

/** The session-wide models: STT, TTS and LLM with the defaults of the environment. */
export function sessionModels(s: ProviderSettings) {
  return { stt: createSTT(s), tts: createTTS(s), llm: createLLM(s) };
}

/**
 * Per-agent models for the agent factory: an agent with its own voice gets its own TTS, one
 * with keyterms its own STT; others use the session's. One instance per distinct setting.
 */
export function agentModels(s: ProviderSettings): (spec: AgentSpec) => AgentModels {
  const voices = new Map<string, ReturnType<typeof createTTS>>();
  return (spec) => {
    const models: AgentModels = {};
    if (spec.voice && spec.voice !== s.ELEVEN_VOICE_ID) {
      const voice = voices.get(spec.voice) ?? createTTS(s, { voice: spec.voice });
      voices.set(spec.voice, voice);
      models.tts = voice;
    }
    if (spec.keyterms?.length) models.stt = createSTT(s, { keyterms: spec.keyterms });
    return models;
  };
}
