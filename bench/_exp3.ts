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
const cfgs = [[30, 20, 1], [30, 20, 2], [30, 32, 2], [15, 20, 2], [30, 20, 3]] as const;
const sums = new Map<string, number[]>();
for (const kind of ['white', 'pink', 'brown'] as const) for (const snr of [5, 10, 15]) {
  const n = noise(kind, clean.length, seedOf(kind + snr));
  const g = speech / 10 ** (snr / 20);
  const noisy = clean.map((c, i) => clip16(c + n[i]! * g));
  for (const [db, ms, k] of cfgs) {
    const f = await loadSpeexFactory({ maxAttenuationDb: db, blockMs: ms });
    const ss = Array.from({ length: k }, () => f.create(8000));
    const t0 = process.cpuUsage();
    const out = processInFrames(noisy, 80, (fr) => ss.reduce((x, s) => s.process(x), fr));
    const cpu = process.cpuUsage(t0);
    const d = estimateDelay(clean, out, 1600, 40000);
    const a = align(out, d, clean.length);
    const gain = snrDb(clean, a) - snrDb(clean, noisy);
    const sg = segmentalSnrDb(clean, a) - segmentalSnrDb(clean, noisy);
    const key = `${db}/${ms}/x${k}`;
    sums.set(key, [...(sums.get(key) ?? []), gain]);
    console.log(kind, snr, key, 'delay', d, 'gain', gain.toFixed(1), 'seggain', sg.toFixed(1), 'cpu%', ((cpu.user + cpu.system) / 1e4 / (clean.length / 8000)).toFixed(2));
  }
}
for (const [k, v] of sums) console.log(k, 'mean', (v.reduce((a, b) => a + b) / v.length).toFixed(2), 'min', Math.min(...v).toFixed(2));
