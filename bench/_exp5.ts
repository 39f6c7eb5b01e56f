import { readdirSync } from 'node:fs';
import { loadSpeexModule, SpeexPreprocessor } from '@sapphi-red/speex-preprocess-wasm';
import { readFileSync } from 'node:fs';
import { readWav, toMono } from '../src/sim/wav.js';
import { noise, activeRms, clip16, seedOf } from '../src/sim/noise.js';
import { loadRnnoiseFactory } from '../src/telephony/noise/rnnoise.js';
import { BlockRunner } from '../src/telephony/noise/suppressor.js';
import { align, estimateDelay, processInFrames, segmentalSnrDb, snrDb } from '../src/telephony/noise/quality.js';
const mod = await loadSpeexModule({ wasmBinary: readFileSync('node_modules/@sapphi-red/speex-preprocess-wasm/dist/speex.wasm') });
function build(dir: string, files: string[]) {
  const parts: Int16Array[] = [new Int16Array(8000)];
  for (const f of files) { parts.push(toMono(readWav(`${dir}/${f}`))); parts.push(new Int16Array(3200)); }
  const clean = new Int16Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0; for (const p of parts) { clean.set(p, at); at += p.length; }
  return clean;
}
const cdir = '/work/shared/corpus/interruptions/clips';
const adir = '/usr/share/asterisk/sounds/en';
const sets = {
  corpus: build(cdir, readdirSync(cdir).filter((f) => !/^(breath|cough|echo)/.test(f)).sort()),
  asterisk: build(adir, readdirSync(adir).filter((f) => f.endsWith('.wav')).sort().filter((_, i) => i % 12 === 0)),
};
console.log('corpus s', sets.corpus.length / 8000, 'asterisk s', sets.asterisk.length / 8000);
// speex + prob gate
function speexGate(floorDb: number, thr: number, holdBlocks: number, blockMs = 20) {
  return () => {
    const N = 8 * blockMs;
    const sp = new SpeexPreprocessor(mod, N, 8000);
    sp.noiseSuppress = -30;
    const floor = 10 ** (floorDb / 20);
    let g = 1; let hold = 0;
    const r = new BlockRunner(N, (b) => {
      sp.processInt16(b);
      if (floorDb === 0) return;
      const p = sp.prob;
      if (p >= thr) hold = holdBlocks; else if (hold > 0) hold--;
      const target = hold > 0 ? 1 : floor;
      const g0 = g;
      // ramp linearly over the block: no clicks at block boundaries
      for (let i = 0; i < N; i++) b[i] = clip16(b[i]! * (g0 + ((target - g0) * (i + 1)) / N));
      g = target;
    });
    return { process: (f: Int16Array) => r.process(f), close: () => sp.destroy() };
  };
}
const rn = await loadRnnoiseFactory();
const cands: [string, () => { process: (f: Int16Array) => Int16Array; close: () => void }][] = [
  ['speex', speexGate(0, 0, 0)],
  ['speex+gate-12/50/10', speexGate(-12, 50, 10)],
  ['speex+gate-20/50/10', speexGate(-20, 50, 10)],
  ['speex+gate-12/35/10', speexGate(-12, 35, 10)],
  ['speex+gate-12/65/10', speexGate(-12, 65, 10)],
  ['rnnoise', () => rn.create(8000)],
  ['rnnoise>speex', () => { const a = rn.create(8000); const b = speexGate(0, 0, 0)(); return { process: (f) => b.process(a.process(f)), close: () => { a.close(); b.close(); } }; }],
];
const sums = new Map<string, number[]>();
for (const [setName, clean] of Object.entries(sets)) {
  const speech = activeRms(clean, 8000);
  for (const kind of ['white', 'pink', 'brown'] as const) for (const snr of [5, 10, 15]) {
    const n = noise(kind, clean.length, seedOf(setName + kind + snr));
    const g = speech / 10 ** (snr / 20);
    const noisy = clean.map((c, i) => clip16(c + n[i]! * g));
    const line: string[] = [];
    for (const [name, mk] of cands) {
      const s = mk();
      const t0 = process.cpuUsage();
      const out = processInFrames(noisy, 80, (fr) => s.process(fr));
      const cpu = process.cpuUsage(t0);
      s.close();
      const d = estimateDelay(clean, out, 1600, 40000);
      const a = align(out, d, clean.length);
      const gain = snrDb(clean, a) - snrDb(clean, noisy);
      (sums.get(name) ?? sums.set(name, []).get(name)!).push(gain);
      line.push(`${name}:${gain.toFixed(1)}(${((cpu.user + cpu.system) / 1e4 / (clean.length / 8000)).toFixed(2)}%)`);
    }
    console.log(setName, kind, snr, 'in', snrDb(clean, noisy).toFixed(1), line.join(' '));
  }
}
for (const [k, v] of sums) console.log(k.padEnd(24), 'mean', (v.reduce((a, b) => a + b) / v.length).toFixed(2), 'min', Math.min(...v).toFixed(2));
process.exit(0);
