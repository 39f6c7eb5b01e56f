/**
 * Idempotency keys on their own (src/api/idempotency.ts): both stores, in memory and on a real
 * Redis (the suite's redis-server), behave the same; runOnce runs a request once per key, replays
 * its stored answer, refuses another body (422), waits for a duplicate in flight and gives up with
 * 409; what makes two requests "the same" (the fingerprint) and which keys are valid. The API
 * route on top of them: api-call-idempotency.test.ts.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  type ClaimResult,
  createIdempotencyStore,
  IDEMPOTENCY_KEY_PATTERN,
  type IdempotencyStore,
  MemoryIdempotencyStore,
  REDIS_COMMAND_TIMEOUT_MS,
  RedisIdempotencyStore,
  requestFingerprint,
  runOnce,
  type StoredResponse,
} from '../src/api/idempotency.js';
import { freePort } from './support/ports.js';

const redisUrl = () => {
  const url = process.env.REDIS_TEST_URL;
  if (!url) throw new Error('REDIS_TEST_URL is not set (test/support/global-setup.ts)');
  return url;
};
let prefixSeq = 0;
const uniquePrefix = () => `test-${process.pid}-${Date.now()}-${prefixSeq++}:`;
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

const stores: Array<[string, () => IdempotencyStore]> = [
  ['memory', () => new MemoryIdempotencyStore()],
  ['redis', () => new RedisIdempotencyStore(redisUrl(), { prefix: uniquePrefix() })],
];

describe.each(stores)('%s idempotency store', (_name, make) => {
  let store: IdempotencyStore;
  // A store per test (each on its own Redis prefix), made inside the test's hooks so mutation
  // testing can tell which tests use the store's code.
  beforeEach(() => {
    store = make();
  });
  afterEach(() => store.close());

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
    await store.complete('k3', again.token, { status: 201, body: 1 }, 150);
    expect((await store.claim('k3', 'fp', 10_000)).state).toBe('done');
    await new Promise((r) => setTimeout(r, 200));
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

describe.each(stores)('%s idempotency store, more cases', (_name, make) => {
  let store: IdempotencyStore;
  beforeEach(() => {
    store = make();
  });
  afterEach(() => store.close());

  it('keeps keys apart, and a claim tells who holds the key by its fingerprint', async () => {
    const a = await store.claim('ka', 'fp-a', 10_000);
    const b = await store.claim('kb', 'fp-b', 10_000);
    expect(a.state).toBe('claimed');
    expect(b.state).toBe('claimed');
    if (a.state !== 'claimed' || b.state !== 'claimed') return;
    expect(a.token).not.toBe(b.token);
    expect(await store.claim('ka', 'other', 10_000)).toEqual({
      state: 'pending',
      fingerprint: 'fp-a',
    });
    await store.complete('kb', b.token, { status: 409, body: { code: 'x' } }, 10_000);
    expect(await store.claim('kb', 'other', 10_000)).toEqual({
      state: 'done',
      fingerprint: 'fp-b',
      response: { status: 409, body: { code: 'x' } },
    });
    // Completing one key leaves the other in flight.
    expect((await store.claim('ka', 'fp-a', 10_000)).state).toBe('pending');
  });

  it('ignores a completion after the lease ran out (another request may own the key now)', async () => {
    const a = await store.claim('kl', 'fp', 40);
    if (a.state !== 'claimed') throw new Error('expected a claim');
    await sleep(80);
    await store.complete('kl', a.token, { status: 201, body: 'late' }, 10_000);
    expect((await store.claim('kl', 'fp', 10_000)).state).toBe('claimed');
  });

  it('releasing with a stale token leaves the stored answer alone', async () => {
    const a = await store.claim('kr', 'fp', 10_000);
    if (a.state !== 'claimed') throw new Error('expected a claim');
    await store.complete('kr', a.token, { status: 201, body: 1 }, 10_000);
    await store.release('kr', a.token);
    expect((await store.claim('kr', 'fp', 10_000)).state).toBe('done');
  });

  it('one-shot markers expire after their TTL, and are per key', async () => {
    expect(await store.once('m-ttl', 50)).toBe(true);
    expect(await store.once('m-other', 10_000)).toBe(true);
    expect(await store.has('m-ttl')).toBe(true);
    await sleep(90);
    expect(await store.has('m-ttl')).toBe(false);
    expect(await store.once('m-ttl', 10_000)).toBe(true);
    expect(await store.has('m-other')).toBe(true);
    expect(await store.has('m-never')).toBe(false);
  });

  it('values-read-back-per-key-and-a-new-value-replaces-the-old', async () => {
    expect(await store.getValue('v')).toBeUndefined();
    await store.setValue('v', 'checkpoint-1', 10_000);
    await store.setValue('w', 'other', 10_000);
    expect(await store.getValue('v')).toBe('checkpoint-1');
    await store.setValue('v', 'checkpoint-2', 10_000);
    expect(await store.getValue('v')).toBe('checkpoint-2');
    expect(await store.getValue('w')).toBe('other');
  });

  it('a-counter-counts-up-from-one-per-key-and-reads-back-as-a-value', async () => {
    expect(await store.increment('n', 10_000)).toBe(1);
    expect(await store.increment('n', 10_000)).toBe(2);
    expect(await store.increment('n', 10_000)).toBe(3);
    expect(await store.increment('n-other', 10_000)).toBe(1);
    expect(await store.getValue('n')).toBe('3');
  });

  it('answers a readiness ping', async () => {
    await expect(store.ping()).resolves.toBeUndefined();
  });

  it('waitForChange returns at once for a key nobody holds, and waits at most maxWaitMs', async () => {
    const t0 = performance.now();
    await store.waitForChange('nobody', 5000, 0);
    expect(performance.now() - t0).toBeLessThan(1000);
    const c = await store.claim('kw', 'fp', 10_000);
    expect(c.state).toBe('claimed');
    const t1 = performance.now();
    await store.waitForChange('kw', 30, 0);
    const waited = performance.now() - t1;
    expect(waited).toBeGreaterThanOrEqual(5);
    expect(waited).toBeLessThan(1000);
  });
});

describe('memory store', () => {
  let store: MemoryIdempotencyStore;
  beforeEach(() => {
    store = new MemoryIdempotencyStore();
  });
  afterEach(() => store.close());

  it('wakes a waiting duplicate as soon as the first request completes, not at its deadline', async () => {
    const c = await store.claim('k', 'fp', 10_000);
    if (c.state !== 'claimed') throw new Error('expected a claim');
    const woke = store.waitForChange('k', 10_000).then(() => 'woke' as const);
    await sleep(10);
    await store.complete('k', c.token, { status: 201, body: {} }, 10_000);
    expect(await Promise.race([woke, sleep(2000).then(() => 'deadline' as const)])).toBe('woke');
    // Already done: returns at once.
    await store.waitForChange('k', 10_000);
  });

  it('wakes waiting duplicates when the first request releases the key, and on close', async () => {
    const c = await store.claim('k2', 'fp', 10_000);
    if (c.state !== 'claimed') throw new Error('expected a claim');
    const a = store.waitForChange('k2', 10_000).then(() => 'woke' as const);
    const b = store.waitForChange('k2', 10_000).then(() => 'woke' as const);
    await store.release('k2', c.token);
    const deadline = sleep(2000).then(() => 'deadline' as const);
    expect(await Promise.race([a, deadline])).toBe('woke');
    expect(await Promise.race([b, deadline])).toBe('woke');

    const d = await store.claim('k3', 'fp', 10_000);
    expect(d.state).toBe('claimed');
    const c2 = store.waitForChange('k3', 10_000).then(() => 'woke' as const);
    await store.close();
    expect(await Promise.race([c2, sleep(2000).then(() => 'deadline' as const)])).toBe('woke');
  });

  it('drops expired entries and markers in its minutely sweep', async () => {
    vi.useFakeTimers({ toFake: ['Date', 'setInterval', 'clearInterval'] });
    try {
      const swept = new MemoryIdempotencyStore();
      await swept.claim('old', 'fp', 1000);
      await swept.once('m', 1000);
      await swept.claim('young', 'fp', 120_000);
      const sizes = () => {
        const internal = swept as unknown as {
          entries: Map<string, unknown>;
          markers: Map<string, unknown>;
        };
        return [internal.entries.size, internal.markers.size];
      };
      expect(sizes()).toEqual([2, 1]);
      vi.advanceTimersByTime(59_000);
      expect(sizes()).toEqual([2, 1]);
      vi.advanceTimersByTime(1_000);
      expect(sizes()).toEqual([1, 0]);
      await swept.close();
      vi.advanceTimersByTime(600_000);
      expect(sizes()).toEqual([1, 0]);
    } finally {
      vi.useRealTimers();
    }
  });
});

/** Expiry boundaries of the memory store, on a clock of the test's own (Date only). */
describe('memory store on a controlled clock', () => {
  const T0 = new Date('2026-01-01T00:00:00Z').getTime();
  const at = (ms: number) => vi.setSystemTime(T0 + ms);
  let store: MemoryIdempotencyStore;
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['Date'] });
    at(0);
    store = new MemoryIdempotencyStore();
  });
  afterEach(async () => {
    await store.close();
    vi.useRealTimers();
  });

  it('a-claim-is-free-again-exactly-when-its-lease-ends', async () => {
    expect((await store.claim('k', 'fp', 1000)).state).toBe('claimed');
    at(999);
    expect((await store.claim('k', 'fp', 1000)).state).toBe('pending');
    at(1000);
    expect((await store.claim('k', 'fp', 1000)).state).toBe('claimed');
  });

  it('a-one-shot-marker-is-gone-exactly-at-its-ttl', async () => {
    expect(await store.once('m', 1000)).toBe(true);
    at(999);
    expect(await store.has('m')).toBe(true);
    expect(await store.once('m', 1000)).toBe(false);
    at(1000);
    expect(await store.has('m')).toBe(false);
    expect(await store.once('m', 1000)).toBe(true);
    expect(await store.has('m')).toBe(true);
  });

  it('a-value-is-gone-exactly-at-its-ttl', async () => {
    await store.setValue('v', 'x', 1000);
    at(999);
    expect(await store.getValue('v')).toBe('x');
    at(1000);
    expect(await store.getValue('v')).toBeUndefined();
  });

  it('a-counter-lives-ttl-from-its-first-increment-not-from-its-last', async () => {
    expect(await store.increment('n', 1000)).toBe(1);
    at(500);
    expect(await store.increment('n', 1000)).toBe(2);
    at(999);
    expect(await store.increment('n', 1000)).toBe(3);
    // created at 0 with 1000 ms to live: gone at 1000, however recent the last increment
    at(1000);
    expect(await store.getValue('n')).toBeUndefined();
    expect(await store.increment('n', 1000)).toBe(1);
    at(1999);
    expect(await store.increment('n', 1000)).toBe(2);
    at(2000);
    expect(await store.increment('n', 1000)).toBe(1);
  });

  it('the-sweep-drops-exactly-what-has-expired-at-its-time-and-keeps-the-rest', async () => {
    vi.useRealTimers(); // again, with the sweep's interval on the fake clock too
    vi.useFakeTimers({ toFake: ['Date', 'setInterval', 'clearInterval'] });
    at(0);
    const swept = new MemoryIdempotencyStore();
    try {
      // "due" expires exactly when the first sweep runs (60 s), "young" after it.
      await swept.claim('due', 'fp', 60_000);
      await swept.claim('young', 'fp', 120_000);
      await swept.once('m-due', 60_000);
      await swept.once('m-young', 120_000);
      await swept.setValue('v-due', 'x', 60_000);
      await swept.setValue('v-young', 'y', 120_000);
      const keys = () => {
        const internal = swept as unknown as Record<
          'entries' | 'markers' | 'values',
          Map<string, unknown>
        >;
        return [internal.entries, internal.markers, internal.values].map((m) => [...m.keys()]);
      };
      vi.advanceTimersByTime(59_999);
      expect(keys()).toEqual([
        ['due', 'young'],
        ['m-due', 'm-young'],
        ['v-due', 'v-young'],
      ]);
      vi.advanceTimersByTime(1);
      expect(keys()).toEqual([['young'], ['m-young'], ['v-young']]);
    } finally {
      await swept.close();
    }
  });
});

describe('Redis store', () => {
  it('keeps its keys under a prefix, "pa:" by default', async () => {
    const raw = new Redis(redisUrl());
    const key = `prefix-${Date.now()}`;
    const plain = new RedisIdempotencyStore(redisUrl());
    const own = new RedisIdempotencyStore(redisUrl(), { prefix: 'acme:' });
    try {
      await plain.claim(key, 'fp', 10_000);
      await plain.once(key, 10_000);
      await own.claim(key, 'fp', 10_000);
      expect(await raw.exists(`pa:idem:${key}`, `pa:once:${key}`, `acme:idem:${key}`)).toBe(3);
      expect(await raw.pttl(`pa:idem:${key}`)).toBeGreaterThan(9000);
      // Two prefixes never see each other's keys.
      expect((await own.claim(`x-${key}`, 'fp', 10_000)).state).toBe('claimed');
      expect(await own.has(key)).toBe(false);
    } finally {
      await raw.del(`pa:idem:${key}`, `pa:once:${key}`, `acme:idem:${key}`, `acme:idem:x-${key}`);
      await raw.quit();
      await plain.close();
      await own.close();
    }
  });

  it('stores a completed answer for its TTL (24 h through runOnce), replacing the lease', async () => {
    const raw = new Redis(redisUrl());
    const prefix = uniquePrefix();
    const store = new RedisIdempotencyStore(redisUrl(), { prefix });
    try {
      await runOnce(
        store,
        { key: 'k', fingerprint: 'fp', leaseMs: 5000, waitMs: 1000 },
        async () => ({
          value: 1,
          response: { status: 201, body: { id: 'c' } },
          store: true,
        }),
      );
      const ttl = await raw.pttl(`${prefix}idem:k`);
      expect(ttl).toBeGreaterThan(24 * 3600 * 1000 - 60_000);
      expect(ttl).toBeLessThanOrEqual(24 * 3600 * 1000);
      expect(JSON.parse((await raw.get(`${prefix}idem:k`))!)).toEqual({
        s: 'd',
        f: 'fp',
        r: { status: 201, body: { id: 'c' } },
      });
    } finally {
      await raw.quit();
      await store.close();
    }
  });

  it('does not overwrite a key another request took over between its read and its write', async () => {
    const raw = new Redis(redisUrl());
    const prefix = uniquePrefix();
    const store = new RedisIdempotencyStore(redisUrl(), { prefix });
    try {
      const c = await store.claim('k', 'fp', 10_000);
      if (c.state !== 'claimed') throw new Error('expected a claim');
      // The value changes under the store's feet (e.g. the lease ran out and someone re-claimed)
      // after complete() read it: the compare-and-set must leave the newer value.
      const get = raw.get.bind(raw);
      const other = JSON.stringify({ s: 'p', f: 'fp', t: 'someone-else' });
      const internal = store as unknown as { redis: Redis };
      const realGet = internal.redis.get.bind(internal.redis);
      const spy = vi.spyOn(internal.redis, 'get').mockImplementation(async (k: unknown) => {
        const v = await realGet(k as string);
        await raw.set(`${prefix}idem:k`, other, 'PX', 10_000);
        return v;
      });
      await store.complete('k', c.token, { status: 201, body: 1 }, 10_000);
      expect(await get(`${prefix}idem:k`)).toBe(other);
      await store.release('k', c.token);
      expect(await get(`${prefix}idem:k`)).toBe(other);
      spy.mockRestore();
    } finally {
      await raw.quit();
      await store.close();
    }
  });

  it('polls while a duplicate waits: 10 ms at first, doubling per attempt, at most 250 ms', async () => {
    const store = new RedisIdempotencyStore(redisUrl(), { prefix: uniquePrefix() });
    try {
      const time = async (maxWaitMs: number, attempt: number) => {
        const t0 = performance.now();
        await store.waitForChange('k', maxWaitMs, attempt);
        return performance.now() - t0;
      };
      expect(await time(10_000, 0)).toBeGreaterThanOrEqual(8);
      expect(await time(10_000, 3)).toBeGreaterThanOrEqual(75);
      expect(await time(10_000, 30)).toBeGreaterThanOrEqual(245);
      expect(await time(10_000, 30)).toBeLessThan(2000);
      // Never past what is left of the duplicate's wait.
      expect(await time(20, 30)).toBeLessThan(200);
      expect(await time(10_000, 0)).toBeLessThan(200);
    } finally {
      await store.close();
    }
  });

  it('reports a Redis that is down as PA_ERR_IDEMPOTENCY_UNAVAILABLE (503) on every operation', async () => {
    const down = `redis://127.0.0.1:${await freePort()}`;
    const unavailable = { code: 'PA_ERR_IDEMPOTENCY_UNAVAILABLE', statusCode: 503 };
    const ops: Array<(s: RedisIdempotencyStore) => Promise<unknown>> = [
      (s) => s.claim('k', 'fp', 1000),
      (s) => s.complete('k', 't', { status: 201, body: 1 }, 1000),
      (s) => s.release('k', 't'),
      (s) => s.once('k', 1000),
      (s) => s.has('k'),
      (s) => s.ping(),
    ];
    await Promise.all(
      ops.map(async (op) => {
        const store = new RedisIdempotencyStore(down);
        try {
          await expect(op(store)).rejects.toMatchObject(unavailable);
        } finally {
          await store.close();
        }
      }),
    );
  });

  it('answers fast however long Redis has been down (each command bounded)', async () => {
    const store = new RedisIdempotencyStore(`redis://127.0.0.1:${await freePort()}`);
    // The reconnect delay grows to 2 s: without a bound on each command, a request waited up to
    // ~10 s for its 503 after a few seconds of outage.
    try {
      for (let i = 0; i < 4; i++) {
        const t0 = performance.now();
        await expect(store.ping()).rejects.toMatchObject({ statusCode: 503 });
        expect(performance.now() - t0).toBeLessThan(REDIS_COMMAND_TIMEOUT_MS + 1500);
      }
    } finally {
      await store.close();
    }
  });
});

/** A redis-server of the test's own, for a test that stops it answering (CLIENT PAUSE). */
async function ownRedisServer(): Promise<{ url: string; stop: () => void }> {
  const port = await freePort();
  const proc = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    { stdio: ['ignore', 'pipe', 'ignore'] },
  );
  let out = '';
  await new Promise<void>((resolve, reject) => {
    proc.once('error', reject);
    proc.once('exit', (code) => reject(new Error(`redis-server exited (${code})`)));
    proc.stdout?.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      if (out.includes('Ready to accept connections')) resolve();
    });
  });
  return { url: `redis://127.0.0.1:${port}`, stop: () => proc.kill('SIGKILL') };
}

describe('Redis store, values and the connection', () => {
  it('values-and-counters-live-under-prefix-kv-with-their-ttl', async () => {
    const raw = new Redis(redisUrl());
    const prefix = uniquePrefix();
    const store = new RedisIdempotencyStore(redisUrl(), { prefix });
    try {
      await store.setValue('v', 'checkpoint', 10_000);
      expect(await raw.get(`${prefix}kv:v`)).toBe('checkpoint');
      expect(await raw.pttl(`${prefix}kv:v`)).toBeGreaterThan(9000);
      await raw.set(`${prefix}kv:w`, 'written-elsewhere');
      expect(await store.getValue('w')).toBe('written-elsewhere');
      expect(await store.increment('n', 10_000)).toBe(1);
      expect(await store.increment('n', 10_000)).toBe(2);
      expect(await raw.get(`${prefix}kv:n`)).toBe('2');
      const ttl = await raw.pttl(`${prefix}kv:n`);
      expect(ttl).toBeGreaterThan(9000);
      expect(ttl).toBeLessThanOrEqual(10_000);
    } finally {
      await raw.del(`${prefix}kv:v`, `${prefix}kv:w`, `${prefix}kv:n`);
      await raw.quit();
      await store.close();
    }
  });

  it('a-closed-store-answers-503-and-does-not-reconnect', async () => {
    const store = new RedisIdempotencyStore(redisUrl(), { prefix: uniquePrefix() });
    await store.ping();
    await store.close();
    await expect(store.ping()).rejects.toMatchObject({
      code: 'PA_ERR_IDEMPOTENCY_UNAVAILABLE',
      statusCode: 503,
    });
  });

  it('closing-while-redis-does-not-answer-drops-the-connection-instead-of-waiting-for-it', async () => {
    const server = await ownRedisServer();
    const admin = new Redis(server.url);
    const store = new RedisIdempotencyStore(server.url);
    const client = (store as unknown as { redis: Redis }).redis;
    try {
      await store.ping();
      // Redis stops answering (every client paused for a minute): QUIT gets no reply, times out.
      await admin.client('PAUSE', 60_000, 'ALL');
      await store.close();
      await vi.waitFor(() => expect(client.status).toBe('end'), { timeout: 5000, interval: 10 });
    } finally {
      client.disconnect();
      admin.disconnect();
      server.stop();
    }
  });

  it('a-redis-that-is-down-leaves-the-console-alone-its-errors-surface-on-the-commands', async () => {
    const logged = vi.spyOn(console, 'error').mockImplementation(() => {});
    const store = new RedisIdempotencyStore(`redis://127.0.0.1:${await freePort()}`);
    try {
      // The command failed, so the connection did (ioredis emits its errors first).
      await expect(store.ping()).rejects.toMatchObject({ statusCode: 503 });
      expect(logged).not.toHaveBeenCalled();
    } finally {
      logged.mockRestore();
      await store.close();
    }
  });
});

describe('choosing the store', () => {
  it('Redis when REDIS_URL is set, in memory otherwise', async () => {
    const r = createIdempotencyStore({ REDIS_URL: redisUrl() });
    const m = createIdempotencyStore({});
    expect(r).toBeInstanceOf(RedisIdempotencyStore);
    expect(m).toBeInstanceOf(MemoryIdempotencyStore);
    await r.close();
    await m.close();
  });
});

/** A memory store that records what runOnce asks of it. */
class RecordingStore extends MemoryIdempotencyStore {
  readonly log: string[] = [];
  failRelease = false;
  override async claim(key: string, fp: string, leaseMs: number): Promise<ClaimResult> {
    const r = await super.claim(key, fp, leaseMs);
    this.log.push(`claim ${key} ${leaseMs} → ${r.state}`);
    return r;
  }
  override async complete(key: string, token: string, response: StoredResponse, ttlMs: number) {
    this.log.push(`complete ${key} ${response.status} ttl=${ttlMs}`);
    return super.complete(key, token, response, ttlMs);
  }
  override async release(key: string, token: string) {
    this.log.push(`release ${key}`);
    if (this.failRelease) throw new Error('release failed');
    return super.release(key, token);
  }
  override waitForChange(key: string, maxWaitMs: number, attempt = -1): Promise<void> {
    this.log.push(`wait ${key} attempt=${attempt} max<=${maxWaitMs <= 200 ? 200 : 'more'}`);
    return super.waitForChange(key, maxWaitMs);
  }
}

describe('runOnce', () => {
  const opts = { key: 'r', fingerprint: 'fp', leaseMs: 5000, waitMs: 200 };

  it('runs the first request, stores its answer for 24 h, and returns its value', async () => {
    const store = new RecordingStore();
    const out = await runOnce(store, opts, async () => ({
      value: 'v',
      response: { status: 201, body: { id: 1 } },
      store: true,
    }));
    expect(out).toEqual({
      response: { status: 201, body: { id: 1 } },
      value: 'v',
      replayed: false,
    });
    expect(store.log).toEqual(['claim r 5000 → claimed', 'complete r 201 ttl=86400000']);
    const again = await runOnce(store, opts, async () => {
      throw new Error('must not run');
    });
    expect(again).toEqual({ response: { status: 201, body: { id: 1 } }, replayed: true });
    await store.close();
  });

  it('releases the key when the request throws, and rethrows its error (even if releasing fails)', async () => {
    const store = new RecordingStore();
    const boom = new Error('boom');
    await expect(
      runOnce(store, opts, async () => {
        throw boom;
      }),
    ).rejects.toBe(boom);
    expect(store.log).toEqual(['claim r 5000 → claimed', 'release r']);
    expect((await store.claim('r', 'fp', 5000)).state).toBe('claimed');

    const failing = new RecordingStore();
    failing.failRelease = true;
    await expect(
      runOnce(failing, opts, async () => {
        throw boom;
      }),
    ).rejects.toBe(boom);
    await store.close();
    await failing.close();
  });

  it('releases the key for an answer not to be stored, and returns it once', async () => {
    const store = new RecordingStore();
    const out = await runOnce(store, opts, async () => ({
      value: 'e',
      response: { status: 503, body: {} },
      store: false,
    }));
    expect(out).toEqual({ response: { status: 503, body: {} }, value: 'e', replayed: false });
    expect(store.log).toEqual(['claim r 5000 → claimed', 'release r']);
    await store.close();
  });

  it('refuses another body under the same key, in flight or done (422)', async () => {
    const store = new RecordingStore();
    await store.claim('r', 'fp', 5000);
    await expect(
      runOnce(store, { ...opts, fingerprint: 'other' }, async () => {
        throw new Error('must not run');
      }),
    ).rejects.toMatchObject({ code: 'PA_ERR_IDEMPOTENCY_KEY_REUSED', statusCode: 422 });
    // No waiting for a request with another body.
    expect(store.log.some((l) => l.startsWith('wait'))).toBe(false);
    await store.close();
  });

  it('a duplicate waits with growing attempts, within what is left of its wait, then gives up (409)', async () => {
    const store = new RecordingStore();
    await store.claim('r', 'fp', 5000);
    // Waits end early (the memory store wakes on any change): wake it a few times.
    const poke = setInterval(() => {
      (store as unknown as { notify(k: string): void }).notify('r');
    }, 30);
    try {
      await expect(
        runOnce(store, opts, async () => {
          throw new Error('must not run');
        }),
      ).rejects.toMatchObject({ code: 'PA_ERR_IDEMPOTENCY_IN_PROGRESS', statusCode: 409 });
    } finally {
      clearInterval(poke);
    }
    const waits = store.log.filter((l) => l.startsWith('wait'));
    expect(waits.length).toBeGreaterThanOrEqual(2);
    expect(waits).toEqual(waits.map((_, i) => `wait r attempt=${i} max<=200`));
    await store.close();
  });

  it('a duplicate that waits for a completed first request replays it', async () => {
    const store = new MemoryIdempotencyStore();
    const first = await store.claim('r', 'fp', 5000);
    if (first.state !== 'claimed') throw new Error('expected a claim');
    setTimeout(() => void store.complete('r', first.token, { status: 201, body: 'ok' }, 5000), 20);
    const out = await runOnce(store, { ...opts, waitMs: 5000 }, async () => {
      throw new Error('must not run');
    });
    expect(out).toEqual({ response: { status: 201, body: 'ok' }, replayed: true });
    await store.close();
  });
});

/** A memory store on a fake clock where nothing changes while a duplicate waits: each wait lasts. */
class StandStillStore extends MemoryIdempotencyStore {
  readonly waits: number[] = [];
  override async waitForChange(_key: string, maxWaitMs: number): Promise<void> {
    this.waits.push(maxWaitMs);
    // The whole wait passes (a timer takes at least a millisecond).
    vi.setSystemTime(Date.now() + Math.max(1, maxWaitMs));
  }
}

describe('runOnce on a controlled clock', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('a-duplicate-whose-wait-runs-out-exactly-gives-up-without-another-wait', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    const store = new StandStillStore();
    await store.claim('r', 'fp', 60_000); // the first request, still running
    await expect(
      runOnce(store, { key: 'r', fingerprint: 'fp', leaseMs: 5000, waitMs: 100 }, async () => {
        throw new Error('must not run');
      }),
    ).rejects.toMatchObject({ code: 'PA_ERR_IDEMPOTENCY_IN_PROGRESS', statusCode: 409 });
    // 100 ms waited, 0 left: no wait of 0 ms, no further claim.
    expect(store.waits).toEqual([100]);
    await store.close();
  });
});

describe('what makes two requests the same, and which keys are valid', () => {
  const fp = (body: unknown, method = 'POST', route = '/v1/calls') =>
    requestFingerprint(method, route, body);

  it('ignores fields left undefined, but not null, and keeps array order', () => {
    expect(fp({ a: 1, b: undefined })).toBe(fp({ a: 1 }));
    expect(fp({ a: 1, b: null })).not.toBe(fp({ a: 1 }));
    expect(fp({ list: [1, 2] })).not.toBe(fp({ list: [2, 1] }));
    expect(fp({ list: [{ x: 1, y: 2 }] })).toBe(fp({ list: [{ y: 2, x: 1 }] }));
    expect(fp({ a: '1' })).not.toBe(fp({ a: 1 }));
    expect(fp({ a: { b: 1 } })).not.toBe(fp({ a: { b: 2 } }));
    expect(fp({ 'a:1': 1 })).not.toBe(fp({ a: '1:1' }));
    expect(fp(undefined)).toBe(fp(null));
    expect(fp('x')).not.toBe(fp('y'));
    expect(fp({ a: 1 }, 'PUT')).not.toBe(fp({ a: 1 }));
    expect(fp({})).toMatch(/^[A-Za-z0-9_-]{43}$/);
  });

  it('the-fingerprint-is-the-sha256-of-canonical-json-so-replicas-of-any-version-agree', () => {
    // Stored with the answer for 24 h: a rolling deploy that hashed bodies differently would
    // refuse every retry it had not seen (422). Keys sorted, undefined fields left out.
    const canonical = '{"agent":{"name":"a","x":1},"tags":["a",2,null,{"k":true}],"to":"+1"}';
    const expected = createHash('sha256')
      .update(`POST /v1/calls\n${canonical}`)
      .digest('base64url');
    expect(
      fp({
        to: '+1',
        tags: ['a', 2, null, { k: true }],
        skip: undefined,
        agent: { x: 1, name: 'a' },
      }),
    ).toBe(expected);
    expect(fp({})).toBe(createHash('sha256').update('POST /v1/calls\n{}').digest('base64url'));
  });

  it('array-items-stay-apart', () => {
    expect(fp({ list: [1, 23] })).not.toBe(fp({ list: [12, 3] }));
    expect(fp(['ab', 'c'])).not.toBe(fp(['a', 'bc']));
  });

  it('accepts 1 to 255 printable ASCII characters as a key', () => {
    const ok = ['a', '!', '~', 'order-42/retry_1', 'x'.repeat(255)];
    const bad = ['', ' ', 'a b', 'x'.repeat(256), 'é', 'tab\\t'.replace('\\t', '\t'), '\x7f'];
    for (const k of ok) expect(IDEMPOTENCY_KEY_PATTERN.test(k), k).toBe(true);
    for (const k of bad) expect(IDEMPOTENCY_KEY_PATTERN.test(k), JSON.stringify(k)).toBe(false);
  });
});
