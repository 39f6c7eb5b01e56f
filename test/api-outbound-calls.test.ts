/**
 * Outbound calls and call status through the API against the LiveKit stand-in: dispatch then
 * dial, SIP failures as problem+json with the documented mapping, validation, auth, LiveKit
 * errors, listing, status from sip.callStatus, hang-up.
 */
import type { FastifyInstance } from 'fastify';
import { RoomServiceClient, ServerError } from 'livekit-server-sdk';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { OutboundCallJob } from '../src/core/job-metadata.js';
import { NUMBERS, type Standin, startLiveKitStandin } from './standin/index.js';
import {
  AUTH,
  appFor,
  createOutboundTrunk,
  dialCount,
  postCall,
  startCallsApi,
  TRUNK_NUMBER,
} from './support/calls.js';
import { proxyTo, type SwitchableProxy } from './support/tcp-proxy.js';

const agent = { name: 'receptionist' };
/** The worker pool's LiveKit agent name (AGENT_NAME): what every dispatch must name. */
const POOL = 'acme-pool';

/** Waits (up to 3 s) until the assertion holds. */
const eventually = (assertion: () => void) =>
  vi.waitFor(assertion, { timeout: 3000, interval: 10 });

describe('outbound calls', () => {
  let lk: Standin;
  let app: FastifyInstance;
  let trunkId: string;

  const post = (payload: object, headers?: Record<string, string>) =>
    postCall(app, payload, headers);

  beforeAll(async () => {
    lk = await startLiveKitStandin({ answerDelayMs: 80 });
    trunkId = await createOutboundTrunk(lk);
    app = await appFor(lk, {
      DEFAULT_OUTBOUND_TRUNK_ID: trunkId,
      MAX_CALL_DURATION_S: '600',
      AGENT_NAME: POOL,
    });
  });
  afterAll(async () => {
    await app.close();
    await lk.close();
  });

  it('dispatches the worker pool with the call request naming the agent, then dials', async () => {
    const start = lk.requests.length;
    const res = await post({
      to: NUMBERS.answers,
      from: TRUNK_NUMBER,
      agent: { name: 'billing', metadata: { persona: 'reception', tier: 2 } },
      metadata: { crmId: 'c-9', persona: 'from-call' },
      ringingTimeoutS: 20,
      maxDurationS: 300,
    });
    expect(res.statusCode, res.body).toBe(201);
    const call = res.json();
    expect(call).toMatchObject({
      status: 'dialing',
      participantIdentity: 'callee',
      sipCallId: expect.stringMatching(/^SCL_/),
    });
    expect(call.id).toMatch(/^call-[0-9a-f-]{36}$/);
    expect(call.room).toBe(call.id);

    const rpcs = lk.requests.slice(start).map((r) => `${r.service}.${r.method}`);
    expect(rpcs.slice(0, 2)).toEqual(['RoomService.CreateRoom', 'SIP.CreateSIPParticipant']);

    const [dispatch] = lk.dispatches(call.id);
    // LiveKit dispatches the worker pool; the agent of the agents file rides in the metadata.
    expect(lk.dispatches(call.id)).toHaveLength(1);
    expect(dispatch?.agentName).toBe(POOL);
    const job = JSON.parse(dispatch?.metadata ?? '{}') as OutboundCallJob;
    expect(job).toMatchObject({
      kind: 'phone-agents.call',
      version: 2,
      direction: 'outbound',
      callId: call.id,
      to: NUMBERS.answers,
      from: TRUNK_NUMBER,
      trunkId,
      agent: 'billing',
      // The call metadata merged with agent.metadata; the agent's keys win.
      metadata: { crmId: 'c-9', persona: 'reception', tier: 2 },
      maxDurationS: 300,
      ringingTimeoutS: 20,
      sipParticipantIdentity: 'callee',
    });

    const dial = lk.requests.slice(start).find((r) => r.method === 'CreateSIPParticipant');
    expect(dial?.body).toMatchObject({
      sipTrunkId: trunkId,
      sipCallTo: NUMBERS.answers,
      sipNumber: TRUNK_NUMBER,
      roomName: call.id,
      participantIdentity: 'callee',
      ringingTimeout: '20s',
      maxCallDuration: '300s',
    });
  });

  it('with waitUntilAnswered answers once the callee picked up', async () => {
    const res = await post({ to: NUMBERS.answers2, agent, waitUntilAnswered: true });
    expect(res.statusCode, res.body).toBe(201);
    expect(res.json().status).toBe('active');
    const get = await app.inject({ url: `/v1/calls/${res.json().id}`, headers: AUTH });
    expect(get.json()).toMatchObject({
      status: 'active',
      direction: 'outbound',
      to: NUMBERS.answers2,
    });
  });

  const failures = [
    ['busy', NUMBERS.busy, 409, 'PA_ERR_SIP_BUSY', 486],
    ['declined', NUMBERS.declined, 403, 'PA_ERR_SIP_DECLINED', 603],
    ['unreachable', NUMBERS.unreachable, 502, 'PA_ERR_SIP_UNREACHABLE', 503],
    ['not found', NUMBERS.notFound, 502, 'PA_ERR_SIP_UNREACHABLE', 404],
    ['temporarily unavailable', NUMBERS.unavailable, 504, 'PA_ERR_SIP_NO_ANSWER', 480],
  ] as const;
  for (const [what, number, status, code, sip] of failures) {
    it(`waitUntilAnswered + ${what}: ${status} ${code} with sipStatusCode ${sip}, room cleaned up`, async () => {
      const roomsBefore = new Set(lk.state.rooms.keys());
      const res = await post({ to: number, agent, waitUntilAnswered: true });
      expect(res.statusCode).toBe(status);
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(res.json()).toMatchObject({
        status,
        code,
        sipStatusCode: sip,
        sipStatus: expect.any(String),
        instance: '/v1/calls',
      });
      // The room made for the failed call is deleted.
      await eventually(() =>
        expect([...lk.state.rooms.keys()].filter((r) => !roomsBefore.has(r))).toEqual([]),
      );
    });
  }

  it('reports no answer within ringingTimeoutS as 504 PA_ERR_SIP_NO_ANSWER', async () => {
    const res = await post({
      to: NUMBERS.noAnswer,
      agent,
      waitUntilAnswered: true,
      ringingTimeoutS: 1,
    });
    expect(res.statusCode).toBe(504);
    expect(res.json()).toMatchObject({ code: 'PA_ERR_SIP_NO_ANSWER', sipStatusCode: 408 });
  });

  it('validates the request before touching LiveKit', async () => {
    const calls = () =>
      lk.requests.filter((r) => r.method === 'CreateRoom' || r.method === 'CreateSIPParticipant')
        .length;
    const before = calls();
    const cases: Array<[object, string, RegExp]> = [
      [{ agent }, 'PA_ERR_VALIDATION', /body\.to is required/],
      [{ to: '0415555', agent }, 'PA_ERR_INVALID_PHONE_NUMBER', /body\.to/],
      // Without agent the routes choose; with one, it needs a name.
      [{ to: NUMBERS.answers, agent: {} }, 'PA_ERR_VALIDATION', /body\.agent\.name is required/],
      [
        { to: NUMBERS.answers, agent: { name: 'bad name!' } },
        'PA_ERR_VALIDATION',
        /body\.agent\.name/,
      ],
      // Agent names of the agents file are lower-case: this one could never be connected.
      [
        { to: NUMBERS.answers, agent: { name: 'Receptionist' } },
        'PA_ERR_VALIDATION',
        /body\.agent\.name/,
      ],
      [
        { to: NUMBERS.answers, agent, colour: 'red' },
        'PA_ERR_VALIDATION',
        /body\.colour is not a known field/,
      ],
      [{ to: NUMBERS.answers, agent, ringingTimeoutS: 0 }, 'PA_ERR_VALIDATION', /ringingTimeoutS/],
      [
        { to: NUMBERS.answers, agent, maxDurationS: 601 },
        'PA_ERR_VALIDATION',
        /MAX_CALL_DURATION_S \(600\)/,
      ],
    ];
    for (const [payload, code, detail] of cases) {
      const res = await post(payload);
      expect(res.statusCode, JSON.stringify(payload)).toBe(400);
      expect(res.json().code).toBe(code);
      expect(res.json().detail).toMatch(detail);
    }
    expect(calls()).toBe(before);
  });

  it('needs an API key', async () => {
    for (const url of ['/v1/calls', '/v1/calls/call-x']) {
      const res = await app.inject({ method: 'GET', url });
      expect(res.statusCode).toBe(401);
      expect(res.json().code).toBe('PA_ERR_UNAUTHORIZED');
    }
    expect((await post({ to: NUMBERS.answers, agent }, {})).statusCode).toBe(401);
    expect((await app.inject({ method: 'DELETE', url: '/v1/calls/call-x' })).statusCode).toBe(401);
  });

  it('reports an unknown trunk as 404 and no trunk at all as 400', async () => {
    const unknown = await post({ to: NUMBERS.answers, agent, trunkId: 'ST_doesnotexist' });
    expect(unknown.statusCode).toBe(404);
    expect(unknown.json().code).toBe('PA_ERR_NOT_FOUND');
    expect(unknown.json().detail).toMatch(/ST_doesnotexist/);

    const bare = await appFor(lk);
    try {
      const res = await postCall(bare, { to: NUMBERS.answers, agent });
      expect(res.statusCode).toBe(400);
      expect(res.json().code).toBe('PA_ERR_NO_OUTBOUND_TRUNK');
    } finally {
      await bare.close();
    }
  });

  it('reports LiveKit being down or broken as 503/502, never 500', async () => {
    const down = await appFor(lk, {
      LIVEKIT_URL: 'http://127.0.0.1:1',
      DEFAULT_OUTBOUND_TRUNK_ID: trunkId,
    });
    const noSip = await startLiveKitStandin({ sipAvailable: false });
    const broken = await appFor(noSip, { DEFAULT_OUTBOUND_TRUNK_ID: 'ST_any' });
    try {
      const a = await postCall(down, { to: NUMBERS.answers, agent });
      expect(a.statusCode).toBe(503);
      expect(a.json().code).toBe('PA_ERR_LIVEKIT_UNAVAILABLE');
      const l = await down.inject({ url: '/v1/calls', headers: AUTH });
      expect(l.statusCode).toBe(503);

      const b = await postCall(broken, { to: NUMBERS.answers, agent });
      expect(b.statusCode).toBe(502);
      expect(b.json()).toMatchObject({
        code: 'PA_ERR_LIVEKIT_REJECTED',
        detail: expect.stringMatching(/sip not connected/),
      });
      // The room made for the call is cleaned up.
      await eventually(() => expect(noSip.state.rooms.size).toBe(0));
    } finally {
      await down.close();
      await broken.close();
      await noSip.close();
    }
  });

  it('never dials twice without a key either: one request, one dial', async () => {
    const before = dialCount(lk);
    await post({ to: NUMBERS.answers, agent });
    expect(dialCount(lk) - before).toBe(1);
  });
});

describe('call status, listing and hang-up', () => {
  let lk: Standin;
  let app: FastifyInstance;

  let close: () => Promise<void>;
  beforeAll(async () => {
    ({ lk, app, close } = await startCallsApi({ answerDelayMs: 60_000 }));
  });
  afterAll(() => close());

  const get = (id: string) => app.inject({ url: `/v1/calls/${id}`, headers: AUTH });

  it('derives the status from sip.callStatus: dialing → ringing → active', async () => {
    const { id } = (await postCall(app, { to: '+14155550777', agent })).json();
    // The stand-in moves from dialing to ringing on its own within milliseconds.
    const first = (await get(id)).json();
    expect(first).toMatchObject({
      id,
      direction: 'outbound',
      agent: 'receptionist',
      to: '+14155550777',
      participantIdentity: 'callee',
    });
    expect(['dialing', 'ringing']).toContain(first.status);
    expect(first.sipCallStatus).toBe(first.status);
    lk.setCallStatus(id, 'callee', 'ringing');
    expect((await get(id)).json().status).toBe('ringing');
    lk.setCallStatus(id, 'callee', 'active');
    const active = (await get(id)).json();
    expect(active.status).toBe('active');
    expect(active.sipCallId).toMatch(/^SCL_/);
    expect(new Date(active.createdAt).getTime()).toBeGreaterThan(Date.now() - 60_000);
  });

  it('lists active calls, inbound ones too, and pages with a cursor', async () => {
    const a = (await postCall(app, { to: '+14155550778', agent })).json();
    // A room that is not a call (no phone participant) is not listed.
    lk.joinParticipant('meeting-room', { identity: 'alice' });
    // An inbound call: needs an inbound trunk and a dispatch rule in the stand-in.
    const inbound = await simulateInbound(lk);

    const res = await app.inject({ url: '/v1/calls', headers: AUTH });
    expect(res.statusCode).toBe(200);
    const ids = res.json().calls.map((c: { id: string }) => c.id);
    expect(ids).toContain(a.id);
    expect(ids).toContain(inbound.room);
    expect(ids).not.toContain('meeting-room');
    const inboundView = res.json().calls.find((c: { id: string }) => c.id === inbound.room);
    expect(inboundView).toMatchObject({
      direction: 'inbound',
      from: '+14155550999',
      to: '+14155550100',
    });
    expect(res.json().nextCursor).toBeUndefined();

    const seen: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await app.inject({
        url: `/v1/calls?limit=1${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`,
        headers: AUTH,
      });
      expect(page.json().calls.length).toBeLessThanOrEqual(1);
      seen.push(...page.json().calls.map((c: { id: string }) => c.id));
      cursor = page.json().nextCursor;
    } while (cursor);
    expect(seen.sort()).toEqual([...ids].sort());

    const bad = await app.inject({ url: '/v1/calls?limit=0', headers: AUTH });
    expect(bad.statusCode).toBe(400);
  });

  it('hangs up with DELETE (204), then the call is gone (404)', async () => {
    const { id } = (await postCall(app, { to: '+14155550779', agent })).json();
    const del = await app.inject({ method: 'DELETE', url: `/v1/calls/${id}`, headers: AUTH });
    expect(del.statusCode).toBe(204);
    expect(lk.state.rooms.has(id)).toBe(false);
    const after = await get(id);
    expect(after.statusCode).toBe(404);
    expect(after.json()).toMatchObject({ code: 'PA_ERR_CALL_NOT_FOUND' });
    const again = await app.inject({ method: 'DELETE', url: `/v1/calls/${id}`, headers: AUTH });
    expect(again.statusCode).toBe(404);
    expect(again.json().code).toBe('PA_ERR_CALL_NOT_FOUND');
    const list = (await app.inject({ url: '/v1/calls', headers: AUTH })).json();
    expect(list.calls.map((c: { id: string }) => c.id)).not.toContain(id);
  });

  it('answers 404 for unknown calls and 400 for malformed ids', async () => {
    expect((await get('call-unknown')).statusCode).toBe(404);
    const bad = await get('bad%20id');
    expect(bad.statusCode).toBe(400);
    expect(bad.json().code).toBe('PA_ERR_VALIDATION');
  });
});

/** An inbound call through the stand-in: trunk + dispatch rule created through the SDK. */
async function simulateInbound(lk: Standin) {
  const { SipClient } = await import('livekit-server-sdk');
  const sip = new SipClient(lk.url, lk.apiKey, lk.apiSecret);
  await sip.createSipInboundTrunk('in', ['+14155550100']);
  await sip.createSipDispatchRule(
    { type: 'individual', roomPrefix: 'inbound' },
    { name: 'inbound calls' },
  );
  return lk.simulateInboundCall({ from: '+14155550999', to: '+14155550100' });
}

describe('listing more calls than one page', () => {
  let lk: Standin;
  let app: FastifyInstance;
  let close: () => Promise<void>;
  const callIds: string[] = [];

  beforeAll(async () => {
    // Calls keep ringing (no answer for a minute): all of them are in progress.
    ({ lk, app, close } = await startCallsApi({ answerDelayMs: 60_000 }));
    // More rooms than the API examines at once (16), calls and meetings interleaved by name.
    for (let i = 0; i < 20; i++) {
      callIds.push((await postCall(app, { to: `+1415555${String(1000 + i)}`, agent })).json().id);
      if (i % 4 === 0) lk.joinParticipant(`call-meeting-${i}`, { identity: `person-${i}` });
    }
  });
  afterAll(() => close());

  async function allPages(limit: number) {
    const pages: string[][] = [];
    let cursor: string | undefined;
    do {
      const res = await app.inject({
        url: `/v1/calls?limit=${limit}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`,
        headers: AUTH,
      });
      expect(res.statusCode, res.body).toBe(200);
      pages.push(res.json().calls.map((c: { id: string }) => c.id));
      cursor = res.json().nextCursor;
      expect(pages.length).toBeLessThan(30);
    } while (cursor);
    return pages;
  }

  it.each([1, 3, 5, 7, 16, 20])(
    'pages through every call in progress once, in id order, %s per page',
    async (limit) => {
      const pages = await allPages(limit);
      expect(pages.flat()).toEqual([...callIds].sort());
      // Full pages until the last (which may be empty: the rooms after the last call are
      // meetings, examined on one more request).
      for (const page of pages.slice(0, -1)) expect(page).toHaveLength(limit);
      expect(pages.at(-1)!.length).toBeLessThanOrEqual(limit);
    },
  );

  it('gives no cursor when one page holds every call', async () => {
    const all = await app.inject({ url: '/v1/calls?limit=100', headers: AUTH });
    expect(all.json().calls).toHaveLength(20);
    expect(all.json().nextCursor).toBeUndefined();
  });

  it('skips a call whose room ended after ListRooms (LiveKit then lists no participants), and lists the rest', async () => {
    const rooms = app.deps.livekit.rooms;
    const sorted = [...callIds].sort();
    const victim = sorted[7]!;
    const listParticipants = rooms.listParticipants.bind(rooms);
    const admin = new RoomServiceClient(lk.url, lk.apiKey, lk.apiSecret);
    // The room is there when the rooms are listed, and gone by the time its participants are.
    const spy = vi.spyOn(rooms, 'listParticipants').mockImplementation(async (room: string) => {
      if (room === victim) await admin.deleteRoom(victim);
      return listParticipants(room);
    });
    try {
      const pages = await allPages(4);
      expect(pages.flat()).toEqual(sorted.filter((id) => id !== victim));
      expect(spy.mock.calls.map(([room]) => room)).toContain(victim);
    } finally {
      spy.mockRestore();
    }
  });
  it('skips a call LiveKit no longer knows when its participants are asked for (psrpc: not found)', async () => {
    const rooms = app.deps.livekit.rooms;
    // The calls in progress now (the test before ended one).
    const sorted = (await allPages(100)).flat();
    expect(sorted.length).toBeGreaterThan(12);
    const victim = sorted[11]!;
    const listParticipants = rooms.listParticipants.bind(rooms);
    // A LiveKit that asks the room's node (EnablePsrpcForGetListParticipants) answers not_found
    // for a room that ended after ListRooms.
    const spy = vi.spyOn(rooms, 'listParticipants').mockImplementation(async (room: string) => {
      if (room === victim) {
        throw new ServerError('twirp error', 'room not found', 404, 'not_found');
      }
      return listParticipants(room);
    });
    try {
      const pages = await allPages(4);
      expect(pages.flat()).toEqual(sorted.filter((id) => id !== victim));
      expect(spy.mock.calls.map(([room]) => room)).toContain(victim);
    } finally {
      spy.mockRestore();
    }
  });
});

describe('hanging up and transferring while LiveKit is down', () => {
  let lk: Standin;
  let proxy: SwitchableProxy;
  let app: FastifyInstance;
  let trunkId: string;

  beforeAll(async () => {
    lk = await startLiveKitStandin({ answerDelayMs: 20 });
    trunkId = await createOutboundTrunk(lk);
    proxy = await proxyTo(lk.url);
    app = await appFor(lk, { LIVEKIT_URL: proxy.url(), DEFAULT_OUTBOUND_TRUNK_ID: trunkId });
  });
  afterAll(async () => {
    await app.close();
    await proxy.down();
    await lk.close();
  });

  it('answers 503 PA_ERR_LIVEKIT_UNAVAILABLE (never 404 or 500), and works once LiveKit is back', async () => {
    const placed = await postCall(app, { to: NUMBERS.answers, agent, waitUntilAnswered: true });
    expect(placed.statusCode, placed.body).toBe(201);
    const id = placed.json().id;

    await proxy.down();
    const transfer = () =>
      app.inject({
        method: 'POST',
        url: `/v1/calls/${id}/transfer`,
        headers: AUTH,
        payload: { to: 'sip:desk@pbx.example.com' },
      });
    const hangUp = () => app.inject({ method: 'DELETE', url: `/v1/calls/${id}`, headers: AUTH });
    for (const res of [await transfer(), await hangUp()]) {
      expect(res.statusCode, res.body).toBe(503);
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(res.json()).toMatchObject({ code: 'PA_ERR_LIVEKIT_UNAVAILABLE', status: 503 });
    }
    // Nothing happened to the call.
    expect(lk.state.rooms.has(id)).toBe(true);
    expect([...lk.state.calls.values()].find((c) => c.room === id)?.transfers).toEqual([]);

    await proxy.up();
    expect((await hangUp()).statusCode).toBe(204);
    expect(lk.state.rooms.has(id)).toBe(false);
  });
});
