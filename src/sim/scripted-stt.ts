/**
 * A streaming `stt.STT` whose transcripts come from a script on the shared SimClock instead of
 * a recogniser (no speech-to-text model runs offline here). An utterance is turned into interim
 * and final results either by the timing model of a streaming telephony STT
 * (docs/interruption-scenarios.md: first interim (first word) `interimDelayMs` after onset, one
 * more word per interim every `duration / words`, final `finalDelayMs` after the audio ends) or
 * from explicit results (what a real STT sent: spellings, revisions, split or missing finals,
 * confidences).
 *
 * Results reach the session in the shape the Deepgram plugin gives them, with its capabilities
 * (streaming, interim results, word-aligned transcripts): START_OF_SPEECH before the first result
 * with words, INTERIM_TRANSCRIPT / FINAL_TRANSCRIPT with confidence and word timings, no
 * transcript event for a result without words, END_OF_SPEECH after a final that ends the speech
 * (Deepgram's `speech_final`). So what the interruption filter sees in a simulation is what it
 * sees on a call.
 *
 * The schedule belongs to the STT, not to one stream: when the framework opens a new stream
 * (e.g. after an agent handoff) it continues with the events not yet sent.
 */
import { type APIConnectOptions, stt, voice } from '@livekit/agents';
import type { SimClock } from './clock.js';

export interface Utterance {
  /** Speech onset on the timeline (ms). */
  atMs: number;
  /** Length of the spoken audio (ms). */
  durationMs: number;
  /** What the STT hears; "" produces no events (coughs, breaths, line noise). */
  transcript: string;
  /**
   * What the STT sends instead of the timing model, in time order: [] = nothing at all.
   * Interim text is cumulative since the previous final, as streaming STTs send it.
   */
  results?: readonly SttResult[];
}

/** One result an STT sends for an utterance (an event's `stt` entry in the scenario format). */
export interface SttResult {
  /** After the utterance's onset (ms). */
  afterMs: number;
  text: string;
  final?: boolean;
  /** 0–1 (default 0.95). */
  confidence?: number;
}

export interface SttTiming {
  interimDelayMs: number;
  finalDelayMs: number;
}

export const defaultSttTiming = {
  interimDelayMs: 300,
  finalDelayMs: 400,
} as const satisfies SttTiming;

/** Confidence of a result that states none (what Deepgram gives clear phone speech). */
export const DEFAULT_CONFIDENCE = 0.95;

export interface ScriptedSttEvent {
  atMs: number;
  kind: 'interim' | 'final';
  text: string;
  confidence: number;
  /** A final that ends the speech (Deepgram's `speech_final`): END_OF_SPEECH follows. */
  endsSpeech: boolean;
  /** Index of the utterance this event belongs to (order of addition). */
  utterance: number;
  /** Timeline instant it was actually emitted (set when sent). */
  sentAtMs?: number;
}

/** The events of one utterance: its explicit results, or the spec's timing model. */
function sttEventsFor(u: Utterance, timing: SttTiming, utterance: number): ScriptedSttEvent[] {
  if (u.results) {
    const lastFinal = u.results.findLastIndex((r) => r.final);
    return u.results.map((r, i) => ({
      atMs: u.atMs + r.afterMs,
      kind: r.final ? 'final' : 'interim',
      text: r.text,
      confidence: r.confidence ?? DEFAULT_CONFIDENCE,
      // Speech ends at the last final; an earlier final only closes a piece of it.
      endsSpeech: i === lastFinal,
      utterance,
    }));
  }
  const words = u.transcript.trim().split(/\s+/).filter(Boolean);
  if (words.length === 0) return [];
  const finalAt = u.atMs + u.durationMs + timing.finalDelayMs;
  const step = u.durationMs / words.length;
  const events: ScriptedSttEvent[] = [];
  const base = { confidence: DEFAULT_CONFIDENCE, endsSpeech: false, utterance };
  for (let k = 1; k <= words.length; k++) {
    const at = u.atMs + timing.interimDelayMs + (k - 1) * step;
    if (at >= finalAt) break;
    events.push({ ...base, atMs: at, kind: 'interim', text: words.slice(0, k).join(' ') });
  }
  events.push({ ...base, atMs: finalAt, kind: 'final', text: words.join(' '), endsSpeech: true });
  return events;
}

export interface ScriptedSTTOptions {
  clock: SimClock;
  timing?: Partial<SttTiming>;
  language?: string;
}

export class ScriptedSTT extends stt.STT {
  label = 'sim.ScriptedSTT';
  readonly clock: SimClock;
  readonly timing: SttTiming;
  readonly language: string;
  /** Every scheduled event, in time order; `sentAtMs` is filled in as they go out. */
  readonly schedule: ScriptedSttEvent[] = [];
  private utterances = 0;
  private readonly wakers = new Set<() => void>();

  constructor(opts: ScriptedSTTOptions) {
    // The Deepgram plugin's capabilities: the framework chooses its paths by them.
    super({ streaming: true, interimResults: true, diarization: false, alignedTranscript: 'word' });
    this.clock = opts.clock;
    this.timing = { ...defaultSttTiming, ...opts.timing };
    this.language = opts.language ?? 'en';
  }

  /** Schedules the events of one utterance (explicit results or the timing model). */
  addUtterance(u: Utterance): ScriptedSttEvent[] {
    const events = sttEventsFor(u, this.timing, this.utterances++);
    this.addEvents(events);
    return events;
  }

  private addEvents(events: readonly ScriptedSttEvent[]): void {
    this.schedule.push(...events);
    this.schedule.sort((a, b) => a.atMs - b.atMs);
    for (const wake of this.wakers) wake();
  }

  /** @internal next unsent event and a way to wait for new ones. */
  _nextPending(): ScriptedSttEvent | undefined {
    return this.schedule.find((e) => e.sentAtMs === undefined);
  }

  /** @internal */
  _onScheduleChange(wake: () => void): () => void {
    this.wakers.add(wake);
    return () => this.wakers.delete(wake);
  }

  protected async _recognize(): Promise<stt.SpeechEvent> {
    throw new Error('ScriptedSTT only streams');
  }

  override stream(options?: { connOptions?: APIConnectOptions }): stt.SpeechStream {
    return new ScriptedSpeechStream(this, options?.connOptions);
  }
}

class ScriptedSpeechStream extends stt.SpeechStream {
  label = 'sim.ScriptedSpeechStream';
  private readonly script: ScriptedSTT;
  private speaking = false;

  constructor(script: ScriptedSTT, connOptions?: APIConnectOptions) {
    super(script, undefined, connOptions);
    this.script = script;
  }

  protected async run(): Promise<void> {
    let inputDone = false;
    // Audio is not recognised, but it must be consumed or the pipeline backs up.
    const drain = (async () => {
      for await (const _ of this.input) {
        /* discard */
      }
      inputDone = true;
    })();
    const abort = this.abortController.signal;
    while (!inputDone && !abort.aborted && !this.closed) {
      const next = this.script._nextPending();
      if (!next) {
        await this.waitForChange(abort, drain);
        continue;
      }
      const wait = new AbortController();
      const stop = () => wait.abort();
      const unsubscribe = this.script._onScheduleChange(stop);
      abort.addEventListener('abort', stop, { once: true });
      void drain.then(stop);
      await this.script.clock.sleepUntil(next.atMs, wait.signal);
      unsubscribe();
      abort.removeEventListener('abort', stop);
      if (wait.signal.aborted && this.script.clock.now() < next.atMs) continue; // re-plan
      if (inputDone || abort.aborted || this.closed) break;
      next.sentAtMs = this.script.clock.now();
      this.emit(next);
    }
    await drain;
  }

  /** As the Deepgram plugin turns a `Results` message into speech events. */
  private emit(e: ScriptedSttEvent): void {
    if (e.text) {
      if (!this.speaking) {
        this.speaking = true;
        this.queue.put({ type: stt.SpeechEventType.START_OF_SPEECH });
      }
      this.queue.put({
        type:
          e.kind === 'final'
            ? stt.SpeechEventType.FINAL_TRANSCRIPT
            : stt.SpeechEventType.INTERIM_TRANSCRIPT,
        alternatives: [this.speechData(e)],
      });
    }
    if (e.endsSpeech && this.speaking) {
      this.speaking = false;
      this.queue.put({ type: stt.SpeechEventType.END_OF_SPEECH });
    }
  }

  /** Words spread evenly from the utterance's onset to this result (seconds, stream time). */
  private speechData(e: ScriptedSttEvent): stt.SpeechData {
    const words = e.text.split(/\s+/).filter(Boolean);
    const end = e.atMs / 1000;
    const start = Math.max(0, end - 0.3 * words.length);
    const step = (end - start) / Math.max(1, words.length);
    return {
      text: e.text,
      language: this.script.language as stt.SpeechData['language'],
      startTime: start,
      endTime: end,
      confidence: e.confidence,
      words: words.map((w, i) =>
        voice.createTimedString({
          text: w,
          startTime: start + i * step,
          endTime: start + (i + 1) * step,
          confidence: e.confidence,
        }),
      ),
    };
  }

  private waitForChange(abort: AbortSignal, drain: Promise<void>): Promise<void> {
    return new Promise<void>((resolve) => {
      const unsubscribe = this.script._onScheduleChange(done);
      abort.addEventListener('abort', done, { once: true });
      void drain.then(done);
      function done() {
        unsubscribe();
        resolve();
      }
    });
  }
}
