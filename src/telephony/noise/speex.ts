/**
 * SpeexDSP's preprocessor (spectral noise suppression, WASM build) at the call's own sample
 * rate: no resampling, so it is cheap at 8 kHz.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { loadSpeexModule, SpeexPreprocessor } from '@sapphi-red/speex-preprocess-wasm';
import { BlockRunner, type NoiseSuppressor, type NoiseSuppressorFactory } from './suppressor.js';

export interface SpeexOptions {
  /** Maximum attenuation of noise in dB (positive; Speex's own default is 15). */
  maxAttenuationDb: number;
  /**
   * Analysis block. Speex suggests 10–20 ms, but at 8 kHz a 32 ms block (512-point FFT) resolves
   * pink/brown line noise better: +0.5 dB mean SNR gain over 20 ms for 32 ms more latency
   * (bench:noise).
   */
  blockMs: number;
}

/** Tuned with bench:noise (block 10–48 ms × attenuation 15–40 dB). */
export const speexDefaults = {
  maxAttenuationDb: 40,
  blockMs: 32,
} as const satisfies SpeexOptions;

type SpeexModule = Awaited<ReturnType<typeof loadSpeexModule>>;
type SpeexState = Parameters<SpeexModule['_speex_preprocess_state_destroy']>[0];
let speexModule: Promise<SpeexModule> | undefined;

/** Loads the WASM module once per process; every call's state lives in its heap. */
export async function loadSpeexFactory(
  options: Partial<SpeexOptions> = {},
): Promise<NoiseSuppressorFactory> {
  // Hand over the bytes: the Emscripten loader would try fetch() on a file: URL under tsx.
  speexModule ??= loadSpeexModule({
    wasmBinary: readFileSync(
      createRequire(import.meta.url).resolve('@sapphi-red/speex-preprocess-wasm/speex.wasm'),
    ),
  });
  const module = await speexModule;
  const opts = { ...speexDefaults, ...options };
  return {
    backend: 'speex',
    create: (sampleRate) => createSpeexSuppressor(module, sampleRate, opts),
  };
}

function createSpeexSuppressor(
  module: SpeexModule,
  sampleRate: number,
  opts: SpeexOptions,
): NoiseSuppressor {
  const blockSize = Math.round((sampleRate * opts.blockMs) / 1000);
  const state = new SpeexPreprocessor(module, blockSize, sampleRate);
  state.denoise = true;
  // Speex's defaults already have gain control and its VAD off (setting the VAD, even to off,
  // prints a warning); only the attenuation is ours.
  state.noiseSuppress = -Math.abs(opts.maxAttenuationDb);
  const runner = new BlockRunner(blockSize, (block) => state.processInt16(block));
  let closed = false;
  return {
    backend: 'speex',
    sampleRate,
    process: (frame) => runner.process(frame),
    close() {
      if (closed) return;
      closed = true;
      // The wrapper's destroy() frees only its buffers; the preprocessor state itself (~35 KB
      // of the process's WASM heap, which never shrinks) would leak with every call.
      module._speex_preprocess_state_destroy((state as unknown as { state: SpeexState }).state);
      state.destroy();
    },
  };
}
