/**
 * CallMedia over the agent's LiveKit room connection (rtc-node): participant and key-press
 * events from the room, DTMF out with `publishDtmf`, hold audio on its own published track,
 * and a second AgentSession (warm-transfer consultation) whose RoomIO hears only one
 * participant and publishes its voice on its own track.
 */
import type { voice } from '@livekit/agents';
import {
  AudioFrame,
  AudioSource,
  LocalAudioTrack,
  type Participant,
  type RemoteParticipant,
  type Room,
  RoomEvent,
  type LocalTrack as RtcLocalTrack,
  TrackKind,
  TrackPublishOptions,
  TrackSource,
} from '@livekit/rtc-node';
import type {
  CallMedia,
  HoldAudio,
  LocalTrack,
  Party,
  PartyEvent,
} from '../telephony/call-control.js';
import { dtmfCode } from '../telephony/dtmf/digits.js';

const FRAME_MS = 20;
const PUBLISH_WAIT_MS = 5000;

/** The topic of @livekit/agents' session messages (voice/remote_session.ts TOPIC_SESSION_MESSAGES). */
const AGENT_SESSION_TOPIC = 'lk.agent.session';

export class RoomCallMedia implements CallMedia {
  /** Our tracks that are not the main session's voice (hold audio, side sessions). */
  private readonly otherLocal = new Set<string>();

  constructor(private readonly room: Room) {}

  party(identity: string): Party | undefined {
    const p = this.room.remoteParticipants.get(identity);
    return p ? partyOf(p) : undefined;
  }

  subscribe(fn: (e: PartyEvent) => void): () => void {
    const room = this.room;
    const joined = (p: RemoteParticipant) => fn({ type: 'joined', party: partyOf(p) });
    const left = (p: RemoteParticipant) => fn({ type: 'left', identity: p.identity });
    const attrs = (_changed: Record<string, string>, p: Participant) => {
      const remote = room.remoteParticipants.get(p.identity);
      if (remote) fn({ type: 'updated', party: partyOf(remote) });
    };
    const tracks = (_pub: unknown, p: RemoteParticipant) =>
      fn({ type: 'updated', party: partyOf(p) });
    const dtmf = (_code: number, digit: string, p: RemoteParticipant) =>
      fn({ type: 'dtmf', identity: p.identity, digit });
    room.on(RoomEvent.ParticipantConnected, joined);
    room.on(RoomEvent.ParticipantDisconnected, left);
    room.on(RoomEvent.ParticipantAttributesChanged, attrs);
    room.on(RoomEvent.TrackPublished, tracks);
    room.on(RoomEvent.TrackUnpublished, tracks);
    room.on(RoomEvent.DtmfReceived, dtmf);
    return () => {
      room.off(RoomEvent.ParticipantConnected, joined);
      room.off(RoomEvent.ParticipantDisconnected, left);
      room.off(RoomEvent.ParticipantAttributesChanged, attrs);
      room.off(RoomEvent.TrackPublished, tracks);
      room.off(RoomEvent.TrackUnpublished, tracks);
      room.off(RoomEvent.DtmfReceived, dtmf);
    };
  }

  async sendDtmf(digit: string): Promise<void> {
    const local = this.room.localParticipant;
    if (!local) throw new Error('not connected to the room');
    await local.publishDtmf(dtmfCode(digit), digit);
  }

  async startHold(audio: HoldAudio): Promise<LocalTrack> {
    const local = this.room.localParticipant;
    if (!local) throw new Error('not connected to the room');
    const source = new AudioSource(audio.sampleRate, 1);
    const track = LocalAudioTrack.createAudioTrack('hold', source);
    const pub = await local.publishTrack(
      track,
      new TrackPublishOptions({ source: TrackSource.SOURCE_MICROPHONE }),
    );
    const sid = pub.sid ?? '';
    this.otherLocal.add(sid);
    let playing = true;
    // captureFrame waits while its queue is full, so this loop runs at real-time pace.
    const loop = (async () => {
      const n = Math.round((audio.sampleRate * FRAME_MS) / 1000);
      let at = 0;
      while (playing && audio.samples.length > 0) {
        const frame = new Int16Array(n);
        for (let i = 0; i < n; i++) frame[i] = audio.samples[(at + i) % audio.samples.length]!;
        at = (at + n) % audio.samples.length;
        await source.captureFrame(new AudioFrame(frame, audio.sampleRate, 1, n));
      }
    })().catch(() => undefined);
    return {
      trackSid: sid,
      stop: async () => {
        playing = false;
        await local.unpublishTrack(sid).catch(() => undefined);
        await source.close().catch(() => undefined);
        await loop;
      },
    };
  }

  async startSideSession(
    session: voice.AgentSession,
    agent: voice.Agent,
    identity: string,
  ): Promise<LocalTrack> {
    const local = this.room.localParticipant;
    if (!local) throw new Error('not connected to the room');
    const before = new Set(local.trackPublications.keys());
    const published = new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.room.off(RoomEvent.LocalTrackPublished, on);
        reject(new Error('the consultation voice track was not published'));
      }, PUBLISH_WAIT_MS);
      const on = () => {
        const sid = [...local.trackPublications.keys()].find((s) => !before.has(s));
        if (!sid) return;
        clearTimeout(timer);
        this.room.off(RoomEvent.LocalTrackPublished, on);
        resolve(sid);
      };
      this.room.on(RoomEvent.LocalTrackPublished, on);
    });
    // @livekit/agents 1.9 gives every AgentSession started on a room a RoomSessionTransport,
    // which registers the room's byte-stream handler for "lk.agent.session" (the protocol of
    // remote session clients), and rtc-node refuses a second handler for a topic: on a real room
    // the consultation failed to start ("A byte stream handler for topic ... has already been
    // set", test/e2e/warm-transfer-briefs-then-bridges.test.ts). Phone calls have no such
    // client: the main session's handler makes way; the side session's goes when it closes.
    this.room.unregisterByteStreamHandler(AGENT_SESSION_TOPIC);
    await session.start({
      agent,
      room: this.room,
      // Chat input and transcripts belong to the main session; this one only talks on the phone.
      inputOptions: { participantIdentity: identity, textEnabled: false },
      outputOptions: { transcriptionEnabled: false },
    });
    const trackSid = await published;
    this.otherLocal.add(trackSid);
    return { trackSid, stop: () => session.close() };
  }

  voiceTrackSid(): string | undefined {
    const local = this.room.localParticipant;
    if (!local) return undefined;
    for (const [sid, pub] of local.trackPublications) {
      if (pub.kind === TrackKind.KIND_AUDIO && !this.otherLocal.has(sid)) return sid;
    }
    return undefined;
  }

  waitLocalSubscribed(trackSid: string, timeoutMs: number): Promise<boolean> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => done(false), timeoutMs);
      const on = (track: RtcLocalTrack) => {
        if (track.sid === trackSid) done(true);
      };
      const done = (v: boolean) => {
        clearTimeout(timer);
        this.room.off(RoomEvent.LocalTrackSubscribed, on);
        resolve(v);
      };
      this.room.on(RoomEvent.LocalTrackSubscribed, on);
    });
  }
}

function partyOf(p: RemoteParticipant): Party {
  const audioTrackSids: string[] = [];
  for (const [sid, pub] of p.trackPublications) {
    if (pub.kind === TrackKind.KIND_AUDIO) audioTrackSids.push(sid);
  }
  return { identity: p.identity, attributes: { ...p.attributes }, audioTrackSids };
}
