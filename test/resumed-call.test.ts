/**
 * A call taken over after its agent died, on the worker's side (docs/reliability.md): the job
 * metadata's `resume` (src/core/job-metadata.ts) sends this job to the agent that was talking,
 * with the conversation so far; the agent says "Sorry, we got cut off." at once (TTS only, no
 * LLM in the dead air) instead of its greeting, then a generated reply recaps what the caller was
 * asking, and the call goes on. Run through the offline simulator: the same call job and session
 * code as a LiveKit call. Also: what the worker accepts as a `resume`.
 */
import { resolve } from 'node:path';
import { initializeLogger, type VAD } from '@livekit/agents';
import { beforeAll, describe, expect, it } from 'vitest';
import { RESUME_LINE } from '../src/agents/phone-agent.js';
import { loadVAD } from '../src/agents/providers.js';
import type { WorkerEventType } from '../src/call/call-report.js';
import { readJobMetadata, readResume, withResume } from '../src/core/job-metadata.js';
import { createLogger } from '../src/core/logger.js';
import { simulateCall } from '../src/sim/call-simulator.js';
import type { Scenario } from '../src/sim/scenario.js';
import { SyntheticTTS } from '../src/sim/synthetic-tts.js';
import { testConfig } from './support/config.js';

const repoRoot = resolve(import.meta.dirname, '..');
const RECAP = 'You were asking about your bill. Could you give me your account number?';

describe('a call taken over by another worker', () => {
  const config = testConfig({}, 'offline');
  const log = createLogger(config);
  let vad: VAD;

  beforeAll(async () => {
    initializeLogger({ pretty: false, level: 'error' });
    vad = await loadVAD(config);
  }, 60_000);

  it('apologises at once, recaps from the conversation so far, and goes on with the same agent', async () => {
    const startedAt = Date.now() - 40_000;
    const transcript = [
      { t: 900, role: 'agent' as const, text: 'Thanks for calling Acme.', agent: 'receptionist' },
      { t: 4000, role: 'caller' as const, text: 'I have a question about my bill' },
      { t: 6000, role: 'agent' as const, text: 'Hi, Ben from billing here.', agent: 'billing' },
    ];
    const scenario: Scenario = {
      name: 'taken over',
      call: { from: '+14155550142', to: '+14155550111' },
      caller: [{ after: 'agent-done', delayMs: 600, say: "That's all, thanks, bye" }],
      hangUp: { after: 'agent-done', delayMs: 10_000 },
      llm: [
        // The resumed agent's first request: the caller's last words are still the question.
        { agent: 'billing', match: 'question about my bill', reply: RECAP },
        { agent: 'billing', match: 'bye', reply: 'Goodbye!', tool: 'end_call' },
      ],
    };
    const reports: Array<[WorkerEventType, Record<string, unknown>]> = [];
    const r = await simulateCall({
      call: { scenario, baseDir: resolve(repoRoot, 'examples'), config, tts: new SyntheticTTS() },
      log,
      vad,
      turnDetection: 'vad',
      llm: 'scenario',
      jobMetadata: JSON.stringify({
        agent: 'receptionist',
        metadata: {},
        resume: { attempt: 1, agent: 'billing', startedAt, transcript },
      }),
      onReport: (type, data) => reports.push([type, data]),
    });
    const said = r.summary.transcript.map((l) => `${l.role}: ${l.text}`);
    // The carried conversation first, then the apology (no greeting), the recap, and the rest.
    expect(said).toEqual([
      'agent: Thanks for calling Acme.',
      'caller: I have a question about my bill',
      'agent: Hi, Ben from billing here.',
      `agent: ${RESUME_LINE}`,
      `agent: ${RECAP}`,
      "caller: That's all, thanks, bye",
      'agent: Goodbye!',
    ]);
    // The agent that was talking took the call over (the job metadata asked for receptionist).
    expect(r.summary.agents).toEqual(['billing']);
    // The apology is the first thing the caller hears, at once.
    expect(r.firstSpeechMs).toBeLessThan(1500);
    // The call's record continues: its start and length count from the original start.
    expect(r.summary.startedAt).toBe(new Date(startedAt).toISOString());
    expect(r.summary.durationMs).toBeGreaterThan(40_000);
    expect(r.summary).toMatchObject({ outcome: 'completed', endedBy: 'agent' });
    expect(reports.map(([t]) => t)).toContain('call.summary');
  }, 60_000);

  it('with no agent known (it died before routing), routes as usual and still apologises', async () => {
    const scenario: Scenario = {
      name: 'taken over before routing',
      call: { from: '+14155550142', to: '+14155550111' },
      caller: [],
      hangUp: { after: 'agent-done', delayMs: 1500 },
      llm: [{ match: '.*', reply: 'How can I help you today?' }],
    };
    const r = await simulateCall({
      call: { scenario, baseDir: resolve(repoRoot, 'examples'), config, tts: new SyntheticTTS() },
      log,
      vad,
      turnDetection: 'vad',
      llm: 'scenario',
      jobMetadata: JSON.stringify({ resume: { attempt: 2, transcript: [] } }),
    });
    const agentLines = r.summary.transcript.filter((l) => l.role === 'agent').map((l) => l.text);
    expect(agentLines[0]).toBe(RESUME_LINE);
    expect(agentLines).not.toContain(
      'Thanks for calling Acme Home Internet, this is Ava. How can I help you today?',
    );
    expect(r.summary.agents).toEqual(['receptionist']);
  }, 60_000);
});

describe('the resume contract (src/core/job-metadata.ts)', () => {
  it('reads a valid resume and bounds it', () => {
    const long = 'x'.repeat(5000);
    const lines = Array.from({ length: 60 }, (_, i) => ({
      t: i,
      role: i % 2 ? 'caller' : 'agent',
      text: i === 59 ? long : `line ${i}`,
    }));
    const r = readResume({ attempt: 2, agent: ' billing ', startedAt: 5, transcript: lines });
    expect(r?.attempt).toBe(2);
    expect(r?.agent).toBe('billing');
    expect(r?.startedAt).toBe(5);
    expect(r?.transcript).toHaveLength(50);
    expect(r?.transcript[0]?.text).toBe('line 10');
    expect(r?.transcript.at(-1)?.text).toHaveLength(2000);
  });

  it('refuses what is not one (the job then answers the call as new)', () => {
    for (const bad of [
      undefined,
      'resume',
      [],
      { attempt: 0, transcript: [] },
      { attempt: 1.5, transcript: [] },
      { attempt: 11, transcript: [] },
      { attempt: '1', transcript: [] },
      { attempt: 1, transcript: 'hello' },
      { attempt: 1, transcript: [{ role: 'system', text: 'x' }] },
      { attempt: 1, transcript: [{ role: 'caller', text: 7 }] },
    ]) {
      expect(readResume(bad), JSON.stringify(bad)).toBeUndefined();
    }
    expect(readJobMetadata('{"agent":"billing","resume":{"attempt":0}}')).toEqual({
      agent: 'billing',
      metadata: {},
    });
  });

  it('withResume keeps the call’s own metadata and replaces an earlier resume', () => {
    const outbound = JSON.stringify({
      kind: 'phone-agents.call',
      version: 2,
      direction: 'outbound',
      agent: 'renewals',
      metadata: { campaign: 'x' },
      sipParticipantIdentity: 'callee',
      resume: { attempt: 1, transcript: [] },
    });
    const next = JSON.parse(
      withResume(outbound, { attempt: 2, agent: 'renewals', transcript: [] }),
    );
    expect(next).toMatchObject({
      direction: 'outbound',
      agent: 'renewals',
      sipParticipantIdentity: 'callee',
      resume: { attempt: 2, agent: 'renewals' },
    });
    expect(JSON.parse(withResume('free text', { attempt: 1, transcript: [] }))).toEqual({
      resume: { attempt: 1, transcript: [] },
    });
  });
});
