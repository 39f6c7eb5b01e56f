/**
 * A silence gate in front of Silero: the VAD's model runs only while there is sound on the line
 * or the model itself hears speech.
 *
 * A caller is silent most of a call (the agent is talking), and Silero's inference is about half
 * of a call's CPU. The gate sits between the plugin's model wrapper and its ONNX session, per
 * stream (each stream has its own model state):
 *
 * - closed: a 32 ms window whose level is below the line's noise floor + `aboveFloorDb` is
 *   answered "no speech" at once, the model's state kept as it was. The floor is a high
 *   percentile of the levels of recent windows the model did not hear as speech: after noise
 *   suppression the residual noise comes in bursts, and the floor must sit above them.
 * - opening: a louder window opens the gate; the last `replayWindows` windows are run through
 *   the model first (their outputs dropped), so its state has heard the onset as it would have.
 * - open: every window runs; the gate closes again only after the model said "no speech"
 *   (probability < `quietProbability`) for `hangoverMs` and the line is quiet. While the model
 *   hears speech, nothing is skipped, whatever the level.
 *
 * Until the floor is known (`floorMs` of audio) every window runs. `npm run bench:vad -- --gate`
 * measures onset timing with and without the gate on the corpus's clips over line noise after
 * speex; `npm run bench:calls` the CPU it saves.
 */
import { type InferenceSession, Tensor } from 'onnxruntime-node';

export interface SilenceGateOptions {
  /** A window this much above the noise floor opens the gate (dB). */
  aboveFloorDb: number;
  /** The noise floor is this percentile (0–100) of recent non-speech window levels. */
  floorPercentile: number;
  /** A window quieter than this never opens the gate, whatever the floor (PCM16 RMS). */
  minRms: number;
  /** The model's raw probability below which a window is "no speech" for the gate. */
  quietProbability: number;
  /** The gate closes after this long of "no speech" from the model on a quiet line (ms). */
  hangoverMs: number;
  /** Windows before the opening one the model catches up on. */
  replayWindows: number;
  /** The floor is taken over this much recent non-speech audio (ms). */
  floorMs: number;
}

export const silenceGateDefaults = {
  aboveFloorDb: 6,
  floorPercentile: 90,
  minRms: 30,
  quietProbability: 0.15,
  hangoverMs: 320,
  replayWindows: 2,
  floorMs: 4000,
} as const satisfies SilenceGateOptions;

/** Silero's window: 256 samples at 8 kHz, 512 at 16 kHz; 32 ms either way. */
const WINDOW_MS = 32;

/** How many windows went to the model (replays included) and how many the gate answered. */
export interface SilenceGateStats {
  run: number;
  skipped: number;
}

type Feeds = InferenceSession.OnnxValueMapType;
type RunResult = InferenceSession.ReturnType;
type Run = (feeds: Feeds) => Promise<RunResult>;

/** One stream's gate. */
class Gate {
  private readonly floorWindows: number;
  private readonly hangoverWindows: number;
  private readonly ratio: number;
  /** Levels of recent windows the model did not hear as speech. */
  private readonly quietLevels: number[] = [];
  /** The last windows' model inputs, for the catch-up on opening. */
  private readonly recent: Float32Array[] = [];
  private seen = 0;
  private open = true;
  private quietRun = 0;

  constructor(
    private readonly o: SilenceGateOptions,
    private readonly stats: SilenceGateStats,
  ) {
    this.floorWindows = Math.max(1, Math.round(o.floorMs / WINDOW_MS));
    this.hangoverWindows = Math.max(1, Math.round(o.hangoverMs / WINDOW_MS));
    this.ratio = 10 ** (o.aboveFloorDb / 20);
  }

  async run(feeds: Feeds, input: Float32Array, state: Float32Array, real: Run): Promise<RunResult> {
    const level = rmsOf(input);
    const warm = this.seen++ >= this.floorWindows;
    const loud = !warm || (level >= this.o.minRms && level >= this.floor() * this.ratio);
    if (!this.open && !loud) {
      this.remember(input);
      this.noteQuiet(level);
      this.stats.skipped++;
      // The model's output shape: probability, and the next state (unchanged).
      return { output: { data: SILENCE }, stateN: { data: state } } as unknown as RunResult;
    }
    let current = state;
    if (!this.open) {
      // Opening: let the model hear the windows just before, as it would have.
      this.open = true;
      for (const past of this.recent) {
        const r = await real({
          ...feeds,
          input: tensorLike(feeds.input, past),
          state: tensorLike(feeds.state, current),
        });
        current = Float32Array.from((r.stateN as unknown as { data: Float32Array }).data);
        this.stats.run++;
      }
    }
    this.remember(input);
    const result = await real(
      current === state ? feeds : { ...feeds, state: tensorLike(feeds.state, current) },
    );
    this.stats.run++;
    const p = Number((result.output as unknown as { data: ArrayLike<number> }).data[0] ?? 0);
    if (p < this.o.quietProbability) {
      this.noteQuiet(level);
      if (++this.quietRun >= this.hangoverWindows && !loud) this.open = false;
    } else {
      this.quietRun = 0;
    }
    return result;
  }

  private floor(): number {
    if (this.quietLevels.length === 0) return Number.POSITIVE_INFINITY;
    const sorted = [...this.quietLevels].sort((a, b) => a - b);
    return sorted[Math.floor(((sorted.length - 1) * this.o.floorPercentile) / 100)]!;
  }

  private noteQuiet(level: number): void {
    this.quietLevels.push(level);
    if (this.quietLevels.length > this.floorWindows) this.quietLevels.shift();
  }

  private remember(input: Float32Array): void {
    if (this.o.replayWindows === 0) return;
    this.recent.push(Float32Array.from(input));
    if (this.recent.length > this.o.replayWindows) this.recent.shift();
  }
}

const SILENCE = new Float32Array([0]);

/** RMS of the window part of Silero's input (its context comes first), as PCM16. */
function rmsOf(input: Float32Array): number {
  const window = input.length > 512 ? 512 : 256;
  let sum = 0;
  for (let i = input.length - window; i < input.length; i++) sum += input[i]! * input[i]!;
  return Math.sqrt(sum / window) * 32767;
}

/** A tensor like `like` (type, dims) holding `data`. */
function tensorLike(like: unknown, data: Float32Array): Tensor {
  return new Tensor('float32', data, (like as Tensor).dims);
}

/**
 * Wraps a Silero ONNX session with a silence gate per stream. Pass the result to
 * `new silero.VAD(session, options)`.
 */
export function gateSileroSession(
  session: InferenceSession,
  options: SilenceGateOptions = silenceGateDefaults,
  stats: SilenceGateStats = { run: 0, skipped: 0 },
): InferenceSession {
  // Streams are told apart by their model state array: one per stream, passed at every run.
  const gates = new WeakMap<Float32Array, Gate>();
  const real: Run = (feeds) => session.run(feeds);
  const run = (feeds: Feeds) => {
    const input = (feeds.input as Tensor | undefined)?.data;
    const state = (feeds.state as Tensor | undefined)?.data;
    if (!(input instanceof Float32Array) || !(state instanceof Float32Array)) return real(feeds);
    let gate = gates.get(state);
    if (!gate) {
      gate = new Gate(options, stats);
      gates.set(state, gate);
    }
    return gate.run(feeds, input, state, real);
  };
  return new Proxy(session, {
    get: (target, key) => {
      if (key === 'run') return run;
      const value = Reflect.get(target, key, target);
      // The session's own methods use its private state: call them on the session itself.
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}
