/**
 * /v1/numbers: routing a phone number to an agent in one idempotent PUT, against the LiveKit
 * stand-in over real sockets. LiveKit holds all state; these tests read it there.
 */
import { SipClient } from 'livekit-server-sdk';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  expectAllUnauthorized,
  expectAllUnavailable,
  expectProblem,
  job,
  POOL,
  type RouteCall,
  type SipApi,
  startSipApi,
} from './support/sip-api-harness.js';

let api: SipApi;
const NUMBER = '+14155550123';
const PATH = `/v1/numbers/${encodeURIComponent(NUMBER)}`;
const CALLER = '+12125550100';
const WRITES = /^(Create|Update|Delete)/;

beforeAll(async () => {
  api = await startSipApi({ AGENT_NAME: POOL });
});
afterAll(() => api.close());
beforeEach(() => {
  api.lk.state.inboundTrunks.clear();
  api.lk.state.rules.clear();
});

const writesSince = (from: number) =>
  api
    .sipCalls(from)
    .filter((c) => WRITES.test(c.method))
    .map((c) => c.method);

describe('PUT /v1/numbers/:e164', () => {
  it('creates a trunk and an individual rule; a call to the number dispatches the agent', async () => {
    const res = await api.call('PUT', PATH, {
      agent: { name: 'receptionist', metadata: { greeting: 'hi' } },
    });
    expect(res.status).toBe(201);
    expect(res.body).toEqual({
      number: NUMBER,
      agent: { name: 'receptionist', metadata: { greeting: 'hi' } },
      roomPrefix: 'call',
      allowedAddresses: [],
      allowedNumbers: [],
      hidePhoneNumber: false,
      trunkId: expect.stringMatching(/^ST_/),
      dispatchRuleId: expect.stringMatching(/^SDR_/),
      status: 'active',
    });

    const trunk = api.lk.state.inboundTrunks.get(res.body.trunkId);
    expect(trunk?.numbers).toEqual([NUMBER]);
    expect(JSON.parse(trunk?.metadata ?? '')).toEqual({
      managedBy: 'phone-agents',
      number: NUMBER,
    });
    const rule = api.lk.state.rules.get(res.body.dispatchRuleId);
    expect(rule?.trunkIds).toEqual([res.body.trunkId]);
    expect(rule?.rule?.rule.case).toBe('dispatchRuleIndividual');
    expect(rule?.roomConfig?.agents.map((a) => [a.agentName, a.metadata])).toEqual([
      [POOL, job('receptionist', { greeting: 'hi' })],
    ]);

    const call = await api.lk.simulateInboundCall({ from: CALLER, to: NUMBER });
    expect(call.trunkId).toBe(res.body.trunkId);
    expect(call.room).toMatch(/^call_/);
    expect(api.lk.dispatches(call.room)).toEqual([
      expect.objectContaining({
        agentName: POOL,
        metadata: job('receptionist', { greeting: 'hi' }),
      }),
    ]);
  });

  it('agent.metadata as a JSON string (older clients) is the same routing: nothing to write', async () => {
    const first = await api.call('PUT', PATH, {
      agent: { name: 'receptionist', metadata: { greeting: 'hi' } },
    });
    const from = api.lk.requests.length;
    const again = await api.call('PUT', PATH, {
      agent: { name: 'receptionist', metadata: '{"greeting":"hi"}' },
    });
    expect(again.status).toBe(200);
    expect(again.body).toEqual(first.body);
    expect(writesSince(from)).toEqual([]);
  });

  it('converges a rule in the old format (agent as LiveKit agentName) on the next PUT', async () => {
    const first = await api.call('PUT', PATH, { agent: { name: 'receptionist' } });
    const stored = api.lk.state.rules.get(first.body.dispatchRuleId);
    const old = stored?.roomConfig?.agents[0];
    if (!old) throw new Error('no agent dispatch stored');
    // What earlier versions wrote: a dispatch no worker registered for.
    old.agentName = 'receptionist';
    old.metadata = '{"greeting":"hi"}';
    expect((await api.call('GET', PATH)).body.agent).toEqual({
      name: 'receptionist',
      metadata: '{"greeting":"hi"}',
    });
    const from = api.lk.requests.length;
    const res = await api.call('PUT', PATH, { agent: { name: 'receptionist' } });
    expect(res.status).toBe(200);
    expect(res.body.agent).toEqual({ name: 'receptionist', metadata: {} });
    expect(writesSince(from)).toEqual(['UpdateSIPDispatchRule']);
    expect(api.lk.state.rules.get(first.body.dispatchRuleId)?.roomConfig?.agents).toEqual([
      expect.objectContaining({ agentName: POOL, metadata: job('receptionist') }),
    ]);
  });

  it('is idempotent: the same PUT again writes nothing and answers the same routing', async () => {
    const body = {
      agent: { name: 'receptionist' },
      roomPrefix: 'inbound',
      allowedAddresses: ['203.0.113.0/24'],
      auth: { username: 'carrier', password: 'pw' },
      hidePhoneNumber: true,
    };
    const first = await api.call('PUT', PATH, body);
    expect(first.status).toBe(201);
    const from = api.lk.requests.length;
    const second = await api.call('PUT', PATH, body);
    expect(second.status).toBe(200);
    expect(second.body).toEqual(first.body);
    expect(writesSince(from)).toEqual([]);
    expect(api.lk.state.inboundTrunks.size).toBe(1);
    expect(api.lk.state.rules.size).toBe(1);
    expect(second.body).toMatchObject({ auth: { username: 'carrier' }, roomPrefix: 'inbound' });
    expect(JSON.stringify(second.body)).not.toContain('"pw"');
  });

  it('updates the agent and the trunk in place, without new objects', async () => {
    const first = await api.call('PUT', PATH, { agent: { name: 'a1' } });
    const from = api.lk.requests.length;
    const res = await api.call('PUT', PATH, {
      // Plain text from older clients is kept as { value }.
      agent: { name: 'a2', metadata: 'v2' },
      allowedNumbers: [CALLER],
    });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      trunkId: first.body.trunkId,
      dispatchRuleId: first.body.dispatchRuleId,
      agent: { name: 'a2', metadata: { value: 'v2' } },
      allowedNumbers: [CALLER],
    });
    expect(writesSince(from).sort()).toEqual(['UpdateSIPDispatchRule', 'UpdateSIPInboundTrunk']);
    expect(api.lk.state.rules.get(first.body.dispatchRuleId)?.roomConfig?.agents[0]).toMatchObject({
      agentName: POOL,
      metadata: job('a2', { value: 'v2' }),
    });

    // Leaving a field out of a PUT resets it to its default.
    const reset = await api.call('PUT', PATH, { agent: { name: 'a2', metadata: 'v2' } });
    expect(reset.body.allowedNumbers).toEqual([]);
  });

  it('accepts the number with a literal "+" in the path too', async () => {
    const res = await api.call('PUT', `/v1/numbers/${NUMBER}`, { agent: { name: 'a' } });
    expect(res.status).toBe(201);
    expect((await api.call('GET', PATH)).body).toEqual(res.body);
  });

  it('repairs a half-made routing: a missing rule is created, the trunk reused', async () => {
    const first = await api.call('PUT', PATH, { agent: { name: 'a' } });
    api.lk.state.rules.delete(first.body.dispatchRuleId);
    const broken = await api.call('GET', PATH);
    expect(broken.body).toMatchObject({ status: 'incomplete', dispatchRuleId: null });

    const res = await api.call('PUT', PATH, { agent: { name: 'a' } });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ status: 'active', trunkId: first.body.trunkId });
    expect(api.lk.state.inboundTrunks.size).toBe(1);
    expect(api.lk.state.rules.size).toBe(1);
  });

  it('repairs a rule whose trunk is gone: a new trunk, the rule pointed at it', async () => {
    const first = await api.call('PUT', PATH, { agent: { name: 'a' } });
    api.lk.state.inboundTrunks.delete(first.body.trunkId);
    expect((await api.call('GET', PATH)).body).toMatchObject({
      status: 'incomplete',
      trunkId: null,
    });
    const res = await api.call('PUT', PATH, { agent: { name: 'a' } });
    expect(res.body).toMatchObject({ status: 'active', dispatchRuleId: first.body.dispatchRuleId });
    expect(api.lk.state.rules.get(first.body.dispatchRuleId)?.trunkIds).toEqual([res.body.trunkId]);
  });

  it('two concurrent PUTs of a number end with one trunk and one rule', async () => {
    const results = await Promise.all([
      api.call('PUT', PATH, { agent: { name: 'a' } }),
      api.call('PUT', PATH, { agent: { name: 'b' } }),
    ]);
    expect(results.map((r) => r.status).sort()).toEqual([200, 201]);
    expect(api.lk.state.inboundTrunks.size).toBe(1);
    expect(api.lk.state.rules.size).toBe(1);
  });

  it('409 when the number belongs to a trunk this API does not manage', async () => {
    const foreign = await api.call('POST', '/v1/trunks/inbound', { numbers: [NUMBER] });
    const from = api.lk.requests.length;
    const res = await api.call('PUT', PATH, { agent: { name: 'a' } });
    expectProblem(res, 409, 'PA_ERR_CONFLICT');
    expect(res.body.detail).toContain(foreign.body.id);
    expect(writesSince(from)).toEqual([]);
  });

  it('409 also when the unmanaged trunk stores the number in another form', async () => {
    // Another tool wrote the number as bare digits, straight to LiveKit.
    const sip = new SipClient(api.lk.url, api.lk.apiKey, api.lk.apiSecret);
    const foreign = await sip.createSipInboundTrunk('by hand', ['14155550123']);
    const res = await api.call('PUT', PATH, { agent: { name: 'a' } });
    expectProblem(res, 409, 'PA_ERR_CONFLICT');
    expect(res.body.detail).toContain(foreign.sipTrunkId);
  });

  it('an unmanaged catch-all trunk does not block the number, and its calls use our trunk', async () => {
    const catchAll = await api.call('POST', '/v1/trunks/inbound', {
      allowedAddresses: ['198.51.100.7'],
    });
    const res = await api.call('PUT', PATH, { agent: { name: 'a' } });
    expect(res.status).toBe(201);
    const call = await api.lk.simulateInboundCall({ from: CALLER, to: NUMBER });
    expect(call.trunkId).toBe(res.body.trunkId);
    expect(call.trunkId).not.toBe(catchAll.body.id);
  });

  it('validates the number and the body, naming the field', async () => {
    const cases: [string, unknown, string, string][] = [
      [
        '/v1/numbers/4155550123',
        { agent: { name: 'a' } },
        'params.e164',
        'PA_ERR_INVALID_PHONE_NUMBER',
      ],
      [
        '/v1/numbers/%2B1999',
        { agent: { name: 'a' } },
        'params.e164',
        'PA_ERR_INVALID_PHONE_NUMBER',
      ],
      [PATH, {}, 'body.agent', 'PA_ERR_VALIDATION'],
      [PATH, { agent: { name: '' } }, 'body.agent.name', 'PA_ERR_VALIDATION'],
      [PATH, { agent: { name: 'a' }, trunk: 'x' }, 'body.trunk', 'PA_ERR_VALIDATION'],
      [
        PATH,
        { agent: { name: 'a' }, allowedNumbers: ['12'] },
        'body.allowedNumbers.0',
        'PA_ERR_INVALID_PHONE_NUMBER',
      ],
      [
        PATH,
        { agent: { name: 'a' }, roomPrefix: 'has space' },
        'body.roomPrefix',
        'PA_ERR_VALIDATION',
      ],
      [
        PATH,
        { agent: { name: 'a' }, auth: { username: 'u', password: '' } },
        'body.auth.password',
        'PA_ERR_VALIDATION',
      ],
      [
        PATH,
        {
          agent: { name: 'a' },
          allowedAddresses: Array.from({ length: 101 }, (_, i) => `10.0.0.${i}`),
        },
        'body.allowedAddresses',
        'PA_ERR_VALIDATION',
      ],
    ];
    for (const [path, body, field, code] of cases) {
      const res = await api.call('PUT', path, body);
      expectProblem(res, 400, code);
      expect(res.body.errors[0].field, `${path} ${JSON.stringify(body)}`).toBe(field);
    }
    expect(api.lk.state.inboundTrunks.size).toBe(0);
  });
});

describe('GET and DELETE /v1/numbers', () => {
  it('lists routed numbers only, sorted, and gets one', async () => {
    const other = '+14155550199';
    await api.call('PUT', `/v1/numbers/${encodeURIComponent(other)}`, { agent: { name: 'b' } });
    await api.call('PUT', PATH, { agent: { name: 'a' } });
    await api.call('POST', '/v1/trunks/inbound', { numbers: ['+14155550111'] });
    const list = await api.call('GET', '/v1/numbers');
    expect(list.status).toBe(200);
    expect(
      list.body.items.map((n: { number: string; agent: { name: string } }) => [
        n.number,
        n.agent.name,
      ]),
    ).toEqual([
      [NUMBER, 'a'],
      [other, 'b'],
    ]);
    const one = await api.call('GET', PATH);
    expect(one.status).toBe(200);
    expect(one.body).toEqual(list.body.items[0]);
    expectProblem(await api.call('GET', '/v1/numbers/%2B14155550111'), 404, 'PA_ERR_NOT_FOUND');
    expectProblem(await api.call('GET', '/v1/numbers/nope'), 400, 'PA_ERR_INVALID_PHONE_NUMBER');
  });

  it('DELETE removes the rule and the trunk; a second DELETE is a 404', async () => {
    await api.call('PUT', PATH, { agent: { name: 'a' } });
    const keep = await api.call('POST', '/v1/trunks/inbound', { numbers: ['+14155550111'] });
    const del = await api.call('DELETE', PATH);
    expect(del.status).toBe(204);
    expect(api.lk.state.rules.size).toBe(0);
    expect([...api.lk.state.inboundTrunks.keys()]).toEqual([keep.body.id]);
    expectProblem(await api.call('DELETE', PATH), 404, 'PA_ERR_NOT_FOUND');
    expectProblem(await api.call('GET', PATH), 404, 'PA_ERR_NOT_FOUND');
  });
});

describe('number routes and their failures', () => {
  const routes: RouteCall[] = [
    ['PUT', PATH, { agent: { name: 'a' } }],
    ['GET', '/v1/numbers'],
    ['GET', PATH],
    ['DELETE', PATH],
  ];

  it('every route answers 401 without a valid key, before LiveKit is asked', () =>
    expectAllUnauthorized(api, routes));

  it('every route answers 503 when LiveKit is unreachable', () => expectAllUnavailable(routes));

  it('a LiveKit without its SIP service is a 502 naming the cause', async () => {
    const noSip = await startSipApi({}, { sipAvailable: false });
    try {
      const res = await noSip.call('PUT', PATH, { agent: { name: 'a' } });
      expectProblem(res, 502, 'PA_ERR_LIVEKIT_REJECTED');
      expect(res.body.detail).toContain('sip not connected');
    } finally {
      await noSip.close();
    }
  });
});
