/**
 * Line-noise generators (white, pink, brown) and mixing at a signal-to-noise ratio, for
 * simulated phone audio. Seeded, so a scenario sounds the same on every run and every policy
 * hears identical audio.
 */

export type NoiseKind = 'white' | 'pink' | 'brown';
export const noiseKinds: readonly NoiseKind[] = ['white', 'pink', 'brown'];

/** mulberry32: tiny seeded PRNG, uniform in [0, 1). */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Stable 32-bit seed from a string (FNV-1a), e.g. a scenario id. */
export function seedOf(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** Unit-RMS noise of the given colour, `length` samples, as floats. */
export function noise(kind: NoiseKind, length: number, seed = 1): Float32Array {
  const rand = seededRandom(seed);
  const gauss = () => {
    // Box–Muller; 1 - rand() avoids log(0).
    const u = 1 - rand();
    const v = rand();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  };
  const out = new Float32Array(length);
  if (kind === 'white') {
    for (let i = 0; i < length; i++) out[i] = gauss();
  } else if (kind === 'pink') {
    // Paul Kellet's economy filter: -3 dB/octave within ~0.5 dB, good enough for line noise.
    let b0 = 0;
    let b1 = 0;
    let b2 = 0;
    for (let i = 0; i < length; i++) {
      const w = gauss();
      b0 = 0.99765 * b0 + w * 0.099046;
      b1 = 0.963 * b1 + w * 0.2965164;
      b2 = 0.57 * b2 + w * 1.0526913;
      out[i] = b0 + b1 + b2 + w * 0.1848;
    }
  } else {
    // Leaky integrator of white noise: -6 dB/octave without drifting off to DC.
    let last = 0;
    for (let i = 0; i < length; i++) {
      last = 0.98 * last + gauss() * 0.2;
      out[i] = last;
    }
  }
  const r = rms(out);
  if (r > 0) for (let i = 0; i < length; i++) out[i]! /= r;
  return out;
}

/** Root mean square of samples (PCM16 or float). */
export function rms(samples: ArrayLike<number>): number {
  let sum = 0;
  for (let i = 0; i < samples.length; i++) sum += samples[i]! * samples[i]!;
  return samples.length === 0 ? 0 : Math.sqrt(sum / samples.length);
}

/**
 * RMS of the active part of a speech signal: samples in 20 ms windows whose level is within
 * 30 dB of the loudest window. SNR against whole-clip RMS would depend on how much silence
 * surrounds the words.
 */
export function activeRms(samples: Int16Array, sampleRate: number): number {
  const win = Math.max(1, Math.round(sampleRate * 0.02));
  const levels: number[] = [];
  for (let i = 0; i + win <= samples.length; i += win)
    levels.push(rms(samples.subarray(i, i + win)));
  if (levels.length === 0) return rms(samples);
  const peak = Math.max(...levels);
  const active = levels.filter((l) => l >= peak * 10 ** (-30 / 20));
  return Math.sqrt(active.reduce((s, l) => s + l * l, 0) / active.length);
}

/** Adds noise to `signal` in place at `snrDb` relative to `speechRms`; clips to PCM16. */
export function mixNoise(
  signal: Int16Array,
  kind: NoiseKind,
  snrDb: number,
  speechRms: number,
  seed = 1,
): Int16Array {
  const n = noise(kind, signal.length, seed);
  const gain = speechRms / 10 ** (snrDb / 20);
  for (let i = 0; i < signal.length; i++) {
    signal[i] = clip16(signal[i]! + n[i]! * gain);
  }
  return signal;
}

/** Adds `clip` into `track` starting at sample `at` (clipping to PCM16). */
export function addInto(track: Int16Array, clip: Int16Array, at: number, gain = 1): void {
  for (let i = 0; i < clip.length; i++) {
    const j = at + i;
    if (j < 0 || j >= track.length) continue;
    track[j] = clip16(track[j]! + clip[i]! * gain);
  }
}

export function clip16(x: number): number {
  return x > 32767 ? 32767 : x < -32768 ? -32768 : Math.round(x);
}
