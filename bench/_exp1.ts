import { readdirSync } from 'node:fs';
import { readWav, toMono } from '../src/sim/wav.js';
import { noise, activeRms, clip16, seedOf } from '../src/sim/noise.js';
import { loadSpeexFactory } from '../src/telephony/noise/speex.js';
import { loadRnnoiseFactory } from '../src/telephony/noise/rnnoise.js';
import { passThroughFactory } from '../src/telephony/noise/suppressor.js';
import { align, estimateDelay, processInFrames, segmentalSnrDb, snrDb } from '../src/telephony/noise/quality.js';
const dir = '/work/shared/corpus/interruptions/clips';
const files = readdirSync(dir).filter((f) => !/^(breath|cough|echo)/.test(f)).sort();
const parts: Int16Array[] = [new Int16Array(8000)];
for (const f of files) { parts.push(toMono(readWav(`${dir}/${f}`))); parts.push(new Int16Array(3200)); }
const clean = new Int16Array(parts.reduce((n, p) => n + p.length, 0));
let at = 0; for (const p of parts) { clean.set(p, at); at += p.length; }
console.log('audio s', clean.length / 8000);
const speech = activeRms(clean, 8000);
const factories = [passThroughFactory, await loadSpeexFactory({ maxAttenuationDb: 15 }), await loadSpeexFactory({ maxAttenuationDb: 30 }), await loadSpeexFactory({ maxAttenuationDb: 30, blockMs: 10 }), await loadRnnoiseFactory()];
for (const kind of ['white', 'pink', 'brown'] as const) for (const snr of [5, 15]) {
  const n = noise(kind, clean.length, seedOf(kind + snr));
  const g = speech / 10 ** (snr / 20);
  const noisy = clean.map((c, i) => clip16(c + n[i]! * g));
  for (const f of factories) {
    const s = f.create(8000);
    const t0 = process.cpuUsage();
    const out = processInFrames(noisy, 80, (fr) => s.process(fr));
    const cpu = process.cpuUsage(t0);
    s.close();
    const d = estimateDelay(clean, out, 1200, 40000);
    const a = align(out, d, clean.length);
    console.log(kind, snr, f.backend, 'delay', d, 'in', snrDb(clean, noisy).toFixed(1), 'out', snrDb(clean, a).toFixed(1), 'seg', segmentalSnrDb(clean, noisy).toFixed(1), '->', segmentalSnrDb(clean, a).toFixed(1), 'cpu%', ((cpu.user + cpu.system) / 1e6 / (clean.length / 8000) * 100).toFixed(2));
  }
}
