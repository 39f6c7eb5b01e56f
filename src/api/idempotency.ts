/**
 * Idempotency keys (`Idempotency-Key` header): the first request with a key runs, its response
 * is stored for 24 h and replayed to every later request with the same key and the same body;
 * the same key with another body is refused (422). Concurrent duplicates wait for the first
 * result instead of running again, so a call is never dialed twice.
 *
 * One interface, two stores: in memory (one process) and Redis (shared by every API instance,
 * used when REDIS_URL is set). A claim is atomic (`SET NX PX` in Redis) and first writes an
 * in-flight marker with a lease; the lease bounds how long a crashed request can hold a key.
 * The stores also offer `once(key)`, a one-shot marker used to deduplicate call events, and a
 * small key-value space with expiry (`setValue`/`getValue`/`increment`) for the calls' checkpoints
 * and recovery attempts (src/api/agent-recovery.ts): in Redis, every API replica sees them.
 */
import { createHash, randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import {
  IdempotencyInProgressError,
  IdempotencyKeyReusedError,
  IdempotencyUnavailableError,
} from '../core/errors.js';

/** A response as replayed to duplicates. */
export interface StoredResponse {
  status: number;
  body: unknown;
}

export type ClaimResult =
  | { state: 'claimed'; token: string }
  | { state: 'pending'; fingerprint: string }
  | { state: 'done'; fingerprint: string; response: StoredResponse };

export interface IdempotencyStore {
  /** Atomically takes the key (in-flight for `leaseMs`) or reports what holds it. */
  claim(key: string, fingerprint: string, leaseMs: number): Promise<ClaimResult>;
  /** Stores the response for `ttlMs` if the claim identified by `token` still holds. */
  complete(key: string, token: string, response: StoredResponse, ttlMs: number): Promise<void>;
  /** Gives the key up (the request failed in a way a retry may fix). */
  release(key: string, token: string): Promise<void>;
  /**
   * Resolves when the key may have changed, at the latest after `maxWaitMs`; `attempt` counts
   * the waits of one request (a polling store backs off with it).
   */
  waitForChange(key: string, maxWaitMs: number, attempt: number): Promise<void>;
  /** True the first time a marker is set within `ttlMs`, false afterwards. */
  once(key: string, ttlMs: number): Promise<boolean>;
  /** Whether a `once` marker is set. */
  has(key: string): Promise<boolean>;
  /** Stores a value for `ttlMs` (replacing any). */
  setValue(key: string, value: string, ttlMs: number): Promise<void>;
  /** A stored value, or undefined (never set, or expired). */
  getValue(key: string): Promise<string | undefined>;
  /** Adds one to a counter (created at 0, living `ttlMs` from its creation); returns the new count. */
  increment(key: string, ttlMs: number): Promise<number>;
  /** Resolves when the store can serve requests now (readiness); rejects otherwise. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

const IDEMPOTENCY_TTL_MS = 24 * 60 * 60 * 1000;

/** Header values: printable ASCII, as in the IETF Idempotency-Key draft and Stripe. */
export const IDEMPOTENCY_KEY_PATTERN = /^[\x21-\x7e]{1,255}$/;

/** JSON with object keys sorted at every level, so key order does not change the hash. */
function canonical(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  const obj = value as Record<string, unknown>;
  const parts: string[] = [];
  for (const k of Object.keys(obj).sort()) {
    if (obj[k] !== undefined) parts.push(`${JSON.stringify(k)}:${canonical(obj[k])}`);
  }
  return `{${parts.join(',')}}`;
}

/** Hash of what makes two requests "the same": method, route and canonical body. */
export function requestFingerprint(method: string, route: string, body: unknown): string {
  return createHash('sha256')
    .update(`${method} ${route}\n${canonical(body)}`)
    .digest('base64url');
}

// ── memory ──────────────────────────────────────────────────────────────────────────────────

interface MemoryEntry {
  fingerprint: string;
  token?: string;
  response?: StoredResponse;
  expiresAt: number;
}

const SWEEP_INTERVAL_MS = 60_000;

export class MemoryIdempotencyStore implements IdempotencyStore {
  private readonly entries = new Map<string, MemoryEntry>();
  private readonly markers = new Map<string, number>();
  private readonly values = new Map<string, { value: string; expiresAt: number }>();
  private readonly waiters = new Map<string, Set<() => void>>();
  private readonly sweeper: NodeJS.Timeout;

  constructor() {
    // Expired entries are also ignored on read; the sweep only bounds memory.
    this.sweeper = setInterval(() => this.sweep(), SWEEP_INTERVAL_MS);
    this.sweeper.unref();
  }

  private live(key: string): MemoryEntry | undefined {
    const e = this.entries.get(key);
    if (e && e.expiresAt <= Date.now()) {
      this.entries.delete(key);
      return undefined;
    }
    return e;
  }

  private notify(key: string): void {
    const set = this.waiters.get(key);
    if (!set) return;
    this.waiters.delete(key);
    for (const wake of set) wake();
  }

  private sweep(): void {
    const now = Date.now();
    for (const [k, e] of this.entries) if (e.expiresAt <= now) this.entries.delete(k);
    for (const [k, exp] of this.markers) if (exp <= now) this.markers.delete(k);
    for (const [k, v] of this.values) if (v.expiresAt <= now) this.values.delete(k);
  }

  async claim(key: string, fingerprint: string, leaseMs: number): Promise<ClaimResult> {
    const e = this.live(key);
    if (!e) {
      const token = randomUUID();
      this.entries.set(key, { fingerprint, token, expiresAt: Date.now() + leaseMs });
      return { state: 'claimed', token };
    }
    return e.response
      ? { state: 'done', fingerprint: e.fingerprint, response: e.response }
      : { state: 'pending', fingerprint: e.fingerprint };
  }

  async complete(key: string, token: string, response: StoredResponse, ttlMs: number) {
    const e = this.live(key);
    if (e?.token !== token) return;
    this.entries.set(key, { fingerprint: e.fingerprint, response, expiresAt: Date.now() + ttlMs });
    this.notify(key);
  }

  async release(key: string, token: string) {
    if (this.live(key)?.token === token) this.entries.delete(key);
    this.notify(key);
  }

  waitForChange(key: string, maxWaitMs: number): Promise<void> {
    // The first request may have finished between our claim and this call.
    const e = this.live(key);
    if (!e || e.response) return Promise.resolve();
    return new Promise((resolve) => {
      let set = this.waiters.get(key);
      if (!set) {
        set = new Set();
        this.waiters.set(key, set);
      }
      const wake = () => {
        clearTimeout(timer);
        set.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, maxWaitMs);
      set.add(wake);
    });
  }

  async once(key: string, ttlMs: number): Promise<boolean> {
    const now = Date.now();
    const exp = this.markers.get(key);
    if (exp !== undefined && exp > now) return false;
    this.markers.set(key, now + ttlMs);
    return true;
  }

  async has(key: string): Promise<boolean> {
    const exp = this.markers.get(key);
    return exp !== undefined && exp > Date.now();
  }

  async setValue(key: string, value: string, ttlMs: number): Promise<void> {
    this.values.set(key, { value, expiresAt: Date.now() + ttlMs });
  }

  async getValue(key: string): Promise<string | undefined> {
    const v = this.values.get(key);
    if (!v || v.expiresAt <= Date.now()) return undefined;
    return v.value;
  }

  async increment(key: string, ttlMs: number): Promise<number> {
    const v = this.values.get(key);
    const live = v && v.expiresAt > Date.now() ? v : undefined;
    const count = Number(live?.value ?? 0) + 1;
    this.values.set(key, {
      value: String(count),
      expiresAt: live?.expiresAt ?? Date.now() + ttlMs,
    });
    return count;
  }

  async ping(): Promise<void> {}

  async close(): Promise<void> {
    clearInterval(this.sweeper);
    for (const key of [...this.waiters.keys()]) this.notify(key);
  }
}

// ── Redis ───────────────────────────────────────────────────────────────────────────────────

/** Replace / delete only while the value is still our own in-flight marker. */
const COMPARE_AND_SET = `if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3]) end return nil`;
const COMPARE_AND_DEL = `if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1]) end return 0`;

/** INCR, and the expiry set by the increment that created the counter. */
const INCREMENT = `local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end return n`;

interface RedisValue {
  /** p = in flight, d = done */
  s: 'p' | 'd';
  f: string;
  t?: string;
  r?: StoredResponse;
}

/** How long a Redis command may take before the request is answered 503. */
export const REDIS_COMMAND_TIMEOUT_MS = 1000;
const POLL_MIN_MS = 10;
const POLL_MAX_MS = 250;

export interface RedisStoreOptions {
  /** Key prefix, so several deployments can share one Redis. */
  prefix?: string;
}

export class RedisIdempotencyStore implements IdempotencyStore {
  private readonly redis: Redis;
  private readonly prefix: string;

  constructor(url: string, options: RedisStoreOptions = {}) {
    this.prefix = options.prefix ?? 'pa:';
    // Fail fast when Redis is down: a request must not hang on an offline queue. One retry
    // alone is not enough: with the reconnect delay grown to its 2 s cap, a command waited up to
    // ~10 s for its 503; commandTimeout bounds every command (a reply takes < 1 ms).
    this.redis = new Redis(url, {
      maxRetriesPerRequest: 1,
      commandTimeout: REDIS_COMMAND_TIMEOUT_MS,
      enableAutoPipelining: true,
    });
    // Errors surface on the commands (→ 503); the connection event alone only reconnects.
    this.redis.on('error', () => {});
  }

  private async run<T>(op: () => Promise<T>): Promise<T> {
    try {
      return await op();
    } catch (err) {
      throw new IdempotencyUnavailableError((err as Error).message);
    }
  }

  private pendingValue(fingerprint: string, token: string): string {
    return JSON.stringify({ s: 'p', f: fingerprint, t: token } satisfies RedisValue);
  }

  async claim(key: string, fingerprint: string, leaseMs: number): Promise<ClaimResult> {
    const k = this.prefix + 'idem:' + key;
    return this.run(async () => {
      for (;;) {
        const token = randomUUID();
        const ok = await this.redis.set(
          k,
          this.pendingValue(fingerprint, token),
          'PX',
          leaseMs,
          'NX',
        );
        if (ok === 'OK') return { state: 'claimed', token };
        const raw = await this.redis.get(k);
        // Expired between SET and GET: try to claim again.
        if (raw === null) continue;
        const v = JSON.parse(raw) as RedisValue;
        return v.s === 'd' && v.r
          ? { state: 'done', fingerprint: v.f, response: v.r }
          : { state: 'pending', fingerprint: v.f };
      }
    });
  }

  async complete(key: string, token: string, response: StoredResponse, ttlMs: number) {
    const k = this.prefix + 'idem:' + key;
    const pending = await this.run(() => this.redis.get(k));
    if (!pending) return;
    const v = JSON.parse(pending) as RedisValue;
    if (v.t !== token) return;
    const done = JSON.stringify({ s: 'd', f: v.f, r: response } satisfies RedisValue);
    await this.run(() => this.redis.eval(COMPARE_AND_SET, 1, k, pending, done, ttlMs));
  }

  async release(key: string, token: string) {
    const k = this.prefix + 'idem:' + key;
    const pending = await this.run(() => this.redis.get(k));
    if (!pending || (JSON.parse(pending) as RedisValue).t !== token) return;
    await this.run(() => this.redis.eval(COMPARE_AND_DEL, 1, k, pending));
  }

  async waitForChange(_key: string, maxWaitMs: number, attempt: number): Promise<void> {
    // Poll: fast at first (most calls answer in tens of ms), backing off while the first runs.
    const interval = Math.min(POLL_MAX_MS, POLL_MIN_MS * 2 ** Math.min(attempt, 8));
    await new Promise((r) => setTimeout(r, Math.min(interval, maxWaitMs)));
  }

  async once(key: string, ttlMs: number): Promise<boolean> {
    const k = this.prefix + 'once:' + key;
    return (await this.run(() => this.redis.set(k, '1', 'PX', ttlMs, 'NX'))) === 'OK';
  }

  async has(key: string): Promise<boolean> {
    return (await this.run(() => this.redis.exists(this.prefix + 'once:' + key))) === 1;
  }

  async setValue(key: string, value: string, ttlMs: number): Promise<void> {
    await this.run(() => this.redis.set(this.prefix + 'kv:' + key, value, 'PX', ttlMs));
  }

  async getValue(key: string): Promise<string | undefined> {
    return (await this.run(() => this.redis.get(this.prefix + 'kv:' + key))) ?? undefined;
  }

  async increment(key: string, ttlMs: number): Promise<number> {
    const k = this.prefix + 'kv:' + key;
    return Number(await this.run(() => this.redis.eval(INCREMENT, 1, k, ttlMs)));
  }

  async ping(): Promise<void> {
    await this.run(() => this.redis.ping());
  }

  async close(): Promise<void> {
    await this.redis.quit().catch(() => this.redis.disconnect());
  }
}

export function createIdempotencyStore(config: { REDIS_URL?: string }): IdempotencyStore {
  return config.REDIS_URL
    ? new RedisIdempotencyStore(config.REDIS_URL)
    : new MemoryIdempotencyStore();
}

// ── running a request once ──────────────────────────────────────────────────────────────────

export interface IdempotentRun {
  /** Scoped key (API key id + header value). */
  key: string;
  fingerprint: string;
  /** How long the first request may hold the key before others may take it over. */
  leaseMs: number;
  /** How long a duplicate waits for the first result before answering 409. */
  waitMs: number;
}

export interface IdempotentOutcome<T> {
  response: StoredResponse;
  /** What `run` returned; absent when the response is a replay. */
  value?: T;
  replayed: boolean;
}

/**
 * Runs `run` once per key. `run` resolves to the value and the response to store, and says
 * whether to store it (`store: false` releases the key so that a retry runs again).
 */
export async function runOnce<T>(
  store: IdempotencyStore,
  opts: IdempotentRun,
  run: () => Promise<{ value: T; response: StoredResponse; store: boolean }>,
): Promise<IdempotentOutcome<T>> {
  const deadline = Date.now() + opts.waitMs;
  for (let attempt = 0; ; attempt++) {
    const claim = await store.claim(opts.key, opts.fingerprint, opts.leaseMs);
    if (claim.state === 'claimed') {
      let result: Awaited<ReturnType<typeof run>>;
      try {
        result = await run();
      } catch (err) {
        await store.release(opts.key, claim.token).catch(() => {});
        throw err;
      }
      if (result.store) {
        await store.complete(opts.key, claim.token, result.response, IDEMPOTENCY_TTL_MS);
      } else {
        await store.release(opts.key, claim.token);
      }
      return { response: result.response, value: result.value, replayed: false };
    }
    if (claim.fingerprint !== opts.fingerprint) throw new IdempotencyKeyReusedError();
    if (claim.state === 'done') return { response: claim.response, replayed: true };
    const left = deadline - Date.now();
    if (left <= 0) throw new IdempotencyInProgressError();
    await store.waitForChange(opts.key, left, attempt);
  }
}
