/**
 * Requests refused before a route runs (a path parameter too long, a URL that does not decode,
 * headers larger than Node accepts, a request line that is not HTTP) get problem+json with a
 * PA_ERR code like every other error. Sent over a real socket: Node's HTTP parser refuses the
 * last two before Fastify sees them, which `inject` would skip.
 */
import { connect } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../src/api/app.js';
import { AUTH } from './support/calls.js';
import { testConfig } from './support/config.js';

describe('requests refused before routing', () => {
  let app: FastifyInstance;
  let base: string;
  beforeAll(async () => {
    app = await buildApp({ config: testConfig() });
    base = await app.listen({ port: 0, host: '127.0.0.1' });
  });
  afterAll(() => app.close());

  async function expectProblem(res: Response, status: number, code: string) {
    expect(res.status).toBe(status);
    expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(await res.json()).toMatchObject({ status, code });
  }

  it('answers a too long path parameter with 414 PA_ERR_URI_TOO_LONG', async () => {
    const res = await fetch(`${base}/v1/numbers/+1${'5'.repeat(200)}`, { headers: AUTH });
    await expectProblem(res, 414, 'PA_ERR_URI_TOO_LONG');
  });

  it('answers a path that does not decode with 400 PA_ERR_MALFORMED_REQUEST', async () => {
    const res = await fetch(`${base}/v1/calls/%E0%A4%A`, { headers: AUTH });
    await expectProblem(res, 400, 'PA_ERR_MALFORMED_REQUEST');
  });

  it('answers oversized headers with 431 PA_ERR_HEADERS_TOO_LARGE', async () => {
    const res = await fetch(`${base}/healthz`, { headers: { 'x-big': 'a'.repeat(20_000) } });
    await expectProblem(res, 431, 'PA_ERR_HEADERS_TOO_LARGE');
  });

  it('answers a request line that is not HTTP with 400 problem+json and closes', async () => {
    const { port } = new URL(base);
    const raw = await new Promise<string>((resolve, reject) => {
      const socket = connect(Number(port), '127.0.0.1', () => socket.write('GARBAGE\r\n\r\n'));
      let data = '';
      socket.on('data', (chunk) => {
        data += chunk.toString();
      });
      socket.on('end', () => resolve(data));
      socket.on('error', reject);
    });
    expect(raw).toMatch(/^HTTP\/1\.1 400 Bad Request\r\n/);
    expect(raw).toMatch(/\r\nContent-Type: application\/problem\+json\r\n/);
    expect(JSON.parse(raw.slice(raw.indexOf('\r\n\r\n') + 4))).toMatchObject({
      status: 400,
      code: 'PA_ERR_MALFORMED_REQUEST',
    });
  });
});
