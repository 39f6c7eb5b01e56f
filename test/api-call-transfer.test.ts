/**
 * Cold transfer (SIP REFER) through POST /v1/calls/:id/transfer against the LiveKit stand-in:
 * tel:/sip: targets, SIP failures surfaced like dialing failures, unknown or unconnected calls.
 */
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { transferTarget } from '../src/core/phone.js';
import { NUMBERS, type Standin } from './standin/index.js';
import { AUTH, postCall, startCallsApi } from './support/calls.js';

describe('transfer targets', () => {
  it('reads tel:+E164, sip:/sips: user@host and bare E.164 (as tel:)', () => {
    expect(transferTarget('+14155550123')).toEqual({
      uri: 'tel:+14155550123',
      number: '+14155550123',
    });
    expect(transferTarget(' tel:+14155550123 ')).toEqual({
      uri: 'tel:+14155550123',
      number: '+14155550123',
    });
    // A developer's test number: possible, though libphonenumber never calls 555 valid.
    expect(transferTarget('+15551230000')?.number).toBe('+15551230000');
    expect(transferTarget('sip:support@pbx.example.com')).toEqual({
      uri: 'sip:support@pbx.example.com',
    });
    expect(transferTarget('sips:+14155550123@sip.example.com:5061;transport=tls')).toEqual({
      uri: 'sips:+14155550123@sip.example.com:5061;transport=tls',
    });
  });
  it('reads nothing else', () => {
    for (const bad of [
      '4155550123',
      'tel:4155550123',
      'tel:+1',
      'sip:pbx.example.com',
      'http://x',
      'sip:a@b c',
    ]) {
      expect(transferTarget(bad), bad).toBeUndefined();
    }
  });
});

describe('POST /v1/calls/:id/transfer', () => {
  let lk: Standin;
  let app: FastifyInstance;

  let close: () => Promise<void>;
  beforeAll(async () => {
    ({ lk, app, close } = await startCallsApi({ answerDelayMs: 30 }));
  });
  afterAll(() => close());

  /** An answered outbound call. */
  async function answeredCall(): Promise<string> {
    const res = await postCall(app, {
      to: NUMBERS.answers,
      agent: { name: 'phone-agent' },
      waitUntilAnswered: true,
    });
    expect(res.statusCode, res.body).toBe(201);
    return res.json().id;
  }
  const transfer = (id: string, payload: object) =>
    app.inject({ method: 'POST', url: `/v1/calls/${id}/transfer`, headers: AUTH, payload });

  it('transfers the phone participant with REFER and reports call.transferred', async () => {
    const id = await answeredCall();
    const res = await transfer(id, { to: '+14155550199' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ id, status: 'transferred', to: 'tel:+14155550199' });

    const rpc = lk.requests.find(
      (r) =>
        r.method === 'TransferSIPParticipant' && (r.body as { roomName?: string }).roomName === id,
    );
    expect(rpc?.body).toMatchObject({
      participantIdentity: 'callee',
      transferTo: 'tel:+14155550199',
    });
    const call = [...lk.state.calls.values()].find((c) => c.room === id);
    expect(call?.transfers).toEqual([{ to: 'tel:+14155550199', result: 'ok', sipStatus: 200 }]);
    expect(call?.end?.reason).toBe('transferred');
    expect(await app.deps.events.published('call.transferred', id)).toBe(true);
  });

  it('passes sip: targets through unchanged', async () => {
    const id = await answeredCall();
    const res = await transfer(id, { to: 'sip:support@pbx.example.com' });
    expect(res.statusCode).toBe(200);
    expect(res.json().to).toBe('sip:support@pbx.example.com');
  });

  it('surfaces a busy target as 409 PA_ERR_SIP_BUSY with the SIP status', async () => {
    const id = await answeredCall();
    const res = await transfer(id, { to: `tel:${NUMBERS.busy}` });
    expect(res.statusCode).toBe(409);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(res.json()).toMatchObject({
      code: 'PA_ERR_SIP_BUSY',
      sipStatusCode: 486,
      sipStatus: 'Busy Here',
    });
    // The call is still up: the callee stays in the room.
    const get = await app.inject({ url: `/v1/calls/${id}`, headers: AUTH });
    expect(get.json().status).toBe('active');
    expect(await app.deps.events.published('call.transferred', id)).toBe(false);
  });

  it('surfaces a declined target as 403 PA_ERR_SIP_DECLINED', async () => {
    const id = await answeredCall();
    const res = await transfer(id, { to: NUMBERS.declined });
    expect(res.statusCode).toBe(403);
    expect(res.json()).toMatchObject({ code: 'PA_ERR_SIP_DECLINED', sipStatusCode: 603 });
  });

  it('refuses a call that is not answered yet (412 from LiveKit)', async () => {
    lk.setOutcome('+14155550300', { kind: 'no-answer' });
    const res = await postCall(app, { to: '+14155550300', agent: { name: 'phone-agent' } });
    const t = await transfer(res.json().id, { to: '+14155550199' });
    expect(t.statusCode).toBe(412);
    expect(t.json().code).toBe('PA_ERR_LIVEKIT_PRECONDITION');
  });

  it('answers 404 for an unknown call, 409 for a room without a phone participant', async () => {
    const unknown = await transfer('call-nope', { to: '+14155550199' });
    expect(unknown.statusCode).toBe(404);
    expect(unknown.json().code).toBe('PA_ERR_CALL_NOT_FOUND');

    lk.joinParticipant('agents-only', { identity: 'agent-1', kind: 'agent' });
    const empty = await transfer('agents-only', { to: '+14155550199' });
    expect(empty.statusCode).toBe(409);
    expect(empty.json().code).toBe('PA_ERR_CALL_NOT_CONNECTED');
  });

  it('validates the target and the body', async () => {
    const id = await answeredCall();
    const before = lk.requests.filter((r) => r.method === 'TransferSIPParticipant').length;
    const bad = await transfer(id, { to: 'pbx.example.com' });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().code).toBe('PA_ERR_INVALID_TRANSFER_TARGET');
    const missing = await transfer(id, {});
    expect(missing.statusCode).toBe(400);
    expect(missing.json().detail).toMatch(/body\.to is required/);
    expect(lk.requests.filter((r) => r.method === 'TransferSIPParticipant').length).toBe(before);
  });

  it('needs an API key', async () => {
    const res = await app.inject({
      method: 'POST',
      url: '/v1/calls/call-x/transfer',
      payload: { to: '+14155550199' },
    });
    expect(res.statusCode).toBe(401);
  });
});
