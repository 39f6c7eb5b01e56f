/**
 * The product's workers on the real stack, seen from outside as an operator would: which job
 * process runs a call (the worker logs name it), the process tree of a worker, how many idle job
 * processes a worker has warmed up, and the dead air a phone heard around a moment.
 */
import { execFileSync } from 'node:child_process';
import type { Product } from '../../../stack/product.js';
import { type Segment, sleep } from './audio.js';

/** The job process running a call, and the worker (log name) it belongs to. */
export interface CallJob {
  pid: number;
  worker: string;
}

/**
 * The job process that runs `callId` now: the last "call routed" / "call taken over" line of any
 * of the workers' logs for the call (job processes log with their own pid).
 */
export function jobOf(
  product: Product,
  callId: string,
  workers: readonly string[],
): CallJob | undefined {
  let found: (CallJob & { time: number }) | undefined;
  for (const worker of workers) {
    for (const line of product.workerLog(worker).split('\n')) {
      if (!line.includes(callId)) continue;
      if (!line.includes('"call routed"') && !line.includes('"call taken over"')) continue;
      const o = parse(line);
      if (o && (!found || o.time >= found.time)) found = { pid: o.pid, worker, time: o.time };
    }
  }
  return found ? { pid: found.pid, worker: found.worker } : undefined;
}

function parse(line: string): { pid: number; time: number } | undefined {
  try {
    const o = JSON.parse(line) as { pid?: unknown; time?: unknown };
    return typeof o.pid === 'number' && typeof o.time === 'number'
      ? { pid: o.pid, time: o.time }
      : undefined;
  } catch {
    return undefined;
  }
}

function pidOf(line: string): number | undefined {
  return parse(line)?.pid;
}

/** Waits until some worker's job process runs the call. */
export async function waitForJob(
  product: Product,
  callId: string,
  workers: readonly string[],
  timeoutMs = 20_000,
): Promise<CallJob> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const job = jobOf(product, callId, workers);
    if (job) return job;
    if (Date.now() > deadline) throw new Error(`no worker took call ${callId}`);
    await sleep(100);
  }
}

/** The process and all its descendants (ids), parents first. */
export function processTree(pid: number): number[] {
  let children: number[] = [];
  try {
    children = execFileSync('ps', ['-o', 'pid=', '--ppid', String(pid)])
      .toString()
      .split('\n')
      .map((s) => Number(s.trim()))
      .filter((n) => n > 0);
  } catch {
    // ps exits 1 when there are none
  }
  return [pid, ...children.flatMap(processTree)];
}

/** The parent process id of `pid`. */
export function parentOf(pid: number): number {
  return Number(
    execFileSync('ps', ['-o', 'ppid=', '-p', String(pid)])
      .toString()
      .trim(),
  );
}

/** SIGKILLs each process, by id. */
export function killAll(pids: readonly number[]): void {
  for (const p of pids) {
    try {
      process.kill(p, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}

/** Whether a process runs. */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * Waits until a worker has `idle` job processes warmed up (prewarm done, no call) – what a
 * worker that has run for a while has: a call (or a take-over) never waits for a process start.
 */
export async function waitForWarmPool(
  product: Product,
  worker: string,
  idle: number,
  timeoutMs = 90_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const log = product.workerLog(worker).split('\n');
    const ready = new Set<number>();
    const busy = new Set<number>();
    for (const line of log) {
      const pid = pidOf(line);
      if (pid === undefined) continue;
      if (line.includes('"job process ready"')) ready.add(pid);
      if (line.includes('"call routed"') || line.includes('"call taken over"')) busy.add(pid);
    }
    const warm = [...ready].filter((p) => !busy.has(p) && alive(p)).length;
    if (warm >= idle) return;
    if (Date.now() > deadline) throw new Error(`${worker}: ${warm} of ${idle} job processes warm`);
    await sleep(250);
  }
}

/**
 * The dead air a caller heard around `at` (seconds into the recording): from the end of the last
 * speech that started before it (cut off, or finished) to the start of the first speech after it.
 */
export function deadAirAround(
  speech: readonly Segment[],
  at: number,
): { gap: number; before: Segment; after: Segment } | undefined {
  const before = [...speech].reverse().find((s) => s.start <= at);
  const after = speech.find((s) => s.start > at && (!before || s.start >= before.end));
  if (!before || !after) return undefined;
  return { gap: after.start - before.end, before, after };
}
