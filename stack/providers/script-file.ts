/**
 * The stand-ins' script file (YAML or JSON), for the CLI and the local stack:
 *
 * ```yaml
 * # Optional: take the caller's lines (`say`), the LLM rules and the agents file of a
 * # simulator scenario (examples/demo-call.json); the keys below add to / override it.
 * scenario: ../../examples/demo-call.json
 * stt:
 *   script: ["Hi, I've got a question about my bill.", "uh huh", "wait"]
 *   fallback: ""             # when the script has run out ("" = empty finals)
 *   latencyMs: 0             # added to every result
 *   firstInterimMs: 250
 *   wordIntervalMs: 300
 *   detector: { minSilenceMs: 350 }
 * tts:
 *   latencyMs: 0             # time to first audio
 *   voices: { bIHbv24MWmeRgasZH58o: en-us+f3 }
 * llm:
 *   latencyMs: 0             # time to first token
 *   agentsFile: ../../config/agents.example.yaml
 *   rules:
 *     - { agent: receptionist, match: "bill|invoice", handoff: billing }
 *     - { match: "bye", reply: "Goodbye.", tool: end_call }
 * ```
 *
 * Relative paths are read from the script file's folder.
 */
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { loadScenario } from '../../src/sim/scenario.js';
import type { SttScriptLine } from './deepgram.js';
import type { ProviderStandInsOptions } from './index.js';
import { type AgentIdentity, agentsOfFile, checkLlmRules, type StandInLlmRule } from './openai.js';

type Obj = Record<string, unknown>;

function obj(v: unknown, where: string): Obj {
  if (v === undefined) return {};
  if (v === null || typeof v !== 'object' || Array.isArray(v)) {
    throw new Error(`${where}: must be a mapping`);
  }
  return v as Obj;
}

function num(o: Obj, key: string, where: string): number | undefined {
  const v = o[key];
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) {
    throw new Error(`${where}.${key}: must be a number ≥ 0`);
  }
  return v;
}

/** What a simulator scenario gives the stand-ins: caller lines, LLM rules, agents. */
export function fromScenario(path: string): {
  script: SttScriptLine[];
  rules: StandInLlmRule[];
  agents: AgentIdentity[];
} {
  const scenario = loadScenario(path);
  const agentsFile = resolve(dirname(path), scenario.agentsFile ?? '../config/agents.example.yaml');
  return {
    script: scenario.caller.flatMap((l) => (l.say !== undefined ? [l.say] : [])),
    rules: scenario.llm,
    agents: agentsOfFile(agentsFile),
  };
}

/** Reads a script file into stand-in options; errors name the file and the key. */
export function loadStandInScript(path: string): ProviderStandInsOptions {
  const dir = dirname(path);
  let data: Obj;
  try {
    data = obj(parseYaml(readFileSync(path, 'utf8')) ?? {}, path);
  } catch (err) {
    throw new Error(`${path}: ${(err as Error).message}`);
  }
  const where = (k: string) => `${path}: ${k}`;
  const base =
    typeof data.scenario === 'string' ? fromScenario(resolve(dir, data.scenario)) : undefined;
  const stt = obj(data.stt, where('stt'));
  const tts = obj(data.tts, where('tts'));
  const llm = obj(data.llm, where('llm'));

  const script = stt.script ?? base?.script;
  if (script !== undefined && !Array.isArray(script))
    throw new Error(`${where('stt.script')}: must be a list`);
  for (const [i, line] of ((script as unknown[]) ?? []).entries()) {
    const ok =
      typeof line === 'string' ||
      (typeof line === 'object' && line !== null && typeof (line as Obj).text === 'string');
    if (!ok) throw new Error(`${where(`stt.script[${i}]`)}: a string or {text, confidence}`);
  }
  const rules =
    llm.rules !== undefined ? checkLlmRules(llm.rules, where('llm.rules')) : base?.rules;
  const agents =
    typeof llm.agentsFile === 'string' ? agentsOfFile(resolve(dir, llm.agentsFile)) : base?.agents;

  const out: ProviderStandInsOptions = {
    stt: {
      ...(script ? { script: script as SttScriptLine[] } : {}),
      ...(typeof stt.fallback === 'string' ? { fallback: stt.fallback } : {}),
      latencyMs: num(stt, 'latencyMs', where('stt')),
      firstInterimMs: num(stt, 'firstInterimMs', where('stt')),
      wordIntervalMs: num(stt, 'wordIntervalMs', where('stt')),
      idleTimeoutMs: num(stt, 'idleTimeoutMs', where('stt')),
      stallMs: num(stt, 'stallMs', where('stt')),
      ...(stt.detector !== undefined ? { detector: obj(stt.detector, where('stt.detector')) } : {}),
    },
    tts: {
      latencyMs: num(tts, 'latencyMs', where('tts')),
      rate: num(tts, 'rate', where('tts')),
      chunkMs: num(tts, 'chunkMs', where('tts')),
      ...(typeof tts.defaultVoice === 'string' ? { defaultVoice: tts.defaultVoice } : {}),
      ...(tts.voices !== undefined
        ? { voices: obj(tts.voices, where('tts.voices')) as Record<string, string> }
        : {}),
    },
    llm: {
      latencyMs: num(llm, 'latencyMs', where('llm')),
      tokenIntervalMs: num(llm, 'tokenIntervalMs', where('llm')),
      ...(rules ? { rules } : {}),
      ...(agents ? { agents } : {}),
      ...(Array.isArray(llm.models) ? { models: llm.models.map(String) } : {}),
    },
  };
  if (typeof data.host === 'string') out.host = data.host;
  const port = num(data, 'port', path);
  if (port !== undefined) out.port = port;
  return out;
}
