/**
 * Finds the voicemail beep in call audio: a pure tone (one frequency holding most of the
 * energy) between 300 and 2000 Hz lasting at least ~120 ms, at a stable pitch. Speech is never
 * that pure for that long (its energy spreads over many harmonics that glide), so a Goertzel
 * scan of each frame is enough for this narrow job: coarse 20 Hz steps, then refined around
 * the best one.
 *
 * Feed it frames in order with `push`; it reports a beep when the tone ends.
 */
export interface BeepDetectorOptions {
  minFreqHz: number;
  maxFreqHz: number;
  frameMs: number;
  /** Shortest tone that counts. */
  minToneMs: number;
  /** Share of a frame's energy at the tone frequency (1 = a pure sine). */
  minPurity: number;
  /** Quieter frames are ignored (dBFS, RMS). */
  minLevelDbfs: number;
  /** How far the pitch may wander within one beep. */
  maxDriftHz: number;
}

export const beepDetectorDefaults = {
  minFreqHz: 300,
  maxFreqHz: 2000,
  frameMs: 30,
  minToneMs: 120,
  minPurity: 0.7,
  minLevelDbfs: -45,
  maxDriftHz: 40,
} as const satisfies BeepDetectorOptions;

export interface Beep {
  freqHz: number;
  /** Position in the audio fed so far (ms). */
  startMs: number;
  endMs: number;
}

export class BeepDetector {
  private readonly o: BeepDetectorOptions;
  private sampleRate = 0;
  private frameLen = 0;
  private buf = new Float64Array(0);
  /** The coarse scan's frequencies and their Goertzel coefficients, per sample rate. */
  private coarseFreqs: number[] = [];
  private coarseCoeffs = new Float64Array(0);
  private coarsePowers = new Float64Array(0);
  private fill = 0;
  private samplesSeen = 0;
  private tone: { freq: number; startMs: number; frames: number } | undefined;

  constructor(options: Partial<BeepDetectorOptions> = {}) {
    this.o = { ...beepDetectorDefaults, ...options };
  }

  /** Milliseconds of audio fed so far. */
  get positionMs(): number {
    return this.sampleRate ? (this.samplesSeen * 1000) / this.sampleRate : 0;
  }

  /** Feeds mono PCM16; returns the beeps that ended within it. */
  push(samples: Int16Array, sampleRate: number): Beep[] {
    if (sampleRate !== this.sampleRate) this.reset(sampleRate);
    const found: Beep[] = [];
    for (let i = 0; i < samples.length; i++) {
      this.buf[this.fill++] = samples[i]! / 32768;
      if (this.fill === this.frameLen) {
        const beep = this.frame();
        if (beep) found.push(beep);
        this.fill = 0;
      }
    }
    return found;
  }

  private reset(sampleRate: number): void {
    this.sampleRate = sampleRate;
    this.frameLen = Math.round((sampleRate * this.o.frameMs) / 1000);
    this.buf = new Float64Array(this.frameLen);
    this.coarseFreqs = [];
    for (let f = this.o.minFreqHz; f <= this.o.maxFreqHz; f += 20) this.coarseFreqs.push(f);
    this.coarseCoeffs = Float64Array.from(this.coarseFreqs, (f) => coefficient(f, sampleRate));
    this.coarsePowers = new Float64Array(this.coarseFreqs.length);
    this.fill = 0;
    this.tone = undefined;
  }

  private frame(): Beep | undefined {
    const frameStartMs = (this.samplesSeen * 1000) / this.sampleRate;
    this.samplesSeen += this.frameLen;
    const x = this.buf;
    const n = this.frameLen;
    let energy = 0;
    for (let i = 0; i < n; i++) energy += x[i]! * x[i]!;
    const rms = Math.sqrt(energy / n);
    let freq: number | undefined;
    if (rms > 0 && 20 * Math.log10(rms) >= this.o.minLevelDbfs) {
      let best = this.o.minFreqHz;
      let bestPower = -1;
      goertzelPowers(x, n, this.coarseCoeffs, this.coarsePowers);
      for (let k = 0; k < this.coarseFreqs.length; k++) {
        const p = this.coarsePowers[k]!;
        if (p > bestPower) {
          best = this.coarseFreqs[k]!;
          bestPower = p;
        }
      }
      for (let f = best - 16; f <= best + 16; f += 4) {
        const p = goertzel(x, n, coefficient(f, this.sampleRate));
        if (p > bestPower) {
          best = f;
          bestPower = p;
        }
      }
      const purity = (2 * bestPower) / (n * energy);
      if (purity >= this.o.minPurity) freq = best;
    }
    const t = this.tone;
    if (freq !== undefined && t && Math.abs(freq - t.freq) <= this.o.maxDriftHz) {
      t.frames++;
      return undefined;
    }
    // The tone (if any) ended here.
    this.tone = freq === undefined ? undefined : { freq, startMs: frameStartMs, frames: 1 };
    if (t && t.frames * this.o.frameMs >= this.o.minToneMs) {
      return { freqHz: t.freq, startMs: t.startMs, endMs: frameStartMs };
    }
    return undefined;
  }
}

/** The Goertzel recurrence's coefficient for frequency `f` at sample rate `fs`. */
function coefficient(f: number, fs: number): number {
  return 2 * Math.cos((2 * Math.PI * f) / fs);
}

/** |X(f)|² of `x[0..n)` by the Goertzel recurrence; `coeff` from `coefficient(f, fs)`. */
function goertzel(x: Float64Array, n: number, coeff: number): number {
  let s1 = 0;
  let s2 = 0;
  for (let i = 0; i < n; i++) {
    const s = x[i]! + coeff * s1 - s2;
    s2 = s1;
    s1 = s;
  }
  return s1 * s1 + s2 * s2 - coeff * s1 * s2;
}

/**
 * `goertzel` for every coefficient into `out`, four frequencies per pass over the samples: each
 * recurrence waits on its previous step, so running four side by side keeps the CPU busy (the
 * same arithmetic per frequency, so the same results).
 */
function goertzelPowers(x: Float64Array, n: number, coeffs: Float64Array, out: Float64Array) {
  let k = 0;
  for (; k + 4 <= coeffs.length; k += 4) {
    const c0 = coeffs[k]!;
    const c1 = coeffs[k + 1]!;
    const c2 = coeffs[k + 2]!;
    const c3 = coeffs[k + 3]!;
    let a1 = 0;
    let a2 = 0;
    let b1 = 0;
    let b2 = 0;
    let d1 = 0;
    let d2 = 0;
    let e1 = 0;
    let e2 = 0;
    for (let i = 0; i < n; i++) {
      const v = x[i]!;
      const a = v + c0 * a1 - a2;
      a2 = a1;
      a1 = a;
      const b = v + c1 * b1 - b2;
      b2 = b1;
      b1 = b;
      const d = v + c2 * d1 - d2;
      d2 = d1;
      d1 = d;
      const e = v + c3 * e1 - e2;
      e2 = e1;
      e1 = e;
    }
    out[k] = a1 * a1 + a2 * a2 - c0 * a1 * a2;
    out[k + 1] = b1 * b1 + b2 * b2 - c1 * b1 * b2;
    out[k + 2] = d1 * d1 + d2 * d2 - c2 * d1 * d2;
    out[k + 3] = e1 * e1 + e2 * e2 - c3 * e1 * e2;
  }
  for (; k < coeffs.length; k++) out[k] = goertzel(x, n, coeffs[k]!);
}
