/**
 * The job process's rehearsal call (src/worker/warm-up-call.ts): it runs the product's agents
 * and session offline through greeting, a question, a backchannel and an interruption, never
 * reaches the network even when a real LLM is configured, and its audio is heard by the real
 * Silero VAD (synthetic speech, no files).
 */
import { resolve } from 'node:path';
import { initializeLogger } from '@livekit/agents';
import { describe, expect, it } from 'vitest';
import { loadAgentsFile } from '../src/agents/agents-file.js';
import { defaultCodeTools } from '../src/agents/code-tools.js';
import { loadVAD } from '../src/agents/providers.js';
import { createLogger } from '../src/core/logger.js';
import { loadNoiseSuppression } from '../src/telephony/noise/index.js';
import { warmUpCall } from '../src/worker/warm-up-call.js';
import { testConfig } from './support/config.js';

const repoRoot = resolve(import.meta.dirname, '..');

describe('warm-up call in prewarm', () => {
  it('rehearses greeting, caller turns and an interruption offline, with a real LLM configured', async () => {
    initializeLogger({ pretty: false, level: 'error' });
    // A configured LLM the rehearsal must not call: nothing listens on port 9.
    const config = testConfig({ LLM_BASE_URL: 'http://127.0.0.1:9/v1' }, 'offline');
    const agents = loadAgentsFile(resolve(repoRoot, 'config/agents.example.yaml'), {
      codeToolNames: defaultCodeTools().names(),
      env: { TOOLS_SECRET: 'test-secret' },
    });
    const [vad, noise] = await Promise.all([loadVAD(config), loadNoiseSuppression(config)]);
    const r = await warmUpCall({ config, agents, vad, noise, log: createLogger(config) });
    expect(r.outcome).toBe('completed');
    // Greeting, the reply the caller cuts off, the answer to "wait"; the caller's speech was
    // heard (turns) and stopped the agent at least once.
    expect(r.metrics.agentTurns).toBeGreaterThanOrEqual(3);
    expect(r.metrics.userTurns).toBeGreaterThanOrEqual(2);
    expect(r.metrics.interruptions).toBeGreaterThanOrEqual(1);
    // A few seconds of wall time: it fits the worker's prewarm timeout many times over.
    expect(r.durationMs).toBeLessThan(15_000);
  }, 60_000);
});
