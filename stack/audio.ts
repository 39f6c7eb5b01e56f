/**
 * Audio checks for the real-stack tests: read a PCM16 WAV (baresip's sndfile recordings, the
 * tone bot's), find a pure tone in it with the Goertzel recurrence, make tone WAVs.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';

const execFileP = promisify(execFile);

export interface Pcm {
  sampleRate: number;
  /** First channel, scaled to [-1, 1). */
  samples: Float64Array;
}

/** Reads a PCM16 WAV (any channel count; the first channel is kept). */
export function readWav(file: string): Pcm {
  const buf = readFileSync(file);
  if (buf.toString('ascii', 0, 4) !== 'RIFF' || buf.toString('ascii', 8, 12) !== 'WAVE') {
    throw new Error(`${file}: not a WAV file`);
  }
  let off = 12;
  let sampleRate = 0;
  let channels = 1;
  let bits = 16;
  while (off + 8 <= buf.length) {
    const id = buf.toString('ascii', off, off + 4);
    let size = buf.readUInt32LE(off + 4);
    const body = off + 8;
    if (id === 'fmt ') {
      channels = buf.readUInt16LE(body + 2);
      sampleRate = buf.readUInt32LE(body + 4);
      bits = buf.readUInt16LE(body + 14);
    } else if (id === 'data') {
      if (bits !== 16) throw new Error(`${file}: ${bits}-bit WAV, want 16`);
      // A writer killed mid-call leaves the size unset (0 or 0xffffffff): read to the end.
      if (size === 0 || body + size > buf.length) size = buf.length - body;
      const frames = Math.floor(size / (2 * channels));
      const samples = new Float64Array(frames);
      for (let i = 0; i < frames; i++)
        samples[i] = buf.readInt16LE(body + i * 2 * channels) / 32768;
      return { sampleRate, samples };
    }
    off = body + size + (size % 2);
  }
  throw new Error(`${file}: no data chunk`);
}

/**
 * Share of the energy of `x[from..from+n)` at frequency `hz` (0..1): |X(hz)|² / (n/2 · Σx²), by the
 * Goertzel recurrence. A pure sine at `hz` gives ~1, speech or another tone ~0.
 */
export function toneShare(
  x: Float64Array,
  from: number,
  n: number,
  hz: number,
  rate: number,
): number {
  const coeff = 2 * Math.cos((2 * Math.PI * hz) / rate);
  let s1 = 0;
  let s2 = 0;
  let energy = 0;
  for (let i = from; i < from + n; i++) {
    const v = x[i]!;
    energy += v * v;
    const s0 = v + coeff * s1 - s2;
    s2 = s1;
    s1 = s0;
  }
  if (energy === 0) return 0;
  const power = s1 * s1 + s2 * s2 - coeff * s1 * s2;
  return power / ((n / 2) * energy);
}

export interface ToneReport {
  /** Seconds of 100 ms windows where the tone holds ≥ `minShare` of the energy and the level is above `minRms`. */
  toneSeconds: number;
  /** Start (s) of the first such window, or -1. */
  firstAt: number;
  /** Seconds analysed. */
  totalSeconds: number;
  /** Per window: tone share (0 where the window is quieter than minRms). */
  shares: number[];
}

/** Finds a tone at `hz` in 100 ms windows of a WAV file or decoded PCM. */
export function findTone(
  input: string | Pcm,
  hz: number,
  opts: { minShare?: number; minRms?: number; fromS?: number; toS?: number } = {},
): ToneReport {
  const pcm = typeof input === 'string' ? readWav(input) : input;
  const { samples, sampleRate } = pcm;
  const win = Math.round(sampleRate / 10);
  const minShare = opts.minShare ?? 0.5;
  const minRms = opts.minRms ?? 0.01; // -40 dBFS
  const start = Math.floor((opts.fromS ?? 0) * sampleRate);
  const end = Math.min(samples.length, Math.floor((opts.toS ?? Infinity) * sampleRate));
  const shares: number[] = [];
  let hits = 0;
  let firstAt = -1;
  for (let i = start; i + win <= end; i += win) {
    let e = 0;
    for (let j = i; j < i + win; j++) e += samples[j]! * samples[j]!;
    const rms = Math.sqrt(e / win);
    const share = rms < minRms ? 0 : toneShare(samples, i, win, hz, sampleRate);
    shares.push(share);
    if (share >= minShare) {
      hits++;
      if (firstAt < 0) firstAt = i / sampleRate;
    }
  }
  return { toneSeconds: hits / 10, firstAt, totalSeconds: (end - start) / sampleRate, shares };
}

/** Writes a mono PCM16 WAV with a sine of `hz` for `seconds` (amplitude 0.3), via sox. */
export async function writeToneWav(
  file: string,
  hz: number,
  seconds: number,
  sampleRate = 8000,
): Promise<void> {
  await execFileP('sox', [
    '-n',
    '-r',
    String(sampleRate),
    '-c',
    '1',
    '-b',
    '16',
    file,
    'synth',
    String(seconds),
    'sine',
    String(hz),
    'vol',
    '0.3',
  ]);
}
