/**
 * How the simulator's voices (eSpeak's offline TTS and the timing-only synthetic one) hand their
 * audio to the session: 20 ms frames, made as they are handed over, optionally paced like a
 * provider's stream.
 */
import { shortuuid, type tts } from '@livekit/agents';
import { AudioFrame } from '@livekit/rtc-node';

const FRAME_MS = 20;
const FRAMES_PER_DELIVERY = 10; // 200 ms of audio

/** `samples` as 20 ms AudioFrames, each made when it is taken. */
export function* framesOf(samples: Int16Array, sampleRate: number): Generator<AudioFrame> {
  const per = samplesPerFrame(sampleRate);
  for (let i = 0; i < samples.length; i += per) {
    const chunk = samples.slice(i, i + per);
    yield new AudioFrame(chunk, sampleRate, 1, chunk.length);
  }
}

function samplesPerFrame(sampleRate: number): number {
  return Math.round((sampleRate * FRAME_MS) / 1000);
}

export interface DeliveryOptions {
  /**
   * Pace as a multiple of real time, 200 ms of audio per delivery; 0 = all at once. A streaming
   * provider sends audio as it makes it: a whole reply in one instant would be a burst of
   * hundreds of frames through the session that no real call has.
   */
  speedup: number;
  /** Stops delivery (the reply was interrupted). */
  signal: AbortSignal;
}

/** Puts `samples` on a TTS stream's queue as one segment of 20 ms frames. */
export async function deliverFrames(
  put: (audio: tts.SynthesizedAudio) => void,
  samples: Int16Array,
  sampleRate: number,
  { speedup, signal }: DeliveryOptions,
): Promise<void> {
  const requestId = shortuuid();
  const count = Math.ceil(samples.length / samplesPerFrame(sampleRate));
  let k = 0;
  for (const frame of framesOf(samples, sampleRate)) {
    if (signal.aborted) return;
    k++;
    put({ requestId, segmentId: requestId, frame, final: k === count });
    if (speedup > 0 && k % FRAMES_PER_DELIVERY === 0 && k < count) {
      await new Promise((r) => setTimeout(r, (FRAMES_PER_DELIVERY * FRAME_MS) / speedup));
    }
  }
}
