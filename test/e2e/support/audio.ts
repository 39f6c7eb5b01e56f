/**
 * What a phone's recordings say: when there was speech (the provider stand-in's speech detector,
 * the one the STT stand-in hears with), and caller audio made with the project's eSpeak voice.
 */
import { readWav, writeWav } from '../../../src/core/wav.js';
import { speak } from '../../../src/sim/offline-tts.js';
import { detectSegments } from '../../../stack/providers/speech-detector.js';

const RATE = 8000;

export interface Segment {
  /** Seconds from the start of the recording. */
  start: number;
  end: number;
}

/** Speech in a phone recording (8 kHz WAV), as segments in seconds. */
export function speechIn(file: string): Segment[] {
  const wav = readWav(file);
  return detectSegments(wav.samples, { sampleRate: wav.sampleRate }).map((s) => ({
    start: s.onsetSample / wav.sampleRate,
    end: s.offsetSample / wav.sampleRate,
  }));
}

/** Mean absolute level of a recording between two instants (s): silence is well under 30. */
export function levelBetween(file: string, from: number, to: number): number {
  const wav = readWav(file);
  const a = Math.max(0, Math.floor(from * wav.sampleRate));
  const b = Math.min(wav.samples.length, Math.floor(to * wav.sampleRate));
  if (b <= a) return 0;
  let sum = 0;
  for (let i = a; i < b; i++) sum += Math.abs(wav.samples[i]!);
  return sum / (b - a);
}

/** Length of a recording in seconds. */
export function durationOf(file: string): number {
  const wav = readWav(file);
  return wav.samples.length / wav.sampleRate;
}

/**
 * A caller's microphone: each line spoken by eSpeak at 8 kHz, at its second from the start,
 * silence between; written to `file`. Returns each line's [start, end] in seconds.
 */
export async function callerWav(
  file: string,
  lines: Array<{ at: number; text: string }>,
  voice = 'en-us+m3',
): Promise<Segment[]> {
  const rendered = await Promise.all(
    lines.map(async (l) => ({
      at: l.at,
      samples: (await speak(l.text, { voice, rate: 165, sampleRate: RATE })).samples,
    })),
  );
  const end = Math.max(...rendered.map((r) => r.at * RATE + r.samples.length)) + RATE;
  const out = new Int16Array(end);
  const spans: Segment[] = [];
  for (const r of rendered) {
    const at = Math.round(r.at * RATE);
    out.set(r.samples, at);
    spans.push({ start: r.at, end: r.at + r.samples.length / RATE });
  }
  writeWav(file, { sampleRate: RATE, channels: 1, samples: out });
  return spans;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `check` until it returns a value (not undefined), or fails after `timeoutMs`. */
export async function until<T>(
  what: string,
  check: () => T | undefined | Promise<T | undefined>,
  timeoutMs = 20_000,
): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(100);
  }
}

/**
 * Throws `what` when `ok` is false. For checks in flows that both a test and
 * `npm run bench:reliability` run: vitest's `expect` works only inside vitest, and the bench
 * reports the first failed check of a run as the reason it failed.
 */
export function check(ok: boolean, what: string): asserts ok {
  if (!ok) throw new Error(what);
}

/**
 * Renders `texts` with the TTS stand-in's voice (ElevenLabs `pcm_16000`, as the worker asks for)
 * into its cache now, so when the agent says one of them the stand-in answers at once, as a real
 * TTS's first audio does (a few hundred ms), instead of after eSpeak's synthesis on a busy CPU
 * (0.2–1.6 s on the 2-core test machine): measured latencies are then the product's.
 */
export async function primeTtsStandIn(
  tts: { options: { defaultVoice: string; rate: number } },
  texts: string[],
): Promise<void> {
  for (const text of texts) {
    await speak(text, {
      voice: tts.options.defaultVoice,
      rate: tts.options.rate,
      sampleRate: 16000,
    });
  }
}
