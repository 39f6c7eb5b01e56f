/**
 * How much a suppressor helped, measured against the known clean signal (bench and tests):
 * the output is first aligned for the processing delay, then compared sample by sample.
 */

/** Lag (in samples, 0…maxLag) at which `processed` best matches `clean` (cross-correlation). */
export function estimateDelay(
  clean: Int16Array,
  processed: Int16Array,
  maxLag: number,
  window = clean.length,
): number {
  const n = Math.min(window, clean.length, processed.length - maxLag);
  let best = 0;
  let bestScore = Number.NEGATIVE_INFINITY;
  for (let lag = 0; lag <= maxLag; lag++) {
    let dot = 0;
    let energy = 0;
    for (let i = 0; i < n; i++) {
      const p = processed[i + lag]!;
      dot += clean[i]! * p;
      energy += p * p;
    }
    const score = energy > 0 ? dot / Math.sqrt(energy) : 0;
    if (score > bestScore) {
      bestScore = score;
      best = lag;
    }
  }
  return best;
}

/** `processed` shifted back by `delay` samples, trimmed/padded to the clean signal's length. */
export function align(processed: Int16Array, delay: number, length: number): Int16Array {
  const out = new Int16Array(length);
  out.set(processed.subarray(delay, delay + length));
  return out;
}

/** Global SNR in dB: 10·log10(Σ clean² / Σ (x − clean)²) over the whole signal. */
export function snrDb(clean: Int16Array, x: Int16Array): number {
  let signal = 0;
  let error = 0;
  for (let i = 0; i < clean.length; i++) {
    const c = clean[i]!;
    const e = (x[i] ?? 0) - c;
    signal += c * c;
    error += e * e;
  }
  return 10 * Math.log10(signal / Math.max(error, 1e-9));
}

/**
 * Segmental SNR in dB: the mean of per-window SNRs (20 ms at 8 kHz = 160 samples), each clamped
 * to [-10, 35] dB, over windows where speech is active (within 40 dB of the loudest window).
 * Unlike global SNR it is not dominated by the loudest syllables.
 */
export function segmentalSnrDb(clean: Int16Array, x: Int16Array, window = 160): number {
  const segments: { signal: number; error: number }[] = [];
  let peak = 0;
  for (let start = 0; start + window <= clean.length; start += window) {
    let signal = 0;
    let error = 0;
    for (let i = start; i < start + window; i++) {
      const c = clean[i]!;
      const e = (x[i] ?? 0) - c;
      signal += c * c;
      error += e * e;
    }
    segments.push({ signal, error });
    peak = Math.max(peak, signal);
  }
  const active = segments.filter((s) => s.signal > 0 && s.signal >= peak * 1e-4);
  if (active.length === 0) return 0;
  const sum = active.reduce((acc, s) => {
    const db = 10 * Math.log10(s.signal / Math.max(s.error, 1e-9));
    return acc + Math.min(35, Math.max(-10, db));
  }, 0);
  return sum / active.length;
}

/** Pearson correlation of two equally long signals (1 = same waveform up to gain). */
export function correlation(a: Int16Array, b: Int16Array): number {
  const n = Math.min(a.length, b.length);
  let sa = 0;
  let sb = 0;
  for (let i = 0; i < n; i++) {
    sa += a[i]!;
    sb += b[i]!;
  }
  const ma = sa / n;
  const mb = sb / n;
  let cov = 0;
  let va = 0;
  let vb = 0;
  for (let i = 0; i < n; i++) {
    const da = a[i]! - ma;
    const db = b[i]! - mb;
    cov += da * db;
    va += da * da;
    vb += db * db;
  }
  return va > 0 && vb > 0 ? cov / Math.sqrt(va * vb) : 0;
}

/** Runs a whole signal through `process` in frames of `frameSize` samples; returns the output. */
export function processInFrames(
  signal: Int16Array,
  frameSize: number,
  process: (frame: Int16Array) => Int16Array,
): Int16Array {
  const out = new Int16Array(signal.length);
  for (let at = 0; at < signal.length; at += frameSize) {
    const frame = signal.subarray(at, Math.min(at + frameSize, signal.length));
    out.set(process(frame), at);
  }
  return out;
}
