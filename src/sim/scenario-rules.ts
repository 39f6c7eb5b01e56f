/**
 * The scenario's LLM rules as a `ScriptedRule`: the one reading of them, for the simulator's
 * in-process LLM and the OpenAI-compatible stand-in (stack/providers) alike. First match wins;
 * `agent` must be the agent now talking; `match` is a case-insensitive regular expression over
 * the caller's last words; `handoff` only when that handoff tool is offered; after a tool's
 * output only a rule naming that tool in `afterTool` answers (the tool already said the rest).
 */
import { handoffToolName } from '../agents/agents-schema.js';
import type { LlmRuleSpec } from './scenario.js';
import type { ScriptedReply, ScriptedRule, ScriptedTurn } from './scripted-llm.js';

export interface ScenarioRuleOptions {
  /** The agent talking when the request was made. */
  currentAgent: (turn: ScriptedTurn) => string | undefined;
  /** Told the id of a rule that answered (the caller's script anchors lines on replies). */
  onReply?: (id: string) => void;
}

export function scenarioRule(rules: readonly LlmRuleSpec[], o: ScenarioRuleOptions): ScriptedRule {
  const compiled = rules.map((r) => ({ ...r, re: r.match ? new RegExp(r.match, 'i') : undefined }));
  return (turn): ScriptedReply | undefined => {
    const agent = o.currentAgent(turn);
    const rule = compiled.find(
      (r) =>
        (turn.toolOutput ? r.afterTool === turn.toolOutput.name : !r.afterTool) &&
        (!r.agent || r.agent === agent) &&
        (!r.re || r.re.test(turn.userText)) &&
        (!r.handoff || turn.tools.includes(handoffToolName(r.handoff))),
    );
    if (!rule) return undefined;
    if (rule.id) o.onReply?.(rule.id);
    if (rule.handoff) return { toolCalls: [{ name: handoffToolName(rule.handoff), args: {} }] };
    if (rule.tool) {
      return {
        ...(rule.reply ? { text: rule.reply } : {}),
        toolCalls: [{ name: rule.tool, args: rule.args ?? {} }],
      };
    }
    return rule.reply ? { text: rule.reply } : undefined;
  };
}
