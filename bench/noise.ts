/**
 * npm run bench:noise — how much line noise each suppressor backend removes from narrowband
 * speech, and what it costs per call.
 *
 * Speech: the interruption corpus clips (espeak-ng voices, 8 kHz, one G.711 pass) and, when
 * installed, real recordings from Debian's asterisk-core-sounds-en-wav. Clips are joined with
 * 400 ms pauses after 2 s of noise alone (the caller's line is open while the agent greets;
 * that warm-up is processed but not scored). White, pink and brown noise is mixed in at 5, 10
 * and 15 dB active-speech SNR.
 *
 * Scores, against the known clean speech, after aligning the output for the backend's delay
 * (cross-correlation):
 *   SNR    = 10·log10(Σ clean² / Σ (out − clean)²) over the whole scored stream (pauses
 *            included, so removing noise between words counts); "in" is the same for the
 *            noisy input, gain = out − in.
 *   segSNR = mean of 20 ms segmental SNRs over active speech, each clamped to [−10, 35] dB.
 *   CPU    = process CPU time (user + system) per second of audio on one core, in %.
 */
import { existsSync, readdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readWav, toMono } from '../src/core/wav.js';
import { activeRms, clip16, type NoiseKind, noise, noiseKinds, seedOf } from '../src/sim/noise.js';
import {
  align,
  estimateDelay,
  processInFrames,
  segmentalSnrDb,
  snrDb,
} from '../src/telephony/noise/quality.js';
import { loadRnnoiseFactory } from '../src/telephony/noise/rnnoise.js';
import { loadSpeexFactory, speexDefaults } from '../src/telephony/noise/speex.js';
import {
  type NoiseSuppressorFactory,
  passThroughFactory,
} from '../src/telephony/noise/suppressor.js';

const RATE = 8000;
const FRAME = RATE / 100; // 10 ms: what rtc-node's AudioStream delivers
const WARMUP = 2 * RATE;
const PAUSE = 0.4 * RATE;
const SNRS = [5, 10, 15] as const;
const MAX_LAG = 0.2 * RATE;
const TARGET = { gainDb: 6, cpuPct: 3 };

const repoRoot = resolve(fileURLToPath(import.meta.url), '../..');
const corpusDir = resolve(repoRoot, 'fixtures/interruptions/clips');
const asteriskDirs = [
  '/usr/share/asterisk/sounds/en',
  '/usr/share/asterisk/sounds/en_US_f_Allison',
];
/** Every 8th asterisk prompt in name order, up to ~40 s of speech: varied, and the run stays short. */
const ASTERISK_STRIDE = 8;
const ASTERISK_SECONDS = 40;

interface Candidate {
  name: string;
  note: string;
  factory: NoiseSuppressorFactory;
  /** In the per-condition table (the rest only in the summary). */
  detailed: boolean;
}

function joinClips(paths: string[]): Int16Array {
  const parts = paths.map((p) => {
    const wav = readWav(p);
    if (wav.sampleRate !== RATE) throw new Error(`${p}: ${wav.sampleRate} Hz, expected ${RATE}`);
    return toMono(wav);
  });
  const length = parts.reduce((n, p) => n + p.length + PAUSE, 0);
  const out = new Int16Array(length);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length + PAUSE;
  }
  return out;
}

function loadSources(): { name: string; clean: Int16Array }[] {
  if (!existsSync(corpusDir)) throw new Error(`corpus not found at ${corpusDir}`);
  const speechClips = readdirSync(corpusDir)
    .filter((f) => f.endsWith('.wav') && !/^(breath|cough|echo)-/.test(f)) // speech only
    .sort()
    .map((f) => resolve(corpusDir, f));
  const sources = [{ name: 'corpus', clean: joinClips(speechClips) }];
  const asteriskDir = asteriskDirs.find((d) => existsSync(d));
  if (asteriskDir) {
    const prompts: string[] = [];
    let samples = 0;
    const names = readdirSync(asteriskDir)
      .filter((f) => f.endsWith('.wav'))
      .sort();
    for (let i = 0; i < names.length && samples < ASTERISK_SECONDS * RATE; i += ASTERISK_STRIDE) {
      const path = resolve(asteriskDir, names[i]!);
      prompts.push(path);
      samples += readWav(path).samples.length;
    }
    sources.push({ name: 'asterisk', clean: joinClips(prompts) });
  } else {
    console.log(
      '> Real recordings missing: `apt-get update && apt-get install -y asterisk-core-sounds-en-wav`' +
        ` (installs ${asteriskDirs[0]}/*.wav). Running on the corpus only.\n`,
    );
  }
  return sources;
}

async function candidates(): Promise<Candidate[]> {
  const d = speexDefaults;
  return [
    {
      name: 'off',
      note: 'pass-through (sanity check)',
      factory: passThroughFactory,
      detailed: false,
    },
    {
      name: 'speex',
      note: `SpeexDSP preprocess at 8 kHz, ${d.blockMs} ms blocks, max ${d.maxAttenuationDb} dB (default)`,
      factory: await loadSpeexFactory(),
      detailed: true,
    },
    {
      name: 'speex-15db',
      note: 'same, max 15 dB (Speex’s own default)',
      factory: await loadSpeexFactory({ maxAttenuationDb: 15 }),
      detailed: false,
    },
    {
      name: 'speex-20ms',
      note: 'same, 20 ms blocks (the usual Speex block)',
      factory: await loadSpeexFactory({ blockMs: 20 }),
      detailed: false,
    },
    {
      name: 'speex-10ms',
      note: 'same, 10 ms blocks',
      factory: await loadSpeexFactory({ blockMs: 10 }),
      detailed: false,
    },
    {
      name: 'rnnoise',
      note: 'RNNoise (WASM) at 48 kHz, rtc-node sox resampling 8k→48k→8k',
      factory: await loadRnnoiseFactory(),
      detailed: true,
    },
  ];
}

interface Result {
  source: string;
  kind: NoiseKind;
  snr: number;
  snrIn: number;
  segIn: number;
  snrOut: number;
  segOut: number;
  delay: number;
  cpuSeconds: number;
  audioSeconds: number;
}

function run(factory: NoiseSuppressorFactory, noisy: Int16Array, clean: Int16Array) {
  const suppressor = factory.create(RATE);
  const before = process.cpuUsage();
  const out = processInFrames(noisy, FRAME, (frame) => suppressor.process(frame));
  const used = process.cpuUsage(before);
  suppressor.close();
  // Score only after the warm-up; align on the scored part.
  const scoredClean = clean.subarray(WARMUP);
  const scoredOut = out.subarray(WARMUP);
  const delay = estimateDelay(scoredClean, scoredOut, MAX_LAG, 8 * RATE);
  const aligned = align(scoredOut, delay, scoredClean.length);
  return {
    snrOut: snrDb(scoredClean, aligned),
    segOut: segmentalSnrDb(scoredClean, aligned),
    delay,
    cpuSeconds: (used.user + used.system) / 1e6,
    audioSeconds: noisy.length / RATE,
  };
}

const f1 = (x: number) => (x >= 0 ? ' ' : '') + x.toFixed(1);
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

async function main() {
  const started = Date.now();
  const sources = loadSources();
  const cands = await candidates();
  const results = new Map<string, Result[]>(cands.map((c) => [c.name, []]));

  for (const { name: source, clean: speech } of sources) {
    const clean = new Int16Array(WARMUP + speech.length);
    clean.set(speech, WARMUP);
    const level = activeRms(speech, RATE);
    for (const kind of noiseKinds) {
      for (const snr of SNRS) {
        const n = noise(kind, clean.length, seedOf(`${source}/${kind}/${snr}`));
        const gain = level / 10 ** (snr / 20);
        const noisy = clean.map((c, i) => clip16(c + n[i]! * gain));
        const scoredClean = clean.subarray(WARMUP);
        const scoredNoisy = noisy.subarray(WARMUP);
        const snrIn = snrDb(scoredClean, scoredNoisy);
        const segIn = segmentalSnrDb(scoredClean, scoredNoisy);
        for (const c of cands) {
          results
            .get(c.name)!
            .push({ source, kind, snr, snrIn, segIn, ...run(c.factory, noisy, clean) });
        }
      }
    }
  }

  const seconds = sources
    .map((s) => `${s.name} ${(s.clean.length / RATE).toFixed(0)} s`)
    .join(', ');
  console.log(`## Noise suppression on narrowband speech (${seconds}; 10 ms frames at 8 kHz)\n`);
  const detailed = cands.filter((c) => c.detailed);
  console.log(
    `| speech | noise | SNR mix | SNR in | ${detailed.map((c) => `${c.name} out | gain | segSNR gain`).join(' | ')} |`,
  );
  console.log(`|---|---|---|---|${detailed.map(() => '---|---|---').join('|')}|`);
  const base = results.get(detailed[0]!.name)!;
  base.forEach((r, i) => {
    const cells = detailed.map((c) => {
      const x = results.get(c.name)![i]!;
      return `${f1(x.snrOut)} | ${f1(x.snrOut - x.snrIn)} | ${f1(x.segOut - x.segIn)}`;
    });
    console.log(
      `| ${r.source} | ${r.kind} | ${r.snr} dB | ${f1(r.snrIn)} | ${cells.join(' | ')} |`,
    );
  });

  console.log('\n## Summary per backend (all conditions)\n');
  console.log(
    '| backend | mean gain | min gain | mean segSNR gain | CPU % of one core | delay ms | meets target |',
  );
  console.log('|---|---|---|---|---|---|---|');
  for (const c of cands) {
    const rs = results.get(c.name)!;
    const gains = rs.map((r) => r.snrOut - r.snrIn);
    const cpuPct =
      (100 * rs.reduce((s, r) => s + r.cpuSeconds, 0)) / rs.reduce((s, r) => s + r.audioSeconds, 0);
    const delays = [...new Set(rs.map((r) => ((r.delay / RATE) * 1000).toFixed(0)))].join('/');
    const meets = mean(gains) >= TARGET.gainDb && cpuPct <= TARGET.cpuPct;
    console.log(
      `| ${c.name} | ${mean(gains).toFixed(2)} | ${f1(Math.min(...gains))} | ${f1(mean(rs.map((r) => r.segOut - r.segIn)))} | ${cpuPct.toFixed(2)} | ${delays} | ${meets ? 'yes' : 'no'} |`,
    );
  }
  console.log(
    '| livekit-cloud | – | – | – | runs in LiveKit Cloud | – | not measurable self-hosted |',
  );
  console.log('\nBackends:');
  for (const c of cands) console.log(`- ${c.name}: ${c.note}`);
  console.log(
    `\nTarget: mean gain ≥ +${TARGET.gainDb} dB at ≤ ${TARGET.cpuPct} % of one core per call. ` +
      'CPU figures are pessimistic on a busy machine (other processes compete for caches and cores).',
  );
  console.log(`Ran in ${((Date.now() - started) / 1000).toFixed(0)} s.`);
}

main()
  .then(() => process.exit(0)) // rtc-node's native client keeps the event loop alive
  .catch((err) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  });
