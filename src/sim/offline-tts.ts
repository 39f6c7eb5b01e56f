/**
 * Offline text-to-speech for the simulator and the demo: eSpeak NG compiled to JavaScript
 * (`@echogarden/espeak-ng-emscripten`, a devDependency), so a fresh machine without network or
 * system packages can still hear the agent. Robotic, but real speech: it exercises the same
 * playout, interruption and recording paths as ElevenLabs does on a real call.
 *
 * One eSpeak instance per process (loading costs ~0.3 s); synthesis is synchronous (~50 ms a
 * sentence once warm), which is why the session gets it sentence by sentence (non-streaming
 * TTS → the framework's sentence StreamAdapter). Results are cached: greetings and transitions
 * repeat across turns and calls.
 */
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import type { ESpeakNGWorker } from '@echogarden/espeak-ng-emscripten';
import { type APIConnectOptions, tts } from '@livekit/agents';
import { AudioFrame, AudioResampler, AudioResamplerQuality } from '@livekit/rtc-node';
import { concat } from '../core/wav.js';
import { deliverFrames } from './tts-frames.js';

export interface OfflineVoice {
  /** eSpeak voice with optional variant: `en-us`, `en-us+f3`, `en-gb+m3`. */
  voice: string;
  /** Words per minute. */
  rate: number;
  /** 0–100. */
  pitch: number;
}

export interface OfflineTTSOptions extends OfflineVoice {
  /** Output sample rate (eSpeak renders at 22050 Hz and is resampled). */
  sampleRate: number;
}

export const offlineTtsDefaults = {
  voice: 'en-us+f3',
  rate: 175,
  pitch: 50,
  sampleRate: 16000,
} as const satisfies OfflineTTSOptions;

const CACHE_MAX = 256;

let enginePromise: Promise<ESpeakNGWorker> | undefined;

/** The process-wide eSpeak instance (loaded on first use; a failed load is retried next time). */
function loadEspeak(): Promise<ESpeakNGWorker> {
  enginePromise ??= (async () => {
    // Resolved by path so the package is only needed where the simulator runs (a devDependency).
    const entry = createRequire(import.meta.url).resolve('@echogarden/espeak-ng-emscripten');
    const mod = (await import(
      pathToFileURL(entry).href
    )) as typeof import('@echogarden/espeak-ng-emscripten');
    const m = await mod.default({ print() {}, printErr() {} });
    return new m.eSpeakNGWorker();
  })();
  enginePromise.catch(() => {
    enginePromise = undefined;
  });
  return enginePromise;
}

const cache = new Map<string, Int16Array>();

/** Speaks `text` as mono PCM16 at `sampleRate`. */
export async function speak(
  text: string,
  opts: Partial<OfflineTTSOptions> = {},
): Promise<{ samples: Int16Array; sampleRate: number }> {
  const o = { ...offlineTtsDefaults, ...opts };
  const key = `${o.voice}|${o.rate}|${o.pitch}|${o.sampleRate}|${text}`;
  let samples = cache.get(key);
  if (!samples) {
    const engine = await loadEspeak();
    if (engine.set_voice(o.voice) !== 0) throw new Error(`eSpeak has no voice "${o.voice}"`);
    engine.set_rate(o.rate);
    engine.set_pitch(o.pitch);
    const chunks: Int16Array[] = [];
    engine.synthesize(text, (pcm) => {
      chunks.push(pcm);
      return false;
    });
    samples = resampleTo(concat(chunks), engine.samplerate, o.sampleRate);
    if (cache.size >= CACHE_MAX) cache.delete(cache.keys().next().value as string);
    cache.set(key, samples);
  }
  return { samples, sampleRate: o.sampleRate };
}

/** A non-streaming `tts.TTS` over eSpeak (the session adapts it sentence by sentence). */
export class OfflineTTS extends tts.TTS {
  label = 'sim.OfflineTTS';
  readonly options: OfflineTTSOptions;

  constructor(opts: Partial<OfflineTTSOptions> = {}) {
    const o = { ...offlineTtsDefaults, ...opts };
    super(o.sampleRate, 1, { streaming: false });
    this.options = o;
  }

  /** Loads eSpeak and renders one phrase, so the first real sentence is not slow. */
  async warmUp(): Promise<void> {
    await speak('Hello.', this.options);
  }

  synthesize(
    text: string,
    connOptions?: APIConnectOptions,
    abortSignal?: AbortSignal,
  ): tts.ChunkedStream {
    return new OfflineChunkedStream(this, text, connOptions, abortSignal);
  }

  stream(): tts.SynthesizeStream {
    throw new Error('OfflineTTS does not stream; the session wraps it in a StreamAdapter');
  }
}

class OfflineChunkedStream extends tts.ChunkedStream {
  label = 'sim.OfflineChunkedStream';
  readonly #tts: OfflineTTS;

  constructor(
    engine: OfflineTTS,
    text: string,
    connOptions?: APIConnectOptions,
    abortSignal?: AbortSignal,
  ) {
    super(text, engine, connOptions, abortSignal);
    this.#tts = engine;
  }

  protected async run(): Promise<void> {
    try {
      const text = this.inputText.trim();
      if (!text) return;
      const { samples, sampleRate } = await speak(text, this.#tts.options);
      if (this.abortController.signal.aborted) return;
      // All at once: eSpeak renders a sentence before any of it can be played.
      await deliverFrames((a) => this.queue.put(a), samples, sampleRate, {
        speedup: 0,
        signal: this.abortController.signal,
      });
    } finally {
      this.queue.close();
    }
  }
}

/** Band-limited resampling (LiveKit's native resampler), so 22 kHz speech does not alias at 8 kHz. */
function resampleTo(samples: Int16Array, from: number, to: number): Int16Array {
  if (from === to || samples.length === 0) return samples;
  const r = new AudioResampler(from, to, 1, AudioResamplerQuality.HIGH);
  try {
    const frames = [...r.push(new AudioFrame(samples, from, 1, samples.length)), ...r.flush()];
    return concat(frames.map((f) => f.data));
  } finally {
    r.close();
  }
}
