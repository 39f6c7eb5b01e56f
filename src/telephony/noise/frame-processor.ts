/**
 * Adapts a suppressor backend to rtc-node's `FrameProcessor<AudioFrame>`: the one form both
 * audio sources take. The `AudioStream` of the caller's track in a room runs it on every frame,
 * before VAD and STT, and so does the simulator's line.
 */
import { AudioFrame, FrameProcessor } from '@livekit/rtc-node';
import type { NoiseSuppressor, NoiseSuppressorFactory } from './suppressor.js';

export class NoiseSuppressionProcessor extends FrameProcessor<AudioFrame> {
  #enabled = true;
  #suppressor: NoiseSuppressor | undefined;
  #closed = false;
  #warnedChannels = false;

  constructor(
    private readonly factory: NoiseSuppressorFactory,
    /** Told once when frames cannot be processed (not mono); they then pass through. */
    private readonly onUnsupported: (reason: string) => void = () => {},
  ) {
    super();
  }

  get backend(): string {
    return this.factory.backend;
  }

  isEnabled(): boolean {
    return this.#enabled && !this.#closed;
  }

  setEnabled(enabled: boolean): void {
    this.#enabled = enabled;
  }

  process(frame: AudioFrame): AudioFrame {
    if (this.#closed || !this.#enabled) return frame;
    if (frame.channels !== 1) {
      if (!this.#warnedChannels) {
        this.#warnedChannels = true;
        this.onUnsupported(`${frame.channels}-channel audio is passed through unsuppressed`);
      }
      return frame;
    }
    // The suppressor is made for the rate the stream delivers (the room input's
    // audioSampleRate); a rate change starts a fresh one rather than mixing states.
    if (this.#suppressor?.sampleRate !== frame.sampleRate) {
      this.#suppressor?.close();
      this.#suppressor = this.factory.create(frame.sampleRate);
    }
    const data = this.#suppressor.process(frame.data.subarray(0, frame.samplesPerChannel));
    return new AudioFrame(data, frame.sampleRate, 1, frame.samplesPerChannel, frame.userdata);
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#suppressor?.close();
    this.#suppressor = undefined;
  }
}
