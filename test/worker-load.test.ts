import { type AgentServer, JobRequest } from '@livekit/agents';
import { Job } from '@livekit/protocol';
import { describe, expect, it } from 'vitest';
import { hasRoomForCall, LOAD_THRESHOLD, workerLoad } from '../src/worker/load.js';
import { workerServerOptions } from '../src/worker/server-options.js';
import { testConfig } from './support/config.js';

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
});

/**
 * The options `src/worker/main.ts` registers with (workerServerOptions builds them for it): the
 * name LiveKit dispatches to, the load function, the refusal of job requests at the cap.
 */
describe('the worker’s registration with LiveKit', () => {
  const settings = (env: Record<string, string> = {}) =>
    testConfig(
      {
        AGENT_NAME: 'acme-phone-pool',
        LIVEKIT_URL: 'https://lk.acme.example',
        MAX_CONCURRENT_CALLS: '2',
        WORKER_MAX_CPU: '0.5',
        MAX_CALL_DURATION_S: '600',
        WORKER_HEALTH_PORT: '18081',
        ...env,
      },
      'worker',
    );
  /** An AgentServer as the SDK hands it to the load function: only its running jobs matter. */
  const serverWith = (calls: number) =>
    ({
      activeJobs: Array.from({ length: calls }, (_, i) => ({ id: `AJ_${i}` })),
    }) as unknown as AgentServer;
  /** A job request as the SDK builds it, recording what the worker answered. */
  function offer() {
    const answers: string[] = [];
    const req = new JobRequest(
      new Job({ id: 'AJ_offer', agentName: 'acme-phone-pool' }),
      async () => {
        answers.push('reject');
      },
      async () => {
        answers.push('accept');
      },
    );
    return { req, answers };
  }

  it('registers for explicit dispatch under AGENT_NAME, over WebSocket, with our threshold', () => {
    const { options } = workerServerOptions(settings(), 'job-entry.js', async () => 0);
    expect(options.agentName).toBe('acme-phone-pool');
    expect(options.wsURL).toBe('wss://lk.acme.example');
    expect(options.apiKey).toBe('devkey');
    expect(options.agent).toBe('job-entry.js');
    expect(options.loadThreshold).toBe(LOAD_THRESHOLD);
    expect(options.port).toBe(18081);
    // Draining waits for the longest call, and a minute for its summary.
    expect(options.drainTimeout).toBe(660_000);
    expect(
      workerServerOptions(settings({ LIVEKIT_URL: 'http://127.0.0.1:7880' }), 'x.js', async () => 0)
        .options.wsURL,
    ).toBe('ws://127.0.0.1:7880');
  });

  it('reports calls of MAX_CONCURRENT_CALLS or CPU of WORKER_MAX_CPU, whichever is higher', async () => {
    let cpu = 0.1;
    const { options } = workerServerOptions(settings(), 'x.js', async () => cpu);
    expect(await options.loadFunc(serverWith(1))).toBeCloseTo(0.5); // 1 of 2 calls
    cpu = 0.4;
    expect(await options.loadFunc(serverWith(1))).toBeCloseTo(0.8); // 0.4 of 0.5 CPU
    expect(await options.loadFunc(serverWith(2))).toBe(1); // full: LiveKit sends no more
    cpu = 0.9;
    expect(await options.loadFunc(serverWith(0))).toBe(1);
  });

  it('refuses a job request at MAX_CONCURRENT_CALLS, and accepts again once a call ended', async () => {
    const worker = workerServerOptions(settings(), 'x.js', async () => 0);
    const { options } = worker;

    // Before the first load report no call can be running: the offer is taken.
    const first = offer();
    await options.requestFunc(first.req);
    expect(first.answers).toEqual(['accept']);

    await options.loadFunc(serverWith(2));
    expect(worker.activeCalls()).toBe(2);
    const full = offer();
    await options.requestFunc(full.req);
    expect(full.answers).toEqual(['reject']);

    await options.loadFunc(serverWith(1));
    const room = offer();
    await options.requestFunc(room.req);
    expect(room.answers).toEqual(['accept']);
    expect(worker.activeCalls()).toBe(1);
  });

  it('counts CPU not at all with WORKER_MAX_CPU=0', async () => {
    const { options } = workerServerOptions(
      settings({ WORKER_MAX_CPU: '0' }),
      'x.js',
      async () => 1,
    );
    expect(await options.loadFunc(serverWith(1))).toBeCloseTo(0.5);
  });
});
