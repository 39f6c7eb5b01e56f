/**
 * Speech on the wire: the G.711 RTP between a phone and the SIP bridge, read from the stack's
 * packet capture (`startProduct({ capture: true })` → `<logsDir>/namespace.pcapng`) with tshark,
 * decoded and run through the speech detector the STT stand-in hears with, on the capture's
 * clock (ms since epoch, the same clock as Date.now() here).
 *
 * Why not only the phone's recordings: baresip starts its sent track with the call's audio but
 * its first RTP packet leaves ~0.6 s later, starts its heard track at the first packet it decodes,
 * and the heard track loses time against the wall clock as its jitter buffer drops packets (up to
 * ~0.7 s over a 25 s call here). On the wire every packet has its own timestamp.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { mulawDecode } from '../../../stack/providers/g711.js';
import { detectSegments } from '../../../stack/providers/speech-detector.js';

const execFileP = promisify(execFile);
const RATE = 8000;

/** A stretch of speech on the wire, ms since epoch. */
export interface WireSegment {
  start: number;
  end: number;
}

export interface WireSpeech {
  /** Phone → bridge (what the caller said). */
  fromPhone: WireSegment[];
  /** Bridge → phone (what the agent said). */
  toPhone: WireSegment[];
  /** First RTP packet each way (ms since epoch). */
  firstFromPhoneAt: number;
  firstToPhoneAt: number;
  packets: { fromPhone: number; toPhone: number };
}

/**
 * The PCMU RTP between the bridge and the phone whose RTP ports are `phonePorts` ([min, max],
 * baresip's `rtp_ports`), in the capture `pcap`; only packets inside `window` (ms since epoch)
 * when given (one call of a phone that made several).
 */
export async function wireSpeech(
  pcap: string,
  phonePorts: [number, number],
  window?: { from: number; to?: number },
): Promise<WireSpeech> {
  // dumpcap writes the capture through a buffer: wait until it holds a frame from after the
  // window (or now), so the call's last packets are in it.
  const until = window?.to ?? Date.now();
  let frames = await readFrames(pcap);
  for (let i = 0; i < 75 && (frames.at(-1)?.at ?? 0) < until; i++) {
    await new Promise((r) => setTimeout(r, 200));
    frames = await readFrames(pcap);
  }
  const isPhone = (port: number) => port >= phonePorts[0] && port <= phonePorts[1];
  const fromPhone: Packet[] = [];
  const toPhone: Packet[] = [];
  for (const f of frames) {
    if (!f.payload) continue;
    if (window && (f.at < window.from || f.at > (window.to ?? Number.POSITIVE_INFINITY))) continue;
    const p = { at: f.at, payload: f.payload };
    if (isPhone(f.src)) fromPhone.push(p);
    else if (isPhone(f.dst)) toPhone.push(p);
  }
  if (!fromPhone.length || !toPhone.length) {
    throw new Error(`${pcap}: no PCMU RTP to and from ports ${phonePorts.join('-')}`);
  }
  return {
    fromPhone: speechOf(fromPhone),
    toPhone: speechOf(toPhone),
    firstFromPhoneAt: fromPhone[0]!.at,
    firstToPhoneAt: toPhone[0]!.at,
    packets: { fromPhone: fromPhone.length, toPhone: toPhone.length },
  };
}

interface Frame {
  at: number;
  src: number;
  dst: number;
  /** PCMU payload of an RTP packet (payload type 0); undefined for every other frame. */
  payload?: Buffer;
}

/** Every frame of the capture (time, UDP ports), with the payload of PCMU RTP packets. */
async function readFrames(pcap: string): Promise<Frame[]> {
  const args = [
    '-r',
    pcap,
    '-o',
    'rtp.heuristic_rtp:TRUE',
    '-T',
    'fields',
    '-e',
    'frame.time_epoch',
    '-e',
    'udp.srcport',
    '-e',
    'udp.dstport',
    '-e',
    'rtp.p_type',
    '-e',
    'rtp.payload',
  ];
  let stdout: string;
  try {
    ({ stdout } = await execFileP('tshark', args, { maxBuffer: 512 * 1024 * 1024 }));
  } catch (err) {
    // A capture still being written ends in the middle of a packet: tshark reads what is there
    // and exits 2 ("cut short in the middle of a packet").
    const e = err as { stdout?: string; stderr?: string };
    if (!e.stdout || !/cut short|truncated/i.test(e.stderr ?? '')) throw err;
    stdout = e.stdout;
  }
  const frames: Frame[] = [];
  for (const line of stdout.split('\n')) {
    const [t, src, dst, pt, payload] = line.split('\t');
    if (!t) continue;
    frames.push({
      at: Number(t) * 1000,
      src: Number(src),
      dst: Number(dst),
      ...(pt === '0' && payload ? { payload: Buffer.from(payload.replace(/:/g, ''), 'hex') } : {}),
    });
  }
  return frames;
}

interface Packet {
  at: number;
  payload: Buffer;
}

/** Each packet's samples placed at its arrival time; speech segments in ms since epoch. */
function speechOf(packets: Packet[]): WireSegment[] {
  const t0 = packets[0]!.at;
  const last = packets.at(-1)!;
  const total = Math.ceil(((last.at - t0) / 1000) * RATE) + last.payload.length;
  const pcm = new Int16Array(total);
  for (const p of packets) {
    const at = Math.round(((p.at - t0) / 1000) * RATE);
    const samples = mulawDecode(new Uint8Array(p.payload));
    pcm.set(samples.subarray(0, Math.max(0, Math.min(samples.length, total - at))), at);
  }
  return detectSegments(pcm, { sampleRate: RATE }).map((s) => ({
    start: t0 + (s.onsetSample / RATE) * 1000,
    end: t0 + (s.offsetSample / RATE) * 1000,
  }));
}
