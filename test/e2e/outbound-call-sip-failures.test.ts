/**
 * Outbound calls that fail at the far end, answered by a real SIP user agent (SIPp as the
 * callee) through the real SIP bridge: busy (486), declined (603), temporarily unavailable (480)
 * and a phone that rings until the ringing timeout. `POST /v1/calls` with `waitUntilAnswered`
 * answers with the README's mapping (HTTP status, `PA_ERR_*` code, `sipStatusCode`), the call's
 * room is gone (GET 404), `call.ended` carries the outcome, and the agent that was dispatched
 * for the call ends its job without an error.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../../stack/netns.js';
import { type SippBehaviour, type SippUas, startSippUas } from '../../stack/phones.js';
import { type Product, startProduct } from '../../stack/product.js';
import { parseSippMessages } from '../../stack/sipp-caller.js';
import { until } from './support/audio.js';

const AGENTS_FILE = join(REPO_ROOT, 'test/e2e/fixtures/agents-routing.yaml');
const FROM = '+15550100001';
const CALLEE = '+15550000020';

let product: Product;
/** Every SIPp started, stopped at the end whatever happened. */
const callees: SippUas[] = [];

beforeAll(async () => {
  product = await startProduct({ agentsFile: AGENTS_FILE });
}, 180_000);

afterAll(async () => {
  for (const c of callees) await c.stop();
  await product?.stop();
});

interface Case {
  behaviour: SippBehaviour;
  ringingTimeoutS: number;
  http: number;
  code: string;
  sipStatusCode: number;
  reason: string;
}

// The README's table: busy 409, declined 403, no answer 504 (480, and a ringing timeout).
const CASES: Case[] = [
  {
    behaviour: 486,
    ringingTimeoutS: 10,
    http: 409,
    code: 'PA_ERR_SIP_BUSY',
    sipStatusCode: 486,
    reason: 'busy',
  },
  {
    behaviour: 603,
    ringingTimeoutS: 10,
    http: 403,
    code: 'PA_ERR_SIP_DECLINED',
    sipStatusCode: 603,
    reason: 'declined',
  },
  {
    behaviour: 480,
    ringingTimeoutS: 10,
    http: 504,
    code: 'PA_ERR_SIP_NO_ANSWER',
    sipStatusCode: 480,
    reason: 'no-answer',
  },
  {
    behaviour: 'ring-forever',
    ringingTimeoutS: 3,
    http: 504,
    code: 'PA_ERR_SIP_NO_ANSWER',
    // No SIP status on the wire (the bridge CANCELs); the API reports 408 Request Timeout.
    sipStatusCode: 408,
    reason: 'no-answer',
  },
];

describe('outbound calls the far end refuses, over the real SIP bridge', () => {
  it.each(CASES)(
    'callee $behaviour → HTTP $http $code, call.ended $reason',
    async (c) => {
      const uas = await startSippUas(product.stack, c.behaviour);
      callees.push(uas);
      const trunk = await product.api('POST', '/v1/trunks/outbound', {
        name: `sipp ${c.behaviour}`,
        address: uas.address,
        transport: 'udp',
        numbers: [FROM],
      });
      expect(trunk.status, JSON.stringify(trunk.body)).toBe(201);

      const t0 = Date.now();
      const res = await product.api('POST', '/v1/calls', {
        to: CALLEE,
        from: FROM,
        trunkId: trunk.body.id,
        agent: { name: 'caller' },
        waitUntilAnswered: true,
        ringingTimeoutS: c.ringingTimeoutS,
      });
      const tookMs = Date.now() - t0;
      console.log(
        `callee ${c.behaviour}: POST /v1/calls → ${res.status} ${res.body?.code} in ${tookMs} ms: ${res.body?.detail}`,
      );
      expect(res.status, JSON.stringify(res.body)).toBe(c.http);
      expect(res.body).toMatchObject({ code: c.code, sipStatusCode: c.sipStatusCode });
      if (c.behaviour === 'ring-forever') {
        // It rang for the ringing timeout (not much longer: the bridge gave up and CANCELled).
        expect(tookMs).toBeGreaterThanOrEqual(c.ringingTimeoutS * 1000 - 200);
        expect(tookMs).toBeLessThan((c.ringingTimeoutS + 6) * 1000);
      }

      // The callee saw the INVITE (and for the timeout, the CANCEL that ended it).
      const log = readFileSync(
        join(product.stack.logsDir, `sipp-${c.behaviour}-${uas.port}`, 'messages.log'),
        'utf8',
      );
      const msgs = parseSippMessages(log);
      const invite = msgs.find(
        (m) => m.direction === 'received' && m.firstLine.startsWith('INVITE'),
      );
      expect(invite?.text).toContain(`sip:${CALLEE}@`);
      if (c.behaviour === 'ring-forever') {
        expect(
          msgs.some((m) => m.direction === 'received' && m.firstLine.startsWith('CANCEL')),
        ).toBe(true);
      } else {
        const final = msgs.find(
          (m) => m.direction === 'sent' && /^SIP\/2\.0 [4-6]/.test(m.firstLine),
        );
        expect(final?.firstLine).toContain(String(c.sipStatusCode));
      }

      // The call's id is in the call events; its room is gone.
      const ended = await until(`call.ended of the ${c.behaviour} call`, () =>
        product.events.deliveries
          .filter((d) => d.valid)
          .map(
            (d) =>
              JSON.parse(d.body) as { type: string; callId: string; data: Record<string, unknown> },
          )
          .find(
            (e) =>
              e.type === 'call.ended' &&
              e.data?.direction === 'outbound' &&
              e.data?.sipStatusCode === c.sipStatusCode &&
              Date.parse(String((e as { createdAt?: string }).createdAt ?? 0)) >= t0 - 1000,
          ),
      );
      expect(ended.data).toMatchObject({ reason: c.reason, sipStatusCode: c.sipStatusCode });
      await until('the room of the failed call gone', async () =>
        (await product.api('GET', `/v1/calls/${ended.callId}`)).status === 404 ? true : undefined,
      );
      await uas.stop();
    },
    60_000,
  );

  // Without waitUntilAnswered the API answers 201 while it dials; the outcome comes as
  // call.ended from LiveKit's webhook. LiveKit passes no SIP status there, only the SIP
  // participant's disconnect reason: busy and declined are both USER_REJECTED → "rejected".
  it.each([
    {
      behaviour: 486 as const,
      ringingTimeoutS: 10,
      reason: 'rejected',
      disconnect: 'USER_REJECTED',
    },
    {
      behaviour: 480 as const,
      ringingTimeoutS: 10,
      reason: 'no-answer',
      disconnect: 'USER_UNAVAILABLE',
    },
    {
      behaviour: 'ring-forever' as const,
      ringingTimeoutS: 3,
      reason: 'no-answer',
      disconnect: 'USER_UNAVAILABLE',
    },
  ])(
    'without waiting: callee $behaviour → 201 dialing, then call.ended $reason ($disconnect)',
    async (c) => {
      const uas = await startSippUas(product.stack, c.behaviour);
      callees.push(uas);
      const trunk = await product.api('POST', '/v1/trunks/outbound', {
        name: `sipp ${c.behaviour} no wait`,
        address: uas.address,
        transport: 'udp',
        numbers: [FROM],
      });
      const t0 = Date.now();
      const res = await product.api('POST', '/v1/calls', {
        to: CALLEE,
        from: FROM,
        trunkId: trunk.body.id,
        agent: { name: 'caller' },
        ringingTimeoutS: c.ringingTimeoutS,
      });
      expect(res.status, JSON.stringify(res.body)).toBe(201);
      expect(res.body.status).toBe('dialing');
      const ended = await until(
        'call.ended',
        () => product.callEvents(res.body.id).find((e) => e.type === 'call.ended'),
        (c.ringingTimeoutS + 10) * 1000,
      );
      console.log(
        `without waiting, callee ${c.behaviour}: call.ended after ${ended.at - t0} ms: ${JSON.stringify(ended.data)}`,
      );
      expect(ended.data).toMatchObject({
        direction: 'outbound',
        reason: c.reason,
        disconnectReason: c.disconnect,
      });
      expect(ended.data.sipStatusCode).toBeUndefined();
      await uas.stop();
    },
    60_000,
  );

  it('the agents dispatched for the failed calls ended without an error', async () => {
    const lines = product
      .workerLog()
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as { level: number; msg: string; [k: string]: unknown });
    const errors = lines.filter((l) => l.level >= 50);
    expect(errors.map((l) => l.msg)).toEqual([]);
    // No agent ever spoke: nothing was said on a call nobody answered.
    expect(product.providers.tts.spoken()).toEqual([]);
  });
});
