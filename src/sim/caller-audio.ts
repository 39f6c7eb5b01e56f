/**
 * The caller's audio of a simulated call, rendered before the call starts so synthesis never
 * stalls the line: each line's WAV clips (8 kHz mono after resampling), offline speech or
 * synthetic speech-like tone, and looped line noise at the scenario's SNR.
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { PHONE_SAMPLE_RATE } from '../agents/providers.js';
import { ConfigError } from '../core/errors.js';
import { concat, readWav, resample, toMono } from '../core/wav.js';
import { mixNoise, type NoiseKind, seedOf } from './noise.js';
import { speak } from './offline-tts.js';
import type { CallerLineSpec } from './scenario.js';
import { syntheticSpeech } from './synthetic-tts.js';

/** Caller audio for one line at 8 kHz: its clips and synthesised parts, in order. */
export async function callerAudio(line: CallerLineSpec, baseDir: string): Promise<Int16Array> {
  if (line.say === undefined) return new Int16Array(0); // keys only
  const say = line.say;
  const voiceOpts = { voice: line.voice ?? 'en-us+m3', rate: 165, sampleRate: PHONE_SAMPLE_RATE };
  const parts: Int16Array[] = [];
  for (const part of line.audio ?? [{ tts: say }]) {
    if (typeof part === 'string') {
      const file = resolve(baseDir, part);
      // A clip that is not there is the scenario's mistake: never a silent substitute.
      if (!existsSync(file)) throw new ConfigError(`caller clip not found: ${file}`);
      const wav = readWav(file);
      parts.push(resample(toMono(wav), wav.sampleRate, PHONE_SAMPLE_RATE));
      continue;
    }
    parts.push(
      'synthetic' in part
        ? syntheticSpeech(part.synthetic, PHONE_SAMPLE_RATE)
        : (await speak(part.tts, voiceOpts)).samples,
    );
  }
  // 120 ms between parts, like a breath between "wait" and the rest of the sentence.
  const gap = new Int16Array(Math.round(PHONE_SAMPLE_RATE * 0.12));
  return concat(parts.flatMap((p, i) => (i === 0 ? [p] : [gap, p])));
}

export function lineNoise(
  kind: NoiseKind,
  snrDb: number,
  speechRms: number,
  seedText: string,
): Int16Array {
  // 10 s of it, looped under the call.
  return mixNoise(new Int16Array(PHONE_SAMPLE_RATE * 10), kind, snrDb, speechRms, seedOf(seedText));
}
