/**
 * Liveness, readiness and Prometheus metrics. Ready means every dependency the routes need
 * answers: LiveKit's API and the idempotency store (Redis when REDIS_URL is set: without it
 * every POST /v1/calls with an Idempotency-Key would fail).
 */
import type { FastifyInstance } from 'fastify';
import {
  type CatalogError,
  IdempotencyUnavailableError,
  LiveKitUnavailableError,
} from '../../core/errors.js';
import { problemOf, sendProblem } from '../problem.js';

const READY_CACHE_MS = 2000;

export default async function health(app: FastifyInstance): Promise<void> {
  const { livekit, metrics, idempotency } = app.deps;
  let lastCheck: { at: number; failure?: CatalogError } = { at: 0 };

  app.get('/healthz', { config: { public: true }, schema: { hide: true } }, async () => ({
    status: 'ok',
  }));

  app.get('/readyz', { config: { public: true }, schema: { hide: true } }, async (req, reply) => {
    if (Date.now() - lastCheck.at > READY_CACHE_MS) {
      const [lk, store] = await Promise.allSettled([
        livekit.rooms.listRooms(['readyz-probe']),
        idempotency.ping(),
      ]);
      const failure =
        lk.status === 'rejected'
          ? new LiveKitUnavailableError((lk.reason as Error).message)
          : store.status === 'rejected'
            ? new IdempotencyUnavailableError((store.reason as Error).message)
            : undefined;
      lastCheck = { at: Date.now(), ...(failure ? { failure } : {}) };
    }
    if (!lastCheck.failure) return { status: 'ready' };
    return sendProblem(reply, req, problemOf(lastCheck.failure));
  });

  app.get('/metrics', { config: { public: true }, schema: { hide: true } }, async (_req, reply) => {
    reply.type(metrics.registry.contentType);
    return metrics.registry.metrics();
  });
}
