/** Helpers shared by the call tests: an API wired to the LiveKit stand-in. */
import type { FastifyInstance } from 'fastify';
import { SipClient } from 'livekit-server-sdk';
import { buildApp } from '../../src/api/app.js';
import { type Standin, type StandinOptions, startLiveKitStandin } from '../standin/index.js';
import { TEST_API_KEY, testConfig } from './config.js';

/** Our side's caller id on the test trunk. */
export const TRUNK_NUMBER = '+14155550100';

/** The request headers of an authenticated API client. */
export const AUTH = { authorization: `Bearer ${TEST_API_KEY}` };

/** POST /v1/calls through `inject`, authenticated unless other headers are given. */
export function postCall(
  app: FastifyInstance,
  payload: object,
  headers: Record<string, string> = AUTH,
) {
  return app.inject({ method: 'POST', url: '/v1/calls', headers, payload });
}

/** Creates an outbound trunk in the stand-in through the SDK; returns its id. */
export async function createOutboundTrunk(lk: Standin): Promise<string> {
  const sip = new SipClient(lk.url, lk.apiKey, lk.apiSecret);
  const trunk = await sip.createSipOutboundTrunk('carrier', 'sip.carrier.example.com', [
    TRUNK_NUMBER,
  ]);
  return trunk.sipTrunkId;
}

/** Builds the API against the stand-in (ready, rate limit out of the way). */
export async function appFor(
  lk: Standin,
  overrides: Record<string, string> = {},
): Promise<FastifyInstance> {
  const app = await buildApp({
    config: testConfig({
      LIVEKIT_URL: lk.url,
      LIVEKIT_API_KEY: lk.apiKey,
      LIVEKIT_API_SECRET: lk.apiSecret,
      RATE_LIMIT_MAX: '100000',
      ...overrides,
    }),
  });
  await app.ready();
  return app;
}

/** A stand-in with an outbound trunk and the API using it as the default trunk. */
export async function startCallsApi(
  standin: StandinOptions,
  overrides: Record<string, string> = {},
): Promise<{ lk: Standin; app: FastifyInstance; trunkId: string; close(): Promise<void> }> {
  const lk = await startLiveKitStandin(standin);
  const trunkId = await createOutboundTrunk(lk);
  const app = await appFor(lk, { DEFAULT_OUTBOUND_TRUNK_ID: trunkId, ...overrides });
  return {
    lk,
    app,
    trunkId,
    close: async () => {
      await app.close();
      await lk.close();
    },
  };
}

/** CreateSIPParticipant requests the stand-in received so far. */
export function dialCount(lk: Standin): number {
  return lk.requests.filter((r) => r.service === 'SIP' && r.method === 'CreateSIPParticipant')
    .length;
}
