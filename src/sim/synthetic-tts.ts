/**
 * A timing-only TTS for simulations: audio of a chosen duration for any text (a quiet,
 * syllable-modulated tone, so it is audible in recordings but never mistaken for words).
 * Use it where only *when* the agent speaks matters; the offline demo uses the espeak TTS.
 */
import { ReadableStream } from 'node:stream/web';
import { type APIConnectOptions, DEFAULT_API_CONNECT_OPTIONS, tts } from '@livekit/agents';
import type { AudioFrame } from '@livekit/rtc-node';
import { type DeliveryOptions, deliverFrames, framesOf } from './tts-frames.js';

export interface SyntheticTTSOptions {
  sampleRate?: number;
  /** Spoken length per character of text (default 60 ms ≈ 16 characters a second). */
  msPerChar?: number;
  /** Shortest utterance (default 400 ms). */
  minMs?: number;
  /** Override the duration of specific texts (trimmed text → ms). */
  durations?: ReadonlyMap<string, number>;
  /** Delivery pace as a multiple of real time (default 4; see `DeliveryOptions`). */
  speedup?: DeliveryOptions['speedup'];
}

/** PCM16 mono "speech-like" audio of `durationMs` at `sampleRate`. */
export function syntheticSpeech(durationMs: number, sampleRate = 8000, phase = 0): Int16Array {
  const n = Math.round((durationMs * sampleRate) / 1000);
  const out = new Int16Array(n);
  const period = periodOf(sampleRate);
  if (!period) {
    for (let i = 0; i < n; i++) out[i] = sampleAt((i + phase) / sampleRate);
    return out;
  }
  // Tiled from one period: computing every sample of a 13 s reply was a CPU burst in every
  // simulated call at the moment the agent starts to speak, which a real TTS does not cost.
  let at = ((phase % period.length) + period.length) % period.length;
  for (let i = 0; i < n; ) {
    const run = Math.min(n - i, period.length - at);
    out.set(period.subarray(at, at + run), i);
    i += run;
    at = 0;
  }
  return out;
}

function sampleAt(t: number): number {
  const envelope = 0.55 + 0.45 * Math.sin(2 * Math.PI * 4 * t); // ~4 syllables a second
  const tone = Math.sin(2 * Math.PI * 180 * t) + 0.5 * Math.sin(2 * Math.PI * 360 * t);
  return Math.round(2200 * envelope * tone);
}

const periods = new Map<number, Int16Array | undefined>();

/** One 250 ms period of the signal (4, 180 and 360 Hz all repeat), if whole at this rate. */
function periodOf(sampleRate: number): Int16Array | undefined {
  if (!periods.has(sampleRate)) {
    const len = sampleRate / 4;
    periods.set(
      sampleRate,
      Number.isInteger(len)
        ? Int16Array.from({ length: len }, (_, i) => sampleAt(i / sampleRate))
        : undefined,
    );
  }
  return periods.get(sampleRate);
}

/** A stream of `durationMs` of synthetic speech, for `session.say(text, { audio })`. */
export function syntheticSpeechStream(
  durationMs: number,
  sampleRate = 8000,
): ReadableStream<AudioFrame> {
  return ReadableStream.from(framesOf(syntheticSpeech(durationMs, sampleRate), sampleRate));
}

export class SyntheticTTS extends tts.TTS {
  label = 'sim.SyntheticTTS';
  readonly opts: Required<Omit<SyntheticTTSOptions, 'durations'>> & {
    durations: ReadonlyMap<string, number>;
  };

  constructor(opts: SyntheticTTSOptions = {}) {
    const sampleRate = opts.sampleRate ?? 8000;
    super(sampleRate, 1, { streaming: false });
    this.opts = {
      sampleRate,
      msPerChar: opts.msPerChar ?? 60,
      minMs: opts.minMs ?? 400,
      speedup: opts.speedup ?? 4,
      durations: opts.durations ?? new Map(),
    };
  }

  /** How long `text` is spoken. */
  durationFor(text: string): number {
    const key = text.trim();
    return (
      this.opts.durations.get(key) ?? Math.max(this.opts.minMs, key.length * this.opts.msPerChar)
    );
  }

  synthesize(
    text: string,
    connOptions?: APIConnectOptions,
    abortSignal?: AbortSignal,
  ): tts.ChunkedStream {
    return new SyntheticChunkedStream(this, text, connOptions, abortSignal);
  }

  stream(): tts.SynthesizeStream {
    throw new Error('SyntheticTTS is not streaming; the framework wraps it in a StreamAdapter');
  }
}

class SyntheticChunkedStream extends tts.ChunkedStream {
  label = 'sim.SyntheticChunkedStream';
  private readonly synth: SyntheticTTS;

  constructor(
    synth: SyntheticTTS,
    text: string,
    connOptions?: APIConnectOptions,
    abortSignal?: AbortSignal,
  ) {
    super(text, synth, connOptions ?? DEFAULT_API_CONNECT_OPTIONS, abortSignal);
    this.synth = synth;
  }

  protected async run(): Promise<void> {
    const rate = this.synth.opts.sampleRate;
    const samples = syntheticSpeech(this.synth.durationFor(this.inputText), rate);
    await deliverFrames((a) => this.queue.put(a), samples, rate, {
      speedup: this.synth.opts.speedup,
      signal: this.abortSignal,
    });
  }
}
