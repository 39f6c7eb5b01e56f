/**
 * The worker's Prometheus endpoint (WORKER_METRICS_PORT, `GET /metrics`), served by the main
 * process. Its gauge `phone_agents_worker_active_calls` drives the deployment's autoscaling
 * (infra: KEDA on `sum(phone_agents_worker_active_calls)`): calls run in forked job processes,
 * so they are counted here, in the process that hands the jobs out, when Prometheus scrapes.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { collectDefaultMetrics, Gauge, Registry } from 'prom-client';

export const ACTIVE_CALLS_METRIC = 'phone_agents_worker_active_calls';

export interface WorkerMetricsOptions {
  /** WORKER_METRICS_PORT; 0 = any free port (tests). */
  port: number;
  host?: string;
  /** Calls in progress in this worker, read at each scrape. */
  activeCalls: () => number;
  /** Process metrics (CPU, memory, event loop) of the main process; default true. */
  defaultMetrics?: boolean;
}

export interface WorkerMetricsServer {
  readonly registry: Registry;
  /** The port it listens on (the given one, or the one picked for 0). */
  readonly port: number;
  close(): Promise<void>;
}

export function createWorkerMetricsRegistry(
  activeCalls: () => number,
  defaultMetrics = true,
): Registry {
  const registry = new Registry();
  if (defaultMetrics) collectDefaultMetrics({ register: registry });
  new Gauge({
    name: ACTIVE_CALLS_METRIC,
    help: 'Calls in progress in this worker (jobs running in its job processes)',
    registers: [registry],
    collect() {
      this.set(activeCalls());
    },
  });
  return registry;
}

/** Starts the metrics endpoint; rejects when the port cannot be bound. */
export async function startWorkerMetrics(o: WorkerMetricsOptions): Promise<WorkerMetricsServer> {
  const registry = createWorkerMetricsRegistry(o.activeCalls, o.defaultMetrics ?? true);
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' || path !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
      return;
    }
    registry.metrics().then(
      (text) => res.writeHead(200, { 'content-type': registry.contentType }).end(text),
      (err: Error) => res.writeHead(500, { 'content-type': 'text/plain' }).end(`${err.message}\n`),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port, o.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return {
    registry,
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
