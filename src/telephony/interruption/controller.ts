/**
 * The interruption policy bound to one session: `InterruptionController` owns the agent-speech
 * tracker (softack) or the seed's controller (seed-grace) and filters each agent's STT events
 * through the policy, recording every decision (metrics: backchannels ignored, interruptions).
 */
import { ReadableStream, type ReadableStreamDefaultReader } from 'node:stream/web';
import type { stt, voice } from '@livekit/agents';
import { AgentSpeechTracker } from './agent-speech.js';
import {
  applyOverrides,
  defaultSoftAckOptions,
  type InterruptionOverrides,
  type SoftAckOptions,
} from './options.js';
import { SeedGraceController } from './seed-grace.js';
import { type DecisionRecord, type SpeechEventStream, softAckFilter } from './soft-ack-filter.js';

export interface InterruptionHooks {
  /** Every judgement of a caller transcript (metrics: backchannels ignored, interruptions). */
  onDecision?: (record: DecisionRecord) => void;
}

const MAX_RECORDS = 500;

/** The policy bound to one session; find it from an agent with `controllerOf(session)`. */
export class InterruptionController {
  readonly decisions: DecisionRecord[] = [];
  private readonly tracker: AgentSpeechTracker | undefined;
  private readonly seed: SeedGraceController | undefined;

  constructor(
    readonly session: voice.AgentSession,
    readonly options: SoftAckOptions,
    private readonly hooks: InterruptionHooks = {},
  ) {
    const record = (r: DecisionRecord) => {
      this.decisions.push(r);
      if (this.decisions.length > MAX_RECORDS) this.decisions.shift();
      this.hooks.onDecision?.(r);
    };
    this.record = record;
    if (options.policy === 'softack')
      this.tracker = new AgentSpeechTracker(session, options.echoTailMs);
    if (options.policy === 'seed-grace') this.seed = new SeedGraceController(session, record);
  }

  private readonly record: (r: DecisionRecord) => void;

  /** Filters an agent's STT events; `overrides` are that agent's (agents file). */
  filter(events: SpeechEventStream, overrides?: InterruptionOverrides): SpeechEventStream {
    if (this.tracker) {
      const opts = overrides ? withOverrides(this.options, overrides) : this.options;
      return softAckFilter(events, this.tracker, opts, this.record);
    }
    if (this.seed) return this.seed.filter(events);
    return events;
  }

  dispose(): void {
    this.tracker?.dispose();
    this.seed?.dispose();
    controllers.delete(this.session);
  }
}

// Per-agent options are resolved once per overrides object (agents are rebuilt on handoff).
const resolvedOverrides = new WeakMap<InterruptionOverrides, SoftAckOptions>();
function withOverrides(base: SoftAckOptions, o: InterruptionOverrides): SoftAckOptions {
  let r = resolvedOverrides.get(o);
  if (!r) {
    r = applyOverrides(base, o);
    resolvedOverrides.set(o, r);
  }
  return r;
}

const controllers = new WeakMap<voice.AgentSession, InterruptionController>();

/**
 * Binds the policy to a session. Production binds it when it builds the session, before
 * `session.start()` (src/call/session.ts), so it sees the greeting; binding again replaces the
 * previous controller.
 */
export function attachInterruptionPolicy(
  session: voice.AgentSession,
  options: SoftAckOptions = defaultSoftAckOptions,
  hooks?: InterruptionHooks,
): InterruptionController {
  controllers.get(session)?.dispose();
  const c = new InterruptionController(session, options, hooks);
  controllers.set(session, c);
  return c;
}

export function controllerOf(session: voice.AgentSession): InterruptionController | undefined {
  return controllers.get(session);
}

/**
 * The STT-event filter for an agent (PhoneAgent's `speechFilter`). It looks the controller of
 * the agent's session up when events flow, so the order of binding and starting does not
 * matter; with none bound (text-only sessions) events pass unchanged.
 */
export function interruptionSpeechFilter(
  overrides?: InterruptionOverrides,
): (events: SpeechEventStream, agent: { session: voice.AgentSession }) => SpeechEventStream {
  return (events, agent) => {
    const bound = controllerOf(agent.session);
    if (bound) return bound.filter(events, overrides);
    // Not bound yet: decide at the first event, when the session is surely running.
    const reader = events.getReader();
    let routed: ReadableStreamDefaultReader<stt.SpeechEvent | string> | undefined;
    return new ReadableStream<stt.SpeechEvent | string>(
      {
        async pull(controller) {
          if (!routed) {
            const first = await reader.read();
            if (first.done) {
              controller.close();
              return;
            }
            const rest = prepend(first.value, reader);
            const c = controllerOf(agent.session);
            routed = (c ? c.filter(rest, overrides) : rest).getReader();
          }
          const { done, value } = await routed.read();
          if (done) controller.close();
          else controller.enqueue(value);
        },
        cancel(reason) {
          return (routed ?? reader).cancel(reason);
        },
      },
      { highWaterMark: 0 },
    );
  };
}

function prepend<T>(first: T, reader: ReadableStreamDefaultReader<T>): ReadableStream<T> {
  let sentFirst = false;
  return new ReadableStream<T>(
    {
      async pull(controller) {
        if (!sentFirst) {
          sentFirst = true;
          controller.enqueue(first);
          return;
        }
        const { done, value } = await reader.read();
        if (done) controller.close();
        else controller.enqueue(value);
      },
      cancel(reason) {
        return reader.cancel(reason);
      },
    },
    { highWaterMark: 0 },
  );
}
