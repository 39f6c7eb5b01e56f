/**
 * A small LiveKit participant for the real-stack smoke tests, run *inside* the stack's network
 * namespace (rtc-node's libwebrtc gathers no loopback candidates; inside the namespace its only
 * address is the veth's). It plays the part of an agent without any of our product:
 *
 * - joins every room whose name starts with `--room-prefix` as it appears (polls ListRooms), and
 *   any room named in a `{"join":"room"}` line on stdin;
 * - publishes a continuous sine tone (`--tone-hz`, default 440) as its microphone;
 * - records the first remote audio track it gets in each room (mono PCM16 at `--sample-rate`) and
 *   writes it to `<out-dir>/<room>.wav` on `{"dump":"room"}` and when it leaves the room: on
 *   `{"leave":"room"}`, at quit, or when the participant it recorded left (then it never joins
 *   that room again);
 * - sends DTMF into a room on `{"dtmf":{"room":"r","digit":"5"}}` (publishDtmf);
 * - reports what happens as JSON lines on stdout: ready, joined, participant, track, dtmf (received),
 *   dtmf_sent, participant_left, dumped, left, disconnected, error.
 *
 * Usage: node --import tsx tone-bot.ts --url ws://10.77.1.2:7880 --api-key K --api-secret S
 *   --out-dir DIR [--room-prefix call-] [--identity tone-bot] [--tone-hz 440] [--sample-rate 16000]
 * Stdin commands: {"join":"r"}, {"leave":"r"}, {"dump":"r"}, {"dtmf":{"room":"r","digit":"5"}},
 * {"quit":true}.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import {
  AudioFrame,
  AudioSource,
  AudioStream,
  dispose,
  LocalAudioTrack,
  type RemoteParticipant,
  type RemoteTrack,
  Room,
  RoomEvent,
  TrackKind,
  TrackPublishOptions,
  TrackSource,
} from '@livekit/rtc-node';
import { AccessToken, RoomServiceClient } from 'livekit-server-sdk';

const { values: args } = parseArgs({
  options: {
    url: { type: 'string' },
    'api-key': { type: 'string' },
    'api-secret': { type: 'string' },
    'out-dir': { type: 'string' },
    'room-prefix': { type: 'string' },
    identity: { type: 'string', default: 'tone-bot' },
    'tone-hz': { type: 'string', default: '440' },
    'sample-rate': { type: 'string', default: '16000' },
  },
});
const url = args.url ?? fail('--url is required');
const apiKey = args['api-key'] ?? fail('--api-key is required');
const apiSecret = args['api-secret'] ?? fail('--api-secret is required');
const outDir = args['out-dir'] ?? fail('--out-dir is required');
const identity = args.identity!;
const toneHz = Number(args['tone-hz']);
const sampleRate = Number(args['sample-rate']);

function fail(message: string): never {
  process.stderr.write(`tone-bot: ${message}\n`);
  process.exit(2);
}

function emit(event: string, fields: Record<string, unknown> = {}): void {
  process.stdout.write(`${JSON.stringify({ event, t: Date.now(), ...fields })}\n`);
}

interface Joined {
  room: Room;
  source: AudioSource;
  stopTone: () => void;
  chunks: Int16Array[];
  firstFrameAt?: number;
  recordedFrom?: string;
}

const rooms = new Map<string, Joined>();
const joining = new Set<string>();
/** Rooms the bot left: an empty room lingers (empty_timeout) and must not be joined again. */
const finished = new Set<string>();
let quitting = false;

async function joinRoom(name: string): Promise<void> {
  if (rooms.has(name) || joining.has(name) || finished.has(name) || quitting) return;
  joining.add(name);
  try {
    const at = new AccessToken(apiKey, apiSecret, { identity, name: identity, ttl: '1h' });
    at.addGrant({ roomJoin: true, room: name, canPublish: true, canSubscribe: true });
    const room = new Room();
    const entry: Joined = {
      room,
      source: new AudioSource(sampleRate, 1, 200),
      stopTone: () => {},
      chunks: [],
    };
    room.on(RoomEvent.ParticipantConnected, (p: RemoteParticipant) =>
      emit('participant', {
        room: name,
        identity: p.identity,
        kind: p.kind,
        attributes: p.attributes,
      }),
    );
    room.on(RoomEvent.ParticipantDisconnected, (p: RemoteParticipant) => {
      emit('participant_left', { room: name, identity: p.identity });
      // Like an agent: the call is over when the party we listened to left.
      if (entry.recordedFrom === p.identity) void leave(name);
    });
    room.on(RoomEvent.TrackSubscribed, (track: RemoteTrack, _pub, p: RemoteParticipant) => {
      emit('track', { room: name, identity: p.identity, kind: track.kind });
      if (track.kind !== TrackKind.KIND_AUDIO || entry.recordedFrom) return;
      entry.recordedFrom = p.identity;
      void record(entry, name, track);
    });
    room.on(RoomEvent.DtmfReceived, (code: number, digit: string, p: RemoteParticipant) =>
      emit('dtmf', { room: name, identity: p.identity, code, digit }),
    );
    room.on(RoomEvent.Disconnected, (reason) => emit('disconnected', { room: name, reason }));
    await room.connect(url, await at.toJwt(), { autoSubscribe: true, dynacast: false });
    rooms.set(name, entry);
    const track = LocalAudioTrack.createAudioTrack('tone', entry.source);
    const opts = new TrackPublishOptions();
    opts.source = TrackSource.SOURCE_MICROPHONE;
    await room.localParticipant!.publishTrack(track, opts);
    entry.stopTone = playTone(entry.source);
    emit('joined', { room: name, remotes: [...room.remoteParticipants.keys()] });
  } catch (err) {
    emit('error', { room: name, message: String(err) });
  } finally {
    joining.delete(name);
  }
}

/** Feeds a continuous sine into `source` in 20 ms frames; captureFrame paces the loop. */
function playTone(source: AudioSource): () => void {
  let stopped = false;
  const samples = sampleRate / 50;
  let phase = 0;
  const step = (2 * Math.PI * toneHz) / sampleRate;
  void (async () => {
    while (!stopped) {
      const data = new Int16Array(samples);
      for (let i = 0; i < samples; i++) {
        data[i] = Math.round(Math.sin(phase) * 0.3 * 32767);
        phase += step;
      }
      phase %= 2 * Math.PI;
      try {
        await source.captureFrame(new AudioFrame(data, sampleRate, 1, samples));
      } catch {
        return;
      }
    }
  })();
  return () => {
    stopped = true;
  };
}

async function record(entry: Joined, name: string, track: RemoteTrack): Promise<void> {
  const reader = new AudioStream(track, { sampleRate, numChannels: 1 }).getReader();
  try {
    for (;;) {
      const { value: frame, done } = await reader.read();
      if (done) return;
      entry.firstFrameAt ??= Date.now();
      entry.chunks.push(frame.data.slice());
    }
  } catch (err) {
    emit('error', { room: name, message: `recording: ${String(err)}` });
  }
}

function dump(name: string): void {
  const entry = rooms.get(name);
  if (!entry) return;
  const total = entry.chunks.reduce((n, c) => n + c.length, 0);
  const pcm = new Int16Array(total);
  let at = 0;
  for (const c of entry.chunks) {
    pcm.set(c, at);
    at += c.length;
  }
  const file = join(outDir, `${name}.wav`);
  writeFileSync(file, wav(pcm, sampleRate));
  emit('dumped', {
    room: name,
    file,
    seconds: total / sampleRate,
    firstFrameAt: entry.firstFrameAt,
    from: entry.recordedFrom,
  });
}

function wav(pcm: Int16Array, rate: number): Buffer {
  const header = Buffer.alloc(44);
  header.write('RIFF', 0);
  header.writeUInt32LE(36 + pcm.byteLength, 4);
  header.write('WAVEfmt ', 8);
  header.writeUInt32LE(16, 16);
  header.writeUInt16LE(1, 20);
  header.writeUInt16LE(1, 22);
  header.writeUInt32LE(rate, 24);
  header.writeUInt32LE(rate * 2, 28);
  header.writeUInt16LE(2, 32);
  header.writeUInt16LE(16, 34);
  header.write('data', 36);
  header.writeUInt32LE(pcm.byteLength, 40);
  return Buffer.concat([header, Buffer.from(pcm.buffer, pcm.byteOffset, pcm.byteLength)]);
}

/** Publishes a SipDTMF packet; the SIP bridge plays it to the phone as an RFC 4733 event. */
async function sendDtmf(name: string, digit: string): Promise<void> {
  const entry = rooms.get(name);
  if (!entry) return emit('error', { room: name, message: 'dtmf: not in that room' });
  const code = digit === '*' ? 10 : digit === '#' ? 11 : Number(digit);
  try {
    await entry.room.localParticipant!.publishDtmf(code, digit);
    emit('dtmf_sent', { room: name, digit });
  } catch (err) {
    emit('error', { room: name, message: `dtmf: ${String(err)}` });
  }
}

async function leave(name: string): Promise<void> {
  const entry = rooms.get(name);
  if (!entry) return;
  dump(name);
  rooms.delete(name);
  finished.add(name);
  entry.stopTone();
  await entry.room.disconnect().catch(() => {});
  emit('left', { room: name });
}

async function quit(): Promise<void> {
  quitting = true;
  clearInterval(poller);
  for (const name of [...rooms.keys()]) await leave(name);
  await dispose();
  process.exit(0);
}

const prefix = args['room-prefix'];
const roomService = new RoomServiceClient(url.replace(/^ws/, 'http'), apiKey, apiSecret);
const poller = setInterval(() => {
  if (!prefix) return;
  roomService
    .listRooms()
    .then((list) => {
      for (const r of list) if (r.name.startsWith(prefix)) void joinRoom(r.name);
    })
    .catch((err: unknown) => emit('error', { message: `listRooms: ${String(err)}` }));
}, 200);

createInterface({ input: process.stdin }).on('line', (line) => {
  let cmd: {
    join?: string;
    leave?: string;
    dump?: string;
    dtmf?: { room: string; digit: string };
    quit?: boolean;
  };
  try {
    cmd = JSON.parse(line);
  } catch {
    emit('error', { message: `bad command: ${line}` });
    return;
  }
  if (cmd.join) void joinRoom(cmd.join);
  if (cmd.leave) void leave(cmd.leave);
  if (cmd.dump) dump(cmd.dump);
  if (cmd.dtmf) void sendDtmf(cmd.dtmf.room, cmd.dtmf.digit);
  if (cmd.quit) void quit();
});
process.stdin.on('end', () => void quit());
process.on('SIGTERM', () => void quit());
emit('ready', { identity, toneHz, sampleRate });
