/**
 * Outgoing call events. When EVENTS_WEBHOOK_URL is set, each event is POSTed there as JSON:
 *
 *   { "id": "evt_…", "type": "call.ended", "createdAt": "<ISO 8601>", "callId": "call-…",
 *     "data": { … } }
 *
 * Headers: `Content-Type: application/json`, `X-Phone-Agents-Event-Id`, `X-Phone-Agents-Event-Type`
 * and the signature `X-Phone-Agents-Signature: t=<unix seconds>,v1=<hex>`, where `v1` is
 * HMAC-SHA256 with EVENTS_WEBHOOK_SECRET over the string `<t>.<raw body>`. Receivers recompute
 * it over the raw body, compare in constant time and reject old `t` (replays); see
 * `verify` in src/core/signature.ts. `t` is fresh on every attempt, the body is not.
 *
 * Delivery never blocks the request that caused the event: events go to a bounded in-memory
 * queue and are sent by a few concurrent senders. Any answer but 2xx, a network error or a
 * timeout is retried with exponential backoff and jitter, up to EVENTS_MAX_ATTEMPTS attempts.
 * Delivery is at least once and unordered across events; receivers dedupe by `id`
 * (deterministic: one event of each type per call) and order by `createdAt`.
 */
import { createHash } from 'node:crypto';
import type { Logger } from '../core/logger.js';
import { SIGNATURE_HEADER, sign } from '../core/signature.js';

export const CALL_EVENT_TYPES = [
  'call.started',
  'call.answered',
  'call.ended',
  'call.transferred',
  'call.voicemail',
  'call.summary',
  'call.resumed',
] as const;
export type CallEventType = (typeof CALL_EVENT_TYPES)[number];

export interface CallEvent {
  id: string;
  type: CallEventType;
  createdAt: string;
  callId: string;
  data: Record<string, unknown>;
}

export const EVENT_ID_HEADER = 'x-phone-agents-event-id';
export const EVENT_TYPE_HEADER = 'x-phone-agents-event-type';

/**
 * One event of each type per call: the id is derived from both, so redeliveries share it. A type
 * that may happen more than once in a call (`call.resumed`) adds its occurrence (1, 2, ...).
 */
export function eventId(callId: string, type: CallEventType, occurrence?: number): string {
  const of = occurrence === undefined ? '' : `\n${occurrence}`;
  return `evt_${createHash('sha256').update(`${callId}\n${type}${of}`).digest('hex').slice(0, 32)}`;
}

export interface CallEvents {
  /**
   * Queues an event unless one of this type was already published for the call (LiveKit
   * redelivers webhooks; the API, webhooks and the worker may report the same fact).
   * Resolves to the event, or undefined for a duplicate. Never waits for delivery.
   */
  publish(
    type: CallEventType,
    callId: string,
    data?: Record<string, unknown>,
    /** For a type that may happen more than once in a call: which time this is (1, 2, ...). */
    occurrence?: number,
  ): Promise<CallEvent | undefined>;
  /** Whether an event of this type was published for the call (within the dedupe window). */
  published(type: CallEventType, callId: string): Promise<boolean>;
  /** Events queued, waiting for a retry or in flight. */
  readonly pending: number;
  /** Stops accepting events, waits up to `timeoutMs` for deliveries, then abandons the rest. */
  close(timeoutMs?: number): Promise<void>;
}

/** The dedupe marker store (the idempotency store's `once`/`has`). */
export interface EventDedupe {
  once(key: string, ttlMs: number): Promise<boolean>;
  has(key: string): Promise<boolean>;
}

export interface CallEventsOptions {
  url?: string;
  secret?: string;
  log: Logger;
  dedupe: EventDedupe;
  maxAttempts?: number;
  baseDelayMs?: number;
  maxDelayMs?: number;
  timeoutMs?: number;
  concurrency?: number;
  queueMax?: number;
  dedupeTtlMs?: number;
}

const defaults = {
  maxAttempts: 8,
  baseDelayMs: 500,
  maxDelayMs: 60_000,
  timeoutMs: 5000,
  concurrency: 4,
  queueMax: 10_000,
  dedupeTtlMs: 24 * 60 * 60 * 1000,
} as const satisfies Partial<CallEventsOptions>;

interface Delivery {
  event: CallEvent;
  body: string;
  attempt: number;
}

export function createCallEvents(options: CallEventsOptions): CallEvents {
  const o = { ...defaults, ...options };
  const log = o.log.child({ component: 'call-events' });
  const queue: Delivery[] = [];
  const retryTimers = new Map<NodeJS.Timeout, Delivery>();
  const inFlight = new Set<AbortController>();
  const sending = new Set<Promise<void>>();
  let closing = false;
  let onIdle: (() => void) | undefined;

  const pendingCount = () => queue.length + retryTimers.size + inFlight.size;
  const checkIdle = () => {
    if (onIdle && pendingCount() === 0) onIdle();
  };

  function backoff(attempt: number): number {
    // Exponential with "equal jitter": half fixed, half random, so retries of many events
    // that failed together spread out but never come back immediately.
    const cap = Math.min(o.maxDelayMs, o.baseDelayMs * 2 ** (attempt - 1));
    return cap / 2 + Math.random() * (cap / 2);
  }

  async function send(d: Delivery): Promise<void> {
    const ctl = new AbortController();
    inFlight.add(ctl);
    const timer = setTimeout(() => ctl.abort(), o.timeoutMs);
    d.attempt++;
    let failure: string;
    try {
      const res = await fetch(o.url as string, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          [SIGNATURE_HEADER]: sign(o.secret ?? '', d.body),
          [EVENT_ID_HEADER]: d.event.id,
          [EVENT_TYPE_HEADER]: d.event.type,
        },
        body: d.body,
        signal: ctl.signal,
      });
      // Drain the body so the connection can be reused.
      await res.arrayBuffer().catch(() => undefined);
      if (res.ok) {
        log.debug({ id: d.event.id, type: d.event.type, attempt: d.attempt }, 'event delivered');
        return;
      }
      failure = `HTTP ${res.status}`;
    } catch (err) {
      failure = ctl.signal.aborted ? 'timeout' : (err as Error).message;
    } finally {
      clearTimeout(timer);
      inFlight.delete(ctl);
    }
    if (d.attempt >= o.maxAttempts || closing) {
      log.error(
        { id: d.event.id, type: d.event.type, attempts: d.attempt, failure },
        'event delivery abandoned',
      );
      return;
    }
    const delay = backoff(d.attempt);
    log.warn(
      { id: d.event.id, type: d.event.type, attempt: d.attempt, failure, delay },
      'event delivery failed; retrying',
    );
    const t = setTimeout(() => {
      retryTimers.delete(t);
      queue.push(d);
      pump();
    }, delay);
    retryTimers.set(t, d);
  }

  function pump(): void {
    while (inFlight.size < o.concurrency && queue.length > 0) {
      const d = queue.shift() as Delivery;
      const p = send(d).finally(() => {
        sending.delete(p);
        pump();
        checkIdle();
      });
      sending.add(p);
    }
  }

  return {
    async publish(type, callId, data = {}, occurrence) {
      if (closing) return undefined;
      let first = true;
      const nth = occurrence === undefined ? '' : `:${occurrence}`;
      try {
        first = await o.dedupe.once(`evt:${callId}:${type}${nth}`, o.dedupeTtlMs);
      } catch (err) {
        // Better a duplicate than a lost event: receivers dedupe by id anyway.
        log.warn({ err: (err as Error).message }, 'event dedupe unavailable; publishing');
      }
      if (!first) return undefined;
      const event: CallEvent = {
        id: eventId(callId, type, occurrence),
        type,
        createdAt: new Date().toISOString(),
        callId,
        data,
      };
      if (!o.url) return event;
      if (queue.length >= o.queueMax) {
        log.error({ id: event.id, type }, 'event queue full; event dropped');
        return event;
      }
      queue.push({ event, body: JSON.stringify(event), attempt: 0 });
      pump();
      return event;
    },

    async published(type, callId) {
      return o.dedupe.has(`evt:${callId}:${type}`).catch(() => false);
    },

    get pending() {
      return pendingCount();
    },

    async close(timeoutMs = 5000) {
      closing = true;
      // Retries waiting for their backoff get one last immediate attempt.
      for (const [t, d] of retryTimers) {
        clearTimeout(t);
        queue.push(d);
      }
      retryTimers.clear();
      pump();
      if (pendingCount() > 0) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, timeoutMs);
          onIdle = () => {
            clearTimeout(timer);
            resolve();
          };
        });
      }
      for (const ctl of inFlight) ctl.abort();
      await Promise.allSettled([...sending]);
      if (queue.length > 0) log.warn({ dropped: queue.length }, 'events dropped on shutdown');
      queue.length = 0;
    },
  };
}
