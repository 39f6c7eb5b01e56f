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
      for (let f = this.o.minFreqHz; f <= this.o.maxFreqHz; f += 20) {
        const p = goertzel(x, n, f, this.sampleRate);
        if (p > bestPower) [best, bestPower] = [f, p];
      }
      for (let f = best - 16; f <= best + 16; f += 4) {
        const p = goertzel(x, n, f, this.sampleRate);
        if (p > bestPower) [best, bestPower] = [f, p];
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

/** |X(f)|² of `x[0..n)` by the Goertzel recurrence. */
function goertzel(x: Float64Array, n: number, f: number, fs: number): number {
  const coeff = 2 * Math.cos((2 * Math.PI * f) / fs);
  let s1 = 0;
  let s2 = 0;
  for (let i = 0; i < n; i++) {
    const s = x[i]! + coeff * s1 - s2;
    s2 = s1;
    s1 = s;
  }
  return s1 * s1 + s2 * s2 - coeff * s1 * s2;
}
