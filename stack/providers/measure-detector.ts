/**
 * Measures the Deepgram stand-in's speech detector on phone audio:
 *
 *   npx tsx stack/providers/measure-detector.ts
 *
 * Sentences spoken by four eSpeak voices at 8 kHz, 1.2 s into a track of pink, white or brown
 * line noise at 20/15/10/5 dB SNR (against the speech's active level), one G.711 µ-law pass.
 * Truth: the first and last 5 ms of the clean speech above -45 dBFS. Prints, per SNR, how many
 * utterances came out as exactly one segment and the onset/offset errors (detected − truth, ms);
 * then false segments in 20 s of noise alone (with a cough and a breath) at -50…-25 dBFS.
 */
import { readWav } from '../../src/core/wav.js';
import { activeRms, addInto, clip16, mixNoise, noise } from '../../src/sim/noise.js';
import { speak } from '../../src/sim/offline-tts.js';
import { mulawRoundTrip } from './g711.js';
import { detectSegments, soundSpan } from './speech-detector.js';

const SR = 8000;
const SENTENCES = [
  'I have a question about my bill.',
  'uh huh',
  'wait',
  "Hi, I've got a question about my bill.",
  'Yes, my account number is five five five, one two three.',
  'stop',
];
const VOICES = ['en-us+f3', 'en-us+m3', 'en-gb-x-rp+m3', 'en-us'];
const KINDS = ['pink', 'white', 'brown'] as const;

const pct = (xs: number[], p: number) =>
  [...xs].sort((a, b) => a - b)[Math.floor(p * (xs.length - 1))] ?? Number.NaN;

async function main(): Promise<void> {
  for (const snr of [20, 15, 10, 5]) {
    const on: number[] = [];
    const off: number[] = [];
    let single = 0;
    let total = 0;
    for (const kind of KINDS) {
      for (const voice of VOICES) {
        for (const text of SENTENCES) {
          const { samples } = await speak(text, { voice, sampleRate: SR });
          const t = soundSpan(samples);
          const lead = 1.2 * SR;
          const track = new Int16Array(lead + samples.length + 1.5 * SR);
          addInto(track, samples, lead);
          mixNoise(track, kind, snr, activeRms(samples, SR), 7);
          const segs = detectSegments(mulawRoundTrip(track), { sampleRate: SR });
          total++;
          if (segs.length !== 1) continue;
          single++;
          on.push(((segs[0]!.onsetSample - lead - t.first) * 1000) / SR);
          off.push(((segs[0]!.offsetSample - lead - t.last) * 1000) / SR);
        }
      }
    }
    const f = (xs: number[]) =>
      `median ${pct(xs, 0.5)}, p10 ${pct(xs, 0.1)}, p90 ${pct(xs, 0.9)}, min ${pct(xs, 0)}, max ${pct(xs, 1)}`;
    console.log(`SNR ${snr} dB: ${single}/${total} one segment`);
    console.log(`  onset error ms:  ${f(on)}`);
    console.log(`  offset error ms: ${f(off)}`);
  }
  const fixtures = new URL('../../test/fixtures/', import.meta.url);
  const cough = readWav(new URL('cough-600.wav', fixtures).pathname).samples;
  const breath = readWav(new URL('breath-900.wav', fixtures).pathname).samples;
  let falseSegments = 0;
  for (const kind of KINDS) {
    for (const dbfs of [-50, -40, -30, -25]) {
      const n = noise(kind, 20 * SR, 3);
      const t = new Int16Array(n.length);
      for (let i = 0; i < n.length; i++) t[i] = clip16(n[i]! * 32768 * 10 ** (dbfs / 20));
      addInto(t, cough, 5 * SR);
      addInto(t, breath, 12 * SR);
      falseSegments += detectSegments(mulawRoundTrip(t), { sampleRate: SR }).length;
    }
  }
  console.log(
    `noise alone (3 colours x 4 levels x 20 s, a cough and a breath each): ${falseSegments} false segments`,
  );
  process.exit(0);
}

void main();
