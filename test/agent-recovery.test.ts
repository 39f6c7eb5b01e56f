/**
 * A call whose agent died is taken over (src/api/agent-recovery.ts, docs/reliability.md), against
 * the LiveKit stand-in (which models what livekit-server v1.13.5 showed: a crashed agent leaves
 * with CONNECTION_TIMEOUT, the dispatch's job is recorded and failed, nothing is re-dispatched)
 * and the suite's real redis-server as the API's store.
 *
 * Which departures are taken over: the agent's lease dropped (its process died) or LiveKit said
 * it left, while the phone participant is still there, no other agent is, no transfer was
 * reported and the agent had not released the call. Which are not: a released call, a warm
 * transfer handed to a human, a deleted room, a caller already gone, a second agent present, a
 * reconnecting lease, exhausted attempts (the call is ended instead), a redelivered webhook.
 */
import { randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { AgentDispatchClient, RoomServiceClient } from 'livekit-server-sdk';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { recoveryDecision } from '../src/api/agent-recovery.js';
import {
  type IdempotencyStore,
  MemoryIdempotencyStore,
  RedisIdempotencyStore,
} from '../src/api/idempotency.js';
import { LEASE_GRACE_MS } from '../src/api/routes/call-recovery.js';
import { createCallLeases } from '../src/call/call-lease.js';
import { readJobMetadata } from '../src/core/job-metadata.js';
import { createLogger } from '../src/core/logger.js';
import { EVENTS_SECRET, EventReceiver } from '../stack/event-receiver.js';
import { type Standin, startLiveKitStandin } from './standin/index.js';
import { AUTH, appFor } from './support/calls.js';
import { TEST_API_KEY, testConfig } from './support/config.js';
import { freePort } from './support/ports.js';
import { proxyTo } from './support/tcp-proxy.js';

const redisUrl = () => {
  const url = process.env.REDIS_TEST_URL;
  if (!url) throw new Error('REDIS_TEST_URL is not set (test/support/global-setup.ts)');
  return url;
};

// DisconnectReason values (livekit_models.proto).
const CLIENT_INITIATED = 1;
const CONNECTION_TIMEOUT = 14;

const ORIGINAL = { agent: 'billing', metadata: { crm: '7' } };
const TRANSCRIPT = [
  { t: 1200, role: 'agent', text: 'Thanks for calling, this is Ava.', agent: 'receptionist' },
  { t: 5400, role: 'caller', text: 'I have a question about my bill' },
];

describe('taking over a call whose agent died', () => {
  let lk: Standin;
  let app: FastifyInstance;
  let base: string;
  let dispatch: AgentDispatchClient;
  const receiver = new EventReceiver();

  async function start(overrides: Record<string, string> = {}) {
    await receiver.start();
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    lk = await startLiveKitStandin({ webhookUrl: `${base}/v1/livekit/webhook` });
    app = await appFor(lk, {
      REDIS_URL: redisUrl(),
      EVENTS_WEBHOOK_URL: receiver.url,
      EVENTS_WEBHOOK_SECRET: EVENTS_SECRET,
      ...overrides,
    });
    await app.listen({ port, host: '127.0.0.1' });
    dispatch = new AgentDispatchClient(lk.url, lk.apiKey, lk.apiSecret);
  }

  beforeAll(() => start());
  afterEach(async () => {
    await lk.flushWebhooks();
    receiver.reset();
  });
  afterAll(async () => {
    await app.close();
    await lk.close();
    await receiver.stop();
  });

  /** A call in progress: room, its dispatch (our metadata), the phone and the agent's job. */
  async function liveCall() {
    const room = `call_+15550000001_${randomUUID().slice(0, 8)}`;
    await dispatch.createDispatch(room, 'phone-agent', { metadata: JSON.stringify(ORIGINAL) });
    lk.joinParticipant(room, {
      identity: 'sip_+15550000001',
      kind: 'sip',
      attributes: { 'sip.callStatus': 'active', 'sip.phoneNumber': '+15550000001' },
    });
    const agent = lk.dispatchAgent(room).identity;
    return { room, agent };
  }

  async function checkpoint(room: string, body: object) {
    const res = await app.inject({
      method: 'PUT',
      url: `/v1/calls/${encodeURIComponent(room)}/checkpoint`,
      headers: AUTH,
      payload: { state: 'live', transcript: TRANSCRIPT, ...body },
    });
    expect(res.statusCode, res.body).toBe(200);
    return res.json() as { stored: boolean };
  }

  /** A job's lease: GET held open over a real socket; `drop()` closes it as a dying process. */
  async function lease(room: string, identity: string) {
    const ctl = new AbortController();
    const res = await fetch(
      `${base}/v1/calls/${encodeURIComponent(room)}/lease?identity=${encodeURIComponent(identity)}`,
      { headers: AUTH, signal: ctl.signal },
    );
    expect(res.status).toBe(200);
    const reader = res.body!.getReader();
    const first = new TextDecoder().decode((await reader.read()).value);
    expect(JSON.parse(first.split('\n')[0]!)).toMatchObject({ type: 'lease' });
    return {
      drop: () => {
        ctl.abort();
        reader.cancel().catch(() => undefined);
      },
    };
  }

  const dispatchesOf = async (room: string) => dispatch.listDispatch(room);
  const resumeOf = (d: { metadata: string }) => readJobMetadata(d.metadata).resume;
  const requests = (method: string, room: string) =>
    lk.requests.filter(
      (r) => r.method === method && (r.body as { room?: string } | undefined)?.room === room,
    );
  /** Long enough for any take-over to have happened (the lease's grace, the RPCs, webhooks). */
  const settle = async () => {
    await new Promise((r) => setTimeout(r, LEASE_GRACE_MS + 300));
    await lk.flushWebhooks();
  };

  it('the lease drops (the process died): another agent is dispatched with the conversation', async () => {
    const { room, agent } = await liveCall();
    const held = await lease(room, agent);
    expect(
      await checkpoint(room, { agentIdentity: agent, agent: 'billing', startedAt: 1_000_000 }),
    ).toEqual({ stored: true });
    held.drop();
    await vi.waitFor(async () => expect(await dispatchesOf(room)).toHaveLength(2), 5000);
    const taken = (await dispatchesOf(room))[1]!;
    expect(taken.agentName).toBe('phone-agent');
    // The call's own metadata, plus the resume: the agent talking, the conversation, attempt 1.
    expect(readJobMetadata(taken.metadata)).toMatchObject({
      agent: 'billing',
      metadata: { crm: '7' },
      resume: { attempt: 1, agent: 'billing', startedAt: 1_000_000, transcript: TRANSCRIPT },
    });
    // The crashed agent lingers in LiveKit for ~21 s: it is removed so it cannot talk over the
    // new one (and its participant_left that follows is not a second death).
    expect(requests('RemoveParticipant', room)).toHaveLength(1);
    expect(lk.participants(room).map((p) => p.identity)).toEqual(['sip_+15550000001']);
    const resumed = await receiver.waitForEvent(
      (e) => e.type === 'call.resumed' && e.callId === room,
    );
    expect(resumed.data).toMatchObject({
      attempt: 1,
      agent: 'billing',
      departedIdentity: agent,
      detectedBy: 'lease',
    });
    // A checkpoint of the replaced job is refused: it must not overwrite its successor's.
    expect(await checkpoint(room, { agentIdentity: agent, agent: 'billing' })).toEqual({
      stored: false,
    });
    await settle();
    expect(await dispatchesOf(room)).toHaveLength(2);
  });

  it('LiveKit reports the agent gone (no lease): the webhook takes the call over, once', async () => {
    const { room, agent } = await liveCall();
    await checkpoint(room, { agentIdentity: agent, agent: 'receptionist' });
    lk.leaveParticipant(room, agent, CONNECTION_TIMEOUT);
    await vi.waitFor(async () => expect(await dispatchesOf(room)).toHaveLength(2), 5000);
    expect(resumeOf((await dispatchesOf(room))[1]!)).toMatchObject({
      attempt: 1,
      agent: 'receptionist',
    });
    // The stand-in records the job failed, as livekit-server does ("agent worker left the room").
    const job = (await dispatchesOf(room))[0]!.state!.jobs[0]!;
    expect(job.state).toMatchObject({
      participantIdentity: agent,
      error: 'agent worker left the room',
    });
    const resumed = await receiver.waitForEvent(
      (e) => e.type === 'call.resumed' && e.callId === room,
    );
    expect(resumed.data).toMatchObject({ detectedBy: 'webhook', reason: 'CONNECTION_TIMEOUT' });

    // LiveKit redelivers the same webhook: handled once.
    const redelivered = await lk.signWebhook({
      event: 'participant_left',
      room: { name: room },
      participant: { identity: agent, kind: 'AGENT', disconnectReason: 'CONNECTION_TIMEOUT' },
      id: 'EV_redelivered',
    });
    const res = await fetch(`${base}/v1/livekit/webhook`, {
      method: 'POST',
      headers: {
        'content-type': 'application/webhook+json',
        authorization: redelivered.authorization,
      },
      body: redelivered.body,
    });
    expect(res.status).toBe(200);
    await settle();
    expect(await dispatchesOf(room)).toHaveLength(2);
  });

  it('the resumed agent dies too: taken over again, up to the limit; then the call is ended', async () => {
    const call = await liveCall();
    const { room } = call;
    let agent = call.agent;
    for (let attempt = 1; attempt <= 3; attempt++) {
      lk.leaveParticipant(room, agent, CONNECTION_TIMEOUT);
      await vi.waitFor(
        async () => expect(await dispatchesOf(room)).toHaveLength(attempt + 1),
        5000,
      );
      expect(resumeOf((await dispatchesOf(room))[attempt]!)?.attempt).toBe(attempt);
      // A worker takes the new dispatch's job: its agent joins.
      agent = lk.dispatchAgent(room).identity;
    }
    await vi.waitFor(
      () =>
        expect(
          receiver.events().filter((e) => e.type === 'call.resumed' && e.callId === room),
        ).toHaveLength(3),
      5000,
    );
    // A fourth death: no fourth agent; the caller is not left in silence, the call ends.
    lk.leaveParticipant(room, agent, CONNECTION_TIMEOUT);
    await vi.waitFor(() => expect(requests('DeleteRoom', room)).toHaveLength(1), 5000);
    expect(lk.state.rooms.has(room)).toBe(false);
    expect(await dispatch.listDispatch(room).catch(() => [])).toHaveLength(0);
  });

  describe('departures that are not taken over', () => {
    it('a job that released the call (it ended, or a warm transfer handed it to a human)', async () => {
      for (const state of ['ended', 'handed-off']) {
        const { room, agent } = await liveCall();
        const held = await lease(room, agent);
        await checkpoint(room, { agentIdentity: agent, agent: 'billing', state });
        held.drop();
        lk.leaveParticipant(room, agent, CLIENT_INITIATED);
        await settle();
        expect(await dispatchesOf(room), state).toHaveLength(1);
        expect(requests('RemoveParticipant', room)).toHaveLength(0);
      }
    });

    it('the room was deleted (the call ended for everyone)', async () => {
      const { room, agent } = await liveCall();
      const held = await lease(room, agent);
      await checkpoint(room, { agentIdentity: agent });
      await new RoomServiceClient(lk.url, lk.apiKey, lk.apiSecret).deleteRoom(room);
      held.drop();
      await settle();
      expect(requests('CreateDispatch', room)).toHaveLength(1); // the call's own only
    });

    it('the caller had hung up already', async () => {
      const { room, agent } = await liveCall();
      lk.leaveParticipant(room, 'sip_+15550000001', CLIENT_INITIATED);
      lk.leaveParticipant(room, agent, CONNECTION_TIMEOUT);
      await settle();
      expect(await dispatchesOf(room)).toHaveLength(1);
    });

    it('another agent is in the call', async () => {
      const { room, agent } = await liveCall();
      lk.dispatchAgent(room);
      lk.leaveParticipant(room, agent, CONNECTION_TIMEOUT);
      await settle();
      expect(await dispatchesOf(room)).toHaveLength(1);
    });

    it('the call was transferred (call.transferred reported)', async () => {
      const { room, agent } = await liveCall();
      const res = await app.inject({
        method: 'POST',
        url: `/v1/calls/${encodeURIComponent(room)}/events`,
        headers: AUTH,
        payload: { type: 'call.transferred', data: { mode: 'warm' } },
      });
      expect(res.statusCode).toBe(202);
      lk.leaveParticipant(room, agent, CONNECTION_TIMEOUT);
      await settle();
      expect(await dispatchesOf(room)).toHaveLength(1);
    });

    it('the job leased again before dropping its old lease (a reconnect, not a death)', async () => {
      const { room, agent } = await liveCall();
      const old = await lease(room, agent);
      await lease(room, agent);
      old.drop();
      await settle();
      expect(await dispatchesOf(room)).toHaveLength(1);
      expect(requests('RemoveParticipant', room)).toHaveLength(0);
    });
  });

  describe("the worker's side (src/call/call-lease.ts)", () => {
    const leases = () =>
      createCallLeases({
        apiUrl: base,
        token: TEST_API_KEY,
        log: createLogger(testConfig()),
        debounceMs: 20,
      });
    const lines = [
      { t: 10, role: 'agent' as const, text: 'Hello.' },
      { t: 900, role: 'caller' as const, text: 'x'.repeat(900) },
    ];

    it('holds the call, checkpoints the conversation and releases it at the end', async () => {
      const { room, agent } = await liveCall();
      const l = leases().open(room, { agentIdentity: agent, startedAt: 1234, attempt: 0 });
      l.checkpoint({ agent: 'billing', transcript: lines });
      await vi.waitFor(async () => {
        const cp = await app.deps.recovery.checkpoint(room);
        expect(cp).toMatchObject({ agentIdentity: agent, agent: 'billing', state: 'live' });
        // Lines are cut to 500 characters.
        expect(cp?.transcript.map((x) => x.text.length)).toEqual([6, 500]);
      }, 5000);
      await l.release('ended');
      expect(await app.deps.recovery.checkpoint(room)).toMatchObject({ state: 'ended' });
      lk.leaveParticipant(room, agent, CLIENT_INITIATED);
      await settle();
      expect(await dispatchesOf(room)).toHaveLength(1);
    });

    it('a job that goes away without releasing (its lease closes) has its call taken over', async () => {
      const { room, agent } = await liveCall();
      const l = leases().open(room, { agentIdentity: agent, startedAt: 1234, attempt: 0 });
      l.checkpoint({ agent: 'billing', transcript: lines });
      await vi.waitFor(async () => expect(await app.deps.recovery.checkpoint(room)).toBeDefined());
      // Give the lease time to be held, then drop it as a dying process would.
      await vi.waitFor(async () =>
        expect(await app.deps.recovery.leaseOpenedAt(room, agent)).toBeDefined(),
      );
      l.abandon();
      await vi.waitFor(async () => expect(await dispatchesOf(room)).toHaveLength(2), 5000);
      expect(resumeOf((await dispatchesOf(room))[1]!)).toMatchObject({
        attempt: 1,
        agent: 'billing',
        startedAt: 1234,
      });
    });
  });

  it('AGENT_RECOVERY_ATTEMPTS=0 turns take-overs off', async () => {
    await app.close();
    await lk.close();
    await receiver.stop();
    await start({ AGENT_RECOVERY_ATTEMPTS: '0' });
    const { room, agent } = await liveCall();
    const held = await lease(room, agent);
    held.drop();
    lk.leaveParticipant(room, agent, CONNECTION_TIMEOUT);
    await new Promise((r) => setTimeout(r, LEASE_GRACE_MS + 300));
    await lk.flushWebhooks();
    const ds = await dispatchesOf(room);
    expect(ds).toHaveLength(1);
  });

  it('Redis does not answer as the lease drops: the take-over waits for it, then happens', async () => {
    const redis = await proxyTo(redisUrl());
    await app.close();
    await lk.close();
    await receiver.stop();
    await start({ REDIS_URL: redis.url('redis') });
    try {
      const { room, agent } = await liveCall();
      const held = await lease(room, agent);
      await checkpoint(room, { agentIdentity: agent, agent: 'billing' });
      await redis.down();
      held.drop();
      // The API cannot read the checkpoint nor claim the departure: nothing happens yet...
      await new Promise((r) => setTimeout(r, 1500));
      expect(await dispatchesOf(room)).toHaveLength(1);
      // ...and once Redis answers again, the call is taken over (before, the lost lease was
      // dropped with "handling a lost lease failed", leaving the ~21 s webhook backstop).
      await redis.up();
      await vi.waitFor(async () => expect(await dispatchesOf(room)).toHaveLength(2), 8000);
      expect(resumeOf((await dispatchesOf(room))[1]!)).toMatchObject({
        attempt: 1,
        agent: 'billing',
      });
    } finally {
      await redis.down();
    }
  });
});

describe('the take-over rule', () => {
  const sip = { identity: 'sip_1', kind: 3, state: 2, attributes: {} };
  const agent = (identity: string, state = 2) => ({ identity, kind: 4, state, attributes: {} });
  const decide = (o: Partial<Parameters<typeof recoveryDecision>[0]>) =>
    recoveryDecision({
      departed: 'agent-AJ_1',
      participants: [sip, agent('agent-AJ_1')] as never,
      transferred: false,
      checkpoint: undefined,
      ...o,
    });

  it('takes over a call with its phone and no agent but the departed one (still listed)', () => {
    expect(decide({})).toEqual({ recover: true });
    expect(decide({ participants: [sip] as never })).toEqual({ recover: true });
    // A disconnected second agent does not count.
    expect(decide({ participants: [sip, agent('agent-AJ_2', 3)] as never })).toEqual({
      recover: true,
    });
    // A checkpoint of another (older) job does not release this one.
    expect(
      decide({
        checkpoint: { agentIdentity: 'agent-AJ_0', state: 'ended', transcript: [] },
      }),
    ).toEqual({ recover: true });
  });

  it('says why it does not', () => {
    expect(decide({ participants: undefined })).toMatchObject({ why: 'the room is gone' });
    expect(decide({ participants: [agent('agent-AJ_1')] as never })).toMatchObject({
      why: 'no phone participant',
    });
    expect(
      decide({ participants: [{ ...sip, state: 3 }, agent('agent-AJ_1')] as never }),
    ).toMatchObject({ why: 'no phone participant' });
    expect(decide({ transferred: true })).toMatchObject({ why: 'the call was transferred' });
    expect(
      decide({ checkpoint: { agentIdentity: 'agent-AJ_1', state: 'handed-off', transcript: [] } }),
    ).toMatchObject({ recover: false });
    expect(
      decide({ participants: [sip, agent('agent-AJ_1'), agent('agent-AJ_2')] as never }),
    ).toMatchObject({ why: 'another agent is in the call' });
  });
});

describe.each<[string, () => IdempotencyStore]>([
  ['memory', () => new MemoryIdempotencyStore()],
  ['redis', () => new RedisIdempotencyStore(redisUrl(), { prefix: `test-${randomUUID()}:` })],
])('%s store: values with expiry and counters', (_name, make) => {
  let store: IdempotencyStore;
  beforeAll(() => {
    store = make();
  });
  afterAll(() => store.close());

  it('stores, replaces and expires values', async () => {
    expect(await store.getValue('a')).toBeUndefined();
    await store.setValue('a', 'one', 10_000);
    await store.setValue('a', 'two', 10_000);
    expect(await store.getValue('a')).toBe('two');
    await store.setValue('b', 'short', 50);
    await new Promise((r) => setTimeout(r, 120));
    expect(await store.getValue('b')).toBeUndefined();
  });

  it('counts from 1, and the count expires from its first increment', async () => {
    expect(await store.increment('n', 200)).toBe(1);
    expect(await store.increment('n', 200)).toBe(2);
    expect(await store.increment('n', 200)).toBe(3);
    await new Promise((r) => setTimeout(r, 300));
    expect(await store.increment('n', 200)).toBe(1);
  });
});
