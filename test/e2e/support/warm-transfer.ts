/**
 * One warm transfer on the self-hosted server, briefed apart and then bridged, as
 * test/e2e/warm-transfer-briefs-then-bridges.test.ts proves it and `npm run bench:reliability`
 * repeats it (docs/transfers.md).
 *
 * Caller phone A dials the receptionist and asks for an engineer; the LLM stand-in says it will
 * put them on hold and calls the warm transfer tool with a summary. The agent publishes hold
 * audio, dials the human's phone B through an outbound trunk into the same room, and a second
 * (consultation) session briefs B while A stays on hold. From the moment B rings, A's phone
 * sends a 440 Hz tone; after the bridge B's phone sends 1 kHz. B accepts (speech "yes" or key 1),
 * then one side hangs up. `judgeWarmTransfer` says whether each phone heard what it should.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { TrackType } from '@livekit/protocol';
import { RoomServiceClient } from 'livekit-server-sdk';
import type { ScriptedReply, ScriptedRule, ScriptedTurn } from '../../../src/sim/scripted-llm.js';
import type { Phone } from '../../../stack/phones.js';
import type { Product, ProductOptions } from '../../../stack/product.js';
import { callerWav, check, until } from './audio.js';
import { dialIn, played } from './standins.js';
import {
  CALLER_HZ,
  type HeardMix,
  HUMAN_HZ,
  heardMix,
  lastIsUser,
  newestRecording,
  position,
  recordingAfter,
  toneSince,
  writeSignalWav,
} from './transfer.js';

export const WARM_NUMBER = '+15550100000';
const HUMAN = '+15550000040';
const GREETING = 'Acme, this is Ava.';
const REQUEST = 'I need to talk to an engineer';
export const HOLD_LINE = 'Of course. Please hold while I reach an engineer.';
export const SUMMARY = 'The caller is Alex, the internet is down since this morning.';
const YES = 'Yes, put them through.';

/**
 * The product for warm transfers: the worker starts in `startWarmTransferWorker` (its agents
 * file names the human's phone); the human's phone rings up to `ringTimeoutS`.
 */
export function warmTransferProduct(ringTimeoutS = 15): ProductOptions {
  return {
    worker: false,
    workerEnv: {
      SILENCE_TIMEOUT_S: '0',
      TRANSFER_RING_TIMEOUT_S: String(ringTimeoutS),
      WARM_TRANSFER_DECISION_TIMEOUT_S: '20',
    },
  };
}

/**
 * The receptionist's part when the caller asks for an engineer: the hold line and the warm
 * transfer tool with the summary (undefined for any other turn).
 */
export function putThroughToEngineer(turn: ScriptedTurn): ScriptedReply | undefined {
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
}

const rule: ScriptedRule = (turn) => {
  // The consultation (its agent has the decision tools).
  if (turn.tools.includes('accept_transfer')) {
    if (lastIsUser(turn) && /\byes\b/i.test(turn.userText)) {
      return { toolCalls: [{ name: 'accept_transfer', args: {} }] };
    }
    return undefined;
  }
  return putThroughToEngineer(turn);
};

export interface WarmDesk {
  /** The human's phone (answers by hand): the warm transfer's destination. */
  human: Phone;
  /** The outbound trunk the agent dials the human through (its address can be changed). */
  trunkId: string;
  rooms: RoomServiceClient;
}

/**
 * On a product started with `warmTransferProduct()`: the human's phone behind an outbound trunk,
 * the receptionist with a warm transfer to them (`support_engineer`), its worker with the LLM
 * stand-in's `rule`, and the number routed to it.
 */
export async function startWarmTransferWorker(
  product: Product,
  llmRule: ScriptedRule,
): Promise<WarmDesk> {
  const human = await product.phone({ user: HUMAN, answer: 'manual', micSeconds: 150 });
  const trunk = await product.api('POST', '/v1/trunks/outbound', {
    name: 'to the engineer',
    address: `${human.host}:${human.port}`,
    transport: 'udp',
    numbers: [WARM_NUMBER],
  });
  check(trunk.status === 201, `outbound trunk: ${trunk.status} ${JSON.stringify(trunk.body)}`);
  const agentsFile = join(product.stack.logsDir, 'agents-warm-transfer.yaml');
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
  product.providers.llm.setRule(llmRule);
  const rooms = new RoomServiceClient(
    product.stack.livekitHttpUrl,
    product.stack.apiKey,
    product.stack.apiSecret,
  );
  await product.routeNumber(WARM_NUMBER, 'receptionist');
  return { human, trunkId: trunk.body.id, rooms };
}

export interface WarmScene extends WarmDesk {
  product: Product;
  wavs: { request: string; yes: string; callerTone: string; humanTone: string };
}

/**
 * On a product started with `warmTransferProduct()`: the phones' audio, and the warm transfer's
 * worker (`startWarmTransferWorker`) with the LLM's script of a transfer the human accepts.
 */
export async function prepareWarmTransfers(product: Product): Promise<WarmScene> {
  const dir = product.stack.logsDir;
  const wavs = {
    request: join(dir, 'caller-request.wav'),
    yes: join(dir, 'human-yes.wav'),
    callerTone: join(dir, 'callerTone.wav'),
    humanTone: join(dir, 'humanTone.wav'),
  };
  writeSignalWav(wavs.callerTone, CALLER_HZ, 60);
  writeSignalWav(wavs.humanTone, HUMAN_HZ, 60);
  await callerWav(wavs.request, [{ at: 0.2, text: REQUEST }]);
  await callerWav(wavs.yes, [{ at: 0.2, text: YES }], 'en-us+m1');
  return { product, ...(await startWarmTransferWorker(product, rule)), wavs };
}

export interface WarmRun {
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
  /** Human's decision → call.transferred (ms). */
  bridgedMs: number;
}

/**
 * `caller` (a phone of its own) calls, asks for an engineer and is put on hold; the human answers,
 * is briefed and accepts by `accept`; caller and human hear each other; `hangsUp` hangs up and the
 * other phone gets its BYE. Throws at the first step that went otherwise.
 */
export async function warmTransfer(
  scene: WarmScene,
  caller: Phone,
  accept: 'speech' | 'key',
  hangsUp: 'human' | 'caller',
): Promise<WarmRun> {
  const { product, human, wavs } = scene;
  /** The human phone's last recording before this call. */
  const humanRecBefore = newestRecording(human);
  const spokenBefore = product.providers.tts.spoken().length;
  const spoken = () => product.providers.tts.spoken().slice(spokenBefore);
  product.providers.stt.setScript([REQUEST]);
  const { callId } = await dialIn(product, caller, WARM_NUMBER);
  const greeting = await until('the greeting', () =>
    spoken().find((c) => c.text.includes('Acme') && c.firstAudioAt),
  );
  await played(greeting, 500);
  const askedAt = Date.now();
  await caller.play(wavs.request, 140);

  // The human's phone rings: the caller is on hold by now (the tool said so first).
  const ringing = await human.waitForEvent('CALL_INCOMING', { since: askedAt, timeoutMs: 30_000 });
  const hold = spoken().find((c) => c.text.includes('Please hold'));
  check(hold?.text.trim() === HOLD_LINE, `the hold line: ${JSON.stringify(hold?.text)}`);
  check(
    ringing.at >= hold.firstAudioAt! + hold.audioMs - 500,
    `the human rang ${hold.firstAudioAt! + hold.audioMs - ringing.at} ms before the hold line ended`,
  );
  const callerRec = newestRecording(caller)!;
  const callerHoldS = position(callerRec.heard);
  const callerSentHoldS = position(callerRec.sent);
  // From now on the caller's phone sends its tone: the human must not hear it until the bridge.
  await caller.play(wavs.callerTone, 140);
  const answeredAt = Date.now();
  await human.answer();
  await human.waitForEvent('CALL_ESTABLISHED', { since: answeredAt, timeoutMs: 10_000 });
  const humanRec = await until('the human’s recording', () =>
    recordingAfter(human, humanRecBefore),
  );

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
  check(briefing.text.includes(SUMMARY), `the briefing lacks the summary: ${briefing.text}`);
  await played(briefing, 600);
  const decidedAt = Date.now();
  const humanDecisionS = position(humanRec.heard);
  if (accept === 'speech') await human.play(wavs.yes, 140);
  else await human.sendDtmf('1');
  const transferred = await until(
    'call.transferred',
    () => product.callEvents(callId).find((e) => e.type === 'call.transferred'),
    20_000,
  );
  check(
    transferred.data.mode === 'warm' && transferred.data.destination === 'support_engineer',
    `call.transferred: ${JSON.stringify(transferred.data)}`,
  );
  const callerBridgeS = position(callerRec.heard);
  const callerSentBridgeS = position(callerRec.sent);
  const humanBridgeS = position(humanRec.heard);
  console.log(
    `${accept}: decision → bridged (call.transferred) ${transferred.at - decidedAt} ms; ` +
      `human answered → briefing audio ${briefing.firstAudioAt! - answeredAt} ms`,
  );
  if (accept === 'speech') {
    const heard = product.providers.stt.heard().find((h) => h.transcript === YES);
    check(heard !== undefined, 'the consultation did not hear the human say yes');
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
  const participants = await scene.rooms.listParticipants(callId);
  const published = participants.map((p) => ({
    identity: p.identity,
    kind: p.kind,
    callStatus: p.attributes['sip.callStatus'],
    audioTracks: p.tracks.filter((t) => t.type === TrackType.AUDIO).map((t) => t.name || t.sid),
  }));
  const sip = published.filter(
    (p) => p.identity.startsWith('sip_') || p.identity.startsWith('transfer_'),
  );
  const agentTracks = published.filter((p) => !sip.includes(p)).flatMap((p) => p.audioTracks);
  // The agent stays in the room to see either side hang up: its hold track is gone; its two
  // session voices (RoomIO's "roomio_audio": the main one and the consultation's) stay
  // published after their sessions closed, silent (what the phones hear is judged apart).
  // The human's line is up, as LiveKit's SIP bridge reports it on their participant.
  check(
    JSON.stringify(sip.map((p) => p.audioTracks.length)) === '[1,1]' &&
      JSON.stringify(agentTracks) === '["roomio_audio","roomio_audio"]' &&
      JSON.stringify(sip.map((p) => p.callStatus)) === '["active","active"]',
    `participants after the bridge: ${JSON.stringify(published)}`,
  );

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
  check(
    ended.data.reason === 'transfer' && ended.data.participantIdentity === `sip_${caller.user}`,
    `call.ended: ${JSON.stringify(ended.data)}`,
  );
  const summary = await until('call.summary', () =>
    product.callEvents(callId).find((e) => e.type === 'call.summary'),
  );
  check(
    summary.data.outcome === 'transferred',
    `call.summary outcome: ${JSON.stringify(summary.data.outcome)}`,
  );
  return {
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
    bridgedMs: transferred.at - decidedAt,
  };
}

/** What each phone heard before and after the bridge. */
export interface WarmHearing {
  callerOnHold: HeardMix;
  callerSent: HeardMix;
  humanConsulted: HeardMix;
  callerBridged: HeardMix;
  /** The caller from BRIDGE_PATH_S after the bridge was marked: what was sent before has arrived. */
  callerBridgedSettled: HeardMix;
  humanBridged: HeardMix;
}

/** What the agent sent before the bridge may still reach the caller's phone this long after. */
const BRIDGE_PATH_S = 0.3;

/**
 * Judges what each phone heard before and after the bridge; throws at the first thing heard
 * that should not have been (or not heard that should).
 */
export function judgeWarmTransfer(r: WarmRun): WarmHearing {
  const end = Number.POSITIVE_INFINITY;
  const h: WarmHearing = {
    // The caller: from the hold to the bridge (marked a little after it: nothing comes from the
    // human's line in between, their microphone is silent until their tone plays).
    callerOnHold: heardMix(r.callerRec.heard, r.callerHoldS + 0.5, r.callerBridgeS),
    callerSent: heardMix(r.callerRec.sent, r.callerSentHoldS + 0.5, r.callerSentBridgeS - 0.3),
    // The human: while being briefed (up to their decision).
    humanConsulted: heardMix(r.humanRec.heard, 0, r.humanDecisionS),
    callerBridged: heardMix(r.callerRec.heard, r.callerBridgeS, end),
    callerBridgedSettled: heardMix(r.callerRec.heard, r.callerBridgeS + BRIDGE_PATH_S, end),
    humanBridged: heardMix(r.humanRec.heard, r.humanBridgeS, end),
  };
  const { callerOnHold: aHold, callerSent: aSent, humanConsulted: bConsult } = h;
  const { callerBridged: aBridged, humanBridged: bBridged } = h;
  const mix = (what: string, m: HeardMix) => `${what} ${JSON.stringify(m)}`;
  // On hold: the chime, and no speech at all (the briefing, the human's answer, "connecting you").
  check(aHold.chime >= 1.5, mix('the caller on hold heard too little of the chime:', aHold));
  check(aHold.other <= 0.3, mix('the caller on hold heard speech:', aHold));
  // ... while the caller was talking (its tone) the whole time.
  check(
    (aSent.tone[CALLER_HZ] ?? 0) >= aSent.seconds * 0.8,
    mix('the caller did not send its tone on hold:', aSent),
  );
  // The human heard the briefing, and neither the caller nor the hold audio.
  check(
    bConsult.other >= r.briefingAudioS * 0.4,
    mix(`the human heard too little of the ${r.briefingAudioS} s briefing:`, bConsult),
  );
  check(bConsult.tone[CALLER_HZ] === 0, mix('the human heard the caller before:', bConsult));
  check(bConsult.chime === 0, mix('the human heard the hold audio:', bConsult));
  // Bridged: each hears the other and nothing else.
  check((aBridged.tone[HUMAN_HZ] ?? 0) >= 2, mix('the caller did not hear the human:', aBridged));
  check((bBridged.tone[CALLER_HZ] ?? 0) >= 2, mix('the human did not hear the caller:', bBridged));
  // The hold audio is gone: the bridge is marked when the test sees call.transferred, after the
  // hold stopped, but the last of a chime note may still be on its way through room and bridge
  // then (0.1–0.2 s of it after the mark, the bridge by key 1 often lands in a note); from
  // BRIDGE_PATH_S on, at most one 100 ms window of it.
  const settled = h.callerBridgedSettled;
  check(settled.chime <= 0.1, mix('the caller still heard the hold audio:', settled));
  check(aBridged.other <= 0.3, mix('the caller heard speech after the bridge:', aBridged));
  check(bBridged.other <= 0.3, mix('the human heard speech after the bridge:', bBridged));
  return h;
}
