/**
 * PhoneAgent: the base class of every phone agent, and the factory that builds them from the
 * agents file.
 *
 * A PhoneAgent prepends the phone prompt rules to its instructions, greets on entering (or,
 * after a handoff, greets and continues the carried conversation; taking over a call whose agent
 * died, says it got cut off and continues it), cleans its text for the TTS,
 * gets its tools from the file (HTTP tools, MCP servers' tools, tools written in code, handoff
 * tools), and exposes
 * its transfer destinations for the telephony transfer tools. The speech-to-text output passes
 * through an injectable `speechFilter`: the seam for the soft-ack filter of
 * src/telephony/interruption (pass-through by default).
 */
import { ReadableStream, TransformStream } from 'node:stream/web';
import { type llm, type stt, type tts, type VAD, voice } from '@livekit/agents';
import type { AudioFrame } from '@livekit/rtc-node';
import type { Logger } from '../core/logger.js';
import type { CallContext } from '../telephony/call-context.js';
import { interruptionSpeechFilter } from '../telephony/interruption/index.js';
import type { AgentsConfig } from './agents-file.js';
import type { AgentSpec } from './agents-schema.js';
import { type CodeToolRegistry, defaultCodeTools } from './code-tools.js';
import { createHandoffTool } from './handoff.js';
import { createHttpTool } from './http-tools.js';
import type { McpCallTools } from './mcp-tools.js';
import { createSpeakableFilter, phoneInstructions } from './prompts.js';
import type { PhoneSessionData } from './session-data.js';

/** Rewrites the STT event stream of an agent (e.g. drops backchannels while it speaks). */
export type SpeechFilter = (
  events: ReadableStream<stt.SpeechEvent | string>,
  agent: PhoneAgent,
) => ReadableStream<stt.SpeechEvent | string>;

/** Models an agent uses instead of the session's (its own voice, its STT keyterms). */
export interface AgentModels {
  stt?: stt.STT;
  tts?: tts.TTS;
  llm?: llm.LLM;
  vad?: VAD;
}

export interface PhoneAgentOptions {
  spec: AgentSpec;
  tools?: llm.ToolContextEntry<PhoneSessionData>[];
  /** History carried over from the previous agent. */
  chatCtx?: llm.ChatContext;
  /** Name of the agent this one takes over from; it then continues the conversation. */
  handoffFrom?: string;
  /** Adds the call's facts (direction, caller number) to the instructions. */
  call?: CallContext;
  models?: AgentModels;
  speechFilter?: SpeechFilter;
  /** Speak on entering the call (default true); false for outbound calls that wait for "hello". */
  greet?: boolean;
  /**
   * This agent takes over a call whose agent died (`chatCtx` holds the conversation so far): it
   * says RESUME_LINE at once, then recaps what the caller was asking and goes on.
   */
  resumed?: boolean;
}

/** What a caller hears first when another worker took their call over: TTS only, no LLM wait. */
export const RESUME_LINE = 'Sorry, we got cut off.';

/** How the agent goes on after RESUME_LINE (its first generated reply of a take-over). */
export const RESUME_INSTRUCTIONS =
  'The call was cut off by a technical problem and you have just reconnected; the caller already ' +
  `heard you say "${RESUME_LINE}" Do not greet and do not apologise again. In one short ` +
  'sentence recap what the caller was asking about (for example "You were asking about …"), ' +
  'then continue helping them from where the conversation stopped. If the caller had not said ' +
  'anything yet, ask how you can help.';

export class PhoneAgent extends voice.Agent<PhoneSessionData> {
  readonly spec: AgentSpec;
  readonly handoffFrom: string | undefined;
  readonly #speechFilter: SpeechFilter | undefined;
  readonly #greet: boolean;
  readonly #resumed: boolean;

  constructor(o: PhoneAgentOptions) {
    super({
      id: o.spec.name,
      instructions: phoneInstructions(o.spec.instructions, o.call),
      ...(o.tools ? { tools: o.tools } : {}),
      ...(o.chatCtx ? { chatCtx: o.chatCtx } : {}),
      ...o.models,
    });
    this.spec = o.spec;
    this.handoffFrom = o.handoffFrom;
    this.#speechFilter = o.speechFilter;
    this.#greet = o.greet ?? true;
    this.#resumed = o.resumed ?? false;
  }

  get name(): string {
    return this.spec.name;
  }

  override async onEnter(): Promise<void> {
    const data = this.session.userData as PhoneSessionData | undefined;
    if (data) data.currentAgent = this.spec.name;
    const greeting = this.spec.greeting;
    if (this.#resumed) {
      // The caller is in dead air: the apology needs no LLM, the recap comes while it plays.
      this.session.say(RESUME_LINE);
      this.session.generateReply({ instructions: RESUME_INSTRUCTIONS });
      return;
    }
    if (this.handoffFrom) {
      // The greeting plays while the LLM writes the first reply, hiding its latency.
      if (greeting) this.session.say(greeting);
      this.session.generateReply({
        instructions:
          `You have just taken over this call from the ${this.handoffFrom} agent; the caller already heard your greeting. ` +
          'Continue from the conversation so far: address what the caller asked for. Do not greet again.',
      });
      return;
    }
    if (this.#greet) this.greet();
  }

  /**
   * Says the greeting (or has the LLM greet). Called on entering, or, on an outbound call checked
   * for voicemail, once the check found a person: a machine never hears it.
   */
  greet(): void {
    const greeting = this.spec.greeting;
    if (greeting) this.session.say(greeting);
    else
      this.session.generateReply({
        instructions: 'Greet the caller in one short sentence and ask how you can help.',
      });
  }

  override async sttNode(
    audio: ReadableStream<AudioFrame> | AsyncIterable<AudioFrame>,
    modelSettings: voice.ModelSettings,
  ): Promise<ReadableStream<stt.SpeechEvent | string> | null> {
    const events = await super.sttNode(audio, modelSettings);
    return events && this.#speechFilter ? this.#speechFilter(events, this) : events;
  }

  override async ttsNode(
    text: ReadableStream<string> | AsyncIterable<string>,
    modelSettings: voice.ModelSettings,
  ): Promise<ReadableStream<AudioFrame> | null> {
    const clean = createSpeakableFilter();
    const source = text instanceof ReadableStream ? text : ReadableStream.from(text);
    const cleaned = source.pipeThrough(
      new TransformStream<string, string>({
        transform(chunk, controller) {
          const out = clean(chunk);
          if (out) controller.enqueue(out);
        },
      }),
    );
    return super.ttsNode(cleaned, modelSettings);
  }
}

/** The name the LLM sees, for function tools. */
function toolName(t: llm.ToolContextEntry<PhoneSessionData>): string[] {
  const name = (t as { name?: unknown }).name;
  return typeof name === 'string' ? [name] : [];
}

// ── factory ──────────────────────────────────────────────────────────────────────────────────

export interface AgentFactoryOptions {
  config: AgentsConfig;
  /** Tools written in code (default: the built-in ones). Must be the registry the file was checked against. */
  codeTools?: CodeToolRegistry;
  /** The call, for the instructions' call facts. */
  call?: CallContext;
  /** Per-agent models (voice, keyterms); see providers.ts `agentModels`. */
  models?: (spec: AgentSpec) => AgentModels;
  /**
   * Per-agent STT event filter. Default: the interruption policy bound to the session
   * (`attachInterruptionPolicy`), with the agent's `interruptions:` overrides; a pass-through
   * when no policy is bound.
   */
  speechFilter?: (spec: AgentSpec) => SpeechFilter | undefined;
  /** Where HTTP tools read their `secretEnv`; default process.env. */
  env?: NodeJS.ProcessEnv;
  logger?: Logger;
  /** Speak on entering (default true). */
  greet?: boolean;
  /**
   * Tools the call adds to each agent beyond the file's (the telephony tools: transfers to the
   * agent's destinations, DTMF, end_call), built per agent from its spec.
   */
  extraTools?: (spec: AgentSpec) => llm.ToolContextEntry<PhoneSessionData>[];
  /**
   * The call's MCP tools (`McpCallTools`): one toolset per server the agent lists under
   * `mcp:`, discovered when the agent starts. Absent = agents get no MCP tools.
   */
  mcp?: Pick<McpCallTools, 'toolsets'>;
}

export interface AgentFactory {
  /** Builds the named agent; throws for an unknown name (routes are validated, so a bug). */
  create(
    name: string,
    options?: {
      chatCtx?: llm.ChatContext;
      handoffFrom?: string;
      greet?: boolean;
      /** Takes over a call whose agent died (PhoneAgentOptions.resumed). */
      resumed?: boolean;
    },
  ): PhoneAgent;
}

export function createAgentFactory(o: AgentFactoryOptions): AgentFactory {
  const codeTools = o.codeTools ?? defaultCodeTools();
  // HTTP tools are stateless: build each once and share it between agents.
  const httpTools = new Map(
    [...o.config.tools.values()].map((spec) => [
      spec.name,
      createHttpTool(spec, {
        ...(o.env ? { env: o.env } : {}),
        ...(o.logger ? { logger: o.logger } : {}),
      }),
    ]),
  );

  const factory: AgentFactory = {
    create(name, options = {}) {
      const spec = o.config.agents.get(name);
      if (!spec) throw new Error(`unknown agent "${name}"`);
      const tools: llm.ToolContextEntry<PhoneSessionData>[] = [];
      for (const toolName of spec.tools ?? []) {
        const tool = httpTools.get(toolName) ?? codeTools.get(toolName);
        if (!tool) throw new Error(`agent "${name}": unknown tool "${toolName}"`);
        tools.push(tool);
      }
      for (const h of spec.handoffs ?? []) {
        tools.push(
          createHandoffTool({
            from: name,
            spec: h,
            target: {
              create: ({ chatCtx, handoffFrom }) =>
                factory.create(h.agent, { chatCtx, handoffFrom }),
            },
          }),
        );
      }
      if (o.extraTools) tools.push(...o.extraTools(spec));
      // Last: a server's tool named like one the agent already has is left out, not a clash.
      if (o.mcp) tools.push(...o.mcp.toolsets(spec, new Set(tools.flatMap(toolName))));
      const speechFilter = o.speechFilter
        ? o.speechFilter(spec)
        : interruptionSpeechFilter(spec.interruptions);
      const greet = options.greet ?? o.greet;
      return new PhoneAgent({
        spec,
        tools,
        ...(options.chatCtx ? { chatCtx: options.chatCtx } : {}),
        ...(options.handoffFrom ? { handoffFrom: options.handoffFrom } : {}),
        ...(o.call ? { call: o.call } : {}),
        ...(o.models ? { models: o.models(spec) } : {}),
        ...(speechFilter ? { speechFilter } : {}),
        ...(greet !== undefined ? { greet } : {}),
        ...(options.resumed ? { resumed: true } : {}),
      });
    },
  };
  return factory;
}
