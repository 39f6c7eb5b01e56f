/**
 * What the caller hears on hold: a WAV file (WARM_TRANSFER_HOLD_AUDIO) or, by default, a soft
 * two-note chime every three seconds, generated so the image ships no audio asset.
 */
import { ConfigError } from '../../core/errors.js';
import { readWav, toMono } from '../../core/wav.js';
import type { HoldAudio } from '../call-control.js';

const RATE = 16000;

/** A quiet chime (E5 then C5, decaying) followed by silence; 3 s, loops seamlessly. */
export function defaultHoldAudio(sampleRate = RATE): HoldAudio {
  const samples = new Int16Array(sampleRate * 3);
  const note = (freq: number, startS: number, lenS: number) => {
    const start = Math.round(startS * sampleRate);
    const n = Math.round(lenS * sampleRate);
    for (let i = 0; i < n && start + i < samples.length; i++) {
      const t = i / sampleRate;
      // -20 dBFS peak, quick attack, exponential decay: audible, never harsh on a phone line.
      const env = Math.min(1, t / 0.01) * Math.exp(-t * 3);
      samples[start + i]! += Math.round(3277 * env * Math.sin(2 * Math.PI * freq * t));
    }
  };
  note(659.25, 0, 1.2);
  note(523.25, 0.6, 1.4);
  return { sampleRate, samples };
}

/** Loads hold audio from a mono or stereo PCM16 WAV file; a bad file is a config error. */
export function loadHoldAudio(path: string | undefined): HoldAudio {
  if (!path) return defaultHoldAudio();
  try {
    const wav = readWav(path);
    return { sampleRate: wav.sampleRate, samples: toMono(wav) };
  } catch (err) {
    throw new ConfigError(`WARM_TRANSFER_HOLD_AUDIO: ${(err as Error).message}`);
  }
}
