/**
 * Node flags of the job processes (one per call). agents-js forks each job process with the
 * worker's own `process.execArgv`, so the worker adds these to it before it starts: every way of
 * launching the worker (the image, `npm run start:worker`, a manifest) gets the same processes,
 * and `npm run bench:calls` forks its call processes with the same list.
 *
 * Why a small semi-space: audio frames make short-lived garbage at a steady rate, which V8's
 * default young generation (up to 16 MB per semi-space) lets grow to ~25 MB more RSS per call
 * before collecting; 4 MB scavenges more often, at no measurable CPU cost.
 *
 * Why --optimize-for-size: a job process is mostly framework code that runs rarely (agents-js,
 * its plugins, OpenTelemetry) and a small hot path; V8 then keeps its heap small rather than
 * growing it for throughput. `npm run bench:calls` measures RSS and CPU per call with it.
 */
import type { Config } from '../core/config.js';

type FlagSettings = Pick<Config, 'JOB_SEMI_SPACE_MB' | 'JOB_OPTIMIZE_FOR_SIZE'>;

export function jobProcessNodeFlags(config: FlagSettings): string[] {
  return [
    ...(config.JOB_SEMI_SPACE_MB > 0 ? [`--max-semi-space-size=${config.JOB_SEMI_SPACE_MB}`] : []),
    ...(config.JOB_OPTIMIZE_FOR_SIZE ? ['--optimize-for-size'] : []),
  ];
}

/** Adds the job processes' flags to this (worker) process's execArgv, which forks inherit. */
export function applyJobProcessFlags(config: FlagSettings): void {
  for (const flag of jobProcessNodeFlags(config)) {
    const name = flag.split('=')[0]!;
    const at = process.execArgv.findIndex((a) => a.split('=')[0] === name);
    if (at >= 0) process.execArgv[at] = flag;
    else process.execArgv.push(flag);
  }
}
