import { ServerOptions } from '@livekit/agents';
import { describe, expect, it } from 'vitest';
import { hasRoomForCall, LOAD_THRESHOLD, workerLoad } from '../src/worker/load.js';

// The SDK marks a worker FULL when `load >= loadThreshold` (worker.ts, updateWorker).
const isFull = (load: number) => load >= LOAD_THRESHOLD;

describe('worker load reported to LiveKit', () => {
  it('is the share of MAX_CONCURRENT_CALLS in use while the CPU is idle', () => {
    expect(workerLoad({ activeCalls: 5, maxCalls: 20, cpu: 0.05, maxCpu: 0.85 })).toBeCloseTo(0.25);
    expect(isFull(workerLoad({ activeCalls: 19, maxCalls: 20, cpu: 0.1, maxCpu: 0.85 }))).toBe(
      false,
    );
  });

  it('marks the worker full at MAX_CONCURRENT_CALLS, so LiveKit stops sending calls', () => {
    expect(isFull(workerLoad({ activeCalls: 20, maxCalls: 20, cpu: 0.1, maxCpu: 0.85 }))).toBe(
      true,
    );
    expect(isFull(workerLoad({ activeCalls: 25, maxCalls: 20, cpu: 0, maxCpu: 0.85 }))).toBe(true);
  });

  it('marks the worker full when the CPU reaches WORKER_MAX_CPU, whatever the call count', () => {
    expect(workerLoad({ activeCalls: 2, maxCalls: 25, cpu: 0.6, maxCpu: 0.85 })).toBeCloseTo(
      0.6 / 0.85,
    );
    expect(isFull(workerLoad({ activeCalls: 2, maxCalls: 25, cpu: 0.9, maxCpu: 0.85 }))).toBe(true);
  });

  it('counts calls only with WORKER_MAX_CPU=0 (a node shared with other work)', () => {
    expect(workerLoad({ activeCalls: 2, maxCalls: 25, cpu: 1, maxCpu: 0 })).toBeCloseTo(2 / 25);
    expect(isFull(workerLoad({ activeCalls: 25, maxCalls: 25, cpu: 0, maxCpu: 0 }))).toBe(true);
  });

  it('stays within [0, 1] for odd inputs', () => {
    expect(workerLoad({ activeCalls: 0, maxCalls: 25, cpu: Number.NaN, maxCpu: 0.85 })).toBe(0);
    expect(workerLoad({ activeCalls: 0, maxCalls: 25, cpu: -1, maxCpu: 0.85 })).toBe(0);
    expect(workerLoad({ activeCalls: 100, maxCalls: 25, cpu: 3, maxCpu: 0.85 })).toBe(1);
  });

  it('refuses job requests between load reports once the cap is reached', () => {
    expect(hasRoomForCall(24, 25)).toBe(true);
    expect(hasRoomForCall(25, 25)).toBe(false);
  });

  it('keeps our threshold in the SDK options (falsy values would fall back to its defaults)', () => {
    const production = new ServerOptions({
      agent: 'x.js',
      loadThreshold: LOAD_THRESHOLD,
      production: true,
    });
    const dev = new ServerOptions({
      agent: 'x.js',
      loadThreshold: LOAD_THRESHOLD,
      production: false,
    });
    expect(production.loadThreshold).toBe(1);
    expect(dev.loadThreshold).toBe(1);
  });
});
