/**
 * The LiveKit stand-in, exercised through the unmodified livekit-server-sdk over real HTTP:
 * wire format, auth, SIP rules, dialing outcomes, transfers, rooms, dispatch and webhooks.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  AccessToken,
  AgentDispatchClient,
  RoomServiceClient,
  ServerError,
  SipCallError,
  SipClient,
  WebhookReceiver,
} from 'livekit-server-sdk';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { isE164 } from '../src/core/phone.js';
import { NUMBERS, type Standin, startLiveKitStandin } from './standin/index.js';

const ANSWER_MS = 30;

async function token(
  lk: Standin,
  grants: { video?: Record<string, unknown>; sip?: { admin?: boolean; call?: boolean } },
  ttl: number | string = '10m',
) {
  const at = new AccessToken(lk.apiKey, lk.apiSecret, { ttl });
  if (grants.video) at.addGrant(grants.video);
  if (grants.sip) at.addSIPGrant(grants.sip);
  return at.toJwt();
}

async function rpc(
  lk: Standin,
  path: string,
  body: unknown,
  headers: Record<string, string>,
): Promise<Response> {
  return fetch(`${lk.url}/twirp/livekit.${path}`, {
    method: 'POST',
    headers,
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

/** A test with a fresh stand-in and SIP client of its own (trunks and rules start empty). */
const withStandin = it.extend<{ lk: Standin; sip: SipClient }>({
  // biome-ignore lint/correctness/noEmptyPattern: vitest reads a fixture's dependencies from it
  lk: async ({}, use) => {
    const lk = await startLiveKitStandin({ answerDelayMs: ANSWER_MS });
    await use(lk);
    await lk.close();
  },
  sip: async ({ lk }, use) => use(new SipClient(lk.url, lk.apiKey, lk.apiSecret)),
});

/** Runs `fn`, expecting it to throw; returns the error. */
async function failure<T = ServerError>(fn: () => Promise<unknown>): Promise<T> {
  try {
    await fn();
  } catch (err) {
    return err as T;
  }
  throw new Error('expected the call to fail');
}

describe('stand-in numbers', () => {
  it('are valid E.164 numbers', () => {
    for (const n of Object.values(NUMBERS)) expect(isE164(n), n).toBe(true);
  });
});

describe('wire protocol and auth', () => {
  let lk: Standin;
  beforeAll(async () => {
    lk = await startLiveKitStandin({ answerDelayMs: ANSWER_MS });
  });
  afterAll(() => lk.close());

  it('answers protobuf-JSON in snake_case with every field, null for unset messages', async () => {
    const res = await rpc(
      lk,
      'SIP/CreateSIPInboundTrunk',
      { trunk: { name: 'in', numbers: ['+14155550199'], unknownField: 1 } },
      {
        'Content-Type': 'application/json;charset=UTF-8',
        Authorization: `Bearer ${await token(lk, { sip: { admin: true } })}`,
      },
    );
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/json');
    const body = (await res.json()) as Record<string, unknown>;
    expect(body.sip_trunk_id).toMatch(/^ST_\w{12}$/);
    expect(body).toMatchObject({ name: 'in', numbers: ['+14155550199'], allowed_numbers: [] });
    expect(body.ringing_timeout).toBeNull();
    expect(body.media).toBeNull();
    expect(body).not.toHaveProperty('sipTrunkId');
  });

  it('answers an unknown method with twirp bad_route 404', async () => {
    const auth = `Bearer ${await token(lk, { sip: { admin: true } })}`;
    const res = await rpc(
      lk,
      'SIP/NoSuchMethod',
      {},
      { 'Content-Type': 'application/json', Authorization: auth },
    );
    expect(res.status).toBe(404);
    expect(res.headers.get('content-type')).toBe('application/json');
    expect(await res.json()).toEqual({
      code: 'bad_route',
      msg: 'no handler for path "/twirp/livekit.SIP/NoSuchMethod"',
      meta: { twirp_invalid_route: 'POST /twirp/livekit.SIP/NoSuchMethod' },
    });
  });

  it('rejects other content types and undecodable JSON', async () => {
    const auth = `Bearer ${await token(lk, { sip: { admin: true } })}`;
    const text = await rpc(lk, 'SIP/ListSIPInboundTrunk', '{}', {
      'Content-Type': 'text/plain',
      Authorization: auth,
    });
    expect(text.status).toBe(404);
    expect(((await text.json()) as { code: string }).code).toBe('bad_route');
    const bad = await rpc(lk, 'SIP/ListSIPInboundTrunk', '{nope', {
      'Content-Type': 'application/json',
      Authorization: auth,
    });
    expect(bad.status).toBe(400);
    expect(await bad.json()).toEqual({
      code: 'malformed',
      msg: 'the json request could not be decoded',
    });
  });

  it('answers auth failures in plain text 401', async () => {
    const json = { 'Content-Type': 'application/json' };
    const noBearer = await rpc(
      lk,
      'SIP/ListSIPInboundTrunk',
      {},
      { ...json, Authorization: 'Token abc' },
    );
    expect(noBearer.status).toBe(401);
    expect(noBearer.headers.get('content-type')).toMatch(/^text\/plain/);
    expect(await noBearer.text()).toBe('invalid authorization header. Must start with Bearer ');

    const garbage = await rpc(
      lk,
      'SIP/ListSIPInboundTrunk',
      {},
      { ...json, Authorization: 'Bearer not-a-jwt' },
    );
    expect(await garbage.text()).toBe('invalid authorization token');

    const forged = new AccessToken(lk.apiKey, 'another-secret-another-secret-123');
    forged.addSIPGrant({ admin: true });
    const badSig = await rpc(
      lk,
      'SIP/ListSIPInboundTrunk',
      {},
      {
        ...json,
        Authorization: `Bearer ${await forged.toJwt()}`,
      },
    );
    expect(badSig.status).toBe(401);
    expect(await badSig.text()).toBe(
      'invalid authorization token: token signature is invalid: signature is invalid',
    );

    const expired = await rpc(
      lk,
      'SIP/ListSIPInboundTrunk',
      {},
      {
        ...json,
        Authorization: `Bearer ${await token(lk, { sip: { admin: true } }, -120)}`,
      },
    );
    expect(await expired.text()).toBe(
      'invalid authorization token: token has invalid claims: token is expired',
    );

    const otherKey = new AccessToken('APIother', lk.apiSecret);
    const unknownKey = await rpc(
      lk,
      'SIP/ListSIPInboundTrunk',
      {},
      {
        ...json,
        Authorization: `Bearer ${await otherKey.toJwt()}`,
      },
    );
    expect(await unknownKey.text()).toBe('invalid API key');
  });

  it('answers a token without the grant with unauthenticated 401 "permissions denied"', async () => {
    const videoOnly = await token(lk, { video: { roomCreate: true } });
    const sip = new SipClient(lk.url, lk.apiKey, lk.apiSecret, { token: videoOnly });
    const err = await failure(() => sip.listSipInboundTrunk());
    expect(err).toBeInstanceOf(ServerError);
    expect(err).toMatchObject({
      status: 401,
      code: 'unauthenticated',
      message: 'permissions denied',
    });

    // roomAdmin is scoped to the token's room.
    const otherRoom = await token(lk, { video: { roomAdmin: true, room: 'a' } });
    const rooms = new RoomServiceClient(lk.url, lk.apiKey, lk.apiSecret, { token: otherRoom });
    await expect(rooms.listParticipants('b')).rejects.toMatchObject({
      status: 401,
      code: 'unauthenticated',
    });
    expect(lk.requests.at(-1)).toMatchObject({
      method: 'ListParticipants',
      status: 401,
      code: 'unauthenticated',
    });
    expect(lk.requests.at(-1)?.grants?.video).toMatchObject({ roomAdmin: true, room: 'a' });
  });

  it('records every RPC with its camelCase body and grants', async () => {
    const sip = new SipClient(lk.url, lk.apiKey, lk.apiSecret);
    await sip.listSipInboundTrunk({ numbers: ['+14155550199'] });
    expect(lk.requests.at(-1)).toMatchObject({
      service: 'SIP',
      method: 'ListSIPInboundTrunk',
      body: { numbers: ['+14155550199'] },
      grants: { sip: { admin: true } },
      status: 200,
    });
  });
});

describe('SIP unavailable', () => {
  it('answers every SIP call 500 sip not connected', async () => {
    const lk = await startLiveKitStandin({ sipAvailable: false });
    try {
      const sip = new SipClient(lk.url, lk.apiKey, lk.apiSecret);
      const err = await failure(() =>
        sip.createSipOutboundTrunk('o', 'sip.example.com', ['+14155550100']),
      );
      expect(err).toMatchObject({ status: 500, code: 'internal' });
      expect(err.message).toContain('sip not connected (redis required)');
      await expect(sip.createSipParticipant('ST_x', NUMBERS.answers, 'r')).rejects.toMatchObject({
        status: 500,
      });
    } finally {
      await lk.close();
    }
  });
});

describe('SIP trunks and dispatch rules', () => {
  withStandin('requires a security setting on inbound trunks', async ({ sip }) => {
    const err = await failure(() => sip.createSipInboundTrunk('open', []));
    expect(err).toMatchObject({
      status: 400,
      code: 'invalid_argument',
      message:
        'for security, one of the fields must be set: AuthUsername+AuthPassword, AllowedAddresses or Numbers',
    });
    await expect(
      sip.createSipInboundTrunk('auth', [], { authUsername: 'u', authPassword: 'p' }),
    ).resolves.toBeTruthy();
  });

  withStandin(
    'refuses inbound trunks sharing a number unless one restricts allowed numbers',
    async ({ sip }) => {
      const first = await sip.createSipInboundTrunk('a', ['+14155550199']);
      const err = await failure(() =>
        sip.createSipInboundTrunk('b', ['+14155550199', '+14155550198']),
      );
      expect(err.message).toBe(
        `Conflicting inbound SIP Trunks: "<new>" and "${first.sipTrunkId}", using the same number(s) ["+14155550199" "+14155550198"] without AllowedNumbers set`,
      );
      expect(err.status).toBe(400);
      await expect(
        sip.createSipInboundTrunk('c', ['+14155550199'], { allowedNumbers: ['+14155550111'] }),
      ).resolves.toMatchObject({ allowedNumbers: ['+14155550111'] });
      // Two wildcard (number-less) trunks conflict as well.
      await sip.createSipInboundTrunk('w1', [], { allowedAddresses: ['10.0.0.1'] });
      await expect(
        sip.createSipInboundTrunk('w2', [], { allowedAddresses: ['10.0.0.2'] }),
      ).rejects.toThrow(
        /Conflicting inbound SIP Trunks: "<new>" and "ST_\w+", using the same number\(s\) <any>/,
      );
    },
  );

  withStandin('validates outbound trunks', async ({ sip }) => {
    await expect(sip.createSipOutboundTrunk('o', 'sip.example.com', [])).rejects.toThrow(
      'no trunk numbers specified',
    );
    await expect(sip.createSipOutboundTrunk('o', '', ['+14155550100'])).rejects.toThrow(
      'no outbound address specified',
    );
    await expect(
      sip.createSipOutboundTrunk('o', 'sip:carrier.example.com', ['+14155550100']),
    ).rejects.toMatchObject({
      code: 'invalid_argument',
      message: 'trunk address should be a hostname or IP, not SIP URI',
    });
  });

  withStandin('lists with filters, updates and deletes trunks', async ({ sip }) => {
    const a = await sip.createSipInboundTrunk('a', ['+14155550199']);
    const b = await sip.createSipInboundTrunk('b', ['+14155550198']);
    expect(
      (await sip.listSipInboundTrunk({ numbers: ['+14155550198'] })).map((t) => t.sipTrunkId),
    ).toEqual([b.sipTrunkId]);
    expect(
      (await sip.listSipInboundTrunk({ trunkIds: [a.sipTrunkId] })).map((t) => t.name),
    ).toEqual(['a']);

    const updated = await sip.updateSipInboundTrunkFields(a.sipTrunkId, {
      name: 'a2',
      numbers: { add: ['+14155550197'] },
    } as never);
    expect(updated).toMatchObject({ name: 'a2', numbers: ['+14155550199', '+14155550197'] });
    // Updating into another trunk's number conflicts like a create.
    await expect(
      sip.updateSipInboundTrunkFields(a.sipTrunkId, {
        numbers: { add: ['+14155550198'] },
      } as never),
    ).rejects.toThrow(/Conflicting inbound SIP Trunks/);
    await expect(
      sip.updateSipInboundTrunkFields('ST_missing', { name: 'x' } as never),
    ).rejects.toMatchObject({ status: 404, message: 'requested sip trunk does not exist' });

    const out = await sip.createSipOutboundTrunk('o', 'sip.example.com', ['+14155550100']);
    const replaced = await sip.updateSipOutboundTrunk(out.sipTrunkId, {
      name: 'o2',
      address: 'sip2.example.com',
      numbers: ['+14155550101'],
    } as never);
    expect(replaced).toMatchObject({ sipTrunkId: out.sipTrunkId, address: 'sip2.example.com' });
    // A field update changes the fields it sets and keeps the others.
    const patched = await sip.updateSipOutboundTrunkFields(out.sipTrunkId, {
      name: 'o3',
      destinationCountry: 'US',
    });
    expect(patched).toMatchObject({
      name: 'o3',
      destinationCountry: 'US',
      address: 'sip2.example.com',
      numbers: ['+14155550101'],
    });

    // Lists come back in id order, as from LiveKit's redis store, not in creation order.
    const ids = (await sip.listSipInboundTrunk()).map((t) => t.sipTrunkId);
    expect(ids).toEqual([a.sipTrunkId, b.sipTrunkId].sort());

    await sip.deleteSipTrunk(a.sipTrunkId);
    await expect(sip.deleteSipTrunk('ST_never_existed')).resolves.toMatchObject({
      sipTrunkId: 'ST_never_existed',
    });
    expect((await sip.listSipInboundTrunk()).map((t) => t.sipTrunkId)).toEqual([b.sipTrunkId]);
  });

  withStandin(
    'requires a rule and refuses duplicate trunk/number/PIN combinations',
    async ({ lk, sip }) => {
      const res = await rpc(
        lk,
        'SIP/CreateSIPDispatchRule',
        { name: 'empty' },
        {
          'Content-Type': 'application/json',
          Authorization: `Bearer ${await token(lk, { sip: { admin: true } })}`,
        },
      );
      expect(res.status).toBe(400);
      expect(await res.json()).toEqual({ code: 'invalid_argument', msg: 'missing rule' });

      const trunk = await sip.createSipInboundTrunk('in', ['+14155550199']);
      const first = await sip.createSipDispatchRule(
        { type: 'individual', roomPrefix: 'call' },
        { name: 'main', trunkIds: [trunk.sipTrunkId] },
      );
      expect(first.sipDispatchRuleId).toMatch(/^SDR_/);
      const err = await failure(() =>
        sip.createSipDispatchRule(
          { type: 'direct', roomName: 'lobby' },
          { name: 'dup', trunkIds: [trunk.sipTrunkId] },
        ),
      );
      expect(err).toMatchObject({
        status: 400,
        code: 'invalid_argument',
        message: `Dispatch rule for the same trunk, inbound number, number, and PIN combination already exists in dispatch rule "${first.sipDispatchRuleId}" "main"`,
      });
      // A PIN or a wildcard trunk is a different combination.
      await sip.createSipDispatchRule(
        { type: 'direct', roomName: 'lobby', pin: '1234' },
        { trunkIds: [trunk.sipTrunkId] },
      );
      await sip.createSipDispatchRule({ type: 'callee', roomPrefix: 'c' }, { name: 'any' });

      const renamed = await sip.updateSipDispatchRuleFields(first.sipDispatchRuleId, {
        name: 'renamed',
      } as never);
      expect(renamed.name).toBe('renamed');
      expect(
        (await sip.listSipDispatchRule({ dispatchRuleIds: [first.sipDispatchRuleId] })).length,
      ).toBe(1);
      await sip.deleteSipDispatchRule(first.sipDispatchRuleId);
      const missing = await failure(() => sip.deleteSipDispatchRule(first.sipDispatchRuleId));
      expect(missing).toMatchObject({
        status: 404,
        code: 'not_found',
        message: 'requested sip dispatch rule does not exist',
      });
    },
  );
});

describe('outbound calls', () => {
  let lk: Standin;
  let sip: SipClient;
  let rooms: RoomServiceClient;
  let trunkId: string;
  beforeAll(async () => {
    lk = await startLiveKitStandin({ answerDelayMs: ANSWER_MS });
    sip = new SipClient(lk.url, lk.apiKey, lk.apiSecret);
    rooms = new RoomServiceClient(lk.url, lk.apiKey, lk.apiSecret);
    trunkId = (await sip.createSipOutboundTrunk('out', 'sip.example.com', ['+14155550100']))
      .sipTrunkId;
  });
  afterAll(() => lk.close());

  it('answers, with the SIP participant and its attributes in the room', async () => {
    const info = await sip.createSipParticipant(trunkId, NUMBERS.answers, 'out-1', {
      participantIdentity: 'callee',
      participantAttributes: { campaign: 'c1' },
      headers: { 'X-Campaign': 'c1', Other: 'o' },
      includeHeaders: 1,
      waitUntilAnswered: true,
    } as never);
    expect(info).toMatchObject({ participantIdentity: 'callee', roomName: 'out-1' });
    expect(info.participantId).toMatch(/^PA_/);
    expect(info.sipCallId).toMatch(/^SCL_/);
    const p = await rooms.getParticipant('out-1', 'callee');
    expect(p.kind).toBe(3);
    expect(p.attributes).toMatchObject({
      campaign: 'c1',
      'sip.callID': info.sipCallId,
      'sip.trunkID': trunkId,
      'sip.phoneNumber': NUMBERS.answers,
      'sip.trunkPhoneNumber': '+14155550100',
      'sip.callStatus': 'active',
      'sip.h.x-campaign': 'c1',
    });
    expect(p.attributes).not.toHaveProperty('sip.h.other');
    expect(lk.dispatches('out-1')).toEqual([]);
  });

  it('returns once joined without waitUntilAnswered, then rings and answers', async () => {
    const seen: string[] = [];
    lk.events.on('event', (e) => {
      if (e.room.name === 'out-2' && e.participant?.identity === 'callee') {
        seen.push(`${e.event}:${e.participant.attributes['sip.callStatus']}`);
      }
    });
    await sip.createSipParticipant(trunkId, NUMBERS.answers, 'out-2', {
      participantIdentity: 'callee',
    });
    expect((await rooms.getParticipant('out-2', 'callee')).attributes['sip.callStatus']).toBe(
      'dialing',
    );
    await lk.waitForEvent(
      (e) => e.room.name === 'out-2' && e.participant?.attributes['sip.callStatus'] === 'active',
    );
    expect(seen).toEqual([
      'participant_joined:dialing',
      'participant_attributes_changed:ringing',
      'participant_attributes_changed:active',
    ]);
  });

  it('keeps sip.callStatus frozen when an UpdateParticipant took canUpdateMetadata away', async () => {
    // LiveKit's SIP token grants canUpdateMetadata; livekit-sip sets the call's attributes as
    // the participant itself, which the server refuses once a restated permission left it out
    // (seen on the real stack: voice.AMD then waited for "active" forever).
    const slow = await startLiveKitStandin({ answerDelayMs: 400 });
    try {
      const slowSip = new SipClient(slow.url, slow.apiKey, slow.apiSecret);
      const slowRooms = new RoomServiceClient(slow.url, slow.apiKey, slow.apiSecret);
      const trunk = (
        await slowSip.createSipOutboundTrunk('out', 'sip.example.com', ['+14155550100'])
      ).sipTrunkId;
      const statusOf = async (room: string) =>
        (await slowRooms.getParticipant(room, 'callee')).attributes['sip.callStatus'];
      for (const [room, canUpdateMetadata] of [
        ['perm-kept', true],
        ['perm-lost', false],
      ] as const) {
        await slowSip.createSipParticipant(trunk, NUMBERS.answers, room, {
          participantIdentity: 'callee',
        });
        expect((await slowRooms.getParticipant(room, 'callee')).permission).toMatchObject({
          canSubscribe: true,
          canPublish: true,
          canPublishData: true,
          canUpdateMetadata: true,
        });
        await slowRooms.updateParticipant(room, 'callee', {
          permission: {
            canSubscribe: false,
            canPublish: true,
            canPublishData: true,
            canUpdateMetadata,
          },
        });
      }
      const answered = (room: string) =>
        [...slow.state.calls.values()].find((c) => c.room === room)?.answeredAt;
      await vi.waitFor(() => {
        expect(answered('perm-kept')).toBeDefined();
        expect(answered('perm-lost')).toBeDefined();
      });
      expect(await statusOf('perm-kept')).toBe('active');
      // Answered, but frozen at what it was when the permission changed.
      expect(await statusOf('perm-lost')).toMatch(/^(dialing|ringing)$/);
    } finally {
      await slow.close();
    }
  });

  it.each([
    [NUMBERS.busy, 486, 'Busy Here', 'resource_exhausted', 429],
    [NUMBERS.declined, 603, 'Decline', 'permission_denied', 403],
    [NUMBERS.unreachable, 503, 'Service Unavailable', 'failed_precondition', 412],
    [NUMBERS.notFound, 404, 'Not Found', 'not_found', 404],
    [NUMBERS.unavailable, 480, 'Temporarily Unavailable', 'resource_exhausted', 429],
  ])(
    'fails %s with SIP %i as a SipCallError and the participant leaves',
    async (number, sipCode, reason, code, status) => {
      const room = `fail-${sipCode}`;
      const err = await failure<SipCallError>(() =>
        sip.createSipParticipant(trunkId, number, room, {
          participantIdentity: 'callee',
          waitUntilAnswered: true,
        }),
      );
      expect(err).toBeInstanceOf(SipCallError);
      expect(err).toMatchObject({ status, code, sipStatusCode: sipCode, sipStatus: reason });
      expect(err.message).toBe(`SIP call failed: ${sipCode} ${reason} (${code})`);
      expect(lk.participants(room)).toEqual([]);
      const call = [...lk.state.calls.values()].find((c) => c.room === room);
      expect(call?.end).toEqual({ reason: 'failed', sipStatus: sipCode });
    },
  );

  it('cancels an unanswered call at the ringing timeout, without SIP status', async () => {
    const started = Date.now();
    const err = await failure(() =>
      sip.createSipParticipant(trunkId, NUMBERS.noAnswer, 'no-answer', {
        participantIdentity: 'callee',
        waitUntilAnswered: true,
        ringingTimeout: 1,
      }),
    );
    expect(Date.now() - started).toBeGreaterThanOrEqual(950);
    expect(err).toBeInstanceOf(ServerError);
    expect(err).not.toBeInstanceOf(SipCallError);
    expect(err).toMatchObject({
      status: 408,
      code: 'canceled',
      message: 'twirp error unknown: sip request timed out',
    });
    expect(err.metadata).toBeUndefined();
    expect(lk.participants('no-answer')).toEqual([]);
  });

  it('cancels the dial when the caller goes away before the answer', async () => {
    const ac = new AbortController();
    const pending = fetch(`${lk.url}/twirp/livekit.SIP/CreateSIPParticipant`, {
      method: 'POST',
      headers: {
        'Content-Type': 'application/json',
        Authorization: `Bearer ${await token(lk, { sip: { call: true } })}`,
      },
      body: JSON.stringify({
        sipTrunkId: trunkId,
        sipCallTo: NUMBERS.noAnswer,
        roomName: 'gone',
        participantIdentity: 'callee',
        waitUntilAnswered: true,
      }),
      signal: ac.signal,
    });
    await lk.waitForEvent((e) => e.room.name === 'gone' && e.event === 'participant_joined');
    const left = lk.waitForEvent((e) => e.room.name === 'gone' && e.event === 'participant_left');
    ac.abort();
    await expect(pending).rejects.toThrow();
    await left;
    const call = [...lk.state.calls.values()].find((c) => c.room === 'gone');
    expect(call?.end?.reason).toBe('canceled');
  });

  it('lets the far end answer early and hang up', async () => {
    lk.setOutcome('+14155550177', { kind: 'answer', delayMs: 10_000 });
    const pending = sip.createSipParticipant(trunkId, '+14155550177', 'far-end', {
      participantIdentity: 'callee',
      waitUntilAnswered: true,
    });
    await lk.waitForEvent((e) => e.room.name === 'far-end' && e.event === 'participant_joined');
    lk.setCallStatus('far-end', 'callee', 'active');
    await expect(pending).resolves.toMatchObject({ participantIdentity: 'callee' });
    const left = lk.waitForEvent(
      (e) => e.room.name === 'far-end' && e.event === 'participant_left',
    );
    lk.hangup('far-end', 'callee');
    expect((await left).participant?.attributes['sip.callStatus']).toBe('hangup');
  });

  it('validates the request like LiveKit', async () => {
    await expect(sip.createSipParticipant('', NUMBERS.answers, 'r')).rejects.toMatchObject({
      status: 400,
      message: 'missing sip trunk id and sip number',
    });
    await expect(sip.createSipParticipant(trunkId, '', 'r')).rejects.toThrow(
      'missing sip callee number',
    );
    await expect(sip.createSipParticipant(trunkId, 'sip:bob@example.com', 'r')).rejects.toThrow(
      'SipCallTo should be a phone number or SIP user, not a full SIP URI',
    );
    await expect(sip.createSipParticipant(trunkId, NUMBERS.answers, '')).rejects.toThrow(
      'missing room name',
    );
    await expect(
      sip.createSipParticipant('ST_missing', NUMBERS.answers, 'r'),
    ).rejects.toMatchObject({
      status: 404,
      code: 'not_found',
      message: 'requested sip trunk does not exist',
    });
    const noGrant = new SipClient(lk.url, lk.apiKey, lk.apiSecret, {
      token: await token(lk, { sip: { admin: true } }),
    });
    await expect(noGrant.createSipParticipant(trunkId, NUMBERS.answers, 'r')).rejects.toMatchObject(
      {
        status: 401,
        message: 'permissions denied',
      },
    );
  });
});

describe('transfers', () => {
  let lk: Standin;
  let sip: SipClient;
  let trunkId: string;
  beforeAll(async () => {
    lk = await startLiveKitStandin({ answerDelayMs: ANSWER_MS });
    sip = new SipClient(lk.url, lk.apiKey, lk.apiSecret);
    trunkId = (await sip.createSipOutboundTrunk('out', 'sip.example.com', ['+14155550100']))
      .sipTrunkId;
  });
  afterAll(() => lk.close());

  const connect = (room: string) =>
    sip.createSipParticipant(trunkId, NUMBERS.answers, room, {
      participantIdentity: 'caller',
      waitUntilAnswered: true,
    });

  it('transfers an answered call; the SIP participant leaves', async () => {
    await connect('t-ok');
    await sip.transferSipParticipant('t-ok', 'caller', `tel:${NUMBERS.answers2}`);
    expect(lk.participants('t-ok')).toEqual([]);
    const call = [...lk.state.calls.values()].find((c) => c.room === 't-ok');
    expect(call?.transfers).toEqual([
      { to: `tel:${NUMBERS.answers2}`, result: 'ok', sipStatus: 200 },
    ]);
  });

  it('reports a busy target with SIP metadata and keeps the caller', async () => {
    await connect('t-busy');
    const err = await failure<SipCallError>(() =>
      sip.transferSipParticipant('t-busy', 'caller', `sip:${NUMBERS.busy}@pbx.example.com`),
    );
    expect(err).toBeInstanceOf(SipCallError);
    expect(err).toMatchObject({ code: 'resource_exhausted', sipStatusCode: 486 });
    expect(lk.participants('t-busy').map((p) => p.identity)).toEqual(['caller']);
  });

  it('validates the target and the participant', async () => {
    await connect('t-val');
    await expect(
      sip.transferSipParticipant('t-val', 'caller', NUMBERS.answers2),
    ).rejects.toMatchObject({
      code: 'invalid_argument',
      message: 'transfer_to must be a valid SIP(s) or TEL URI (sip:, sips: or tel:)',
    });
    lk.joinParticipant('t-val', { identity: 'agent', kind: 'agent' });
    await expect(
      sip.transferSipParticipant('t-val', 'agent', `tel:${NUMBERS.answers2}`),
    ).rejects.toMatchObject({
      status: 400,
      message: 'twirp error unknown: no SIP session associated with participant',
    });
    await expect(
      sip.transferSipParticipant('t-val', 'ghost', `tel:${NUMBERS.answers2}`),
    ).rejects.toMatchObject({
      status: 404,
      message: 'twirp error unknown: participant does not exist',
    });
  });

  it('refuses a second concurrent transfer elsewhere', async () => {
    lk.setOutcome('+14155550166', { kind: 'answer', delayMs: 300 });
    await connect('t-twice');
    const first = sip.transferSipParticipant('t-twice', 'caller', 'tel:+14155550166');
    await new Promise((r) => setTimeout(r, 50));
    await expect(
      sip.transferSipParticipant('t-twice', 'caller', `tel:${NUMBERS.answers2}`),
    ).rejects.toMatchObject({
      code: 'invalid_argument',
      message: 'twirp error unknown: call already being transferred elsewhere',
    });
    await expect(first).resolves.toBeUndefined();
  });
});

describe('rooms and agent dispatch', () => {
  let lk: Standin;
  let rooms: RoomServiceClient;
  let dispatch: AgentDispatchClient;
  beforeAll(async () => {
    lk = await startLiveKitStandin({ answerDelayMs: ANSWER_MS });
    rooms = new RoomServiceClient(lk.url, lk.apiKey, lk.apiSecret);
    dispatch = new AgentDispatchClient(lk.url, lk.apiKey, lk.apiSecret);
  });
  afterAll(() => lk.close());

  it('dispatches the agents of CreateRoom and CreateDispatch', async () => {
    const room = await rooms.createRoom({
      name: 'r1',
      agents: [{ agentName: 'receptionist', metadata: '{"x":1}' }],
    } as never);
    expect(room.sid).toMatch(/^RM_/);
    const d = await dispatch.createDispatch('r2', 'sales', { metadata: 'm' });
    expect(d.id).toMatch(/^AD_/);
    expect((await dispatch.listDispatch('r1')).map((x) => [x.agentName, x.metadata])).toEqual([
      ['receptionist', '{"x":1}'],
    ]);
    expect((await rooms.listRooms(['r2'])).map((r) => r.name)).toEqual(['r2']);
    await dispatch.deleteDispatch(d.id, 'r2');
    expect(await dispatch.listDispatch('r2')).toEqual([]);
  });

  it('manages participants', async () => {
    await rooms.createRoom({ name: 'p1' });
    lk.joinParticipant('p1', { identity: 'alice' });
    const updated = await rooms.updateParticipant('p1', 'alice', {
      attributes: { mood: 'good' },
      metadata: 'md',
    });
    expect(updated).toMatchObject({
      identity: 'alice',
      metadata: 'md',
      attributes: { mood: 'good' },
    });
    await rooms.sendData('p1', new TextEncoder().encode('hi'), 0, { topic: 't' });
    expect(lk.state.sentData.at(-1)).toMatchObject({ room: 'p1', topic: 't' });
    await rooms.removeParticipant('p1', 'alice');
    await expect(rooms.getParticipant('p1', 'alice')).rejects.toMatchObject({
      status: 404,
      code: 'not_found',
      message: 'twirp error unknown: participant does not exist',
    });
    await expect(rooms.deleteRoom('nope')).rejects.toMatchObject({
      status: 404,
      message: 'twirp error unknown: requested room does not exist',
    });
  });

  it('closes rooms nobody joins after emptyTimeout and emptied rooms after departureTimeout', async () => {
    const quick = await startLiveKitStandin({ emptyTimeoutMs: 30, departureTimeoutMs: 30 });
    try {
      const client = new RoomServiceClient(quick.url, quick.apiKey, quick.apiSecret);
      await client.createRoom({ name: 'idle' });
      await quick.waitForEvent((e) => e.event === 'room_finished' && e.room.name === 'idle', 1_000);
      await client.createRoom({ name: 'used' });
      quick.joinParticipant('used', { identity: 'x' });
      await new Promise((r) => setTimeout(r, 60));
      expect((await client.listRooms()).map((r) => r.name)).toEqual(['used']);
      quick.leaveParticipant('used', 'x');
      await quick.waitForEvent((e) => e.event === 'room_finished' && e.room.name === 'used', 1_000);
      expect(await client.listRooms()).toEqual([]);
    } finally {
      await quick.close();
    }
  });

  it('does not implement Move/ForwardParticipant (self-hosted)', async () => {
    await expect(rooms.moveParticipant('p1', 'alice', 'other')).rejects.toMatchObject({
      status: 501,
      code: 'unimplemented',
    });
  });
});

describe('inbound calls', () => {
  withStandin('routes by trunk and rule, dispatching the rule agents', async ({ lk, sip }) => {
    const trunk = await sip.createSipInboundTrunk('in', ['+14155550199']);
    const rule = await sip.createSipDispatchRule(
      { type: 'individual', roomPrefix: 'call' },
      {
        trunkIds: [trunk.sipTrunkId],
        attributes: { tenant: 't1' },
        roomConfig: {
          agents: [{ agentName: 'phone-agent', metadata: '{"flow":"main"}' }],
        } as never,
      },
    );
    const call = await lk.simulateInboundCall({ from: '+14155550111', to: '+14155550199' });
    expect(call.room).toMatch(/^call_\+14155550111_\w+$/);
    expect(call.identity).toBe('sip_+14155550111');
    const [p] = lk.participants(call.room);
    expect(p?.attributes).toMatchObject({
      tenant: 't1',
      'sip.ruleID': rule.sipDispatchRuleId,
      'sip.trunkID': trunk.sipTrunkId,
      'sip.phoneNumber': '+14155550111',
      'sip.trunkPhoneNumber': '+14155550199',
      'sip.callStatus': 'ringing',
    });
    expect(lk.dispatches(call.room).map((d) => d.agentName)).toEqual(['phone-agent']);
    await lk.waitForEvent(
      (e) => e.room.name === call.room && e.participant?.attributes['sip.callStatus'] === 'active',
    );
  });

  withStandin(
    'prefers the trunk-specific rule, names callee rooms and hides numbers',
    async ({ lk, sip }) => {
      const trunk = await sip.createSipInboundTrunk('in', ['+14155550199']);
      await sip.createSipDispatchRule({ type: 'direct', roomName: 'wildcard' }, {});
      await sip.createSipDispatchRule(
        { type: 'callee', roomPrefix: 'line' },
        { trunkIds: [trunk.sipTrunkId], hidePhoneNumber: true },
      );
      const call = await lk.simulateInboundCall({ from: '+14155550111', to: '+14155550199' });
      expect(call.room).toBe('line_+14155550199');
      expect(call.identity).toMatch(/^sip_[0-9a-f]{16}$/);
      const [p] = lk.participants(call.room);
      expect(p?.attributes).not.toHaveProperty('sip.phoneNumber');
    },
  );

  withStandin('rejects a call no trunk accepts', async ({ lk, sip }) => {
    await sip.createSipInboundTrunk('in', ['+14155550199']);
    await sip.createSipDispatchRule({ type: 'direct', roomName: 'x' }, {});
    await expect(
      lk.simulateInboundCall({ from: '+14155550111', to: '+14155550198' }),
    ).rejects.toThrow(/No SIP Trunk/);
  });
});

describe('webhooks', () => {
  let receiver: Server;
  let received: { body: string; auth: string; type: string | undefined }[];
  let lk: Standin;
  beforeAll(async () => {
    received = [];
    receiver = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        received.push({
          body: Buffer.concat(chunks).toString('utf8'),
          auth: req.headers.authorization ?? '',
          type: req.headers['content-type'],
        });
        res.end();
      });
    });
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
    const { port } = receiver.address() as AddressInfo;
    lk = await startLiveKitStandin({
      answerDelayMs: ANSWER_MS,
      webhookUrl: `http://127.0.0.1:${port}/hooks`,
      departureTimeoutMs: 20,
    });
  });
  afterAll(async () => {
    await lk.close();
    await new Promise((r) => receiver.close(r));
  });

  it('posts signed events in order that WebhookReceiver verifies', async () => {
    const rooms = new RoomServiceClient(lk.url, lk.apiKey, lk.apiSecret);
    await rooms.createRoom({ name: 'wh' });
    lk.joinParticipant('wh', { identity: 'bob' });
    lk.leaveParticipant('wh', 'bob');
    await lk.waitForEvent((e) => e.event === 'room_finished' && e.room.name === 'wh');
    await lk.flushWebhooks();

    const verifier = new WebhookReceiver(lk.apiKey, lk.apiSecret);
    const events = [];
    for (const r of received) {
      expect(r.type).toBe('application/webhook+json');
      expect(r.auth).not.toMatch(/^Bearer /);
      events.push(await verifier.receive(r.body, r.auth));
    }
    expect(events.map((e) => e.event)).toEqual([
      'room_started',
      'participant_joined',
      'participant_left',
      'room_finished',
    ]);
    expect(events[1]?.participant?.identity).toBe('bob');
    expect(events[0]?.room?.name).toBe('wh');
    expect(events[0]?.id).toMatch(/^EV_/);

    // A body that does not match its signature is refused.
    const tampered = received[0]?.body.replace('"wh"', '"xx"') ?? '';
    await expect(verifier.receive(tampered, received[0]?.auth)).rejects.toThrow(/sha256/);
  });

  it('signs arbitrary events like LiveKit', async () => {
    const { body, authorization } = await lk.signWebhook({
      event: 'room_started',
      room: { name: 'x' },
    });
    const event = await new WebhookReceiver(lk.apiKey, lk.apiSecret).receive(body, authorization);
    expect(event.room?.name).toBe('x');
    await expect(
      new WebhookReceiver(lk.apiKey, 'wrong-secret-wrong-secret-wrong').receive(
        body,
        authorization,
      ),
    ).rejects.toThrow();
  });
});
