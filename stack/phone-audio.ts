/**
 * What a baresip phone's recordings say (stack/phones.ts: `*-dec.wav` = what the phone heard,
 * `*-enc.wav` = what it sent, 8 kHz mono PCM16), for `npm run stack:call` and `npm run bench:e2e`:
 *
 * - `speechIn(file)`: speech segments, with the detector the STT stand-in hears with
 *   (stack/providers/speech-detector.ts: onset/offset within a few tens of ms on eSpeak speech);
 * - `alignRecordings(heard, sent)`: the two files on one time line. baresip starts the sent file
 *   when its audio source starts and the heard file at the first decoded packet (~100–200 ms
 *   later), and closes both at the same moment when the call ends: so a heard instant `t` is
 *   `t + (sentLength - heardLength)` in the sent file's time;
 * - `RecordingTail`: follows the heard file while the call runs (sndfile writes it as audio
 *   arrives), so a caller can wait for the agent to finish speaking before talking.
 */
import { closeSync, openSync, readdirSync, readSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { readWav } from '../src/core/wav.js';
import { detectSegments, SpeechDetector } from './providers/speech-detector.js';

export interface Segment {
  /** Seconds from the start of the recording. */
  start: number;
  end: number;
}

/** PCM16 samples of a WAV, also of one still being written (size fields not yet set). */
export function readPcm(file: string): { samples: Int16Array; sampleRate: number } {
  const { dataOffset, sampleRate } = wavLayout(file);
  const fd = openSync(file, 'r');
  try {
    const size = statSync(file).size - dataOffset;
    const buf = Buffer.alloc(size - (size % 2));
    readSync(fd, buf, 0, buf.length, dataOffset);
    const samples = new Int16Array(buf.length / 2);
    for (let i = 0; i < samples.length; i++) samples[i] = buf.readInt16LE(i * 2);
    return { samples, sampleRate };
  } finally {
    closeSync(fd);
  }
}

/** Where the samples of a PCM16 mono WAV start, and its rate. */
function wavLayout(file: string): { dataOffset: number; sampleRate: number } {
  const fd = openSync(file, 'r');
  try {
    const head = Buffer.alloc(4096);
    const n = readSync(fd, head, 0, head.length, 0);
    if (
      n < 12 ||
      head.toString('ascii', 0, 4) !== 'RIFF' ||
      head.toString('ascii', 8, 12) !== 'WAVE'
    ) {
      throw new Error(`${file}: not a WAV file`);
    }
    let off = 12;
    let sampleRate = 0;
    while (off + 8 <= n) {
      const id = head.toString('ascii', off, off + 4);
      const size = head.readUInt32LE(off + 4);
      if (id === 'fmt ') {
        const channels = head.readUInt16LE(off + 10);
        sampleRate = head.readUInt32LE(off + 12);
        const bits = head.readUInt16LE(off + 22);
        if (channels !== 1 || bits !== 16) throw new Error(`${file}: want mono PCM16`);
      } else if (id === 'data') {
        return { dataOffset: off + 8, sampleRate };
      }
      off += 8 + size + (size % 2);
    }
    throw new Error(`${file}: no data chunk (yet)`);
  } finally {
    closeSync(fd);
  }
}

/** Speech segments of a recording (seconds). */
export function speechIn(file: string): Segment[] {
  const wav = readPcm(file);
  return segmentsOf(wav.samples, wav.sampleRate);
}

export function segmentsOf(samples: Int16Array, sampleRate: number): Segment[] {
  return detectSegments(samples, { sampleRate }).map((s) => ({
    start: s.onsetSample / sampleRate,
    end: s.offsetSample / sampleRate,
  }));
}

/** Speech segments of any WAV file (e.g. a caller's microphone file), seconds. */
export function speechInWav(file: string): Segment[] {
  const wav = readWav(file);
  const mono =
    wav.channels === 1 ? wav.samples : wav.samples.filter((_, i) => i % wav.channels === 0);
  return segmentsOf(mono, wav.sampleRate);
}

export function durationOf(file: string): number {
  const wav = readPcm(file);
  return wav.samples.length / wav.sampleRate;
}

export interface AlignedRecordings {
  heard: Segment[];
  sent: Segment[];
  /** Heard segments moved onto the sent file's time line. */
  heardOnSentTime: Segment[];
  /** Seconds to add to a heard-file instant to get the sent-file instant. */
  heardOffsetS: number;
  heardS: number;
  sentS: number;
}

/** Both recordings of one call on the sent file's time line (aligned at their common end). */
export function alignRecordings(heardFile: string, sentFile: string): AlignedRecordings {
  const heardPcm = readPcm(heardFile);
  const sentPcm = readPcm(sentFile);
  const heardS = heardPcm.samples.length / heardPcm.sampleRate;
  const sentS = sentPcm.samples.length / sentPcm.sampleRate;
  const heardOffsetS = sentS - heardS;
  const heard = segmentsOf(heardPcm.samples, heardPcm.sampleRate);
  return {
    heard,
    sent: segmentsOf(sentPcm.samples, sentPcm.sampleRate),
    heardOnSentTime: heard.map((s) => ({
      start: s.start + heardOffsetS,
      end: s.end + heardOffsetS,
    })),
    heardOffsetS,
    heardS,
    sentS,
  };
}

/** The phone's current heard recording (`*-dec.wav`, newest), if it has started. */
export function heardFileIn(recDir: string): string | undefined {
  const files = readdirSync(recDir)
    .filter((f) => f.endsWith('-dec.wav'))
    .sort();
  const f = files.at(-1);
  return f ? join(recDir, f) : undefined;
}

/**
 * Follows a phone's heard recording while the call runs: `poll()` reads what was written since
 * and runs the speech detector over it.
 */
export class RecordingTail {
  readonly segments: Segment[] = [];
  /** Start (s) of the speech going on now, if any. */
  current: number | undefined;
  file: string | undefined;
  private dataOffset = 0;
  private read = 0;
  private sampleRate = 8000;
  private detector: SpeechDetector | undefined;
  private carry: Buffer = Buffer.alloc(0);

  constructor(private readonly recDir: string) {}

  /** Seconds of audio read so far. */
  seconds(): number {
    return this.read / 2 / this.sampleRate;
  }

  poll(): void {
    if (!this.file) {
      this.file = heardFileIn(this.recDir);
      if (!this.file) return;
    }
    if (!this.detector) {
      try {
        const layout = wavLayout(this.file);
        this.dataOffset = layout.dataOffset;
        this.sampleRate = layout.sampleRate || 8000;
      } catch {
        return; // the header is not written yet
      }
      this.detector = new SpeechDetector({ sampleRate: this.sampleRate });
    }
    const size = statSync(this.file).size - this.dataOffset;
    if (size <= this.read) return;
    const fd = openSync(this.file, 'r');
    let chunk: Buffer;
    try {
      chunk = Buffer.alloc(size - this.read);
      readSync(fd, chunk, 0, chunk.length, this.dataOffset + this.read);
    } finally {
      closeSync(fd);
    }
    this.read = size;
    const bytes = Buffer.concat([this.carry, chunk]);
    const even = bytes.length - (bytes.length % 2);
    this.carry = bytes.subarray(even);
    const samples = new Int16Array(even / 2);
    for (let i = 0; i < samples.length; i++) samples[i] = bytes.readInt16LE(i * 2);
    for (const e of this.detector.push(samples)) {
      if (e.type === 'onset') this.current = e.onsetSample / this.sampleRate;
      else {
        this.segments.push({
          start: e.onsetSample / this.sampleRate,
          end: e.offsetSample / this.sampleRate,
        });
        this.current = undefined;
      }
    }
  }
}
