/**
 * `tsx bench/cpu-profile-summary.ts FILE.cpuprofile [...]` — where a call's main-thread time goes,
 * from the CPU profiles `npm run bench:calls -- --cpu-prof DIR` writes: self time summed by
 * category (Silero/onnxruntime, web streams, timers and promise hooks, GC, our code, …) and the
 * functions with the most self time. Frames without a script (V8 builtins, native bindings) count
 * towards the category of the nearest caller that has one. Idle time is left out of the shares.
 */
import { readFileSync } from 'node:fs';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

const CATEGORIES: [string, RegExp][] = [
  ['Silero plugin (JS)', /agents-plugin-silero/],
  ['onnxruntime (JS)', /onnxruntime-(node|common)/],
  ['noise suppression (speex/rnnoise wasm)', /speex-preprocess-wasm|rnnoise|^wasm:/],
  ['agents-js', /@livekit\/agents\//],
  ['rtc-node', /@livekit\/rtc-node|@livekit\/rtc-ffi/],
  ['OpenTelemetry', /@opentelemetry/],
  ['pino logging', /node_modules\/pino|thread-stream|sonic-boom/],
  ['other dependencies', /node_modules/],
  ['web streams (node:internal/webstreams)', /^node:internal\/webstreams/],
  [
    'timers / task queues / async hooks',
    /^node:(internal\/)?(timers|process\/task_queues|async_hooks|internal\/async_hooks|internal\/async_context_frame)/,
  ],
  ['events / EventTarget', /^node:(internal\/)?(events|event_target)/],
  ['other Node internals', /^node:/],
  ['bench harness', /\/bench\//],
  ['our code (src/)', /\/src\//],
];

function categoryOf(url: string): string | undefined {
  if (!url) return undefined;
  for (const [name, re] of CATEGORIES) if (re.test(url)) return name;
  return 'other scripts';
}

function summarize(file: string): void {
  const p = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const special: Record<string, string> = {
    '(garbage collector)': 'GC',
    '(program)': 'V8/Node outside JS ("(program)")',
    '(idle)': 'idle',
    '(root)': 'idle',
  };
  const catOf = new Map<number, string>();
  const category = (id: number): string => {
    const cached = catOf.get(id);
    if (cached) return cached;
    const n = byId.get(id)!;
    let c = special[n.callFrame.functionName] ?? categoryOf(n.callFrame.url);
    if (!c) {
      const up = parent.get(id);
      c = up === undefined ? 'unattributed native' : category(up);
      if (c === 'idle') c = 'unattributed native';
    }
    catOf.set(id, c);
    return c;
  };
  const selfUs = new Map<number, number>();
  // timeDeltas[i] is the time before sample i; the time of sample i is the next delta.
  for (let i = 0; i < p.samples.length; i++) {
    const dt = p.timeDeltas[i + 1] ?? 0;
    selfUs.set(p.samples[i]!, (selfUs.get(p.samples[i]!) ?? 0) + dt);
  }
  const byCat = new Map<string, number>();
  const byFn = new Map<string, number>();
  for (const [id, us] of selfUs) {
    const c = category(id);
    byCat.set(c, (byCat.get(c) ?? 0) + us);
    if (c === 'idle') continue;
    const f = byId.get(id)!.callFrame;
    const where = f.url
      ? `${f.url.replace(/^.*node_modules\//, '').replace(/^file:\/\/.*\/(src|bench)\//, '$1/')}:${f.lineNumber + 1}`
      : '(native)';
    const key = `${f.functionName || '(anonymous)'}  ${where}  [${c}]`;
    byFn.set(key, (byFn.get(key) ?? 0) + us);
  }
  const wallMs = (p.endTime - p.startTime) / 1000;
  const busyUs = [...byCat].filter(([c]) => c !== 'idle').reduce((s, [, us]) => s + us, 0);
  console.log(
    `${file}\n  ${wallMs.toFixed(0)} ms profiled, main thread busy ${(busyUs / 1000).toFixed(0)} ms (${((busyUs / 1000 / wallMs) * 100).toFixed(1)} % of the call)`,
  );
  for (const [c, us] of [...byCat].filter(([c]) => c !== 'idle').sort((a, b) => b[1] - a[1])) {
    console.log(
      `  ${((us / busyUs) * 100).toFixed(1).padStart(5)} %  ${(us / 1000).toFixed(0).padStart(6)} ms  ${c}`,
    );
  }
  console.log('  top self time:');
  for (const [k, us] of [...byFn].sort((a, b) => b[1] - a[1]).slice(0, 25)) {
    console.log(`  ${((us / busyUs) * 100).toFixed(1).padStart(5)} %  ${k}`);
  }
}

for (const f of process.argv.slice(2)) summarize(f);
