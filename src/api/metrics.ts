/**
 * Prometheus metrics of the API (prom-client). One registry per app instance so tests and
 * benchmarks do not share counters.
 */
import { Counter, collectDefaultMetrics, Histogram, Registry } from 'prom-client';

export interface ApiMetrics {
  registry: Registry;
  httpDuration: Histogram<'method' | 'route' | 'status_code'>;
  callsCreated: Counter<'agent'>;
  callsFailed: Counter<'sip_status' | 'reason'>;
}

export function createApiMetrics(options: { defaultMetrics?: boolean } = {}): ApiMetrics {
  const registry = new Registry();
  if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: registry });
  return {
    registry,
    httpDuration: new Histogram({
      name: 'http_request_duration_seconds',
      help: 'API request latency by route and status',
      labelNames: ['method', 'route', 'status_code'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: [registry],
    }),
    callsCreated: new Counter({
      name: 'calls_created_total',
      help: 'Outbound calls created',
      labelNames: ['agent'],
      registers: [registry],
    }),
    callsFailed: new Counter({
      name: 'calls_failed_total',
      help: 'Outbound calls that failed, by SIP status code ("none" when no SIP status)',
      labelNames: ['sip_status', 'reason'],
      registers: [registry],
    }),
  };
}
