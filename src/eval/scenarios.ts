/**
 * Loads interruption scenarios (docs/interruption-scenarios.md): every `*.json`
 * under a folder, nested folders included. A malformed file stops the run with an error that
 * names the file and the field (`interrupt/x.json: caller[1].expect must be one of …`), and
 * each clip is read and checked (PCM16 WAV; resampled to 8 kHz, mixed to mono if needed).
 * Unknown fields are ignored, so richer scenario files still load.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { z } from 'zod';
import { ScenarioInvalidError } from '../core/errors.js';
import { readWav, resample, toMono } from '../core/wav.js';
import { noiseKinds } from '../sim/noise.js';

export const SCENARIO_SAMPLE_RATE = 8000;
const DEFAULT_DEADLINE_MS = 1500;

export type Expectation = 'ignore' | 'interrupt' | 'respond';

export interface CallerEvent {
  index: number;
  atMs: number;
  /** Absolute path of the clip. */
  audio: string;
  transcript: string;
  expect: Expectation;
  deadlineMs: number;
  /** 8 kHz mono PCM16. */
  samples: Int16Array;
  durationMs: number;
}

export interface Scenario {
  id: string;
  /** Path relative to the loaded folder. */
  file: string;
  agent: { text: string; durationMs: number };
  noise?: { kind: (typeof noiseKinds)[number]; snrDb: number };
  caller: CallerEvent[];
}

const EventSchema = z.object({
  at_ms: z.number().nonnegative(),
  audio: z.string().min(1),
  transcript: z.string(),
  expect: z.enum(['ignore', 'interrupt', 'respond']),
  deadline_ms: z.number().positive().optional(),
});

const ScenarioSchema = z.object({
  id: z.string().min(1).optional(),
  agent: z.object({
    text: z.string().min(1),
    duration_ms: z.number().positive(),
  }),
  noise: z
    .object({
      kind: z.enum(noiseKinds as unknown as ['white', 'pink', 'brown']),
      snr_db: z.number(),
    })
    .optional(),
  caller: z.array(EventSchema).min(1),
});

function fieldPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const p of path) out += typeof p === 'number' ? `[${p}]` : out ? `.${String(p)}` : String(p);
  return out || '(root)';
}

function fail(file: string, field: string, message: string): never {
  throw new ScenarioInvalidError(`${file}: ${field} ${message}`);
}

/** Parses and checks one scenario file; `root` only shortens the names in messages. */
export function loadScenario(path: string, root = dirname(path)): Scenario {
  const file = relative(root, path) || path;
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    fail(file, '(file)', `is not valid JSON: ${(err as Error).message}`);
  }
  const parsed = ScenarioSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    fail(file, fieldPath(issue.path), `is invalid: ${issue.message}`);
  }
  const s = parsed.data;
  let last = -1;
  const caller = s.caller.map((e, index): CallerEvent => {
    if (e.at_ms < last)
      fail(
        file,
        `caller[${index}].at_ms`,
        `must not be earlier than the previous event (${last} ms)`,
      );
    last = e.at_ms;
    const audio = resolve(dirname(path), e.audio);
    let samples: Int16Array;
    try {
      const wav = readWav(audio);
      samples = resample(toMono(wav), wav.sampleRate, SCENARIO_SAMPLE_RATE);
    } catch (err) {
      const msg =
        (err as NodeJS.ErrnoException).code === 'ENOENT'
          ? `file not found: ${e.audio}`
          : (err as Error).message;
      fail(file, `caller[${index}].audio`, `cannot be used (${msg})`);
    }
    if (samples.length === 0) fail(file, `caller[${index}].audio`, 'is empty');
    return {
      index,
      atMs: e.at_ms,
      audio,
      transcript: e.transcript,
      expect: e.expect,
      deadlineMs: e.deadline_ms ?? DEFAULT_DEADLINE_MS,
      samples,
      durationMs: (samples.length * 1000) / SCENARIO_SAMPLE_RATE,
    };
  });
  return {
    id: s.id ?? file.replace(/\.json$/, ''),
    file,
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
    if (other) fail(s.file, 'id', `"${s.id}" is also used by ${other}`);
    seen.set(s.id, s.file);
  }
  return scenarios;
}
