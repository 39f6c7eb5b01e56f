/**
 * Real-stack smoke test, without our product: real LiveKit server + SIP bridge + Redis in a
 * network namespace, a baresip phone, SIPp, and a small rtc-node participant (tone-bot) that
 * plays 440 Hz and records what it hears. Proves audio crosses the whole path both ways:
 *   phone (1 kHz, G.711) ─SIP/RTP→ livekit-sip ─WebRTC/Opus→ livekit-server → tone-bot
 *   tone-bot (440 Hz)    ─────────────────────────────────────────────────────→ phone
 * Run with `npm run test:e2e` (root; builds the binaries on first use).
 */

import { SIPTransport } from '@livekit/protocol';
import { ServerError, SipCallError, SipClient } from 'livekit-server-sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findTone, writeToneWav } from '../../stack/audio.js';
import { createNetns, type Netns } from '../../stack/netns.js';
import { type Phone, startPhone, startSippUas } from '../../stack/phones.js';
import { DEV_API_KEY, DEV_API_SECRET, type Stack, startStack } from '../../stack/services.js';
import { startWebhookSink, type WebhookSink } from '../../stack/webhook-sink.js';
import { startToneBot, type ToneBot } from './support/tone-bot-process.js';

const TRUNK_NUMBER = '+15550100000';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let netns: Netns;
let webhooks: WebhookSink;
let stack: Stack;
let bot: ToneBot;
let sip: SipClient;
let toneWav: string;
const phones: Phone[] = [];

beforeAll(async () => {
  const t0 = Date.now();
  // The namespace first, so the webhook receiver (root namespace) can listen on its veth end
  // before livekit-server is configured with the URL.
  netns = await createNetns();
  webhooks = await startWebhookSink(netns.hostIp, DEV_API_KEY, DEV_API_SECRET);
  stack = await startStack({ netns, webhookUrls: [webhooks.url] });
  console.log(`stack up in ${Date.now() - t0} ms (${stack.netns.name}, logs ${stack.logsDir})`);
  console.log(`idle RSS KiB: ${JSON.stringify(stack.rss())}`);
  sip = new SipClient(stack.livekitHttpUrl, stack.apiKey, stack.apiSecret);
  bot = await startToneBot(stack, { roomPrefix: 'call-', toneHz: 440 });
  toneWav = `${stack.logsDir}/tone-1k.wav`;
  await writeToneWav(toneWav, 1000, 20);
});

afterAll(async () => {
  if (stack) console.log(`RSS KiB after the calls: ${JSON.stringify(stack.rss())}`);
  for (const p of phones) await p.stop();
  await bot?.stop();
  await stack?.stop();
  await webhooks?.close();
  await netns?.remove();
});

describe('real stack media path', () => {
  it('inbound: the caller hears the room (440 Hz) and the room hears the caller (1 kHz)', async () => {
    const trunk = await sip.createSipInboundTrunk('e2e inbound', [TRUNK_NUMBER]);
    await sip.createSipDispatchRule(
      { type: 'individual', roomPrefix: 'call-' },
      { trunkIds: [trunk.sipTrunkId], name: 'e2e individual' },
    );
    const phone = await startPhone(stack, {
      user: '+15550000001',
      micWav: toneWav,
      micSeconds: 60,
    });
    phones.push(phone);

    const dialedAt = Date.now();
    await phone.dial(stack.sipUri(TRUNK_NUMBER));
    const ringing = await phone.waitForEvent('CALL_RINGING', {
      since: dialedAt,
      timeoutMs: 10_000,
    });
    const established = await phone.waitForEvent('CALL_ESTABLISHED', {
      since: dialedAt,
      timeoutMs: 20_000,
    });
    console.log(
      `inbound: INVITE→180 ${ringing.at - dialedAt} ms, INVITE→200 OK ${established.at - dialedAt} ms`,
    );
    const joined = await bot.waitFor(
      (e) => e.event === 'track' && e.identity === 'sip_+15550000001',
      { since: dialedAt, timeoutMs: 5_000, what: 'the SIP participant track' },
    );
    const room = joined.room!;
    expect(room).toMatch(/^call-_\+15550000001_/);

    // DTMF both ways: phone keys → SipDTMF packets in the room; room → RFC 4733 to the phone.
    await phone.sendDtmf('1#');
    await bot.waitFor((e) => e.event === 'dtmf' && e.room === room && e.digit === '#', {
      since: dialedAt,
      timeoutMs: 5_000,
      what: 'DTMF # from the phone',
    });
    const sentAt = Date.now();
    await bot.sendDtmf(room, '5');
    const dtmf = await phone.waitForEvent('CALL_DTMF_START', { since: sentAt, timeoutMs: 5_000 });
    expect(dtmf.param).toBe('5');
    expect(
      bot.events.filter((e) => e.event === 'dtmf' && e.room === room).map((e) => e.digit),
    ).toEqual(['1', '#']);

    await sleep(3_000);
    const heardByRoom = await bot.dump(room);
    await phone.hangup();
    await phone.waitForEvent('CALL_CLOSED', { since: dialedAt, timeoutMs: 5_000 });
    // livekit-server (in the namespace) reached the receiver in the root namespace, signed.
    await webhooks.waitFor((w) => w.event === 'participant_joined' && w.room === room);
    expect(webhooks.rejected).toBe(0);
    await bot.waitFor((e) => e.event === 'left' && e.room === room, { what: 'bot left' });

    const [rec] = phone.recordings();
    const callerHeard = findTone(rec!.heard, 440);
    const roomHeard = findTone(heardByRoom.file, 1000);
    console.log(
      `inbound: caller heard 440 Hz for ${callerHeard.toneSeconds}/${callerHeard.totalSeconds.toFixed(1)} s, room heard 1 kHz for ${roomHeard.toneSeconds}/${roomHeard.totalSeconds.toFixed(1)} s`,
    );
    expect(callerHeard.toneSeconds).toBeGreaterThanOrEqual(3);
    expect(roomHeard.toneSeconds).toBeGreaterThanOrEqual(3);
    // And not the other tone: each side hears the far end, not its own echo.
    expect(findTone(rec!.heard, 1000).toneSeconds).toBe(0);
    expect(findTone(heardByRoom.file, 440).toneSeconds).toBe(0);
  });

  it('outbound: CreateSIPParticipant rings a phone that answers, and audio flows both ways', async () => {
    const phone = await startPhone(stack, {
      user: '+15550000002',
      micWav: toneWav,
      micSeconds: 60,
      answer: 'manual',
    });
    phones.push(phone);
    const trunk = await sip.createSipOutboundTrunk(
      'e2e to phone',
      `${phone.host}:${phone.port}`,
      [TRUNK_NUMBER],
      { transport: SIPTransport.SIP_TRANSPORT_UDP },
    );
    const room = 'out-phone';
    await bot.join(room);

    const dialedAt = Date.now();
    const dialing = sip.createSipParticipant(trunk.sipTrunkId, phone.user, room, {
      participantIdentity: 'callee',
      waitUntilAnswered: true,
    });
    const incoming = await phone.waitForEvent('CALL_INCOMING', {
      since: dialedAt,
      timeoutMs: 10_000,
    });
    expect(incoming.peerUri).toContain(TRUNK_NUMBER);
    // Let it ring: waitUntilAnswered must not return before the phone picks up.
    await sleep(1_000);
    const answeredAt = Date.now();
    await phone.answer();
    const participant = await dialing;
    const returnedAt = Date.now();
    console.log(
      `outbound: INVITE reached the phone after ${incoming.at - dialedAt} ms; CreateSIPParticipant returned ${returnedAt - answeredAt} ms after answer`,
    );
    expect(returnedAt).toBeGreaterThanOrEqual(answeredAt);
    expect(participant.participantIdentity).toBe('callee');
    await phone.waitForEvent('CALL_ESTABLISHED', { since: dialedAt, timeoutMs: 5_000 });

    await sleep(4_000);
    const heardByRoom = await bot.dump(room);
    await phone.hangup();
    await bot.waitFor((e) => e.event === 'left' && e.room === room, { what: 'bot left' });

    const [rec] = phone.recordings();
    const calleeHeard = findTone(rec!.heard, 440);
    const roomHeard = findTone(heardByRoom.file, 1000);
    console.log(
      `outbound: callee heard 440 Hz for ${calleeHeard.toneSeconds} s, room heard 1 kHz for ${roomHeard.toneSeconds} s`,
    );
    expect(calleeHeard.toneSeconds).toBeGreaterThanOrEqual(3);
    expect(roomHeard.toneSeconds).toBeGreaterThanOrEqual(3);
  });

  it('outbound to a busy callee (SIPp 486): the SDK throws SipCallError 486', async () => {
    const uas = await startSippUas(stack, 486);
    const trunk = await sip.createSipOutboundTrunk('e2e busy', uas.address, [TRUNK_NUMBER], {
      transport: SIPTransport.SIP_TRANSPORT_UDP,
    });
    const err = await sip
      .createSipParticipant(trunk.sipTrunkId, '+15550000486', 'out-busy', {
        participantIdentity: 'busy-callee',
        waitUntilAnswered: true,
      })
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    await uas.stop();
    expect(err).toBeInstanceOf(SipCallError);
    expect((err as SipCallError).sipStatusCode).toBe(486);
    console.log(`busy: ${(err as Error).message}`);
  });

  it('outbound to a callee that never answers (SIPp ring-forever): ringingTimeout ends the call', async () => {
    const uas = await startSippUas(stack, 'ring-forever');
    const trunk = await sip.createSipOutboundTrunk('e2e no answer', uas.address, [TRUNK_NUMBER], {
      transport: SIPTransport.SIP_TRANSPORT_UDP,
    });
    const startedAt = Date.now();
    const err = await sip
      .createSipParticipant(trunk.sipTrunkId, '+15550000480', 'out-no-answer', {
        participantIdentity: 'silent-callee',
        waitUntilAnswered: true,
        ringingTimeout: 3,
      })
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    await uas.stop();
    console.log(`no answer after ${Date.now() - startedAt} ms: ${String(err)}`);
    // No SIP final status to report: twirp deadline_exceeded (408) "sip request timed out".
    expect(err).toBeInstanceOf(ServerError);
    expect((err as ServerError).status).toBe(408);
    expect(err).not.toBeInstanceOf(SipCallError);
    expect(Date.now() - startedAt).toBeLessThan(15_000);
  });
});
