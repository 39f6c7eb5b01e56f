/**
 * Reads and writes PCM 16-bit WAV files (mono or interleaved multi-channel). That is the only
 * encoding the simulation needs: clips are 8 kHz PCM16 after one G.711 pass, and recordings
 * of simulated calls are written the same way.
 */
import { readFileSync, writeFileSync } from 'node:fs';

export interface PcmAudio {
  sampleRate: number;
  channels: number;
  /** Interleaved samples (frames × channels). */
  samples: Int16Array;
}

export class WavFormatError extends Error {
  override name = 'WavFormatError';
}

const WAVE_FORMAT_PCM = 1;
const WAVE_FORMAT_EXTENSIBLE = 0xfffe;

/** Parses a WAV file (path or bytes). Throws WavFormatError for anything but PCM16. */
export function readWav(source: string | Uint8Array): PcmAudio {
  const bytes = typeof source === 'string' ? readFileSync(source) : source;
  const where = typeof source === 'string' ? `${source}: ` : '';
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const tag = (at: number) => String.fromCharCode(...bytes.subarray(at, at + 4));
  if (bytes.byteLength < 12 || tag(0) !== 'RIFF' || tag(8) !== 'WAVE') {
    throw new WavFormatError(`${where}not a RIFF/WAVE file`);
  }
  let fmt: { format: number; channels: number; sampleRate: number; bits: number } | undefined;
  let offset = 12;
  while (offset + 8 <= bytes.byteLength) {
    const id = tag(offset);
    const size = view.getUint32(offset + 4, true);
    const body = offset + 8;
    if (id === 'fmt ') {
      let format = view.getUint16(body, true);
      if (format === WAVE_FORMAT_EXTENSIBLE && size >= 40) {
        format = view.getUint16(body + 24, true); // first two bytes of the sub-format GUID
      }
      fmt = {
        format,
        channels: view.getUint16(body + 2, true),
        sampleRate: view.getUint32(body + 4, true),
        bits: view.getUint16(body + 14, true),
      };
    } else if (id === 'data') {
      if (!fmt) throw new WavFormatError(`${where}data chunk before fmt chunk`);
      if (fmt.format !== WAVE_FORMAT_PCM || fmt.bits !== 16) {
        throw new WavFormatError(
          `${where}unsupported encoding (format ${fmt.format}, ${fmt.bits} bits): only PCM 16-bit`,
        );
      }
      // Some writers leave the size 0 or too large for streamed files: clamp to what is there.
      const length = Math.min(size, bytes.byteLength - body) & ~1;
      const samples = new Int16Array(length / 2);
      for (let i = 0; i < samples.length; i++) samples[i] = view.getInt16(body + i * 2, true);
      return { sampleRate: fmt.sampleRate, channels: fmt.channels, samples };
    }
    offset = body + size + (size & 1);
  }
  throw new WavFormatError(`${where}no data chunk`);
}

/** Encodes PCM16 audio as a WAV file; writes it when `path` is given. */
export function encodeWav(audio: PcmAudio): Buffer {
  const dataBytes = audio.samples.length * 2;
  const out = Buffer.alloc(44 + dataBytes);
  out.write('RIFF', 0, 'ascii');
  out.writeUInt32LE(36 + dataBytes, 4);
  out.write('WAVE', 8, 'ascii');
  out.write('fmt ', 12, 'ascii');
  out.writeUInt32LE(16, 16);
  out.writeUInt16LE(WAVE_FORMAT_PCM, 20);
  out.writeUInt16LE(audio.channels, 22);
  out.writeUInt32LE(audio.sampleRate, 24);
  out.writeUInt32LE(audio.sampleRate * audio.channels * 2, 28);
  out.writeUInt16LE(audio.channels * 2, 32);
  out.writeUInt16LE(16, 34);
  out.write('data', 36, 'ascii');
  out.writeUInt32LE(dataBytes, 40);
  for (let i = 0; i < audio.samples.length; i++) out.writeInt16LE(audio.samples[i]!, 44 + i * 2);
  return out;
}

export function writeWav(path: string, audio: PcmAudio): void {
  writeFileSync(path, encodeWav(audio));
}

/** Mono view of (possibly multi-channel) audio: channels averaged. */
export function toMono(audio: PcmAudio): Int16Array {
  if (audio.channels === 1) return audio.samples;
  const frames = Math.floor(audio.samples.length / audio.channels);
  const out = new Int16Array(frames);
  for (let f = 0; f < frames; f++) {
    let sum = 0;
    for (let c = 0; c < audio.channels; c++) sum += audio.samples[f * audio.channels + c]!;
    out[f] = Math.round(sum / audio.channels);
  }
  return out;
}

/** The chunks one after the other, in one array. */
export function concat(chunks: readonly Int16Array[]): Int16Array {
  const out = new Int16Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

/** Interleaves equal-rate mono tracks into one multi-channel buffer (shorter ones padded). */
export function interleave(tracks: readonly Int16Array[]): Int16Array {
  const frames = Math.max(0, ...tracks.map((t) => t.length));
  const out = new Int16Array(frames * tracks.length);
  tracks.forEach((track, c) => {
    for (let f = 0; f < track.length; f++) out[f * tracks.length + c] = track[f]!;
  });
  return out;
}

/** Linear-interpolation resampling of mono PCM16 (enough for simulation and recordings). */
export function resample(samples: Int16Array, from: number, to: number): Int16Array {
  if (from === to) return samples;
  const length = Math.floor((samples.length * to) / from);
  const out = new Int16Array(length);
  const step = from / to;
  for (let i = 0; i < length; i++) {
    const x = i * step;
    const i0 = Math.floor(x);
    const a = samples[i0] ?? 0;
    const b = samples[i0 + 1] ?? a;
    out[i] = Math.round(a + (b - a) * (x - i0));
  }
  return out;
}
