/**
 * The caller's room audio input, with real audio through rtc-node's FFI: each "microphone" in the
 * room is a real audio track fed by an AudioSource, and the room (a real, unconnected rtc-node
 * Room) announces it with the same track events a LiveKit server's subscription raises. So what
 * runs for real is the path a call's audio takes — AudioStream (FFI) → the call's noise
 * processor → the mute gate → the session — and what is checked is what the session reads:
 * only the caller's microphone (never the warm-transfer human, the other SIP participant),
 * nothing while muted, the new microphone after a track change, nothing after close.
 *
 * Every "nothing reached the session" is checked after frames are known to have flowed: the
 * other party's audio is seen by a reader of our own on their track, muted frames are seen
 * passing the input's own noise processor, so a negative check cannot pass for lack of audio.
 */
import { initializeLogger } from '@livekit/agents';
import {
  AudioFrame,
  AudioSource,
  AudioStream,
  FrameProcessor,
  LocalAudioTrack,
  type RemoteParticipant,
  type RemoteTrack,
  type RemoteTrackPublication,
  Room,
  RoomEvent,
  TrackSource,
} from '@livekit/rtc-node';
import pino from 'pino';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { NoiseSuppressionProcessor } from '../src/telephony/noise/frame-processor.js';
import { passThroughFactory } from '../src/telephony/noise/suppressor.js';
import { RoomAudioInput } from '../src/worker/room-audio-input.js';

const RATE = 8000;
const FRAME_MS = 20;
const SAMPLES = (RATE * FRAME_MS) / 1000;
const CALLER = 'sip_caller';
const HUMAN = 'sip_human'; // the warm-transfer destination, a second SIP participant

const TRACK_EVENTS = [
  RoomEvent.TrackSubscribed,
  RoomEvent.TrackUnsubscribed,
  RoomEvent.TrackUnpublished,
] as const;

beforeAll(() => initializeLogger({ pretty: false, level: 'error' }));

const listeners = (room: Room) => TRACK_EVENTS.map((event) => room.listenerCount(event));
const delay = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Waits for `ok()`, polling; fails the test with `what` when it does not come in time. */
async function until(ok: () => boolean, what: string, ms = 2500): Promise<void> {
  const deadline = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await delay(5);
  }
}

const toClose: Array<() => Promise<unknown> | unknown> = [];
afterEach(async () => {
  for (const close of toClose.splice(0).reverse()) await close();
});

let sidSeq = 0;
/** One microphone in the room: a real audio track whose every sample of a frame is a marker. */
class Microphone {
  source = new AudioSource(RATE, 1, 1000);
  track = LocalAudioTrack.createAudioTrack(`mic-${sidSeq}`, this.source);
  readonly publication: RemoteTrackPublication;

  constructor(
    readonly participant: RemoteParticipant,
    kind: TrackSource = TrackSource.SOURCE_MICROPHONE,
  ) {
    this.publication = {
      sid: `TR_${++sidSeq}`,
      source: kind,
      track: this.track,
    } as unknown as RemoteTrackPublication;
    (participant.trackPublications as Map<string, RemoteTrackPublication>).set(
      this.publication.sid!,
      this.publication,
    );
    const source = this.source;
    toClose.push(() => source.close());
  }

  get remoteTrack(): RemoteTrack {
    return this.track as unknown as RemoteTrack;
  }

  /** `frames` frames of FRAME_MS whose samples are all `marker`. */
  async say(marker: number, frames = 5): Promise<void> {
    for (let i = 0; i < frames; i++) {
      await this.source.captureFrame(
        new AudioFrame(new Int16Array(SAMPLES).fill(marker), RATE, 1, SAMPLES),
      );
    }
  }

  /** As rtc-node's Room does: the track joins the room, then the event. */
  subscribed(room: Room): void {
    (this.publication as { track?: unknown }).track = this.track;
    this.track.setRoom(room);
    room.emit(RoomEvent.TrackSubscribed, this.remoteTrack, this.publication, this.participant);
  }

  /** As rtc-node's Room does: the publication loses its track, the event, then the track's streams end. */
  unsubscribed(room: Room): void {
    const track = this.track;
    track.setRoom(null);
    (this.publication as { track?: unknown }).track = undefined;
    room.emit(RoomEvent.TrackUnsubscribed, track, this.publication, this.participant);
    track.closeAudioStreams();
  }

  /** The same publication on a new track (a new subscription gets a new track object). */
  newTrack(): void {
    const source = new AudioSource(RATE, 1, 1000);
    this.source = source;
    this.track = LocalAudioTrack.createAudioTrack(`mic-${sidSeq}-again`, source);
    toClose.push(() => source.close());
  }

  unpublished(room: Room): void {
    (this.participant.trackPublications as Map<string, RemoteTrackPublication>).delete(
      this.publication.sid!,
    );
    room.emit(RoomEvent.TrackUnpublished, this.publication, this.participant);
  }
}

const participant = (identity: string) =>
  ({ identity, trackPublications: new Map() }) as unknown as RemoteParticipant;

/** A noise processor that marks what passed it (+1 on every sample) and counts the markers. */
class MarkingProcessor extends FrameProcessor<AudioFrame> {
  readonly seen: number[] = [];
  closed = false;
  /** close() calls. */
  closes = 0;
  /** Streams opened with this processor (rtc-node tells it each one on a track in a room). */
  streams = 0;
  override onStreamInfoUpdated(): void {
    this.streams++;
  }
  isEnabled(): boolean {
    return !this.closed;
  }
  setEnabled(): void {}
  process(frame: AudioFrame): AudioFrame {
    this.seen.push(frame.data[0]!);
    return new AudioFrame(
      frame.data.map((s) => s + 1),
      frame.sampleRate,
      1,
      frame.samplesPerChannel,
    );
  }
  close(): void {
    this.closed = true;
    this.closes++;
  }
  count(marker: number): number {
    return this.seen.filter((s) => s === marker).length;
  }
}

/** Reads a stream of frames in the background; `markers` is the first sample of each frame. */
function tap(stream: ReadableStream<AudioFrame> | AudioStream) {
  const markers: number[] = [];
  let done = false;
  const reader = stream.getReader();
  const reading = (async () => {
    for (;;) {
      const r = await reader.read();
      if (r.done) break;
      markers.push(r.value.data[0]!);
    }
    done = true;
  })();
  return {
    markers,
    get done() {
      return done;
    },
    count: (marker: number) => markers.filter((m) => m === marker).length,
    stop: async () => {
      await reader.cancel().catch(() => {});
      await reading.catch(() => {});
    },
  };
}

function makeInput(room: Room, processor = new MarkingProcessor()) {
  const input = new RoomAudioInput({
    room,
    participantIdentity: CALLER,
    sampleRate: RATE,
    frameSizeMs: FRAME_MS,
    noiseCancellation: processor,
  });
  toClose.push(() => input.close());
  return { input, processor, session: tap(input.stream as ReadableStream<AudioFrame>) };
}

/** A reader of our own on a microphone: proof that its audio was flowing. */
function listenTo(mic: Microphone) {
  const own = tap(
    new AudioStream(mic.track, { sampleRate: RATE, numChannels: 1, frameSizeMs: 20 }),
  );
  toClose.push(() => own.stop());
  return own;
}

describe('the caller’s microphone reaches the session', () => {
  it('reads the caller once the microphone is subscribed, through the call’s noise processor', async () => {
    const room = new Room();
    const { session, processor } = makeInput(room);
    const caller = new Microphone(participant(CALLER));
    caller.subscribed(room);
    await caller.say(1000, 5);
    await until(() => session.count(1001) >= 3, 'the caller’s frames');
    expect(processor.count(1000)).toBeGreaterThanOrEqual(3);
    expect(new Set(session.markers)).toEqual(new Set([1001]));
  });

  it('reads a caller whose microphone was already subscribed when the input was made', async () => {
    const room = new Room();
    const caller = new Microphone(participant(CALLER));
    room.remoteParticipants.set(CALLER, caller.participant);
    const { session } = makeInput(room);
    await caller.say(1200, 5);
    await until(() => session.count(1201) >= 3, 'the caller’s frames');
  });
});

describe('nobody but the caller is ever read', () => {
  it('the warm-transfer human’s microphone, subscribed after the caller’s, does not reach the session', async () => {
    const room = new Room();
    const { session } = makeInput(room);
    const caller = new Microphone(participant(CALLER));
    const human = new Microphone(participant(HUMAN));
    caller.subscribed(room);
    human.subscribed(room);
    const humanHeard = listenTo(human);
    await Promise.all([human.say(-2000, 10), caller.say(1000, 10)]);
    await until(() => humanHeard.count(-2000) >= 5, 'the human’s audio on their track');
    await until(() => session.count(1001) >= 5, 'the caller’s frames');
    await caller.say(1000, 3); // anything of the human's still queued would come before these
    await until(() => session.count(1001) >= 8, 'the caller’s later frames');
    expect(session.count(-1999)).toBe(0);
    expect(new Set(session.markers)).toEqual(new Set([1001]));
  });

  it('with only the human on the line the session hears nothing, though the human speaks', async () => {
    const room = new Room();
    const { session, processor } = makeInput(room);
    const human = new Microphone(participant(HUMAN));
    human.subscribed(room);
    const humanHeard = listenTo(human);
    await human.say(-2000, 10);
    await until(() => humanHeard.count(-2000) >= 5, 'the human’s audio on their track');
    expect(processor.seen).toEqual([]);
    expect(session.markers).toEqual([]);
  });

  it('a track of the caller that is not the microphone (screen-share audio) is not read', async () => {
    const room = new Room();
    const { session, processor } = makeInput(room);
    const callerId = participant(CALLER);
    const other = new Microphone(callerId, TrackSource.SOURCE_SCREENSHARE_AUDIO);
    other.subscribed(room);
    const heard = listenTo(other);
    await other.say(700, 10);
    await until(() => heard.count(700) >= 5, 'the other track’s audio');
    expect(processor.seen).toEqual([]);
    expect(session.markers).toEqual([]);
  });
});

describe('muting (setAttached)', () => {
  it('drops every frame while detached, and lets the caller through again when re-attached', async () => {
    const room = new Room();
    const { input, session, processor } = makeInput(room);
    const caller = new Microphone(participant(CALLER));
    caller.subscribed(room);
    await caller.say(1000, 3);
    await until(() => session.count(1001) >= 2, 'the caller before muting');

    input.setAttached(false);
    await caller.say(5000, 10);
    // The muted frames came down the track: they passed the noise processor, right before the gate.
    await until(() => processor.count(5000) >= 8, 'the muted frames at the input');
    await delay(50);
    expect(session.count(5001)).toBe(0);

    input.setAttached(true);
    await caller.say(6000, 5);
    await until(() => session.count(6001) >= 3, 'the caller after un-muting');
    // In order on one track: a muted frame let through would have come before these.
    expect(session.count(5001)).toBe(0);
  });
});

describe('track changes', () => {
  it('follows the caller to a new microphone and stops reading the one unpublished', async () => {
    const room = new Room();
    const { session } = makeInput(room);
    const callerId = participant(CALLER);
    const first = new Microphone(callerId);
    first.subscribed(room);
    await first.say(1000, 5);
    await until(() => session.count(1001) >= 3, 'the first microphone');

    first.unpublished(room);
    const second = new Microphone(callerId);
    second.subscribed(room);
    const firstHeard = listenTo(first);
    await Promise.all([first.say(1100, 10), second.say(3000, 10)]);
    await until(() => firstHeard.count(1100) >= 5, 'the old track still producing');
    await until(() => session.count(3001) >= 5, 'the new microphone');
    await second.say(3000, 3);
    await until(() => session.count(3001) >= 8, 'the new microphone, later');
    expect(session.count(1101)).toBe(0);
  });

  it('an unpublished track of someone else, or another track of the caller, changes nothing', async () => {
    const room = new Room();
    const { session } = makeInput(room);
    const callerId = participant(CALLER);
    const caller = new Microphone(callerId);
    caller.subscribed(room);
    const human = new Microphone(participant(HUMAN));
    human.subscribed(room);
    human.unpublished(room);
    const spare = new Microphone(callerId, TrackSource.SOURCE_SCREENSHARE_AUDIO);
    spare.subscribed(room);
    spare.unpublished(room);
    await caller.say(1000, 8);
    await until(() => session.count(1001) >= 5, 'the caller still heard');
  });
});

describe('closing the input', () => {
  it('ends the session’s stream, stops reading the track and releases the room’s events', async () => {
    const room = new Room();
    const { input, session, processor } = makeInput(room);
    const caller = new Microphone(participant(CALLER));
    caller.subscribed(room);
    await caller.say(1000, 3);
    await until(() => session.count(1001) >= 2, 'the caller before close');
    expect(listeners(room)).toEqual([1, 1, 1]);

    await input.close();
    await until(() => session.done, 'the session’s stream to end');
    expect(listeners(room)).toEqual([0, 0, 0]);
    expect(processor.closed).toBe(true);

    // The track keeps producing (our own reader hears it); the input's FFI stream is gone.
    const heard = listenTo(caller);
    const seenBefore = processor.seen.length;
    await caller.say(1300, 10);
    await until(() => heard.count(1300) >= 5, 'the caller’s track after close');
    expect(processor.seen.length).toBe(seenBefore);

    // Track events after close open nothing.
    new Microphone(caller.participant).subscribed(room);
    await input.close(); // a second close (session Close after a failed start) is harmless
    expect(listeners(room)).toEqual([0, 0, 0]);
  });

  it('with no microphone yet: the session reads nothing, and its stream ends on close', async () => {
    const room = new Room();
    const input = new RoomAudioInput({
      room,
      participantIdentity: CALLER,
      sampleRate: RATE,
      frameSizeMs: FRAME_MS,
    });
    const reader = input.stream.getReader();
    const first = reader.read();
    input.setAttached(false);
    input.setAttached(true);
    const pending = Symbol('pending');
    expect(await Promise.race([first, delay(50).then(() => pending)])).toBe(pending);

    await input.close();
    expect(await first).toEqual({ done: true, value: undefined });
  });

  it('closes the call’s noise processor it was given, not before', async () => {
    const room = new Room();
    const processor = new NoiseSuppressionProcessor(passThroughFactory);
    const input = new RoomAudioInput({
      room,
      participantIdentity: CALLER,
      sampleRate: RATE,
      frameSizeMs: FRAME_MS,
      noiseCancellation: processor,
    });
    expect(processor.isEnabled()).toBe(true);

    await input.close();
    expect(processor.isEnabled()).toBe(false);
  });

  it('takes LiveKit Cloud filter options (nothing of ours to close)', async () => {
    const room = new Room();
    const input = new RoomAudioInput({
      room,
      participantIdentity: CALLER,
      sampleRate: RATE,
      frameSizeMs: FRAME_MS,
      noiseCancellation: { moduleId: 'lk.bvc', options: {} },
    });
    await expect(input.close()).resolves.toBeUndefined();
    expect(listeners(room)).toEqual([0, 0, 0]);
  });
});

describe('track events of the caller and of others', () => {
  it('a-microphone-unpublished-is-no-longer-read-though-its-track-still-produces', async () => {
    const room = new Room();
    const { session } = makeInput(room);
    const caller = new Microphone(participant(CALLER));
    caller.subscribed(room);
    await caller.say(1000, 3);
    await until(() => session.count(1001) >= 2, 'the caller before the unpublish');

    caller.unpublished(room);
    const heard = listenTo(caller);
    await caller.say(1300, 10);
    await until(() => heard.count(1300) >= 5, 'the caller’s track after the unpublish');
    expect(session.count(1301)).toBe(0);
  });

  it('when-the-microphone-read-is-unsubscribed-another-microphone-of-the-caller-takes-over', async () => {
    const room = new Room();
    const { session } = makeInput(room);
    const callerId = participant(CALLER);
    const first = new Microphone(callerId);
    const second = new Microphone(callerId);
    first.subscribed(room);
    second.subscribed(room); // the latest subscription is read
    await second.say(2000, 3);
    await until(() => session.count(2001) >= 2, 'the second microphone');

    second.unsubscribed(room);
    await first.say(1000, 5);
    await until(() => session.count(1001) >= 3, 'the first microphone, taking over');
  });

  it('when-the-microphone-goes-away-the-callers-screen-share-audio-is-not-read-instead', async () => {
    const room = new Room();
    const { session, processor } = makeInput(room);
    const callerId = participant(CALLER);
    const screen = new Microphone(callerId, TrackSource.SOURCE_SCREENSHARE_AUDIO);
    const mic = new Microphone(callerId);
    screen.subscribed(room);
    mic.subscribed(room);
    await mic.say(1000, 3);
    await until(() => session.count(1001) >= 2, 'the caller’s microphone');

    mic.unsubscribed(room);
    const heard = listenTo(screen);
    await screen.say(700, 10);
    await until(() => heard.count(700) >= 5, 'the screen-share audio on its track');
    expect(processor.count(700)).toBe(0);
    expect(session.count(701)).toBe(0);
  });

  it('another-track-of-the-caller-going-away-leaves-the-microphone-being-read', async () => {
    const room = new Room();
    const { session } = makeInput(room);
    const callerId = participant(CALLER);
    const first = new Microphone(callerId);
    const second = new Microphone(callerId);
    const screen = new Microphone(callerId, TrackSource.SOURCE_SCREENSHARE_AUDIO);
    first.subscribed(room);
    second.subscribed(room); // read: the second (latest) microphone, not the first
    screen.subscribed(room);
    screen.unpublished(room);

    const firstHeard = listenTo(first);
    await Promise.all([first.say(1000, 10), second.say(2000, 10)]);
    await until(() => firstHeard.count(1000) >= 5, 'the first microphone on its track');
    await until(() => session.count(2001) >= 5, 'the second microphone');
    await second.say(2000, 3); // anything of the first still queued would come before these
    await until(() => session.count(2001) >= 8, 'the second microphone, later');
    expect(session.count(1001)).toBe(0);
  });

  it('the-human-leaving-the-call-does-not-stop-the-caller-being-heard', async () => {
    const room = new Room();
    const { session } = makeInput(room);
    const caller = new Microphone(participant(CALLER));
    const human = new Microphone(participant(HUMAN));
    caller.subscribed(room);
    human.subscribed(room);
    await caller.say(1000, 3);
    await until(() => session.count(1001) >= 2, 'the caller before the human leaves');

    human.unsubscribed(room);
    human.unpublished(room);
    await caller.say(1100, 5);
    await until(() => session.count(1101) >= 3, 'the caller after the human left');
  });

  it('a-burst-of-track-events-opens-the-last-microphone-once', async () => {
    const room = new Room();
    const { session, processor } = makeInput(room);
    const callerId = participant(CALLER);
    const first = new Microphone(callerId);
    const second = new Microphone(callerId);
    const third = new Microphone(callerId);
    first.subscribed(room);
    await first.say(1000, 3);
    await until(() => session.count(1001) >= 2, 'the first microphone');
    expect(processor.streams).toBe(1);

    // Two events at once: each queues a step, the first step goes straight to the third
    // microphone, and the second finds it open already.
    second.subscribed(room);
    third.subscribed(room);
    await third.say(3000, 5);
    await until(() => session.count(3001) >= 3, 'the third microphone');
    expect(processor.streams).toBe(2);
  });

  it('the-caller-resubscribed-at-once-is-read-from-the-new-track-of-the-same-publication', async () => {
    const room = new Room();
    const { session, processor } = makeInput(room);
    const caller = new Microphone(participant(CALLER));
    caller.subscribed(room);
    await caller.say(1000, 3);
    await until(() => session.count(1001) >= 2, 'the caller’s first track');

    // One burst: unsubscribed (its stream ends), subscribed again with a new track, same sid.
    caller.unsubscribed(room);
    caller.newTrack();
    caller.subscribed(room);
    await caller.say(1200, 5);
    await until(() => session.count(1201) >= 3, 'the caller’s new track');
    expect(processor.streams).toBe(2);
  });

  it('a-microphone-replaced-while-the-old-stream-shuts-is-never-opened', async () => {
    const room = new Room();
    const { session, processor } = makeInput(room);
    const callerId = participant(CALLER);
    const first = new Microphone(callerId);
    const second = new Microphone(callerId);
    const third = new Microphone(callerId);
    first.subscribed(room);
    await first.say(1000, 3);
    await until(() => session.count(1001) >= 2, 'the first microphone');

    // The third microphone's event lands while the first one's stream is being shut down
    // (rtc-node unregisters a stream from its track as it ends).
    const unregister = first.track.unregisterAudioStream.bind(first.track);
    let raced = false;
    first.track.unregisterAudioStream = (stream) => {
      unregister(stream);
      if (!raced) third.subscribed(room);
      raced = true;
    };
    second.subscribed(room);
    await third.say(3000, 5);
    await until(() => session.count(3001) >= 3, 'the third microphone');
    expect(raced).toBe(true);
    // first, then third: the second was the target only until the third's event
    expect(processor.streams).toBe(2);
  });
});

describe('closing and failures', () => {
  it('closing-twice-closes-the-calls-noise-processor-once', async () => {
    const room = new Room();
    const { input, processor } = makeInput(room);
    await input.close();
    await input.close();
    expect(processor.closes).toBe(1);
  });

  it('a-track-change-that-fails-is-logged-and-the-next-microphone-is-still-read', async () => {
    const room = new Room();
    const lines: Array<Record<string, unknown>> = [];
    const logger = pino(
      { level: 'warn' },
      { write: (line: string) => lines.push(JSON.parse(line)) },
    );
    const input = new RoomAudioInput({
      room,
      participantIdentity: CALLER,
      sampleRate: RATE,
      frameSizeMs: FRAME_MS,
      logger,
    });
    toClose.push(() => input.close());
    const session = tap(input.stream as ReadableStream<AudioFrame>);
    const callerId = participant(CALLER);
    const broken = new Microphone(callerId);
    await broken.track.close(); // its FFI handle is gone: no stream can be opened on it
    broken.subscribed(room);
    await until(() => lines.length > 0, 'the failed track change in the log');
    expect(lines[0]).toMatchObject({ level: 40, err: expect.any(String) });

    const working = new Microphone(callerId);
    working.subscribed(room);
    await working.say(1000, 5);
    await until(() => session.count(1000) >= 3, 'the next microphone');
  });
});
