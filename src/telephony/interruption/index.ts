/**
 * Interruption handling for phone agents: what caller sound over the agent does.
 *
 * Three calls wire it into a session (the worker's session builder and PhoneAgent use them):
 *
 *   const opts = resolveSoftAckOptions(config);                      // settings → options
 *   const session = new voice.AgentSession({
 *     ...,
 *     ...interruptionSessionOptions(opts),   // { turnHandling: { interruption }, aecWarmupDuration }
 *   });                                      // (merge turnHandling with yours: see withInterruptionOptions)
 *   attachInterruptionPolicy(session, opts, { onDecision });        // before start (sees the greeting)
 *   await session.start({ agent, room });
 *
 * and every PhoneAgent passes its STT events through `interruptionSpeechFilter(overrides)`
 * (the `speechFilter` seam of src/agents/phone-agent.ts: `(events, agent) => events`).
 *
 * Policies: `softack` (default; soft-ack-filter.ts), `seed-grace` (seed 003's algorithm,
 * seed-grace.ts), and the framework's own behaviour `livekit-default` and
 * `livekit-min-words-2`, kept selectable so the eval can compare them in one run.
 */
import { ReadableStream, type ReadableStreamDefaultReader } from 'node:stream/web';
import type { stt, voice } from '@livekit/agents';
import { AgentSpeechTracker } from './agent-speech.js';
import {
  defaultSoftAckOptions,
  type InterruptionOverrides,
  resolveSoftAckOptions,
  type SoftAckOptions,
} from './options.js';
import { SeedGraceController } from './seed-grace.js';
import { type DecisionRecord, type SpeechEventStream, softAckFilter } from './soft-ack-filter.js';

export {
  type Classification,
  CompiledLexicon,
  classify,
  type Decision,
  isEcho,
  type LexiconOptions,
  normalize,
} from './classifier.js';
export {
  defaultSoftAckOptions,
  type InterruptionOverrides,
  InterruptionOverridesSchema,
  type InterruptionPolicyName,
  type InterruptionSettings,
  interruptionPolicies,
  resolveSoftAckOptions,
  type SoftAckOptions,
} from './options.js';
export type { DecisionRecord } from './soft-ack-filter.js';

type SessionOptions = NonNullable<ConstructorParameters<typeof voice.AgentSession>[0]>;
type InterruptionTurnOptions = NonNullable<
  NonNullable<SessionOptions['turnHandling']>['interruption']
>;

export interface InterruptionSessionOptions {
  turnHandling: { interruption: InterruptionTurnOptions };
  aecWarmupDuration?: number | null;
}

/** The AgentSession options a policy needs. */
export function interruptionSessionOptions(
  options: Pick<SoftAckOptions, 'policy' | 'minInterruptionMs'> = defaultSoftAckOptions,
): InterruptionSessionOptions {
  switch (options.policy) {
    case 'softack':
      return {
        turnHandling: {
          interruption: {
            enabled: true,
            mode: 'vad',
            // Words decide: sound alone never pauses or stops the agent; only words our
            // filter lets through reach the framework's transcript.
            minWords: 1,
            minDuration: options.minInterruptionMs,
            // Decided before touching the audio, so no pause-then-resume (no stutter).
            resumeFalseInterruption: false,
          },
        },
        // The filter recognises echo by its words, so no blanket deafness at call start.
        aecWarmupDuration: null,
      };
    case 'seed-grace':
      // The seed guards the audio path: here, only non-soft-ack words reach it.
      return { turnHandling: { interruption: { minWords: 1 } } };
    case 'livekit-min-words-2':
      return { turnHandling: { interruption: { minWords: 2 } } };
    case 'livekit-default':
      return { turnHandling: { interruption: {} } };
  }
}

/** Merges the policy's options into session options (deep for `turnHandling`). */
export function withInterruptionOptions<T extends SessionOptions>(
  sessionOptions: T,
  options: Pick<SoftAckOptions, 'policy' | 'minInterruptionMs'> = defaultSoftAckOptions,
): T {
  const p = interruptionSessionOptions(options);
  return {
    ...sessionOptions,
    ...('aecWarmupDuration' in p ? { aecWarmupDuration: p.aecWarmupDuration } : {}),
    turnHandling: {
      ...sessionOptions.turnHandling,
      interruption: {
        ...sessionOptions.turnHandling?.interruption,
        ...p.turnHandling.interruption,
      },
    },
  };
}

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
      const opts = overrides ? resolveOverrides(this.options, overrides) : this.options;
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
function resolveOverrides(base: SoftAckOptions, o: InterruptionOverrides): SoftAckOptions {
  let r = resolvedOverrides.get(o);
  if (!r) {
    r = resolveSoftAckOptions(
      {
        INTERRUPTION_POLICY: base.policy,
        SOFT_ACKS: [...base.lexicon.backchannels],
        INTERRUPT_COMMANDS: [...base.lexicon.commands],
        SOFT_ACK_FILLERS: [...base.lexicon.fillers],
        INTERRUPT_ECHO_MIN_WORDS: base.echo.minWords,
        INTERRUPT_ECHO_MATCH_RATIO: base.echo.minMatchRatio,
        INTERRUPT_ECHO_TAIL_MS: base.echoTailMs,
        INTERRUPT_ONSET_GRACE_MS: base.onsetGraceMs,
        INTERRUPT_MIN_SPEECH_MS: base.minInterruptionMs,
      },
      o,
    );
    resolvedOverrides.set(o, r);
  }
  return r;
}

const controllers = new WeakMap<voice.AgentSession, InterruptionController>();

/** Binds the policy to a started session. Call once, after `session.start()`. */
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
 * The STT-event filter for an agent (PhoneAgent's `speechFilter`). It finds the policy bound to
 * the agent's session when events flow, so it works whether the policy was attached before or
 * after `session.start()`; with none bound (e.g. text-only tests) events pass unchanged.
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
