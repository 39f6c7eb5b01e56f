/**
 * Interruption handling for phone agents: what caller sound over the agent does.
 *
 * How a session is wired (src/call/session.ts does exactly this):
 *
 *   const opts = resolveSoftAckOptions(config);                       // settings → options
 *   const session = new voice.AgentSession(withInterruptionOptions(sessionOptions, opts));
 *   attachInterruptionPolicy(session, opts, { onDecision });          // before start: the
 *   const agent = new PhoneAgent({                                    // greeting is the first
 *     speechFilter: interruptionSpeechFilter(spec.interruptions),     // speech callers talk
 *   });                                                               // over or echo
 *   await session.start({ agent, room });
 *
 * The agent's STT events pass through `interruptionSpeechFilter`, which finds the controller
 * bound to its session when events flow.
 *
 * Policies: `softack` (default; soft-ack-filter.ts), `seed-grace` (seed 003's algorithm,
 * seed-grace.ts), and the framework's own behaviour `livekit-default` and
 * `livekit-min-words-2`, kept selectable so the eval can compare them in one run.
 */
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
  attachInterruptionPolicy,
  controllerOf,
  InterruptionController,
  type InterruptionHooks,
  interruptionSpeechFilter,
} from './controller.js';
export {
  applyOverrides,
  defaultSoftAckOptions,
  type InterruptionOverrides,
  InterruptionOverridesSchema,
  type InterruptionPolicyName,
  type InterruptionSettings,
  interruptionPolicies,
  resolveSoftAckOptions,
  type SoftAckOptions,
} from './options.js';
export {
  type InterruptionSessionOptions,
  interruptionSessionOptions,
  withInterruptionOptions,
} from './session-options.js';
export type { DecisionRecord } from './soft-ack-filter.js';
