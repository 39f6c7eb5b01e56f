/**
 * GET /readyz: ready only when every dependency the routes need answers: LiveKit's API and the
 * idempotency store (a real redis-server). Each probe's answer is cached for 2 s, so a busy
 * load balancer does not turn into LiveKit and Redis traffic.
 */

import { spawn } from 'node:child_process';
import type { FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { RedisIdempotencyStore } from '../src/api/idempotency.js';
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

  it('is ready when LiveKit and Redis answer, caches the answer for 2 s, then asks again', async () => {
    lk = await startLiveKitStandin();
    app = await appFor(lk, { REDIS_URL: redisUrl() });
    const ready = () => app!.inject({ method: 'GET', url: '/readyz' });
    const first = await ready();
    expect(first.statusCode).toBe(200);
    expect(first.json()).toEqual({ status: 'ready' });
    const listRooms = () => lk!.requests.filter((r) => r.method === 'ListRooms').length;
    expect(listRooms()).toBe(1);
    // Within the window: the same answer, no new probe.
    expect((await ready()).statusCode).toBe(200);
    expect(listRooms()).toBe(1);

    // LiveKit goes away: within the cache window the answer stands, without a new probe.
    await lk.close();
    lk = undefined;
    expect((await ready()).statusCode).toBe(200);

    // Past the window the probes run again and see LiveKit gone.
    vi.useFakeTimers({ toFake: ['Date'] });
    try {
      vi.setSystemTime(Date.now() + 2100);
      const later = await ready();
      expect(later.statusCode).toBe(503);
      expect(later.json()).toMatchObject({ code: 'PA_ERR_LIVEKIT_UNAVAILABLE' });
    } finally {
      vi.useRealTimers();
    }
  });

  it('caches a failure too, and is ready again once the dependency is back', async () => {
    lk = await startLiveKitStandin();
    const port = await freePort();
    // Redis comes up on this port only after the first probe (a second server, our own).
    app = await appFor(lk, { REDIS_URL: `redis://127.0.0.1:${port}` });
    const ready = () => app!.inject({ method: 'GET', url: '/readyz' });
    expect((await ready()).statusCode).toBe(503);
    const redis = spawn(
      'redis-server',
      ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
      { stdio: 'ignore' },
    );
    try {
      const store = new RedisIdempotencyStore(`redis://127.0.0.1:${port}`);
      await until(async () =>
        store.ping().then(
          () => true,
          () => false,
        ),
      );
      await store.close();
      // Still within the window: the failure stands.
      expect((await ready()).statusCode).toBe(503);
      // Past the window it is probed again (the app's Redis client may still be reconnecting:
      // a few windows at most).
      vi.useFakeTimers({ toFake: ['Date'] });
      try {
        let status = 0;
        for (let i = 0; i < 40 && status !== 200; i++) {
          vi.setSystemTime(Date.now() + 2100);
          status = (await ready()).statusCode;
          if (status !== 200) await new Promise((r) => setTimeout(r, 100));
        }
        expect(status).toBe(200);
      } finally {
        vi.useRealTimers();
      }
    } finally {
      redis.kill('SIGTERM');
    }
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

async function until(ok: () => Promise<boolean>, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await ok())) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 50));
  }
}
