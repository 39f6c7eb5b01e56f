/**
 * Multi-agent handoff (e.g. receptionist → billing): one tool per `handoffs:` entry of an agent.
 *
 * When the LLM calls it:
 * 1. the current agent says the transition sentence at once (text-to-speech only, no LLM), so
 *    the caller hears something within the tool call's latency;
 * 2. the conversation so far is copied for the next agent: user and assistant messages only,
 *    without the previous agent's instructions, tool calls or handoff markers, trimmed to the
 *    most recent `maxCarriedItems`;
 * 3. the tool returns `llm.handoff(...)` without a value, so the old agent does not produce a
 *    reply of its own; the session switches agents once the transition has been played;
 * 4. the next agent (PhoneAgent.onEnter) says its greeting immediately and, while that plays,
 *    generates its first reply from the carried history: the LLM's latency is hidden behind
 *    the greeting, so the switch has no silence longer than the TTS's first byte.
 */
import { llm, type voice } from '@livekit/agents';
import { type HandoffSpec, handoffToolName } from './agents-schema.js';
import type { CodeTool } from './code-tools.js';
import type { PhoneSessionData } from './session-data.js';

export const handoffDefaults = {
  /** Recent conversation items carried to the next agent. */
  maxCarriedItems: 24,
} as const;

export interface HandoffTarget {
  /** Builds the next agent with the carried history. */
  create(options: { chatCtx: llm.ChatContext; handoffFrom: string }): voice.Agent;
}

export interface HandoffToolOptions {
  from: string;
  spec: HandoffSpec;
  target: HandoffTarget;
  maxCarriedItems?: number;
}

export function createHandoffTool(o: HandoffToolOptions): CodeTool {
  const to = o.spec.agent;
  const transition = o.spec.transition ?? defaultTransition(to);
  return llm.tool({
    name: handoffToolName(to),
    description:
      o.spec.description ??
      `Hand the call over to the ${spokenName(to)} agent when the caller needs ${spokenName(to)}.`,
    execute: async (_args, { ctx }) => {
      ctx.session.say(transition);
      const chatCtx = carriedHistory(
        ctx.session.currentAgent.chatCtx,
        o.maxCarriedItems ?? handoffDefaults.maxCarriedItems,
      );
      const data = ctx.userData as PhoneSessionData | undefined;
      data?.handoffs.push({ from: o.from, to, at: Date.now() });
      return llm.handoff({ agent: o.target.create({ chatCtx, handoffFrom: o.from }) });
    },
  });
}

/** The conversation, without instructions, tool traffic, handoff markers or empty messages. */
export function carriedHistory(source: llm.ChatContext, maxItems: number): llm.ChatContext {
  const copy = source.copy({
    excludeInstructions: true,
    excludeFunctionCall: true,
    excludeHandoff: true,
    excludeConfigUpdate: true,
    excludeEmptyMessage: true,
  });
  return copy.truncate(maxItems);
}

function defaultTransition(agent: string): string {
  return `One moment, I'll pass you to ${spokenName(agent)}.`;
}

/** "front-desk" → "front desk": agent names as a TTS voice should say them. */
function spokenName(agent: string): string {
  return agent.replace(/[-_]+/g, ' ');
}
