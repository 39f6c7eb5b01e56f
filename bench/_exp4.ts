import RNNoise from '@echogarden/rnnoise-wasm';
import { AudioFrame, AudioResampler, AudioResamplerQuality } from '@livekit/rtc-node';
const m = await RNNoise();
const st = m._rnnoise_create(0);
const p = m._malloc(480 * 4);
const secs = 30;
let t0 = process.cpuUsage();
for (let i = 0; i < secs * 100; i++) { const h = m.HEAPF32; for (let j = 0; j < 480; j++) h[p / 4 + j] = Math.random() * 1000; m._rnnoise_process_frame(st, p, p); }
let c = process.cpuUsage(t0); console.log('rnnoise only %', ((c.user + c.system) / 1e4 / secs).toFixed(2));
for (const q of [AudioResamplerQuality.QUICK, AudioResamplerQuality.MEDIUM]) {
  const up = new AudioResampler(8000, 48000, 1, q); const down = new AudioResampler(48000, 8000, 1, q);
  t0 = process.cpuUsage();
  for (let i = 0; i < secs * 100; i++) { const f = new Int16Array(80).map(() => Math.random() * 1000); for (const w of up.push(new AudioFrame(f, 8000, 1, 80))) down.push(w); }
  c = process.cpuUsage(t0); console.log('resamplers q', q, '%', ((c.user + c.system) / 1e4 / secs).toFixed(2));
}
