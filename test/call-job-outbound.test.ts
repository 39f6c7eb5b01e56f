/**
 * Outbound calls in the call job (src/call/call-job.ts): the agent says nothing until the
 * callee picked up (`sip.callStatus` = `active`), and a call that is never answered (or is
 * declined) ends cleanly without a session. The line is a test transport (no LiveKit server
 * runs here); the session behind it is the real phone session with Silero VAD.
 */
import { resolve } from 'node:path';
import { initializeLogger, type VAD } from '@livekit/agents';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadAgentsFile } from '../src/agents/agents-file.js';
import { defaultCodeTools } from '../src/agents/code-tools.js';
import { loadVAD } from '../src/agents/providers.js';
import {
  type Caller,
  type CallSessionFactory,
  type CallSessionParts,
  type CallTransport,
  runCallJob,
} from '../src/call/call-job.js';
import type { CallReporter } from '../src/call/call-report.js';
import { createPhoneSessionFactory } from '../src/call/session.js';
import { createLogger } from '../src/core/logger.js';
import { SimAudioInput } from '../src/sim/audio-input.js';
import { SimAudioOutput } from '../src/sim/audio-output.js';
import { SimClock } from '../src/sim/clock.js';
import { ScriptedLLM } from '../src/sim/scripted-llm.js';
import { ScriptedSTT } from '../src/sim/scripted-stt.js';
import { SimCallMedia } from '../src/sim/sim-call-media.js';
import { SyntheticTTS } from '../src/sim/synthetic-tts.js';
import { resolveSoftAckOptions } from '../src/telephony/interruption/index.js';
import { testConfig } from './support/config.js';

const repoRoot = resolve(import.meta.dirname, '..');

/** The callee's phone: its sip.callStatus moves on a schedule (ms after the job starts). */
class CalleeLine implements CallTransport {
  readonly callId = 'call-outbound-test';
  readonly jobMetadata = JSON.stringify({
    kind: 'phone-agents.call',
    version: 2,
    direction: 'outbound',
    metadata: { campaign: 'renewals' },
    sipParticipantIdentity: 'callee',
  });
  readonly media = new SimCallMedia();
  readonly clock = new SimClock();
  readonly input = new SimAudioInput({ clock: this.clock });
  readonly output = new SimAudioOutput({ clock: this.clock });
  readonly closed: Promise<string>;
  readonly hangUps: string[] = [];
  sessionStartedAt: number | undefined;
  #attrs: Record<string, string> = {
    'sip.callStatus': 'dialing',
    'sip.phoneNumber': '+14155550177',
  };
  readonly #listeners = new Set<(a: Readonly<Record<string, string>>) => void>();
  #leave!: (r: string) => void;
  #close!: (r: string) => void;
  readonly #left = new Promise<string>((r) => {
    this.#leave = r;
  });

  constructor(schedule: Array<[number, string]>) {
    this.closed = new Promise((r) => {
      this.#close = r;
    });
    for (const [at, status] of schedule) {
      setTimeout(() => {
        if (status === 'left') return this.#leave('CLIENT_INITIATED');
        // Hangs up once the agent's first words have played out (however long a loaded machine
        // takes to start the session), so the check is about order, not about a deadline.
        if (status === 'left-after-greeting') {
          const poll = setInterval(() => {
            if (!this.output.events.some((e) => e.kind === 'finish')) return;
            clearInterval(poll);
            this.#leave('CLIENT_INITIATED');
          }, 20);
          return;
        }
        this.#attrs = { ...this.#attrs, 'sip.callStatus': status };
        for (const fn of this.#listeners) fn(this.#attrs);
      }, at);
    }
  }

  async waitForCaller(): Promise<Caller> {
    const self = this;
    return {
      identity: 'callee',
      attributes: () => self.#attrs,
      onAttributesChanged(fn) {
        self.#listeners.add(fn);
        return () => self.#listeners.delete(fn);
      },
      left: this.#left,
    };
  }

  async startSession(parts: CallSessionParts): Promise<void> {
    this.sessionStartedAt = Date.now();
    parts.session.input.audio = this.input;
    parts.session.output.audio = this.output;
    await parts.session.start({ agent: parts.agent });
    this.clock.start();
  }

  async hangUp(reason: string): Promise<void> {
    this.hangUps.push(reason);
    this.#leave('hung up');
    this.#close(reason);
  }

  /** Epoch ms at which agent audio first played, if it ever did. */
  firstAgentAudio(): number | undefined {
    const start = this.output.events.find((e) => e.kind === 'start');
    return start ? this.clock.epochAt(start.atMs) : undefined;
  }

  async dispose(): Promise<void> {
    await this.input.close();
    this.output.close();
  }
}

const reporter = (): CallReporter & { events: string[] } => {
  const events: string[] = [];
  return { events, report: (_id, type) => void events.push(type), flush: async () => {} };
};

describe('outbound call job', () => {
  const config = testConfig({}, 'offline');
  const log = createLogger(config);
  const codeTools = defaultCodeTools();
  const agents = loadAgentsFile(resolve(repoRoot, 'config/agents.example.yaml'), {
    codeToolNames: codeTools.names(),
    env: { TOOLS_SECRET: 'test-secret' },
  });
  let vad: VAD;
  let sessionsMade = 0;
  let factory: CallSessionFactory;

  beforeAll(async () => {
    initializeLogger({ pretty: false, level: 'error' });
    vad = await loadVAD(config);
    factory = async (args) => {
      sessionsMade++;
      const clock = new SimClock();
      return createPhoneSessionFactory({
        agents,
        codeTools,
        vad,
        env: { TOOLS_SECRET: 'test-secret' },
        models: () => ({
          stt: new ScriptedSTT({ clock }),
          llm: new ScriptedLLM(() => undefined),
          tts: new SyntheticTTS(),
        }),
        interruption: resolveSoftAckOptions(config),
        log,
      })(args);
    };
  }, 60_000);

  it('keeps the agent silent until the callee answers, then greets', async () => {
    const line = new CalleeLine([
      [100, 'ringing'],
      [1200, 'active'],
      [1300, 'left-after-greeting'],
    ]);
    const rep = reporter();
    const jobStart = Date.now();
    const summary = await runCallJob({
      transport: line,
      agents,
      createSession: factory,
      reporter: rep,
      log,
    });
    await line.dispose();
    const answeredAt = jobStart + 1200;
    expect(line.sessionStartedAt).toBeGreaterThanOrEqual(answeredAt - 20);
    const firstAudio = line.firstAgentAudio();
    expect(firstAudio).toBeDefined();
    expect(firstAudio!).toBeGreaterThanOrEqual(answeredAt);
    // The route for this campaign is the renewals agent, which greets on answer.
    expect(summary.agents).toEqual(['renewals']);
    expect(summary.transcript[0]?.text).toMatch(/calling about your contract/);
    expect(summary.outcome).toBe('completed');
    expect(summary.endedBy).toBe('caller');
    expect(rep.events).toEqual(['call.answered', 'call.summary']);
  }, 30_000);

  it('ends a call that is never answered, cleanly and without a session', async () => {
    const before = sessionsMade;
    const line = new CalleeLine([[100, 'ringing']]);
    const rep = reporter();
    const t0 = Date.now();
    const summary = await runCallJob({
      transport: line,
      agents,
      createSession: factory,
      reporter: rep,
      log,
      limits: { answerTimeoutMs: 1000 },
    });
    await line.dispose();
    // Ends at the 1 s answer timeout; the bound only catches a job that would hang on (it is
    // wide enough for a loaded machine).
    expect(Date.now() - t0).toBeLessThan(6000);
    expect(sessionsMade).toBe(before);
    expect(line.firstAgentAudio()).toBeUndefined();
    expect(line.hangUps).toEqual(['not answered']);
    expect(summary).toMatchObject({ outcome: 'no-answer', endedBy: 'system', reason: 'timeout' });
    expect(summary.transcript).toEqual([]);
    expect(rep.events).toEqual(['call.summary']);
  });

  it('ends a declined call (the callee hangs up while it rings)', async () => {
    const before = sessionsMade;
    const line = new CalleeLine([
      [100, 'ringing'],
      [300, 'hangup'],
    ]);
    const summary = await runCallJob({
      transport: line,
      agents,
      createSession: factory,
      reporter: reporter(),
      log,
      limits: { answerTimeoutMs: 10_000 },
    });
    await line.dispose();
    expect(sessionsMade).toBe(before);
    expect(summary).toMatchObject({ outcome: 'no-answer', reason: 'hangup' });
  });
});
