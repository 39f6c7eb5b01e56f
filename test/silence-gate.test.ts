/**
 * The silence gate in front of Silero (src/telephony/silence-gate.ts), with the real model on
 * real narrowband audio after speex, as in a call: over line noise the model mostly does not
 * run, speech still starts on time, and a long utterance with pauses between its words is one
 * speech, ended when the words end — the gate never closes while the model hears speech.
 */
import { ReadableStream } from 'node:stream/web';
import { initializeLogger, type VAD, VADEventType } from '@livekit/agents';
import { AudioFrame } from '@livekit/rtc-node';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadVAD } from '../src/agents/providers.js';
import { readWav } from '../src/core/wav.js';
import { activeRms, addInto, mixNoise } from '../src/sim/noise.js';
import {
  loadNoiseSuppressorFactory,
  type NoiseSuppressorFactory,
} from '../src/telephony/noise/index.js';
import type { SilenceGateStats } from '../src/telephony/silence-gate.js';

const RATE = 8000;
const clipsDir = 'fixtures/interruptions/clips';
const clip = (name: string) => readWav(`${clipsDir}/${name}.wav`).samples;

let speex: NoiseSuppressorFactory;
beforeAll(async () => {
  initializeLogger({ pretty: false, level: 'error' });
  speex = await loadNoiseSuppressorFactory({
    NOISE_SUPPRESSION: 'speex',
    NOISE_SUPPRESSION_MAX_DB: 40,
  });
});

/** `speech` parts at their seconds into `totalS` of pink line noise at `snrDb`, after speex. */
function line(
  parts: Array<{ at: number; samples: Int16Array }>,
  totalS: number,
  snrDb: number,
  speechRms = activeRms(parts[0]!.samples, RATE),
) {
  const out = new Int16Array(totalS * RATE);
  for (const p of parts) addInto(out, p.samples, Math.round(p.at * RATE));
  mixNoise(out, 'pink', snrDb, speechRms, 11);
  const suppressor = speex.create(RATE);
  const cleaned = new Int16Array(out.length);
  for (let i = 0; i + 160 <= out.length; i += 160) {
    cleaned.set(suppressor.process(out.slice(i, i + 160)), i);
  }
  suppressor.close();
  return cleaned;
}

/** Speech starts and ends (s) the VAD reports over `samples`. */
async function speechOf(vad: VAD, samples: Int16Array) {
  const stream = vad.stream();
  const n = RATE / 25; // 40 ms frames, as CALLER_FRAME_MS
  const frames: AudioFrame[] = [];
  for (let i = 0; i + n <= samples.length; i += n) {
    frames.push(new AudioFrame(samples.slice(i, i + n), RATE, 1, n));
  }
  stream.updateInputStream(ReadableStream.from(frames));
  const starts: number[] = [];
  const ends: number[] = [];
  const last = frames.length * n - 2 * 256;
  for await (const ev of stream) {
    if (ev.type === VADEventType.START_OF_SPEECH) starts.push(ev.samplesIndex / RATE);
    if (ev.type === VADEventType.END_OF_SPEECH) ends.push(ev.samplesIndex / RATE);
    if (ev.type === VADEventType.INFERENCE_DONE && ev.samplesIndex >= last) break;
  }
  stream.close();
  return { starts, ends };
}

async function both(samples: Int16Array) {
  const stats: SilenceGateStats = { run: 0, skipped: 0 };
  const gated = await loadVAD({ VAD_ACTIVATION_THRESHOLD: 0.6, VAD_SILENCE_GATE: true }, stats);
  const plain = await loadVAD({ VAD_ACTIVATION_THRESHOLD: 0.6, VAD_SILENCE_GATE: false });
  const result = {
    gated: await speechOf(gated, samples),
    plain: await speechOf(plain, samples),
    stats,
  };
  await gated.close();
  await plain.close();
  return result;
}

describe('silence gate in front of Silero', () => {
  it('skips the model over line noise and still starts speech on time', async () => {
    const words = clip('i-need-to-talk-to-a-person.en-us.170');
    const r = await both(line([{ at: 10, samples: words }], 13, 15));
    // 10 s of noise: after the first 4 s (learning the floor), most windows are not run.
    expect(r.stats.skipped / (r.stats.run + r.stats.skipped)).toBeGreaterThan(0.35);
    expect(r.plain.starts).toHaveLength(1);
    expect(r.gated.starts).toHaveLength(1);
    // Within one 32 ms window of the ungated model, and after the words begin.
    expect(r.gated.starts[0]!).toBeGreaterThanOrEqual(10);
    expect(Math.abs(r.gated.starts[0]! - r.plain.starts[0]!)).toBeLessThanOrEqual(0.033);
  });

  it('keeps a long utterance with pauses one speech, ended when the words end', async () => {
    // Three clips 400 ms apart: pauses shorter than the VAD's minimum silence (450 ms).
    const a = clip('i-need-to-talk-to-a-person.en-us.170');
    const b = clip('can-you-repeat-that.en-us-f3.180');
    const c = clip('no-stop.en-us.170');
    const t1 = 8 + a.length / RATE + 0.4;
    const t2 = t1 + b.length / RATE + 0.4;
    const end = t2 + c.length / RATE;
    const r = await both(
      line(
        [
          { at: 8, samples: a },
          { at: t1, samples: b },
          { at: t2, samples: c },
        ],
        Math.ceil(end + 2),
        15,
      ),
    );
    expect(r.plain.starts).toHaveLength(1);
    expect(r.gated.starts).toHaveLength(1);
    expect(Math.abs(r.gated.starts[0]! - r.plain.starts[0]!)).toBeLessThanOrEqual(0.033);
    expect(r.gated.ends).toHaveLength(1);
    expect(Math.abs(r.gated.ends[0]! - r.plain.ends[0]!)).toBeLessThanOrEqual(0.1);
    expect(r.gated.ends[0]!).toBeGreaterThan(end);
  });

  it('hears nothing in noise alone, like the ungated model', async () => {
    const level = activeRms(clip('i-need-to-talk-to-a-person.en-us.170'), RATE);
    const noise = line([], 12, 10, level);
    const r = await both(noise);
    expect(r.plain.starts).toEqual([]);
    expect(r.gated.starts).toEqual([]);
  });
});
