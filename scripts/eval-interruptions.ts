/**
 * npm run eval:interruptions [-- <folder>] [--policy NAME[,NAME]] [--agent NAME] [--json FILE]
 *     [--concurrency N] [--workers N] [--set SETTING=VALUE]... [--interim-delay MS] [--final-delay MS]
 *
 * Scores interruption policies on a folder of scenarios (default: the public corpus in
 * fixtures/interruptions; format: docs/interruption-scenarios.md) through the real AgentSession and Silero VAD,
 * all policies in one run; prints one row per policy; `--json` writes the summary plus
 * per-event details. Exit code 0 when the run completed (whatever the scores), 2 for bad input.
 */
import { writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { parseArgs } from 'node:util';
import { buildReport, formatErrors, formatTable } from '../src/eval/report.js';
import { evalWorkerMain, runEval } from '../src/eval/runner.js';
import {
  type InterruptionPolicyName,
  interruptionPolicies,
} from '../src/telephony/interruption/index.js';

const USAGE =
  'usage: npm run eval:interruptions [-- <folder>] [--policy NAME[,NAME]] [--agent NAME] [--json FILE] ' +
  '[--concurrency N] [--workers N] [--set SETTING=VALUE]... [--interim-delay MS] [--final-delay MS]';

/** The public corpus that ships with the repository. */
const DEFAULT_FOLDER = 'fixtures/interruptions';

function die(message: string): never {
  process.stderr.write(`${message}\n${USAGE}\n`);
  process.exit(2);
}

function positiveInt(name: string, raw: string | undefined, fallback: number): number {
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) die(`--${name} must be a whole number ≥ 1 (got "${raw}")`);
  return n;
}

async function main(): Promise<void> {
  if (process.argv.includes('--eval-worker')) return evalWorkerMain();
  let args: ReturnType<typeof parseArgs>;
  try {
    args = parseArgs({
      allowPositionals: true,
      options: {
        policy: { type: 'string', multiple: true },
        json: { type: 'string' },
        agent: { type: 'string' },
        concurrency: { type: 'string' },
        workers: { type: 'string' },
        set: { type: 'string', multiple: true },
        'interim-delay': { type: 'string' },
        'final-delay': { type: 'string' },
        stagger: { type: 'string' },
        'retry-late': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (err) {
    die((err as Error).message);
  }
  const v = args.values as Record<string, string | string[] | boolean | undefined>;
  if (v.help) {
    process.stdout.write(`${USAGE}\npolicies: ${interruptionPolicies.join(', ')}\n`);
    return;
  }
  if (args.positionals.length > 1) die('give one scenario folder');
  const folder = args.positionals[0] ?? DEFAULT_FOLDER;
  const policies = ((v.policy as string[] | undefined) ?? [interruptionPolicies.join(',')])
    .flatMap((p) => p.split(','))
    .map((p) => p.trim())
    .filter(Boolean);
  for (const p of policies) {
    if (!(interruptionPolicies as readonly string[]).includes(p)) {
      die(`unknown policy "${p}" (known: ${interruptionPolicies.join(', ')})`);
    }
  }
  const settings: Record<string, string> = {};
  for (const kv of (v.set as string[] | undefined) ?? []) {
    const eq = kv.indexOf('=');
    if (eq <= 0) die(`--set wants SETTING=VALUE (got "${kv}")`);
    settings[kv.slice(0, eq)] = kv.slice(eq + 1);
  }
  const workers = positiveInt(
    'workers',
    v.workers as string | undefined,
    Math.min(2, availableParallelism()),
  );
  const concurrency = positiveInt('concurrency', v.concurrency as string | undefined, 8);
  const staggerMs = positiveInt('stagger', v.stagger as string | undefined, 400);
  const retryLateMs = positiveInt('retry-late', v['retry-late'] as string | undefined, 120);
  const timing = {
    ...(v['interim-delay']
      ? { interimDelayMs: positiveInt('interim-delay', v['interim-delay'] as string, 300) }
      : {}),
    ...(v['final-delay']
      ? { finalDelayMs: positiveInt('final-delay', v['final-delay'] as string, 400) }
      : {}),
  };

  let lastPrint = 0;
  const run = await runEval({
    folder,
    policies: policies as InterruptionPolicyName[],
    concurrency,
    workers,
    settings,
    ...(v.agent ? { agent: v.agent as string } : {}),
    staggerMs,
    retryLateMs,
    maxRetryShare: 0.25,
    budgetS: 260,
    ...(Object.keys(timing).length ? { timing } : {}),
    onProgress: (done, total) => {
      if (process.stderr.isTTY || done === total || performance.now() - lastPrint > 15_000) {
        lastPrint = performance.now();
        process.stderr.write(`  ${done}/${total} sessions\r`);
      }
    },
  }).catch((err: Error & { code?: string }) => {
    if (err.code === 'PA_ERR_SCENARIO_INVALID' || err.code === 'PA_ERR_CONFIG_INVALID')
      die(err.message);
    throw err;
  });
  const report = buildReport(run, {
    folder,
    policies: policies as InterruptionPolicyName[],
    workers,
    concurrency,
    settings,
    retryLateMs,
  });
  const r = report.run;
  const errors = policies.flatMap((p) =>
    formatErrors(report, p as InterruptionPolicyName).map((line) => `  ${p}: ${line}`),
  );
  const softackErrors = errors.filter((l) => l.startsWith('  softack:'));
  process.stdout.write(
    `\n${formatTable(report.policies)}\n\nBy group:\n${formatTable(report.groups)}\n\n` +
      (softackErrors.length > 0 ? `softack errors:\n${softackErrors.join('\n')}\n\n` : '') +
      `${r.scenarios} scenarios × ${policies.length} policies in ${r.duration_s} s ` +
      `(${workers} worker(s) × ${concurrency} sessions); event-loop lag p99 ` +
      `${r.event_loop_lag_ms.map((l) => l.p99).join('/')} ms, max ${r.event_loop_lag_ms.map((l) => l.max).join('/')} ms; ` +
      `scripted STT events late p95 ${r.stt_event_late_ms.p95} ms, max ${r.stt_event_late_ms.max} ms; ` +
      `${r.retried_runs} run(s) measured again\n`,
  );
  if (r.late_runs > 0) {
    process.stdout.write(
      `warning: ${r.late_runs} run(s) had timers over ${retryLateMs} ms late (machine too busy): ` +
        'their timings are pessimistic (run_late_ms in --json); lower --concurrency\n',
    );
  }
  if (v.json) {
    writeFileSync(v.json as string, `${JSON.stringify(report, null, 2)}\n`);
    process.stdout.write(`wrote ${v.json}\n`);
  }
}

main().then(
  () => {
    // Sessions leave timers behind (the framework's); the run is over.
    process.exit(0);
  },
  (err) => {
    process.stderr.write(`${(err as Error).stack ?? err}\n`);
    process.exit(1);
  },
);
