/**
 * The LiveKit room a real call lives in, as a `CallTransport` for the call job: the phone (SIP)
 * participant is the caller, the agent's audio goes out through RoomIO, and hanging up deletes
 * the room (LiveKit then sends the SIP BYE).
 *
 * The caller's audio comes in through our own `RoomAudioInput`, not RoomIO's: CALLER_FRAME_MS
 * frames (40 ms, two RTP packets, by default) instead of RoomIO's 10 ms cut the per-frame cost of
 * the session's pipeline, with no resampling hop after the FFI. RoomIO sees `session.input.audio`
 * set and leaves the input alone; it still follows the caller for transcripts and closes the
 * session when the caller leaves.
 */
import { AutoSubscribe, type JobContext, voice } from '@livekit/agents';
import {
  DisconnectReason,
  type Participant,
  type RemoteParticipant,
  RoomEvent,
} from '@livekit/rtc-node';
import { PHONE_SAMPLE_RATE } from '../agents/providers.js';
import type { Caller, CallSessionParts, CallTransport } from '../call/call-job.js';
import type { Logger } from '../core/logger.js';
import { RoomAudioInput } from './room-audio-input.js';
import { RoomCallMedia } from './room-call-media.js';

export class RoomTransport implements CallTransport {
  readonly closed: Promise<string>;
  readonly media: RoomCallMedia;
  #removed = false;
  /** The agent's last state change, which RoomIO publishes as `lk.agent.state`. */
  #lastAgentState: string | undefined;

  constructor(
    private readonly ctx: JobContext,
    private readonly opts: {
      /** Where failures of the caller's audio input are told. */
      log?: Logger;
      /** CALLER_FRAME_MS. */
      frameMs: number;
    },
  ) {
    this.media = new RoomCallMedia(ctx.room);
    this.closed = new Promise((resolve) =>
      ctx.room.once(RoomEvent.Disconnected, (reason) => {
        // The API removes an agent whose call it gave to another (docs/reliability.md).
        this.#removed = reason === DisconnectReason.PARTICIPANT_REMOVED;
        resolve(reasonName(reason));
      }),
    );
  }

  get agentIdentity(): string {
    return this.ctx.room.localParticipant?.identity || `agent-${this.ctx.job.id}`;
  }

  takenOver(): boolean {
    return this.#removed;
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
    const { session } = parts;
    session.on(voice.AgentSessionEventTypes.AgentStateChanged, (ev) => {
      this.#lastAgentState = ev.newState;
    });
    // This call's piece: a fresh processor, LiveKit Cloud's filter, or nothing (off).
    const noiseCancellation = parts.noise?.forRoom();
    const audio = new RoomAudioInput({
      room: this.ctx.room,
      participantIdentity: caller.identity,
      // Phone audio is narrowband: ask for it as it is, not upsampled.
      sampleRate: PHONE_SAMPLE_RATE,
      ...(noiseCancellation ? { noiseCancellation } : {}),
      frameSizeMs: this.opts.frameMs,
      ...(this.opts.log ? { logger: this.opts.log } : {}),
    });
    // Set before start(): RoomIO then creates no audio input of its own.
    session.input.audio = audio;
    // The session drops its input on close but never closes it; after a warm transfer the
    // caller's track must stop being decoded.
    session.once(voice.AgentSessionEventTypes.Close, () => void audio.close());
    try {
      await session.start({
        agent: parts.agent,
        room: this.ctx.room,
        inputOptions: {
          participantIdentity: caller.identity,
          // RoomIO's own audio input stays off (ours is set); saying so also spares a
          // "preserving the existing input.audio" warning on every call.
          audioEnabled: false,
          closeOnDisconnect: true,
        },
      });
    } catch (err) {
      await audio.close();
      throw err;
    }
  }

  async hangUp(reason: string): Promise<void> {
    await this.#agentStatePublished(500);
    // Deleting the room disconnects everyone: LiveKit hangs up the phone line.
    await this.ctx.deleteRoom();
    this.ctx.shutdown(reason);
  }

  /**
   * RoomIO publishes the agent's state (`lk.agent.state`) at each change, the last one while the
   * session closes; deleting the room under an update still in flight aborts it, and the
   * framework logs that as an error ("Failed to update agent state attributes", seen on the
   * real stack when a caller hangs up mid-sentence). Wait, bounded, until the attribute shows
   * the last state published.
   */
  async #agentStatePublished(maxMs: number): Promise<void> {
    const room = this.ctx.room;
    const deadline = Date.now() + maxMs;
    while (
      this.#lastAgentState !== undefined &&
      room.isConnected &&
      room.localParticipant?.attributes['lk.agent.state'] !== this.#lastAgentState &&
      Date.now() < deadline
    ) {
      await new Promise((r) => setTimeout(r, 20));
    }
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
      const done = (reason: string) => {
        ctx.room.off(RoomEvent.ParticipantDisconnected, onLeft);
        ctx.room.off(RoomEvent.ParticipantAttributesChanged, onAttributes);
        resolve(reason);
      };
      const onLeft = (p: RemoteParticipant) => {
        if (p.identity === this.identity) done(reasonName(p.disconnectReason));
      };
      // The bridge marks the line `hangup` when a BYE ends it, then leaves the room. Its leave
      // can be lost (livekit-sip v1.8.0 closes its socket under it), and LiveKit then notices
      // ~20 s later: the BYE is when the caller is gone.
      const onAttributes = (_changed: Record<string, string>, p: Participant) => {
        if (p.identity === this.identity && p.attributes['sip.callStatus'] === 'hangup') {
          done('SIP_BYE');
        }
      };
      ctx.room.on(RoomEvent.ParticipantDisconnected, onLeft);
      ctx.room.on(RoomEvent.ParticipantAttributesChanged, onAttributes);
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
