/**
 * Warm transfers that do not end with a bridge, on the real stack (docs/transfers.md, 5b/5c).
 * In one call, caller phone A asks three times for an engineer; the outbound trunk the agent
 * dials through is pointed at a different callee each time:
 *   1. the human's phone B answers, is briefed, and presses 2 (declined): B's call is ended by
 *      the product (B gets a BYE after the consultation's goodbye), the hold audio stops and the
 *      agent is back with A and says so; during the consultation A heard only the hold chime;
 *   2. SIPp answers 486 (busy) and 3. SIPp rings until the ringing timeout (no answer): the
 *      agent is back with A and says what happened.
 * Each time the failed transfer target has left the room, the caller is still connected, and
 * the caller's phone hears the agent's words after the transfer failed.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { RoomServiceClient } from 'livekit-server-sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ScriptedRule } from '../../src/sim/scripted-llm.js';
import { type Phone, type SippUas, startSippUas } from '../../stack/phones.js';
import { type Product, startProduct } from '../../stack/product.js';
import { parseSippMessages } from '../../stack/sipp-caller.js';
import { callerWav, until } from './support/audio.js';
import { dialIn, played } from './support/standins.js';
import {
  CALLER_HZ,
  failureReason,
  heardMix,
  newestRecording,
  position,
  recordingAfter,
  writeSignalWav,
} from './support/transfer.js';
import {
  WARM_NUMBER as NUMBER,
  putThroughToEngineer,
  startWarmTransferWorker,
  warmTransferProduct,
} from './support/warm-transfer.js';

const CALLER = '+15550000001';
const REQUESTS = [
  'I need to talk to an engineer',
  'Can you try an engineer again',
  'Please try the engineer one more time',
];
const RING_TIMEOUT_S = 5;
const sorryLine = (reason: string) => `I am sorry, ${reason}. Can I take a message instead?`;

let product: Product;
let caller: Phone;
let human: Phone;
let rooms: RoomServiceClient;
let trunkId = '';
const sipps: Partial<Record<'busy' | 'ring', SippUas>> = {};
const wavs = { request: '', callerTone: '', silence: '' };

const rule: ScriptedRule = (turn) => {
  if (turn.tools.includes('accept_transfer')) return undefined; // the consultation stays quiet
  if (turn.toolOutput) {
    const reason = failureReason(turn.toolOutput.output);
    return reason ? sorryLine(reason) : undefined;
  }
  return putThroughToEngineer(turn);
};

beforeAll(async () => {
  product = await startProduct(warmTransferProduct(RING_TIMEOUT_S));
  const dir = product.stack.logsDir;
  wavs.callerTone = join(dir, 'caller-440.wav');
  writeSignalWav(wavs.callerTone, CALLER_HZ, 60);
  wavs.silence = join(dir, 'silence.wav');
  writeSignalWav(wavs.silence, 0, 1);
  wavs.request = join(dir, 'caller-request.wav');
  await callerWav(wavs.request, [{ at: 0.2, text: 'I need an engineer' }]);
  sipps.busy = await startSippUas(product.stack, 486);
  sipps.ring = await startSippUas(product.stack, 'ring-forever');
  ({ human, trunkId, rooms } = await startWarmTransferWorker(product, rule));
}, 240_000);

afterAll(async () => {
  await product?.stop();
});

describe('warm transfers that fail: the human is removed and the agent is back, audibly', () => {
  let callId = '';
  let sipCallId = '';
  let attempt = 0;

  it('answers the caller', async () => {
    caller = await product.phone({ user: CALLER, micSeconds: 150 });
    ({ callId, sipCallId } = await dialIn(product, caller, NUMBER));
    const greeting = await until('the greeting', () =>
      product.providers.tts.spoken().find((c) => c.text.includes('Acme') && c.firstAudioAt),
    );
    await played(greeting, 500);
  });

  /**
   * The caller asks; `during` runs once the hold line was said (the dial is under way); then
   * the agent's reply after the failure, heard on the caller's phone.
   */
  async function askAndFail(
    reason: string,
    during: (askedAt: number) => Promise<void>,
  ): Promise<{ sorryAt: number; heard: ReturnType<typeof heardMix> }> {
    const spokenBefore = product.providers.tts.spoken().length;
    const spoken = () => product.providers.tts.spoken().slice(spokenBefore);
    product.providers.stt.setScript([REQUESTS[attempt++]!]);
    const askedAt = Date.now();
    await caller.play(wavs.request, 140);
    await until('the hold line', () => spoken().find((c) => c.text.includes('Please hold')));
    await during(askedAt);
    const reply = () => spoken().find((c) => c.text.startsWith('I am'));
    await until('the agent back with the caller', reply, 30_000);
    // Marked as its first words are synthesised, before any of its audio reached the phone.
    const rec = newestRecording(caller)!;
    const from = position(rec.heard);
    const sorry = await until('the reply synthesised', () => {
      const r = reply();
      return r?.finalAt && r.firstAudioAt ? r : undefined;
    });
    expect(sorry.text.trim()).toBe(sorryLine(reason));
    await until('the reply played', () =>
      Date.now() > sorry.firstAudioAt! + sorry.audioMs + 600 ? true : undefined,
    );
    const heard = heardMix(rec.heard, from, position(rec.heard));
    // The transfer target is gone from the room; the caller is still in it.
    const identities = (await rooms.listParticipants(callId)).map((p) => p.identity);
    expect(identities).toContain(`sip_${CALLER}`);
    expect(identities.filter((i) => i.startsWith('transfer_'))).toEqual([]);
    expect(caller.events.filter((e) => e.type === 'CALL_CLOSED' && e.id === sipCallId)).toEqual([]);
    // The agent's words reached the caller, and the hold audio had stopped.
    expect(heard.other).toBeGreaterThanOrEqual(Math.min(1.5, (sorry.audioMs / 1000) * 0.5));
    // (At most the last 100 ms window of a note still in flight when the hold stopped.)
    expect(heard.chime).toBeLessThanOrEqual(0.1);
    return { sorryAt: sorry.firstAudioAt!, heard };
  }

  it('declined with key 2: the human is briefed apart, hung up on, and the agent is back', async () => {
    let holdS = 0;
    let endS = 0;
    let briefingS = 0;
    let humanRec: { heard: string } | undefined;
    const before = newestRecording(human);
    const callerRec = newestRecording(caller)!;
    const result = await askAndFail('the call was declined', async (askedAt) => {
      const ringing = await human.waitForEvent('CALL_INCOMING', {
        since: askedAt,
        timeoutMs: 20_000,
      });
      holdS = position(callerRec.heard);
      await caller.play(wavs.callerTone, 140);
      const answeredAt = Date.now();
      await human.answer();
      await human.waitForEvent('CALL_ESTABLISHED', { since: ringing.at, timeoutMs: 10_000 });
      const briefing = await until(
        'the briefing',
        () =>
          product.providers.tts
            .spoken()
            .find(
              (c) =>
                c.text.includes('caller on hold for you') &&
                c.openedAt >= answeredAt &&
                c.finalAt &&
                c.firstAudioAt,
            ),
        20_000,
      );
      briefingS = briefing.audioMs / 1000;
      await until('the briefing played', () =>
        Date.now() > briefing.firstAudioAt! + briefing.audioMs + 600 ? true : undefined,
      );
      // The caller's tone stops before the agent is back (its words are then told apart, and
      // a tone is no turn for the agent's speech detection).
      await caller.play(wavs.silence, 140);
      const pressedAt = Date.now();
      await human.sendDtmf('2');
      // The consultation says goodbye, then the product removes the human: B's phone gets a BYE.
      const bye = await human.waitForEvent('CALL_CLOSED', { since: pressedAt, timeoutMs: 15_000 });
      console.log(`declined: key 2 → the human's phone got its BYE after ${bye.at - pressedAt} ms`);
      endS = position(callerRec.heard);
      humanRec = await until('the human’s recording', () => recordingAfter(human, before));
    });
    const onHold = heardMix(callerRec.heard, holdS + 0.5, endS - 0.3);
    const consulted = heardMix(humanRec!.heard, 0, Number.POSITIVE_INFINITY);
    console.log(
      `declined: caller on hold heard ${JSON.stringify(onHold)}; human heard ${JSON.stringify(consulted)}; agent back ${JSON.stringify(result.heard)}`,
    );
    expect(onHold.chime).toBeGreaterThanOrEqual(1.5);
    expect(onHold.other).toBeLessThanOrEqual(0.3);
    expect(consulted.other).toBeGreaterThanOrEqual(briefingS * 0.4);
    expect(consulted.tone[CALLER_HZ]).toBe(0);
    expect(consulted.chime).toBe(0);
  }, 60_000);

  it('busy (SIPp 486): the agent is back and says the line was busy', async () => {
    const patched = await product.api('PATCH', `/v1/trunks/outbound/${trunkId}`, {
      address: sipps.busy!.address,
    });
    expect(patched.status, JSON.stringify(patched.body)).toBe(200);
    const result = await askAndFail('the line was busy', async () => undefined);
    console.log(`busy: agent back ${JSON.stringify(result.heard)}`);
    const msgs = parseSippMessages(
      readFileSync(
        join(product.stack.logsDir, `sipp-486-${sipps.busy!.port}`, 'messages.log'),
        'utf8',
      ),
    );
    expect(
      msgs.find((m) => m.direction === 'received' && m.firstLine.startsWith('INVITE'))?.text,
    ).toContain(`sip:${human.user}@`);
  }, 45_000);

  it('no answer (SIPp rings past the ringing timeout): the agent is back and says nobody answered', async () => {
    const patched = await product.api('PATCH', `/v1/trunks/outbound/${trunkId}`, {
      address: sipps.ring!.address,
    });
    expect(patched.status, JSON.stringify(patched.body)).toBe(200);
    const result = await askAndFail('nobody answered', async () => undefined);
    console.log(`no answer: agent back ${JSON.stringify(result.heard)}`);
    const msgs = parseSippMessages(
      readFileSync(
        join(product.stack.logsDir, `sipp-ring-forever-${sipps.ring!.port}`, 'messages.log'),
        'utf8',
      ),
    );
    // The bridge gave up ringing and cancelled the INVITE.
    expect(msgs.some((m) => m.direction === 'received' && m.firstLine.startsWith('CANCEL'))).toBe(
      true,
    );
  }, 45_000);

  it('the caller hangs up: an ordinary end, no transfer', async () => {
    const at = Date.now();
    await caller.hangup();
    await caller.waitForEvent('CALL_CLOSED', { since: at, timeoutMs: 10_000 });
    const ended = await until('call.ended', () =>
      product.callEvents(callId).find((e) => e.type === 'call.ended'),
    );
    // The call's end is the caller's: the humans and SIPp callees that left before are not it.
    expect(ended.data).toMatchObject({ reason: 'hangup', participantIdentity: `sip_${CALLER}` });
    expect(product.callEvents(callId).some((e) => e.type === 'call.transferred')).toBe(false);
  });
});
