/**
 * A natural-language judgement of a conversation ("the agent asked for the account number
 * before looking up the invoice"), made by the configured LLM: the transcript so far and the
 * expectation go to the model, which must answer by calling `check_intent(success, reason)` –
 * the same contract as agents-js's `judge()` for one message, here over the whole call.
 */
import { llm } from '@livekit/agents';
import { z } from 'zod';

export const JUDGE_TOOL = 'check_intent';

/** How each judgement request starts (the scripted stand-in's rules can match on it). */
export const JUDGE_PROMPT_START = 'Judge this phone conversation against the expectation.';

export type Verdict =
  | { verdict: 'pass' | 'fail'; reason: string }
  | { verdict: 'skipped'; reason: string };

export interface Judge {
  judge(expectation: string, transcript: string): Promise<Verdict>;
}

export function createLlmJudge(model: llm.LLM): Judge {
  return {
    async judge(expectation, transcript) {
      const checkIntent = llm.tool({
        name: JUDGE_TOOL,
        description:
          'Records whether the conversation meets the expectation, with a short reason for the verdict.',
        parameters: z.object({
          success: z.boolean().describe('true when the conversation clearly meets the expectation'),
          reason: z.string().describe('one sentence justifying the verdict'),
        }),
        execute: async () => undefined,
      });
      const chatCtx = llm.ChatContext.empty();
      chatCtx.addMessage({
        role: 'system',
        content:
          'You evaluate conversations of a phone agent for automated tests. You get the ' +
          'transcript of a call (caller, agent, the tools the agent called, handoffs) and an ' +
          `expectation. Answer only by calling ${JUDGE_TOOL}. Be strict: when the transcript ` +
          'does not clearly meet the expectation, success is false.',
      });
      chatCtx.addMessage({
        role: 'user',
        content: `${JUDGE_PROMPT_START}\n\nExpectation:\n${expectation}\n\nConversation:\n${transcript}`,
      });
      let args: { success?: unknown; reason?: unknown } | undefined;
      const stream = model.chat({
        chatCtx,
        toolCtx: [checkIntent],
        toolChoice: 'required',
        extraKwargs: { temperature: 0 },
      });
      try {
        for await (const chunk of stream) {
          for (const call of chunk.delta?.toolCalls ?? []) {
            if (call.name !== JUDGE_TOOL) continue;
            try {
              args = JSON.parse(call.args);
            } catch {
              // Arguments may arrive in pieces; the last complete one wins.
            }
          }
        }
      } finally {
        stream.close();
      }
      if (!args || typeof args.success !== 'boolean') {
        return { verdict: 'fail', reason: `the LLM gave no verdict (no ${JUDGE_TOOL} call)` };
      }
      const reason = typeof args.reason === 'string' ? args.reason : '';
      return { verdict: args.success ? 'pass' : 'fail', reason };
    },
  };
}

/** When no judgement can be made (no LLM configured and the script has no verdicts). */
export function skippingJudge(reason: string): Judge {
  return { judge: async () => ({ verdict: 'skipped', reason }) };
}
