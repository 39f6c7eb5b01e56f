/**
 * Telephony noise suppression: line noise is removed from the caller's narrowband audio before
 * the session's VAD and STT hear it. `NOISE_SUPPRESSION` picks the backend; `npm run
 * bench:noise` measures them (SNR gain and CPU per call).
 *
 * Wiring: load once per process (prewarm), then one processor per call, run by the source of
 * the caller's audio on every frame before the session's VAD and STT read it: the `AudioStream`
 * of the caller's track in a room, the simulator's line in `npm run demo` and the benchmark.
 *
 *   const noise = await loadNoiseSuppression(config, logger);     // prewarm
 *   const piece = noise.forRoom();   // per call: processor | LiveKit Cloud filter | undefined
 *
 * The audio source that runs a processor closes it when the call's input closes.
 */
import type { NoiseCancellationOptions } from '@livekit/rtc-node';
import type { Config } from '../../core/config.js';
import type { Logger } from '../../core/logger.js';
import { NoiseSuppressionProcessor } from './frame-processor.js';
import { loadLiveKitCloudFilter } from './livekit-cloud.js';
import { loadRnnoiseFactory } from './rnnoise.js';
import { loadSpeexFactory } from './speex.js';
import {
  type NoiseSuppressionMode,
  type NoiseSuppressor,
  type NoiseSuppressorFactory,
  passThroughFactory,
} from './suppressor.js';

export { NoiseSuppressionProcessor } from './frame-processor.js';
export {
  type LocalNoiseBackend,
  type NoiseSuppressionMode,
  type NoiseSuppressor,
  type NoiseSuppressorFactory,
  noiseSuppressionModes,
} from './suppressor.js';

export type NoiseSuppressionSettings = Pick<
  Config,
  'NOISE_SUPPRESSION' | 'NOISE_SUPPRESSION_MAX_DB'
>;

/**
 * The in-process backend for the settings, its library loaded (once per process). LiveKit
 * Cloud's filter runs in the room, not here, so `livekit-cloud` (like `off`) passes through.
 */
export async function loadNoiseSuppressorFactory(
  settings: NoiseSuppressionSettings,
): Promise<NoiseSuppressorFactory> {
  switch (settings.NOISE_SUPPRESSION) {
    case 'speex':
      return loadSpeexFactory({ maxAttenuationDb: settings.NOISE_SUPPRESSION_MAX_DB });
    case 'rnnoise':
      return loadRnnoiseFactory();
    case 'off':
    case 'livekit-cloud':
      return passThroughFactory;
  }
}

/** A per-call suppressor over mono Int16 frames at `sampleRate` (8 kHz phone audio by default). */
export async function createNoiseSuppressor(
  settings: NoiseSuppressionSettings,
  sampleRate = 8000,
): Promise<NoiseSuppressor> {
  return (await loadNoiseSuppressorFactory(settings)).create(sampleRate);
}

/** The process's noise suppression, its library loaded; hands out per-call pieces. */
export interface NoiseSuppression {
  readonly mode: NoiseSuppressionMode;
  /**
   * `RoomInputOptions.noiseCancellation` for ONE call: a fresh processor (speex, rnnoise),
   * LiveKit Cloud's telephony filter options (livekit-cloud), or undefined (off).
   */
  forRoom(): NoiseSuppressionProcessor | NoiseCancellationOptions | undefined;
}

/**
 * Loads the configured backend once per process. For livekit-cloud this fails at start-up
 * (PA_ERR_NOISE_SUPPRESSION_UNAVAILABLE) when its optional package is missing.
 */
export async function loadNoiseSuppression(
  settings: NoiseSuppressionSettings,
  logger?: Logger,
): Promise<NoiseSuppression> {
  const mode = settings.NOISE_SUPPRESSION;
  const cloud = mode === 'livekit-cloud' ? await loadLiveKitCloudFilter() : undefined;
  const factory = await loadNoiseSuppressorFactory(settings);
  const processor = () =>
    new NoiseSuppressionProcessor(factory, (reason) =>
      logger?.warn({ backend: mode }, `noise suppression: ${reason}`),
    );
  return {
    mode,
    forRoom: () => (mode === 'off' ? undefined : (cloud ?? processor())),
  };
}
