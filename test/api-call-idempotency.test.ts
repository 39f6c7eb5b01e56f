/**
 * POST /v1/calls with an Idempotency-Key dials exactly once even for 50 concurrent identical
 * requests (counted in the LiveKit stand-in's request log), in one process and across two API
 * instances sharing Redis. The stores and runOnce on their own: idempotency.test.ts.
 */
import type { FastifyInstance } from 'fastify';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { NUMBERS, type Standin, startLiveKitStandin } from './standin/index.js';
import { AUTH, appFor, createOutboundTrunk, dialCount, postCall } from './support/calls.js';
import { TEST_API_KEY } from './support/config.js';
import { proxyTo } from './support/tcp-proxy.js';

const redisUrl = () => {
  const url = process.env.REDIS_TEST_URL;
  if (!url) throw new Error('REDIS_TEST_URL is not set (test/support/global-setup.ts)');
  return url;
};
describe('POST /v1/calls with Idempotency-Key', () => {
  let lk: Standin;
  const apps: FastifyInstance[] = [];

  let trunkId = '';
  async function app(overrides: Record<string, string> = {}): Promise<FastifyInstance> {
    const a = await appFor(lk, { DEFAULT_OUTBOUND_TRUNK_ID: trunkId, ...overrides });
    apps.push(a);
    return a;
  }
  const dials = () => dialCount(lk);

  beforeAll(async () => {
    lk = await startLiveKitStandin({ answerDelayMs: 100 });
    trunkId = await createOutboundTrunk(lk);
  });
  afterEach(async () => {
    await Promise.all(apps.splice(0).map((a) => a.close()));
  });
  afterAll(() => lk.close());

  const body = { to: NUMBERS.answers, agent: { name: 'receptionist' }, metadata: { order: '42' } };
  /** The request headers carrying an idempotency key. */
  const withKey = (key: string) => ({ ...AUTH, 'idempotency-key': key });

  for (const storeKind of ['memory', 'redis'] as const) {
    it(`${storeKind}: 50 concurrent identical requests dial once and all get the same call`, async () => {
      const a = await app(storeKind === 'redis' ? { REDIS_URL: redisUrl() } : {});
      const before = dials();
      const key = `order-42-${storeKind}-${Date.now()}`;
      const responses = await Promise.all(
        Array.from({ length: 50 }, () => postCall(a, body, withKey(key))),
      );
      expect(dials() - before).toBe(1);
      const ids = new Set(responses.map((r) => r.json().id));
      expect(ids.size).toBe(1);
      expect(responses.every((r) => r.statusCode === 201)).toBe(true);
      expect(responses.filter((r) => r.headers['idempotent-replayed'] === 'true')).toHaveLength(49);

      // Later, with the same key: the first result again, still one dial.
      const later = await postCall(
        a,
        {
          metadata: { order: '42' },
          agent: { name: 'receptionist' },
          to: NUMBERS.answers,
        },
        withKey(key),
      );
      expect(later.statusCode).toBe(201);
      expect(later.json().id).toBe([...ids][0]);
      expect(dials() - before).toBe(1);

      // Same key, different body: 422, nothing dialed.
      const reused = await postCall(a, { ...body, to: NUMBERS.answers2 }, withKey(key));
      expect(reused.statusCode).toBe(422);
      expect(reused.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(reused.json()).toMatchObject({ code: 'PA_ERR_IDEMPOTENCY_KEY_REUSED', status: 422 });
      expect(dials() - before).toBe(1);
    });
  }

  it('redis: two API instances sharing Redis dial once for 50 concurrent duplicates', async () => {
    const [a, b] = [await app({ REDIS_URL: redisUrl() }), await app({ REDIS_URL: redisUrl() })];
    const before = dials();
    const key = `shared-${Date.now()}`;
    const responses = await Promise.all(
      Array.from({ length: 50 }, (_, i) => postCall(i % 2 ? a : b, body, withKey(key))),
    );
    expect(dials() - before).toBe(1);
    expect(new Set(responses.map((r) => r.json().id)).size).toBe(1);
  });

  it('replays a SIP failure instead of dialing again', async () => {
    const a = await app();
    const before = dials();
    const key = `busy-${Date.now()}`;
    const send = () =>
      postCall(a, { ...body, to: NUMBERS.busy, waitUntilAnswered: true }, withKey(key));
    const first = await send();
    const second = await send();
    expect(first.statusCode).toBe(409);
    expect(second.statusCode).toBe(409);
    expect(second.json()).toMatchObject({ code: 'PA_ERR_SIP_BUSY', sipStatusCode: 486 });
    expect(second.headers['idempotent-replayed']).toBe('true');
    expect(dials() - before).toBe(1);
  });

  it('scopes keys per API key and validates the header', async () => {
    const a = await app({ API_KEYS: `${TEST_API_KEY},second-key-0123456789` });
    const key = `scoped-${Date.now()}`;
    const one = await postCall(a, body, withKey(key));
    const two = await postCall(a, body, {
      authorization: 'Bearer second-key-0123456789',
      'idempotency-key': key,
    });
    expect(one.statusCode).toBe(201);
    expect(two.statusCode).toBe(201);
    expect(two.json().id).not.toBe(one.json().id);

    const bad = await postCall(a, body, withKey('x'.repeat(300)));
    expect(bad.statusCode).toBe(400);
    expect(bad.json()).toMatchObject({ code: 'PA_ERR_VALIDATION' });
    expect(bad.json().detail).toMatch(/idempotency-key/);
  });

  it('a retry after a 503 (LiveKit unreachable) dials: the 503 is not replayed, the success is', async () => {
    const proxy = await proxyTo(lk.url);
    try {
      const a = await appFor(lk, { LIVEKIT_URL: proxy.url(), DEFAULT_OUTBOUND_TRUNK_ID: trunkId });
      apps.push(a);
      const key = `retry-after-503-${Date.now()}`;
      const before = dials();
      await proxy.down();
      const first = await postCall(a, body, withKey(key));
      expect(first.statusCode, first.body).toBe(503);
      expect(first.json()).toMatchObject({ code: 'PA_ERR_LIVEKIT_UNAVAILABLE' });
      expect(dials() - before).toBe(0);

      await proxy.up();
      const retry = await postCall(a, body, withKey(key));
      expect(retry.statusCode, retry.body).toBe(201);
      expect(retry.headers['idempotent-replayed']).toBeUndefined();
      expect(dials() - before).toBe(1);

      const again = await postCall(a, body, withKey(key));
      expect(again.statusCode).toBe(201);
      expect(again.headers['idempotent-replayed']).toBe('true');
      expect(again.json().id).toBe(retry.json().id);
      expect(dials() - before).toBe(1);
    } finally {
      await proxy.down();
    }
  });

  it('answers 503 when Redis is unreachable, without dialing', async () => {
    const a = await app({ REDIS_URL: 'redis://127.0.0.1:1' });
    const before = dials();
    const res = await postCall(a, body, withKey(`down-${Date.now()}`));
    expect(res.statusCode).toBe(503);
    expect(res.json()).toMatchObject({ code: 'PA_ERR_IDEMPOTENCY_UNAVAILABLE' });
    expect(dials() - before).toBe(0);
  });
});
