/**
 * The conversation-test file (`npm run test:agents`): YAML or JSON, one file per topic, each with
 * cases of one phone call each. Checked like the agents file: every problem at once, as
 * `file:line:col: path: problem` (core/file-diagnostics.ts), first against the schema, then
 * against the agents file it tests (agents, tools and transfers it names must exist there).
 *
 * ```yaml
 * agentsFile: ../../config/agents.example.yaml   # default: --agents, else AGENTS_CONFIG
 * fixtures:                          # answered here instead of the real endpoints
 *   tools:                           # HTTP tools (agents file `tools:`), by name
 *     lookup_invoice:
 *       - when: { accountNumber: "4471" }
 *         respond: { amount: 42.5, status: open }
 *       - status: 404
 *   mcpServers:                      # MCP servers (agents file `mcpServers:`), by name
 *     crm:
 *       - name: find_customer
 *         description: Finds a customer.
 *         inputSchema: { type: object, properties: { phone: { type: string } } }
 *         responses: [{ respond: { name: Dana } }]
 * script:                            # the scripted LLM's rules, when no LLM is configured
 *   - { agent: receptionist, match: "invoice", handoff: billing }
 * cases:
 *   - name: an invoice question reaches billing
 *     route: { dialedNumber: "+14155550100", callerNumber: "+14155550142" }
 *     greeting: { agent: receptionist }
 *     turns:
 *       - say: I have a question about my invoice
 *         expect: { handoff: billing, reply: { contains: billing } }
 * ```
 */
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { type Static, Type } from '@sinclair/typebox';
import type { AgentsConfig } from '../agents/agents-file.js';
import { TOOL_NAME } from '../agents/agents-schema.js';
import { AgentTestInvalidError } from '../core/errors.js';
import {
  checkSchema,
  type FileIssue,
  fileError,
  type PositionedFile,
  parsePositioned,
} from '../core/file-diagnostics.js';
import { ScenarioSchema } from '../sim/scenario.js';
import { matcherProblems } from './matchers.js';

const Text = Type.String({ minLength: 1 });
const TextList = Type.Union([Text, Type.Array(Text, { minItems: 1 })], {
  description: 'a text or a list of texts',
});
const AgentName = Type.String({
  pattern: '^[a-z][a-z0-9_-]{0,39}$',
  description: 'an agent name of the agents file',
});
const ToolName = Type.String({
  pattern: TOOL_NAME.source,
  description: 'a tool name (letters, digits, "_" or "-")',
});
/** Argument matchers: a value, or `{ contains | matches | oneOf | present }` (matchers.ts). */
const Args = Type.Record(Type.String(), Type.Unknown());

/** The scripted stand-in's rule (stack/providers/openai.ts): a scenario LLM rule + `afterTool`. */
export const ScriptRuleSchema = Type.Object(
  {
    ...ScenarioSchema.properties.llm.items.properties,
    /** Answers the request that follows this tool's output. */
    afterTool: Type.Optional(Type.String({ minLength: 1 })),
  },
  { additionalProperties: false },
);

const ReplyExpect = Type.Object(
  {
    /** Every text must appear in what the agent said in the turn (case-insensitive). */
    contains: Type.Optional(TextList),
    /** None of them may appear. */
    notContains: Type.Optional(TextList),
    /** A regular expression (case-insensitive) over what the agent said. */
    matches: Type.Optional(Text),
  },
  { additionalProperties: false, minProperties: 1 },
);

const ToolCallExpect = Type.Union(
  [
    ToolName,
    Type.Object(
      {
        name: ToolName,
        /** Each named argument must match; arguments not named may be anything. */
        args: Type.Optional(Args),
      },
      { additionalProperties: false },
    ),
  ],
  { description: 'a tool name or { name, args }' },
);

export const ExpectSchema = Type.Object(
  {
    /** The agent talking at the end of the turn. */
    agent: Type.Optional(AgentName),
    /** A handoff to this agent happened during the turn. */
    handoff: Type.Optional(AgentName),
    /** Tools called during the turn, in any order (others may be called too). */
    toolCalls: Type.Optional(Type.Array(ToolCallExpect, { minItems: 1 })),
    /** Tools that must not be called during the turn; "*" = no tool at all. */
    notToolCalls: Type.Optional(Type.Array(Type.String({ minLength: 1 }), { minItems: 1 })),
    /** The agent transferred the call to this destination (its `transfers:` name). */
    transfer: Type.Optional(ToolName),
    /** true: the agent ended the call in this turn; false: the call goes on. */
    endCall: Type.Optional(Type.Boolean()),
    reply: Type.Optional(ReplyExpect),
    /** A judgement of the conversation so far by the configured LLM. */
    judge: Type.Optional(Text),
  },
  { additionalProperties: false, minProperties: 1 },
);

export const TurnSchema = Type.Object(
  {
    /** What the caller says. */
    say: Type.Optional(Text),
    /** Keys the caller presses. */
    press: Type.Optional(
      Type.String({ pattern: '^[0-9*#]{1,32}$', description: 'keypad keys 0-9, * or # (max 32)' }),
    ),
    expect: Type.Optional(ExpectSchema),
  },
  { additionalProperties: false },
);

/** The call: what routing sees (the agents file's `routes:` decide who answers). */
export const CallRouteSchema = Type.Object(
  {
    direction: Type.Optional(Type.Union([Type.Literal('inbound'), Type.Literal('outbound')])),
    /** The number called: ours (inbound) or the callee's (outbound). */
    dialedNumber: Type.Optional(Text),
    /** The caller's number (inbound) or ours (outbound); absent = a hidden caller. */
    callerNumber: Type.Optional(Text),
    /** SIP headers the carrier or PBX sent (`X-Acme-Queue: billing`). */
    headers: Type.Optional(Type.Record(Type.String({ minLength: 1 }), Type.String())),
    /** Custom participant attributes (dispatch rule / outbound request). */
    attributes: Type.Optional(Type.Record(Type.String({ minLength: 1 }), Type.String())),
    /** The user's metadata of an outbound call (`campaign: renewals`). */
    metadata: Type.Optional(Type.Record(Type.String({ minLength: 1 }), Type.Unknown())),
  },
  { additionalProperties: false },
);

export const CaseSchema = Type.Object(
  {
    name: Text,
    /** Start with this agent, as the API's `agent.name` does (blocked callers are still refused). */
    agent: Type.Optional(AgentName),
    route: Type.Optional(CallRouteSchema),
    /** What must happen when the call starts, before the caller's first turn. */
    greeting: Type.Optional(
      Type.Object(
        {
          ...ExpectSchema.properties,
          /** The call is refused (a blocked caller's route). */
          refused: Type.Optional(Type.Boolean()),
        },
        { additionalProperties: false, minProperties: 1 },
      ),
    ),
    /** Scripted-LLM rules for this case, tried before the file's `script`. */
    script: Type.Optional(Type.Array(ScriptRuleSchema)),
    /** The caller's turns, in order (none: only the greeting is checked). */
    turns: Type.Optional(Type.Array(TurnSchema)),
  },
  { additionalProperties: false },
);

/** One answer of a fixture: to calls whose arguments match `when` (default: any). */
const HttpResponseSchema = Type.Object(
  {
    when: Type.Optional(Args),
    /** JSON body (HTTP tools) answered. */
    respond: Type.Optional(Type.Unknown()),
    /** HTTP status (default 200). */
    status: Type.Optional(Type.Integer({ minimum: 100, maximum: 599 })),
    /** Answer this late (ms), e.g. beyond the tool's timeout. */
    delayMs: Type.Optional(Type.Integer({ minimum: 0, maximum: 60_000 })),
  },
  { additionalProperties: false },
);

const McpResponseSchema = Type.Object(
  {
    when: Type.Optional(Args),
    /** The result: an object (structured content) or a text. */
    respond: Type.Optional(Type.Unknown()),
    /** An error result (`isError`) with this text. */
    error: Type.Optional(Text),
    delayMs: Type.Optional(Type.Integer({ minimum: 0, maximum: 60_000 })),
  },
  { additionalProperties: false },
);

const McpToolFixtureSchema = Type.Object(
  {
    name: ToolName,
    description: Type.Optional(Text),
    /** JSON Schema of the arguments (default: an object with any properties). */
    inputSchema: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
    responses: Type.Array(McpResponseSchema, { minItems: 1 }),
  },
  { additionalProperties: false },
);

export const AgentTestFileSchema = Type.Object(
  {
    /** The agents file under test, relative to this file. */
    agentsFile: Type.Optional(Text),
    fixtures: Type.Optional(
      Type.Object(
        {
          tools: Type.Optional(Type.Record(Type.String(), Type.Array(HttpResponseSchema))),
          mcpServers: Type.Optional(
            Type.Record(Type.String(), Type.Array(McpToolFixtureSchema, { minItems: 1 })),
          ),
        },
        { additionalProperties: false },
      ),
    ),
    /** Rules of the scripted LLM stand-in (used only when no LLM is configured). */
    script: Type.Optional(Type.Array(ScriptRuleSchema)),
    cases: Type.Array(CaseSchema, { minItems: 1 }),
  },
  { additionalProperties: false },
);

export type ExpectSpec = Static<typeof ExpectSchema>;
export type GreetingSpec = NonNullable<Static<typeof CaseSchema>['greeting']>;
export type TurnSpec = Static<typeof TurnSchema>;
export type CallRouteSpec = Static<typeof CallRouteSchema>;
export type CaseSpec = Static<typeof CaseSchema>;
export type HttpFixtureResponse = Static<typeof HttpResponseSchema>;
export type McpToolFixture = Static<typeof McpToolFixtureSchema>;
export type ScriptRule = Static<typeof ScriptRuleSchema>;
export type AgentTestFileData = Static<typeof AgentTestFileSchema>;

/** A test file read and checked against its schema (not yet against an agents file). */
export interface AgentTestFile {
  path: string;
  /** As shown in messages (the path given, relative to the working folder). */
  shown: string;
  data: AgentTestFileData;
  file: PositionedFile;
}

/** Reads and checks a test file; throws AgentTestInvalidError listing every problem. */
export function loadAgentTestFile(path: string, shown = path): AgentTestFile {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new AgentTestInvalidError(
      `${shown}: ${code === 'ENOENT' ? 'file not found' : (err as Error).message}`,
    );
  }
  return parseAgentTestFile(text, shown, path);
}

export function parseAgentTestFile(text: string, shown: string, path = shown): AgentTestFile {
  const file = parsePositioned(text, shown, AgentTestInvalidError);
  const data = checkSchema(AgentTestFileSchema, file, shown, AgentTestInvalidError);
  const issues = shapeIssues(data, file);
  if (issues.length > 0) throw fileError(shown, issues, AgentTestInvalidError);
  return { path, shown: shown || basename(path), data, file };
}

/** What the schema cannot say on its own: one of say/press, valid patterns and matchers. */
function shapeIssues(data: AgentTestFileData, file: PositionedFile): FileIssue[] {
  const issues: FileIssue[] = [];
  const at = (path: (string | number)[], message: string) =>
    issues.push(file.issueAt(path, message));
  const regex = (path: (string | number)[], source: string) => {
    try {
      new RegExp(source, 'i');
    } catch (err) {
      at(path, `is not a valid regular expression: ${(err as Error).message}`);
    }
  };
  const args = (path: (string | number)[], value: Record<string, unknown> | undefined) => {
    for (const p of matcherProblems(value ?? {})) at([...path, ...p.path], p.message);
  };
  const expect = (path: (string | number)[], e: ExpectSpec | undefined) => {
    if (!e) return;
    if (e.reply?.matches) regex([...path, 'reply', 'matches'], e.reply.matches);
    e.toolCalls?.forEach((t, k) => {
      if (typeof t !== 'string') args([...path, 'toolCalls', k, 'args'], t.args);
    });
  };
  data.cases.forEach((c, i) => {
    expect(['cases', i, 'greeting'], c.greeting);
    const turns = c.turns ?? [];
    if (c.greeting?.refused && turns.length > 0) {
      at(['cases', i, 'turns'], 'a refused call has no turns: the caller hears the refusal');
    }
    turns.forEach((t, j) => {
      if ((t.say === undefined) === (t.press === undefined)) {
        at(['cases', i, 'turns', j], 'needs exactly one of say: or press:');
      }
      expect(['cases', i, 'turns', j, 'expect'], t.expect);
    });
    if (turns.length === 0 && !c.greeting) {
      at(['cases', i], 'needs turns: (or a greeting: to check)');
    }
  });
  (data.script ?? []).forEach((r, i) => {
    if (r.match) regex(['script', i, 'match'], r.match);
  });
  data.cases.forEach((c, i) => {
    (c.script ?? []).forEach((r, j) => {
      if (r.match) regex(['cases', i, 'script', j, 'match'], r.match);
    });
  });
  for (const [tool, responses] of Object.entries(data.fixtures?.tools ?? {})) {
    for (const [j, r] of responses.entries()) args(['fixtures', 'tools', tool, j, 'when'], r.when);
  }
  for (const [server, tools] of Object.entries(data.fixtures?.mcpServers ?? {})) {
    for (const [j, t] of tools.entries()) {
      for (const [k, r] of t.responses.entries()) {
        args(['fixtures', 'mcpServers', server, j, 'responses', k, 'when'], r.when);
      }
    }
  }
  return issues;
}

/**
 * The names the test file uses that the agents file must have: agents, HTTP tools and MCP
 * servers with fixtures, transfer destinations. Throws AgentTestInvalidError at the test file's
 * positions, naming the agents file.
 */
export function checkAgainstAgents(t: AgentTestFile, agents: AgentsConfig, agentsShown: string) {
  const issues: FileIssue[] = [];
  const at = (path: (string | number)[], message: string) =>
    issues.push(t.file.issueAt(path, message));
  const agentNames = [...agents.agents.keys()];
  const agent = (path: (string | number)[], name: string | undefined) => {
    if (name !== undefined && !agents.agents.has(name)) {
      at(path, `${agentsShown} has no agent "${name}" (it has ${agentNames.join(', ')})`);
    }
  };
  const transfers = new Set(
    [...agents.agents.values()].flatMap((a) => (a.transfers ?? []).map((x) => x.name)),
  );
  const expect = (path: (string | number)[], e: ExpectSpec | undefined) => {
    if (!e) return;
    agent([...path, 'agent'], e.agent);
    agent([...path, 'handoff'], e.handoff);
    if (e.transfer !== undefined && !transfers.has(e.transfer)) {
      at(
        [...path, 'transfer'],
        `${agentsShown} has no transfer destination "${e.transfer}" (agents[].transfers[].name)`,
      );
    }
  };
  t.data.cases.forEach((c, i) => {
    agent(['cases', i, 'agent'], c.agent);
    expect(['cases', i, 'greeting'], c.greeting);
    for (const [j, turn] of (c.turns ?? []).entries()) {
      expect(['cases', i, 'turns', j, 'expect'], turn.expect);
    }
  });
  for (const name of Object.keys(t.data.fixtures?.tools ?? {})) {
    if (!agents.tools.has(name)) {
      at(['fixtures', 'tools', name], `${agentsShown} has no HTTP tool "${name}" (its tools:)`);
    }
  }
  for (const name of Object.keys(t.data.fixtures?.mcpServers ?? {})) {
    if (!agents.mcpServers.has(name)) {
      at(
        ['fixtures', 'mcpServers', name],
        `${agentsShown} has no MCP server "${name}" (its mcpServers:)`,
      );
    }
  }
  (t.data.script ?? []).forEach((r, i) => {
    agent(['script', i, 'agent'], r.agent);
    agent(['script', i, 'handoff'], r.handoff);
  });
  t.data.cases.forEach((c, i) => {
    (c.script ?? []).forEach((r, j) => {
      agent(['cases', i, 'script', j, 'agent'], r.agent);
      agent(['cases', i, 'script', j, 'handoff'], r.handoff);
    });
  });
  if (issues.length > 0) throw fileError(t.shown, issues, AgentTestInvalidError);
}
