import type { FastifyInstance } from 'fastify';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { EVENTS_SECRET, EventReceiver } from '../stack/event-receiver.js';
import { NUMBERS, type Standin, startLiveKitStandin } from './standin/index.js';
import { signWebhook } from './standin/webhooks.js';
import { AUTH, appFor, createOutboundTrunk, postCall } from './support/calls.js';
import { freePort } from './support/ports.js';

/** Waits for `ok()`, polling; fails naming `what` when it does not come in time. */
async function until(ok: () => boolean, what: string, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

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
  afterEach(async () => {
    await settled();
    receiver.reset();
  });
  afterAll(async () => {
    await app.close();
    await lk.close();
    await receiver.stop();
  });

  const call = (payload: object) => postCall(app, payload);

  /**
   * Everything the stand-in sent has been answered (the API publishes before it answers) and
   * every call event the API queued has been delivered: after this, an event that is not at the
   * receiver was never sent, so a check that it is absent cannot pass by looking too early.
   */
  async function settled(): Promise<void> {
    await lk.flushWebhooks();
    await until(() => app.deps.events.pending === 0, 'the API to deliver its call events');
  }

  /** Posts a webhook as LiveKit signs it; returns the call events the API published for it. */
  async function deliver(event: object): Promise<string[]> {
    const signed = await lk.signWebhook(event);
    const res = await fetch(webhookUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/webhook+json', authorization: signed.authorization },
      body: signed.body,
    });
    expect(res.status, await res.clone().text()).toBe(200);
    return (await res.json()).events;
  }

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
    // The room finishing later does not produce a second call.ended: wait until LiveKit has
    // sent room_finished and the API has delivered whatever it made of it.
    await until(
      () => lk.state.webhooks.some((w) => w.event === 'room_finished' && w.room === id),
      'room_finished',
    );
    await settled();
    const finished = lk.state.webhooks.find((w) => w.event === 'room_finished' && w.room === id);
    expect(finished?.status).toBe(200);
    const mine = receiver.events().filter((e) => e.callId === id);
    expect(mine.map((e) => e.type).sort()).toEqual(['call.answered', 'call.ended', 'call.started']);
    expect(receiver.deliveries.every((d) => d.valid)).toBe(true);
  });

  it.each([
    ['486 busy', NUMBERS.busy, 'rejected', 'USER_REJECTED'],
    ['603 decline', NUMBERS.declined, 'rejected', 'USER_REJECTED'],
    ['404 not found', NUMBERS.notFound, 'no-answer', 'USER_UNAVAILABLE'],
    ['503 from the carrier', NUMBERS.unreachable, 'failed', 'SIP_TRUNK_FAILURE'],
  ])(
    'reports a dial that failed with %s as ended, reason "%s"',
    async (_what, to, reason, disconnectReason) => {
      const res = await call({ to, agent });
      expect(res.statusCode, res.body).toBe(201);
      const id = res.json().id;
      const ended = await receiver.waitForEvent((e) => e.type === 'call.ended' && e.callId === id);
      expect(ended.data).toMatchObject({ direction: 'outbound', to, reason, disconnectReason });
      // Never answered: no call.answered, then or later.
      await settled();
      expect(
        receiver
          .events()
          .filter((e) => e.callId === id)
          .map((e) => e.type)
          .sort(),
      ).toEqual(['call.ended', 'call.started']);
    },
  );

  it('reports a callee that never answers (ringing ran out) as ended, reason "no-answer"', async () => {
    const res = await call({ to: NUMBERS.noAnswer, agent, ringingTimeoutS: 1 });
    expect(res.statusCode, res.body).toBe(201);
    const ended = await receiver.waitForEvent(
      (e) => e.type === 'call.ended' && e.callId === res.json().id,
    );
    expect(ended.data).toMatchObject({ reason: 'no-answer', disconnectReason: 'USER_UNAVAILABLE' });
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
    // Nothing was published for them: a valid webhook after them is the first delivery.
    const sentinel = await deliver({
      event: 'participant_joined',
      id: 'EV_sentinel1',
      room: { name: 'call-after-rejected' },
      participant: { identity: 'callee', kind: 'SIP', attributes: { 'sip.callID': 'SCL_9' } },
    });
    expect(sentinel).toEqual(['call.started']);
    await settled();
    const callIds = receiver.events().map((e) => e.callId);
    expect(callIds).toContain('call-after-rejected');
    expect(callIds).not.toContain('call-x');
    expect(callIds).not.toContain('call-y');
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
    await settled();
    expect(receiver.deliveries).toHaveLength(2);
    expect(receiver.events().map((e) => e.type)).toEqual(['call.started', 'call.answered']);
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
    await settled();
    const standup = lk.state.webhooks.filter((w) => w.room === 'standup');
    expect(standup.map((w) => w.event)).toContain('participant_joined');
    expect(standup.every((w) => w.status === 200)).toBe(true);
    expect(receiver.events().filter((e) => e.callId === 'standup')).toEqual([]);
  });
  describe('how each LiveKit event maps to call events', () => {
    const nowS = () => Math.floor(Date.now() / 1000);
    const phone = (attrs: Record<string, string>, extra: object = {}) => ({
      identity: 'callee',
      kind: 'SIP',
      attributes: {
        'sip.callID': 'SCL_map',
        'sip.phoneNumber': '+14155550142',
        'sip.trunkPhoneNumber': '+14155550100',
        ...attrs,
      },
      ...extra,
    });
    /** Room metadata of an outbound call the API placed. */
    const outboundRoom = (name: string, creationTime = nowS()) => ({
      name,
      creationTime: String(creationTime),
      metadata: JSON.stringify({
        phoneAgents: {
          callId: name,
          direction: 'outbound',
          to: '+14155550142',
          from: '+14155550100',
          trunkId: 'ST_1',
          metadata: { crm: '9' },
          createdAt: new Date(creationTime * 1000).toISOString(),
        },
      }),
    });

    it('track_published of a phone participant that is active → call.answered (once)', async () => {
      const room = { name: 'call-track-published' };
      expect(
        await deliver({
          event: 'participant_joined',
          id: 'EV_tp1',
          room,
          participant: phone({ 'sip.callStatus': 'ringing' }),
        }),
      ).toEqual(['call.started']);
      // Still ringing: a track (early media) is no answer.
      expect(
        await deliver({
          event: 'track_published',
          id: 'EV_tp2',
          room,
          participant: phone({ 'sip.callStatus': 'ringing' }),
        }),
      ).toEqual([]);
      expect(
        await deliver({
          event: 'track_published',
          id: 'EV_tp3',
          room,
          participant: phone({ 'sip.callStatus': 'active' }),
        }),
      ).toEqual(['call.answered']);
      expect(
        await deliver({
          event: 'track_published',
          id: 'EV_tp4',
          room,
          participant: phone({ 'sip.callStatus': 'active' }),
        }),
      ).toEqual([]);
      const answered = await receiver.waitForEvent(
        (e) => e.type === 'call.answered' && e.callId === room.name,
      );
      expect(answered.data).toMatchObject({
        direction: 'inbound',
        from: '+14155550142',
        to: '+14155550100',
        participantIdentity: 'callee',
      });
    });

    it('track_published of someone who is not a phone participant (the agent) → nothing', async () => {
      expect(
        await deliver({
          event: 'track_published',
          id: 'EV_tp5',
          room: { name: 'call-agent-track' },
          participant: { identity: 'agent-1', kind: 'AGENT', attributes: {} },
        }),
      ).toEqual([]);
    });

    it('a warm transfer’s human (a second SIP participant) joining, answering, leaving → nothing; the caller leaving ends the call', async () => {
      // Seen on the real stack (test/e2e/warm-transfer-declined-busy-no-answer.test.ts): the
      // human dialed into the caller's room is a SIP participant too; their leaving (declined,
      // busy) was the call's call.ended while the caller was still talking to the agent.
      const room = { name: 'call-warm-human' };
      const human = (status: string, extra: object = {}) =>
        phone(
          { 'sip.callStatus': status, 'phoneAgents.role': 'transfer-target' },
          { identity: 'transfer_1', ...extra },
        );
      expect(
        await deliver({
          event: 'participant_joined',
          id: 'EV_wh0',
          room,
          participant: phone({ 'sip.callStatus': 'active' }),
        }),
      ).toEqual(['call.started', 'call.answered']);
      for (const [i, event, participant] of [
        [1, 'participant_joined', human('dialing')],
        [2, 'track_published', human('active')],
        [3, 'participant_left', human('active', { disconnectReason: 'USER_REJECTED' })],
        [4, 'participant_connection_aborted', human('hangup')],
      ] as const) {
        expect(await deliver({ event, id: `EV_wh${i}`, room, participant })).toEqual([]);
      }
      expect(
        await deliver({
          event: 'participant_left',
          id: 'EV_wh5',
          room,
          participant: phone(
            { 'sip.callStatus': 'hangup' },
            { disconnectReason: 'CLIENT_INITIATED' },
          ),
        }),
      ).toEqual(['call.ended']);
      const ended = await receiver.waitForEvent(
        (e) => e.type === 'call.ended' && e.callId === room.name,
      );
      expect(ended.data).toMatchObject({ participantIdentity: 'callee', reason: 'hangup' });
    });

    it('participant_connection_aborted of the phone participant → call.ended, reason from LiveKit', async () => {
      const joinedAt = nowS() - 30;
      const events = await deliver({
        event: 'participant_connection_aborted',
        id: 'EV_ab1',
        room: { name: 'call-aborted' },
        participant: phone(
          { 'sip.callStatus': 'active' },
          { joinedAt: String(joinedAt), disconnectReason: 'CONNECTION_TIMEOUT' },
        ),
      });
      expect(events).toEqual(['call.ended']);
      const ended = await receiver.waitForEvent(
        (e) => e.type === 'call.ended' && e.callId === 'call-aborted',
      );
      expect(ended.data).toMatchObject({
        direction: 'inbound',
        reason: 'failed',
        disconnectReason: 'CONNECTION_TIMEOUT',
        sipCallStatus: 'active',
      });
      expect(ended.data.durationS).toBeGreaterThanOrEqual(29);
      expect(ended.data.durationS).toBeLessThanOrEqual(40);
    });

    it('an outbound call whose only end is room_finished → call.ended from the room', async () => {
      const name = 'call-room-finished-only';
      const events = await deliver({
        event: 'room_finished',
        id: 'EV_rf1',
        room: outboundRoom(name, nowS() - 12),
      });
      expect(events).toEqual(['call.ended']);
      const ended = await receiver.waitForEvent(
        (e) => e.type === 'call.ended' && e.callId === name,
      );
      expect(ended.data).toMatchObject({
        direction: 'outbound',
        to: '+14155550142',
        from: '+14155550100',
        reason: 'hangup',
        metadata: { crm: '9' },
      });
      expect(ended.data.durationS).toBeGreaterThanOrEqual(11);
      expect(ended.data.durationS).toBeLessThanOrEqual(20);
      // The phone participant's own departure, delivered late, does not end it twice.
      expect(
        await deliver({
          event: 'participant_left',
          id: 'EV_rf2',
          room: outboundRoom(name),
          participant: phone(
            { 'sip.callStatus': 'hangup' },
            { disconnectReason: 'CLIENT_INITIATED' },
          ),
        }),
      ).toEqual([]);
    });

    it('room_finished of a room that is not an outbound call → nothing', async () => {
      expect(
        await deliver({ event: 'room_finished', id: 'EV_rf3', room: { name: 'standup' } }),
      ).toEqual([]);
      // An inbound call's room: its end comes from the phone participant leaving, not the room.
      expect(
        await deliver({ event: 'room_finished', id: 'EV_rf4', room: { name: 'call-inbound-x' } }),
      ).toEqual([]);
    });

    it('a webhook delivered late (LiveKit retried it) is dated by when it happened, not by its delivery', async () => {
      const joinedAt = nowS() - 100;
      const leftAt = nowS() - 60; // delivered a minute after the caller hung up
      const events = await deliver({
        event: 'participant_left',
        id: 'EV_late1',
        createdAt: String(leftAt),
        room: { name: 'call-late-webhook' },
        participant: phone(
          { 'sip.callStatus': 'hangup' },
          { joinedAt: String(joinedAt), disconnectReason: 'CLIENT_INITIATED' },
        ),
      });
      expect(events).toEqual(['call.ended']);
      const ended = await receiver.waitForEvent(
        (e) => e.type === 'call.ended' && e.callId === 'call-late-webhook',
      );
      expect(ended.data).toMatchObject({ reason: 'hangup' });
      expect(ended.data.durationS).toBe(40);
    });

    it('a stale event for a call that already ended (redelivered join) publishes nothing new', async () => {
      const room = { name: 'call-stale' };
      const joined = {
        event: 'participant_joined',
        id: 'EV_st1',
        room,
        participant: phone({ 'sip.callStatus': 'active' }),
      };
      expect(await deliver(joined)).toEqual(['call.started', 'call.answered']);
      expect(
        await deliver({
          event: 'participant_left',
          id: 'EV_st2',
          room,
          participant: phone(
            { 'sip.callStatus': 'hangup' },
            { disconnectReason: 'CLIENT_INITIATED' },
          ),
        }),
      ).toEqual(['call.ended']);
      expect(await deliver({ ...joined, id: 'EV_st3' })).toEqual([]);
      await settled();
      expect(
        receiver
          .events()
          .filter((e) => e.callId === room.name)
          .map((e) => e.type),
      ).toEqual(['call.started', 'call.answered', 'call.ended']);
    });
  });
});
