/**
 * OpenAI-compatible stand-in: `POST /v1/chat/completions` (streamed as server-sent
 * `chat.completion.chunk`s, or one `chat.completion`) and `GET /v1/models`, answering from the
 * same rules the simulator's scripted LLM uses (src/sim/scripted-llm.ts): the request's messages
 * become an `llm.ChatContext` and a `ScriptedLLM` decides, so one `ScriptedRule` drives a
 * simulated call and a real one alike.
 *
 * Rules come as a function (`rule`) or as the demo scenario's JSON rules (`rules`: id, agent,
 * match, reply, handoff, tool, args – see examples/demo-call.json) plus one optional field,
 * `afterTool`: the rule answers a request that follows that tool's output (scenario rules
 * otherwise never answer after a tool, as in the simulator). A rule's `agent` is matched
 * against the agent whose instructions appear in the system message (`agents`, e.g. read from
 * the agents file).
 *
 * Streaming follows OpenAI: a first chunk with the role, content in word-sized deltas, each
 * tool call as `{index, id, type, function: {name, arguments: ""}}` then its arguments in
 * pieces, a last chunk with `finish_reason` (`tool_calls` or `stop`), the usage chunk
 * (`choices: []`) when `stream_options.include_usage`, then `data: [DONE]`. The first token
 * leaves `latencyMs` after the request (a rule's own `ttftMs` wins).
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { llm } from '@livekit/agents';
import type { Static } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { parse as parseYaml } from 'yaml';
import { LlmRuleSchema } from '../../src/sim/scenario.js';
import { scenarioRule } from '../../src/sim/scenario-rules.js';
import {
  type ScriptedCall,
  ScriptedLLM,
  type ScriptedReply,
  type ScriptedRule,
} from '../../src/sim/scripted-llm.js';
import { sendJson } from './deepgram.js';

/** The scenario's LLM rule (src/sim/scenario.ts), the same rules as the simulator's. */
export const StandInLlmRuleSchema = LlmRuleSchema;
export type StandInLlmRule = Static<typeof StandInLlmRuleSchema>;

export interface AgentIdentity {
  name: string;
  instructions: string;
}

export interface LlmStandInOptions {
  /** Decides each reply (takes precedence over `rules`). */
  rule?: ScriptedRule;
  /** Data rules (the demo scenario's `llm` list). */
  rules?: StandInLlmRule[];
  /** Agents, to tell from the system message which one is talking (for rules with `agent`). */
  agents?: AgentIdentity[];
  /** Time to first token (ms). */
  latencyMs?: number;
  /** Between streamed chunks (ms). */
  tokenIntervalMs?: number;
  /** Model ids listed by /v1/models (any requested model is answered). */
  models?: string[];
}

export const llmStandInDefaults = {
  latencyMs: 0,
  tokenIntervalMs: 0,
  models: ['gpt-4.1-mini', 'standin'],
};

/** One chat-completions request and what it got. */
export interface LlmRequestRecord {
  at: number;
  model: string;
  stream: boolean;
  tools: string[];
  /** Agent recognised from the system message. */
  agent?: string;
  userText: string;
  toolOutput?: ScriptedCall['toolOutput'];
  reply: ScriptedReply | undefined;
  firstTokenAt?: number;
  doneAt?: number;
  /** The request body as received. */
  body: ChatRequest;
}

interface ChatMessageIn {
  role: string;
  content?: unknown;
  tool_calls?: Array<{ id: string; type?: string; function: { name: string; arguments: string } }>;
  tool_call_id?: string;
  name?: string;
}

interface ChatRequest {
  model?: string;
  messages?: ChatMessageIn[];
  tools?: Array<{ type: string; function?: { name: string } }>;
  stream?: boolean;
  stream_options?: { include_usage?: boolean };
  tool_choice?: unknown;
  [k: string]: unknown;
}

/** Agents (name + instructions) of an agents file (YAML or JSON), for `agent` rules. */
export function agentsOfFile(path: string): AgentIdentity[] {
  const data = parseYaml(readFileSync(path, 'utf8')) as { agents?: unknown };
  if (!Array.isArray(data?.agents)) throw new Error(`${path}: no agents list`);
  return data.agents
    .filter(
      (a): a is AgentIdentity => typeof a?.name === 'string' && typeof a?.instructions === 'string',
    )
    .map((a) => ({ name: a.name, instructions: a.instructions }));
}

/** Checks data rules; throws naming the first bad one. */
export function checkLlmRules(rules: unknown, where = 'llm.rules'): StandInLlmRule[] {
  if (!Array.isArray(rules)) throw new Error(`${where}: must be a list of rules`);
  rules.forEach((r, i) => {
    const err = Value.Errors(StandInLlmRuleSchema, r).First();
    if (err) throw new Error(`${where}/${i}${err.path}: ${err.message}`);
    if (r.match !== undefined) new RegExp(r.match, 'i');
  });
  return rules as StandInLlmRule[];
}

/** Data rules as a `ScriptedRule`, read as the simulator reads them (src/sim/scenario-rules.ts). */
export function rulesToScripted(
  rules: StandInLlmRule[],
  currentAgent: (turn: Parameters<ScriptedRule>[0]) => string | undefined,
): ScriptedRule {
  return scenarioRule(rules, { currentAgent });
}

/** OpenAI chat messages as the framework's ChatContext (what ScriptedRule reads). */
export function chatContextOf(messages: readonly ChatMessageIn[]): llm.ChatContext {
  const ctx = llm.ChatContext.empty();
  const toolNames = new Map<string, string>();
  let t = Date.now() - messages.length * 2;
  for (const m of messages) {
    const text = textOf(m.content);
    if (m.role === 'tool') {
      const callId = m.tool_call_id ?? '';
      ctx.insert(
        llm.FunctionCallOutput.create({
          callId,
          name: toolNames.get(callId) ?? m.name ?? '',
          output: text,
          // Chat completions carry no error flag for tool results.
          isError: false,
          createdAt: t++,
        }),
      );
      continue;
    }
    const role = (['system', 'developer', 'user', 'assistant'] as const).find((r) => r === m.role);
    if (!role) continue;
    if (text || role !== 'assistant' || !m.tool_calls?.length) {
      ctx.insert(llm.ChatMessage.create({ role, content: [text], createdAt: t++ }));
    }
    for (const tc of m.tool_calls ?? []) {
      toolNames.set(tc.id, tc.function.name);
      ctx.insert(
        llm.FunctionCall.create({
          callId: tc.id,
          name: tc.function.name,
          args: tc.function.arguments ?? '',
          createdAt: t++,
        }),
      );
    }
  }
  return ctx;
}

function textOf(content: unknown): string {
  if (typeof content === 'string') return content;
  if (Array.isArray(content)) {
    return content
      .filter((p) => p && typeof p === 'object' && (p as { type?: string }).type === 'text')
      .map((p) => String((p as { text?: unknown }).text ?? ''))
      .join('\n');
  }
  return '';
}

export class OpenAIStandIn {
  readonly options: typeof llmStandInDefaults;
  private scripted: ScriptedLLM;
  private agents: AgentIdentity[];
  private readonly log: LlmRequestRecord[] = [];
  private lastSystem = '';

  constructor(opts: LlmStandInOptions = {}) {
    this.options = {
      ...llmStandInDefaults,
      ...Object.fromEntries(
        Object.entries({
          latencyMs: opts.latencyMs,
          tokenIntervalMs: opts.tokenIntervalMs,
          models: opts.models,
        }).filter(([, v]) => v !== undefined),
      ),
    } as typeof llmStandInDefaults;
    this.agents = opts.agents ?? [];
    this.scripted = new ScriptedLLM(() => undefined);
    if (opts.rule) this.setRule(opts.rule);
    else if (opts.rules) this.setRules(opts.rules);
  }

  /** Replaces the rule (a ScriptedRule, as the simulator's ScriptedLLM takes). */
  setRule(rule: ScriptedRule): void {
    this.scripted = new ScriptedLLM(rule);
  }

  /** Replaces the rules with data rules (and optionally the agents they refer to). */
  setRules(rules: StandInLlmRule[], agents?: AgentIdentity[]): void {
    if (agents) this.agents = agents;
    this.setRule(rulesToScripted(checkLlmRules(rules), () => this.agentOf(this.lastSystem)));
  }

  setLatency(ms: number): void {
    this.options.latencyMs = ms;
  }

  /** Every request so far. */
  requests(): LlmRequestRecord[] {
    return this.log.map((r) => ({ ...r }));
  }

  clearLog(): void {
    this.log.length = 0;
  }

  /** The agent whose instructions appear in `system` (longest match). */
  agentOf(system: string): string | undefined {
    let best: AgentIdentity | undefined;
    for (const a of this.agents) {
      const ins = a.instructions.trim();
      if (ins && system.includes(ins) && (!best || ins.length > best.instructions.trim().length)) {
        best = a;
      }
    }
    return best?.name;
  }

  handleModels(req: IncomingMessage, res: ServerResponse, id?: string): void {
    if (!authorized(req)) {
      unauthorized(res);
      return;
    }
    const created = 1_700_000_000;
    const model = (m: string) => ({ id: m, object: 'model', created, owned_by: 'standin' });
    sendJson(
      res,
      200,
      id ? model(decodeURIComponent(id)) : { object: 'list', data: this.options.models.map(model) },
    );
  }

  async handleChat(req: IncomingMessage, res: ServerResponse, body: Buffer): Promise<void> {
    const arrived = Date.now();
    if (!authorized(req)) return unauthorized(res);
    let request: ChatRequest;
    try {
      request = JSON.parse(body.toString('utf8'));
    } catch {
      return apiError(res, 400, 'We could not parse the JSON body of your request.');
    }
    if (!Array.isArray(request.messages) || request.messages.length === 0) {
      return apiError(res, 400, "'messages' must be a non-empty array", 'messages');
    }
    if (typeof request.model !== 'string' || !request.model) {
      return apiError(res, 400, 'you must provide a model parameter', 'model');
    }
    const system = request.messages
      .filter((m) => m.role === 'system' || m.role === 'developer')
      .map((m) => textOf(m.content))
      .join('\n');
    this.lastSystem = system;
    const tools = (request.tools ?? [])
      .map((t) => t.function?.name)
      .filter((n): n is string => typeof n === 'string');
    const chatCtx = chatContextOf(request.messages);
    const reply = this.scripted._decide(chatCtx, tools);
    const call = this.scripted.calls[this.scripted.calls.length - 1];
    const record: LlmRequestRecord = {
      at: arrived,
      model: request.model,
      stream: request.stream === true,
      tools,
      userText: call?.userText ?? '',
      reply,
      body: request,
      ...(call?.toolOutput ? { toolOutput: call.toolOutput } : {}),
    };
    const agent = this.agentOf(system);
    if (agent) record.agent = agent;
    this.log.push(record);

    const text = reply?.text ?? '';
    let toolCalls =
      request.tool_choice === 'none'
        ? []
        : (reply?.toolCalls ?? []).map((tc) => ({
            id: `call_${randomUUID().replace(/-/g, '').slice(0, 24)}`,
            name: tc.name,
            arguments: JSON.stringify(tc.args ?? {}),
          }));
    if (request.parallel_tool_calls === false) toolCalls = toolCalls.slice(0, 1);
    const finish = toolCalls.length > 0 ? 'tool_calls' : 'stop';
    const id = `chatcmpl-${randomUUID().replace(/-/g, '').slice(0, 24)}`;
    const created = Math.floor(arrived / 1000);
    const promptTokens = Math.ceil(JSON.stringify(request.messages).length / 4);
    const completionTokens =
      (text.match(/\S+/g)?.length ?? 0) +
      toolCalls.reduce((n, tc) => n + Math.ceil(tc.arguments.length / 4) + 1, 0);
    const usage = {
      prompt_tokens: promptTokens,
      completion_tokens: completionTokens,
      total_tokens: promptTokens + completionTokens,
      prompt_tokens_details: { cached_tokens: 0, audio_tokens: 0 },
      completion_tokens_details: { reasoning_tokens: 0, audio_tokens: 0 },
    };
    const ttft = reply?.ttftMs ?? this.options.latencyMs;

    if (request.stream !== true) {
      await sleepUntil(arrived + ttft);
      record.firstTokenAt = record.doneAt = Date.now();
      return sendJson(res, 200, {
        id,
        object: 'chat.completion',
        created,
        model: request.model,
        system_fingerprint: null,
        choices: [
          {
            index: 0,
            message: {
              role: 'assistant',
              content: text || null,
              refusal: null,
              ...(toolCalls.length
                ? {
                    tool_calls: toolCalls.map((tc) => ({
                      id: tc.id,
                      type: 'function',
                      function: { name: tc.name, arguments: tc.arguments },
                    })),
                  }
                : {}),
            },
            logprobs: null,
            finish_reason: finish,
          },
        ],
        usage,
      });
    }

    const includeUsage = request.stream_options?.include_usage === true;
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache',
      connection: 'keep-alive',
      'x-request-id': `req_${randomUUID().replace(/-/g, '')}`,
    });
    let gone = false;
    res.on('close', () => {
      gone = true;
    });
    const chunk = (choices: unknown[], extra: Record<string, unknown> = {}) => {
      if (gone) return;
      const data = {
        id,
        object: 'chat.completion.chunk',
        created,
        model: request.model,
        system_fingerprint: null,
        choices,
        ...(includeUsage ? { usage: null } : {}),
        ...extra,
      };
      res.write(`data: ${JSON.stringify(data)}\n\n`);
    };
    const delta = (d: Record<string, unknown>, finishReason: string | null = null) => [
      { index: 0, delta: d, logprobs: null, finish_reason: finishReason },
    ];
    const pause = () => sleep(this.options.tokenIntervalMs);

    await sleepUntil(arrived + ttft);
    record.firstTokenAt = Date.now();
    const words = text.match(/\S+\s*/g) ?? [];
    chunk(delta({ role: 'assistant', content: words.length ? words[0] : '', refusal: null }));
    for (const w of words.slice(1)) {
      await pause();
      chunk(delta({ content: w }));
    }
    for (const [index, tc] of toolCalls.entries()) {
      await pause();
      chunk(
        delta({
          tool_calls: [
            { index, id: tc.id, type: 'function', function: { name: tc.name, arguments: '' } },
          ],
        }),
      );
      for (const piece of tc.arguments.match(/[\s\S]{1,12}/g) ?? []) {
        await pause();
        chunk(delta({ tool_calls: [{ index, function: { arguments: piece } }] }));
      }
    }
    chunk(delta({}, finish));
    if (includeUsage) chunk([], { usage });
    if (!gone) res.write('data: [DONE]\n\n');
    record.doneAt = Date.now();
    res.end();
  }
}

function authorized(req: IncomingMessage): boolean {
  return /^Bearer\s+\S+/i.test(req.headers.authorization ?? '');
}

function unauthorized(res: ServerResponse): void {
  apiError(
    res,
    401,
    "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth.",
    null,
    'invalid_api_key',
  );
}

function apiError(
  res: ServerResponse,
  status: number,
  message: string,
  param: string | null = null,
  code: string | null = null,
): void {
  sendJson(res, status, {
    error: { message, type: 'invalid_request_error', param, code },
  });
}

function sleep(ms: number): Promise<void> {
  return ms > 0 ? new Promise((r) => setTimeout(r, ms)) : Promise.resolve();
}

function sleepUntil(at: number): Promise<void> {
  return sleep(at - Date.now());
}
