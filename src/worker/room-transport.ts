/**
 * The LiveKit room a real call lives in, as a `CallTransport` for the call job: the phone (SIP)
 * participant is the caller, the session's audio goes through RoomIO, and hanging up deletes
 * the room (LiveKit then sends the SIP BYE).
 */
import { AutoSubscribe, type JobContext } from '@livekit/agents';
import {
  DisconnectReason,
  type Participant,
  type RemoteParticipant,
  RoomEvent,
} from '@livekit/rtc-node';
import { PHONE_SAMPLE_RATE } from '../agents/providers.js';
import { RoomCallMedia } from '../telephony/call-media-room.js';
import type { Caller, CallSessionParts, CallTransport } from './call-job.js';

export class RoomTransport implements CallTransport {
  readonly closed: Promise<string>;
  readonly media: RoomCallMedia;

  constructor(private readonly ctx: JobContext) {
    this.media = new RoomCallMedia(ctx.room);
    this.closed = new Promise((resolve) =>
      ctx.room.once(RoomEvent.Disconnected, (reason) => resolve(reasonName(reason))),
    );
  }

  get callId(): string {
    return this.ctx.job.room?.name ?? this.ctx.room.name ?? this.ctx.job.id;
  }

  get jobMetadata(): string {
    return this.ctx.job.metadata ?? '';
  }

  async waitForCaller(opts: { identity?: string; signal: AbortSignal }): Promise<Caller> {
    // Audio only: a phone call has no video, and subscribing to nothing else saves bandwidth.
    await this.ctx.connect(undefined, AutoSubscribe.AUDIO_ONLY);
    const aborted = new Promise<never>((_, reject) => {
      const fail = () => reject(new Error('stopped waiting for the phone participant'));
      if (opts.signal.aborted) fail();
      opts.signal.addEventListener('abort', fail, { once: true });
    });
    const participant = await Promise.race([this.ctx.waitForParticipant(opts.identity), aborted]);
    return new RoomCaller(this.ctx, participant);
  }

  async startSession(parts: CallSessionParts, caller: Caller): Promise<void> {
    // This call's piece: a fresh processor, LiveKit Cloud's filter, or nothing (off).
    const noiseCancellation = parts.noise?.forRoom();
    await parts.session.start({
      agent: parts.agent,
      room: this.ctx.room,
      inputOptions: {
        participantIdentity: caller.identity,
        // Phone audio is narrowband: ask for it as it is, not upsampled to 24 kHz.
        audioSampleRate: PHONE_SAMPLE_RATE,
        ...(noiseCancellation ? { noiseCancellation } : {}),
        closeOnDisconnect: true,
      },
    });
  }

  async hangUp(reason: string): Promise<void> {
    // Deleting the room disconnects everyone: LiveKit hangs up the phone line.
    await this.ctx.deleteRoom();
    this.ctx.shutdown(reason);
  }
}

class RoomCaller implements Caller {
  readonly identity: string;
  readonly left: Promise<string>;

  constructor(
    private readonly ctx: JobContext,
    private readonly participant: RemoteParticipant,
  ) {
    this.identity = participant.identity;
    this.left = new Promise((resolve) => {
      const onLeft = (p: RemoteParticipant) => {
        if (p.identity !== this.identity) return;
        ctx.room.off(RoomEvent.ParticipantDisconnected, onLeft);
        resolve(reasonName(p.disconnectReason));
      };
      ctx.room.on(RoomEvent.ParticipantDisconnected, onLeft);
    });
  }

  attributes(): Readonly<Record<string, string>> {
    return this.participant.attributes;
  }

  onAttributesChanged(fn: (attributes: Readonly<Record<string, string>>) => void): () => void {
    const handler = (_changed: Record<string, string>, p: Participant) => {
      if (p.identity === this.identity) fn(p.attributes);
    };
    this.ctx.room.on(RoomEvent.ParticipantAttributesChanged, handler);
    return () => this.ctx.room.off(RoomEvent.ParticipantAttributesChanged, handler);
  }
}

function reasonName(reason: DisconnectReason | undefined): string {
  return reason === undefined ? 'unknown' : (DisconnectReason[reason] ?? String(reason));
}
