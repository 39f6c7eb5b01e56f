/**
 * Options of the interruption filter, declared once with their defaults. Settings (env) give
 * the deployment's values; an agent in the agents file may override any of them
 * (`interruptions:` → `InterruptionOverridesSchema`).
 */
import { type Static, Type } from '@sinclair/typebox';
import type { EchoOptions, LexiconOptions } from './classifier.js';
import { defaultEchoOptions, defaultLexicon } from './classifier.js';

export const interruptionPolicies = [
  'softack',
  'livekit-default',
  'livekit-min-words-2',
  'seed-grace',
] as const;
export type InterruptionPolicyName = (typeof interruptionPolicies)[number];

export interface SoftAckOptions {
  policy: InterruptionPolicyName;
  lexicon: LexiconOptions;
  echo: EchoOptions;
  /** How long after the agent stops talking its words still count as echo. */
  echoTailMs: number;
  /**
   * The caller's voice (VAD onset) that starts at most this long after the agent stopped is
   * still "over the agent": the VAD reports speech 50–200 ms after it begins.
   */
  onsetGraceMs: number;
  /**
   * Speech (VAD) needed before the framework's own audio path may act on words we let
   * through; words decide, so this only needs to reject clicks.
   */
  minInterruptionMs: number;
  /**
   * Over the agent, a transcript the STT is less sure of than this counts as no words: phone
   * STTs hear low-confidence words in coughs, breaths and line noise.
   */
  minConfidence: number;
}

export const defaultSoftAckOptions = {
  policy: 'softack',
  lexicon: defaultLexicon,
  echo: defaultEchoOptions,
  echoTailMs: 1500,
  onsetGraceMs: 200,
  minInterruptionMs: 200,
  // Between the noise hallucinations (~0.2) and the least sure real words (~0.6) phone STTs send;
  // leaning low, since a missed "wait" costs more than a rare cough taken for a word.
  minConfidence: 0.4,
} as const satisfies SoftAckOptions;

/**
 * Per-agent overrides (agents file, `agents[].interruptions`). The policy and the framework's
 * minimum speech are per session (they shape the session options), so not overridable here.
 */
export const InterruptionOverridesSchema = Type.Object(
  {
    softAcks: Type.Optional(Type.Array(Type.String({ minLength: 1 }))),
    commands: Type.Optional(Type.Array(Type.String({ minLength: 1 }))),
    fillers: Type.Optional(Type.Array(Type.String({ minLength: 1 }))),
    /** Words added to the deployment's lists instead of replacing them. */
    extraSoftAcks: Type.Optional(Type.Array(Type.String({ minLength: 1 }))),
    extraCommands: Type.Optional(Type.Array(Type.String({ minLength: 1 }))),
    echoMinWords: Type.Optional(Type.Integer({ minimum: 1, maximum: 20 })),
    echoMatchRatio: Type.Optional(Type.Number({ minimum: 0.3, maximum: 1 })),
    echoTailMs: Type.Optional(Type.Integer({ minimum: 0, maximum: 10_000 })),
    onsetGraceMs: Type.Optional(Type.Integer({ minimum: 0, maximum: 3000 })),
    minConfidence: Type.Optional(Type.Number({ minimum: 0, maximum: 1 })),
  },
  { additionalProperties: false },
);
export type InterruptionOverrides = Static<typeof InterruptionOverridesSchema>;

/** The settings this module reads (see src/telephony/settings.ts). */
export interface InterruptionSettings {
  INTERRUPTION_POLICY: InterruptionPolicyName;
  SOFT_ACKS: string[];
  INTERRUPT_COMMANDS: string[];
  SOFT_ACK_FILLERS: string[];
  INTERRUPT_ECHO_MIN_WORDS: number;
  INTERRUPT_ECHO_MATCH_RATIO: number;
  INTERRUPT_ECHO_TAIL_MS: number;
  INTERRUPT_ONSET_GRACE_MS: number;
  INTERRUPT_MIN_SPEECH_MS: number;
  INTERRUPT_MIN_CONFIDENCE: number;
}

/** Options from settings (defaults for what they leave out), then an agent's overrides on top. */
export function resolveSoftAckOptions(
  settings?: Partial<InterruptionSettings>,
  overrides: InterruptionOverrides = {},
): SoftAckOptions {
  const d = defaultSoftAckOptions;
  const s = settings ?? {};
  const base: SoftAckOptions = {
    policy: s.INTERRUPTION_POLICY ?? d.policy,
    lexicon: {
      backchannels: s.SOFT_ACKS ?? d.lexicon.backchannels,
      commands: s.INTERRUPT_COMMANDS ?? d.lexicon.commands,
      fillers: s.SOFT_ACK_FILLERS ?? d.lexicon.fillers,
    },
    echo: {
      minWords: s.INTERRUPT_ECHO_MIN_WORDS ?? d.echo.minWords,
      minMatchRatio: s.INTERRUPT_ECHO_MATCH_RATIO ?? d.echo.minMatchRatio,
    },
    echoTailMs: s.INTERRUPT_ECHO_TAIL_MS ?? d.echoTailMs,
    onsetGraceMs: s.INTERRUPT_ONSET_GRACE_MS ?? d.onsetGraceMs,
    minInterruptionMs: s.INTERRUPT_MIN_SPEECH_MS ?? d.minInterruptionMs,
    minConfidence: s.INTERRUPT_MIN_CONFIDENCE ?? d.minConfidence,
  };
  return applyOverrides(base, overrides);
}

/**
 * An agent's overrides on top of resolved options. The policy and the framework's minimum
 * speech stay the session's (they shape the session options).
 */
export function applyOverrides(base: SoftAckOptions, o: InterruptionOverrides): SoftAckOptions {
  return {
    ...base,
    lexicon: {
      backchannels: [...(o.softAcks ?? base.lexicon.backchannels), ...(o.extraSoftAcks ?? [])],
      commands: [...(o.commands ?? base.lexicon.commands), ...(o.extraCommands ?? [])],
      fillers: o.fillers ?? base.lexicon.fillers,
    },
    echo: {
      minWords: o.echoMinWords ?? base.echo.minWords,
      minMatchRatio: o.echoMatchRatio ?? base.echo.minMatchRatio,
    },
    echoTailMs: o.echoTailMs ?? base.echoTailMs,
    onsetGraceMs: o.onsetGraceMs ?? base.onsetGraceMs,
    minConfidence: o.minConfidence ?? base.minConfidence,
  };
}
