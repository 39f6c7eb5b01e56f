/**
 * What a carrier puts on the INVITE reaches the agent and picks it: the caller's number (From),
 * the dialed number (request URI) and an `X-` header, sent by SIPp as a carrier's trunk would,
 * over the real SIP bridge and LiveKit server. Our API makes the inbound trunk (forwarding X-
 * headers as `sip.h.*` attributes: `includeHeaders`) and a dispatch rule that names no agent, so
 * the agents file's routes choose (test/e2e/fixtures/agents-routing.yaml): `X-Acme-Tier: gold`
 * → the priority agent, anything else → the receptionist (default route).
 *
 * Proof, from the wire: the worker's "call routed" line (caller, dialed number, route, agent),
 * the system prompt the LLM received (the caller's number is in its call facts), the greeting
 * the TTS spoke, the caller's question the STT heard in the RTP SIPp sent, and the call summary.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../../stack/netns.js';
import { type Product, startProduct } from '../../stack/product.js';
import { agentsOfFile } from '../../stack/providers/index.js';
import { parseSippMessages, startSippCall } from '../../stack/sipp-caller.js';
import { callerWav, until } from './support/audio.js';

const AGENTS_FILE = join(REPO_ROOT, 'test/e2e/fixtures/agents-routing.yaml');
const NUMBER = '+15550100000';
const GOLD_CALLER = '+15550000001';
const OTHER_CALLER = '+15550000002';
const QUESTION = 'I have a question about my bill';
const PRIORITY_GREETING = 'Hello, this is Max at the Acme priority desk.';
const RECEPTIONIST_GREETING =
  'Thanks for calling Acme Home Internet, this is Ava. How can I help you today?';
const REPLY = 'Of course. Let me pull up your bill.';

let product: Product;
let questionWav: string;

beforeAll(async () => {
  product = await startProduct({
    agentsFile: AGENTS_FILE,
    // The "call routed" line with the numbers as they arrived, not masked.
    workerEnv: { LOG_FULL_NUMBERS: 'true' },
  });
  // The caller asks once the greeting (about 3 s) is over.
  questionWav = join(product.stack.logsDir, 'caller-question.wav');
  await callerWav(questionWav, [{ at: 5, text: QUESTION }]);
  product.providers.stt.setScript([QUESTION]);
  product.providers.llm.setRules([{ match: 'bill', reply: REPLY }], agentsOfFile(AGENTS_FILE));
}, 180_000);

afterAll(async () => {
  await product?.stop();
});

interface LogLine {
  msg: string;
  callId?: string;
  [k: string]: unknown;
}

function workerLines(): LogLine[] {
  return product
    .workerLog()
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as LogLine);
}

/** The active call from `caller` (GET /v1/calls). */
async function callFrom(caller: string): Promise<{ id: string; from: string; to: string }> {
  return until(`the call from ${caller} in GET /v1/calls`, async () => {
    const r = await product.api('GET', '/v1/calls');
    return (r.body?.calls as Array<{ id: string; from: string; to: string }> | undefined)?.find(
      (c) => c.from === caller,
    );
  });
}

describe("the caller's number, the dialed number and an X- header of the INVITE pick the agent", () => {
  it('our API makes a trunk that forwards X- headers and a rule that lets the routes choose', async () => {
    const trunk = await product.api('POST', '/v1/trunks/inbound', {
      name: 'carrier',
      numbers: [NUMBER],
      includeHeaders: 'x-headers',
    });
    expect(trunk.status, JSON.stringify(trunk.body)).toBe(201);
    expect(trunk.body.includeHeaders).toBe('x-headers');
    const rule = await product.api('POST', '/v1/dispatch-rules', {
      kind: 'individual',
      roomPrefix: 'call',
      trunkIds: [trunk.body.id],
      agent: { metadata: { source: 'carrier' } },
    });
    expect(rule.status, JSON.stringify(rule.body)).toBe(201);
    // No agent named: the worker pool is dispatched and its routes decide.
    expect(rule.body.agent).toEqual({ metadata: { source: 'carrier' } });
  });

  it('a gold caller (X-Acme-Tier: gold) reaches the priority agent, which hears and answers', async () => {
    const call = await startSippCall(product.stack, {
      to: NUMBER,
      from: GOLD_CALLER,
      headers: { 'X-Acme-Tier': 'gold', 'X-Carrier-Ref': 'e2e-1' },
      micWav: questionWav,
      holdMs: 60_000,
    });
    const live = await callFrom(GOLD_CALLER);
    expect(live.to).toBe(NUMBER);

    const routed = await until('"call routed" in the worker log', () =>
      workerLines().find((l) => l.msg === 'call routed' && l.callId === live.id),
    );
    expect(routed).toMatchObject({
      direction: 'inbound',
      callerNumber: GOLD_CALLER,
      dialedNumber: NUMBER,
      route: 'gold-tier',
      agent: 'priority',
    });
    const greeting = await until('the greeting spoken', () =>
      product.providers.tts.spoken().find((c) => c.text.includes('priority desk') && c.finalAt),
    );
    expect(greeting.text.trim()).toBe(PRIORITY_GREETING);

    // The question SIPp played as RTP reached the STT, and the priority agent answered it.
    const request = await until(
      'the LLM request with the question',
      () => product.providers.llm.requests().find((r) => r.userText.includes(QUESTION)),
      30_000,
    );
    expect(request.agent).toBe('priority');
    const system = JSON.stringify(request.body.messages?.[0]);
    expect(system).toContain(`The caller's number is ${GOLD_CALLER}.`);
    const reply = await until('the reply spoken', () =>
      product.providers.tts.spoken().find((c) => c.text.includes('pull up your bill') && c.finalAt),
    );
    expect(reply.text.trim()).toBe(REPLY);

    // Our API hangs up: the bridge sends SIPp a BYE.
    const hungUp = await product.api('DELETE', `/v1/calls/${live.id}`);
    expect(hungUp.status).toBe(204);
    const result = await call.done;
    expect(result).toMatchObject({ exitCode: 0, answered: true, byeFrom: 'far-end' });
    const msgs = parseSippMessages(result.messages);
    const invite = msgs.find((m) => m.direction === 'sent' && m.firstLine.startsWith('INVITE'))!;
    const ok = msgs.find(
      (m) => m.direction === 'received' && m.firstLine.startsWith('SIP/2.0 200'),
    )!;
    console.log(`inbound (SIPp) INVITE → 200 OK: ${ok.at - invite.at} ms`);
    expect(invite.text).toContain('X-Acme-Tier: gold');

    const summary = await until('call.summary', () =>
      product.callEvents(live.id).find((e) => e.type === 'call.summary'),
    );
    expect(summary.data.agents).toEqual(['priority']);
    expect(
      (summary.data.transcript as Array<{ role: string; text: string }>)
        .filter((l) => l.role === 'caller')
        .map((l) => l.text),
    ).toEqual([QUESTION]);
    const started = product.callEvents(live.id).find((e) => e.type === 'call.started');
    expect(started?.data).toMatchObject({ direction: 'inbound', from: GOLD_CALLER, to: NUMBER });
  });

  it('another tier (X-Acme-Tier: silver) takes the default route to the receptionist', async () => {
    const spokenBefore = product.providers.tts.spoken().length;
    const call = await startSippCall(product.stack, {
      to: NUMBER,
      from: OTHER_CALLER,
      headers: { 'X-Acme-Tier': 'silver' },
      holdMs: 60_000,
    });
    const live = await callFrom(OTHER_CALLER);
    const routed = await until('"call routed" in the worker log', () =>
      workerLines().find((l) => l.msg === 'call routed' && l.callId === live.id),
    );
    expect(routed).toMatchObject({
      callerNumber: OTHER_CALLER,
      dialedNumber: NUMBER,
      route: 'everyone-else',
      agent: 'receptionist',
    });
    const greeting = await until('the greeting spoken', () =>
      product.providers.tts
        .spoken()
        .slice(spokenBefore)
        .find((c) => c.finalAt),
    );
    expect(greeting.text.trim()).toBe(RECEPTIONIST_GREETING);
    expect((await product.api('DELETE', `/v1/calls/${live.id}`)).status).toBe(204);
    expect(await call.done).toMatchObject({ answered: true, byeFrom: 'far-end' });
    const summary = await until('call.summary', () =>
      product.callEvents(live.id).find((e) => e.type === 'call.summary'),
    );
    expect(summary.data.agents).toEqual(['receptionist']);
  });
});
