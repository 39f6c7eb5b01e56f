/**
 * A live call in the LiveKit stand-in with a CallControl over it: the server side is the real
 * SDK talking to the stand-in; the room side is a SimCallMedia fed by the stand-in's
 * participant events (joins, `sip.callStatus` changes, hang-ups), so the far end acts through
 * the stand-in (`lk.setCallStatus`, `lk.hangup`, outcomes by number) exactly as it does for the
 * API tests. Key presses go through `media.pressDigits` (the stand-in models no media).
 */
import { SipClient } from 'livekit-server-sdk';
import { createLiveKitClients } from '../../src/core/livekit.js';
import { createLogger, type Logger } from '../../src/core/logger.js';
import { SimCallMedia, type SimCallMediaOptions } from '../../src/sim/sim-call-media.js';
import { type CallControl, createCallControl } from '../../src/telephony/call-control.js';
import { type Standin, startLiveKitStandin } from '../standin/index.js';

export const OUR_NUMBER = '+14155550100';
export const CALLER_NUMBER = '+14155550142';

export interface StandinCall {
  lk: Standin;
  control: CallControl;
  media: SimCallMedia;
  room: string;
  caller: string;
  outboundTrunkId: string;
  /** Requests made after the call was set up (trunks, rules and the inbound call excluded). */
  callRequests(): Standin['requests'];
  close(): Promise<void>;
}

export async function startStandinCall(
  opts: { answerDelayMs?: number; media?: SimCallMediaOptions; log?: Logger } = {},
): Promise<StandinCall> {
  const lk = await startLiveKitStandin({ answerDelayMs: opts.answerDelayMs ?? 50 });
  const sip = new SipClient(lk.url, lk.apiKey, lk.apiSecret);
  await sip.createSipInboundTrunk('in', [OUR_NUMBER]);
  await sip.createSipDispatchRule({ type: 'individual', roomPrefix: 'call' }, { name: 'all' });
  const out = await sip.createSipOutboundTrunk('out', 'sip.carrier.example', [OUR_NUMBER]);
  const call = await lk.simulateInboundCall({ from: CALLER_NUMBER, to: OUR_NUMBER });
  await lk.waitForEvent(
    (e) =>
      e.event === 'participant_attributes_changed' &&
      e.participant?.attributes['sip.callStatus'] === 'active',
  );
  const media = new SimCallMedia(opts.media);
  const p = lk.participants(call.room).find((x) => x.identity === call.identity)!;
  media.join(p.identity, p.attributes);
  lk.events.on('event', (e) => {
    if (e.room.name !== call.room || !e.participant) return;
    const { identity, attributes } = e.participant;
    if (e.event === 'participant_joined') media.join(identity, attributes);
    if (e.event === 'participant_attributes_changed') media.update(identity, attributes);
    if (e.event === 'participant_left') media.leave(identity);
  });
  const log = opts.log ?? createLogger({ LOG_LEVEL: 'silent', LOG_FULL_NUMBERS: false });
  const control = createCallControl({
    room: call.room,
    callerIdentity: call.identity,
    livekit: createLiveKitClients({
      LIVEKIT_URL: lk.url,
      LIVEKIT_API_KEY: lk.apiKey,
      LIVEKIT_API_SECRET: lk.apiSecret,
    }),
    media,
    log,
  });
  const start = lk.requests.length;
  return {
    lk,
    control,
    media,
    room: call.room,
    caller: call.identity,
    outboundTrunkId: out.sipTrunkId,
    callRequests: () => lk.requests.slice(start),
    close: () => lk.close(),
  };
}
