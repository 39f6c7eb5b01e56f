/**
 * The agent's side of a simulated call: a `voice.AudioOutput` that "plays" the frames the
 * session sends at real-time pace on the shared SimClock and records exactly when agent audio
 * was playing, paused, resumed and stopped. The eval scores stutters and interruptions from
 * that record, so pause/resume/clearBuffer are stamped at the instant the framework calls them.
 *
 * Like a real sink it honours pause() (position stops advancing), resume(), clearBuffer()
 * (drops queued audio, finishes every pending segment as interrupted) and reports
 * onPlaybackStarted / onPlaybackFinished per segment, which the session waits on.
 */
import { voice } from '@livekit/agents';
import type { AudioFrame } from '@livekit/rtc-node';
import { resample } from '../core/wav.js';
import type { SimClock } from './clock.js';

export type PlaybackEventKind = 'start' | 'pause' | 'resume' | 'clear' | 'finish';

export interface PlaybackEvent {
  kind: PlaybackEventKind;
  /** Timeline instant (SimClock ms). */
  atMs: number;
  /** Segment number (1-based, in capture order). */
  segment: number;
  /** Milliseconds of this segment played when the event happened. */
  positionMs: number;
}

/** A stretch of time during which agent audio was audibly playing. */
export interface PlayingInterval {
  startMs: number;
  endMs: number;
  segment: number;
  /** Why it ended: paused, cleared (interrupted), finished, or still playing at `endMs`. */
  end: 'pause' | 'clear' | 'finish' | 'open';
}

export interface SimAudioOutputOptions {
  clock: SimClock;
  /** Keep the played audio (resampled to this rate) for a recording of the call. */
  recordSampleRate?: number;
}

interface Segment {
  id: number;
  frames: Int16Array[]; // mono samples at `rate`
  rate: number;
  queuedMs: number;
  playedMs: number;
  flushed: boolean;
  started: boolean;
}

export class SimAudioOutput extends voice.AudioOutput {
  readonly events: PlaybackEvent[] = [];
  private readonly clock: SimClock;
  private readonly recordRate: number | undefined;
  private readonly segments: Segment[] = [];
  private capturing: Segment | undefined;
  private segmentCount = 0;
  private paused = false;
  private lastTick: number | undefined;
  private timer: NodeJS.Timeout | undefined;
  private frameOffset = 0; // samples consumed of the head frame of the head segment
  private readonly recorded: Array<{ atMs: number; samples: Int16Array }> = [];
  private readonly intervals: PlayingInterval[] = [];
  private openInterval: { startMs: number; segment: number } | undefined;
  private resolveFirstAudio!: () => void;
  private readonly firstAudio = new Promise<void>((resolve) => {
    this.resolveFirstAudio = resolve;
  });

  constructor(opts: SimAudioOutputOptions) {
    super(undefined, undefined, { pause: true });
    this.clock = opts.clock;
    this.recordRate = opts.recordSampleRate;
  }

  /** True while agent audio is audibly playing (a segment started, not paused, not drained). */
  get playing(): boolean {
    const head = this.segments[0];
    // Positions are brought up to date only on events: count the time since the last one.
    const sinceLast = this.clock.now() - (this.lastTick ?? this.clock.now());
    return !!head && head.started && !this.paused && head.queuedMs - head.playedMs > sinceLast;
  }

  get isPaused(): boolean {
    return this.paused;
  }

  /** Resolves when the session first hands audio to this output (e.g. to start the clock then). */
  whenAudioQueued(): Promise<void> {
    return this.firstAudio;
  }

  override async captureFrame(frame: AudioFrame): Promise<void> {
    await super.captureFrame(frame);
    this.resolveFirstAudio();
    if (!this.capturing) {
      this.capturing = {
        id: ++this.segmentCount,
        frames: [],
        rate: frame.sampleRate,
        queuedMs: 0,
        playedMs: 0,
        flushed: false,
        started: false,
      };
      this.segments.push(this.capturing);
    }
    const mono = monoOf(frame);
    const seg = this.capturing;
    const samples =
      frame.sampleRate === seg.rate ? mono : resample(mono, frame.sampleRate, seg.rate);
    seg.frames.push(samples);
    seg.queuedMs += (samples.length * 1000) / seg.rate;
    this.ensureTicking();
  }

  override flush(): void {
    super.flush();
    if (this.capturing) {
      this.capturing.flushed = true;
      this.capturing = undefined;
    }
    this.ensureTicking();
  }

  override clearBuffer(): void {
    const now = this.clock.now();
    this.advance(now);
    const pending = this.segments.splice(0);
    this.stopTimer(); // it was set for the end of the audio just dropped
    this.capturing = undefined;
    this.frameOffset = 0;
    this.closePlaying(now, 'clear');
    for (const seg of pending) {
      this.events.push({ kind: 'clear', atMs: now, segment: seg.id, positionMs: seg.playedMs });
      this.onPlaybackFinished({ playbackPosition: seg.playedMs / 1000, interrupted: true });
    }
  }

  override pause(): void {
    super.pause();
    if (this.paused) return;
    const now = this.clock.now();
    this.advance(now);
    this.paused = true;
    this.stopTimer(); // resume() sets it again
    this.closePlaying(now, 'pause');
    const head = this.segments[0];
    this.events.push({
      kind: 'pause',
      atMs: now,
      segment: head?.id ?? this.segmentCount,
      positionMs: head?.playedMs ?? 0,
    });
  }

  override resume(): void {
    super.resume();
    if (!this.paused) return;
    const now = this.clock.now();
    this.paused = false;
    this.lastTick = now;
    const head = this.segments[0];
    if (head?.started) this.openPlaying(now, head.id);
    this.events.push({
      kind: 'resume',
      atMs: now,
      segment: head?.id ?? this.segmentCount,
      positionMs: head?.playedMs ?? 0,
    });
    this.ensureTicking();
  }

  /** Intervals during which agent audio was audibly playing (the last may be open). */
  playingIntervals(untilMs = this.clock.now()): PlayingInterval[] {
    const open = this.openInterval;
    return open
      ? [...this.intervals, { ...open, endMs: untilMs, end: 'open' }]
      : [...this.intervals];
  }

  /** Agent audio as heard on the line (mono, at `recordSampleRate`), silence where none. */
  recording(totalMs = this.clock.now()): Int16Array {
    const rate = this.recordRate ?? 8000;
    const out = new Int16Array(Math.ceil((totalMs * rate) / 1000));
    for (const r of this.recorded) {
      const at = Math.round((r.atMs * rate) / 1000);
      out.set(r.samples.subarray(0, Math.max(0, out.length - at)), at);
    }
    return out;
  }

  /** Stops the playback timer (the session does not need the output any more). */
  close(): void {
    this.stopTimer();
  }

  private stopTimer(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  private openPlaying(atMs: number, segment: number): void {
    if (!this.openInterval) this.openInterval = { startMs: atMs, segment };
  }

  private closePlaying(atMs: number, end: PlayingInterval['end']): void {
    const open = this.openInterval;
    if (!open) return;
    this.intervals.push({ startMs: open.startMs, endMs: atMs, segment: open.segment, end });
    this.openInterval = undefined;
  }

  /**
   * Wakes when the head segment's queued audio has played out. Positions are worked out from
   * the clock whenever something asks (pause, clear), so there is no fixed playback tick: a
   * call's output costs a few wake-ups per reply, not one per 10 ms.
   */
  private ensureTicking(): void {
    if (this.timer || this.segments.length === 0) return;
    this.lastTick = this.clock.now(); // idle until now: no audio played in the gap
    this.timer = setTimeout(this.wake, 0);
  }

  private readonly wake = (): void => {
    this.timer = undefined;
    this.advance(this.clock.now());
    const head = this.segments[0];
    // Paused: resume() wakes it. Drained but not flushed: the next frame or flush() does.
    if (!head || this.paused || head.frames.length === 0) return;
    this.timer = setTimeout(this.wake, Math.max(1, Math.ceil(head.queuedMs - head.playedMs)));
  };

  /** Plays audio up to timeline instant `now`. */
  private advance(now: number): void {
    const last = this.lastTick ?? now;
    this.lastTick = now;
    if (this.paused) return;
    let budget = now - last; // milliseconds of audio that played since the last tick
    let cursor = last;
    while (this.segments.length > 0) {
      const seg = this.segments[0]!;
      if (!seg.started) {
        if (seg.frames.length === 0) break; // nothing to play yet
        seg.started = true;
        this.events.push({ kind: 'start', atMs: cursor, segment: seg.id, positionMs: 0 });
        this.openPlaying(cursor, seg.id);
        this.onPlaybackStarted(this.clock.epochAt(cursor));
      }
      while (budget > 0 && seg.frames.length > 0) {
        const frame = seg.frames[0]!;
        const available = frame.length - this.frameOffset;
        const want = Math.round((budget * seg.rate) / 1000);
        const take = Math.min(available, Math.max(1, want));
        if (this.recordRate) {
          const part = frame.subarray(this.frameOffset, this.frameOffset + take);
          this.recorded.push({ atMs: cursor, samples: resample(part, seg.rate, this.recordRate) });
        }
        const ms = (take * 1000) / seg.rate;
        seg.playedMs += ms;
        budget -= ms;
        cursor += ms;
        this.frameOffset += take;
        if (this.frameOffset >= frame.length) {
          seg.frames.shift();
          this.frameOffset = 0;
        }
      }
      if (seg.frames.length === 0 && seg.flushed) {
        // Underruns are not gaps in this model: finish at the instant the last sample played.
        const at = Math.min(cursor, now);
        this.segments.shift();
        this.events.push({ kind: 'finish', atMs: at, segment: seg.id, positionMs: seg.playedMs });
        this.closePlaying(at, 'finish');
        this.onPlaybackFinished({ playbackPosition: seg.playedMs / 1000, interrupted: false });
        continue;
      }
      break;
    }
  }
}

function monoOf(frame: AudioFrame): Int16Array {
  if (frame.channels === 1) return frame.data.slice(0, frame.samplesPerChannel);
  const out = new Int16Array(frame.samplesPerChannel);
  for (let i = 0; i < out.length; i++) {
    let sum = 0;
    for (let c = 0; c < frame.channels; c++) sum += frame.data[i * frame.channels + c]!;
    out[i] = Math.round(sum / frame.channels);
  }
  return out;
}
