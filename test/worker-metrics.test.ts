/**
 * The worker's Prometheus endpoint (src/worker/metrics.ts): the active-calls gauge the
 * deployment's autoscaler (KEDA, infra/base/worker-scaledobject.yaml) reads, served over real
 * HTTP and parsed as Prometheus text.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ACTIVE_CALLS_METRIC,
  startWorkerMetrics,
  type WorkerMetricsServer,
} from '../src/worker/metrics.js';
import { testConfig } from './support/config.js';

describe('worker metrics endpoint', () => {
  let calls = 0;
  let server: WorkerMetricsServer;
  const url = (path: string) => `http://127.0.0.1:${server.port}${path}`;

  beforeAll(async () => {
    server = await startWorkerMetrics({ port: 0, host: '127.0.0.1', activeCalls: () => calls });
  });
  afterAll(() => server.close());

  /** The gauge's sample value in a scrape. */
  async function scrape(): Promise<number | undefined> {
    const res = await fetch(url('/metrics'));
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = await res.text();
    expect(text).toContain(`# TYPE ${ACTIVE_CALLS_METRIC} gauge`);
    const line = text.split('\n').find((l) => l.startsWith(`${ACTIVE_CALLS_METRIC} `));
    return line ? Number(line.split(' ')[1]) : undefined;
  }

  it('reports the calls in progress at each scrape', async () => {
    expect(await scrape()).toBe(0);
    calls = 7;
    expect(await scrape()).toBe(7);
    calls = 2;
    expect(await scrape()).toBe(2);
  });

  it('also serves process metrics of the worker', async () => {
    const text = await (await fetch(url('/metrics'))).text();
    expect(text).toMatch(/^process_resident_memory_bytes \d+/m);
  });

  it('answers 404 elsewhere', async () => {
    expect((await fetch(url('/'))).status).toBe(404);
    expect((await fetch(url('/metrics'), { method: 'POST' })).status).toBe(404);
  });

  it('fails to start, with the reason, when the port is taken', async () => {
    await expect(
      startWorkerMetrics({ port: server.port, host: '127.0.0.1', activeCalls: () => 0 }),
    ).rejects.toThrow(/EADDRINUSE/);
  });

  it('listens on WORKER_METRICS_PORT, 9464 by default (the pod spec and ServiceMonitor use it)', () => {
    expect(testConfig({}, 'worker').WORKER_METRICS_PORT).toBe(9464);
    expect(testConfig({ WORKER_METRICS_PORT: '9500' }, 'worker').WORKER_METRICS_PORT).toBe(9500);
  });
});
