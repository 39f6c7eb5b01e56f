// Checks that the model files the worker loads at run time are installed, for this platform,
// and load without a network: Silero VAD (an ONNX file inside @livekit/agents-plugin-silero,
// run by onnxruntime-node's bundled CPU binaries) and LiveKit's local turn detector
// (inference.TurnDetector v1-mini: weights compiled into @livekit/local-inference's
// per-platform native addon). The Dockerfile runs it so an image that would download or miss
// a model at start never builds; test/infra-dockerfile.test.ts runs it on node_modules.
// Usage: node infra/image/verify-runtime-files.mjs [app dir, default: cwd]
import { existsSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';

const appDir = resolve(process.argv[2] ?? process.cwd());
const require = createRequire(join(appDir, 'package.json'));

function fail(message) {
  console.error(`verify-runtime-files: ${message}`);
  process.exit(1);
}

const sileroDir = dirname(require.resolve('@livekit/agents-plugin-silero'));
const sileroModel = join(sileroDir, 'silero_vad.onnx');
if (!existsSync(sileroModel) || statSync(sileroModel).size < 1_000_000) {
  fail(`Silero VAD model missing or truncated: ${sileroModel}`);
}
// onnxruntime-node as the plugin resolves it (it is the plugin's dependency, not the app's).
const ort = createRequire(require.resolve('@livekit/agents-plugin-silero'))('onnxruntime-node');
const session = await ort.InferenceSession.create(sileroModel);
if (session.inputNames.length === 0) fail('Silero VAD model has no inputs');

const local = require('@livekit/local-inference');
local.initEot();
const p = await local.predict(new Int16Array(19_200));
if (!(p >= 0 && p <= 1)) fail(`turn detector returned ${p}`);

console.log(
  `verify-runtime-files: ok (silero_vad.onnx ${statSync(sileroModel).size} bytes, ` +
    `turn detector ${process.platform}-${process.arch} p=${p.toFixed(3)})`,
);
