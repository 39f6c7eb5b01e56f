/**
 * Silero VAD on phone audio: how candidate settings treat the corpus's narrowband clips (words,
 * coughs, breaths) over pink line noise, and pure line noise. Prints, per setting: words
 * detected, noise bursts that started "speech", false starts on line noise, and the detection
 * latency after the sound's onset. Used to choose `phoneVadDefaults` (src/agents/providers.ts).
 *
 *   npm run bench:vad            (a few minutes on one core; figures are the same on any machine)
 *   npm run bench:vad -- --gate  (only the silence gate's table)
 */
import { readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ReadableStream } from 'node:stream/web';
import { initializeLogger, VADEventType } from '@livekit/agents';
import * as silero from '@livekit/agents-plugin-silero';
import { AudioFrame } from '@livekit/rtc-node';
import { loadVAD, phoneVadDefaults } from '../src/agents/providers.js';
import { readWav, toMono } from '../src/core/wav.js';
import { activeRms, addInto, mixNoise } from '../src/sim/noise.js';
import { loadNoiseSuppressorFactory, type NoiseSuppressor } from '../src/telephony/noise/index.js';

const RATE = 8000;
const LEAD_MS = 500;
const TAIL_MS = 800;
const clipsDir = resolve(import.meta.dirname, '../fixtures/interruptions/clips');

interface Setting {
  activationThreshold: number;
  minSpeechDuration: number;
}
const settings: Setting[] = [0.5, 0.6, 0.7].flatMap((activationThreshold) =>
  [50, 100].map((minSpeechDuration) => ({ activationThreshold, minSpeechDuration })),
);
const SNRS_DB = [20, 10, 5];

/** Milliseconds from the start of `samples` to the first START_OF_SPEECH, or undefined. */
async function firstStart(
  vad: silero.VAD,
  samples: Int16Array,
  suppressor?: NoiseSuppressor,
): Promise<{ startMs?: number; starts: number }> {
  const stream = vad.stream();
  const frame = RATE / 50; // 20 ms frames, as the room delivers them
  const frames: AudioFrame[] = [];
  for (let i = 0; i + frame <= samples.length; i += frame) {
    // As in a call, the noise suppressor (if any) cleans each frame before the VAD hears it.
    const data = samples.slice(i, i + frame);
    frames.push(new AudioFrame(suppressor ? suppressor.process(data) : data, RATE, 1, frame));
  }
  stream.updateInputStream(ReadableStream.from(frames));
  const lastWindow = frames.length * frame - 2 * 256; // Silero windows are 256 samples at 8 kHz
  let startMs: number | undefined;
  let starts = 0;
  for await (const ev of stream) {
    if (ev.type === VADEventType.START_OF_SPEECH) {
      starts++;
      startMs ??= (ev.samplesIndex / RATE) * 1000;
    }
    if (ev.type === VADEventType.INFERENCE_DONE && ev.samplesIndex >= lastWindow) break;
  }
  stream.close();
  return { ...(startMs !== undefined ? { startMs } : {}), starts };
}

function track(clip: Int16Array, snrDb: number, seed: number): Int16Array {
  const out = new Int16Array(Math.round(((LEAD_MS + TAIL_MS) / 1000) * RATE) + clip.length);
  addInto(out, clip, Math.round((LEAD_MS / 1000) * RATE));
  return mixNoise(out, 'pink', snrDb, activeRms(clip, RATE), seed);
}

/** Onset timing and skipped inference with the production VAD (loadVAD), gate off and on. */
async function gateTable(
  words: Array<{ samples: Int16Array }>,
  bursts: Array<{ samples: Int16Array }>,
  speechRms: number,
): Promise<void> {
  // The production path: speex noise suppression before the VAD (NOISE_SUPPRESSION default).
  const speex = await loadNoiseSuppressorFactory({
    NOISE_SUPPRESSION: 'speex',
    NOISE_SUPPRESSION_MAX_DB: 40,
  });
  console.log(
    '\nsilence gate (production settings: threshold 0.6, min speech 50 ms, speex before the VAD)\n' +
      'snr  gate  words detected  bursts started  line-noise starts/10s  latency p50/p90/max ms  windows skipped',
  );
  for (const snr of SNRS_DB) {
    for (const gate of [false, true]) {
      const stats = { run: 0, skipped: 0 };
      const vad = (await loadVAD(
        { VAD_ACTIVATION_THRESHOLD: 0.6, VAD_SILENCE_GATE: gate },
        stats,
      )) as silero.VAD;
      const latencies: number[] = [];
      let detected = 0;
      for (const [i, c] of words.entries()) {
        // Ten seconds of line noise first, as in a call: the gate has learnt the line's floor.
        const r = await firstStart(vad, callTrack(c.samples, snr, i + 1), speex.create(RATE));
        if (r.startMs !== undefined && r.startMs >= LEAD_MS + CALL_LEAD_MS - 100) {
          detected++;
          latencies.push(r.startMs - LEAD_MS - CALL_LEAD_MS);
        }
      }
      let burstStarts = 0;
      for (const [i, c] of bursts.entries()) {
        const r = await firstStart(vad, callTrack(c.samples, snr, 100 + i), speex.create(RATE));
        if (r.starts > 0) burstStarts++;
      }
      const silence = mixNoise(new Int16Array(RATE * 10), 'pink', snr, speechRms, 999);
      const lineStarts = (await firstStart(vad, silence, speex.create(RATE))).starts;
      latencies.sort((a, b) => a - b);
      const pct = (p: number) =>
        latencies.length ? Math.round(latencies[Math.floor((latencies.length - 1) * p)]!) : NaN;
      const share = stats.skipped / Math.max(1, stats.run + stats.skipped);
      console.log(
        `${String(snr).padStart(3)}  ${(gate ? 'on' : 'off').padStart(4)}  ${`${detected}/${words.length}`.padStart(14)}  ${`${burstStarts}/${bursts.length}`.padStart(14)}  ${String(lineStarts).padStart(21)}  ${`${pct(0.5)}/${pct(0.9)}/${Math.round(latencies.at(-1) ?? NaN)}`.padStart(22)}  ${`${(share * 100).toFixed(0)} %`.padStart(15)}`,
      );
      await vad.close();
    }
  }
}

/** Line noise before the clip (ms), so a gated VAD meets it the way it would in a call. */
const CALL_LEAD_MS = 10_000;

/** A clip after `CALL_LEAD_MS` + `LEAD_MS` of line noise, noise over all of it. */
function callTrack(clip: Int16Array, snrDb: number, seed: number): Int16Array {
  const lead = CALL_LEAD_MS + LEAD_MS;
  const out = new Int16Array(Math.round(((lead + TAIL_MS) / 1000) * RATE) + clip.length);
  addInto(out, clip, Math.round((lead / 1000) * RATE));
  return mixNoise(out, 'pink', snrDb, activeRms(clip, RATE), seed);
}

async function main() {
  // 'error': pushing a whole clip at once makes Silero warn it is "slower than realtime".
  initializeLogger({ pretty: false, level: 'error' });
  const files = readdirSync(clipsDir).filter((f) => f.endsWith('.wav'));
  const clips = files.map((f) => {
    const wav = readWav(join(clipsDir, f));
    if (wav.sampleRate !== RATE) throw new Error(`${f}: ${wav.sampleRate} Hz, expected ${RATE}`);
    return { name: f, noise: /^(cough|breath)/.test(f), samples: toMono(wav) };
  });
  const words = clips.filter((c) => !c.noise);
  const bursts = clips.filter((c) => c.noise);
  const speechRms = words.reduce((s, c) => s + activeRms(c.samples, RATE), 0) / words.length;
  console.log(
    `${words.length} word clips, ${bursts.length} cough/breath clips, pink line noise, 8 kHz\n`,
  );
  if (process.argv.includes('--gate')) return gateTable(words, bursts, speechRms);
  console.log(
    'snr  threshold  minSpeech  words detected  bursts started  line-noise starts/10s  latency p50/p90 ms',
  );
  for (const snr of SNRS_DB) {
    for (const s of settings) {
      const vad = (await silero.VAD.load({ ...phoneVadDefaults, ...s })) as silero.VAD;
      const latencies: number[] = [];
      let detected = 0;
      for (const [i, c] of words.entries()) {
        const r = await firstStart(vad, track(c.samples, snr, i + 1));
        if (r.startMs !== undefined && r.startMs >= LEAD_MS - 100) {
          detected++;
          latencies.push(r.startMs - LEAD_MS);
        }
      }
      let burstStarts = 0;
      for (const [i, c] of bursts.entries()) {
        if ((await firstStart(vad, track(c.samples, snr, 100 + i))).starts > 0) burstStarts++;
      }
      const silence = mixNoise(new Int16Array(RATE * 10), 'pink', snr, speechRms, 999);
      const lineStarts = (await firstStart(vad, silence)).starts;
      latencies.sort((a, b) => a - b);
      const pct = (p: number) =>
        latencies.length ? Math.round(latencies[Math.floor((latencies.length - 1) * p)]!) : NaN;
      console.log(
        `${String(snr).padStart(3)}  ${s.activationThreshold.toFixed(2).padStart(9)}  ${String(s.minSpeechDuration).padStart(9)}  ${`${detected}/${words.length}`.padStart(14)}  ${`${burstStarts}/${bursts.length}`.padStart(14)}  ${String(lineStarts).padStart(21)}  ${`${pct(0.5)}/${pct(0.9)}`.padStart(18)}`,
      );
      await vad.close();
    }
  }
  await gateTable(words, bursts, speechRms);
}

await main();
