/**
 * Loads interruption scenarios (docs/interruption-scenarios.md): every `*.json` under a folder,
 * nested folders included. Every problem of a file is reported at once, one line each, as
 * `interrupt/x.json:7:41: caller[1].stt[2].after_ms: must be at least 0`, and each clip is read
 * and checked (PCM16 WAV; resampled to 8 kHz, mixed to mono if needed). Unknown fields are
 * ignored, so richer scenario files still load.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { type Static, Type } from '@sinclair/typebox';
import { ScenarioInvalidError } from '../core/errors.js';
import {
  checkSchema,
  type FileIssue,
  fileError,
  parsePositioned,
} from '../core/file-diagnostics.js';
import { readWav, resample, toMono } from '../core/wav.js';
import { noiseKinds } from '../sim/noise.js';
import type { SttResult } from '../sim/scripted-stt.js';

export const SCENARIO_SAMPLE_RATE = 8000;
const DEFAULT_DEADLINE_MS = 1500;

export type Expectation = 'ignore' | 'interrupt' | 'respond';

export interface CallerEvent {
  index: number;
  atMs: number;
  /** Absolute path of the clip. */
  audio: string;
  /** What was really said (ground truth, for reports). */
  transcript: string;
  expect: Expectation;
  deadlineMs: number;
  /** What the STT sends for this sound, when the scenario says (else the timing model). */
  stt?: SttResult[];
  /** 8 kHz mono PCM16. */
  samples: Int16Array;
  durationMs: number;
}

export interface Scenario {
  id: string;
  /** Path relative to the loaded folder. */
  file: string;
  /** The scenario's first folder (`backchannel`, `interrupt`, ...); `(top)` for files at the root. */
  group: string;
  agent: { text: string; durationMs: number };
  noise?: { kind: (typeof noiseKinds)[number]; snrDb: number };
  caller: CallerEvent[];
}

const Open = { additionalProperties: true } as const;

const SttResultSchema = Type.Object(
  {
    after_ms: Type.Number({ minimum: 0 }),
    text: Type.String(),
    final: Type.Optional(Type.Boolean()),
    confidence: Type.Optional(Type.Number({ minimum: 0, maximum: 1 })),
  },
  Open,
);

const EventSchema = Type.Object(
  {
    at_ms: Type.Number({ minimum: 0 }),
    audio: Type.String({ minLength: 1 }),
    transcript: Type.String(),
    expect: Type.Union([
      Type.Literal('ignore'),
      Type.Literal('interrupt'),
      Type.Literal('respond'),
    ]),
    deadline_ms: Type.Optional(Type.Number({ exclusiveMinimum: 0 })),
    stt: Type.Optional(Type.Array(SttResultSchema)),
  },
  Open,
);

const ScenarioSchema = Type.Object(
  {
    id: Type.Optional(Type.String({ minLength: 1 })),
    agent: Type.Object(
      { text: Type.String({ minLength: 1 }), duration_ms: Type.Number({ exclusiveMinimum: 0 }) },
      Open,
    ),
    noise: Type.Optional(
      Type.Object(
        { kind: Type.Union(noiseKinds.map((k) => Type.Literal(k))), snr_db: Type.Number() },
        Open,
      ),
    ),
    caller: Type.Array(EventSchema, { minItems: 1 }),
  },
  Open,
);

type ScenarioFile = Static<typeof ScenarioSchema>;

/** Parses and checks one scenario file; `root` only shortens the names in messages. */
export function loadScenario(path: string, root = dirname(path)): Scenario {
  const file = relative(root, path) || path;
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ScenarioInvalidError(`${file}: ${(err as Error).message}`);
  }
  const doc = parsePositioned(text, file, ScenarioInvalidError);
  const s: ScenarioFile = checkSchema(ScenarioSchema, doc, file, ScenarioInvalidError);
  const issues: FileIssue[] = [];
  let last = -1;
  const caller = s.caller.map((e, index): CallerEvent => {
    const at = (...path: (string | number)[]) => ['caller', index, ...path];
    if (e.at_ms < last) {
      issues.push(
        doc.issueAt(at('at_ms'), `must not be earlier than the previous event (${last} ms)`),
      );
    }
    last = e.at_ms;
    let after = 0;
    (e.stt ?? []).forEach((r, j) => {
      if (r.after_ms < after) {
        issues.push(
          doc.issueAt(
            at('stt', j, 'after_ms'),
            `must not be earlier than the previous result (${after} ms)`,
          ),
        );
      }
      after = r.after_ms;
    });
    const audio = resolve(dirname(path), e.audio);
    let samples: Int16Array = new Int16Array(0);
    try {
      const wav = readWav(audio);
      samples = resample(toMono(wav), wav.sampleRate, SCENARIO_SAMPLE_RATE);
      if (samples.length === 0) issues.push(doc.issueAt(at('audio'), 'is empty'));
    } catch (err) {
      const msg =
        (err as NodeJS.ErrnoException).code === 'ENOENT'
          ? `file not found: ${e.audio}`
          : (err as Error).message;
      issues.push(doc.issueAt(at('audio'), `cannot be used (${msg})`));
    }
    return {
      index,
      atMs: e.at_ms,
      audio,
      transcript: e.transcript,
      expect: e.expect,
      deadlineMs: e.deadline_ms ?? DEFAULT_DEADLINE_MS,
      ...(e.stt
        ? {
            stt: e.stt.map((r) => ({
              afterMs: r.after_ms,
              text: r.text,
              ...(r.final ? { final: true } : {}),
              ...(r.confidence !== undefined ? { confidence: r.confidence } : {}),
            })),
          }
        : {}),
      samples,
      durationMs: (samples.length * 1000) / SCENARIO_SAMPLE_RATE,
    };
  });
  if (issues.length > 0) throw fileError(file, issues, ScenarioInvalidError);
  const folder = file.split(sep)[0];
  return {
    id: s.id ?? file.replace(/\.json$/, ''),
    file,
    group: folder && folder !== file ? folder : '(top)',
    agent: { text: s.agent.text, durationMs: s.agent.duration_ms },
    ...(s.noise ? { noise: { kind: s.noise.kind, snrDb: s.noise.snr_db } } : {}),
    caller,
  };
}

/** Every scenario under `folder`, sorted by path. */
export function loadScenarios(folder: string): Scenario[] {
  const root = resolve(folder);
  let stat: ReturnType<typeof statSync>;
  try {
    stat = statSync(root);
  } catch {
    throw new ScenarioInvalidError(`${folder}: folder not found`);
  }
  if (!stat.isDirectory()) throw new ScenarioInvalidError(`${folder}: not a folder`);
  const files: string[] = [];
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, entry.name);
      if (entry.isDirectory()) walk(p);
      else if (entry.isFile() && entry.name.endsWith('.json')) files.push(p);
    }
  };
  walk(root);
  files.sort();
  if (files.length === 0) throw new ScenarioInvalidError(`${folder}: no *.json scenario files`);
  const scenarios = files.map((f) => loadScenario(f, root));
  const seen = new Map<string, string>();
  for (const s of scenarios) {
    const other = seen.get(s.id);
    if (other) throw new ScenarioInvalidError(`${s.file}: id: "${s.id}" is also used by ${other}`);
    seen.set(s.id, s.file);
  }
  return scenarios;
}
