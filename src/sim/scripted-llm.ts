/**
 * A deterministic `llm.LLM` for simulated calls: a rule decides the reply to each request from
 * the conversation so far (the caller's last words, or a tool's output), and can emit tool
 * calls (handoffs, lookups). Every request is recorded in `calls`, so a test or the eval can
 * tell exactly which user turns got a reply.
 */
import { type APIConnectOptions, DEFAULT_API_CONNECT_OPTIONS, llm } from '@livekit/agents';

export interface ScriptedTurn {
  /** Text of the latest user message ("" if none). */
  userText: string;
  /** When the request follows tool execution: the last tool's output. */
  toolOutput?: { name: string; output: string; isError: boolean };
  /** 0-based index of this request. */
  index: number;
  chatCtx: llm.ChatContext;
  /** Names of the tools the agent offers. */
  tools: string[];
}

export interface ScriptedReply {
  text?: string;
  toolCalls?: Array<{ name: string; args: Record<string, unknown> }>;
  /** Time to first token (ms); default 0. */
  ttftMs?: number;
}

export type ScriptedRule = (turn: ScriptedTurn) => ScriptedReply | string | undefined;

export interface ScriptedCall {
  index: number;
  userText: string;
  toolOutput?: ScriptedTurn['toolOutput'];
  reply: ScriptedReply | undefined;
  /** Date.now() when the request arrived. */
  at: number;
}

export class ScriptedLLM extends llm.LLM {
  readonly calls: ScriptedCall[] = [];
  private readonly rule: ScriptedRule;

  /** `rule` maps a request to a reply; a string is shorthand for `{ text }`. */
  constructor(rule: ScriptedRule) {
    super();
    this.rule = rule;
  }

  label(): string {
    return 'sim.ScriptedLLM';
  }

  chat({
    chatCtx,
    toolCtx,
    connOptions,
  }: {
    chatCtx: llm.ChatContext;
    toolCtx?: llm.ToolContextLike;
    connOptions?: APIConnectOptions;
  }): llm.LLMStream {
    return new ScriptedLLMStream(this, {
      chatCtx,
      toolCtx,
      connOptions: connOptions ?? DEFAULT_API_CONNECT_OPTIONS,
    });
  }

  /** @internal */
  _decide(chatCtx: llm.ChatContext, tools: string[]): ScriptedReply | undefined {
    const items = chatCtx.items;
    let userText = '';
    for (let i = items.length - 1; i >= 0; i--) {
      const item = items[i]!;
      if (item.type === 'message' && item.role === 'user') {
        userText = item.textContent ?? '';
        break;
      }
    }
    const last = items[items.length - 1];
    const toolOutput =
      last?.type === 'function_call_output'
        ? { name: last.name, output: last.output, isError: last.isError }
        : undefined;
    const turn: ScriptedTurn = {
      userText,
      index: this.calls.length,
      chatCtx,
      tools,
      ...(toolOutput ? { toolOutput } : {}),
    };
    const raw = this.rule(turn);
    const reply = typeof raw === 'string' ? { text: raw } : raw;
    this.calls.push({
      index: turn.index,
      userText,
      reply,
      at: Date.now(),
      ...(toolOutput ? { toolOutput } : {}),
    });
    return reply;
  }
}

class ScriptedLLMStream extends llm.LLMStream {
  private readonly scripted: ScriptedLLM;

  constructor(
    scripted: ScriptedLLM,
    params: {
      chatCtx: llm.ChatContext;
      toolCtx?: llm.ToolContextLike;
      connOptions: APIConnectOptions;
    },
  ) {
    super(scripted, params);
    this.scripted = scripted;
  }

  protected async run(): Promise<void> {
    const tools = Object.keys(this.toolCtx?.functionTools ?? {});
    const reply = this.scripted._decide(this.chatCtx, tools);
    if (!reply) return;
    if (reply.ttftMs && reply.ttftMs > 0) {
      await new Promise((resolve) => setTimeout(resolve, reply.ttftMs));
    }
    const id = `scripted-${this.scripted.calls.length}`;
    // Word-sized chunks, like a streaming model, so TTS and transcription see deltas.
    const parts = (reply.text ?? '').match(/\S+\s*/g) ?? [];
    for (const part of parts) {
      if (this.abortController.signal.aborted) return;
      this.queue.put({ id, delta: { role: 'assistant', content: part } });
    }
    if (reply.toolCalls?.length) {
      this.queue.put({
        id,
        delta: {
          role: 'assistant',
          toolCalls: reply.toolCalls.map((tc, i) =>
            llm.FunctionCall.create({
              callId: `${id}-call-${i}`,
              name: tc.name,
              args: JSON.stringify(tc.args),
            }),
          ),
        },
      });
    }
  }
}
