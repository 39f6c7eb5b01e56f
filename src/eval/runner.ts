/**
 * Runs every (scenario, policy) pair. Sessions run in real time (agents-js timers are wall
 * clock), so many run at once: `concurrency` sessions per process, in `workers` processes
 * (one Silero model each, loaded once), jobs handed out from one queue. Session starts are
 * staggered because a start costs a burst of CPU that would delay timers of running sessions;
 * event-loop lag and how late scripted events fired are measured and reported, so a result
 * distorted by an overloaded machine is visible rather than silent.
 */
import { fork } from 'node:child_process';
import { initializeLogger } from '@livekit/agents';
import { loadAgentsFile } from '../agents/agents-file.js';
import { defaultCodeTools } from '../agents/code-tools.js';
import { loadVAD } from '../agents/providers.js';
import { type Config, loadConfig } from '../core/config.js';
import { ConfigError } from '../core/errors.js';
import { createLiveKitClients } from '../core/livekit.js';
import { createLogger } from '../core/logger.js';
import { simEnv } from '../sim/call-simulator.js';
import { LagMonitor, type LagStats } from '../sim/clock.js';
import type { SttTiming } from '../sim/scripted-stt.js';
import type { InterruptionPolicyName } from '../telephony/interruption/index.js';
import { loadNoiseSuppression } from '../telephony/noise/index.js';
import { type EvalContext, runScenario, type ScenarioRun } from './run-scenario.js';
import { loadScenarios, type Scenario } from './scenarios.js';

export interface EvalOptions {
  folder: string;
  policies: InterruptionPolicyName[];
  /** Sessions at once per process. */
  concurrency: number;
  /** Processes (each with its own event loop and VAD). 1 = in this process. */
  workers: number;
  /** Setting overrides (e.g. VAD_ACTIVATION_THRESHOLD), applied over the environment. */
  settings: Record<string, string>;
  /** The agent of the agents file (AGENTS_CONFIG) under evaluation; default: the default route's. */
  agent?: string;
  timing?: Partial<SttTiming>;
  /** Minimum gap between two session starts in one process (ms). */
  staggerMs: number;
  /** Runs whose scripted events fired later than this (ms) are run again with fewer at once. */
  retryLateMs: number;
  /** Skip the second pass when a larger share of runs was late (the machine is just too busy). */
  maxRetryShare: number;
  /** The second pass only runs what fits within this many seconds from the start. */
  budgetS: number;
  onProgress?: (done: number, total: number, run: ScenarioRun) => void;
}

export interface Job {
  index: number;
  scenario: number;
  policy: InterruptionPolicyName;
}

export interface EvalRun {
  scenarios: Scenario[];
  runs: Array<{ job: Job; run: ScenarioRun }>;
  lag: LagStats[];
  /** Runs measured again in a second, lighter pass. */
  retried: number;
  durationS: number;
}

function configFor(settings: Record<string, string>): Config {
  return loadConfig({ role: 'offline', env: { ...process.env, ...settings } });
}

/**
 * What a process loads once for its runs, as a job process does in prewarm: the settings, the
 * deployment's agents file, Silero VAD and the noise suppressor.
 */
export async function loadEvalContext(
  settings: Record<string, string>,
  agent?: string,
): Promise<EvalContext> {
  const config = configFor(settings);
  const log = createLogger({ ...config, LOG_LEVEL: 'error' }, { name: 'eval' });
  const agents = loadAgentsFile(config.AGENTS_CONFIG, {
    codeToolNames: defaultCodeTools().names(),
    // Tools are never called in a scenario: their signing secrets need not be set.
    env: simEnv,
  });
  const agentName = agent ?? agents.defaultAgent;
  if (!agentName || !agents.agents.has(agentName)) {
    throw new ConfigError(
      `${config.AGENTS_CONFIG}: no agent ${agentName ? `"${agentName}"` : 'on the default route'} to evaluate (--agent NAME)`,
    );
  }
  const [vad, noise] = await Promise.all([loadVAD(config), loadNoiseSuppression(config, log)]);
  return {
    config,
    agents,
    agentName,
    vad,
    noise,
    // No transfer happens in a scenario: an address where nothing listens.
    livekit: createLiveKitClients({
      LIVEKIT_URL: 'http://127.0.0.1:9',
      LIVEKIT_API_KEY: 'evaluation',
      LIVEKIT_API_SECRET: 'evaluation',
      LIVEKIT_TIMEOUT_MS: 2000,
    }),
    log,
  };
}

/** Runs `jobs` with at most `concurrency` sessions at once in this process. */
async function runPool(
  scenarios: Scenario[],
  next: () => Job | undefined | Promise<Job | undefined>,
  ctx: {
    eval: EvalContext;
    concurrency: number;
    staggerMs: number;
    timing?: Partial<SttTiming>;
  },
  onResult: (job: Job, run: ScenarioRun) => void,
): Promise<void> {
  let lastStart = 0;
  const slot = async () => {
    for (;;) {
      const job = await next();
      if (!job) return;
      const wait = lastStart + ctx.staggerMs - performance.now();
      lastStart = Math.max(performance.now(), lastStart + ctx.staggerMs);
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      const s = scenarios[job.scenario]!;
      const run = await runScenario(s, ctx.eval, {
        policy: job.policy,
        ...(ctx.timing
          ? { timing: { interimDelayMs: 300, finalDelayMs: 400, ...ctx.timing } }
          : {}),
      });
      onResult(job, run);
    }
  };
  await Promise.all(Array.from({ length: ctx.concurrency }, slot));
}

export async function runEval(o: EvalOptions): Promise<EvalRun> {
  const started = performance.now();
  const scenarios = loadScenarios(o.folder);
  const jobs: Job[] = [];
  // Scenario-major order: the policies of one scenario run side by side, under the same load.
  scenarios.forEach((_, scenario) => {
    for (const policy of o.policies) jobs.push({ index: jobs.length, scenario, policy });
  });
  const byJob = new Map<number, ScenarioRun>();
  const lag: LagStats[] = [];
  let done = 0;
  const total = jobs.length;
  const first = await runPass(o, scenarios, jobs, o.concurrency, (job, run) => {
    byJob.set(job.index, run);
    o.onProgress?.(++done, total, run);
  });
  lag.push(...first);
  // Runs whose scripted events fired late were measured on a starved event loop: run them
  // again with fewer sessions at once, and keep the more faithful of the two.
  const late = jobs
    .filter((j) => (byJob.get(j.index)?.sttLateMaxMs ?? 0) > o.retryLateMs)
    .sort((x, y) => byJob.get(y.index)!.sttLateMaxMs - byJob.get(x.index)!.sttLateMaxMs);
  // Only as many as fit in the time budget, latest first; none if the machine is simply busy.
  const retryConcurrency = Math.max(1, Math.ceil(o.concurrency / 4));
  const elapsedS = (performance.now() - started) / 1000;
  const meanRunS = Math.max(1, ...[...byJob.values()].map((r) => r.endMs / 1000));
  const fits = Math.floor(
    ((o.budgetS - elapsedS - WORKER_STARTUP_S) / meanRunS) *
      retryConcurrency *
      Math.max(1, o.workers),
  );
  const retry =
    late.length <= Math.ceil(o.maxRetryShare * jobs.length) ? late.slice(0, Math.max(0, fits)) : [];
  const retried = retry.length;
  if (retry.length > 0) {
    const again = await runPass(o, scenarios, retry, retryConcurrency, (job, run) => {
      const before = byJob.get(job.index);
      if (!before || run.sttLateMaxMs < before.sttLateMaxMs) byJob.set(job.index, run);
    });
    lag.push(...again);
  }
  const runs = jobs.map((job) => ({ job, run: byJob.get(job.index)! }));
  return { scenarios, runs, lag, retried, durationS: (performance.now() - started) / 1000 };
}

/** One pass over `jobs` in this process or in worker processes; returns their lag stats. */
async function runPass(
  o: EvalOptions,
  scenarios: Scenario[],
  jobs: Job[],
  concurrency: number,
  record: (job: Job, run: ScenarioRun) => void,
): Promise<LagStats[]> {
  let cursor = 0;
  const take = () => (cursor < jobs.length ? jobs[cursor++] : undefined);
  const workers = Math.min(o.workers, jobs.length);
  if (workers <= 1) {
    initializeLogger({ pretty: false, level: 'error' });
    sharedContext ??= await loadEvalContext(o.settings, o.agent);
    const monitor = new LagMonitor().start();
    await runPool(
      scenarios,
      take,
      {
        eval: sharedContext,
        concurrency,
        staggerMs: o.staggerMs,
        ...(o.timing ? { timing: o.timing } : {}),
      },
      record,
    );
    return [monitor.stop()];
  }
  const lag: LagStats[] = [];
  await Promise.all(
    Array.from(
      { length: workers },
      () =>
        new Promise<void>((resolveWorker, rejectWorker) => {
          const child = fork(process.argv[1]!, ['--eval-worker'], {
            execArgv: process.execArgv,
            stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
          });
          child.on('message', (m: WorkerMessage) => {
            if (m.type === 'next')
              child.send({ type: 'job', job: take() ?? null } satisfies ParentMessage);
            else if (m.type === 'result') record(m.job, m.run);
            else if (m.type === 'done') {
              lag.push(m.lag);
              child.disconnect();
            }
          });
          child.on('exit', (code) =>
            code === 0
              ? resolveWorker()
              : rejectWorker(new Error(`eval worker exited with code ${code}`)),
          );
          child.send({
            type: 'start',
            folder: o.folder,
            concurrency,
            staggerMs: o.staggerMs,
            settings: o.settings,
            ...(o.agent ? { agent: o.agent } : {}),
            ...(o.timing ? { timing: o.timing } : {}),
          } satisfies ParentMessage);
        }),
    ),
  );
  return lag;
}

let sharedContext: EvalContext | undefined;
/** Start-up of a worker process (tsx, modules, Silero), counted against the time budget. */
const WORKER_STARTUP_S = 10;

type ParentMessage =
  | {
      type: 'start';
      folder: string;
      concurrency: number;
      staggerMs: number;
      settings: Record<string, string>;
      agent?: string;
      timing?: Partial<SttTiming>;
    }
  | { type: 'job'; job: Job | null };

type WorkerMessage =
  | { type: 'next' }
  | { type: 'result'; job: Job; run: ScenarioRun }
  | { type: 'done'; lag: LagStats };

/** Entry point of a worker process (the CLI calls it when started with --eval-worker). */
export async function evalWorkerMain(): Promise<void> {
  const send = (m: WorkerMessage) => process.send?.(m);
  const start = await new Promise<Extract<ParentMessage, { type: 'start' }>>((resolve) => {
    process.once('message', (m: ParentMessage) => {
      if (m.type === 'start') resolve(m);
    });
  });
  initializeLogger({ pretty: false, level: 'error' });
  const scenarios = loadScenarios(start.folder);
  const ctx = await loadEvalContext(start.settings, start.agent);
  const waiting: Array<(job: Job | undefined) => void> = [];
  process.on('message', (m: ParentMessage) => {
    if (m.type === 'job') waiting.shift()?.(m.job ?? undefined);
  });
  const next = () =>
    new Promise<Job | undefined>((resolve) => {
      waiting.push(resolve);
      send({ type: 'next' });
    });
  const monitor = new LagMonitor().start();
  await runPool(
    scenarios,
    next,
    {
      eval: ctx,
      concurrency: start.concurrency,
      staggerMs: start.staggerMs,
      ...(start.timing ? { timing: start.timing } : {}),
    },
    (job, run) => send({ type: 'result', job, run }),
  );
  // The parent disconnects once it has this last message; exiting earlier could lose it.
  const disconnected = new Promise<void>((resolve) => process.once('disconnect', resolve));
  send({ type: 'done', lag: monitor.stop() });
  await disconnected;
}
