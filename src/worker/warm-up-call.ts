/**
 * A rehearsal call in each job process's prewarm, before the process is offered a real one.
 *
 * Why: V8 compiles code the first time it runs. A job process handles one call, so without a
 * rehearsal every call paid for compiling the call path (session, VAD stream, noise
 * suppression, soft-ack filter, our agents) in its first second: ~0.5 s of CPU, five times the
 * steady rate, and calls starting together made each other's audio late. `npm run bench:calls`
 * measures it (the call processes rehearse exactly like this).
 *
 * The rehearsal is the simulator's call (src/sim) on the worker's own agents file and session
 * factory: synthetic caller audio that Silero hears as speech, scripted STT and LLM rules, a
 * fast timing-only TTS. It makes no network call, reports nothing and logs only problems.
 */
import type { VAD } from '@livekit/agents';
import type { AgentsConfig } from '../agents/agents-file.js';
import type { Config } from '../core/config.js';
import type { Logger } from '../core/logger.js';
import { type SimResult, simulateCall } from '../sim/call-simulator.js';
import type { Scenario } from '../sim/scenario.js';
import { SyntheticTTS } from '../sim/synthetic-tts.js';
import type { NoiseSuppression } from '../telephony/noise/index.js';

const REPLY =
  'Sure, one moment while I look into that for you. I am checking the details of your account now, and I will tell you what I find.';

/** Greeting, a question, a backchannel over the reply, an interruption, a hang-up. */
const rehearsal: Scenario = {
  name: 'warm-up call',
  // A fictional number (555-01xx), so no route for real callers picks it.
  call: { direction: 'inbound', from: '+12025550123' },
  caller: [
    { after: 'agent-done', delayMs: 200, say: 'hello', audio: [{ synthetic: 600 }] },
    {
      after: 'reply-start',
      reply: 'question',
      delayMs: 300,
      say: 'uh huh',
      audio: [{ synthetic: 300 }],
    },
    {
      after: 'reply-start',
      reply: 'question',
      delayMs: 1500,
      say: 'wait',
      audio: [{ synthetic: 400 }],
    },
  ],
  hangUp: { after: 'agent-done', delayMs: 200 },
  llm: [
    { id: 'question', match: 'hello', reply: REPLY },
    { match: 'wait', reply: 'Yes?' },
  ],
};

export interface WarmUpDeps {
  config: Config;
  agents: AgentsConfig;
  vad: VAD;
  noise?: NoiseSuppression;
  log: Logger;
}

export interface WarmUpResult {
  durationMs: number;
  outcome: SimResult['summary']['outcome'];
  /** What ran: caller and agent turns, interruptions (a rehearsal that ran nothing warms nothing). */
  metrics: Pick<SimResult['summary']['metrics'], 'userTurns' | 'agentTurns' | 'interruptions'>;
}

/** Runs the rehearsal (a few seconds of wall time, well under a second of CPU). */
export async function warmUpCall(deps: WarmUpDeps): Promise<WarmUpResult> {
  const t0 = performance.now();
  const r = await simulateCall({
    call: {
      scenario: rehearsal,
      baseDir: '.',
      config: deps.config,
      agents: deps.agents,
      // Three times a real speaker's pace: the point is running the code, not the timing.
      tts: new SyntheticTTS({ msPerChar: 20, minMs: 200 }),
    },
    log: deps.log.child({ warmUp: true }, { level: 'warn' }),
    vad: deps.vad,
    ...(deps.noise ? { noise: deps.noise } : {}),
    // LiveKit's turn detector runs in the worker's inference process, which only a job reaches.
    turnDetection: 'vad',
    llm: 'scenario',
    record: false,
    limits: { maxCallDurationMs: 20_000 },
  });
  const { userTurns, agentTurns, interruptions } = r.summary.metrics;
  return {
    durationMs: performance.now() - t0,
    outcome: r.summary.outcome,
    metrics: { userTurns, agentTurns, interruptions },
  };
}
