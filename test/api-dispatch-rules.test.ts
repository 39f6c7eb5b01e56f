/**
 * /v1/dispatch-rules against the LiveKit stand-in, over real sockets: the rule's agent becomes
 * roomConfig.agents, so an inbound call the rule matches gets the worker pool (AGENT_NAME)
 * dispatched with the agent's name and metadata as job metadata.
 */
import { RoomAgentDispatch, RoomConfiguration, SipClient } from 'livekit-server-sdk';
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
let trunkId: string;
const DIALED = '+14155550123';
const CALLER = '+12125550100';

beforeAll(async () => {
  api = await startSipApi({ AGENT_NAME: POOL });
});
afterAll(() => api.close());
beforeEach(async () => {
  api.lk.state.inboundTrunks.clear();
  api.lk.state.rules.clear();
  const t = await api.call('POST', '/v1/trunks/inbound', { numbers: [DIALED] });
  trunkId = t.body.id;
});

describe('creating dispatch rules', () => {
  it('turns agent into roomConfig.agents: the worker pool, with the agent in the metadata', async () => {
    const from = api.lk.requests.length;
    const res = await api.call('POST', '/v1/dispatch-rules', {
      name: 'support line',
      kind: 'individual',
      roomPrefix: 'support',
      trunkIds: [trunkId],
      agent: { name: 'receptionist', metadata: { lang: 'en' } },
      attributes: { team: 'support' },
    });
    expect(res.status).toBe(201);
    expect(res.body).toEqual({
      id: expect.stringMatching(/^SDR_/),
      name: 'support line',
      kind: 'individual',
      roomPrefix: 'support',
      trunkIds: [trunkId],
      inboundNumbers: [],
      numbers: [],
      hidePhoneNumber: false,
      agent: { name: 'receptionist', metadata: { lang: 'en' } },
      metadata: '',
      attributes: { team: 'support' },
    });
    expect(res.headers.get('location')).toBe(`/v1/dispatch-rules/${res.body.id}`);
    expect(api.sipCalls(from)).toEqual([
      {
        method: 'CreateSIPDispatchRule',
        body: expect.objectContaining({
          rule: { dispatchRuleIndividual: { roomPrefix: 'support' } },
          trunkIds: [trunkId],
          roomConfig: {
            agents: [{ agentName: POOL, metadata: job('receptionist', { lang: 'en' }) }],
          },
        }),
      },
    ]);

    const call = await api.lk.simulateInboundCall({ from: CALLER, to: DIALED });
    expect(call.ruleId).toBe(res.body.id);
    expect(call.room).toMatch(/^support_/);
    expect(api.lk.dispatches(call.room)).toEqual([
      expect.objectContaining({ agentName: POOL, metadata: job('receptionist', { lang: 'en' }) }),
    ]);
  });

  it('takes agent.metadata as a string too (older clients): JSON objects parsed, text as value', async () => {
    const cases: [string, object][] = [
      ['{"lang":"en"}', { lang: 'en' }],
      ['vip line', { value: 'vip line' }],
      ['[1,2]', { value: '[1,2]' }],
      ['', {}],
    ];
    for (const [i, [metadata, parsed]] of cases.entries()) {
      const res = await api.call('POST', '/v1/dispatch-rules', {
        kind: 'individual',
        pin: String(i),
        agent: { name: 'support', metadata },
      });
      expect(res.status, metadata).toBe(201);
      expect(res.body.agent).toEqual({ name: 'support', metadata: parsed });
      expect(api.lk.state.rules.get(res.body.id)?.roomConfig?.agents[0]).toMatchObject({
        agentName: POOL,
        metadata: job('support', parsed),
      });
    }
  });

  it('shows rules made outside this service as they are: agentName and raw metadata', async () => {
    const sip = new SipClient(api.lk.url, api.lk.apiKey, api.lk.apiSecret);
    const made = async (pin: string, agentName: string, metadata: string) =>
      (
        await sip.createSipDispatchRule(
          { type: 'individual', roomPrefix: 'x', pin },
          {
            roomConfig: new RoomConfiguration({
              agents: [new RoomAgentDispatch({ agentName, metadata })],
            }),
          },
        )
      ).sipDispatchRuleId;
    const cases: [string, string, string][] = [
      ['1', 'other-worker', 'free text'],
      // Our pool, but not our metadata format: still shown raw.
      ['2', POOL, '{"campaign":"renewals"}'],
      ['3', POOL, ''],
      ['4', 'other-worker', job('receptionist')],
    ];
    for (const [pin, agentName, metadata] of cases) {
      const id = await made(pin, agentName, metadata);
      const res = await api.call('GET', `/v1/dispatch-rules/${id}`);
      expect(res.status).toBe(200);
      expect(res.body.agent).toEqual({ name: agentName, metadata });
    }
  });

  it('creates direct and callee rules with their own fields', async () => {
    const direct = await api.call('POST', '/v1/dispatch-rules', {
      kind: 'direct',
      roomName: 'lobby',
      pin: '1234',
      trunkIds: [trunkId],
    });
    expect(direct.status).toBe(201);
    expect(direct.body).toMatchObject({ kind: 'direct', roomName: 'lobby', pin: '1234' });
    expect(direct.body).not.toHaveProperty('roomPrefix');
    expect(direct.body).not.toHaveProperty('agent');

    const callee = await api.call('POST', '/v1/dispatch-rules', {
      kind: 'callee',
      randomize: true,
      hidePhoneNumber: true,
    });
    expect(callee.status).toBe(201);
    expect(callee.body).toMatchObject({
      kind: 'callee',
      roomPrefix: 'call',
      randomize: true,
      hidePhoneNumber: true,
      trunkIds: [],
    });
  });

  it('stores inboundNumbers and numbers (create, then replace: the SDK cannot send them)', async () => {
    const res = await api.call('POST', '/v1/dispatch-rules', {
      kind: 'individual',
      trunkIds: [trunkId],
      inboundNumbers: [CALLER],
      numbers: [DIALED],
      agent: { name: 'vip-agent' },
    });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ inboundNumbers: [CALLER], numbers: [DIALED] });
    const stored = api.lk.state.rules.get(res.body.id);
    expect(stored?.inboundNumbers).toEqual([CALLER]);
    expect(stored?.numbers).toEqual([DIALED]);
    expect(stored?.roomConfig?.agents[0]).toMatchObject({
      agentName: POOL,
      metadata: job('vip-agent'),
    });
  });

  it("reports LiveKit's duplicate-rule refusal as 400 and leaves no half-made rule", async () => {
    const body = { kind: 'individual', trunkIds: [trunkId], agent: { name: 'a' } };
    expect((await api.call('POST', '/v1/dispatch-rules', body)).status).toBe(201);
    const dup = await api.call('POST', '/v1/dispatch-rules', body);
    expectProblem(dup, 400, 'PA_ERR_LIVEKIT_INVALID');
    expect(dup.body.detail).toContain('already exists in dispatch rule');

    // Same again, but the clash only shows in the second step (inboundNumbers): the rule made
    // in the first step is removed again.
    const withCaller = { ...body, trunkIds: [trunkId], inboundNumbers: [CALLER] };
    api.lk.state.rules.clear();
    expect((await api.call('POST', '/v1/dispatch-rules', withCaller)).status).toBe(201);
    const dup2 = await api.call('POST', '/v1/dispatch-rules', withCaller);
    expectProblem(dup2, 400, 'PA_ERR_LIVEKIT_INVALID');
    expect(api.lk.state.rules.size).toBe(1);
  });

  it('validates kinds, fields and sizes, naming the field', async () => {
    const cases: [unknown, string, string][] = [
      [{}, 'body.kind', 'PA_ERR_VALIDATION'],
      [{ kind: 'random' }, 'body.kind', 'PA_ERR_VALIDATION'],
      [{ kind: 'direct' }, 'body.roomName', 'PA_ERR_VALIDATION'],
      [{ kind: 'direct', roomName: 'r', roomPrefix: 'p' }, 'body.roomPrefix', 'PA_ERR_VALIDATION'],
      [{ kind: 'individual', randomize: true }, 'body.randomize', 'PA_ERR_VALIDATION'],
      [{ kind: 'individual', roomName: 'x' }, 'body.roomName', 'PA_ERR_VALIDATION'],
      [{ kind: 'individual', pin: '12a' }, 'body.pin', 'PA_ERR_VALIDATION'],
      [
        { kind: 'individual', inboundNumbers: ['0123'] },
        'body.inboundNumbers.0',
        'PA_ERR_INVALID_PHONE_NUMBER',
      ],
      [
        { kind: 'individual', numbers: ['+1 415 555 0123'] },
        'body.numbers.0',
        'PA_ERR_INVALID_PHONE_NUMBER',
      ],
      [{ kind: 'individual', trunkIds: ['SDR_x'] }, 'body.trunkIds.0', 'PA_ERR_VALIDATION'],
      [
        { kind: 'individual', agent: { name: 'bad name!' } },
        'body.agent.name',
        'PA_ERR_VALIDATION',
      ],
      [{ kind: 'individual', agent: { name: '' } }, 'body.agent.name', 'PA_ERR_VALIDATION'],
      [
        { kind: 'individual', agent: { name: 'a', extra: 1 } },
        'body.agent.extra',
        'PA_ERR_VALIDATION',
      ],
      [
        { kind: 'individual', agent: { name: 'a', metadata: 'x'.repeat(8193) } },
        'body.agent.metadata',
        'PA_ERR_VALIDATION',
      ],
      [
        { kind: 'individual', agent: { name: 'a', metadata: { notes: 'x'.repeat(8200) } } },
        'body.agent.metadata',
        'PA_ERR_VALIDATION',
      ],
      [
        {
          kind: 'individual',
          attributes: Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`k${i}`, 'v'])),
        },
        'body.attributes',
        'PA_ERR_VALIDATION',
      ],
      [{ kind: 'individual', room: 'x' }, 'body.room', 'PA_ERR_VALIDATION'],
    ];
    for (const [body, field, code] of cases) {
      const res = await api.call('POST', '/v1/dispatch-rules', body);
      expectProblem(res, 400, code);
      expect(res.body.errors[0].field, JSON.stringify(body)).toBe(field);
    }
    expect(api.lk.state.rules.size).toBe(0);
  });
});

describe('reading, changing and deleting dispatch rules', () => {
  async function createRule(extra: object = {}) {
    const res = await api.call('POST', '/v1/dispatch-rules', {
      name: 'r',
      kind: 'individual',
      trunkIds: [trunkId],
      agent: { name: 'first-agent', metadata: { step: 1 } },
      ...extra,
    });
    expect(res.status).toBe(201);
    return res.body as { id: string };
  }

  it('lists and gets rules; an unknown id is a 404', async () => {
    const a = await createRule();
    const list = await api.call('GET', '/v1/dispatch-rules');
    expect(list.status).toBe(200);
    expect(list.body.items).toEqual([a]);
    expect((await api.call('GET', `/v1/dispatch-rules/${a.id}`)).body).toEqual(a);
    const missing = await api.call('GET', '/v1/dispatch-rules/SDR_missing');
    expectProblem(missing, 404, 'PA_ERR_NOT_FOUND');
    expect(missing.body.detail).toContain('SDR_missing');
    expectProblem(
      await api.call('GET', '/v1/dispatch-rules/ST_wrongkind'),
      400,
      'PA_ERR_VALIDATION',
    );
  });

  it('PATCHes the agent with a replace, and the next call dispatches the new agent', async () => {
    const rule = await createRule();
    const from = api.lk.requests.length;
    const res = await api.call('PATCH', `/v1/dispatch-rules/${rule.id}`, {
      agent: { name: 'second-agent', metadata: { step: 2 } },
    });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      name: 'r',
      agent: { name: 'second-agent', metadata: { step: 2 } },
    });
    const update = api.sipCalls(from).find((c) => c.method === 'UpdateSIPDispatchRule');
    expect(update?.body).toMatchObject({
      replace: {
        roomConfig: { agents: [{ agentName: POOL, metadata: job('second-agent', { step: 2 }) }] },
      },
    });
    const call = await api.lk.simulateInboundCall({ from: CALLER, to: DIALED });
    expect(
      api.lk.dispatches(call.room).map((d) => [d.agentName, JSON.parse(d.metadata).agent]),
    ).toEqual([[POOL, 'second-agent']]);

    const removed = await api.call('PATCH', `/v1/dispatch-rules/${rule.id}`, { agent: null });
    expect(removed.status).toBe(200);
    expect(removed.body).not.toHaveProperty('agent');
  });

  it('PATCHes name and room prefix with a partial update that keeps the agent', async () => {
    const rule = await createRule();
    const from = api.lk.requests.length;
    const res = await api.call('PATCH', `/v1/dispatch-rules/${rule.id}`, {
      name: 'renamed',
      roomPrefix: 'sales',
      pin: '42',
    });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      name: 'renamed',
      kind: 'individual',
      roomPrefix: 'sales',
      pin: '42',
      agent: { name: 'first-agent', metadata: { step: 1 } },
    });
    expect(
      api.sipCalls(from).find((c) => c.method === 'UpdateSIPDispatchRule')?.body,
    ).toMatchObject({
      update: {
        name: 'renamed',
        rule: { dispatchRuleIndividual: { roomPrefix: 'sales', pin: '42' } },
      },
    });
  });

  it('changes the kind, dropping the old kind fields, and replaces attributes', async () => {
    const rule = await createRule({ attributes: { a: '1', b: '2' } });
    const direct = await api.call('PATCH', `/v1/dispatch-rules/${rule.id}`, {
      kind: 'direct',
      roomName: 'hall',
      attributes: { c: '3' },
    });
    expect(direct.status).toBe(200);
    expect(direct.body).toMatchObject({ kind: 'direct', roomName: 'hall', attributes: { c: '3' } });
    expect(direct.body).not.toHaveProperty('roomPrefix');

    const missingRoom = await api.call('PATCH', `/v1/dispatch-rules/${rule.id}`, {
      kind: 'callee',
      roomName: 'x',
    });
    expectProblem(missingRoom, 400, 'PA_ERR_VALIDATION');
    expect(missingRoom.body.errors[0].field).toBe('body.roomName');
    const toDirect = await createRule({ trunkIds: [], name: 'other' });
    const noRoom = await api.call('PATCH', `/v1/dispatch-rules/${toDirect.id}`, { kind: 'direct' });
    expect(noRoom.body.errors[0]).toEqual({
      field: 'body.roomName',
      message: 'is required for a rule of kind "direct"',
    });
  });

  it('PATCH and DELETE of an unknown rule are 404; DELETE removes the rule', async () => {
    expectProblem(
      await api.call('PATCH', '/v1/dispatch-rules/SDR_nope', { name: 'x' }),
      404,
      'PA_ERR_NOT_FOUND',
    );
    expectProblem(
      await api.call('PATCH', '/v1/dispatch-rules/SDR_nope', {}),
      400,
      'PA_ERR_VALIDATION',
    );
    const rule = await createRule();
    const del = await api.call('DELETE', `/v1/dispatch-rules/${rule.id}`);
    expect(del.status).toBe(204);
    expect(api.lk.state.rules.size).toBe(0);
    const again = await api.call('DELETE', `/v1/dispatch-rules/${rule.id}`);
    expectProblem(again, 404, 'PA_ERR_NOT_FOUND');
  });

  it('a PATCH LiveKit refuses as a duplicate is a 400 and changes nothing', async () => {
    const a = await createRule({ pin: '1' });
    const b = await createRule({ pin: '2', name: 'b' });
    const res = await api.call('PATCH', `/v1/dispatch-rules/${b.id}`, { pin: '1' });
    expectProblem(res, 400, 'PA_ERR_LIVEKIT_INVALID');
    // Which of the two clashing rules LiveKit names depends on its storage order.
    expect(res.body.detail).toMatch(
      new RegExp(`already exists in dispatch rule "(${a.id}|${b.id})"`),
    );
    expect((await api.call('GET', `/v1/dispatch-rules/${b.id}`)).body.pin).toBe('2');
  });
});

describe('dispatch-rule routes and their failures', () => {
  const routes: RouteCall[] = [
    ['POST', '/v1/dispatch-rules', { kind: 'individual' }],
    ['GET', '/v1/dispatch-rules'],
    ['GET', '/v1/dispatch-rules/SDR_x'],
    ['PATCH', '/v1/dispatch-rules/SDR_x', { name: 'x' }],
    ['DELETE', '/v1/dispatch-rules/SDR_x'],
  ];

  it('every route answers 401 without a valid key, before LiveKit is asked', () =>
    expectAllUnauthorized(api, routes));

  it('every route answers 503 when LiveKit is unreachable', () => expectAllUnavailable(routes));
});
