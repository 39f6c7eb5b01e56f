/**
 * Cold transfer on the real stack: SIP REFER from the LiveKit SIP bridge to the caller's phone.
 *
 * A caller (baresip) dials a number routed to the receptionist. Twice, the call is handed to a
 * front-desk phone (another baresip) with `TransferSIPParticipant`: once by the agent's transfer
 * tool (the LLM stand-in is scripted to call it after saying so), once by
 * `POST /v1/calls/:id/transfer`. Each time, judged from the phones:
 *   - the caller's phone receives a REFER (baresip's TRANSFER event) whose Refer-To is the
 *     front desk, after the agent's "transferring you" played out (tool path);
 *   - the caller's phone itself calls the front desk (baresip follows REFER), the front desk
 *     answers, and the two hear each other: the desk hears the caller's 440 Hz and nothing of
 *     the agent, the caller hears the desk's 1 kHz;
 *   - the bridge hangs up its leg of the first call (BYE to the caller's phone), the agent has
 *     left: the room is gone (LiveKit's room_finished), `call.transferred` and `call.ended`
 *     (reason `transfer`) are reported.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { ScriptedRule } from '../../src/sim/scripted-llm.js';
import type { Phone } from '../../stack/phones.js';
import { type Product, startProduct } from '../../stack/product.js';
import { callerWav, until } from './support/audio.js';
import { dialIn, played } from './support/standins.js';
import {
  CALLER_HZ,
  HUMAN_HZ,
  heardMix,
  lastIsUser,
  newestRecording,
  recordingAfter,
  toneSince,
  writeSignalWav,
} from './support/transfer.js';

const NUMBER = '+15550100000';
/** Each attempt calls from a number of its own, so a retry never meets an earlier attempt's call. */
let callers = 0;
const nextCaller = (): string => `+1555000${String(100 + ++callers).padStart(4, '0')}`;
const DESK = '+15550000030';
const GREETING = 'Acme, this is Ava.';
const REQUEST = 'Can I talk to a person at the front desk please';
const TRANSFER_LINE = 'Sure, transferring you to the front desk now.';

let product: Product;
let desk: Phone;
const wavs = { request: '', callerTone: '', deskTone: '', silence: '' };

function agentsYaml(deskUri: string): string {
  return `version: 1
agents:
  - name: receptionist
    instructions: |
      You are Ava at Acme Home Internet. When the caller asks for a person, transfer them to the
      front desk.
    greeting: ${GREETING}
    transfers:
      - name: front_desk
        to: ${deskUri}
        description: A person at the front desk, when the caller asks for one.
        mode: cold
routes:
  - name: everyone
    default: true
    agent: receptionist
`;
}

const rule: ScriptedRule = (turn) => {
  if (lastIsUser(turn) && /front desk/i.test(turn.userText) && turn.tools.includes('front_desk')) {
    return { text: TRANSFER_LINE, toolCalls: [{ name: 'front_desk', args: {} }] };
  }
  return undefined;
};

beforeAll(async () => {
  // The worker starts once the desk phone is up: its address is the transfer destination.
  product = await startProduct({
    worker: false,
    workerEnv: { SILENCE_TIMEOUT_S: '0', TRANSFER_RING_TIMEOUT_S: '15' },
  });
  const dir = product.stack.logsDir;
  wavs.callerTone = join(dir, 'caller-440.wav');
  wavs.deskTone = join(dir, 'desk-1k.wav');
  wavs.request = join(dir, 'caller-request.wav');
  writeSignalWav(wavs.callerTone, CALLER_HZ, 60);
  writeSignalWav(wavs.deskTone, HUMAN_HZ, 60);
  wavs.silence = join(dir, 'silence.wav');
  writeSignalWav(wavs.silence, 0, 1);
  await callerWav(wavs.request, [{ at: 0.2, text: REQUEST }]);
  desk = await product.phone({
    user: DESK,
    answer: 'manual',
    micWav: wavs.deskTone,
    micSeconds: 60,
  });
  const agentsFile = join(dir, 'agents-cold-transfer.yaml');
  writeFileSync(agentsFile, agentsYaml(desk.uri));
  await product.startWorker('worker', { env: { AGENTS_CONFIG: agentsFile } });
  product.providers.llm.setRule(rule);
  await product.routeNumber(NUMBER, 'receptionist');
}, 240_000);

afterAll(async () => {
  await product?.stop();
});

/** What an attempt left behind: a failed one may leave its calls up (the desk busy with it). */
const leftovers: { phone: Phone; callId?: string }[] = [];

afterEach(async () => {
  for (const { phone, callId } of leftovers.splice(0)) {
    if (callId) await product.api('DELETE', `/v1/calls/${callId}`).catch(() => undefined);
    await phone.stop();
  }
  // The desk hangs up whatever it still has (a held and an active call at most).
  await desk.hangup().catch(() => undefined);
  await desk.hangup().catch(() => undefined);
});

interface Answered {
  phone: Phone;
  callId: string;
  /** baresip's id (SIP Call-ID) of the call to the agent. */
  sipCallId: string;
  dialedAt: number;
}

/** A call from `user` to the number, answered and greeted. */
async function callTheAgent(user: string): Promise<Answered> {
  const phone = await product.phone({ user, micSeconds: 120 });
  const left: { phone: Phone; callId?: string } = { phone };
  leftovers.push(left);
  const spokenBefore = product.providers.tts.spoken().length;
  const { dialedAt, callId, sipCallId } = await dialIn(product, phone, NUMBER);
  left.callId = callId;
  const greeting = await until('the greeting', () =>
    product.providers.tts
      .spoken()
      .slice(spokenBefore)
      .find((c) => c.text.includes('Acme') && c.finalAt && c.firstAudioAt),
  );
  await played(greeting, 500);
  return { phone, callId, sipCallId, dialedAt };
}

interface Handed {
  referAt: number;
  referTo: string;
  /** The caller's phone's leg to the bridge closed (BYE), and when. */
  firstLegClosed: { at: number; param?: string };
  deskAnsweredAt: number;
}

/**
 * After the REFER was asked for: the caller's phone gets it and dials the desk, the caller's
 * microphone switches to its tone, the desk answers; both hear the other's tone; the bridge
 * hangs up the caller's first leg and the room goes. Then the caller hangs up.
 */
async function followTheTransfer(a: Answered): Promise<Handed> {
  const { phone } = a;
  const refer = await phone.waitForEvent('TRANSFER', { since: a.dialedAt, timeoutMs: 30_000 });
  console.log(`REFER at the caller's phone: Refer-To ${refer.param} (call ${refer.id})`);
  expect(refer.param).toContain(desk.uri);
  expect(refer.id).toBe(a.sipCallId);
  const firstRec = newestRecording(phone);
  const deskBefore = newestRecording(desk);
  const incoming = await desk.waitForEvent('CALL_INCOMING', {
    since: refer.at,
    timeoutMs: 10_000,
  });
  expect(incoming.peerUri).toContain(a.phone.user);
  const deskAnsweredAt = Date.now();
  await desk.answer();
  const second = await phone.waitForEvent('CALL_ESTABLISHED', {
    since: refer.at,
    timeoutMs: 10_000,
    filter: (e) => e.id !== a.sipCallId,
  });
  expect(second.peerUri).toContain(desk.uri.replace(/^sip:/, ''));
  // From now on the caller's phone sends 440 Hz. (baresip 1.0 cannot switch the source of a
  // call still ringing: its new call starts with the microphone the phone had at the REFER.)
  await phone.play(wavs.callerTone, 60);
  await desk.waitForEvent('CALL_ESTABLISHED', { since: deskAnsweredAt, timeoutMs: 5_000 });
  // The bridge's leg ends: its BYE once the transfer succeeded (NOTIFY 200).
  const closed = await phone.waitForEvent('CALL_CLOSED', {
    since: refer.at,
    timeoutMs: 10_000,
    filter: (e) => e.id === a.sipCallId,
  });
  console.log(
    `first leg closed ${closed.at - deskAnsweredAt} ms after the desk answered (${closed.param})`,
  );
  // The agent has left: the room is gone.
  await product.livekitWebhooks.waitFor(
    (w) => w.event === 'room_finished' && w.room === a.callId,
    15_000,
  );
  await until('the call gone from GET /v1/calls/:id', async () =>
    (await product.api('GET', `/v1/calls/${a.callId}`)).status === 404 ? true : undefined,
  );
  // The two phones hear each other (polled on the live recordings).
  const callerRec = await until('the caller phone’s second recording', () =>
    recordingAfter(phone, firstRec),
  );
  const deskRec = await until('the desk’s recording', () => recordingAfter(desk, deskBefore));
  await until(
    'both tones heard for 2 s',
    () =>
      toneSince(deskRec.heard, CALLER_HZ, 0) >= 2 && toneSince(callerRec.heard, HUMAN_HZ, 0) >= 2
        ? true
        : undefined,
    15_000,
  );
  // Still connected to each other: the phone's hang-up reaches the desk.
  const hungUpAt = Date.now();
  await phone.hangup();
  await desk.waitForEvent('CALL_CLOSED', { since: hungUpAt, timeoutMs: 10_000 });
  // Whole recordings now that the call is over.
  const deskHeard = heardMix(deskRec.heard, 0, Number.POSITIVE_INFINITY);
  const callerHeard = heardMix(callerRec.heard, 0, Number.POSITIVE_INFINITY);
  console.log(
    `desk heard ${JSON.stringify(deskHeard)}; caller heard ${JSON.stringify(callerHeard)}`,
  );
  expect(deskHeard.tone[CALLER_HZ]).toBeGreaterThanOrEqual(2);
  expect(callerHeard.tone[HUMAN_HZ]).toBeGreaterThanOrEqual(2);
  // Nobody else on the new call: no speech (the agent's voice) either way, no echo of one's own tone.
  expect(deskHeard.other).toBeLessThanOrEqual(0.3);
  expect(callerHeard.other).toBeLessThanOrEqual(0.3);
  expect(deskHeard.tone[HUMAN_HZ]).toBe(0);
  expect(callerHeard.tone[CALLER_HZ]).toBe(0);
  return {
    referAt: refer.at,
    referTo: refer.param ?? '',
    firstLegClosed: { at: closed.at, ...(closed.param ? { param: closed.param } : {}) },
    deskAnsweredAt,
  };
}

// About one REFER in ten meets a race in livekit-sip v1.8.0's REFER transaction ("transaction
// failed to complete (0 intermediate responses)" 2 ms after sending it, while the phone accepted
// it): the bridge reports a failed transfer and never hangs up its leg (docs/transfers.md). That
// is the bridge's, not ours: such a call is placed again, from a new number, twice at most; each
// attempt's calls are hung up after it (afterEach), so the desk is free for the next.
describe('cold transfer: SIP REFER to the caller’s phone, which calls the destination', {
  retry: 2,
}, () => {
  it('the agent’s transfer tool: said first, then REFER; caller and desk talk; the agent is gone', async () => {
    product.providers.stt.setScript([REQUEST]);
    const a = await callTheAgent(nextCaller());
    const spokenBefore = product.providers.tts.spoken().length;
    await a.phone.play(wavs.request, 100);
    // The request was heard once the agent answers it: the microphone goes quiet again, so the
    // call the phone places on the REFER starts with silence, not with the request.
    await until('the agent answering', () =>
      product.providers.tts
        .spoken()
        .slice(spokenBefore)
        .find((c) => c.text.includes('transferring you')),
    );
    await a.phone.play(wavs.silence, 100);
    const handed = await followTheTransfer(a);
    // The agent told the caller before the REFER left (the tool waits for its playout).
    const line = product.providers.tts
      .spoken()
      .slice(spokenBefore)
      .find((c) => c.text.includes('transferring you'));
    expect(line?.text.trim()).toBe(TRANSFER_LINE);
    expect(handed.referAt).toBeGreaterThanOrEqual(line!.firstAudioAt! + line!.audioMs - 500);
    const transferred = await until('call.transferred', () =>
      product.callEvents(a.callId).find((e) => e.type === 'call.transferred'),
    );
    expect(transferred.data).toMatchObject({
      mode: 'cold',
      to: desk.uri,
      destination: 'front_desk',
    });
    const ended = await until('call.ended', () =>
      product.callEvents(a.callId).find((e) => e.type === 'call.ended'),
    );
    expect(ended.data).toMatchObject({ reason: 'transfer' });
    const summary = await until('call.summary', () =>
      product.callEvents(a.callId).find((e) => e.type === 'call.summary'),
    );
    expect(summary.data).toMatchObject({ outcome: 'transferred', endedBy: 'agent' });
    console.log(
      `tool: REFER ${handed.referAt - (line!.firstAudioAt! + line!.audioMs)} ms after the line's audio ended; ` +
        `bridge BYE ${handed.firstLegClosed.at - handed.deskAnsweredAt} ms after the desk answered`,
    );
  }, 90_000);

  it('POST /v1/calls/:id/transfer: REFER; caller and desk talk; the agent is gone', async () => {
    const caller = nextCaller();
    const a = await callTheAgent(caller);
    const asked = Date.now();
    const transferring = product.api('POST', `/v1/calls/${a.callId}/transfer`, {
      to: desk.uri,
      ringingTimeoutS: 15,
    });
    const handed = await followTheTransfer(a);
    const res = await transferring;
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body).toEqual({ id: a.callId, status: 'transferred', to: desk.uri });
    const transferred = await until('call.transferred', () =>
      product.callEvents(a.callId).find((e) => e.type === 'call.transferred'),
    );
    expect(transferred.data).toMatchObject({
      to: desk.uri,
      participantIdentity: `sip_${caller}`,
    });
    const ended = await until('call.ended', () =>
      product.callEvents(a.callId).find((e) => e.type === 'call.ended'),
    );
    expect(ended.data).toMatchObject({ reason: 'transfer' });
    console.log(
      `API: REFER ${handed.referAt - asked} ms after the request; bridge BYE ${
        handed.firstLegClosed.at - handed.deskAnsweredAt
      } ms after the desk answered`,
    );
  }, 60_000);
});
