/**
 * The caller's audio for a session in a LiveKit room: the microphone track of ONE participant
 * (the phone line), as CALLER_FRAME_MS frames at the phone's rate, noise suppression applied inside the
 * `AudioStream`.
 *
 * Why not RoomIO's own input: it asks the FFI for 10 ms frames and adds a resampling hop even
 * when the rates already match. The session's pipeline costs about the same CPU per frame
 * whatever its length, so 10 ms frames cost more than twice what 40 ms ones (two 20 ms RTP
 * packets, the default) do; the simulator and benchmarks feed the same CALLER_FRAME_MS frames.
 * The path is AudioStream (FFI resampling + processor) → one gate → the session.
 *
 * Anyone else in the room (the human of a warm transfer is a second SIP participant) is never
 * read: only `participantIdentity`'s microphone.
 */
import { type ReadableStream, TransformStream } from 'node:stream/web';
import { voice } from '@livekit/agents';
import {
  type AudioFrame,
  AudioStream,
  type FrameProcessor,
  isFrameProcessor,
  type NoiseCancellationOptions,
  type RemoteParticipant,
  type RemoteTrack,
  type RemoteTrackPublication,
  type Room,
  RoomEvent,
  TrackSource,
} from '@livekit/rtc-node';
import type { Logger } from '../core/logger.js';

export interface RoomAudioInputOptions {
  room: Room;
  /** The caller; nobody else's audio is ever read. */
  participantIdentity: string;
  /** Rate the FFI delivers frames at (the phone's 8 kHz: no resampling after it). */
  sampleRate: number;
  /** Frame length the FFI delivers (CALLER_FRAME_MS; one RTP packet of a phone line is 20 ms). */
  frameSizeMs: number;
  /**
   * Run on every frame inside the AudioStream, before VAD and STT: a processor (owned by this
   * input from now on, closed in `close()`) or LiveKit Cloud's filter options.
   */
  noiseCancellation?: FrameProcessor<AudioFrame> | NoiseCancellationOptions;
  /** Told when a track change fails; nothing is logged without it. */
  logger?: Logger;
}

/** The microphone track the input should read (latest event wins). */
interface Target {
  readonly sid: string;
  readonly track: RemoteTrack;
}

/** The stream currently feeding `multiStream`. */
interface OpenInput extends Target {
  readonly id: string;
  readonly gated: ReadableStream<AudioFrame>;
  readonly piped: Promise<void>;
}

export class RoomAudioInput extends voice.AudioInput {
  readonly #room: Room;
  readonly #identity: string;
  readonly #sampleRate: number;
  readonly #frameSizeMs: number;
  readonly #noiseCancellation: FrameProcessor<AudioFrame> | NoiseCancellationOptions | undefined;
  readonly #logger: Logger | undefined;
  #target: Target | undefined;
  #open: OpenInput | undefined;
  /** Track changes run one after another on this chain, each towards the latest `#target`. */
  #transitions: Promise<void> = Promise.resolve();
  #attached = true;
  #closed = false;

  constructor(options: RoomAudioInputOptions) {
    super();
    this.#room = options.room;
    this.#identity = options.participantIdentity;
    this.#sampleRate = options.sampleRate;
    this.#frameSizeMs = options.frameSizeMs;
    this.#noiseCancellation = options.noiseCancellation;
    this.#logger = options.logger;

    this.#room.on(RoomEvent.TrackSubscribed, this.#onSubscribed);
    this.#room.on(RoomEvent.TrackUnsubscribed, this.#onUnsubscribed);
    this.#room.on(RoomEvent.TrackUnpublished, this.#onUnpublished);
    // The caller's track may already be subscribed (the job waited for the participant).
    const caller = this.#room.remoteParticipants.get(this.#identity);
    if (caller) void this.#retarget(microphoneOf(caller));
  }

  /** Mute / handoff: frames keep flowing from the track but are dropped until re-attached. */
  override setAttached(attached: boolean): void {
    super.setAttached(attached);
    this.#attached = attached;
  }

  override async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#room.off(RoomEvent.TrackSubscribed, this.#onSubscribed);
    this.#room.off(RoomEvent.TrackUnsubscribed, this.#onUnsubscribed);
    this.#room.off(RoomEvent.TrackUnpublished, this.#onUnpublished);
    await this.#retarget(undefined);
    await super.close();
    // Each AudioStream leaves the processor open (it outlives track changes): ours to close.
    if (isFrameProcessor(this.#noiseCancellation)) this.#noiseCancellation.close();
  }

  #onSubscribed = (
    track: RemoteTrack,
    publication: RemoteTrackPublication,
    participant: RemoteParticipant,
  ): void => {
    if (participant.identity !== this.#identity) return;
    if (publication.source !== TrackSource.SOURCE_MICROPHONE || !publication.sid) return;
    void this.#retarget({ sid: publication.sid, track });
  };

  #onUnsubscribed = (
    _track: RemoteTrack,
    publication: RemoteTrackPublication,
    participant: RemoteParticipant,
  ): void => this.#onGone(publication, participant);

  #onUnpublished = (publication: RemoteTrackPublication, participant: RemoteParticipant): void =>
    this.#onGone(publication, participant);

  #onGone(publication: RemoteTrackPublication, participant: RemoteParticipant): void {
    if (participant.identity !== this.#identity || publication.sid !== this.#target?.sid) return;
    // Another microphone of the caller (rare) takes over; otherwise wait for the next one.
    void this.#retarget(microphoneOf(participant, publication.sid));
  }

  /**
   * Points the input at `target` (undefined: nothing). Each queued step moves from whatever is
   * open to the LATEST target, so bursts of events collapse and never interleave.
   */
  #retarget(target: Target | undefined): Promise<void> {
    this.#target = this.#closed ? undefined : target;
    // A failed step is logged and the chain goes on: the next track event tries again.
    this.#transitions = this.#transitions
      .then(() => this.#settle())
      .catch((err: Error) =>
        this.#logger?.warn({ err: err.message }, 'caller audio: track change failed'),
      );
    return this.#transitions;
  }

  async #settle(): Promise<void> {
    const target = this.#target;
    const open = this.#open;
    if (open && target && open.sid === target.sid && open.track === target.track) return;
    if (open) {
      this.#open = undefined;
      await this.#shut(open);
    }
    // Re-read: an event may have changed the target while the old stream was shutting.
    if (target && target === this.#target && !this.#closed) this.#open = this.#start(target);
  }

  #start(target: Target): OpenInput {
    const frames = new AudioStream(target.track, {
      sampleRate: this.#sampleRate,
      numChannels: 1,
      frameSizeMs: this.#frameSizeMs,
      ...(this.#noiseCancellation ? { noiseCancellation: this.#noiseCancellation } : {}),
      // The processor keeps its state across track changes; close() ends it.
      autoCloseNoiseCancellation: false,
    });
    // The only hop between the FFI and the session: it drops frames while detached.
    const gate = new TransformStream<AudioFrame, AudioFrame>({
      transform: (frame, controller) => {
        if (this.#attached) controller.enqueue(frame);
      },
    });
    // Rejects when we cancel it on a track change; an end of the track just resolves it.
    const piped = frames.pipeTo(gate.writable).catch(() => {});
    const id = this.multiStream.addInputStream(gate.readable);
    return { ...target, id, gated: gate.readable, piped };
  }

  async #shut(open: OpenInput): Promise<void> {
    // Unhook from the session first (releases the reader), then cancel: the pipe cancels the
    // AudioStream, which frees its FFI stream.
    await this.multiStream.removeInputStream(open.id);
    await open.gated.cancel().catch(() => {});
    await open.piped;
  }
}

/** The participant's subscribed microphone, other than `exceptSid`. */
function microphoneOf(participant: RemoteParticipant, exceptSid?: string): Target | undefined {
  for (const publication of participant.trackPublications.values()) {
    const { sid, track } = publication;
    if (publication.source !== TrackSource.SOURCE_MICROPHONE || !sid || !track) continue;
    if (sid !== exceptSid) return { sid, track };
  }
  return undefined;
}
