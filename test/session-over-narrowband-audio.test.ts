/**
 * A phone session over real 8 kHz audio through custom (room-less) I/O: the caller's clip goes
 * through noise suppression into Silero VAD, which must find the caller's speech; the agent then
 * answers. Same call job and session code as a LiveKit call (src/worker).
 */
import { resolve } from 'node:path';
import { initializeLogger, type VAD } from '@livekit/agents';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadVAD } from '../src/agents/providers.js';
import { createLogger } from '../src/core/logger.js';
import { readWav } from '../src/core/wav.js';
import { type SimResult, simulateCall } from '../src/sim/call-simulator.js';
import type { Scenario } from '../src/sim/scenario.js';
import type { SimTimelineEntry } from '../src/sim/timeline.js';
import { loadNoiseSuppression } from '../src/telephony/noise/index.js';
import { testConfig } from './support/config.js';

const repoRoot = resolve(import.meta.dirname, '..');
const clip = resolve(
  repoRoot,
  'fixtures/interruptions/clips/i-need-to-talk-to-a-person.en-us.170.wav',
);
const REPLY = 'Of course, let me find someone for you.';

const scenario: Scenario = {
  name: 'narrowband caller asks for a person',
  agentsFile: '../config/agents.example.yaml',
  call: { from: '+14155550142', to: '+14155550111' },
  noise: { kind: 'white', snrDb: 20 },
  caller: [{ after: 'agent-done', delayMs: 600, say: 'I need to talk to a person', audio: [clip] }],
  hangUp: { after: 'agent-done', delayMs: 300 },
  llm: [{ id: 'person', agent: 'receptionist', match: 'person', reply: REPLY }],
};

describe('session over narrowband audio (custom I/O, Silero VAD at 8 kHz)', () => {
  const config = testConfig({}, 'offline');
  let vad: VAD;
  let result: SimResult;

  beforeAll(async () => {
    initializeLogger({ pretty: false, level: 'error' });
    vad = await loadVAD(config);
    result = await simulateCall({
      call: { scenario, baseDir: resolve(repoRoot, 'examples'), config },
      log: createLogger(config),
      vad,
      noise: await loadNoiseSuppression({ ...config, NOISE_SUPPRESSION: 'speex' }),
      turnDetection: 'vad',
    });
  }, 90_000);

  /** The scenario's one caller line, as played. */
  function callerLine(): Extract<SimTimelineEntry, { type: 'caller-line' }> {
    const line = result.timeline.find((e) => e.type === 'caller-line');
    if (line?.type !== 'caller-line') throw new Error('the caller line never played');
    return line;
  }

  it('the input really is 8 kHz phone audio', () => {
    expect(readWav(clip).sampleRate).toBe(8000);
  });

  it("Silero VAD detects the caller's speech when the clip plays, not before", () => {
    const line = callerLine();
    const starts = result.timeline.filter((e) => e.type === 'user-speech-start');
    // Nothing but line noise before the caller speaks: no speech detected.
    expect(starts.filter((e) => e.t < line.t - 100)).toEqual([]);
    const detected = starts.find((e) => e.t >= line.t - 100);
    expect(detected).toBeDefined();
    // VAD needs ~minSpeechDuration plus inference time; well under half a second.
    expect(detected!.t - line.t).toBeLessThan(600);
    const end = result.timeline.find((e) => e.type === 'user-speech-end' && e.t > detected!.t);
    expect(end).toBeDefined();
    expect(end!.t).toBeGreaterThan(line.endT);
  });

  it('the agent answers the turn, with the turn latency measured', () => {
    const reply = result.timeline.find((e) => e.type === 'agent-message' && e.text === REPLY);
    expect(reply).toBeDefined();
    const m = result.summary.metrics;
    expect(m.userTurns).toBe(1);
    expect(m.turnLatency.count).toBeGreaterThanOrEqual(1);
    expect(m.turnLatency.max).toBeLessThan(3000);
    expect(result.summary.transcript.map((l) => l.role)).toEqual(['agent', 'caller', 'agent']);
    expect(result.summary.outcome).toBe('completed');
    expect(result.summary.endedBy).toBe('caller');
  });

  it('the agent audio is on the recording, after the caller spoke', () => {
    const { agent, caller } = result.recording;
    const at = Math.round((callerLine().endT * 8000) / 1000);
    const energy = (x: Int16Array) =>
      x.reduce((s, v) => s + Math.abs(v), 0) / Math.max(1, x.length);
    expect(energy(agent.subarray(at))).toBeGreaterThan(100);
    expect(energy(caller)).toBeGreaterThan(10);
  });
});
