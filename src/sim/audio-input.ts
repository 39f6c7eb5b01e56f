/**
 * The caller's side of a simulated call: a `voice.AudioInput` that feeds the session PCM frames
 * at real-time pace, anchored to the shared SimClock. Frame k always carries the audio of
 * timeline [k·frameMs, (k+1)·frameMs), even when the event loop lags (late frames are sent in a
 * burst), so what the VAD hears lines up with the script.
 *
 * Audio is placed on the timeline with `play(samples, atMs)`; overlapping clips are mixed, and
 * an optional looped background (line noise) runs under everything. Between clips the input
 * sends silence, like an open phone line.
 *
 * A noise-suppression processor, when given, runs on each frame inside this source, as a room's
 * `AudioStream` runs it: the session's VAD and STT read suppressed audio with no extra stream hop.
 */
import { ReadableStream, type ReadableStreamDefaultController } from 'node:stream/web';
import { voice } from '@livekit/agents';
import { AudioFrame, type FrameProcessor } from '@livekit/rtc-node';
import { concat } from '../core/wav.js';
import type { SimClock } from './clock.js';
import { clip16 } from './noise.js';

export interface SimAudioInputOptions {
  clock: SimClock;
  /** Default 8000 (narrowband phone audio). */
  sampleRate?: number;
  /** Frame length in milliseconds; default 20 (one RTP packet on a phone line). */
  frameMs?: number;
  /** Keep what the caller sent (before noise suppression) for `recording()`. */
  record?: boolean;
}

const TIMER_EARLY_MS = 1;

interface Placed {
  start: number; // sample index on the timeline
  samples: Int16Array;
  gain: number;
}

export class SimAudioInput extends voice.AudioInput {
  readonly sampleRate: number;
  readonly frameMs: number;
  private readonly clock: SimClock;
  private readonly samplesPerFrame: number;
  /** Mixing buffer, reused frame after frame (each frame's Int16Array is its own). */
  private readonly mix: Float32Array;
  private readonly placed: Placed[] = [];
  private background: Int16Array | undefined;
  private controller: ReadableStreamDefaultController<AudioFrame> | undefined;
  private nextFrame = 0;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  private readonly sent: Int16Array[] = [];
  private readonly keepRecording: boolean;
  private processor: FrameProcessor<AudioFrame> | undefined;

  constructor(opts: SimAudioInputOptions) {
    super();
    this.clock = opts.clock;
    this.sampleRate = opts.sampleRate ?? 8000;
    this.frameMs = opts.frameMs ?? 20;
    this.samplesPerFrame = Math.round((this.sampleRate * this.frameMs) / 1000);
    this.mix = new Float32Array(this.samplesPerFrame);
    this.keepRecording = opts.record ?? false;
    const stream = new ReadableStream<AudioFrame>({
      start: (controller) => {
        this.controller = controller;
      },
    });
    this.multiStream.addInputStream(stream);
    void this.clock.whenStarted().then(() => this.tick());
  }

  /**
   * Places mono PCM (at this input's sample rate) on the caller track at timeline `atMs`
   * (default: now). Returns the timeline instant where it ends.
   */
  play(samples: Int16Array, atMs?: number, gain = 1): number {
    const at = atMs ?? this.clock.now();
    const start = Math.round((at * this.sampleRate) / 1000);
    this.placed.push({ start, samples, gain });
    return at + (samples.length * 1000) / this.sampleRate;
  }

  /** Runs `processor` on every frame from now on (this input closes it). */
  useProcessor(processor: FrameProcessor<AudioFrame> | undefined): void {
    this.processor = processor;
  }

  /** Loops `samples` under everything (e.g. line noise made with `noise()`); undefined stops it. */
  setBackground(samples: Int16Array | undefined): void {
    this.background = samples && samples.length > 0 ? samples : undefined;
  }

  /** The caller track as sent so far (only when constructed with `record: true`). */
  recording(): Int16Array {
    return concat(this.sent);
  }

  override async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.timer);
    this.processor?.close();
    try {
      this.controller?.close();
    } catch {
      // already closed by the consumer side
    }
    await super.close();
  }

  private tick(): void {
    if (this.closed) return;
    // Node runs a timer on its loop's whole millisecond, up to 1 ms before the instant asked
    // for: a frame that early counts as due, or each frame would cost a second wake-up.
    const due = Math.floor((this.clock.now() + TIMER_EARLY_MS) / this.frameMs) + 1;
    while (this.nextFrame < due) this.emit(this.nextFrame++);
    const nextAt = this.nextFrame * this.frameMs;
    this.timer = setTimeout(() => this.tick(), Math.max(1, nextAt - this.clock.now()));
  }

  private emit(index: number): void {
    const n = this.samplesPerFrame;
    const from = index * n;
    const mix = this.mix.fill(0);
    const bg = this.background;
    if (bg) {
      // The loop wraps at most once per frame: copy in up to two runs.
      let at = from % bg.length;
      for (let i = 0; i < n; ) {
        const run = Math.min(n - i, bg.length - at);
        for (let k = 0; k < run; k++) mix[i + k] = bg[at + k]!;
        i += run;
        at = 0;
      }
    }
    for (const p of this.placed) {
      const lo = Math.max(from, p.start);
      const hi = Math.min(from + n, p.start + p.samples.length);
      for (let s = lo; s < hi; s++) mix[s - from]! += p.samples[s - p.start]! * p.gain;
    }
    // Drop clips that have fully played, so long calls do not scan dead entries.
    for (let i = this.placed.length - 1; i >= 0; i--) {
      const p = this.placed[i]!;
      if (p.start + p.samples.length <= from + n) this.placed.splice(i, 1);
    }
    const data = new Int16Array(n);
    for (let i = 0; i < n; i++) data[i] = clip16(mix[i]!);
    if (this.keepRecording) this.sent.push(data);
    let frame = new AudioFrame(data, this.sampleRate, 1, n);
    if (this.processor?.isEnabled()) frame = this.processor.process(frame);
    try {
      this.controller?.enqueue(frame);
    } catch {
      // the session closed its side of the stream
      this.closed = true;
    }
  }
}
