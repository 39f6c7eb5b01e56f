/**
 * The AgentSession options each interruption policy needs (the framework's own interruption
 * settings), and merging them into a session's options.
 */
import type { voice } from '@livekit/agents';
import { defaultSoftAckOptions, type SoftAckOptions } from './options.js';

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
