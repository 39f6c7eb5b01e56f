/**
 * The agents file's schema (TypeBox): agents, tools declared as HTTP endpoints, MCP tool
 * servers, handoffs, transfer destinations, DTMF menus, voicemail policy and call routes. What a schema cannot say
 * (names that must exist, one default route, ...) is checked in agents-checks.ts.
 */
import { type Static, Type } from '@sinclair/typebox';
import { InterruptionOverridesSchema } from '../telephony/interruption/options.js';

/** What OpenAI-compatible servers accept as a function name. */
export const TOOL_NAME = /^[a-zA-Z0-9_-]{1,64}$/;
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

/** `${NAME}` in a header value: the value of environment variable NAME. */
export const ENV_REFERENCE = /\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g;

const McpServerName = Type.String({
  pattern: '^[a-z][a-z0-9_-]{0,39}$',
  description: 'lower-case letters, digits, "_" or "-", starting with a letter (max 40)',
});

/** An MCP server whose tools agents may use (`mcpServers:`). */
export const McpServerSchema = Type.Object(
  {
    name: McpServerName,
    url: Text,
    /** streamable-http (default, current MCP servers) or sse (servers that only have the old transport). */
    transport: Type.Optional(Type.Union([Type.Literal('streamable-http'), Type.Literal('sse')])),
    /** Header → value with `${ENV_VAR}` references; every value must come from the environment. */
    headers: Type.Optional(
      Type.Record(
        Type.String({
          pattern: '^[A-Za-z0-9-]{1,64}$',
          description: 'an HTTP header name (letters, digits, "-")',
        }),
        Text,
      ),
    ),
    /** Per tool call; also bounds connecting and listing the tools. */
    timeoutMs: Type.Optional(Type.Integer({ minimum: 100, maximum: 30_000 })),
    /** Said when a tool call fails or times out. */
    fallback: Type.Optional(Text),
    /** Said when a tool has not answered after `fillerAfterMs`. */
    filler: Type.Optional(Text),
    fillerAfterMs: Type.Optional(Type.Integer({ minimum: 0, maximum: 10_000 })),
  },
  { additionalProperties: false },
);

/** The tools of one MCP server an agent may use: an allow-list, never the whole server. */
export const AgentMcpSchema = Type.Object(
  {
    server: McpServerName,
    tools: Type.Array(
      Type.String({
        pattern: '^[a-zA-Z0-9_*-]{1,64}$',
        description: 'a tool name (letters, digits, "_" or "-"), "*" matching any run of them',
      }),
      { minItems: 1 },
    ),
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
    /** Tools of MCP servers (top-level `mcpServers:`), by allow-list per server. */
    mcp: Type.Optional(Type.Array(AgentMcpSchema)),
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
    mcpServers: Type.Optional(Type.Array(McpServerSchema)),
    routes: Type.Array(RouteSchema, { minItems: 1 }),
  },
  { additionalProperties: false },
);

export type HttpToolSpec = Static<typeof HttpToolSchema>;
export type McpServerSpec = Static<typeof McpServerSchema>;
export type AgentMcpSpec = Static<typeof AgentMcpSchema>;
export type HandoffSpec = Static<typeof HandoffSchema>;
export type TransferSpec = Static<typeof TransferSchema>;
export type DtmfSpec = Static<typeof DtmfSchema>;
export type VoicemailSpec = Static<typeof VoicemailSchema>;
export type AgentSpec = Static<typeof AgentSchema>;
export type RouteMatch = Static<typeof RouteMatchSchema>;
export type RouteSpec = Static<typeof RouteSchema>;
export type AgentsFileData = Static<typeof AgentsFileSchema>;

/** The tool the LLM calls to hand the call to another agent. */
export function handoffToolName(agent: string): string {
  return `handoff_to_${agent}`;
}
