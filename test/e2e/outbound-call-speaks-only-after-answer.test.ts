/**
 * An outbound call over the real SIP bridge: our API makes the outbound trunk (the address is a
 * baresip phone in the stack's namespace) and places the call; the phone rings, is picked up
 * about 3 s later, and only then does the agent speak: the phone's recording of what it heard
 * holds the whole greeting, starting right after the answer, and the TTS made no audio before
 * it. `GET /v1/calls/:id` follows the call (dialing/ringing → active); `waitUntilAnswered: true`
 * returns only once the phone answered; `DELETE /v1/calls/:id` hangs the phone up; a phone that
 * hangs up ends the call with `call.ended` and the worker's `call.summary`.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../../stack/netns.js';
import type { Phone } from '../../stack/phones.js';
import { type Product, startProduct } from '../../stack/product.js';
import type { SpokenContext } from '../../stack/providers/index.js';
import { primeTtsStandIn, sleep, speechIn, until } from './support/audio.js';
import { type WireSegment, wireSpeech } from './support/wire.js';

const AGENTS_FILE = join(REPO_ROOT, 'test/e2e/fixtures/agents-routing.yaml');
const CALLEE = '+15550000009';
const FROM = '+15550100001';
const GREETING =
  'Hello, this is Ava from Acme Home Internet, calling about your appointment tomorrow.';
/** How long the phone rings before its owner picks up. */
const RING_MS = 3000;

let product: Product;
let phone: Phone;
let trunkId = '';

beforeAll(async () => {
  product = await startProduct({
    agentsFile: AGENTS_FILE,
    capture: true,
    // The callee here answers and says nothing. With the voicemail check on (the default), the
    // greeting waits for its verdict (voicemail-on-an-outbound-call.test.ts); this file is
    // about the answer itself: no audio before it, the greeting right after.
    workerEnv: { AMD_MODE: 'off' },
  });
  phone = await product.phone({ user: CALLEE, answer: 'manual', micSeconds: 300 });
  await primeTtsStandIn(product.providers.tts, [GREETING]);
}, 180_000);

afterAll(async () => {
  await product?.stop();
});

/** Polls GET /v1/calls/:id until `done`, collecting each status seen, in order. */
function watchStatuses(id: string): { seen: string[]; stop(): void } {
  const seen: string[] = [];
  let stopped = false;
  void (async () => {
    while (!stopped) {
      const r = await product.api('GET', `/v1/calls/${id}`).catch(() => undefined);
      const s = r?.status === 200 ? String(r.body.status) : `http-${r?.status}`;
      if (seen.at(-1) !== s) seen.push(s);
      await sleep(150);
    }
  })();
  return {
    seen,
    stop: () => {
      stopped = true;
    },
  };
}

/** The greeting's TTS context for the call placed after `since` (ms). */
function greetingSpoken(since: number): SpokenContext | undefined {
  return product.providers.tts
    .spoken()
    .find((c) => c.openedAt >= since && c.text.includes('calling about your appointment'));
}

/**
 * The greeting on the phone's line (the RTP the bridge sent it, from the capture) and in the
 * phone's own recording of what it heard: no packet at all before the answer (no early media),
 * the greeting starting soon after it, and whole.
 */
async function checkGreetingHeard(
  spoken: SpokenContext,
  call: { since: number; answeredAt: number },
): Promise<WireSegment> {
  const wire = await wireSpeech(
    join(product.stack.logsDir, 'namespace.pcapng'),
    [phone.port + 4, phone.port + 23],
    { from: call.since },
  );
  const rel = (segs: WireSegment[]) =>
    segs.map((x) => [Math.round(x.start - call.answeredAt), Math.round(x.end - call.answeredAt)]);
  console.log(
    `to the phone, ms since the answer: first packet ${Math.round(wire.firstToPhoneAt - call.answeredAt)}, speech ${JSON.stringify(rel(wire.toPhone))}`,
  );
  // Nothing reached the phone before it answered (the answer is when baresip reported it,
  // a few ms after its 200 OK).
  expect(wire.firstToPhoneAt).toBeGreaterThan(call.answeredAt - 100);
  const first = wire.toPhone[0]!;
  expect(first.start).toBeGreaterThan(call.answeredAt);
  expect(first.start - call.answeredAt).toBeLessThan(2500);
  // Whole: from its first to its last sound as long as the TTS made it (eSpeak pauses at
  // commas: the greeting may come as a few segments, all within its length).
  const inGreeting = wire.toPhone.filter((x) => x.start < first.start + spoken.audioMs + 500);
  expect(inGreeting.at(-1)!.end - first.start).toBeGreaterThan(spoken.audioMs - 600);
  // The phone's recording of what it heard holds it too.
  const { heard } = phone.recordings().at(-1)!;
  const speech = speechIn(heard);
  const heardMs = speech.reduce((n, x) => n + (x.end - x.start) * 1000, 0);
  console.log(`heard recording: ${JSON.stringify(speech)}`);
  expect(heardMs).toBeGreaterThan(spoken.audioMs * 0.8);
  return first;
}

describe('an outbound call: the agent speaks only after the callee answered', () => {
  it('our API makes the outbound trunk to the phone', async () => {
    const res = await product.api('POST', '/v1/trunks/outbound', {
      name: 'e2e phone',
      address: `${phone.host}:${phone.port}`,
      transport: 'udp',
      numbers: [FROM],
    });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    trunkId = res.body.id;
  });

  it('rings the phone; no agent audio until it answers; the whole greeting after; DELETE hangs up', async () => {
    const since = Date.now();
    const res = await product.api('POST', '/v1/calls', {
      to: CALLEE,
      from: FROM,
      trunkId,
      agent: { name: 'caller' },
    });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    expect(res.body.status).toBe('dialing');
    const id = res.body.id as string;
    const statuses = watchStatuses(id);
    const incoming = await phone.waitForEvent('CALL_INCOMING', { since, timeoutMs: 20_000 });
    console.log(`outbound: POST /v1/calls → phone rings: ${incoming.at - since} ms`);

    // The phone rings; its owner picks up after a while. Meanwhile the agent says nothing.
    await sleep(RING_MS);
    expect(greetingSpoken(since)).toBeUndefined();
    expect(statuses.seen).not.toContain('active');
    await phone.answer();
    const answered = await phone.waitForEvent('CALL_ESTABLISHED', { since, timeoutMs: 10_000 });

    await until('GET /v1/calls/:id active', () =>
      statuses.seen.at(-1) === 'active' ? true : undefined,
    );
    const spoken = await until('the greeting spoken', () => {
      const c = greetingSpoken(since);
      return c?.finalAt ? c : undefined;
    });
    expect(spoken.text.trim()).toBe(GREETING);
    // The agent asked for the greeting only after the answer, and soon after it.
    expect(spoken.openedAt).toBeGreaterThanOrEqual(answered.at - 100);
    expect(spoken.openedAt - answered.at).toBeLessThan(2500);
    console.log(
      `outbound: answer → greeting's TTS request ${spoken.openedAt - answered.at} ms, → its first audio ${spoken.firstAudioAt! - answered.at} ms`,
    );
    console.log(`GET /v1/calls/:id statuses: ${statuses.seen.join(' → ')}`);
    expect(statuses.seen[0]).toMatch(/^(dialing|ringing)$/);
    expect(statuses.seen.indexOf('active')).toBeGreaterThan(0);

    // Let the greeting play out, then hang up through our API.
    await until(
      'the greeting played',
      () => (Date.now() > spoken.firstAudioAt! + spoken.audioMs + 800 ? true : undefined),
      30_000,
    );
    const hangupAt = Date.now();
    expect((await product.api('DELETE', `/v1/calls/${id}`)).status).toBe(204);
    const closed = await phone.waitForEvent('CALL_CLOSED', { since: hangupAt, timeoutMs: 10_000 });
    console.log(`outbound: DELETE /v1/calls/:id → phone CALL_CLOSED: ${closed.at - hangupAt} ms`);
    statuses.stop();

    const first = await checkGreetingHeard(spoken, { since, answeredAt: answered.at });
    console.log(
      `outbound: answer → first agent audio on the phone's line: ${Math.round(first.start - answered.at)} ms`,
    );
    const ended = await until('call.ended', () =>
      product.callEvents(id).find((e) => e.type === 'call.ended'),
    );
    expect(ended.data).toMatchObject({ direction: 'outbound' });
  });

  it('waitUntilAnswered: true returns only after the phone answered; the phone hangs up', async () => {
    const since = Date.now();
    const placing = product
      .api('POST', '/v1/calls', {
        to: CALLEE,
        from: FROM,
        trunkId,
        agent: { name: 'caller' },
        waitUntilAnswered: true,
        ringingTimeoutS: 20,
      })
      .then((r) => ({ ...r, at: Date.now() }));
    await phone.waitForEvent('CALL_INCOMING', { since, timeoutMs: 20_000 });
    await sleep(RING_MS);
    expect(greetingSpoken(since)).toBeUndefined();
    await phone.answer();
    const answered = await phone.waitForEvent('CALL_ESTABLISHED', { since, timeoutMs: 10_000 });
    const res = await placing;
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    expect(res.body.status).toBe('active');
    expect(res.at).toBeGreaterThanOrEqual(answered.at - 50);
    console.log(`waitUntilAnswered: answer → POST returned: ${res.at - answered.at} ms`);
    const id = res.body.id as string;
    expect((await product.api('GET', `/v1/calls/${id}`)).body.status).toBe('active');

    const spoken = await until('the greeting spoken', () => {
      const c = greetingSpoken(since);
      return c?.finalAt ? c : undefined;
    });
    expect(spoken.firstAudioAt!).toBeGreaterThanOrEqual(answered.at - 100);
    await until(
      'the greeting played',
      () => (Date.now() > spoken.firstAudioAt! + spoken.audioMs + 800 ? true : undefined),
      30_000,
    );
    await phone.hangup();
    await phone.waitForEvent('CALL_CLOSED', { since: answered.at, timeoutMs: 10_000 });
    const first = await checkGreetingHeard(spoken, { since, answeredAt: answered.at });
    console.log(
      `waitUntilAnswered: answer → first agent audio on the phone's line: ${Math.round(first.start - answered.at)} ms`,
    );

    const ended = await until('call.ended', () =>
      product.callEvents(id).find((e) => e.type === 'call.ended'),
    );
    expect(ended.data, JSON.stringify(ended.data)).toMatchObject({
      direction: 'outbound',
      reason: 'hangup',
    });
    const summary = await until('call.summary', () =>
      product.callEvents(id).find((e) => e.type === 'call.summary'),
    );
    expect(summary.data).toMatchObject({
      direction: 'outbound',
      outcome: 'completed',
      endedBy: 'caller',
      agents: ['caller'],
    });
    const answeredEvent = product.callEvents(id).find((e) => e.type === 'call.answered');
    expect(answeredEvent).toBeDefined();
  });
});
