/**
 * RNNoise (xiph's recurrent-network suppressor, WASM build). It only runs at 48 kHz, so a call's
 * narrowband audio is resampled up and back down with rtc-node's sox resampler; that and the
 * network make it several times dearer than Speex per call.
 */
import RNNoise, { type RnnoiseModule } from '@echogarden/rnnoise-wasm';
import { AudioFrame, AudioResampler, AudioResamplerQuality } from '@livekit/rtc-node';
import {
  type NoiseSuppressor,
  type NoiseSuppressorFactory,
  SampleQueue,
  takeOrPad,
} from './suppressor.js';

const RNNOISE_RATE = 48_000;

let rnnoiseModule: Promise<RnnoiseModule> | undefined;

/** Loads the WASM module once per process; every call's state lives in its heap. */
export async function loadRnnoiseFactory(): Promise<NoiseSuppressorFactory> {
  rnnoiseModule ??= RNNoise();
  const module = await rnnoiseModule;
  return {
    backend: 'rnnoise',
    create: (sampleRate) => createRnnoiseSuppressor(module, sampleRate),
  };
}

function createRnnoiseSuppressor(module: RnnoiseModule, sampleRate: number): NoiseSuppressor {
  const frameSize = module._rnnoise_get_frame_size();
  const state = module._rnnoise_create(0);
  const bufPtr = module._malloc(frameSize * Float32Array.BYTES_PER_ELEMENT);
  const resample = sampleRate !== RNNOISE_RATE;
  // sox QUICK: it returns output on every push, while the higher qualities emit ~60 ms bursts,
  // which added ~120 ms of latency before VAD/STT for no measurable SNR gain.
  const up = resample
    ? new AudioResampler(sampleRate, RNNOISE_RATE, 1, AudioResamplerQuality.QUICK)
    : undefined;
  const down = resample
    ? new AudioResampler(RNNOISE_RATE, sampleRate, 1, AudioResamplerQuality.QUICK)
    : undefined;
  const wide = new SampleQueue();
  const block = new Int16Array(frameSize);
  // The resampler copies a frame's samples when pushed, so one frame over `block` serves all.
  const blockFrame = new AudioFrame(block, RNNOISE_RATE, 1, frameSize);
  const output = new SampleQueue();
  let closed = false;

  const denoiseBlock = (): void => {
    const base = bufPtr / Float32Array.BYTES_PER_ELEMENT;
    const heap = module.HEAPF32;
    // RNNoise works on float samples at int16 scale, in place.
    for (let i = 0; i < frameSize; i++) heap[base + i] = block[i]!;
    module._rnnoise_process_frame(state, bufPtr, bufPtr);
    const out = module.HEAPF32;
    for (let i = 0; i < frameSize; i++) {
      // Int16Array assignment wraps around; clamp instead.
      block[i] = Math.min(32767, Math.max(-32768, Math.round(out[base + i]!)));
    }
  };

  return {
    backend: 'rnnoise',
    sampleRate,
    process(frame) {
      if (up) {
        // A copy: the FFI reads a frame from the start of its buffer, and `frame` may be a view.
        for (const f of up.push(new AudioFrame(frame.slice(), sampleRate, 1, frame.length))) {
          wide.push(f.data);
        }
      } else {
        wide.push(frame);
      }
      while (wide.length >= frameSize) {
        wide.shiftInto(frameSize, block);
        denoiseBlock();
        if (down) {
          for (const f of down.push(blockFrame)) output.push(f.data);
        } else {
          output.push(block);
        }
      }
      return takeOrPad(output, frame.length);
    },
    close() {
      if (closed) return;
      closed = true;
      module._free(bufPtr);
      module._rnnoise_destroy(state);
      up?.close();
      down?.close();
    },
  };
}
