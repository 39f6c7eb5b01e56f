/**
 * The LLM of a conversation-test run: the configured OpenAI-compatible server (LLM_BASE_URL /
 * OPENAI_API_KEY), or the scripted stand-in (stack/providers: an OpenAI-compatible server
 * answering from rules), reached through the same OpenAI plugin as on a call either way.
 */
import { createLLM } from '../agents/providers.js';
import type { Config } from '../core/config.js';
import type { TestLlm } from './runner.js';
import type { ScriptRule } from './test-file.js';

/** What the runner needs of the stand-in (stack/providers `startProviderStandIns`). */
export interface ScriptedStandIn {
  llmBaseUrl: string;
  llm: { setRules(rules: ScriptRule[], agents?: { name: string; instructions: string }[]): void };
}

/** True when the settings name a real model to test against. */
export function llmConfigured(config: Pick<Config, 'LLM_BASE_URL' | 'OPENAI_API_KEY'>): boolean {
  return !!(config.LLM_BASE_URL || config.OPENAI_API_KEY);
}

export function configuredTestLlm(config: Config): TestLlm {
  return {
    mode: 'configured',
    description: `${config.LLM_MODEL} at ${config.LLM_BASE_URL ?? 'api.openai.com'}`,
    // Servers without auth accept any key; the plugin wants one.
    llm: createLLM({ ...config, OPENAI_API_KEY: config.OPENAI_API_KEY ?? 'none' }),
  };
}

export function scriptedTestLlm(config: Config, standIn: ScriptedStandIn): TestLlm {
  return {
    mode: 'scripted',
    description: 'the scripted stand-in (no LLM_BASE_URL / OPENAI_API_KEY set)',
    llm: createLLM({ ...config, LLM_BASE_URL: standIn.llmBaseUrl, OPENAI_API_KEY: 'standin' }),
    useScript: (rules, agents) => standIn.llm.setRules(rules, agents),
  };
}
