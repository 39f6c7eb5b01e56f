/**
 * One simulated call in its own process, shaped like an agents-js job process: prewarm (Silero
 * VAD, noise suppression, settings, agents file, telephony dependencies, the rehearsal call)
 * first, then wait for the parent's "go" so all calls start
 * together, then one call through the product's call job and session. Reports CPU, RSS and how
 * late the VAD processed the caller's audio. Started by bench/calls.ts.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { dirname, resolve } from 'node:path';
import { initializeLogger, VADEventType } from '@livekit/agents';
import { loadVAD } from '../src/agents/providers.js';
import { warmUpVad } from '../src/call/session.js';
import { loadConfig } from '../src/core/config.js';
import { createLogger } from '../src/core/logger.js';
import { prepareSimulation, simulateCall } from '../src/sim/call-simulator.js';
import type { SimClock } from '../src/sim/clock.js';
import { loadScenario } from '../src/sim/scenario.js';
import { SyntheticTTS } from '../src/sim/synthetic-tts.js';
import { loadNoiseSuppression } from '../src/telephony/noise/index.js';
import { warmUpCall } from '../src/worker/warm-up-call.js';

export interface CallProcessReport {
  ok: boolean;
  error?: string;
  callMs: number;
  cpuMs: number;
  rssPrewarmMb: number;
  rssPeakMb: number;
  /** Proportional set size at the RSS peak: shared library pages split among the processes. */
  pssPeakMb: number;
  /** How long after its audio was due each VAD window finished (ms). */
  vadLateMs: { p50: number; p99: number; max: number; count: number };
  /** Seconds into the call when windows were more than 100 ms late (first, last). */
  lateSpanS: [number, number] | undefined;
  checksOk: boolean;
}

// Given by bench/calls.ts, so the compiled copy of this file finds the scenario too.
const scenarioPath = resolve(process.argv[2] ?? resolve(import.meta.dirname, 'call-scenario.json'));

/** Linux only: Pss of this process in MB (NaN elsewhere). */
function pssMb(): number {
  try {
    const m = /^Pss:\s+(\d+) kB/m.exec(readFileSync('/proc/self/smaps_rollup', 'utf8'));
    return m ? Number(m[1]) / 1000 : Number.NaN;
  } catch {
    return Number.NaN;
  }
}

async function main(): Promise<CallProcessReport> {
  process.env.LOG_LEVEL = 'error';
  const config = loadConfig({ role: 'offline' });
  initializeLogger({ pretty: false, level: 'fatal' });
  const log = createLogger(config);
  const scenario = loadScenario(scenarioPath);
  const [vad, noise] = await Promise.all([loadVAD(config), loadNoiseSuppression(config, log)]);
  await warmUpVad(vad);
  // What a worker's job process loads in prewarm (src/worker/job-entry.ts), plus the scenario's audio.
  const call = await prepareSimulation({
    scenario,
    baseDir: dirname(scenarioPath),
    config,
    tts: new SyntheticTTS(),
  });
  if (config.JOB_WARM_UP_CALL) {
    await warmUpCall({ config, agents: call.agents, vad, noise, log });
  }
  const rssPrewarmMb = process.memoryUsage().rss / 1e6;

  // Lateness of each VAD inference: finished at `now`, for audio due at `samplesIndex`.
  let clock: SimClock | undefined;
  const late: number[] = [];
  let lateFrom: number | undefined;
  let lateTo = 0;
  const stream = vad.stream.bind(vad);
  vad.stream = () => {
    const s = stream();
    const next = s.next.bind(s);
    s.next = async () => {
      const r = await next();
      if (!r.done && r.value.type === VADEventType.INFERENCE_DONE && clock?.started) {
        const dueMs = (r.value.samplesIndex * 1000) / 8000;
        const l = clock.now() - dueMs;
        late.push(l);
        if (l > 100) {
          lateFrom ??= dueMs / 1000;
          lateTo = dueMs / 1000;
        }
      }
      return r;
    };
    return s;
  };

  process.send?.({ type: 'ready', rssPrewarmMb });
  await new Promise<void>((go) => process.once('message', () => go()));

  // memoryUsage.rss() is cheap; reading smaps_rollup walks the page tables, so PSS is read at
  // most every few seconds, on a new RSS peak (the sampler must not inflate CPU per call).
  let rssPeak = process.memoryUsage.rss();
  let pssPeak = pssMb();
  let pssReadAt = performance.now();
  const sampler = setInterval(() => {
    const rss = process.memoryUsage.rss();
    if (rss <= rssPeak) return;
    rssPeak = rss;
    if (performance.now() - pssReadAt < 5000) return;
    pssPeak = Math.max(pssPeak, pssMb());
    pssReadAt = performance.now();
  }, 250);
  // `bench:calls --cpu-prof DIR`: this call's CPU profile, from "go" to hang-up (prewarm excluded).
  const profilePath = process.env.BENCH_CPU_PROF;
  const inspector = profilePath ? new Session() : undefined;
  if (inspector) {
    inspector.connect();
    await inspector.post('Profiler.enable');
    await inspector.post('Profiler.setSamplingInterval', { interval: 1000 });
    await inspector.post('Profiler.start');
  }
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const result = await simulateCall({
    call,
    log,
    vad,
    noise,
    turnDetection: 'vad',
    record: false,
    measureLag: false,
    onStart: (c) => {
      clock = c;
    },
  });
  const callMs = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  clearInterval(sampler);
  if (inspector && profilePath) {
    const { profile } = await inspector.post('Profiler.stop');
    writeFileSync(profilePath, JSON.stringify(profile));
    inspector.disconnect();
  }
  pssPeak = Math.max(pssPeak, pssMb());
  late.sort((a, b) => a - b);
  const q = (p: number) =>
    Math.round(late[Math.min(late.length - 1, Math.floor(p * late.length))] ?? 0);
  return {
    ok: true,
    callMs,
    cpuMs: (cpu.user + cpu.system) / 1000,
    rssPrewarmMb,
    rssPeakMb: rssPeak / 1e6,
    pssPeakMb: pssPeak,
    vadLateMs: {
      p50: q(0.5),
      p99: q(0.99),
      max: Math.round(late[late.length - 1] ?? 0),
      count: late.length,
    },
    lateSpanS: lateFrom === undefined ? undefined : [lateFrom, lateTo],
    checksOk: result.checks.every((c) => c.ok),
  };
}

main().then(
  (report) => {
    process.send?.({ type: 'done', report });
    process.exit(0);
  },
  (err: Error) => {
    process.send?.({ type: 'done', report: { ok: false, error: err.stack ?? err.message } });
    process.exit(1);
  },
);
