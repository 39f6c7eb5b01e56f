/**
 * GET /readyz: ready only when every dependency the routes need answers: LiveKit's API and the
 * idempotency store (a real redis-server). Each probe's answer is cached for 2 s, so a busy
 * load balancer does not turn into LiveKit and Redis traffic.
 */
import type { FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { type Standin, startLiveKitStandin } from './standin/index.js';
import { appFor } from './support/calls.js';
import { freePort } from './support/ports.js';

const redisUrl = () => {
  const url = process.env.REDIS_TEST_URL;
  if (!url) throw new Error('REDIS_TEST_URL is set by the global setup (redis-server)');
  return url;
};

describe('readiness', () => {
  let lk: Standin | undefined;
  let app: FastifyInstance | undefined;
  afterEach(async () => {
    await app?.close();
    await lk?.close();
    app = lk = undefined;
  });

  it('is ready when LiveKit and Redis answer, and caches the answer for 2 s', async () => {
    lk = await startLiveKitStandin();
    app = await appFor(lk, { REDIS_URL: redisUrl() });
    const first = await app.inject({ method: 'GET', url: '/readyz' });
    expect(first.statusCode).toBe(200);
    expect(first.json()).toEqual({ status: 'ready' });
    const listRooms = () => lk!.requests.filter((r) => r.method === 'ListRooms').length;
    const probes = listRooms();
    expect(probes).toBe(1);
    // LiveKit goes away: within the cache window the answer stands, without a new probe.
    await lk.close();
    lk = undefined;
    expect((await app.inject({ method: 'GET', url: '/readyz' })).statusCode).toBe(200);
  });

  it('is not ready while the configured Redis is down (Idempotency-Key requests would fail)', async () => {
    lk = await startLiveKitStandin();
    // Nothing listens on this port: the Redis of REDIS_URL is down.
    app = await appFor(lk, { REDIS_URL: `redis://127.0.0.1:${await freePort()}` });
    const res = await app.inject({ method: 'GET', url: '/readyz' });
    expect(res.statusCode).toBe(503);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(res.json()).toMatchObject({ code: 'PA_ERR_IDEMPOTENCY_UNAVAILABLE', status: 503 });
  });

  it('is not ready while LiveKit is unreachable, whatever Redis does', async () => {
    lk = await startLiveKitStandin();
    app = await appFor(lk, { REDIS_URL: redisUrl() });
    await lk.close();
    lk = undefined;
    const res = await app.inject({ method: 'GET', url: '/readyz' });
    expect(res.statusCode).toBe(503);
    expect(res.json()).toMatchObject({ code: 'PA_ERR_LIVEKIT_UNAVAILABLE' });
  });
});
