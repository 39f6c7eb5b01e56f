/**
 * The interruption evaluation measures the product as deployed: its sessions are built by the
 * same construction as a worker's for a real call. A session from the worker's factory
 * (production providers, LiveKit's turn detector, the settings' interruption policy) and one
 * from an evaluation run must resolve to the same session options, the same agent class with
 * the same STT filter, the same turn-detector model and VAD; the evaluation's scripted STT must
 * announce the Deepgram plugin's capabilities (the framework picks its paths by them). Any
 * drift between `src/worker` and `src/eval` fails here.
 */
import { initializeLogger, type voice } from '@livekit/agents';
import * as deepgram from '@livekit/agents-plugin-deepgram';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { PhoneAgent } from '../src/agents/phone-agent.js';
import { CallMetrics } from '../src/call/call-metrics.js';
import { createPhoneSessionFactory } from '../src/call/session.js';
import type { EvalContext } from '../src/eval/run-scenario.js';
import { runScenario } from '../src/eval/run-scenario.js';
import { loadEvalContext } from '../src/eval/runner.js';
import type { Scenario } from '../src/eval/scenarios.js';
import { SimClock } from '../src/sim/clock.js';
import { ScriptedSTT } from '../src/sim/scripted-stt.js';
import { SimCallMedia } from '../src/sim/sim-call-media.js';
import { syntheticSpeech } from '../src/sim/synthetic-tts.js';
import { buildCallContext } from '../src/telephony/call-context.js';
import { workerSessionDeps } from '../src/worker/job-entry.js';
import { testConfig } from './support/config.js';

/** What must be equal: everything but the model instances, which differ by design. */
function resolved(session: voice.AgentSession) {
  const { turnDetection, ...turnHandling } = session.sessionOptions.turnHandling;
  return {
    options: JSON.parse(JSON.stringify({ ...session.sessionOptions, turnHandling })),
    turnDetector:
      typeof turnDetection === 'object' && turnDetection !== null
        ? {
            kind: turnDetection.constructor.name,
            model: (turnDetection as unknown as { model?: string }).model,
          }
        : turnDetection,
  };
}

describe('the evaluation runs the production session', () => {
  let ctx: EvalContext;
  let worker: voice.AgentSession;
  let workerAgent: voice.Agent;
  let evaluated: voice.AgentSession | undefined;

  beforeAll(async () => {
    initializeLogger({ pretty: false, level: 'error' });
    // The example agents file signs its HTTP tool with this secret (a deployment sets it).
    vi.stubEnv('TOOLS_SECRET', 'test-secret');
    ctx = await loadEvalContext({});
    // The worker's construction, as a job process builds it (keys only let the plugins exist).
    const config = testConfig(
      {
        DEEPGRAM_API_KEY: 'dg-test',
        ELEVEN_API_KEY: 'el-test',
        OPENAI_API_KEY: 'oa-test',
      },
      'worker',
    );
    const factory = createPhoneSessionFactory(
      workerSessionDeps(config, {
        agents: ctx.agents,
        codeTools: (await import('../src/agents/code-tools.js')).defaultCodeTools(),
        vad: ctx.vad,
        ...(ctx.noise ? { noise: ctx.noise } : {}),
        log: ctx.log,
      }),
    );
    const call = buildCallContext({ attributes: { 'sip.phoneNumber': '+14155550123' } });
    const parts = await factory({
      call,
      agentName: ctx.agentName,
      metrics: new CallMetrics({ callId: 'c', direction: 'inbound' }),
      callId: 'c',
      callerIdentity: 'sip_caller',
      media: new SimCallMedia(),
      endAfterMs: undefined,
      report: () => {},
    });
    worker = parts.session;
    workerAgent = parts.agent;

    // One short scenario through the evaluation, looking at its session.
    const samples = syntheticSpeech(400);
    const scenario: Scenario = {
      id: 'probe',
      file: 'probe.json',
      group: 'probe',
      agent: { text: 'One moment while I check that for you.', durationMs: 1500 },
      caller: [
        {
          index: 0,
          atMs: 500,
          audio: '(test)',
          transcript: 'uh huh',
          expect: 'ignore',
          deadlineMs: 1500,
          samples,
          durationMs: 400,
        },
      ],
    };
    await runScenario(scenario, ctx, {
      policy: 'softack',
      tailMs: 500,
      onSession: (s) => {
        evaluated = s;
      },
    });
  }, 60_000);

  afterAll(() => vi.unstubAllEnvs());

  it('resolves to the same session options and turn detector as a worker', () => {
    expect(evaluated).toBeDefined();
    const w = resolved(worker);
    const e = resolved(evaluated!);
    expect(e).toEqual(w);
    // Not vacuous: the production settings are in there.
    expect(w.options.turnHandling.interruption).toMatchObject({ mode: 'vad', minWords: 1 });
    expect(w.options.turnHandling.endpointing).toMatchObject({ minDelay: 400, maxDelay: 2500 });
    expect(w.turnDetector).toMatchObject({ kind: expect.stringMatching(/TurnDetector|EOU/) });
  });

  it('hears through the same VAD, with the same agent class and STT filter', () => {
    expect(evaluated!.vad).toBe(worker.vad);
    expect(workerAgent).toBeInstanceOf(PhoneAgent);
    const current = (evaluated as unknown as { agent?: voice.Agent }).agent;
    expect(current).toBeInstanceOf(PhoneAgent);
  });

  it("announces the Deepgram plugin's STT capabilities from the scripted STT", () => {
    const scripted = new ScriptedSTT({ clock: new SimClock() });
    const real = new deepgram.STT({ apiKey: 'dg-test' });
    const caps = (s: ScriptedSTT | deepgram.STT) => ({
      streaming: s.capabilities.streaming,
      interimResults: s.capabilities.interimResults,
      alignedTranscript: s.capabilities.alignedTranscript,
    });
    expect(caps(scripted)).toEqual(caps(real));
  });
});
