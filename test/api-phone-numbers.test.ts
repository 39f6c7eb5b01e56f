/**
 * Phone numbers the API accepts: every *possible* E.164 number (a country code and a length
 * that country uses), normalised, even where libphonenumber's metadata does not list the range
 * as assigned (developers' 555 numbers, ranges newer than the metadata): carriers route them.
 * Such numbers are logged once per request as unrecognised; malformed ones stay a 400.
 */
import { Writable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../src/api/app.js';
import { createLogger } from '../src/core/logger.js';
import { type Standin, startLiveKitStandin } from './standin/index.js';
import { AUTH, createOutboundTrunk, postCall } from './support/calls.js';
import { testConfig } from './support/config.js';

describe('possible but unassigned numbers', () => {
  let lk: Standin;
  let app: FastifyInstance;
  const lines: Record<string, unknown>[] = [];

  beforeAll(async () => {
    lk = await startLiveKitStandin();
    const trunkId = await createOutboundTrunk(lk);
    const config = testConfig({
      LIVEKIT_URL: lk.url,
      LIVEKIT_API_KEY: lk.apiKey,
      LIVEKIT_API_SECRET: lk.apiSecret,
      DEFAULT_OUTBOUND_TRUNK_ID: trunkId,
      LOG_LEVEL: 'info',
    });
    const destination = new Writable({
      write(chunk, _enc, cb) {
        lines.push(JSON.parse(chunk.toString()));
        cb();
      },
    });
    app = await buildApp({ config, logger: createLogger(config, { destination }) });
    await app.ready();
  });
  afterAll(async () => {
    await app.close();
    await lk.close();
  });

  it('places a call to +1 555 123 0000 and logs the number as unrecognised, masked', async () => {
    const res = await postCall(app, { to: '+15551230000', agent: { name: 'receptionist' } });
    expect(res.statusCode).toBe(201);
    const dial = lk.requests.find((r) => r.method === 'CreateSIPParticipant');
    expect(dial?.body).toMatchObject({ sipCallTo: '+15551230000' });
    const warning = lines.find(
      (l) => l.msg === 'accepted phone numbers outside the ranges libphonenumber knows as assigned',
    );
    expect(warning).toMatchObject({ level: 40, numbers: ['***0000'] });
    expect(JSON.stringify(lines)).not.toContain('15551230000');
  });

  it('routes +1 555 123 0000 to an agent', async () => {
    const res = await app.inject({
      method: 'PUT',
      url: `/v1/numbers/${encodeURIComponent('+15551230000')}`,
      headers: AUTH,
      payload: { agent: { name: 'receptionist' } },
    });
    expect(res.statusCode).toBeLessThan(300);
    expect(res.json()).toMatchObject({ number: '+15551230000' });
  });

  it('still refuses malformed numbers with 400 PA_ERR_INVALID_PHONE_NUMBER', async () => {
    for (const to of ['+1555', '15551230000', '+1 555 123 0000', '+0155512300']) {
      const res = await postCall(app, { to, agent: { name: 'receptionist' } });
      expect(res.statusCode, to).toBe(400);
      expect(res.json(), to).toMatchObject({ code: 'PA_ERR_INVALID_PHONE_NUMBER' });
    }
  });

  it('logs nothing for numbers libphonenumber knows as assigned', async () => {
    const before = lines.length;
    const res = await postCall(app, { to: '+14155550123', agent: { name: 'receptionist' } });
    expect(res.statusCode).toBe(201);
    expect(lines.slice(before).some((l) => Array.isArray(l.numbers))).toBe(false);
  });
});
