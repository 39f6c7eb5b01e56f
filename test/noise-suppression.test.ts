/**
 * Telephony noise suppression (src/telephony/noise): real corpus speech with line noise mixed
 * in goes through the real WASM libraries; what comes out is scored against the clean speech.
 * The figures per backend are `npm run bench:noise`; here are conservative floors.
 */
import { createRequire } from 'node:module';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { initializeLogger } from '@livekit/agents';
import { AudioFrame, isFrameProcessor } from '@livekit/rtc-node';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { readWav, toMono } from '../src/core/wav.js';
import { SimAudioInput } from '../src/sim/audio-input.js';
import { SimClock } from '../src/sim/clock.js';
import { activeRms, clip16, type NoiseKind, noise, rms } from '../src/sim/noise.js';
import {
  createNoiseSuppressor,
  loadNoiseSuppression,
  loadNoiseSuppressorFactory,
  NoiseSuppressionProcessor,
} from '../src/telephony/noise/index.js';
import {
  align,
  correlation,
  estimateDelay,
  processInFrames,
  snrDb,
} from '../src/telephony/noise/quality.js';
import { testConfig } from './support/config.js';

const RATE = 8000;
const WARMUP = 2 * RATE; // line noise alone before the caller speaks (the agent greets first)
/** The speex WASM module the product loads, kept here to read its heap size (it never shrinks). */
const speexWasm = vi.hoisted(() => ({ heap: undefined as undefined | (() => number) }));
vi.mock('@sapphi-red/speex-preprocess-wasm', async (importOriginal) => {
  const real = await importOriginal<typeof import('@sapphi-red/speex-preprocess-wasm')>();
  return {
    ...real,
    loadSpeexModule: async (...args: Parameters<typeof real.loadSpeexModule>) => {
      const module = await real.loadSpeexModule(...args);
      speexWasm.heap = () => module.HEAP16.buffer.byteLength;
      return module;
    },
  };
});

const repoRoot = resolve(fileURLToPath(import.meta.url), '../..');
const clipPath = resolve(
  repoRoot,
  'fixtures/interruptions/clips/i-need-to-talk-to-a-person.en-us.170.wav',
);

beforeAll(() => {
  // agents-js audio inputs log through its logger, which must exist outside the worker CLI.
  initializeLogger({ pretty: false, level: 'error' });
});

function settings(mode: string) {
  return testConfig({ NOISE_SUPPRESSION: mode }, 'offline');
}

/** Clean track: warm-up silence, the clip, half a second of silence. */
function cleanTrack(): Int16Array {
  const speech = toMono(readWav(clipPath));
  const clean = new Int16Array(WARMUP + speech.length + RATE / 2);
  clean.set(speech, WARMUP);
  return clean;
}

function withNoise(clean: Int16Array, kind: NoiseKind, snrDbActive: number, seed = 7) {
  const level = activeRms(clean.subarray(WARMUP), RATE);
  const n = noise(kind, clean.length, seed);
  const gain = level / 10 ** (snrDbActive / 20);
  return clean.map((c, i) => clip16(c + n[i]! * gain));
}

/** Output aligned to the clean track, both scored after the warm-up. */
function scored(clean: Int16Array, out: Int16Array) {
  const c = clean.subarray(WARMUP);
  const o = out.subarray(WARMUP);
  const delay = estimateDelay(c, o, RATE / 5);
  return { clean: c, out: align(o, delay, c.length), delay };
}

describe('noise suppression on a noisy corpus clip', () => {
  const clean = cleanTrack();

  it.each([
    ['speex', 'white', 5],
    ['speex', 'brown', 10],
    ['rnnoise', 'pink', 5],
  ] as const)(
    '%s raises SNR of speech in %s noise at %i dB by a clear margin',
    async (mode, kind, snr) => {
      const noisy = withNoise(clean, kind, snr);
      const suppressor = await createNoiseSuppressor(settings(mode));
      const out = processInFrames(noisy, RATE / 100, (f) => suppressor.process(f));
      suppressor.close();

      const s = scored(clean, out);
      const before = snrDb(s.clean, noisy.subarray(WARMUP));
      const after = snrDb(s.clean, s.out);
      expect(after - before).toBeGreaterThanOrEqual(3);
      // The words survive: the output still follows the clean waveform closely, and better than
      // the noisy input did.
      const kept = correlation(s.clean, s.out);
      expect(kept).toBeGreaterThan(0.85);
      expect(kept).toBeGreaterThan(correlation(s.clean, noisy.subarray(WARMUP)));
    },
  );

  it('speex leaves clean speech almost untouched', async () => {
    const suppressor = await createNoiseSuppressor(settings('speex'));
    const out = processInFrames(clean, RATE / 100, (f) => suppressor.process(f));
    suppressor.close();
    const s = scored(clean, out);
    expect(correlation(s.clean, s.out)).toBeGreaterThan(0.97);
  });

  it.each(['speex', 'rnnoise'])('%s: silence in gives silence out', async (mode) => {
    const suppressor = await createNoiseSuppressor(settings(mode));
    const out = processInFrames(new Int16Array(2 * RATE), RATE / 100, (f) => suppressor.process(f));
    suppressor.close();
    expect(Math.max(...out.map(Math.abs))).toBeLessThanOrEqual(2);
  });

  it('speex: line noise alone is attenuated by at least 15 dB once adapted', async () => {
    // Unit-RMS white noise at a phone-line level (~-40 dBFS).
    const input = Int16Array.from(noise('white', 6 * RATE, 3), (x) => clip16(x * 300));
    const suppressor = await createNoiseSuppressor(settings('speex'));
    const out = processInFrames(input, RATE / 100, (f) => suppressor.process(f));
    suppressor.close();
    const tail = (x: Int16Array) => x.subarray(3 * RATE); // after the noise estimate settled
    expect(20 * Math.log10(rms(tail(input)) / rms(tail(out)))).toBeGreaterThanOrEqual(15);
  });
});

describe('frames and stream continuity', () => {
  const noisy = withNoise(cleanTrack(), 'pink', 10);

  it.each(['speex', 'rnnoise'])(
    '%s returns frames of the input length, continuous whatever the frame size',
    async (mode) => {
      const factory = await loadNoiseSuppressorFactory(settings(mode));
      const outputs = new Map<number, Int16Array>();
      for (const size of [80, 160, 37]) {
        const suppressor = factory.create(RATE);
        outputs.set(
          size,
          processInFrames(noisy, size, (frame) => {
            const out = suppressor.process(frame);
            expect(out.length).toBe(frame.length);
            return out;
          }),
        );
        suppressor.close();
      }
      const ref = outputs.get(80)!;
      for (const size of [160, 37]) {
        const out = outputs.get(size)!;
        // Same audio, only shifted by a different buffering latency: no gaps, repeats or resets.
        const later = estimateDelay(ref, out, RATE / 10, 4 * RATE);
        const earlier = estimateDelay(out, ref, RATE / 10, 4 * RATE);
        const pairs = [
          [ref, out.subarray(later)],
          [ref.subarray(earlier), out],
        ].map(([x, y]) => {
          const n = Math.min(x!.length, y!.length);
          return [x!.subarray(0, n), y!.subarray(0, n)] as const;
        });
        const [first, second] = pairs as [(typeof pairs)[0], (typeof pairs)[0]];
        const [a, b] =
          correlation(first[0], first[1]) >= correlation(second[0], second[1]) ? first : second;
        const n = a.length;
        if (mode === 'speex') {
          // Speex sees the same blocks whatever the framing: the output is bit-identical.
          expect(Array.from(b.subarray(0, n))).toEqual(Array.from(a.subarray(0, n)));
        } else {
          expect(correlation(a.subarray(0, n), b.subarray(0, n))).toBeGreaterThan(0.99);
        }
      }
    },
  );

  it('no clicks: sample steps at 10 ms frame boundaries are like those elsewhere', async () => {
    const suppressor = await createNoiseSuppressor(settings('speex'));
    const out = processInFrames(noisy, 80, (f) => suppressor.process(f));
    suppressor.close();
    let boundary = 0;
    let elsewhere = 0;
    let nb = 0;
    let ne = 0;
    for (let i = WARMUP + 1; i < out.length; i++) {
      const step = Math.abs(out[i]! - out[i - 1]!);
      if (i % 80 === 0) {
        boundary += step;
        nb++;
      } else {
        elsewhere += step;
        ne++;
      }
    }
    expect(boundary / nb).toBeLessThan(1.5 * (elsewhere / ne));
  });
});

describe('per-call resources', () => {
  it('speex: a closed suppressor gives its WASM memory back (3000 calls, no growth)', async () => {
    const factory = await loadNoiseSuppressorFactory(settings('speex'));
    const frame = new Int16Array(RATE / 50);
    const call = () => {
      const suppressor = factory.create(RATE);
      suppressor.process(frame);
      suppressor.close();
    };
    for (let i = 0; i < 50; i++) call();
    // The WASM heap only grows, and no garbage collector touches it: each leaked state would be
    // ~35 KB more of it (~100 MB here); freed states are reused, so it does not grow at all.
    const heap = speexWasm.heap!;
    const before = heap();
    for (let i = 0; i < 3000; i++) call();
    expect(heap() - before).toBe(0);
  });
});

describe('off', () => {
  it('passes frames through unchanged and adds nothing to the session input', async () => {
    const noisy = withNoise(cleanTrack(), 'white', 5);
    const suppressor = await createNoiseSuppressor(settings('off'));
    const out = processInFrames(noisy, 80, (f) => suppressor.process(f));
    expect(out).toEqual(noisy);
    const noise = await loadNoiseSuppression(settings('off'));
    expect(noise.forRoom()).toBeUndefined();
  });
});

function toFrames(samples: Int16Array, size: number): AudioFrame[] {
  const frames: AudioFrame[] = [];
  for (let at = 0; at + size <= samples.length; at += size) {
    frames.push(new AudioFrame(samples.slice(at, at + size), RATE, 1, size));
  }
  return frames;
}

describe('wiring into the session input', () => {
  const clean = cleanTrack();
  const noisy = withNoise(clean, 'white', 5);

  it('a room gets a frame processor it runs before VAD/STT', async () => {
    const noise = await loadNoiseSuppression(settings('speex'));
    const processor = noise.forRoom();
    expect(processor).toBeInstanceOf(NoiseSuppressionProcessor);
    // One processor per call: state must never be shared between calls.
    expect(noise.forRoom()).not.toBe(processor);
    // RoomIO's audio input tells a processor from LiveKit Cloud's filter options this way.
    expect(isFrameProcessor(processor)).toBe(true);
    const p = processor as NoiseSuppressionProcessor;

    const frames = toFrames(noisy, 80).map((f) => p.process(f));
    expect(frames.every((f) => f.sampleRate === RATE && f.samplesPerChannel === 80)).toBe(true);
    const out = new Int16Array(frames.length * 80);
    for (const [i, f] of frames.entries()) out.set(f.data, i * 80);
    const s = scored(clean.subarray(0, out.length), out);
    expect(
      snrDb(s.clean, s.out) - snrDb(s.clean, noisy.subarray(WARMUP, out.length)),
    ).toBeGreaterThan(3);

    p.setEnabled(false);
    const frame = new AudioFrame(new Int16Array(80).fill(1000), RATE, 1, 80);
    expect(p.process(frame)).toBe(frame);
    p.setEnabled(true);
    const stereo = new AudioFrame(new Int16Array(160), RATE, 2, 80);
    expect(p.process(stereo)).toBe(stereo);
    p.close();
    p.close();
    expect(p.isEnabled()).toBe(false);
  });

  it('follows the stream sample rate (16 kHz room input)', async () => {
    const p = (
      await loadNoiseSuppression(settings('speex'))
    ).forRoom() as NoiseSuppressionProcessor;
    const frame = new AudioFrame(new Int16Array(160).fill(500), 16_000, 1, 160);
    const out = p.process(frame);
    expect(out.sampleRate).toBe(16_000);
    expect(out.samplesPerChannel).toBe(160);
    p.close();
  });

  it("the simulator's line runs the call's processor on every frame, as a room's AudioStream does", async () => {
    const clock = new SimClock();
    const line = new SimAudioInput({ clock, sampleRate: RATE, record: true });
    line.play(noisy, 0);
    const processor = (
      await loadNoiseSuppression(settings('speex'))
    ).forRoom() as NoiseSuppressionProcessor;
    line.useProcessor(processor);
    clock.start();
    const reader = line.stream.getReader();
    const chunks: Int16Array[] = [];
    let total = 0;
    while (total < noisy.length) {
      const { value, done } = await reader.read();
      if (done || !value) break;
      chunks.push(value.data);
      total += value.samplesPerChannel;
    }
    reader.releaseLock();
    await line.close();
    const out = new Int16Array(total);
    let at = 0;
    for (const c of chunks) {
      out.set(c, at);
      at += c.length;
    }
    const s = scored(clean.subarray(0, out.length), out);
    expect(
      snrDb(s.clean, s.out) - snrDb(s.clean, noisy.subarray(WARMUP, out.length)),
    ).toBeGreaterThan(3);
    // The recording is what the caller sent, not what the agent heard.
    expect(line.recording().subarray(0, RATE)).toEqual(noisy.subarray(0, RATE));
    // The line owns the call's processor: closing the call closes it.
    expect(processor.isEnabled()).toBe(false);
  });
});

describe('livekit-cloud', () => {
  const installed = (() => {
    try {
      createRequire(import.meta.url).resolve('@livekit/noise-cancellation-node');
      return true;
    } catch {
      return false;
    }
  })();

  it('runs nothing in-process (the filter only exists on LiveKit Cloud room tracks)', async () => {
    const suppressor = await createNoiseSuppressor(settings('livekit-cloud'));
    expect(suppressor.backend).toBe('off');
  });

  it.runIf(!installed)('without its optional package, says how to install it', async () => {
    await expect(loadNoiseSuppression(settings('livekit-cloud'))).rejects.toMatchObject({
      code: 'PA_ERR_NOISE_SUPPRESSION_UNAVAILABLE',
      message: expect.stringContaining('npm install @livekit/noise-cancellation-node'),
    });
  });

  it.runIf(installed)('with its package, gives the room input filter options', async () => {
    const noise = await loadNoiseSuppression(settings('livekit-cloud'));
    expect(noise.forRoom()).toMatchObject({ moduleId: expect.any(String) });
    expect(isFrameProcessor(noise.forRoom())).toBe(false);
  });
});

describe('settings', () => {
  it('rejects an unknown backend naming the variable', () => {
    expect(() => settings('krisp')).toThrow(
      /NOISE_SUPPRESSION must be one of speex, rnnoise, off, livekit-cloud/,
    );
  });

  it('defaults to speex', () => {
    expect(testConfig({}, 'offline').NOISE_SUPPRESSION).toBe('speex');
  });
});
