/**
 * /v1/trunks/inbound and /v1/trunks/outbound against the LiveKit stand-in, over real sockets.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  expectAllUnauthorized,
  expectAllUnavailable,
  expectProblem,
  type RouteCall,
  type SipApi,
  startSipApi,
} from './support/sip-api-harness.js';

let api: SipApi;
beforeAll(async () => {
  api = await startSipApi();
});
afterAll(() => api.close());
beforeEach(() => {
  api.lk.state.inboundTrunks.clear();
  api.lk.state.outboundTrunks.clear();
  api.lk.state.rules.clear();
});

const N1 = '+14155550123';
const N2 = '+14155550124';

describe('inbound trunks', () => {
  it('creates a trunk, returns it without the password and sends LiveKit our fields', async () => {
    const from = api.lk.requests.length;
    const res = await api.call('POST', '/v1/trunks/inbound', {
      name: 'main',
      numbers: [N1],
      allowedAddresses: ['203.0.113.10', '198.51.100.0/24'],
      auth: { username: 'carrier', password: 's3cret-pass' },
      headers: { 'X-Env': 'test' },
      ringingTimeoutSeconds: 45,
      metadata: '{"team":"support"}',
    });
    expect(res.status).toBe(201);
    expect(res.body).toEqual({
      id: expect.stringMatching(/^ST_/),
      name: 'main',
      numbers: [N1],
      allowedAddresses: ['203.0.113.10', '198.51.100.0/24'],
      allowedNumbers: [],
      auth: { username: 'carrier' },
      headers: { 'X-Env': 'test' },
      headersToAttributes: {},
      krispEnabled: false,
      ringingTimeoutSeconds: 45,
      metadata: '{"team":"support"}',
    });
    expect(JSON.stringify(res.body)).not.toContain('s3cret-pass');
    expect(res.headers.get('location')).toBe(`/v1/trunks/inbound/${res.body.id}`);
    const [sent] = api.sipCalls(from);
    expect(sent).toMatchObject({
      method: 'CreateSIPInboundTrunk',
      body: {
        trunk: {
          name: 'main',
          numbers: [N1],
          authUsername: 'carrier',
          authPassword: 's3cret-pass',
          ringingTimeout: '45s',
        },
      },
    });
  });

  it('lists and gets trunks; an unknown id or an outbound id is a 404', async () => {
    const a = await api.call('POST', '/v1/trunks/inbound', { numbers: [N1] });
    const b = await api.call('POST', '/v1/trunks/inbound', { numbers: [N2] });
    const out = await api.call('POST', '/v1/trunks/outbound', {
      address: 'sip.carrier.example',
      numbers: [N1],
    });
    const list = await api.call('GET', '/v1/trunks/inbound');
    expect(list.status).toBe(200);
    expect(list.body.items.map((t: { id: string }) => t.id).sort()).toEqual(
      [a.body.id, b.body.id].sort(),
    );
    const one = await api.call('GET', `/v1/trunks/inbound/${a.body.id}`);
    expect(one.status).toBe(200);
    expect(one.body).toEqual(a.body);

    const missing = await api.call('GET', '/v1/trunks/inbound/ST_doesnotexist');
    expectProblem(missing, 404, 'PA_ERR_NOT_FOUND');
    expect(missing.body.detail).toContain('ST_doesnotexist');
    expectProblem(
      await api.call('GET', `/v1/trunks/inbound/${out.body.id}`),
      404,
      'PA_ERR_NOT_FOUND',
    );
  });

  it('PATCHes listed fields with a partial update and keeps the rest', async () => {
    const t = await api.call('POST', '/v1/trunks/inbound', {
      name: 'old',
      numbers: [N1],
      auth: { username: 'u', password: 'p1' },
    });
    const from = api.lk.requests.length;
    const res = await api.call('PATCH', `/v1/trunks/inbound/${t.body.id}`, {
      name: 'new',
      numbers: [N1, N2],
      allowedNumbers: ['+12125550100'],
    });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      id: t.body.id,
      name: 'new',
      numbers: [N1, N2],
      allowedNumbers: ['+12125550100'],
      auth: { username: 'u' },
    });
    const update = api.sipCalls(from).find((c) => c.method === 'UpdateSIPInboundTrunk');
    expect(update?.body).toMatchObject({
      sipTrunkId: t.body.id,
      update: { name: 'new', numbers: { set: [N1, N2] } },
    });
    expect(api.lk.state.inboundTrunks.get(t.body.id)?.authPassword).toBe('p1');
  });

  it('PATCHes headers and Krisp with a whole replace that keeps the stored password', async () => {
    const t = await api.call('POST', '/v1/trunks/inbound', {
      numbers: [N1],
      auth: { username: 'u', password: 'p1' },
    });
    const from = api.lk.requests.length;
    const res = await api.call('PATCH', `/v1/trunks/inbound/${t.body.id}`, {
      headers: { 'X-A': '1' },
      krispEnabled: true,
      ringingTimeoutSeconds: 20,
    });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      headers: { 'X-A': '1' },
      krispEnabled: true,
      ringingTimeoutSeconds: 20,
      numbers: [N1],
      auth: { username: 'u' },
    });
    const update = api.sipCalls(from).find((c) => c.method === 'UpdateSIPInboundTrunk');
    expect(update?.body).toHaveProperty('replace');
    const stored = api.lk.state.inboundTrunks.get(t.body.id);
    expect(stored?.authUsername).toBe('u');
    expect(stored?.authPassword).toBe('p1');
  });

  it('removes credentials with auth: null (LiveKit still requires numbers or addresses)', async () => {
    const t = await api.call('POST', '/v1/trunks/inbound', {
      numbers: [N1],
      auth: { username: 'u', password: 'p1' },
    });
    const res = await api.call('PATCH', `/v1/trunks/inbound/${t.body.id}`, { auth: null });
    expect(res.status).toBe(200);
    expect(res.body.auth).toBeUndefined();
    expect(api.lk.state.inboundTrunks.get(t.body.id)?.authPassword).toBe('');
  });

  it('deletes a trunk; deleting an unknown id is a 404 and never reaches DeleteSIPTrunk', async () => {
    const t = await api.call('POST', '/v1/trunks/inbound', { numbers: [N1] });
    const del = await api.call('DELETE', `/v1/trunks/inbound/${t.body.id}`);
    expect(del.status).toBe(204);
    expect(del.body).toBeNull();
    expect(api.lk.state.inboundTrunks.size).toBe(0);
    expectProblem(
      await api.call('GET', `/v1/trunks/inbound/${t.body.id}`),
      404,
      'PA_ERR_NOT_FOUND',
    );

    const from = api.lk.requests.length;
    expectProblem(
      await api.call('DELETE', '/v1/trunks/inbound/ST_unknown'),
      404,
      'PA_ERR_NOT_FOUND',
    );
    expect(api.sipCalls(from).map((c) => c.method)).not.toContain('DeleteSIPTrunk');
    expectProblem(
      await api.call('PATCH', '/v1/trunks/inbound/ST_unknown', { name: 'x' }),
      404,
      'PA_ERR_NOT_FOUND',
    );
  });

  it("reports LiveKit's conflict and security refusals as 400 PA_ERR_LIVEKIT_INVALID", async () => {
    expect((await api.call('POST', '/v1/trunks/inbound', { numbers: [N1] })).status).toBe(201);
    const dup = await api.call('POST', '/v1/trunks/inbound', { numbers: [N1] });
    expectProblem(dup, 400, 'PA_ERR_LIVEKIT_INVALID');
    expect(dup.body.detail).toContain('Conflicting inbound SIP Trunks');

    const open = await api.call('POST', '/v1/trunks/inbound', { name: 'open to anyone' });
    expectProblem(open, 400, 'PA_ERR_LIVEKIT_INVALID');
    expect(open.body.detail).toContain('for security');

    // Two trunks may share a number when they accept different callers; a PATCH that makes
    // them overlap is refused the same way and changes nothing.
    const a = await api.call('POST', '/v1/trunks/inbound', {
      numbers: [N2],
      allowedNumbers: ['+12125550100'],
    });
    const b = await api.call('POST', '/v1/trunks/inbound', {
      numbers: [N2],
      allowedNumbers: ['+12125550101'],
    });
    expect([a.status, b.status]).toEqual([201, 201]);
    const clash = await api.call('PATCH', `/v1/trunks/inbound/${b.body.id}`, {
      allowedNumbers: ['+12125550100'],
    });
    expectProblem(clash, 400, 'PA_ERR_LIVEKIT_INVALID');
    expect(api.lk.state.inboundTrunks.get(b.body.id)?.allowedNumbers).toEqual(['+12125550101']);
  });

  it('validates bodies and ids, naming the field', async () => {
    const cases: [string, string, unknown, string, string][] = [
      [
        'POST',
        '/v1/trunks/inbound',
        { numbers: ['4155550123'] },
        'body.numbers.0',
        'PA_ERR_INVALID_PHONE_NUMBER',
      ],
      [
        'POST',
        '/v1/trunks/inbound',
        { allowedNumbers: [N1, '+1999'] },
        'body.allowedNumbers.1',
        'PA_ERR_INVALID_PHONE_NUMBER',
      ],
      [
        'POST',
        '/v1/trunks/inbound',
        { numbers: [N1], colour: 'red' },
        'body.colour',
        'PA_ERR_VALIDATION',
      ],
      [
        'POST',
        '/v1/trunks/inbound',
        { numbers: [N1], auth: { username: 'u' } },
        'body.auth.password',
        'PA_ERR_VALIDATION',
      ],
      [
        'POST',
        '/v1/trunks/inbound',
        { numbers: [N1], metadata: 'x'.repeat(4097) },
        'body.metadata',
        'PA_ERR_VALIDATION',
      ],
      [
        'POST',
        '/v1/trunks/inbound',
        { numbers: Array.from({ length: 101 }, (_, i) => `+1415555${String(i).padStart(4, '0')}`) },
        'body.numbers',
        'PA_ERR_VALIDATION',
      ],
      [
        'POST',
        '/v1/trunks/inbound',
        { allowedAddresses: ['not an ip'] },
        'body.allowedAddresses.0',
        'PA_ERR_VALIDATION',
      ],
      ['PATCH', '/v1/trunks/inbound/ST_abc', {}, 'body', 'PA_ERR_VALIDATION'],
      ['GET', '/v1/trunks/inbound/SDR_abc', undefined, 'params.id', 'PA_ERR_VALIDATION'],
    ];
    for (const [method, path, body, field, code] of cases) {
      const res = await api.call(method, path, body);
      expectProblem(res, 400, code);
      expect(res.body.errors[0].field, `${method} ${path} ${JSON.stringify(body)}`).toBe(field);
      expect(res.body.detail.startsWith(field)).toBe(true);
    }
    expect(api.lk.state.inboundTrunks.size).toBe(0);
  });
});

describe('outbound trunks', () => {
  it('creates a trunk with a transport, sent to LiveKit as its enum', async () => {
    const from = api.lk.requests.length;
    const res = await api.call('POST', '/v1/trunks/outbound', {
      name: 'carrier',
      address: 'sip.carrier.example:5061',
      transport: 'tls',
      numbers: [N1],
      auth: { username: 'acct', password: 'pw-123' },
      headers: { 'X-Account': '42' },
      destinationCountry: 'US',
    });
    expect(res.status).toBe(201);
    expect(res.body).toEqual({
      id: expect.stringMatching(/^ST_/),
      name: 'carrier',
      address: 'sip.carrier.example:5061',
      transport: 'tls',
      numbers: [N1],
      auth: { username: 'acct' },
      headers: { 'X-Account': '42' },
      headersToAttributes: {},
      destinationCountry: 'US',
      metadata: '',
    });
    expect(res.headers.get('location')).toBe(`/v1/trunks/outbound/${res.body.id}`);
    expect(api.sipCalls(from)[0]).toMatchObject({
      method: 'CreateSIPOutboundTrunk',
      body: { trunk: { address: 'sip.carrier.example:5061', transport: 'SIP_TRANSPORT_TLS' } },
    });
    const list = await api.call('GET', '/v1/trunks/outbound');
    expect(list.body.items).toEqual([res.body]);
    expect((await api.call('GET', `/v1/trunks/outbound/${res.body.id}`)).body).toEqual(res.body);
  });

  it('PATCHes address and transport with a partial update, headers with a replace', async () => {
    const t = await api.call('POST', '/v1/trunks/outbound', {
      address: 'a.example',
      numbers: [N1],
    });
    const from = api.lk.requests.length;
    const res = await api.call('PATCH', `/v1/trunks/outbound/${t.body.id}`, {
      address: 'b.example',
      transport: 'tcp',
      numbers: [N2],
    });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ address: 'b.example', transport: 'tcp', numbers: [N2] });
    expect(
      api.sipCalls(from).find((c) => c.method === 'UpdateSIPOutboundTrunk')?.body,
    ).toMatchObject({
      update: { address: 'b.example', transport: 'SIP_TRANSPORT_TCP' },
    });

    const h = await api.call('PATCH', `/v1/trunks/outbound/${t.body.id}`, {
      headers: { 'X-B': '2' },
    });
    expect(h.body).toMatchObject({ address: 'b.example', headers: { 'X-B': '2' } });
  });

  it('validates the address, the numbers and the transport', async () => {
    const sipUri = await api.call('POST', '/v1/trunks/outbound', {
      address: 'sip:carrier.example',
      numbers: [N1],
    });
    expectProblem(sipUri, 400, 'PA_ERR_VALIDATION');
    expect(sipUri.body.errors[0].field).toBe('body.address');

    const noNumbers = await api.call('POST', '/v1/trunks/outbound', { address: 'c.example' });
    expect(noNumbers.body.errors[0]).toEqual({ field: 'body.numbers', message: 'is required' });

    const empty = await api.call('POST', '/v1/trunks/outbound', {
      address: 'c.example',
      numbers: [],
    });
    expect(empty.body.errors[0].field).toBe('body.numbers');

    const transport = await api.call('POST', '/v1/trunks/outbound', {
      address: 'c.example',
      numbers: [N1],
      transport: 'sctp',
    });
    expect(transport.body.errors[0].field).toBe('body.transport');
    expect(api.lk.state.outboundTrunks.size).toBe(0);
  });

  it('deletes; an unknown id or an inbound id is a 404', async () => {
    const t = await api.call('POST', '/v1/trunks/outbound', {
      address: 'a.example',
      numbers: [N1],
    });
    const inbound = await api.call('POST', '/v1/trunks/inbound', { numbers: [N1] });
    expectProblem(
      await api.call('DELETE', `/v1/trunks/outbound/${inbound.body.id}`),
      404,
      'PA_ERR_NOT_FOUND',
    );
    expect(api.lk.state.inboundTrunks.has(inbound.body.id)).toBe(true);
    expect((await api.call('DELETE', `/v1/trunks/outbound/${t.body.id}`)).status).toBe(204);
    expect(api.lk.state.outboundTrunks.size).toBe(0);
    expectProblem(
      await api.call('DELETE', `/v1/trunks/outbound/${t.body.id}`),
      404,
      'PA_ERR_NOT_FOUND',
    );
    expectProblem(
      await api.call('PATCH', '/v1/trunks/outbound/ST_nope', { name: 'x' }),
      404,
      'PA_ERR_NOT_FOUND',
    );
  });
});

describe('trunk routes and their failures', () => {
  const routes: RouteCall[] = [
    ['POST', '/v1/trunks/inbound', { numbers: [N1] }],
    ['GET', '/v1/trunks/inbound'],
    ['GET', '/v1/trunks/inbound/ST_x'],
    ['PATCH', '/v1/trunks/inbound/ST_x', { name: 'x' }],
    ['DELETE', '/v1/trunks/inbound/ST_x'],
    ['POST', '/v1/trunks/outbound', { address: 'a.example', numbers: [N1] }],
    ['GET', '/v1/trunks/outbound'],
    ['GET', '/v1/trunks/outbound/ST_x'],
    ['PATCH', '/v1/trunks/outbound/ST_x', { name: 'x' }],
    ['DELETE', '/v1/trunks/outbound/ST_x'],
  ];

  it('every route answers 401 without a valid key, before LiveKit is asked', () =>
    expectAllUnauthorized(api, routes));

  it('every route answers 503 when LiveKit is unreachable', () => expectAllUnavailable(routes));

  it("reports LiveKit refusing the service's credentials as 502 PA_ERR_LIVEKIT_AUTH", async () => {
    const wrong = await startSipApi({ LIVEKIT_API_SECRET: 'not-the-standin-secret-0123456789' });
    try {
      expectProblem(await wrong.call('GET', '/v1/trunks/inbound'), 502, 'PA_ERR_LIVEKIT_AUTH');
    } finally {
      await wrong.close();
    }
  });
});
