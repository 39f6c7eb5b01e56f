/**
 * Helpers of the transfer end-to-end tests (test/e2e/*transfer*): who a phone heard, told apart
 * by test signals. The caller's phone sends a 440 Hz tone, the human's (or the transfer
 * destination's) 1 kHz, the agent's hold audio is the default two-note chime
 * (src/telephony/transfer/hold-audio.ts), and anything loud that is none of these (for
 * longer than a burst edge) is speech: the agent's or the consultation's voice.
 *
 * A phone's recordings are written as the audio arrives (baresip's sndfile), so the length of a
 * recording at some moment is where that moment is in it: `position(file)` marks instants on the
 * recording's own time line, with none of the offsets between wall clock and recording.
 */
import { existsSync } from 'node:fs';
import { writeWav } from '../../../src/core/wav.js';
import type { ScriptedTurn } from '../../../src/sim/scripted-llm.js';
import { readWav, toneShare } from '../../../stack/audio.js';
import { durationOf } from '../../../stack/phone-audio.js';
import type { Phone, Recording } from '../../../stack/phones.js';

export const CALLER_HZ = 440;
export const HUMAN_HZ = 1000;
/** The default hold chime's notes, E5 and C5. */
export const CHIME_HZ = [659.25, 523.25] as const;

const RATE = 8000;
const WINDOW_S = 0.1;
/** -40 dBFS: quieter windows count as silence. */
const MIN_RMS = 0.01;

/** A continuous sine of `hz` (amplitude 0.3) for `seconds`, 8 kHz mono PCM16. */
export function writeSignalWav(file: string, hz: number, seconds: number): void {
  const n = Math.round(seconds * RATE);
  const samples = new Int16Array(n);
  for (let i = 0; i < n; i++) {
    samples[i] = Math.round(0.3 * 32767 * Math.sin((2 * Math.PI * hz * i) / RATE));
  }
  writeWav(file, { sampleRate: RATE, channels: 1, samples });
}

/** What a stretch of a recording holds, in seconds of 100 ms windows. */
export interface HeardMix {
  seconds: number;
  quiet: number;
  /** Per test signal (Hz): windows where it holds at least half the energy. */
  tone: Record<number, number>;
  /** Windows where the hold chime's two notes hold at least half the energy. */
  chime: number;
  /** Loud windows that are none of the above, in runs of at least 0.3 s (speech). */
  other: number;
  /** The same, every such window (a burst's edge, a codec glitch included). */
  otherAny: number;
}

/**
 * Classifies each 100 ms window of `file` between `fromS` and `toS` (seconds of the recording):
 * quiet, one of the `tones`, the hold chime, or other (speech).
 */
export function heardMix(
  file: string,
  fromS: number,
  toS: number,
  tones: readonly number[] = [CALLER_HZ, HUMAN_HZ],
): HeardMix {
  const { samples, sampleRate } = readWav(file);
  const win = Math.round(sampleRate * WINDOW_S);
  const start = Math.max(0, Math.floor(fromS * sampleRate));
  const end = Math.min(samples.length, Math.floor(toS * sampleRate));
  const mix: HeardMix = {
    seconds: 0,
    quiet: 0,
    tone: Object.fromEntries(tones.map((t) => [t, 0])),
    chime: 0,
    other: 0,
    otherAny: 0,
  };
  let run = 0;
  const endRun = () => {
    if (run >= 3) mix.other += run * WINDOW_S;
    run = 0;
  };
  for (let i = start; i + win <= end; i += win) {
    mix.seconds += WINDOW_S;
    let e = 0;
    for (let j = i; j < i + win; j++) e += samples[j]! * samples[j]!;
    if (Math.sqrt(e / win) < MIN_RMS) {
      mix.quiet += WINDOW_S;
      endRun();
      continue;
    }
    const tone = tones.find((hz) => toneShare(samples, i, win, hz, sampleRate) >= 0.5);
    if (tone !== undefined) {
      mix.tone[tone] = (mix.tone[tone] ?? 0) + WINDOW_S;
      endRun();
      continue;
    }
    const chime = CHIME_HZ.reduce((s, hz) => s + toneShare(samples, i, win, hz, sampleRate), 0);
    if (chime >= 0.5) {
      mix.chime += WINDOW_S;
      endRun();
      continue;
    }
    mix.otherAny += WINDOW_S;
    run++;
  }
  endRun();
  for (const k of Object.keys(mix) as Array<keyof HeardMix>) {
    if (typeof mix[k] === 'number') (mix as unknown as Record<string, number>)[k] = round(mix[k]);
  }
  for (const t of tones) mix.tone[t] = round(mix.tone[t] ?? 0);
  return mix;
}

function round(s: number): number {
  return Math.round(s * 10) / 10;
}

/** Seconds of audio in a recording so far (it grows while the call runs). */
export function position(file: string): number {
  return existsSync(file) ? durationOf(file) : 0;
}

/** The phone's newest recording (its current call's, once that call's audio started). */
export function newestRecording(phone: Phone): Recording | undefined {
  return phone.recordings().at(-1);
}

/** The recording of the call whose audio started after `previous` (by file name), once there. */
export function recordingAfter(
  phone: Phone,
  previous: Recording | undefined,
): Recording | undefined {
  const r = phone.recordings().at(-1);
  if (!r) return undefined;
  return previous && r.heard <= previous.heard ? undefined : r;
}

/** Seconds of `hz` in a (growing) recording from `fromS` on: for polling while a call runs. */
export function toneSince(file: string, hz: number, fromS: number): number {
  if (!existsSync(file)) return 0;
  const mix = heardMix(file, fromS, Number.POSITIVE_INFINITY, [hz]);
  return mix.tone[hz] ?? 0;
}

/** The final reply the agent's LLM stand-in gives after a failed transfer: what it was told. */
export function failureReason(toolOutput: string): string | undefined {
  return /did not go through: ([^.]+)\./.exec(toolOutput)?.[1];
}

/**
 * Whether the caller's words are the conversation's last item: the LLM stand-in answers a
 * request only then (not again on the turns after its reply or a tool's output).
 */
export function lastIsUser(turn: ScriptedTurn): boolean {
  const last = turn.chatCtx.items.at(-1);
  return last?.type === 'message' && last.role === 'user';
}
