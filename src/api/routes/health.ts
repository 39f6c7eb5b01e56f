/** Liveness, readiness (LiveKit reachable) and Prometheus metrics. */
import type { FastifyInstance } from 'fastify';
import { LiveKitUnavailableError } from '../../core/errors.js';
import { problemOf, sendProblem } from '../problem.js';

const READY_CACHE_MS = 2000;

export default async function health(app: FastifyInstance): Promise<void> {
  const { livekit, metrics } = app.deps;
  let lastCheck = { at: 0, ok: false, reason: '' };

  app.get('/healthz', { config: { public: true }, schema: { hide: true } }, async () => ({
    status: 'ok',
  }));

  app.get('/readyz', { config: { public: true }, schema: { hide: true } }, async (req, reply) => {
    if (Date.now() - lastCheck.at > READY_CACHE_MS) {
      try {
        await livekit.rooms.listRooms(['readyz-probe']);
        lastCheck = { at: Date.now(), ok: true, reason: '' };
      } catch (err) {
        lastCheck = { at: Date.now(), ok: false, reason: (err as Error).message };
      }
    }
    if (lastCheck.ok) return { status: 'ready' };
    return sendProblem(reply, req, problemOf(new LiveKitUnavailableError(lastCheck.reason)));
  });

  app.get('/metrics', { config: { public: true }, schema: { hide: true } }, async (_req, reply) => {
    reply.type(metrics.registry.contentType);
    return metrics.registry.metrics();
  });
}
