/**
 * A streaming `stt.STT` whose transcripts come from a script on the shared SimClock instead of
 * a recogniser (no speech-to-text model runs offline here). Utterances are turned into interim
 * and final events by the timing model of a streaming telephony STT
 * (docs/interruption-scenarios.md): first interim (first word) `interimDelayMs`
 * after onset, one more word per interim every `duration / words`, final `finalDelayMs` after
 * the audio ends. Utterances can be added before or during the call.
 *
 * The schedule belongs to the STT, not to one stream: when the framework opens a new stream
 * (e.g. after an agent handoff) it continues with the events not yet sent.
 */
import { type APIConnectOptions, stt } from '@livekit/agents';
import type { SimClock } from './clock.js';

export interface Utterance {
  /** Speech onset on the timeline (ms). */
  atMs: number;
  /** Length of the spoken audio (ms). */
  durationMs: number;
  /** What the STT hears; "" produces no events (coughs, breaths, line noise). */
  transcript: string;
}

export interface SttTiming {
  interimDelayMs: number;
  finalDelayMs: number;
}

export const defaultSttTiming = {
  interimDelayMs: 300,
  finalDelayMs: 400,
} as const satisfies SttTiming;

export interface ScriptedSttEvent {
  atMs: number;
  kind: 'interim' | 'final';
  text: string;
  /** Index of the utterance this event belongs to (order of addition). */
  utterance: number;
  /** Timeline instant it was actually emitted (set when sent). */
  sentAtMs?: number;
}

/** The spec's timing model: interim/final events for one utterance. */
function sttEventsFor(
  u: Utterance,
  timing: SttTiming = defaultSttTiming,
  utterance = 0,
): ScriptedSttEvent[] {
  const words = u.transcript.trim().split(/\s+/).filter(Boolean);
  if (words.length === 0) return [];
  const finalAt = u.atMs + u.durationMs + timing.finalDelayMs;
  const step = u.durationMs / words.length;
  const events: ScriptedSttEvent[] = [];
  for (let k = 1; k <= words.length; k++) {
    const at = u.atMs + timing.interimDelayMs + (k - 1) * step;
    if (at >= finalAt) break;
    events.push({ atMs: at, kind: 'interim', text: words.slice(0, k).join(' '), utterance });
  }
  events.push({ atMs: finalAt, kind: 'final', text: words.join(' '), utterance });
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
    super({ streaming: true, interimResults: true, diarization: false, alignedTranscript: false });
    this.clock = opts.clock;
    this.timing = { ...defaultSttTiming, ...opts.timing };
    this.language = opts.language ?? 'en';
  }

  /** Schedules the events of one utterance by the timing model; returns them. */
  addUtterance(u: Utterance): ScriptedSttEvent[] {
    const events = sttEventsFor(u, this.timing, this.utterances++);
    this.addEvents(events);
    return events;
  }

  /** Schedules raw events (for scripts that do not follow the timing model). */
  addEvents(events: readonly ScriptedSttEvent[]): void {
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
      this.queue.put({
        type:
          next.kind === 'final'
            ? stt.SpeechEventType.FINAL_TRANSCRIPT
            : stt.SpeechEventType.INTERIM_TRANSCRIPT,
        alternatives: [
          {
            text: next.text,
            language: this.script.language as stt.SpeechData['language'],
            startTime: 0,
            endTime: 0,
            confidence: 1,
          },
        ],
      });
    }
    await drain;
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
