/**
 * Telephony noise suppression: line noise is removed from the caller's narrowband audio before
 * the session's VAD and STT hear it. `NOISE_SUPPRESSION` picks the backend; `npm run
 * bench:noise` measures them (SNR gain and CPU per call).
 *
 * Wiring (src/worker/session.ts), one call = one processor:
 *
 *   // real room: the caller's AudioStream runs the processor on every frame
 *   const noiseCancellation = await roomNoiseCancellation(config, logger);
 *   await session.start({ agent, room: ctx.room,
 *     inputOptions: { audioSampleRate: 8000, noiseCancellation, ... } });
 *
 *   // any other voice.AudioInput (simulator, tests): wrap it before session.start()
 *   session.input.audio = await withNoiseSuppression(simInput, config, logger);
 *
 * The room input closes the processor when the session closes; the wrapper closes it in close().
 */
import type { voice } from '@livekit/agents';
import type { NoiseCancellationOptions } from '@livekit/rtc-node';
import type { Config } from '../../core/config.js';
import type { Logger } from '../../core/logger.js';
import { NoiseSuppressedAudioInput } from './audio-input.js';
import { NoiseSuppressionProcessor } from './frame-processor.js';
import { loadLiveKitCloudFilter } from './livekit-cloud.js';
import { loadRnnoiseFactory } from './rnnoise.js';
import { loadSpeexFactory } from './speex.js';
import {
  type NoiseSuppressor,
  type NoiseSuppressorFactory,
  passThroughFactory,
} from './suppressor.js';

export { NoiseSuppressedAudioInput } from './audio-input.js';
export { NoiseSuppressionProcessor } from './frame-processor.js';
export type { LocalNoiseBackend, NoiseSuppressor, NoiseSuppressorFactory } from './suppressor.js';

export const noiseSuppressionModes = ['speex', 'rnnoise', 'off', 'livekit-cloud'] as const;
export type NoiseSuppressionMode = (typeof noiseSuppressionModes)[number];

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

/**
 * The value for `RoomInputOptions.noiseCancellation` of one call: our processor (speex,
 * rnnoise), LiveKit Cloud's telephony filter (livekit-cloud), or undefined (off).
 */
export async function roomNoiseCancellation(
  settings: NoiseSuppressionSettings,
  logger?: Logger,
): Promise<NoiseSuppressionProcessor | NoiseCancellationOptions | undefined> {
  if (settings.NOISE_SUPPRESSION === 'off') return undefined;
  if (settings.NOISE_SUPPRESSION === 'livekit-cloud') return loadLiveKitCloudFilter();
  return new NoiseSuppressionProcessor(await loadNoiseSuppressorFactory(settings), (reason) =>
    logger?.warn({ backend: settings.NOISE_SUPPRESSION }, `noise suppression: ${reason}`),
  );
}

/**
 * Wraps a non-room audio input with the local suppressor. `off` returns the input itself, and
 * so does `livekit-cloud` (that filter only exists on a LiveKit Cloud room's track).
 */
export async function withNoiseSuppression(
  input: voice.AudioInput,
  settings: NoiseSuppressionSettings,
  logger?: Logger,
): Promise<voice.AudioInput> {
  if (settings.NOISE_SUPPRESSION === 'off') return input;
  if (settings.NOISE_SUPPRESSION === 'livekit-cloud') {
    logger?.info('noise suppression: livekit-cloud applies to room audio only; input left as is');
    return input;
  }
  const processor = new NoiseSuppressionProcessor(
    await loadNoiseSuppressorFactory(settings),
    (reason) =>
      logger?.warn({ backend: settings.NOISE_SUPPRESSION }, `noise suppression: ${reason}`),
  );
  return new NoiseSuppressedAudioInput(input, processor);
}
