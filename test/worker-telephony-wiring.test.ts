/**
 * The telephony features wired into the worker's call job and session (src/worker), run through
 * the offline simulator (same job and session code as a LiveKit call, SimCallMedia for the room
 * side): the agents carry the transfer / DTMF / end_call tools of their spec, a caller's key
 * press is routed by the agent's DTMF menu, `end_call` and the length limit end the call with
 * the right outcome.
 */
import { resolve } from 'node:path';
import { initializeLogger, type VAD } from '@livekit/agents';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadAgentsFile } from '../src/agents/agents-file.js';
import { defaultCodeTools } from '../src/agents/code-tools.js';
import { loadVAD } from '../src/agents/providers.js';
import { CallMetrics } from '../src/call/call-metrics.js';
import type { WorkerEventType } from '../src/call/call-report.js';
import { createPhoneSessionFactory, telephonyDeps } from '../src/call/session.js';
import { createLogger } from '../src/core/logger.js';
import { simulateCall } from '../src/sim/call-simulator.js';
import { SimClock } from '../src/sim/clock.js';
import type { Scenario } from '../src/sim/scenario.js';
import { ScriptedLLM } from '../src/sim/scripted-llm.js';
import { ScriptedSTT } from '../src/sim/scripted-stt.js';
import { SimCallMedia } from '../src/sim/sim-call-media.js';
import { SyntheticTTS } from '../src/sim/synthetic-tts.js';
import { buildCallContext } from '../src/telephony/call-context.js';
import { resolveSoftAckOptions } from '../src/telephony/interruption/index.js';
import { testConfig } from './support/config.js';

const repoRoot = resolve(import.meta.dirname, '..');
const env = { TOOLS_SECRET: 'test-secret' };

describe('telephony wiring in the worker', () => {
  const config = testConfig({}, 'offline');
  const log = createLogger(config);
  let vad: VAD;

  beforeAll(async () => {
    initializeLogger({ pretty: false, level: 'error' });
    vad = await loadVAD(config);
  }, 60_000);

  describe('each agent gets the telephony tools of its spec', () => {
    const codeTools = defaultCodeTools();
    const agents = loadAgentsFile(resolve(repoRoot, 'config/agents.example.yaml'), {
      codeToolNames: codeTools.names(),
      env,
    });

    async function toolsOf(agentName: string | undefined, direction: 'inbound' | 'outbound') {
      const clock = new SimClock();
      const factory = createPhoneSessionFactory({
        agents,
        codeTools,
        vad,
        env,
        models: () => ({
          stt: new ScriptedSTT({ clock }),
          llm: new ScriptedLLM(() => undefined),
          tts: new SyntheticTTS(),
        }),
        interruption: resolveSoftAckOptions(config),
        telephony: telephonyDeps(config, {} as never),
        log,
      });
      const call = buildCallContext({
        attributes: { 'sip.phoneNumber': '+14155550142' },
        jobMetadata: JSON.stringify({ direction }),
        roomName: 'call-1',
        participantIdentity: 'sip_caller',
      });
      const parts = await factory({
        call,
        agentName,
        metrics: new CallMetrics({ callId: 'call-1', direction }),
        callId: 'call-1',
        callerIdentity: 'sip_caller',
        media: new SimCallMedia(),
        endAfterMs: undefined,
        report: () => {},
      });
      const names = Object.keys(parts.agent.toolCtx.functionTools).sort();
      await parts.dispose();
      return { names, control: parts.control };
    }

    it('inbound receptionist: its cold transfer, digit collection, end_call, its file tools', async () => {
      const { names, control } = await toolsOf('receptionist', 'inbound');
      expect(names).toEqual(
        [
          'collect_digits',
          'current_date_time',
          'end_call',
          'front_desk',
          'handoff_to_billing',
          'handoff_to_support',
        ].sort(),
      );
      expect(control?.callerIdentity).toBe('sip_caller');
    });

    it('support: its warm transfer; outbound renewals: send_dtmf for phone menus', async () => {
      expect((await toolsOf('support', 'inbound')).names).toContain('support_engineer');
      const renewals = (await toolsOf('renewals', 'outbound')).names;
      expect(renewals).toEqual(['collect_digits', 'end_call', 'send_dtmf']);
      expect((await toolsOf('receptionist', 'inbound')).names).not.toContain('send_dtmf');
    });

    it('a refused call gets no tools and no call control', async () => {
      const { names, control } = await toolsOf(undefined, 'inbound');
      expect(names).toEqual([]);
      expect(control).toBeUndefined();
    });
  });

  it('a key press picks the menu option, and end_call ends the call as completed by the agent', async () => {
    const scenario: Scenario = {
      name: 'keypad menu then goodbye',
      call: { from: '+14155550142', to: '+14155550111' },
      caller: [
        { after: 'agent-done', delayMs: 400, dtmf: '1' },
        { after: 'agent-done', delayMs: 400, say: "That's all, thanks, bye" },
      ],
      // Far later than the agent's goodbye: the agent must be the one who hangs up.
      hangUp: { after: 'agent-done', delayMs: 10_000 },
      llm: [
        { agent: 'receptionist', match: '^billing$', handoff: 'billing' },
        { agent: 'billing', match: 'bye', reply: 'Goodbye!', tool: 'end_call' },
      ],
    };
    const reports: WorkerEventType[] = [];
    const t0 = Date.now();
    const r = await simulateCall({
      call: { scenario, baseDir: resolve(repoRoot, 'examples'), config, tts: new SyntheticTTS() },
      log,
      vad,
      turnDetection: 'vad',
      onReport: (type) => reports.push(type),
    });
    expect(r.timeline.some((e) => e.type === 'caller-line' && e.text === '[keys 1]')).toBe(true);
    // Key 1 is "billing" in the receptionist's menu: routed like the spoken word.
    expect(r.summary.agents).toEqual(['receptionist', 'billing']);
    expect(r.summary.outcome).toBe('completed');
    expect(r.summary.endedBy).toBe('agent');
    expect(r.summary.transcript.at(-1)).toMatchObject({ role: 'agent', text: 'Goodbye!' });
    expect(reports).toEqual(['call.answered', 'call.summary']);
    expect(Date.now() - t0).toBeLessThan(25_000);
  }, 60_000);

  it('the call length limit: the agent says so and hangs up before the hard cut', async () => {
    const scenario: Scenario = {
      name: 'length limit',
      call: { from: '+14155550142', to: '+14155550111' },
      caller: [],
      hangUp: { after: 'agent-done', delayMs: 60_000 },
      llm: [],
    };
    const r = await simulateCall({
      call: { scenario, baseDir: resolve(repoRoot, 'examples'), config, tts: new SyntheticTTS() },
      log,
      vad,
      turnDetection: 'vad',
      // Goodbye at half of 16 s (the 15 s margin does not fit), the hard cut at 16 s.
      limits: { maxCallDurationMs: 16_000 },
    });
    expect(r.summary.outcome).toBe('max-duration');
    expect(r.summary.endedBy).toBe('agent');
    expect(r.summary.transcript.at(-1)?.text).toMatch(/time limit/);
    expect(r.summary.durationMs).toBeGreaterThan(8000);
    expect(r.summary.durationMs).toBeLessThan(16_000);
  }, 60_000);
});
