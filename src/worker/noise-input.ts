/**
 * Puts the call's noise suppressor (src/telephony/noise) in front of VAD and STT, the same way
 * for a LiveKit room and for the simulator: as an rtc-node `FrameProcessor`, which RoomIO
 * applies to the caller's track (`inputOptions.noiseCancellation`), and which
 * `SuppressedAudioInput` applies to any other `voice.AudioInput`.
 */
import { ReadableStream } from 'node:stream/web';
import { voice } from '@livekit/agents';
import { AudioFrame, FrameProcessor } from '@livekit/rtc-node';
import type { NoiseSuppressor, NoiseSuppressorFactory } from '../telephony/noise/suppressor.js';

/** One call's suppressor as a frame processor; the suppressor is made for the first frame's rate. */
export class NoiseFrameProcessor extends FrameProcessor<AudioFrame> {
  #enabled = true;
  #suppressor: NoiseSuppressor | undefined;
  #closed = false;

  constructor(private readonly factory: NoiseSuppressorFactory) {
    super();
  }

  get backend(): string {
    return this.factory.backend;
  }

  isEnabled(): boolean {
    return this.#enabled && this.factory.backend !== 'off';
  }

  setEnabled(enabled: boolean): void {
    this.#enabled = enabled;
  }

  process(frame: AudioFrame): AudioFrame {
    if (!this.isEnabled() || this.#closed || frame.channels !== 1) return frame;
    if (this.#suppressor?.sampleRate !== frame.sampleRate) {
      // A new rate means a new stream (track switch): state of the old one is useless.
      this.#suppressor?.close();
      this.#suppressor = this.factory.create(frame.sampleRate);
    }
    const out = this.#suppressor.process(frame.data);
    return new AudioFrame(out, frame.sampleRate, 1, out.length);
  }

  close(): void {
    this.#closed = true;
    this.#suppressor?.close();
    this.#suppressor = undefined;
  }
}

/** Wraps a room-less audio input (the simulator's) so its frames pass through `processor`. */
export class SuppressedAudioInput extends voice.AudioInput {
  constructor(
    private readonly source: voice.AudioInput,
    private readonly processor: FrameProcessor<AudioFrame>,
  ) {
    super();
    const reader = source.stream.getReader();
    this.multiStream.addInputStream(
      new ReadableStream<AudioFrame>({
        pull: async (controller) => {
          const { done, value } = await reader.read();
          if (done) controller.close();
          else controller.enqueue(this.processor.process(value));
        },
        cancel: (reason) => reader.cancel(reason),
      }),
    );
  }

  override async close(): Promise<void> {
    await this.source.close();
    await super.close();
  }
}
