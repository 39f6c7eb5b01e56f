/**
 * The noise-suppressor contract shared by every backend, and the block buffering that lets a
 * library with a fixed block size take frames of any length.
 */

/** The NOISE_SUPPRESSION values (livekit-cloud: LiveKit Cloud's filter, applied in the room). */
export const noiseSuppressionModes = ['speex', 'rnnoise', 'off', 'livekit-cloud'] as const;
export type NoiseSuppressionMode = (typeof noiseSuppressionModes)[number];

/** Backends that run in this process (LiveKit Cloud's filter runs in the room, not here). */
export type LocalNoiseBackend = 'speex' | 'rnnoise' | 'off';

/**
 * A per-call, stateful noise suppressor over mono 16-bit PCM at one sample rate. State carries
 * across calls to `process`, so one instance serves exactly one audio stream.
 */
export interface NoiseSuppressor {
  readonly backend: LocalNoiseBackend;
  readonly sampleRate: number;
  /** Returns a new frame of the same length; the input is not modified. */
  process(frame: Int16Array): Int16Array;
  /** Frees the library's native/WASM state; `process` must not be called afterwards. */
  close(): void;
}

/** Makes suppressors for one backend whose library is already loaded (creation is synchronous). */
export interface NoiseSuppressorFactory {
  readonly backend: LocalNoiseBackend;
  create(sampleRate: number): NoiseSuppressor;
}

/** FIFO of samples; amortised O(1) push/shift without per-frame allocation churn. */
export class SampleQueue {
  #buf: Int16Array;
  #start = 0;
  #end = 0;

  constructor(capacity = 4096) {
    this.#buf = new Int16Array(capacity);
  }

  get length(): number {
    return this.#end - this.#start;
  }

  push(samples: Int16Array): void {
    if (this.#end + samples.length > this.#buf.length) {
      const length = this.length;
      const needed = length + samples.length;
      if (needed > this.#buf.length) {
        const grown = new Int16Array(Math.max(needed, this.#buf.length * 2));
        grown.set(this.#buf.subarray(this.#start, this.#end));
        this.#buf = grown;
      } else {
        this.#buf.copyWithin(0, this.#start, this.#end);
      }
      this.#start = 0;
      this.#end = length;
    }
    this.#buf.set(samples, this.#end);
    this.#end += samples.length;
  }

  /** Removes `n` samples (n ≤ length) into `out` at `offset`. */
  shiftInto(n: number, out: Int16Array, offset = 0): void {
    out.set(this.#buf.subarray(this.#start, this.#start + n), offset);
    this.#start += n;
    if (this.#start === this.#end) {
      this.#start = 0;
      this.#end = 0;
    }
  }
}

/**
 * Runs a fixed-size, in-place block function over frames of any length and returns exactly as
 * many samples as it was given. When frames are a multiple of the block size nothing is
 * buffered (no added latency). Otherwise the first call primes the output with the latency this
 * frame size needs (block − gcd(frame, block) samples, e.g. 240 for 10 ms frames and 32 ms
 * blocks at 8 kHz), so a steady stream never runs short later, which would insert a gap.
 */
export class BlockRunner {
  readonly #input = new SampleQueue();
  readonly #output = new SampleQueue();
  readonly #block: Int16Array;
  #primed = false;

  constructor(
    blockSize: number,
    private readonly runBlock: (block: Int16Array) => void,
  ) {
    this.#block = new Int16Array(blockSize);
  }

  process(frame: Int16Array): Int16Array {
    const size = this.#block.length;
    if (!this.#primed && frame.length > 0) {
      this.#primed = true;
      this.#output.push(new Int16Array(size - gcd(frame.length, size)));
    }
    this.#input.push(frame);
    while (this.#input.length >= size) {
      this.#input.shiftInto(size, this.#block);
      this.runBlock(this.#block);
      this.#output.push(this.#block);
    }
    return takeOrPad(this.#output, frame.length);
  }
}

function gcd(a: number, b: number): number {
  return b === 0 ? a : gcd(b, a % b);
}

/**
 * Takes `n` samples from `queue`; when it holds fewer, the missing samples are zeros at the
 * front (start-up latency of a resampler or block buffer), which keeps output length = input.
 * The latency then stays that much larger, so a stream runs short only while it starts up (or
 * if its frame size changes).
 */
export function takeOrPad(queue: SampleQueue, n: number): Int16Array {
  const out = new Int16Array(n);
  const available = Math.min(n, queue.length);
  queue.shiftInto(available, out, n - available);
  return out;
}

/** The `off` backend: copies frames through untouched. */
export const passThroughFactory: NoiseSuppressorFactory = {
  backend: 'off',
  create(sampleRate) {
    return {
      backend: 'off',
      sampleRate,
      process: (frame) => frame.slice(),
      close() {},
    };
  },
};
