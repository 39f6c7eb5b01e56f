/**
 * Where speech starts and ends in a stream of PCM16 samples, for the Deepgram stand-in: an energy
 * detector against a tracked noise floor, gated by voicing so that line noise, clicks, coughs and
 * breaths do not count as speech.
 *
 * Per 10 ms frame, after a 200 Hz high-pass (two one-pole stages; removes hum and most of the
 * low end of pink/brown noise):
 * - energy E in dBFS, smoothed over 30 ms (Es);
 * - noise floor F: the minimum of the 100 ms-smoothed energy over the last 3 s (word gaps pull
 *   it down to the line noise during speech), ≥ -80 dBFS; during the first 300 ms of a stream
 *   at most -55 dBFS, so a stream that starts in the middle of speech still hears it;
 * - voicing V: the peak normalised autocorrelation of the last 20 ms at pitch lags 2.5–16 ms
 *   (400–60 Hz). G.711 line noise stays below ~0.4 (white/pink, p99) and ~0.6 (brown, max);
 *   speech frames above -30 dBFS have a median of 0.85 (eSpeak voices, 10 dB SNR: ≥ 0.6 for
 *   90 %). A longer window loses the gliding pitch of speech.
 *
 * A frame is *active* when Es > F + `activeDb` (5 dB; `holdDb`, 4 dB, once in speech), *voiced*
 * when also Es > F + `voicedDb` (7 dB) and V ≥ `voicing` (0.6). Speech starts when a run of
 * active frames (dips ≤ `maxOnsetGapMs`, 60 ms) holds `minVoicedMs` (40 ms) of voiced frames.
 * The onset is the start of that run, moved back over up to 150 ms of sound ≥ F + 3 dB (a first
 * "s", "h" or "f"), and over earlier short voiced runs that were followed by less than
 * `minSilenceMs` of silence ("Yes, ..."). Runs without enough voicing (coughs, breaths, clicks)
 * are dropped. Speech ends after `minSilenceMs` (350 ms) without two active frames in a row; the
 * offset is the end of the last of them. 350 ms is longer than the pauses inside a sentence
 * (commas: ~150 ms in eSpeak, more in noise) and about a sentence break (~390 ms), so one
 * sentence is one segment; two sentences may be one.
 *
 * Measured with `npx tsx stack/providers/measure-detector.ts` (6 sentences × 4 eSpeak voices ×
 * pink/white/brown noise, 8 kHz, one µ-law pass; error = detected − truth, truth = clean speech
 * above -45 dBFS):
 *
 * | SNR   | one segment | onset median / p90 / max | offset p10 / median / max |
 * | ----- | ----------- | ------------------------ | ------------------------- |
 * | 20 dB | 72/72       | 0 / +10 / +80 ms         | -30 / +20 / +65 ms        |
 * | 15 dB | 72/72       | 0 / +50 / +110 ms        | -80 / +15 / +25 ms        |
 * | 10 dB | 72/72       | +5 / +60 / +110 ms       | -90 / +5 / +25 ms         |
 * |  5 dB | 70/72       | +10 / +100 / +580 ms     | -110 / -35 / +25 ms       |
 *
 * Late onsets are weak first fricatives ("stop"); early offsets weak final stops ("stop",
 * "wait"). Noise alone (3 colours × -50…-25 dBFS × 20 s, with a cough and a breath): no segment.
 */

export interface SpeechDetectorOptions {
  sampleRate: number;
  /** dB above the noise floor for a frame to count as sound. */
  activeDb: number;
  /** Same, once speech has started (hysteresis: weak sounds inside speech keep it going). */
  holdDb: number;
  /** dB above the noise floor for a voiced frame to count. */
  voicedDb: number;
  /** dB above the noise floor at which a frame counts as speech even without voicing (off). */
  loudDb: number;
  /** Peak normalised autocorrelation at pitch lags for a frame to be voiced (0–1). */
  voicing: number;
  /** Voiced (or loud) audio a run of sound needs before it is speech (ms). */
  minVoicedMs: number;
  /** Silence that ends a speech segment (ms). */
  minSilenceMs: number;
  /** Longest dip inside a run of sound before speech is confirmed (ms). */
  maxOnsetGapMs: number;
}

export const speechDetectorDefaults = {
  activeDb: 5,
  holdDb: 4,
  voicedDb: 7,
  loudDb: Infinity,
  voicing: 0.6,
  minVoicedMs: 40,
  minSilenceMs: 350,
  maxOnsetGapMs: 60,
} as const satisfies Omit<SpeechDetectorOptions, 'sampleRate'>;

export type SpeechDetectorEvent =
  /** Speech confirmed at `atSample`; it began at `onsetSample`. */
  | { type: 'onset'; onsetSample: number; atSample: number }
  /** Speech ended at `offsetSample`, declared at `atSample` (after `minSilenceMs`). */
  | { type: 'offset'; onsetSample: number; offsetSample: number; atSample: number };

const FRAME_MS = 10;
/** Two cascaded one-pole high-passes at this frequency (12 dB/octave below it). */
const HIGH_PASS_HZ = 200;
/** Voicing window: 20 ms (a longer one loses the gliding pitch of real and synthetic speech). */
const VOICING_FRAMES = 2;
/** Before 300 ms of audio the floor is at most this (a stream may start in the middle of speech). */
const INITIAL_FLOOR_DB = -55;
/** How far back an onset may be moved to where the sound rose (ms), and the level that counts. */
const BACKDATE_MS = 150;
const BACKDATE_DB = 3;
/** Longest stretch of earlier short voiced runs an onset may take in. */
const MAX_LINKED_MS = 1000;
const FLOOR_WINDOW_MS = 3000;
const FLOOR_SMOOTH_FRAMES = 10;
const MIN_FLOOR_DB = -80;

export class SpeechDetector {
  readonly options: SpeechDetectorOptions;
  private readonly frameLen: number;
  private readonly minLag: number;
  private readonly maxLag: number;
  private readonly history: Float32Array;
  private pending = new Int16Array(0);
  /** Samples consumed into complete frames. */
  private consumed = 0;
  // high-pass state (two stages)
  private hpX = 0;
  private hpY = 0;
  private hpY2 = 0;
  private readonly hpA: number;
  /** Smoothed energies of the last frames (for backdating an onset). */
  private readonly pastEs: number[] = [];
  // energy smoothing
  private readonly recentE: number[] = [];
  private readonly floorRing: number[] = [];
  private floorSmooth: number[] = [];
  // state machine
  private runStart: number | undefined;
  private runLastActiveEnd = 0;
  private runVoicedFrames = 0;
  /** Runs of sound that were not speech on their own (start/end samples). */
  private droppedRuns: Array<{ start: number; end: number }> = [];
  private inSpeech = false;
  private onset = 0;
  private lastActiveEnd = 0;
  private prevActive = false;
  /** Latest noise floor (dBFS), for logs. */
  floorDb = MIN_FLOOR_DB;

  constructor(opts: Partial<SpeechDetectorOptions> & { sampleRate: number }) {
    this.options = { ...speechDetectorDefaults, ...opts };
    const sr = this.options.sampleRate;
    this.frameLen = Math.round((sr * FRAME_MS) / 1000);
    this.minLag = Math.round(sr / 400);
    this.maxLag = Math.round(sr / 60);
    this.history = new Float32Array(this.frameLen * VOICING_FRAMES + this.maxLag);
    this.hpA = Math.exp((-2 * Math.PI * HIGH_PASS_HZ) / sr);
  }

  /** True between an onset and its offset. */
  get speaking(): boolean {
    return this.inSpeech;
  }

  /** Onset of the current segment (samples), when speaking. */
  get currentOnset(): number | undefined {
    return this.inSpeech ? this.onset : undefined;
  }

  /** End of the last active frame of the current segment (samples). */
  get lastSoundEnd(): number {
    return this.lastActiveEnd;
  }

  /** Samples analysed so far. */
  get position(): number {
    return this.consumed;
  }

  /** Feeds samples; returns the onsets/offsets they complete, in order. */
  push(samples: Int16Array): SpeechDetectorEvent[] {
    const events: SpeechDetectorEvent[] = [];
    let buf = samples;
    if (this.pending.length > 0) {
      buf = new Int16Array(this.pending.length + samples.length);
      buf.set(this.pending);
      buf.set(samples, this.pending.length);
    }
    let at = 0;
    for (; at + this.frameLen <= buf.length; at += this.frameLen) {
      this.frame(buf.subarray(at, at + this.frameLen), events);
    }
    this.pending = buf.slice(at);
    return events;
  }

  /** Ends the stream: an open segment ends at its last sound. */
  flush(): SpeechDetectorEvent[] {
    if (!this.inSpeech) return [];
    this.inSpeech = false;
    return [
      {
        type: 'offset',
        onsetSample: this.onset,
        offsetSample: this.lastActiveEnd,
        atSample: this.consumed,
      },
    ];
  }

  private frame(raw: Int16Array, events: SpeechDetectorEvent[]): void {
    const n = this.frameLen;
    const start = this.consumed;
    this.consumed += n;
    const end = this.consumed;
    // High-pass into the history buffer (shifted left by one frame).
    const h = this.history;
    h.copyWithin(0, n);
    let sum = 0;
    for (let i = 0; i < n; i++) {
      const x = raw[i]!;
      const y1 = this.hpA * (this.hpY + x - this.hpX);
      const y = this.hpA * (this.hpY2 + y1 - this.hpY);
      this.hpX = x;
      this.hpY = y1;
      this.hpY2 = y;
      h[h.length - n + i] = y;
      sum += y * y;
    }
    const e = 10 * Math.log10(sum / n / (32768 * 32768) + 1e-12);
    this.recentE.push(e);
    if (this.recentE.length > 3) this.recentE.shift();
    const es = dbMean(this.recentE);
    // Noise floor: minimum of the 100 ms-smoothed energy over the last 3 s.
    this.floorSmooth.push(e);
    if (this.floorSmooth.length > FLOOR_SMOOTH_FRAMES) this.floorSmooth.shift();
    this.floorRing.push(dbMean(this.floorSmooth));
    if (this.floorRing.length > FLOOR_WINDOW_MS / FRAME_MS) this.floorRing.shift();
    let floor = Math.max(MIN_FLOOR_DB, Math.min(...this.floorRing));
    if (this.floorRing.length < 30) floor = Math.min(floor, INITIAL_FLOOR_DB);
    this.floorDb = floor;
    this.pastEs.push(es);
    if (this.pastEs.length > BACKDATE_MS / FRAME_MS + 100) this.pastEs.shift();

    const o = this.options;
    const active = es > floor + (this.inSpeech ? o.holdDb : o.activeDb);
    // No "loud" shortcut before the floor is known: a loud line would otherwise start speech.
    const loud = this.floorRing.length >= 30 && es > floor + o.loudDb;
    const voiced = loud || (es > floor + o.voicedDb && this.voicing() >= o.voicing);
    // Two active frames in a row keep speech going; a single spike does not.
    const sustained = active && this.prevActive;
    this.prevActive = active;

    if (this.inSpeech) {
      if (sustained || (active && loud)) this.lastActiveEnd = end;
      if (end - this.lastActiveEnd >= this.ms(o.minSilenceMs)) {
        this.inSpeech = false;
        events.push({
          type: 'offset',
          onsetSample: this.onset,
          offsetSample: this.lastActiveEnd,
          atSample: end,
        });
        this.runStart = undefined;
      }
      return;
    }
    if (active) {
      if (this.runStart === undefined) {
        this.runStart = start;
        this.runVoicedFrames = 0;
      }
      this.runLastActiveEnd = end;
      if (voiced) this.runVoicedFrames++;
      if (this.runVoicedFrames * FRAME_MS >= o.minVoicedMs) {
        this.inSpeech = true;
        this.onset = this.backdate(this.linkedStart(this.runStart), floor);
        this.droppedRuns = [];
        this.lastActiveEnd = end;
        events.push({ type: 'onset', onsetSample: this.onset, atSample: end });
      }
    } else if (
      this.runStart !== undefined &&
      end - this.runLastActiveEnd > this.ms(o.maxOnsetGapMs)
    ) {
      // A cough, a click, a breath – or a short first word ("Yes,") before a pause: kept in case
      // speech follows within the segment gap.
      if (this.runVoicedFrames >= 2) {
        this.droppedRuns.push({ start: this.runStart, end: this.runLastActiveEnd });
        if (this.droppedRuns.length > 20) this.droppedRuns.shift();
      }
      this.runStart = undefined;
    }
  }

  /** The start of the earliest voiced run before `runStart` joined to it by short gaps. */
  private linkedStart(runStart: number): number {
    let start = runStart;
    for (let i = this.droppedRuns.length - 1; i >= 0; i--) {
      const r = this.droppedRuns[i]!;
      if (start - r.end >= this.ms(this.options.minSilenceMs)) break;
      if (runStart - r.start > this.ms(MAX_LINKED_MS)) break;
      start = r.start;
    }
    return start;
  }

  /** Where the sound before `runStart` rose above the floor (within BACKDATE_MS). */
  private backdate(runStart: number, floor: number): number {
    const framesBack = (this.consumed - runStart) / this.frameLen;
    let at = runStart;
    for (let k = 1; k <= BACKDATE_MS / FRAME_MS; k++) {
      const es = this.pastEs[this.pastEs.length - framesBack - k];
      if (es === undefined || es <= floor + BACKDATE_DB) break;
      at = runStart - k * this.frameLen;
    }
    return Math.max(0, at);
  }

  /** Peak normalised autocorrelation of the last 20 ms at pitch lags. */
  private voicing(): number {
    const h = this.history;
    const w = this.frameLen * VOICING_FRAMES;
    const base = h.length - w;
    let best = 0;
    for (let lag = this.minLag; lag <= this.maxLag; lag++) {
      let xy = 0;
      let xx = 0;
      let yy = 0;
      for (let i = base; i < h.length; i++) {
        const x = h[i]!;
        const y = h[i - lag]!;
        xy += x * y;
        xx += x * x;
        yy += y * y;
      }
      const r = xy / Math.sqrt(xx * yy + 1e-9);
      if (r > best) best = r;
    }
    return best;
  }

  private ms(ms: number): number {
    return Math.round((ms * this.options.sampleRate) / 1000);
  }
}

/** Mean of dB values taken in the power domain. */
function dbMean(values: readonly number[]): number {
  let p = 0;
  for (const v of values) p += 10 ** (v / 10);
  return 10 * Math.log10(p / values.length);
}

/** All segments of a whole recording (for the REST endpoint and for measurements). */
export function detectSegments(
  samples: Int16Array,
  opts: Partial<SpeechDetectorOptions> & { sampleRate: number },
): Array<{ onsetSample: number; offsetSample: number }> {
  const d = new SpeechDetector(opts);
  const events = [...d.push(samples), ...d.flush()];
  return events
    .filter((e) => e.type === 'offset')
    .map((e) => ({ onsetSample: e.onsetSample, offsetSample: e.offsetSample }));
}

/**
 * Where sound is in a clean recording: the first and last 5 ms window (at 8 kHz) above -45 dBFS.
 * The truth the detector's onsets and offsets are measured against.
 */
export function soundSpan(clean: Int16Array): { first: number; last: number } {
  const w = 40;
  let first = -1;
  let last = -1;
  for (let i = 0; i + w <= clean.length; i += w) {
    let e = 0;
    for (let j = i; j < i + w; j++) e += clean[j]! ** 2;
    if (10 * Math.log10(e / w / 32768 ** 2 + 1e-12) > -45) {
      if (first < 0) first = i;
      last = i + w;
    }
  }
  return { first, last };
}
