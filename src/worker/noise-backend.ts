/**
 * Picks the process's noise-suppression backend (src/telephony/noise). Speex by default: it runs
 * at the call's 8 kHz, where RNNoise needs a 48 kHz round trip that costs several times more
 * CPU per call. Loaded once per process; each call gets its own suppressor from the factory.
 */
import { loadRnnoiseFactory } from '../telephony/noise/rnnoise.js';
import { loadSpeexFactory } from '../telephony/noise/speex.js';
import {
  type LocalNoiseBackend,
  type NoiseSuppressorFactory,
  passThroughFactory,
} from '../telephony/noise/suppressor.js';

export const defaultNoiseBackend: LocalNoiseBackend = 'speex';

export async function loadNoiseFactory(
  backend: LocalNoiseBackend = defaultNoiseBackend,
): Promise<NoiseSuppressorFactory> {
  switch (backend) {
    case 'speex':
      return loadSpeexFactory();
    case 'rnnoise':
      return loadRnnoiseFactory();
    case 'off':
      return passThroughFactory;
  }
}
