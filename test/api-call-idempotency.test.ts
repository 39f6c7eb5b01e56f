/**
 * Idempotency keys: both stores (memory, real Redis) behave the same, and POST /v1/calls with
 * an Idempotency-Key dials exactly once even for 50 concurrent identical requests (counted in
 * the LiveKit stand-in's request log), in one process and across two API instances sharing Redis.
 */
import type { FastifyInstance } from 'fastify';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  type IdempotencyStore,
  MemoryIdempotencyStore,
  RedisIdempotencyStore,
  requestFingerprint,
  runOnce,
} from '../src/api/idempotency.js';
import { NUMBERS, type Standin, startLiveKitStandin } from './standin/index.js';
import { AUTH, appFor, createOutboundTrunk, dialCount, postCall } from './support/calls.js';
import { TEST_API_KEY } from './support/config.js';

const redisUrl = () => {
  const url = process.env.REDIS_TEST_URL;
  if (!url) throw new Error('REDIS_TEST_URL is not set (test/support/global-setup.ts)');
  return url;
};
let prefixSeq = 0;
const uniquePrefix = () => `test-${process.pid}-${Date.now()}-${prefixSeq++}:`;

const stores: Array<[string, () => IdempotencyStore]> = [
  ['memory', () => new MemoryIdempotencyStore()],
  ['redis', () => new RedisIdempotencyStore(redisUrl(), { prefix: uniquePrefix() })],
];

describe.each(stores)('%s idempotency store', (_name, make) => {
  let store: IdempotencyStore;
  beforeAll(() => {
    store = make();
  });
  afterAll(() => store.close());

  it('claims a key once, then replays the stored response', async () => {
    const first = await store.claim('k1', 'fp', 10_000);
    expect(first.state).toBe('claimed');
    expect(await store.claim('k1', 'fp', 10_000)).toEqual({ state: 'pending', fingerprint: 'fp' });
    if (first.state !== 'claimed') throw new Error('unreachable');
    await store.complete('k1', first.token, { status: 201, body: { id: 'x' } }, 10_000);
    expect(await store.claim('k1', 'fp', 10_000)).toEqual({
      state: 'done',
      fingerprint: 'fp',
      response: { status: 201, body: { id: 'x' } },
    });
  });

  it('lets a released key be claimed again, and ignores a stale token', async () => {
    const a = await store.claim('k2', 'fp', 10_000);
    if (a.state !== 'claimed') throw new Error('expected a claim');
    await store.release('k2', 'not-the-token');
    expect((await store.claim('k2', 'fp', 10_000)).state).toBe('pending');
    await store.release('k2', a.token);
    const b = await store.claim('k2', 'fp', 10_000);
    expect(b.state).toBe('claimed');
    // The first owner's late completion must not overwrite the new owner's claim.
    await store.complete('k2', a.token, { status: 201, body: 'late' }, 10_000);
    expect((await store.claim('k2', 'fp', 10_000)).state).toBe('pending');
  });

  it('frees an in-flight key when its lease runs out, and expires results after their TTL', async () => {
    expect((await store.claim('k3', 'fp', 50)).state).toBe('claimed');
    await new Promise((r) => setTimeout(r, 80));
    const again = await store.claim('k3', 'fp', 10_000);
    expect(again.state).toBe('claimed');
    if (again.state !== 'claimed') return;
    await store.complete('k3', again.token, { status: 201, body: 1 }, 500);
    expect((await store.claim('k3', 'fp', 10_000)).state).toBe('done');
    await new Promise((r) => setTimeout(r, 600));
    expect((await store.claim('k3', 'fp', 10_000)).state).toBe('claimed');
  });

  it('sets one-shot markers once', async () => {
    expect(await store.has('m1')).toBe(false);
    expect(await store.once('m1', 10_000)).toBe(true);
    expect(await store.once('m1', 10_000)).toBe(false);
    expect(await store.has('m1')).toBe(true);
  });

  it('runOnce: concurrent duplicates wait for the first result; another body is refused', async () => {
    let runs = 0;
    const opts = { key: 'k4', fingerprint: 'fp', leaseMs: 10_000, waitMs: 5000 };
    const work = async () => {
      runs++;
      await new Promise((r) => setTimeout(r, 100));
      return { value: runs, response: { status: 201, body: { n: runs } }, store: true };
    };
    const results = await Promise.all(Array.from({ length: 20 }, () => runOnce(store, opts, work)));
    expect(runs).toBe(1);
    expect(results.filter((r) => !r.replayed)).toHaveLength(1);
    for (const r of results) expect(r.response).toEqual({ status: 201, body: { n: 1 } });
    await expect(runOnce(store, { ...opts, fingerprint: 'other' }, work)).rejects.toMatchObject({
      code: 'PA_ERR_IDEMPOTENCY_KEY_REUSED',
      statusCode: 422,
    });
  });

  it('runOnce: a result marked not to be stored lets the next request run again', async () => {
    let runs = 0;
    const opts = { key: 'k5', fingerprint: 'fp', leaseMs: 10_000, waitMs: 5000 };
    const work = async () => {
      runs++;
      return { value: runs, response: { status: 503, body: {} }, store: runs > 1 };
    };
    await runOnce(store, opts, work);
    await runOnce(store, opts, work);
    const third = await runOnce(store, opts, work);
    expect(runs).toBe(2);
    expect(third.replayed).toBe(true);
  });

  it('runOnce: a duplicate gives up with 409 when the first request outlasts the wait', async () => {
    const opts = { key: 'k6', fingerprint: 'fp', leaseMs: 10_000, waitMs: 100 };
    let started!: () => void;
    const running = new Promise<void>((r) => {
      started = r;
    });
    let finish!: () => void;
    const slow = runOnce(store, opts, async () => {
      started();
      await new Promise<void>((r) => {
        finish = r;
      });
      return { value: 1, response: { status: 201, body: {} }, store: true };
    });
    await running;
    await expect(
      runOnce(store, opts, async () => {
        throw new Error('a duplicate must not run');
      }),
    ).rejects.toMatchObject({ code: 'PA_ERR_IDEMPOTENCY_IN_PROGRESS', statusCode: 409 });
    finish();
    await slow;
  });
});

describe('request fingerprints', () => {
  it('ignore key order and differ by body, method and route', () => {
    const a = requestFingerprint('POST', '/v1/calls', { to: '+1', agent: { name: 'a', x: 1 } });
    const b = requestFingerprint('POST', '/v1/calls', { agent: { x: 1, name: 'a' }, to: '+1' });
    expect(a).toBe(b);
    expect(
      requestFingerprint('POST', '/v1/calls', { to: '+2', agent: { name: 'a', x: 1 } }),
    ).not.toBe(a);
    expect(
      requestFingerprint('POST', '/v1/other', { to: '+1', agent: { name: 'a', x: 1 } }),
    ).not.toBe(a);
  });
});

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

  it('answers 503 when Redis is unreachable, without dialing', async () => {
    const a = await app({ REDIS_URL: 'redis://127.0.0.1:1' });
    const before = dials();
    const res = await postCall(a, body, withKey(`down-${Date.now()}`));
    expect(res.statusCode).toBe(503);
    expect(res.json()).toMatchObject({ code: 'PA_ERR_IDEMPOTENCY_UNAVAILABLE' });
    expect(dials() - before).toBe(0);
  });
});
