import type { FastifyInstance } from 'fastify';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { EVENTS_SECRET, EventReceiver } from '../stack/event-receiver.js';
import { NUMBERS, type Standin, startLiveKitStandin } from './standin/index.js';
import { signWebhook } from './standin/webhooks.js';
import { AUTH, appFor, createOutboundTrunk, postCall } from './support/calls.js';
import { freePort } from './support/ports.js';

const agent = { name: 'receptionist' };

describe('LiveKit webhooks → call events', () => {
  let lk: Standin;
  let app: FastifyInstance;
  const receiver = new EventReceiver();
  let webhookUrl: string;

  beforeAll(async () => {
    await receiver.start();
    const port = await freePort();
    webhookUrl = `http://127.0.0.1:${port}/v1/livekit/webhook`;
    lk = await startLiveKitStandin({ answerDelayMs: 50, webhookUrl, departureTimeoutMs: 50 });
    const trunkId = await createOutboundTrunk(lk);
    app = await appFor(lk, {
      DEFAULT_OUTBOUND_TRUNK_ID: trunkId,
      EVENTS_WEBHOOK_URL: receiver.url,
      EVENTS_WEBHOOK_SECRET: EVENTS_SECRET,
    });
    await app.listen({ port, host: '127.0.0.1' });
  });
  afterEach(() => receiver.reset());
  afterAll(async () => {
    await app.close();
    await lk.close();
    await receiver.stop();
  });

  const call = (payload: object) => postCall(app, payload);

  it('turns an outbound call into call.started, call.answered and call.ended', async () => {
    const res = await call({
      to: NUMBERS.answers,
      agent,
      waitUntilAnswered: true,
      metadata: { crm: '7' },
    });
    expect(res.statusCode, res.body).toBe(201);
    const id = res.json().id;
    const started = await receiver.waitForEvent(
      (e) => e.type === 'call.started' && e.callId === id,
    );
    expect(started.data).toMatchObject({
      direction: 'outbound',
      to: NUMBERS.answers,
      participantIdentity: 'callee',
      sipCallId: res.json().sipCallId,
      metadata: { crm: '7' },
    });
    await receiver.waitForEvent((e) => e.type === 'call.answered' && e.callId === id);

    await new Promise((r) => setTimeout(r, 1100));
    lk.hangup(id, 'callee');
    const ended = await receiver.waitForEvent((e) => e.type === 'call.ended' && e.callId === id);
    expect(ended.data).toMatchObject({
      direction: 'outbound',
      reason: 'hangup',
      disconnectReason: 'CLIENT_INITIATED',
      metadata: { crm: '7' },
    });
    expect(ended.data.durationS).toBeGreaterThanOrEqual(1);
    expect(ended.data.durationS).toBeLessThan(10);
    // The room finishing later does not produce a second call.ended.
    await lk.flushWebhooks();
    await new Promise((r) => setTimeout(r, 150));
    await lk.flushWebhooks();
    const mine = receiver.events().filter((e) => e.callId === id);
    expect(mine.map((e) => e.type).sort()).toEqual(['call.answered', 'call.ended', 'call.started']);
    expect(receiver.deliveries.every((d) => d.valid)).toBe(true);
  });

  it('reports a call the callee rejects while ringing as ended with a failure reason', async () => {
    const res = await call({ to: NUMBERS.busy, agent });
    expect(res.statusCode, res.body).toBe(201);
    const ended = await receiver.waitForEvent(
      (e) => e.type === 'call.ended' && e.callId === res.json().id,
    );
    expect(['no-answer', 'rejected', 'failed']).toContain(ended.data.reason);
  });

  it('reports inbound calls with the caller as "from"', async () => {
    const { SipClient } = await import('livekit-server-sdk');
    const sip = new SipClient(lk.url, lk.apiKey, lk.apiSecret);
    await sip.createSipInboundTrunk('in', ['+14155550100']);
    await sip.createSipDispatchRule({ type: 'individual', roomPrefix: 'in' }, { name: 'all' });
    const inbound = await lk.simulateInboundCall({ from: '+14155550999', to: '+14155550100' });
    const started = await receiver.waitForEvent(
      (e) => e.type === 'call.started' && e.callId === inbound.room,
    );
    expect(started.data).toMatchObject({
      direction: 'inbound',
      from: '+14155550999',
      to: '+14155550100',
      participantIdentity: inbound.identity,
    });
  });

  it('marks the end of a transferred call with reason "transfer"', async () => {
    const res = await call({ to: NUMBERS.answers, agent, waitUntilAnswered: true });
    const id = res.json().id;
    const t = await app.inject({
      method: 'POST',
      url: `/v1/calls/${id}/transfer`,
      headers: AUTH,
      payload: { to: 'sip:desk@pbx.example.com' },
    });
    expect(t.statusCode).toBe(200);
    const transferred = await receiver.waitForEvent(
      (e) => e.type === 'call.transferred' && e.callId === id,
    );
    expect(transferred.data).toMatchObject({ to: 'sip:desk@pbx.example.com' });
    const ended = await receiver.waitForEvent((e) => e.type === 'call.ended' && e.callId === id);
    expect(ended.data.reason).toBe('transfer');
  });

  it('rejects unsigned, tampered and foreign-signed webhooks with 401', async () => {
    const event = {
      event: 'participant_joined',
      id: 'EV_test1',
      room: { name: 'call-x' },
      participant: { identity: 'callee', kind: 'SIP', attributes: { 'sip.callID': 'SCL_1' } },
    };
    const good = await lk.signWebhook(event);
    const foreign = await signWebhook(event, lk.apiKey, 'another-secret-0123456789abcdef');
    const cases: Array<[Record<string, string>, string]> = [
      [{}, good.body],
      [{ authorization: good.authorization }, good.body.replace('call-x', 'call-y')],
      [{ authorization: foreign.authorization }, foreign.body],
      [AUTH, good.body],
    ];
    for (const [headers, body] of cases) {
      const res = await fetch(webhookUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/webhook+json', ...headers },
        body,
      });
      expect(res.status).toBe(401);
      expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      expect(await res.json()).toMatchObject({ code: 'PA_ERR_WEBHOOK_SIGNATURE', status: 401 });
    }
    expect(receiver.deliveries).toHaveLength(0);
  });

  it('accepts a valid signature (webhook+json or json), once per call and event type', async () => {
    const event = {
      event: 'participant_joined',
      id: 'EV_test2',
      createdAt: String(Math.floor(Date.now() / 1000)),
      room: { name: 'call-manual' },
      participant: {
        identity: 'sip_+14155550999',
        kind: 'SIP',
        attributes: {
          'sip.callID': 'SCL_2',
          'sip.phoneNumber': '+14155550999',
          'sip.callStatus': 'active',
        },
      },
    };
    const signed = await lk.signWebhook(event);
    const post = (type: string) =>
      fetch(webhookUrl, {
        method: 'POST',
        headers: { 'content-type': type, authorization: signed.authorization },
        body: signed.body,
      });
    const first = await post('application/webhook+json');
    expect(first.status).toBe(200);
    expect(await first.json()).toEqual({ events: ['call.started', 'call.answered'] });
    // LiveKit redelivers: nothing new is sent.
    const again = await post('application/json');
    expect(again.status).toBe(200);
    expect(await again.json()).toEqual({ events: [] });
    await receiver.waitFor(2);
    await new Promise((r) => setTimeout(r, 50));
    expect(receiver.deliveries).toHaveLength(2);
  });

  it('answers 400 for a signed body that is not a LiveKit event', async () => {
    const signed = await lk.signWebhook({ event: 'participant_joined', room: 42 });
    const res = await fetch(webhookUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/webhook+json', authorization: signed.authorization },
      body: signed.body,
    });
    expect(res.status).toBe(400);
    expect((await res.json()).code).toBe('PA_ERR_VALIDATION');
  });

  it('ignores events of rooms that are not calls', async () => {
    lk.joinParticipant('standup', { identity: 'bob' });
    await lk.flushWebhooks();
    expect(
      lk.state.webhooks.filter((w) => w.room === 'standup').every((w) => w.status === 200),
    ).toBe(true);
    expect(receiver.events().filter((e) => e.callId === 'standup')).toHaveLength(0);
  });
});
