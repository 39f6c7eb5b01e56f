/**
 * GET /metrics: calls created per agent, calls failed per SIP status, request latency per
 * route and status, after real calls through the LiveKit stand-in.
 */
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NUMBERS } from './standin/index.js';
import { AUTH, postCall, startCallsApi } from './support/calls.js';

/** The value of one sample line, e.g. `calls_created_total{agent="a"}`. */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe('GET /metrics', () => {
  let app: FastifyInstance;

  let close: () => Promise<void>;
  beforeAll(async () => {
    ({ app, close } = await startCallsApi({ answerDelayMs: 30 }));
  });
  afterAll(() => close());

  const post = (payload: object) => postCall(app, payload);

  it('counts created and failed calls and times requests by route', async () => {
    const first = await post({ to: NUMBERS.answers, agent: { name: 'sales' } });
    expect(first.statusCode, first.body).toBe(201);
    expect((await post({ to: NUMBERS.answers2, agent: { name: 'sales' } })).statusCode).toBe(201);
    expect((await post({ to: NUMBERS.answers, agent: { name: 'support' } })).statusCode).toBe(201);
    const busy = await post({
      to: NUMBERS.busy,
      agent: { name: 'sales' },
      waitUntilAnswered: true,
    });
    expect(busy.statusCode).toBe(409);
    const declined = await post({
      to: NUMBERS.declined,
      agent: { name: 'sales' },
      waitUntilAnswered: true,
    });
    expect(declined.statusCode).toBe(403);
    const noTrunk = await post({ to: NUMBERS.answers, agent: { name: 'sales' }, trunkId: 'ST_x' });
    expect(noTrunk.statusCode).toBe(404);
    await app.inject({ url: '/v1/calls', headers: AUTH });

    // Public, like LiveKit's and Prometheus' conventions: no API key.
    const res = await app.inject({ url: '/metrics' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/plain/);
    const text = res.body;
    expect(sample(text, 'calls_created_total{agent="sales"}')).toBe(2);
    expect(sample(text, 'calls_created_total{agent="support"}')).toBe(1);
    expect(sample(text, 'calls_failed_total{sip_status="486",reason="PA_ERR_SIP_BUSY"}')).toBe(1);
    expect(sample(text, 'calls_failed_total{sip_status="603",reason="PA_ERR_SIP_DECLINED"}')).toBe(
      1,
    );
    expect(sample(text, 'calls_failed_total{sip_status="none",reason="PA_ERR_NOT_FOUND"}')).toBe(1);
    expect(
      sample(
        text,
        'http_request_duration_seconds_count{method="POST",route="/v1/calls",status_code="201"}',
      ),
    ).toBe(3);
    expect(
      sample(
        text,
        'http_request_duration_seconds_count{method="POST",route="/v1/calls",status_code="409"}',
      ),
    ).toBe(1);
    expect(
      sample(
        text,
        'http_request_duration_seconds_count{method="GET",route="/v1/calls",status_code="200"}',
      ),
    ).toBe(1);
  });

  it('does not count requests refused before dialing (validation)', async () => {
    const before = (await app.inject({ url: '/metrics' })).body;
    const bad = await post({ to: 'not-a-number', agent: { name: 'sales' } });
    expect(bad.statusCode).toBe(400);
    const after = (await app.inject({ url: '/metrics' })).body;
    const failed = (t: string) =>
      t
        .split('\n')
        .filter((l) => l.startsWith('calls_failed_total{'))
        .join('\n');
    expect(failed(after)).toBe(failed(before));
  });
});
