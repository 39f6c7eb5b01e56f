import { readdirSync } from 'node:fs';
import { readWav, toMono } from '../src/sim/wav.js';
import { noise, activeRms, clip16, seedOf } from '../src/sim/noise.js';
import { loadSpeexFactory } from '../src/telephony/noise/speex.js';
import { align, estimateDelay, processInFrames, segmentalSnrDb, snrDb } from '../src/telephony/noise/quality.js';
const dir = '/work/shared/corpus/interruptions/clips';
const files = readdirSync(dir).filter((f) => !/^(breath|cough|echo)/.test(f)).sort();
const parts: Int16Array[] = [new Int16Array(8000)];
for (const f of files) { parts.push(toMono(readWav(`${dir}/${f}`))); parts.push(new Int16Array(3200)); }
const clean = new Int16Array(parts.reduce((n, p) => n + p.length, 0));
let at = 0; for (const p of parts) { clean.set(p, at); at += p.length; }
const speech = activeRms(clean, 8000);
// activity mask per 20ms
const act = new Uint8Array(clean.length);
for (let s = 0; s < clean.length; s += 160) { let e = 0; for (let i = s; i < Math.min(s + 160, clean.length); i++) e += clean[i]! ** 2; if (e / 160 > (speech / 100) ** 2) act.fill(1, s, s + 160); }
const cfgs = [[30, 20], [30, 32], [30, 40], [45, 20], [45, 32], [60, 32], [20, 32]] as const;
for (const kind of ['white', 'pink', 'brown'] as const) for (const snr of [5, 15]) {
  const n = noise(kind, clean.length, seedOf(kind + snr));
  const g = speech / 10 ** (snr / 20);
  const noisy = clean.map((c, i) => clip16(c + n[i]! * g));
  for (const [db, ms] of cfgs) {
    const f = await loadSpeexFactory({ maxAttenuationDb: db, blockMs: ms });
    const s = f.create(8000);
    const out = processInFrames(noisy, 80, (fr) => s.process(fr));
    s.close();
    const d = estimateDelay(clean, out, 1200, 40000);
    const a = align(out, d, clean.length);
    let eA = 0, eI = 0, sig = 0, dot = 0, aa = 0;
    for (let i = 0; i < clean.length; i++) { const e = a[i]! - clean[i]!; if (act[i]) eA += e * e; else eI += e * e; sig += clean[i]! ** 2; dot += clean[i]! * a[i]!; aa += a[i]! ** 2; }
    const scale = dot / sig;
    console.log(kind, snr, db, ms, 'delay', d, 'in', snrDb(clean, noisy).toFixed(1), 'out', snrDb(clean, a).toFixed(1), 'seg', segmentalSnrDb(clean, a).toFixed(1), 'errActive', (10 * Math.log10(sig / eA)).toFixed(1), 'errInactive', (10 * Math.log10(sig / eI)).toFixed(1), 'scale', scale.toFixed(2));
  }
}
