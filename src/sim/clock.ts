/**
 * The shared timeline of one simulated call. Audio input, audio output and the scripted STT all
 * read the same clock, so "at 2400 ms" means the same instant for the caller's audio, the
 * transcript events and the record of what the agent played.
 *
 * agents-js runs on wall-clock timers, so the simulation runs in real time: `now()` is
 * milliseconds of wall time since `start()`. `LagMonitor` measures event-loop lag, because a
 * busy loop delays every timer and would otherwise silently distort measured timings.
 */
import { type IntervalHistogram, monitorEventLoopDelay } from 'node:perf_hooks';

export class SimClock {
  private origin: number | undefined;
  private readonly startWaiters: Array<() => void> = [];

  /** Starts the timeline (idempotent). Everything scheduled "at t" is relative to this. */
  start(): void {
    if (this.origin !== undefined) return;
    this.origin = performance.now();
    for (const resolve of this.startWaiters.splice(0)) resolve();
  }

  get started(): boolean {
    return this.origin !== undefined;
  }

  /** Resolves when `start()` has been called. */
  whenStarted(): Promise<void> {
    if (this.origin !== undefined) return Promise.resolve();
    return new Promise((resolve) => this.startWaiters.push(resolve));
  }

  /** Milliseconds since start (0 before start). */
  now(): number {
    return this.origin === undefined ? 0 : performance.now() - this.origin;
  }

  /** Date.now() value of timeline instant `ms` (for APIs that want epoch milliseconds). */
  epochAt(ms: number): number {
    return Date.now() - this.now() + ms;
  }

  /** Resolves at timeline instant `ms` (immediately if it has passed); aborts with `signal`. */
  async sleepUntil(ms: number, signal?: AbortSignal): Promise<void> {
    await this.whenStarted();
    const wait = ms - this.now();
    if (wait <= 0 || signal?.aborted) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(done, wait);
      function done() {
        clearTimeout(timer);
        signal?.removeEventListener('abort', done);
        resolve();
      }
      signal?.addEventListener('abort', done, { once: true });
    });
  }
}

export interface LagStats {
  /** Event-loop delay percentiles in milliseconds. */
  p50: number;
  p99: number;
  max: number;
}

/** Measures event-loop lag (timer delay) of this process while it runs. */
export class LagMonitor {
  private readonly histogram: IntervalHistogram = monitorEventLoopDelay({ resolution: 10 });

  start(): this {
    this.histogram.enable();
    return this;
  }

  stop(): LagStats {
    this.histogram.disable();
    const ms = (ns: number) => Math.round((ns / 1e6) * 10) / 10;
    return {
      p50: ms(this.histogram.percentile(50)),
      p99: ms(this.histogram.percentile(99)),
      max: ms(this.histogram.max),
    };
  }
}
