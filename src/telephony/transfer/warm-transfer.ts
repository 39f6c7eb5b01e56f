/**
 * Warm transfer to a human on a self-hosted LiveKit server (no MoveParticipant): the human is
 * dialed into the caller's own room and who hears whom is decided server-side with
 * UpdateSubscriptions and the subscribe permission (UpdateParticipant). Design and the
 * reasoning behind each step: docs/transfers.md.
 *
 *   caller C (phone)   agent: main voice V, hold H, consultation voice K   human T (phone)
 *
 *   1. hold: the agent publishes H; C hears H (its SIP bridge subscribes to new tracks).
 *   2. dial T (waitUntilAnswered). T's SIP participant joins before its phone rings and
 *      publishes its (still silent) track at once: C is unsubscribed from it, and T loses the
 *      right to subscribe, so the subscriptions its bridge makes on answer stay pending.
 *   3. answered: a second AgentSession (the consultation) hears only T and speaks on K;
 *      C is unsubscribed from K before it says a word; T's pending subscriptions to C, H and V
 *      are cancelled, then T may subscribe again — to K only.
 *   4. answering-machine check on T, then the briefing; T accepts (speech or key 1) or
 *      declines (speech, key 2, hang-up, silence until the decision timeout).
 *   5. accepted: K and H go, C and T are subscribed to each other; the caller's agent session
 *      then leaves the conversation. Otherwise T is removed, H stops, and the agent is back.
 */

import type { llm } from '@livekit/agents';
import { voice } from '@livekit/agents';
import { transferTarget } from '../../core/phone.js';
import type { CallControl, HoldAudio, LocalTrack, Party } from '../call-control.js';
import { ConsultAgent, type ConsultDecision } from './consult-agent.js';
import { type TransferFailure, type TransferFailureReason, transferFailure } from './outcome.js';

export interface WarmTransferOptions {
  /** `tel:+E164` or `+E164` (dialed through `trunkId`). */
  to: string;
  /** Outbound trunk for the dial (DEFAULT_OUTBOUND_TRUNK_ID). */
  trunkId: string | undefined;
  /** The main agent's summary: caller's name, reason, what was tried. */
  summary: string;
  targetName?: string;
  ringingTimeoutS: number;
  decisionTimeoutMs: number;
  /** Keys sent after the answer (an extension), `w` = pause. */
  dtmf?: string;
  hold: HoldAudio;
  /** Builds the consultation session (its models); closed by the transfer. */
  createConsultSession: () => voice.AgentSession;
  /** Answering-machine check on the human's line (voice.AMD); off when undefined. */
  amd?: { llm?: llm.LLM; noSpeechTimeoutMs?: number };
  /** Aborted when the caller hangs up. */
  signal?: AbortSignal;
  /** Identity of the human's participant (default `transfer_<n>`). */
  identity?: string;
}

export type WarmTransferResult =
  | { ok: true; to: string; humanIdentity: string }
  | { ok: false; to: string; failure: TransferFailure };

let seq = 0;
const LOCAL_SUBSCRIBE_WAIT_MS = 1500;

export async function warmTransfer(
  control: CallControl,
  o: WarmTransferOptions,
): Promise<WarmTransferResult> {
  const to = o.to;
  const human = o.identity ?? `transfer_${Date.now().toString(36)}${++seq}`;
  const caller = control.callerIdentity;
  const log = control.log.child({ callId: control.room, mode: 'warm', human });
  const fail = (reason: TransferFailureReason, detail: string, extra?: Partial<TransferFailure>) =>
    ({ ok: false, to, failure: { reason, detail, ...extra } }) as const;

  const number = transferTarget(to)?.number;
  if (!number) return fail('error', 'warm transfer needs a tel:+E.164 destination');
  if (!o.trunkId) return fail('error', 'no outbound trunk (set DEFAULT_OUTBOUND_TRUNK_ID)');

  // Server calls run one after another, in the order the design needs them. A failed step is
  // logged and remembered: the briefing is never read, and the call never bridged, after one
  // (the caller could hear the briefing, or the two would not hear each other).
  let chain: Promise<unknown> = Promise.resolve();
  const failedSteps: string[] = [];
  const op = (what: string, fn: () => Promise<unknown>) => {
    chain = chain.then(fn).catch((err: Error) => {
      failedSteps.push(what);
      log.warn({ err: err.message, what }, 'media step failed');
    });
    return chain;
  };
  const callerTracks = () => [...(control.media.party(caller)?.audioTrackSids ?? [])];
  const humanTracks = () => [...(control.media.party(human)?.audioTrackSids ?? [])];

  // 2. isolation while dialing: T may not subscribe; C never hears T's tracks.
  let restricted = false;
  const unsubscribedFromHuman = new Set<string>();
  const isolate = (p: Party) => {
    if (!restricted) {
      restricted = true;
      op('revoke subscribe', () => control.setCanSubscribe(human, false));
    }
    const fresh = p.audioTrackSids.filter((s) => !unsubscribedFromHuman.has(s));
    if (fresh.length === 0) return;
    for (const s of fresh) unsubscribedFromHuman.add(s);
    op('caller off human', () => control.setSubscribed(caller, fresh, false));
  };
  let humanLeft = false;
  const offEvents = control.media.subscribe((e) => {
    if ((e.type === 'joined' || e.type === 'updated') && e.party.identity === human)
      isolate(e.party);
    if (e.type === 'left' && e.identity === human) humanLeft = true;
  });

  let hold: LocalTrack | undefined;
  let consult: { session: voice.AgentSession; agent: ConsultAgent; track?: LocalTrack } | undefined;
  const cleanup = async (removeHuman: boolean) => {
    offEvents();
    o.signal?.removeEventListener('abort', onCallerGone);
    await chain;
    if (consult) await (consult.track?.stop() ?? consult.session.close()).catch(() => undefined);
    if (removeHuman && !humanLeft && control.media.party(human))
      await control.removeParticipant(human);
    await hold?.stop().catch(() => undefined);
  };
  const callerGone = () => o.signal?.aborted === true;
  // The caller hanging up cancels the dial (a removed SIP participant stops ringing).
  const onCallerGone = () => {
    if (control.media.party(human)) void control.removeParticipant(human);
  };
  o.signal?.addEventListener('abort', onCallerGone, { once: true });

  try {
    // 1. hold.
    hold = await control.media.startHold(o.hold);
    log.info('caller on hold; dialing the human');

    // 2. dial.
    try {
      await control.dial({
        trunkId: o.trunkId,
        number,
        identity: human,
        ringingTimeoutS: o.ringingTimeoutS,
        ...(o.dtmf ? { dtmf: o.dtmf } : {}),
        attributes: { 'phoneAgents.role': 'transfer-target' },
      });
    } catch (err) {
      const failure = transferFailure(err);
      log.info(
        { reason: failure.reason, sipStatusCode: failure.sipStatusCode },
        'human not reached',
      );
      await cleanup(false);
      return { ok: false, to, failure };
    }
    if (callerGone()) {
      await cleanup(true);
      return fail('error', 'the caller hung up');
    }
    const party = control.media.party(human);
    if (party) isolate(party);
    log.info('human answered');

    // 3. consultation session, heard by T only.
    const session = o.createConsultSession();
    const agent = new ConsultAgent({
      summary: o.summary,
      ...(o.targetName ? { targetName: o.targetName } : {}),
    });
    consult = { session, agent };
    consult.track = await control.media.startSideSession(session, agent, human);
    const k = consult.track.trackSid;
    await control.media.waitLocalSubscribed(k, LOCAL_SUBSCRIBE_WAIT_MS);
    await op('caller off consultation', () => control.setSubscribed(caller, [k], false));
    const notForHuman = () => [
      ...callerTracks(),
      hold!.trackSid,
      ...optional(control.media.voiceTrackSid()),
    ];
    await op('human off caller/hold', () => control.setSubscribed(human, notForHuman(), false));
    await op('grant subscribe', () => control.setCanSubscribe(human, true));
    await op('human off caller/hold (late)', () =>
      control.setSubscribed(human, notForHuman(), false),
    );

    // 4. machine check, briefing, decision.
    if (o.amd) {
      const amd = new voice.AMD(session, {
        ...(o.amd.llm ? { llm: o.amd.llm } : { llm: null }),
        stt: null,
        interruptOnMachine: true,
        noSpeechTimeoutMs: o.amd.noSpeechTimeoutMs ?? 3000,
        participantIdentity: human,
        suppressCompatibilityWarning: true,
      });
      const verdict = await amd.execute().finally(() => amd.aclose());
      log.info({ category: verdict.category }, 'answering-machine check on the human line');
      if (verdict.isMachine) {
        await cleanup(true);
        return fail('voicemail', `${verdict.category}: ${verdict.reason}`);
      }
    }
    if (humanLeft || callerGone()) {
      await cleanup(true);
      return humanLeft
        ? fail('declined', 'the human hung up')
        : fail('error', 'the caller hung up');
    }
    await chain;
    if (failedSteps.length > 0) {
      await cleanup(true);
      return fail('error', `the consultation could not be isolated (${failedSteps.join(', ')})`);
    }
    agent.brief(o.summary);

    const decision = await decide(control, agent, human, o.decisionTimeoutMs, o.signal);
    log.info({ decision }, 'human decided');
    if (decision === 'accepted') {
      await session
        .say('Thank you, connecting you now.', { allowInterruptions: false })
        .waitForPlayout();
      await consult.track.stop().catch(() => undefined);
      consult = undefined;
      offEvents();
      o.signal?.removeEventListener('abort', onCallerGone);
      await op('caller hears human', () => control.setSubscribed(caller, humanTracks(), true));
      await op('human hears caller', () => control.setSubscribed(human, callerTracks(), true));
      if (failedSteps.length > 0) {
        await cleanup(true);
        return fail('error', `the call could not be bridged (${failedSteps.join(', ')})`);
      }
      await hold.stop().catch(() => undefined);
      return { ok: true, to, humanIdentity: human };
    }
    if (decision === 'declined' && !humanLeft) {
      await session
        .say('Okay, thank you. Goodbye.', { allowInterruptions: false })
        .waitForPlayout();
    }
    await cleanup(true);
    switch (decision) {
      case 'declined':
        return fail('declined', 'the human declined');
      case 'left':
        return fail('declined', 'the human hung up');
      case 'timeout':
        return fail('no-decision', 'no decision before the timeout');
      default:
        return fail('error', 'the caller hung up');
    }
  } catch (err) {
    log.error({ err }, 'warm transfer failed');
    await cleanup(true);
    return fail('error', (err as Error).message);
  }
}

type Decision = ConsultDecision | 'left' | 'timeout' | 'caller-left';

/** The first of: a tool decision, key 1 / 2 from the human, the human hanging up, the timeout. */
function decide(
  control: CallControl,
  agent: ConsultAgent,
  human: string,
  timeoutMs: number,
  signal: AbortSignal | undefined,
): Promise<Decision> {
  return new Promise((resolve) => {
    let settled = false;
    const timer = setTimeout(() => done('timeout'), timeoutMs);
    const onAbort = () => done('caller-left');
    const off = control.media.subscribe((e) => {
      if (e.type === 'left' && e.identity === human) done('left');
      if (e.type === 'dtmf' && e.identity === human) {
        if (e.digit === '1') done('accepted');
        if (e.digit === '2') done('declined');
      }
    });
    void agent.decision.then(done);
    signal?.addEventListener('abort', onAbort, { once: true });
    if (signal?.aborted) done('caller-left');
    function done(d: Decision) {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      off();
      signal?.removeEventListener('abort', onAbort);
      resolve(d);
    }
  });
}

function optional(s: string | undefined): string[] {
  return s ? [s] : [];
}
