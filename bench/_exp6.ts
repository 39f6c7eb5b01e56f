import { readFileSync } from 'node:fs';
import { loadSpeexModule, SpeexPreprocessor } from '@sapphi-red/speex-preprocess-wasm';
import { noise } from '../src/sim/noise.js';
const mod = await loadSpeexModule({ wasmBinary: readFileSync('node_modules/@sapphi-red/speex-preprocess-wasm/dist/speex.wasm') });
const sp = new SpeexPreprocessor(mod, 160, 8000);
sp.noiseSuppress = -30;
const n = noise('white', 8000 * 3, 5);
const probs: number[] = [];
for (let i = 0; i + 160 <= n.length; i += 160) { const b = new Int16Array(160).map((_, j) => n[i + j]! * 300); sp.processInt16(b); probs.push(sp.prob); }
console.log(probs.join(' '));
process.exit(0);
