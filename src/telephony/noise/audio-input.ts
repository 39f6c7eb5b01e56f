/**
 * Noise suppression for a session whose audio input is not a room's (the simulator's
 * `voice.AudioInput`, a test input): wraps the input so every frame passes the processor before
 * the session's VAD and STT read it. A real room needs no wrapper: pass the processor as
 * `RoomInputOptions.noiseCancellation` (see index.ts).
 */
import { TransformStream } from 'node:stream/web';
import { voice } from '@livekit/agents';
import type { AudioFrame } from '@livekit/rtc-node';
import type { NoiseSuppressionProcessor } from './frame-processor.js';

export class NoiseSuppressedAudioInput extends voice.AudioInput {
  #closed = false;

  constructor(
    readonly source: voice.AudioInput,
    readonly processor: NoiseSuppressionProcessor,
  ) {
    super();
    const suppress = new TransformStream<AudioFrame, AudioFrame>({
      transform: (frame, controller) => {
        controller.enqueue(this.processor.process(frame));
      },
    });
    // The session re-reads `this.stream` on every agent handoff; our own multiStream allows
    // that, while the source's stream is piped exactly once for the life of the call.
    void source.stream.pipeTo(suppress.writable).catch(() => {});
    this.multiStream.addInputStream(suppress.readable);
  }

  override setAttached(attached: boolean): void {
    super.setAttached(attached);
    this.source.setAttached(attached);
  }

  override onAttached(): void {
    this.source.onAttached();
  }

  override onDetached(): void {
    this.source.onDetached();
  }

  override async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.source.close();
    await super.close();
    this.processor.close();
  }
}
