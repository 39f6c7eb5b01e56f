import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../src/api/app.js';
import { TEST_API_KEY, testConfig } from './support/config.js';

describe('API foundation', () => {
  let app: FastifyInstance;
  beforeAll(async () => {
    app = await buildApp({ config: testConfig({ RATE_LIMIT_MAX: '3' }) });
    app.get('/v1/echo', async () => ({ ok: true }));
    await app.ready();
  });
  afterAll(() => app.close());

  it('serves /healthz without a key', async () => {
    const res = await app.inject({ method: 'GET', url: '/healthz' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ status: 'ok' });
  });

  it('answers 401 problem+json without a valid bearer key', async () => {
    for (const authorization of [undefined, 'Bearer wrong', TEST_API_KEY]) {
      const res = await app.inject({
        method: 'GET',
        url: '/v1/echo',
        headers: authorization ? { authorization } : {},
      });
      expect(res.statusCode).toBe(401);
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(res.json()).toMatchObject({ status: 401, code: 'PA_ERR_UNAUTHORIZED' });
    }
  });

  it('answers unknown routes with a problem, echoing the request id', async () => {
    const res = await app.inject({
      method: 'GET',
      url: '/nope',
      headers: { 'x-request-id': 'req-123' },
    });
    expect(res.statusCode).toBe(404);
    expect(res.headers['x-request-id']).toBe('req-123');
    expect(res.json()).toMatchObject({ code: 'PA_ERR_ROUTE_NOT_FOUND', instance: '/nope' });
  });

  it('reports readyz 503 when LiveKit is unreachable', async () => {
    const res = await app.inject({ method: 'GET', url: '/readyz' });
    expect(res.statusCode).toBe(503);
    expect(res.json()).toMatchObject({ code: 'PA_ERR_LIVEKIT_UNAVAILABLE' });
  });

  it('rate-limits per API key with a 429 problem', async () => {
    const headers = { authorization: `Bearer ${TEST_API_KEY}` };
    const codes: number[] = [];
    for (let i = 0; i < 5; i++) {
      codes.push((await app.inject({ method: 'GET', url: '/v1/echo', headers })).statusCode);
    }
    expect(codes).toEqual([200, 200, 200, 429, 429]);
    const res = await app.inject({ method: 'GET', url: '/v1/echo', headers });
    expect(res.json()).toMatchObject({ code: 'PA_ERR_RATE_LIMITED', status: 429 });
  });

  it('serves the OpenAPI document', async () => {
    const res = await app.inject({ method: 'GET', url: '/docs/json' });
    expect(res.statusCode).toBe(200);
    expect(res.json().openapi).toMatch(/^3\./);
  });
});
