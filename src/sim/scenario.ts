/**
 * The simulator's scenario format (examples/demo-call.json): who calls, the caller's lines said
 * at moments relative to what the agent does (so many ms after it first spoke, after it finished
 * talking, or into a given reply) as narrowband WAV clips, offline speech or a synthetic
 * speech-like tone, optionally with exactly what the STT sends for them, line noise under all of
 * it, and the deterministic LLM's rules. Validated on load; errors name the file, position and
 * field.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { type Static, Type } from '@sinclair/typebox';
import { ConfigError } from '../core/errors.js';
import {
  checkSchema,
  type FileIssue,
  fileError,
  parsePositioned,
} from '../core/file-diagnostics.js';
import { noiseKinds } from './noise.js';

const AudioPart = Type.Union([
  Type.String({ minLength: 1, description: 'WAV file, relative to the scenario file' }),
  Type.Object({ tts: Type.String({ minLength: 1 }) }, { additionalProperties: false }),
  /** A speech-like tone of this many ms: Silero hears speech; no file and no TTS needed. */
  Type.Object(
    { synthetic: Type.Integer({ minimum: 20, maximum: 60_000 }) },
    { additionalProperties: false },
  ),
]);

const Trigger = {
  /**
   * `agent-done`: `delayMs` after the agent finished talking (it spoke since the last line);
   * `agent-start`: `delayMs` after the agent first started speaking in the call (its greeting);
   * `reply-start`: `delayMs` into the scripted reply `reply`.
   */
  after: Type.Union([
    Type.Literal('agent-done'),
    Type.Literal('agent-start'),
    Type.Literal('reply-start'),
  ]),
  /** With `reply-start`: the id of the scripted reply whose start anchors `delayMs`. */
  reply: Type.Optional(Type.String()),
  delayMs: Type.Integer({ minimum: 0, maximum: 120_000 }),
};

const CallerLine = Type.Object(
  {
    ...Trigger,
    /** What the caller says; the (scripted) speech-to-text hears it by the timing model. */
    say: Type.Optional(Type.String()),
    /**
     * Exactly what the STT sends for this line instead (docs/interruption-scenarios.md):
     * results `after_ms` after the line's onset; interims unless `final`; [] = nothing.
     */
    stt: Type.Optional(
      Type.Array(
        Type.Object(
          {
            after_ms: Type.Integer({ minimum: 0, maximum: 60_000 }),
            text: Type.String(),
            final: Type.Optional(Type.Boolean()),
            confidence: Type.Optional(Type.Number({ minimum: 0, maximum: 1 })),
          },
          { additionalProperties: false },
        ),
      ),
    ),
    /** Keys the caller presses instead of speaking (e.g. "1", or "4711#" when asked for digits). */
    dtmf: Type.Optional(Type.String({ pattern: '^[0-9*#]+$' })),
    /** The audio, in order (default: the `say` text spoken by the offline TTS). */
    audio: Type.Optional(Type.Array(AudioPart, { minItems: 1 })),
    /** eSpeak voice for synthesised caller audio. */
    voice: Type.Optional(Type.String()),
    /** What a good agent does with it: checked and shown in the timeline. */
    expect: Type.Optional(
      Type.Union([Type.Literal('ignore'), Type.Literal('interrupt'), Type.Literal('respond')]),
    ),
  },
  { additionalProperties: false },
);

/** One rule of the deterministic LLM (also the LLM stand-in's rules: stack/providers). */
export const LlmRuleSchema = Type.Object(
  {
    id: Type.Optional(Type.String({ minLength: 1 })),
    /** Only while this agent talks. */
    agent: Type.Optional(Type.String()),
    /** Case-insensitive regular expression over the caller's last words. */
    match: Type.Optional(Type.String()),
    reply: Type.Optional(Type.String()),
    /** Hand the call to this agent (calls its handoff tool). */
    handoff: Type.Optional(Type.String()),
    /** Call this tool of the agent (e.g. end_call, collect_digits), after `reply` if any. */
    tool: Type.Optional(Type.String({ minLength: 1 })),
    args: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
    /** Answer the request that follows this tool's output (default: no answer after tools). */
    afterTool: Type.Optional(Type.String({ minLength: 1 })),
  },
  { additionalProperties: false },
);
export type LlmRuleSpec = Static<typeof LlmRuleSchema>;

export const ScenarioSchema = Type.Object(
  {
    name: Type.String(),
    description: Type.Optional(Type.String()),
    /** Agents file, relative to the scenario (default: the repository's example). */
    agentsFile: Type.Optional(Type.String()),
    call: Type.Object(
      {
        direction: Type.Optional(Type.Literal('inbound')),
        from: Type.Optional(Type.String()),
        to: Type.Optional(Type.String()),
        attributes: Type.Optional(Type.Record(Type.String(), Type.String())),
      },
      { additionalProperties: false },
    ),
    noise: Type.Optional(
      Type.Object(
        {
          kind: Type.Union(noiseKinds.map((k) => Type.Literal(k))),
          snrDb: Type.Number({ minimum: -10, maximum: 60 }),
        },
        { additionalProperties: false },
      ),
    ),
    caller: Type.Array(CallerLine),
    /** When the caller hangs up (default: 600 ms after the agent's last words). */
    hangUp: Type.Optional(Type.Object(Trigger, { additionalProperties: false })),
    llm: Type.Array(LlmRuleSchema),
  },
  { additionalProperties: false },
);

export type Scenario = Static<typeof ScenarioSchema>;
export type CallerLineSpec = Static<typeof CallerLine>;
export type TriggerSpec = Pick<CallerLineSpec, 'after' | 'reply' | 'delayMs'>;

/**
 * Reads and validates a scenario; every problem is reported as `file:line:col: path: problem`,
 * including caller clips that are not there (relative to the scenario file).
 */
export function loadScenario(path: string): Scenario {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(`${path}: ${(err as Error).message}`);
  }
  const file = parsePositioned(text, path);
  const scenario = checkSchema(ScenarioSchema, file, path);
  const issues: FileIssue[] = [];
  for (const [i, line] of scenario.caller.entries()) {
    if ((line.say === undefined) === (line.dtmf === undefined)) {
      issues.push(file.issueAt(['caller', i], 'needs exactly one of say or dtmf'));
    }
    if (line.after === 'reply-start' && !scenario.llm.some((r) => r.id && r.id === line.reply)) {
      issues.push(file.issueAt(['caller', i, 'reply'], `no llm rule has id "${line.reply}"`));
    }
    for (const [j, part] of (line.audio ?? []).entries()) {
      if (typeof part === 'string' && !existsSync(resolve(dirname(path), part))) {
        issues.push(file.issueAt(['caller', i, 'audio', j], `file not found: ${part}`));
      }
    }
  }
  if (issues.length > 0) throw fileError(path, issues);
  return scenario;
}
