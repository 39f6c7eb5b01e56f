/**
 * The agents file (AGENTS_CONFIG): agents, tools declared as HTTP endpoints, handoffs, transfer
 * destinations and call routes, in YAML or JSON. Loaded once at start-up; every problem is
 * reported as `file:line:col: path: what is wrong`, all of them at once, so a bad deploy fails
 * before the first call instead of during one. The documented example is
 * config/agents.example.yaml.
 */
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { type Static, type TSchema, Type } from '@sinclair/typebox';
import { type ValueError, ValueErrorType } from '@sinclair/typebox/errors';
import { Value } from '@sinclair/typebox/value';
import { isNode, LineCounter, parseDocument } from 'yaml';
import { ConfigError } from '../core/errors.js';
import { transferTarget } from '../core/phone.js';
import { InterruptionOverridesSchema } from '../telephony/interruption/options.js';

// ── schema ──────────────────────────────────────────────────────────────────────────────────

/** What OpenAI-compatible servers accept as a function name. */
const TOOL_NAME = /^[a-zA-Z0-9_-]{1,64}$/;
const ToolName = Type.String({
  pattern: TOOL_NAME.source,
  description: 'letters, digits, "_" or "-" (max 64): what LLM servers accept',
});
const AgentName = Type.String({
  pattern: '^[a-z][a-z0-9_-]{0,39}$',
  description: 'lower-case letters, digits, "_" or "-", starting with a letter (max 40)',
});
const Text = Type.String({ minLength: 1 });
/** A value or glob: `*` matches any run of characters, everything else is literal. */
const Pattern = Type.Union([Text, Type.Array(Text, { minItems: 1 })], {
  description: 'a text or a list of texts',
});
const PatternMap = Type.Record(Type.String({ minLength: 1 }), Pattern);
/** JSON Schema of a tool's arguments; only the top level is checked here, the LLM reads it. */
const ParametersSchema = Type.Object(
  {
    type: Type.Literal('object'),
    properties: Type.Optional(Type.Record(Type.String(), Type.Object({}))),
    required: Type.Optional(Type.Array(Type.String())),
  },
  { additionalProperties: true },
);

export const HttpToolSchema = Type.Object(
  {
    name: ToolName,
    description: Text,
    parameters: Type.Optional(ParametersSchema),
    url: Text,
    /** Environment variable holding the HMAC key; unset = requests are not signed. */
    secretEnv: Type.Optional(
      Type.String({ pattern: '^[A-Z_][A-Z0-9_]*$', description: 'an environment variable name' }),
    ),
    timeoutMs: Type.Optional(Type.Integer({ minimum: 100, maximum: 30_000 })),
    /** Said when the endpoint fails or times out. */
    fallback: Type.Optional(Text),
    /** Said when the endpoint has not answered after `fillerAfterMs`. */
    filler: Type.Optional(Text),
    fillerAfterMs: Type.Optional(Type.Integer({ minimum: 0, maximum: 10_000 })),
  },
  { additionalProperties: false },
);

export const HandoffSchema = Type.Object(
  {
    agent: AgentName,
    /** When the LLM should hand off (the tool description). */
    description: Type.Optional(Text),
    /** Said right away by the current agent, so the caller never waits in silence. */
    transition: Type.Optional(Text),
  },
  { additionalProperties: false },
);

export const TransferSchema = Type.Object(
  {
    name: ToolName,
    /** `tel:+E164`, `sip:user@host` or `sips:user@host`. */
    to: Text,
    description: Text,
    mode: Type.Optional(Type.Union([Type.Literal('cold'), Type.Literal('warm')])),
    /** Keys dialed once the destination answers (warm transfers), `w` = half a second pause. */
    extension: Type.Optional(
      Type.String({
        pattern: '^[0-9*#w]{1,32}$',
        description: 'keypad keys 0-9, * or #, w for a half-second pause (max 32)',
      }),
    ),
  },
  { additionalProperties: false },
);

export const DtmfSchema = Type.Object(
  {
    /** Key → the words it stands for; a key press is taken as if the caller said them. */
    menu: Type.Optional(Type.Record(Type.String(), Text)),
  },
  { additionalProperties: false },
);

export const VoicemailSchema = Type.Object(
  {
    /** Outbound calls answered by a machine: hang up, or leave `message` after the beep. */
    action: Type.Optional(Type.Union([Type.Literal('hangup'), Type.Literal('message')])),
    /** Said after the beep (default VOICEMAIL_MESSAGE). */
    message: Type.Optional(Text),
  },
  { additionalProperties: false },
);

export const AgentSchema = Type.Object(
  {
    name: AgentName,
    instructions: Text,
    /** Said (text-to-speech only, no LLM) as soon as the agent takes the call. */
    greeting: Type.Optional(Text),
    /** ElevenLabs voice id (ELEVEN_VOICE_ID when absent). */
    voice: Type.Optional(Text),
    /** Words the speech-to-text should favour: product names, surnames. */
    keyterms: Type.Optional(Type.Array(Text)),
    /** Names of HTTP tools (top-level `tools:`) or tools written in code. */
    tools: Type.Optional(Type.Array(ToolName)),
    handoffs: Type.Optional(Type.Array(HandoffSchema)),
    transfers: Type.Optional(Type.Array(TransferSchema)),
    /** Per-agent overrides of the soft-ack filter (src/telephony/interruption/options.ts). */
    interruptions: Type.Optional(InterruptionOverridesSchema),
    /** Caller key presses: a menu of keys routed like spoken choices. */
    dtmf: Type.Optional(DtmfSchema),
    /** Outbound calls reaching voicemail (AMD_MODE / VOICEMAIL_MESSAGE when absent). */
    voicemail: Type.Optional(VoicemailSchema),
  },
  { additionalProperties: false },
);

export const RouteMatchSchema = Type.Object(
  {
    direction: Type.Optional(Type.Union([Type.Literal('inbound'), Type.Literal('outbound')])),
    dialedNumber: Type.Optional(Pattern),
    callerNumber: Type.Optional(Pattern),
    /** true: only callers who withheld their number; false: only callers who did not. */
    callerHidden: Type.Optional(Type.Boolean()),
    /** SIP headers (forwarded as `sip.h.<Name>`), names case-insensitive. */
    headers: Type.Optional(PatternMap),
    /** Custom participant attributes (dispatch rule / outbound request). */
    attributes: Type.Optional(PatternMap),
    /** Keys of the user's metadata: the `metadata` object of the job metadata (a call's `metadata` / `agent.metadata`). */
    metadata: Type.Optional(PatternMap),
  },
  { additionalProperties: false, minProperties: 1 },
);

export const RouteSchema = Type.Object(
  {
    name: Type.Optional(Text),
    match: Type.Optional(RouteMatchSchema),
    /** The route taken when no other matches; exactly one, and last. */
    default: Type.Optional(Type.Boolean()),
    agent: Type.Optional(AgentName),
    /** Said before hanging up, instead of connecting an agent (blocked callers). */
    refuse: Type.Optional(Text),
  },
  { additionalProperties: false },
);

export const AgentsFileSchema = Type.Object(
  {
    version: Type.Optional(Type.Literal(1)),
    agents: Type.Array(AgentSchema, { minItems: 1 }),
    tools: Type.Optional(Type.Array(HttpToolSchema)),
    routes: Type.Array(RouteSchema, { minItems: 1 }),
  },
  { additionalProperties: false },
);

export type HttpToolSpec = Static<typeof HttpToolSchema>;
export type HandoffSpec = Static<typeof HandoffSchema>;
export type TransferSpec = Static<typeof TransferSchema>;
export type DtmfSpec = Static<typeof DtmfSchema>;
export type VoicemailSpec = Static<typeof VoicemailSchema>;
export type AgentSpec = Static<typeof AgentSchema>;
export type RouteMatch = Static<typeof RouteMatchSchema>;
export type RouteSpec = Static<typeof RouteSchema>;
export type AgentsFileData = Static<typeof AgentsFileSchema>;

/** The validated file, indexed for the worker. */
export interface AgentsConfig {
  /** Path it was loaded from (for logs). */
  file: string;
  agents: ReadonlyMap<string, AgentSpec>;
  tools: ReadonlyMap<string, HttpToolSpec>;
  /** In file order; the default route is last. */
  routes: readonly RouteSpec[];
  /** The agent of the default route (a refusing default has none). */
  defaultAgent?: string;
}

export interface LoadOptions {
  /** Where `secretEnv` variables are read; default process.env. */
  env?: NodeJS.ProcessEnv;
  /** Names of tools written in code that agents may reference (see code-tools.ts). */
  codeToolNames?: Iterable<string>;
}

/** One problem in the file. */
export interface AgentsFileIssue {
  line: number;
  col: number;
  /** `agents[1].tools[0].url` */
  path: string;
  message: string;
}

/** Reads and validates the agents file; throws ConfigError listing every problem. */
export function loadAgentsFile(path: string, opts: LoadOptions = {}): AgentsConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new ConfigError(
      `${path}: ${code === 'ENOENT' ? 'file not found (check AGENTS_CONFIG)' : (err as Error).message}`,
    );
  }
  return parseAgentsFile(text, path, opts);
}

/** Validates the text of an agents file; `fileName` is used in error messages. */
export function parseAgentsFile(
  text: string,
  fileName: string,
  opts: LoadOptions = {},
): AgentsConfig {
  const shown = basename(fileName);
  const lineCounter = new LineCounter();
  // JSON is read by the YAML parser too, so both get line numbers the same way.
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    throw fileError(
      shown,
      doc.errors.map((e) => {
        const pos = e.linePos?.[0] ?? { line: 1, col: 1 };
        return {
          line: pos.line,
          col: pos.col,
          path: '',
          message: e.message.split('\n')[0] ?? e.code,
        };
      }),
    );
  }
  const data: unknown = doc.toJS();
  const locate = (path: (string | number)[]) => locateIn(doc, lineCounter, path);

  if (!Value.Check(AgentsFileSchema, data)) {
    throw fileError(shown, schemaIssues(data, locate));
  }
  const issues = crossCheck(data, opts, locate);
  if (issues.length > 0) throw fileError(shown, issues);

  const routes = data.routes;
  const defaultRoute = routes[routes.length - 1];
  return {
    file: fileName,
    agents: new Map(data.agents.map((a) => [a.name, a])),
    tools: new Map((data.tools ?? []).map((t) => [t.name, t])),
    routes,
    ...(defaultRoute?.agent ? { defaultAgent: defaultRoute.agent } : {}),
  };
}

// ── cross-checks: what a schema cannot say ──────────────────────────────────────────────────

function crossCheck(data: AgentsFileData, opts: LoadOptions, locate: Locate): AgentsFileIssue[] {
  const issues: AgentsFileIssue[] = [];
  const add = (path: (string | number)[], message: string) =>
    issues.push({ ...locate(path), path: formatPath(path), message });
  const env = opts.env ?? process.env;
  const codeTools = new Set(opts.codeToolNames ?? []);

  const agentNames = new Set<string>();
  data.agents.forEach((a, i) => {
    if (agentNames.has(a.name)) add(['agents', i, 'name'], `duplicate agent name "${a.name}"`);
    agentNames.add(a.name);
  });

  const httpTools = new Set<string>();
  (data.tools ?? []).forEach((t, i) => {
    const at = ['tools', i] as const;
    if (httpTools.has(t.name)) add([...at, 'name'], `duplicate tool name "${t.name}"`);
    if (codeTools.has(t.name)) {
      add([...at, 'name'], `"${t.name}" is already the name of a tool written in code`);
    }
    httpTools.add(t.name);
    const urlProblem = checkHttpUrl(t.url);
    if (urlProblem) add([...at, 'url'], urlProblem);
    if (t.secretEnv && !env[t.secretEnv]) {
      add([...at, 'secretEnv'], `environment variable ${t.secretEnv} is not set`);
    }
    if (t.parameters?.required) {
      for (const r of t.parameters.required) {
        if (!t.parameters.properties || !(r in t.parameters.properties)) {
          add([...at, 'parameters', 'required'], `"${r}" is required but not in properties`);
        }
      }
    }
  });

  data.agents.forEach((a, i) => {
    const at = ['agents', i] as const;
    // Every name the LLM sees for this agent must be unique.
    const seen = new Map<string, string>();
    const claim = (name: string, what: string, path: (string | number)[]) => {
      const before = seen.get(name);
      if (before) add(path, `"${name}" is already used by ${before} of this agent`);
      else seen.set(name, what);
    };
    (a.tools ?? []).forEach((name, j) => {
      if (!httpTools.has(name) && !codeTools.has(name)) {
        add(
          [...at, 'tools', j],
          `unknown tool "${name}": declare it under tools: or register it in code`,
        );
      }
      claim(name, 'a tool', [...at, 'tools', j]);
    });
    (a.handoffs ?? []).forEach((h, j) => {
      if (!agentNames.has(h.agent)) {
        add([...at, 'handoffs', j, 'agent'], `unknown agent "${h.agent}"`);
      } else if (h.agent === a.name) {
        add([...at, 'handoffs', j, 'agent'], 'an agent cannot hand off to itself');
      }
      claim(handoffToolName(h.agent), 'a handoff', [...at, 'handoffs', j, 'agent']);
    });
    (a.transfers ?? []).forEach((t, j) => {
      const problem = checkTransferTarget(t.to);
      if (problem) add([...at, 'transfers', j, 'to'], problem);
      else if (t.mode === 'warm' && !/^tel:/i.test(t.to)) {
        // The human is dialed through the outbound trunk; only REFER (cold) takes a SIP URI.
        add(
          [...at, 'transfers', j, 'to'],
          'a warm transfer dials a phone number: use tel:+<E.164 number> (sip: URIs work for cold transfers only)',
        );
      }
      if (t.extension && (t.mode ?? 'cold') === 'cold') {
        add(
          [...at, 'transfers', j, 'extension'],
          'an extension needs mode: warm (a cold transfer cannot press keys after the answer)',
        );
      }
      claim(t.name, 'a transfer', [...at, 'transfers', j, 'name']);
    });
    for (const key of Object.keys(a.dtmf?.menu ?? {})) {
      // A record's keys are not checked by the schema; "12" would silently never match.
      if (!/^[0-9*#]$/.test(key)) {
        add([...at, 'dtmf', 'menu', key], `"${key}" is not one keypad key (0-9, * or #)`);
      }
    }
    if (a.voicemail?.message && a.voicemail.action === 'hangup') {
      add([...at, 'voicemail', 'message'], 'is only said with action: message');
    }
  });

  const defaults: number[] = [];
  data.routes.forEach((r, i) => {
    const at = ['routes', i] as const;
    if (r.default) defaults.push(i);
    if (r.default && r.match) {
      add([...at, 'match'], 'the default route takes every call: remove match or default');
    }
    if (!r.default && !r.match) add([...at], 'needs match: (or default: true)');
    if ((r.agent === undefined) === (r.refuse === undefined)) {
      add([...at], 'needs exactly one of agent: or refuse:');
    }
    if (r.agent && !agentNames.has(r.agent)) add([...at, 'agent'], `unknown agent "${r.agent}"`);
    if (r.match) checkMatch(r.match, [...at, 'match'], add);
  });
  if (defaults.length === 0) {
    add(['routes'], 'needs a default route (default: true) as the last route');
  } else if (defaults.length > 1) {
    for (const i of defaults.slice(1)) add(['routes', i, 'default'], 'only one default route');
  } else if (defaults[0] !== data.routes.length - 1) {
    add(['routes', defaults[0]!, 'default'], 'the default route must be the last route');
  }
  return issues;
}

function checkMatch(
  m: RouteMatch,
  at: (string | number)[],
  add: (path: (string | number)[], message: string) => void,
) {
  for (const key of ['dialedNumber', 'callerNumber'] as const) {
    const value = m[key];
    if (value === undefined) continue;
    const list = Array.isArray(value) ? value : [value];
    list.forEach((p, j) => {
      // Numbers are compared in E.164; "+1 415 ..." would silently never match.
      if (p.startsWith('+') && !/^\+[0-9*]+$/.test(p)) {
        add(
          Array.isArray(value) ? [...at, key, j] : [...at, key],
          `"${p}" is not an E.164 number or prefix: write digits only, e.g. +1415* or +14155550100`,
        );
      }
    });
  }
}

function checkHttpUrl(value: string): string | undefined {
  try {
    const u = new URL(value);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') return 'must be an https or http URL';
    return undefined;
  } catch {
    return 'must be an https or http URL';
  }
}

/** A destination as a URI (a bare number is the API's shorthand, not the file's). */
function checkTransferTarget(to: string): string | undefined {
  if (/^(tel|sips?):/i.test(to) && transferTarget(to)) return undefined;
  if (/^tel:/i.test(to)) return 'tel: must be followed by an E.164 number';
  return 'must be tel:+<E.164 number> or sip:user@host';
}

/** The tool the LLM calls to hand the call to another agent. */
export function handoffToolName(agent: string): string {
  return `handoff_to_${agent}`;
}

// ── error formatting ────────────────────────────────────────────────────────────────────────

type Locate = (path: (string | number)[]) => { line: number; col: number };

function schemaIssues(data: unknown, locate: Locate): AgentsFileIssue[] {
  const byPath = new Map<string, AgentsFileIssue>();
  for (const e of Value.Errors(AgentsFileSchema, data)) {
    const path = pointerToPath(e.path);
    const key = formatPath(path);
    // The first error at a path is the telling one; skip the echoes (e.g. required + type).
    if (byPath.has(key)) continue;
    // A problem inside a list item also shows up as a failed union on the parent: skip it.
    if ([...byPath.keys()].some((k) => k.startsWith(`${key}.`) || k.startsWith(`${key}[`))) {
      continue;
    }
    byPath.set(key, { ...locate(path), path: key, message: describe(e) });
  }
  return [...byPath.values()];
}

function describe(e: ValueError): string {
  const s = e.schema as TSchema & Record<string, unknown>;
  switch (e.type) {
    case ValueErrorType.ObjectRequiredProperty:
      return 'is required';
    case ValueErrorType.ObjectAdditionalProperties:
      return 'is not a known setting here (check the spelling)';
    case ValueErrorType.StringMinLength:
      return 'must not be empty';
    case ValueErrorType.StringPattern:
      return `must be ${(s.description as string | undefined) ?? `matching ${s.pattern}`}`;
    case ValueErrorType.String:
      return 'must be a text';
    case ValueErrorType.Boolean:
      return 'must be true or false';
    case ValueErrorType.Integer:
    case ValueErrorType.Number:
      return 'must be a whole number';
    case ValueErrorType.Array:
      return 'must be a list';
    case ValueErrorType.Object:
      return 'must be a mapping (key: value)';
    case ValueErrorType.ArrayMinItems:
      return 'must list at least one item';
    case ValueErrorType.ObjectMinProperties:
      return 'must have at least one condition';
    case ValueErrorType.IntegerMinimum:
    case ValueErrorType.NumberMinimum:
      return `must be at least ${s.minimum}`;
    case ValueErrorType.IntegerMaximum:
    case ValueErrorType.NumberMaximum:
      return `must be at most ${s.maximum}`;
    case ValueErrorType.Literal:
      return `must be ${JSON.stringify(s.const)}`;
    case ValueErrorType.Union: {
      const consts = ((s.anyOf as TSchema[] | undefined) ?? [])
        .map((o) => o.const)
        .filter((c) => c !== undefined);
      if (consts.length > 0) return `must be one of ${consts.join(', ')}`;
      return `must be ${(s.description as string | undefined) ?? 'of another type'}`;
    }
    default:
      return e.message.replace(/^Expected/, 'must be');
  }
}

function pointerToPath(pointer: string): (string | number)[] {
  if (!pointer) return [];
  return pointer
    .slice(1)
    .split('/')
    .map((seg) => seg.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((seg) => (/^\d+$/.test(seg) ? Number(seg) : seg));
}

export function formatPath(path: readonly (string | number)[]): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else out += out ? `.${seg}` : seg;
  }
  return out;
}

/** Position of the deepest node that exists on `path` (a missing key points at its parent). */
function locateIn(
  doc: ReturnType<typeof parseDocument>,
  lc: LineCounter,
  path: (string | number)[],
): { line: number; col: number } {
  for (let n = path.length; n >= 0; n--) {
    const node: unknown = n === 0 ? doc.contents : doc.getIn(path.slice(0, n), true);
    if (isNode(node) && node.range) return lc.linePos(node.range[0]);
  }
  return { line: 1, col: 1 };
}

function fileError(file: string, unsorted: AgentsFileIssue[]) {
  const issues = [...unsorted].sort((a, b) => a.line - b.line || a.col - b.col);
  const lines = issues.map(
    (i) => `${file}:${i.line}:${i.col}: ${i.path ? `${i.path}: ` : ''}${i.message}`,
  );
  const err = new ConfigError(
    lines.length === 1 ? lines[0] : `${lines.length} problems\n${lines.join('\n')}`,
  );
  return Object.assign(err, { issues, file });
}
