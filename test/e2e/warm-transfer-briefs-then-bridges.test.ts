/**
 * Warm transfer on a self-hosted LiveKit server (src/telephony/transfer/warm-transfer.ts,
 * docs/transfers.md), on the real stack and judged from what the two phones recorded.
 *
 * Caller phone A dials the receptionist and asks for an engineer; the LLM stand-in says it will
 * put them on hold and calls the warm transfer tool with a summary. The agent publishes hold
 * audio, dials the human's phone B through an outbound trunk into the same room, and a second
 * (consultation) session briefs B while A stays on hold. From the moment B rings, A's phone
 * sends a 440 Hz tone; after the bridge B's phone sends 1 kHz. Then:
 *   - during the consultation A's recording holds the hold chime and no speech (none of the
 *     briefing, none of B's answer), while A was sending its tone all along;
 *   - B's recording holds the briefing (with the summary) and none of A's tone or the chime;
 *   - after B accepts (speech "yes" through the STT stand-in and the consultation's LLM tool,
 *     or key 1) A hears B's tone and B hears A's, and nothing else: the agent's voices and the
 *     hold audio are gone and the agent publishes nothing any more;
 *   - either side hanging up ends the call: the other phone gets a BYE, the room goes.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { TrackType } from '@livekit/protocol';
import { RoomServiceClient } from 'livekit-server-sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ScriptedRule, ScriptedTurn } from '../../src/sim/scripted-llm.js';
import type { Phone } from '../../stack/phones.js';
import { type Product, startProduct } from '../../stack/product.js';
import { callerWav, until } from './support/audio.js';
import {
  CALLER_HZ,
  HUMAN_HZ,
  heardMix,
  newestRecording,
  position,
  toneSince,
  writeSignalWav,
} from './support/transfer.js';

const NUMBER = '+15550100000';
const HUMAN = '+15550000040';
const GREETING = 'Acme, this is Ava.';
const REQUEST = 'I need to talk to an engineer';
const HOLD_LINE = 'Of course. Please hold while I reach an engineer.';
const SUMMARY = 'The caller is Alex, the internet is down since this morning.';
const YES = 'Yes, put them through.';

let product: Product;
let human: Phone;
let rooms: RoomServiceClient;
const wavs = { request: '', yes: '', callerTone: '', humanTone: '' };
/** The human phone's last recording before the current call. */
let humanRecBefore: string | undefined;

function lastIsUser(turn: ScriptedTurn): boolean {
  const last = turn.chatCtx.items.at(-1);
  return last?.type === 'message' && last.role === 'user';
}

const rule: ScriptedRule = (turn) => {
  // The consultation (its agent has the decision tools).
  if (turn.tools.includes('accept_transfer')) {
    if (lastIsUser(turn) && /\byes\b/i.test(turn.userText)) {
      return { toolCalls: [{ name: 'accept_transfer', args: {} }] };
    }
    return undefined;
  }
  if (
    lastIsUser(turn) &&
    /engineer/i.test(turn.userText) &&
    turn.tools.includes('support_engineer')
  ) {
    return {
      text: HOLD_LINE,
      toolCalls: [{ name: 'support_engineer', args: { summary: SUMMARY } }],
    };
  }
  return undefined;
};

beforeAll(async () => {
  product = await startProduct({
    worker: false,
    workerEnv: {
      SILENCE_TIMEOUT_S: '0',
      TRANSFER_RING_TIMEOUT_S: '15',
      WARM_TRANSFER_DECISION_TIMEOUT_S: '20',
    },
  });
  const dir = product.stack.logsDir;
  for (const [k, hz] of [
    ['callerTone', CALLER_HZ],
    ['humanTone', HUMAN_HZ],
  ] as const) {
    wavs[k] = join(dir, `${k}.wav`);
    writeSignalWav(wavs[k], hz, 60);
  }
  wavs.request = join(dir, 'caller-request.wav');
  wavs.yes = join(dir, 'human-yes.wav');
  await callerWav(wavs.request, [{ at: 0.2, text: REQUEST }]);
  await callerWav(wavs.yes, [{ at: 0.2, text: YES }], 'en-us+m1');
  human = await product.phone({ user: HUMAN, answer: 'manual', micSeconds: 150 });
  const trunk = await product.api('POST', '/v1/trunks/outbound', {
    name: 'to the engineer',
    address: `${human.host}:${human.port}`,
    transport: 'udp',
    numbers: [NUMBER],
  });
  expect(trunk.status, JSON.stringify(trunk.body)).toBe(201);
  const agentsFile = join(dir, 'agents-warm-transfer.yaml');
  writeFileSync(
    agentsFile,
    `version: 1
agents:
  - name: receptionist
    instructions: |
      You are Ava at Acme Home Internet. Put callers through to an engineer when they ask.
    greeting: ${GREETING}
    transfers:
      - name: support_engineer
        to: tel:${HUMAN}
        description: A human support engineer.
        mode: warm
routes:
  - name: everyone
    default: true
    agent: receptionist
`,
  );
  await product.startWorker('worker', {
    env: { AGENTS_CONFIG: agentsFile, DEFAULT_OUTBOUND_TRUNK_ID: trunk.body.id },
  });
  product.providers.llm.setRule(rule);
  rooms = new RoomServiceClient(
    product.stack.livekitHttpUrl,
    product.stack.apiKey,
    product.stack.apiSecret,
  );
  await product.routeNumber(NUMBER, 'receptionist');
}, 240_000);

afterAll(async () => {
  await product?.stop();
});

interface WarmRun {
  caller: Phone;
  callId: string;
  /** Recording instants (s, each phone's own heard file) of the moments below. */
  callerHoldS: number;
  callerBridgeS: number;
  /** The same instants in the caller's sent file. */
  callerSentHoldS: number;
  callerSentBridgeS: number;
  humanBridgeS: number;
  /** When the human was about to decide (the briefing played out), in their heard file. */
  humanDecisionS: number;
  briefingAudioS: number;
  callerRec: { heard: string; sent: string };
  humanRec: { heard: string; sent: string };
}

async function warmTransfer(
  user: string,
  accept: 'speech' | 'key',
  hangsUp: 'human' | 'caller',
): Promise<WarmRun> {
  const spokenBefore = product.providers.tts.spoken().length;
  const spoken = () => product.providers.tts.spoken().slice(spokenBefore);
  product.providers.stt.setScript([REQUEST]);
  const caller = await product.phone({ user, micSeconds: 150 });
  const dialedAt = Date.now();
  await caller.dial(product.stack.sipUri(NUMBER));
  const established = await caller.waitForEvent('CALL_ESTABLISHED', {
    since: dialedAt,
    timeoutMs: 30_000,
  });
  const callId = await until('the call in GET /v1/calls', async () => {
    const r = await product.api('GET', '/v1/calls');
    return r.body?.calls?.find((c: { from: string }) => c.from === user)?.id as string | undefined;
  });
  const greeting = await until('the greeting', () =>
    spoken().find((c) => c.text.includes('Acme') && c.firstAudioAt),
  );
  await until('the greeting played', () =>
    Date.now() > greeting.firstAudioAt! + greeting.audioMs + 500 ? true : undefined,
  );
  const askedAt = Date.now();
  await caller.play(wavs.request, 140);

  // The human's phone rings: the caller is on hold by now (the tool said so first).
  const ringing = await human.waitForEvent('CALL_INCOMING', { since: askedAt, timeoutMs: 30_000 });
  const hold = spoken().find((c) => c.text.includes('Please hold'));
  expect(hold?.text.trim()).toBe(HOLD_LINE);
  expect(ringing.at).toBeGreaterThanOrEqual(hold!.firstAudioAt! + hold!.audioMs - 500);
  const callerRec = newestRecording(caller)!;
  const callerHoldS = position(callerRec.heard);
  const callerSentHoldS = position(callerRec.sent);
  // From now on the caller's phone sends its tone: the human must not hear it until the bridge.
  await caller.play(wavs.callerTone, 140);
  const answeredAt = Date.now();
  await human.answer();
  await human.waitForEvent('CALL_ESTABLISHED', { since: answeredAt, timeoutMs: 10_000 });
  const humanRec = await until('the human’s recording', () => {
    const r = newestRecording(human);
    return r && r.heard > (humanRecBefore ?? '') ? r : undefined;
  });

  // The consultation's own STT connection hears the human: script it alone.
  if (accept === 'speech') {
    const conn = await until('the consultation’s STT connection', () =>
      product.providers.stt
        .connectionsInfo()
        .find((c) => c.openedAt >= answeredAt - 500 && c.closedAt === undefined),
    );
    product.providers.stt.setScript([YES], { connection: conn.id });
  }
  const briefing = await until(
    'the briefing',
    () =>
      spoken().find(
        (c) => c.text.includes('caller on hold for you') && c.finalAt && c.firstAudioAt,
      ),
    20_000,
  );
  expect(briefing.text).toContain(SUMMARY);
  await until('the briefing played', () =>
    Date.now() > briefing.firstAudioAt! + briefing.audioMs + 600 ? true : undefined,
  );
  const decidedAt = Date.now();
  const humanDecisionS = position(humanRec.heard);
  if (accept === 'speech') await human.play(wavs.yes, 140);
  else await human.sendDtmf('1');
  const transferred = await until(
    'call.transferred',
    () => product.callEvents(callId).find((e) => e.type === 'call.transferred'),
    20_000,
  );
  expect(transferred.data).toMatchObject({ mode: 'warm', destination: 'support_engineer' });
  const callerBridgeS = position(callerRec.heard);
  const callerSentBridgeS = position(callerRec.sent);
  const humanBridgeS = position(humanRec.heard);
  console.log(
    `${accept}: decision → bridged (call.transferred) ${transferred.at - decidedAt} ms; ` +
      `human answered → briefing audio ${briefing.firstAudioAt! - answeredAt} ms`,
  );
  if (accept === 'speech') {
    const heard = product.providers.stt.heard().find((h) => h.transcript === YES);
    expect(heard, 'the consultation heard the human say yes').toBeDefined();
  }
  await human.play(wavs.humanTone, 140);
  await until(
    'each phone hearing the other’s tone for 2 s',
    () =>
      toneSince(callerRec.heard, HUMAN_HZ, callerBridgeS) >= 2 &&
      toneSince(humanRec.heard, CALLER_HZ, humanBridgeS) >= 2
        ? true
        : undefined,
    15_000,
  );
  // The agent has left the conversation: it publishes nothing in the room any more.
  const participants = await rooms.listParticipants(callId);
  const published = participants.map((p) => ({
    identity: p.identity,
    kind: p.kind,
    callStatus: p.attributes['sip.callStatus'],
    audioTracks: p.tracks.filter((t) => t.type === TrackType.AUDIO).map((t) => t.name || t.sid),
  }));
  console.log(`${accept}: participants after the bridge ${JSON.stringify(published)}`);
  const sip = published.filter(
    (p) => p.identity.startsWith('sip_') || p.identity.startsWith('transfer_'),
  );
  expect(sip.map((p) => p.audioTracks.length)).toEqual([1, 1]);
  // The agent stays in the room to see either side hang up: its hold track is gone; its two
  // session voices (RoomIO's "roomio_audio": the main one and the consultation's) stay
  // published after their sessions closed, silent (what the phones hear is checked below).
  expect(published.filter((p) => !sip.includes(p)).flatMap((p) => p.audioTracks)).toEqual([
    'roomio_audio',
    'roomio_audio',
  ]);
  // The human's line is up, as LiveKit's SIP bridge reports it on their participant.
  expect(sip.map((p) => p.callStatus)).toEqual(['active', 'active']);

  // Either side hanging up ends the call for the other.
  const [leaving, staying] = hangsUp === 'human' ? [human, caller] : [caller, human];
  const hungUpAt = Date.now();
  await leaving.hangup();
  const bye = await staying.waitForEvent('CALL_CLOSED', { since: hungUpAt, timeoutMs: 15_000 });
  console.log(`${hangsUp} hung up: the other phone got its BYE after ${bye.at - hungUpAt} ms`);
  await product.livekitWebhooks.waitFor(
    (w) => w.event === 'room_finished' && w.room === callId,
    15_000,
  );
  // Whoever hung up first, the call's end is the caller's leg, after the transfer.
  const ended = await until('call.ended', () =>
    product.callEvents(callId).find((e) => e.type === 'call.ended'),
  );
  expect(ended.data).toMatchObject({ reason: 'transfer', participantIdentity: `sip_${user}` });
  const summary = await until('call.summary', () =>
    product.callEvents(callId).find((e) => e.type === 'call.summary'),
  );
  expect(summary.data).toMatchObject({ outcome: 'transferred' });
  expect(established.id).toBeTruthy();
  return {
    caller,
    callId,
    callerHoldS,
    callerBridgeS,
    callerSentHoldS,
    callerSentBridgeS,
    humanBridgeS,
    humanDecisionS,
    briefingAudioS: briefing.audioMs / 1000,
    callerRec,
    humanRec,
  };
}

/** What each phone heard before and after the bridge. */
function judge(r: WarmRun): void {
  const end = Number.POSITIVE_INFINITY;
  // The caller: from the hold to the bridge (marked a little after it: nothing comes from the
  // human's line in between, their microphone is silent until the test plays their tone).
  const aHold = heardMix(r.callerRec.heard, r.callerHoldS + 0.5, r.callerBridgeS);
  const aSent = heardMix(r.callerRec.sent, r.callerSentHoldS + 0.5, r.callerSentBridgeS - 0.3);
  // The human: while being briefed (up to their decision).
  const bConsult = heardMix(r.humanRec.heard, 0, r.humanDecisionS);
  const aBridged = heardMix(r.callerRec.heard, r.callerBridgeS, end);
  const bBridged = heardMix(r.humanRec.heard, r.humanBridgeS, end);
  console.log(
    JSON.stringify({
      callerOnHold: aHold,
      callerSent: aSent,
      humanConsulted: bConsult,
      callerBridged: aBridged,
      humanBridged: bBridged,
    }),
  );
  // On hold: the chime, and no speech at all (the briefing, the human's answer, "connecting you").
  expect(aHold.chime).toBeGreaterThanOrEqual(1.5);
  expect(aHold.other).toBeLessThanOrEqual(0.3);
  // ... while the caller was talking (its tone) the whole time.
  expect(aSent.tone[CALLER_HZ]).toBeGreaterThanOrEqual(aSent.seconds * 0.8);
  // The human heard the briefing, and neither the caller nor the hold audio.
  expect(bConsult.other).toBeGreaterThanOrEqual(r.briefingAudioS * 0.4);
  expect(bConsult.tone[CALLER_HZ]).toBe(0);
  expect(bConsult.chime).toBe(0);
  // Bridged: each hears the other and nothing else.
  expect(aBridged.tone[HUMAN_HZ]).toBeGreaterThanOrEqual(2);
  expect(bBridged.tone[CALLER_HZ]).toBeGreaterThanOrEqual(2);
  // (At most a 100 ms window of the last chime note still in flight when the hold stopped.)
  expect(aBridged.chime).toBeLessThanOrEqual(0.1);
  expect(aBridged.other).toBeLessThanOrEqual(0.3);
  expect(bBridged.other).toBeLessThanOrEqual(0.3);
}

describe('warm transfer on the self-hosted server: briefed apart, then bridged', () => {
  it('accepted by speech ("yes" → accept_transfer); the human hangs up, the caller gets a BYE', async () => {
    humanRecBefore = newestRecording(human)?.heard;
    const run = await warmTransfer('+15550000001', 'speech', 'human');
    judge(run);
  }, 90_000);

  it('accepted with key 1; the caller hangs up, the human gets a BYE', async () => {
    humanRecBefore = newestRecording(human)?.heard;
    const run = await warmTransfer('+15550000002', 'key', 'caller');
    judge(run);
  }, 90_000);
});
