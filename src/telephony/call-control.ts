/**
 * CallControl: what transfers, DTMF, voicemail handling and call ending may do to a live call.
 *
 * Two halves, because LiveKit splits them the same way:
 * - server-side operations (SIP REFER, dialing a human, who-hears-whom through
 *   UpdateSubscriptions / UpdateParticipant permissions, removing a participant) go through the
 *   LiveKit server API (`createLiveKitClients`) — one implementation, which tests point at the
 *   LiveKit stand-in;
 * - room-side operations (seeing participants, their tracks and key presses; publishing hold
 *   audio, a consultation voice, DTMF) need the agent's own room connection: `CallMedia`, with a
 *   room implementation (src/worker/room-call-media.ts) and a simulator one (src/sim/sim-call-media.ts), so
 *   session-level tests run without a room.
 */
import type { voice } from '@livekit/agents';
import type { LiveKitClients } from '../core/livekit.js';
import type { Logger } from '../core/logger.js';

/** A remote participant as the agent sees it. */
export interface Party {
  identity: string;
  attributes: Readonly<Record<string, string>>;
  /** Sids of the audio tracks it publishes. */
  audioTrackSids: readonly string[];
}

export type PartyEvent =
  | { type: 'joined'; party: Party }
  /** Attributes or published tracks changed. */
  | { type: 'updated'; party: Party }
  | { type: 'left'; identity: string }
  | { type: 'dtmf'; identity: string; digit: string };

/** Looped mono PCM16 the caller hears while on hold. */
export interface HoldAudio {
  sampleRate: number;
  samples: Int16Array;
}

export interface LocalTrack {
  readonly trackSid: string;
  stop(): Promise<void>;
}

/** The room side of a call: the agent's own connection (or a simulation of it). */
export interface CallMedia {
  party(identity: string): Party | undefined;
  /** Calls `fn` for every participant event and key press; returns an unsubscribe. */
  subscribe(fn: (e: PartyEvent) => void): () => void;
  /** Sends one DTMF key (`0-9 * # A-D`) to the phone line(s) in the room. */
  sendDtmf(digit: string): Promise<void>;
  /** Publishes looped hold audio on its own track. */
  startHold(audio: HoldAudio): Promise<LocalTrack>;
  /**
   * Starts a second session in the room, linked to `identity` (its STT hears only that
   * participant), with its voice on its own track. Resolves with that track.
   */
  startSideSession(
    session: voice.AgentSession,
    agent: voice.Agent,
    identity: string,
  ): Promise<LocalTrack>;
  /** Sid of the main session's voice track, once published. */
  voiceTrackSid(): string | undefined;
  /** Resolves true once a participant subscribed to our track `trackSid` (false on timeout). */
  waitLocalSubscribed(trackSid: string, timeoutMs: number): Promise<boolean>;
}

export interface DialOptions {
  /** Outbound trunk (`ST_...`). */
  trunkId: string;
  /** E.164 number to call. */
  number: string;
  identity: string;
  ringingTimeoutS: number;
  /** Keys sent after the answer (an extension); `w` = half a second pause. */
  dtmf?: string;
  attributes?: Record<string, string>;
}

export interface CallControl {
  /** The room (= call id). */
  readonly room: string;
  /** The phone participant of the call. */
  readonly callerIdentity: string;
  readonly media: CallMedia;
  readonly log: Logger;
  /** Cold transfer by SIP REFER; rejects with the SDK's SipCallError on a SIP failure. */
  transfer(identity: string, to: string, opts: { ringingTimeoutS: number }): Promise<void>;
  /** Dials a number into this room and resolves when it answers (SipCallError otherwise). */
  dial(opts: DialOptions): Promise<void>;
  /** Server-side (un)subscription of `identity` to tracks (UpdateSubscriptions). */
  setSubscribed(identity: string, trackSids: string[], subscribe: boolean): Promise<void>;
  /** Grants or revokes `identity`'s right to subscribe to anything (UpdateParticipant). */
  setCanSubscribe(identity: string, canSubscribe: boolean): Promise<void>;
  removeParticipant(identity: string): Promise<void>;
  /** Resolves with the first event `match` accepts; rejects on timeout or abort. */
  waitFor<T>(
    match: (e: PartyEvent) => T | undefined,
    opts: { timeoutMs: number; signal?: AbortSignal; what: string },
  ): Promise<T>;
}

export interface CallControlOptions {
  room: string;
  callerIdentity: string;
  livekit: Pick<LiveKitClients, 'sip' | 'rooms'>;
  media: CallMedia;
  log: Logger;
}

export function createCallControl(o: CallControlOptions): CallControl {
  const { room, livekit, media } = o;
  const log = o.log.child({ component: 'call-control' });
  return {
    room,
    callerIdentity: o.callerIdentity,
    media,
    log: o.log,
    async transfer(identity, to, { ringingTimeoutS }) {
      await livekit.sip.transferSipParticipant(room, identity, to, {
        ringingTimeout: ringingTimeoutS,
        playDialtone: false,
        // The REFER resolves only when the far end answered or failed: allow for the ringing.
        timeout: ringingTimeoutS + 10,
      });
    },
    async dial(d) {
      await livekit.sip.createSipParticipant(d.trunkId, d.number, room, {
        participantIdentity: d.identity,
        participantName: 'Transfer target',
        ...(d.attributes ? { participantAttributes: d.attributes } : {}),
        ...(d.dtmf ? { dtmf: d.dtmf } : {}),
        // A dial tone would be played into the room, where the caller could hear it.
        playDialtone: false,
        ringingTimeout: d.ringingTimeoutS,
        waitUntilAnswered: true,
        timeout: d.ringingTimeoutS + 10,
      });
    },
    async setSubscribed(identity, trackSids, subscribe) {
      if (trackSids.length === 0) return;
      await livekit.rooms.updateSubscriptions(room, identity, trackSids, subscribe);
    },
    async setCanSubscribe(identity, canSubscribe) {
      // UpdateParticipant replaces the whole permission: restate what LiveKit's SIP token grants
      // (protocol sip/token.go). canUpdateMetadata too: livekit-sip sets the participant's
      // sip.callStatus as the participant itself; without it the real server refused "active"
      // ("update own metadata not allowed") and voice.AMD, which waits for it, held up the briefing.
      await livekit.rooms.updateParticipant(room, identity, {
        permission: {
          canSubscribe,
          canPublish: true,
          canPublishData: true,
          canUpdateMetadata: true,
        },
      });
    },
    async removeParticipant(identity) {
      try {
        await livekit.rooms.removeParticipant(room, identity);
      } catch (err) {
        // Already gone (hung up meanwhile) is the outcome we wanted.
        log.debug({ err: (err as Error).message }, 'remove participant failed');
      }
    },
    waitFor(match, { timeoutMs, signal, what }) {
      return new Promise((resolve, reject) => {
        let off = () => {};
        const timer = setTimeout(
          () => finish(new Error(`timed out waiting for ${what}`)),
          timeoutMs,
        );
        const onAbort = () => finish(new Error(`aborted waiting for ${what}`));
        function finish(err: Error | undefined, value?: unknown) {
          clearTimeout(timer);
          off();
          signal?.removeEventListener('abort', onAbort);
          if (err) reject(err);
          else resolve(value as never);
        }
        if (signal?.aborted) return onAbort();
        signal?.addEventListener('abort', onAbort, { once: true });
        off = media.subscribe((e) => {
          const v = match(e);
          if (v !== undefined) finish(undefined, v);
        });
      });
    },
  };
}
