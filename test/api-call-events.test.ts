/**
 * Outgoing call events: a real local HTTP receiver checks the HMAC signature of every delivery,
 * failing deliveries are retried with backoff, and publishing never waits for the receiver.
 */
import type { FastifyInstance } from 'fastify';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../src/api/app.js';
import {
  type CallEvent,
  createCallEvents,
  EVENT_ID_HEADER,
  EVENT_TYPE_HEADER,
} from '../src/api/call-events.js';
import { MemoryIdempotencyStore } from '../src/api/idempotency.js';
import { createLogger } from '../src/core/logger.js';
import { sign, verify } from '../src/core/signature.js';
import {
  type Delivery,
  EventReceiver as Receiver,
  EVENTS_SECRET as SECRET,
} from '../stack/event-receiver.js';
import { TEST_API_KEY, testConfig } from './support/config.js';

/** Waits for `ok()`, polling every 5 ms (at most `ms`). */
async function until(ok: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}

const log = createLogger(testConfig(), { name: 'test' });

describe('call event signatures', () => {
  it('verifies HMAC-SHA256 over "<t>.<body>" and rejects tampering and stale timestamps', () => {
    const body = '{"id":"evt_1"}';
    const header = sign(SECRET, body, 1_700_000_000);
    expect(header).toMatch(/^t=1700000000,v1=[0-9a-f]{64}$/);
    expect(verify(SECRET, header, body, { nowS: 1_700_000_100 })).toBe(true);
    expect(verify(SECRET, header, `${body} `, { nowS: 1_700_000_100 })).toBe(false);
    expect(verify('other-secret', header, body, { nowS: 1_700_000_100 })).toBe(false);
    expect(verify(SECRET, header, body, { nowS: 1_700_001_000 })).toBe(false);
    expect(verify(SECRET, undefined, body)).toBe(false);
    expect(verify(SECRET, 't=abc,v1=zz', body)).toBe(false);
  });
});

describe('call event delivery', () => {
  const receiver = new Receiver();
  beforeAll(() => receiver.start());
  afterEach(() => receiver.reset());
  afterAll(() => receiver.stop());

  function events(overrides: { maxAttempts?: number } = {}) {
    return createCallEvents({
      url: receiver.url,
      secret: SECRET,
      log,
      dedupe: new MemoryIdempotencyStore(),
      baseDelayMs: 20,
      maxDelayMs: 200,
      timeoutMs: 1000,
      ...overrides,
    });
  }

  it('POSTs a signed envelope the receiver can verify', async () => {
    const ev = events();
    const published = await ev.publish('call.started', 'call-1', { direction: 'outbound' });
    await receiver.waitFor(1);
    const d = receiver.deliveries[0] as Delivery;
    expect(d.valid).toBe(true);
    expect(d.headers['content-type']).toBe('application/json');
    const body = JSON.parse(d.body) as CallEvent;
    expect(body).toEqual(published);
    expect(body).toMatchObject({
      type: 'call.started',
      callId: 'call-1',
      data: { direction: 'outbound' },
    });
    expect(body.id).toMatch(/^evt_[0-9a-f]{32}$/);
    expect(new Date(body.createdAt).toString()).not.toBe('Invalid Date');
    expect(d.headers[EVENT_ID_HEADER]).toBe(body.id);
    expect(d.headers[EVENT_TYPE_HEADER]).toBe('call.started');
    await ev.close();
  });

  it('retries after 500s with growing delays, then succeeds, signing each attempt', async () => {
    receiver.script = [500, 503, 500];
    const ev = events();
    await ev.publish('call.ended', 'call-2', { reason: 'hangup' });
    await receiver.waitFor(4);
    const [a, b, c, d] = receiver.deliveries as [Delivery, Delivery, Delivery, Delivery];
    expect(receiver.deliveries.every((x) => x.valid)).toBe(true);
    expect(new Set(receiver.deliveries.map((x) => x.body)).size).toBe(1);
    // Backoff 20 ms doubling, with half of each delay random: at least 10, 20, 40 ms.
    expect(b.at - a.at).toBeGreaterThanOrEqual(9);
    expect(c.at - b.at).toBeGreaterThanOrEqual(19);
    expect(d.at - c.at).toBeGreaterThanOrEqual(39);
    // Nothing queued, in flight or waiting for a retry: no fifth delivery can come.
    await until(() => ev.pending === 0);
    expect(receiver.deliveries).toHaveLength(4);
    await ev.close();
  });

  it('gives up after EVENTS_MAX_ATTEMPTS', async () => {
    receiver.script = [500, 500, 500, 500, 500];
    const ev = events({ maxAttempts: 3 });
    await ev.publish('call.ended', 'call-3');
    await receiver.waitFor(3);
    // Abandoned: nothing waits for a retry (a fourth attempt would keep it pending).
    await until(() => ev.pending === 0);
    expect(receiver.deliveries).toHaveLength(3);
    expect(receiver.script).toEqual([500, 500]);
    await ev.close();
  });

  it('publishes without waiting for the receiver, and close() flushes', async () => {
    receiver.hold = true;
    const ev = events();
    for (let i = 0; i < 8; i++) await ev.publish('call.started', `call-slow-${i}`);
    // Every publish returned while the receiver had not answered a single delivery.
    expect(ev.pending).toBe(8);
    await receiver.waitFor(4);
    expect(receiver.deliveries).toHaveLength(4); // four concurrent senders
    receiver.release();
    await ev.close(10_000);
    expect(ev.pending).toBe(0);
    expect(receiver.deliveries).toHaveLength(8);
  });

  it('close() abandons deliveries still running at its deadline', async () => {
    receiver.hold = true;
    const ev = events();
    await ev.publish('call.started', 'call-stuck');
    await receiver.waitFor(1);
    // The receiver never answers: close() returns only because it gives up after 100 ms.
    await ev.close(100);
    expect(ev.pending).toBe(0);
  });

  it('sends one event per call and type (redeliveries are dropped)', async () => {
    const ev = events();
    expect(await ev.publish('call.answered', 'call-4')).toBeDefined();
    expect(await ev.publish('call.answered', 'call-4')).toBeUndefined();
    expect(await ev.published('call.answered', 'call-4')).toBe(true);
    expect(await ev.published('call.ended', 'call-4')).toBe(false);
    await ev.close();
    expect(receiver.deliveries).toHaveLength(1);
  });

  it('close() makes a last attempt for events waiting for a retry', async () => {
    receiver.script = [500];
    // Watch the log for the scheduled retry instead of guessing how long that takes.
    const lines: string[] = [];
    const watched = createLogger(testConfig({ LOG_LEVEL: 'warn' }), {
      destination: { write: (line: string) => lines.push(line) },
    });
    // A long backoff: without close() the retry would come a minute later.
    const slow = createCallEvents({
      url: receiver.url,
      secret: SECRET,
      log: watched,
      dedupe: new MemoryIdempotencyStore(),
      baseDelayMs: 60_000,
    });
    await slow.publish('call.summary', 'call-5', { summary: 'ok' });
    while (!lines.some((l) => l.includes('retrying'))) await new Promise((r) => setTimeout(r, 5));
    expect(slow.pending).toBe(1);
    await slow.close(10_000);
    expect(receiver.deliveries).toHaveLength(2);
    expect(slow.pending).toBe(0);
  });
});

describe('worker event reports (POST /v1/calls/:id/events)', () => {
  const receiver = new Receiver();
  let app: FastifyInstance;
  const auth = { authorization: `Bearer ${TEST_API_KEY}` };

  beforeAll(async () => {
    await receiver.start();
    app = await buildApp({
      config: testConfig({
        EVENTS_WEBHOOK_URL: receiver.url,
        EVENTS_WEBHOOK_SECRET: SECRET,
        EVENTS_RETRY_BASE_MS: '20',
      }),
    });
    await app.ready();
  });
  afterAll(async () => {
    await app.close();
    await receiver.stop();
  });

  it('accepts a summary without waiting for delivery and forwards it signed', async () => {
    receiver.hold = true;
    const res = await app.inject({
      method: 'POST',
      url: '/v1/calls/call-abc/events',
      headers: auth,
      payload: { type: 'call.summary', data: { summary: 'Booked a table for two', turns: 7 } },
    });
    // Answered while the receiver still holds the delivery.
    expect(res.statusCode).toBe(202);
    expect(res.json()).toMatchObject({ duplicate: false, id: expect.stringMatching(/^evt_/) });
    await receiver.waitFor(1);
    receiver.release();
    const d = receiver.deliveries[0] as Delivery;
    expect(d.valid).toBe(true);
    expect(JSON.parse(d.body)).toMatchObject({
      id: res.json().id,
      type: 'call.summary',
      callId: 'call-abc',
      data: { summary: 'Booked a table for two', turns: 7 },
    });

    const again = await app.inject({
      method: 'POST',
      url: '/v1/calls/call-abc/events',
      headers: auth,
      payload: { type: 'call.summary', data: { summary: 'x' } },
    });
    expect(again.json()).toEqual({ id: res.json().id, duplicate: true });
  });

  it('rejects unknown event types and missing keys', async () => {
    const bad = await app.inject({
      method: 'POST',
      url: '/v1/calls/call-abc/events',
      headers: auth,
      payload: { type: 'call.exploded' },
    });
    expect(bad.statusCode).toBe(400);
    expect(bad.json()).toMatchObject({ code: 'PA_ERR_VALIDATION' });
    const noKey = await app.inject({
      method: 'POST',
      url: '/v1/calls/call-abc/events',
      payload: { type: 'call.summary' },
    });
    expect(noKey.statusCode).toBe(401);
  });
});
