/**
 * Outbound call answered by voicemail, on real audio through a real AgentSession: an eSpeak
 * greeting and a generated beep on the line, Silero VAD, voice.AMD with a scripted classifier,
 * the Goertzel beep detector. The message must start only after the beep; then the call is
 * hung up and `call.voicemail` reported. Also: the hang-up policy, a human answering, and the
 * beep detector on its own (tone found, speech never taken for a beep).
 */
import { initializeLogger, type VAD, voice } from '@livekit/agents';
import * as silero from '@livekit/agents-plugin-silero';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { createLogger } from '../src/core/logger.js';
import { resample } from '../src/core/wav.js';
import { SimAudioInput } from '../src/sim/audio-input.js';
import { SimAudioOutput } from '../src/sim/audio-output.js';
import { SimClock } from '../src/sim/clock.js';
import { noise } from '../src/sim/noise.js';
import { speak } from '../src/sim/offline-tts.js';
import { ScriptedLLM } from '../src/sim/scripted-llm.js';
import { ScriptedSTT } from '../src/sim/scripted-stt.js';
import { SyntheticTTS } from '../src/sim/synthetic-tts.js';
import {
  type AnsweringMachineOptions,
  handleAnsweringMachine,
  NO_SPEECH_MS,
} from '../src/telephony/voicemail/answering-machine.js';
import { BeepDetector } from '../src/telephony/voicemail/beep-detector.js';

const RATE = 8000;
let vad: VAD;
let greeting: Int16Array;
let hello: Int16Array;
const GREETING =
  "Hi, you've reached Dana. I can't take your call right now. Please leave a message after the tone.";
const MESSAGE = 'Hi Dana, this is Acme calling about your order. Please call us back. Thank you.';
/** The agent's greeting: queued at the start of the check, heard only by a person. */
const AGENT_GREETING = 'Hello, this is Ava from Acme, calling about your order.';

beforeAll(async () => {
  initializeLogger({ pretty: false, level: 'error' });
  vad = await silero.VAD.load({ sampleRate: RATE });
  greeting = resample((await speak(GREETING, { sampleRate: 16000 })).samples, 16000, RATE);
  hello = resample((await speak('Hello?', { sampleRate: 16000 })).samples, 16000, RATE);
});

function tone(freq: number, ms: number, amp = 0.3): Int16Array {
  const n = Math.round((RATE * ms) / 1000);
  const out = new Int16Array(n);
  for (let i = 0; i < n; i++)
    out[i] = Math.round(amp * 32767 * Math.sin((2 * Math.PI * freq * i) / RATE));
  return out;
}

const closers: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of closers.splice(0)) await c().catch(() => undefined);
});

/** Who answered → the classifier's verdict (the LLM reads the greeting transcript). */
const classifier = () =>
  new ScriptedLLM((t) => {
    if (t.tools.includes('save_prediction')) {
      const label = /leave a message/i.test(t.userText) ? 'machine-vm' : 'human';
      return { toolCalls: [{ name: 'save_prediction', args: { label } }] };
    }
    return 'Hi, this is Acme calling about your order.';
  });

async function outboundCall(
  clip: { samples: Int16Array; transcript: string },
  beepAtGap?: number,
  /** false: a session without an LLM, so the check has no classifier to run. */
  withLlm = true,
) {
  const clock = new SimClock();
  const input = new SimAudioInput({ clock, sampleRate: RATE });
  const output = new SimAudioOutput({ clock, recordSampleRate: RATE });
  const stt = new ScriptedSTT({ clock });
  const model = classifier();
  const session = new voice.AgentSession({
    vad,
    stt,
    ...(withLlm ? { llm: model } : {}),
    tts: new SyntheticTTS(),
    turnHandling: { turnDetection: 'vad' },
  });
  session.input.audio = input;
  session.output.audio = output;
  const closed = new Promise<voice.CloseEvent>((r) =>
    session.once(voice.AgentSessionEventTypes.Close, r),
  );
  await session.start({
    agent: new voice.Agent({ instructions: 'You call customers about orders.' }),
  });
  closers.push(
    () => session.close(),
    () => input.close(),
    async () => output.close(),
  );
  const at = 500;
  const clipMs = (clip.samples.length * 1000) / RATE;
  input.play(clip.samples, at);
  if (clip.transcript)
    stt.addUtterance({ atMs: at, durationMs: clipMs, transcript: clip.transcript });
  let beep: { startMs: number; endMs: number } | undefined;
  if (beepAtGap !== undefined) {
    const startMs = at + clipMs + beepAtGap;
    input.play(tone(1000, 500), startMs);
    beep = { startMs, endMs: startMs + 500 };
  }
  return { clock, session, output, model, closed, beep };
}

function options(
  session: voice.AgentSession,
  events: unknown[],
  o: Partial<AnsweringMachineOptions> = {},
): AnsweringMachineOptions {
  return {
    action: 'message',
    message: MESSAGE,
    greet: () => session.say(AGENT_GREETING),
    beepTimeoutMs: 4000,
    report: (type, data) => events.push({ type, data }),
    log: createLogger({ LOG_LEVEL: 'silent', LOG_FULL_NUMBERS: false }),
    amd: { machineSilenceThresholdMs: 800 },
    ...o,
  };
}

describe('voicemail on an outbound call', () => {
  it('leaves the message after the beep, then hangs up and reports call.voicemail; the greeting never plays', async () => {
    const call = await outboundCall({ samples: greeting, transcript: GREETING }, 400);
    const events: unknown[] = [];
    const pending = handleAnsweringMachine(call.session, options(call.session, events));
    call.clock.start();
    const outcome = await pending;
    const closed = await call.closed;

    expect(outcome.category).toBe('machine-vm');
    expect(outcome.action).toBe('message-left');
    expect(outcome.beep?.freqHz).toBeGreaterThan(980);
    expect(outcome.beep?.freqHz).toBeLessThan(1020);
    // The detector's timeline starts with the session's audio, i.e. at clock 0 (± a frame or two).
    expect(Math.abs(outcome.beep!.startMs - call.beep!.startMs)).toBeLessThan(100);

    const starts = call.output.events.filter((e) => e.kind === 'start');
    expect(starts).toHaveLength(1);
    expect(starts[0]!.atMs).toBeGreaterThanOrEqual(call.beep!.endMs);
    const finish = call.output.events.find((e) => e.kind === 'finish');
    expect(finish).toBeDefined();
    const said = call.session.history.items.filter(
      (i) => i.type === 'message' && i.role === 'assistant',
    );
    expect(said.map((i) => (i.type === 'message' ? i.textContent : ''))).toEqual([MESSAGE]);

    expect(closed.reason).toBe('voicemail');
    expect(events).toEqual([
      {
        type: 'call.voicemail',
        data: { category: 'machine-vm', action: 'message-left', beepHeard: true },
      },
    ]);
    expect(call.model.calls.some((c) => c.userText.includes('leave a message'))).toBe(true);
  }, 30_000);

  it('hang-up policy: nothing said (not even the greeting), the call ends and is reported', async () => {
    const call = await outboundCall({ samples: greeting, transcript: GREETING }, 400);
    const events: unknown[] = [];
    const pending = handleAnsweringMachine(
      call.session,
      options(call.session, events, { action: 'hangup' }),
    );
    call.clock.start();
    const outcome = await pending;
    await call.closed;
    expect(outcome).toMatchObject({ category: 'machine-vm', action: 'hung-up' });
    expect(call.output.events.filter((e) => e.kind === 'start')).toEqual([]);
    expect(events).toEqual([
      { type: 'call.voicemail', data: { category: 'machine-vm', action: 'hung-up' } },
    ]);
  }, 30_000);

  it('a human answering: nothing before the verdict, then the greeting answers "Hello?"', async () => {
    const call = await outboundCall({ samples: hello, transcript: 'Hello?' });
    const events: unknown[] = [];
    const pending = handleAnsweringMachine(call.session, options(call.session, events));
    call.clock.start();
    const outcome = await pending;
    expect(outcome).toEqual({ category: 'human', action: 'none' });
    // Nothing played before the verdict (the greeting waited for it).
    const helloEndMs = 500 + (hello.length * 1000) / RATE;
    const deadline = Date.now() + 5000;
    while (!call.output.events.some((e) => e.kind === 'finish') && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
    }
    await new Promise((r) => setTimeout(r, 500));
    const starts = call.output.events.filter((e) => e.kind === 'start');
    expect(starts).toHaveLength(1);
    expect(starts[0]!.atMs).toBeGreaterThan(helloEndMs);
    const said = call.session.history.items
      .filter((i) => i.type === 'message' && i.role === 'assistant')
      .map((i) => (i.type === 'message' ? i.textContent : ''));
    // The held reply to "Hello?" made way for the greeting.
    expect(said).toEqual([AGENT_GREETING]);
    expect(events).toEqual([]);
  }, 30_000);

  it('a callee who says nothing is greeted after the no-speech wait', async () => {
    const call = await outboundCall({ samples: new Int16Array(RATE * 6), transcript: '' });
    const pending = handleAnsweringMachine(call.session, options(call.session, []));
    call.clock.start();
    expect(await pending).toEqual({ category: 'uncertain', action: 'none' });
    const deadline = Date.now() + 5000;
    while (!call.output.events.some((e) => e.kind === 'start') && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
    }
    const starts = call.output.events.filter((e) => e.kind === 'start');
    expect(starts).toHaveLength(1);
    expect(starts[0]!.atMs).toBeGreaterThanOrEqual(NO_SPEECH_MS);
    expect(starts[0]!.atMs).toBeLessThan(NO_SPEECH_MS + 1500);
  }, 30_000);

  it('a failed check stops listening for the beep (no per-frame work for the rest of the call)', async () => {
    const push = vi.spyOn(BeepDetector.prototype, 'push');
    try {
      const call = await outboundCall({ samples: greeting, transcript: GREETING }, 400, false);
      call.clock.start();
      await expect(handleAnsweringMachine(call.session, options(call.session, []))).rejects.toThrow(
        /no LLM available/,
      );
      // The line keeps delivering frames to the session (a reader of our own counts them, up
      // to the greeting's end); none reaches the detector.
      const line = call.session._subscribeAudioStream();
      if (!line) throw new Error('the session has no audio input');
      const reader = line.getReader();
      let frames = 0;
      let heardMs = 0;
      while (heardMs < 1500) {
        const { done, value } = await reader.read();
        if (done) break;
        frames++;
        heardMs += (value.samplesPerChannel * 1000) / value.sampleRate;
      }
      await reader.cancel();
      expect(frames).toBeGreaterThan(10);
      expect(heardMs).toBeGreaterThanOrEqual(1500);
      expect(push).not.toHaveBeenCalled();
    } finally {
      push.mockRestore();
    }
  }, 30_000);
});

describe('beep detector', () => {
  it('finds a 1 kHz beep in line noise, with its start and end', () => {
    const d = new BeepDetector();
    const line = new Int16Array(RATE * 2);
    const n = noise('pink', line.length, 7);
    for (let i = 0; i < line.length; i++) line[i] = Math.round(n[i]! * 300);
    const beep = tone(1000, 400);
    for (let i = 0; i < beep.length; i++) line[RATE + i]! += beep[i]!;
    const found = d.push(line, RATE);
    expect(found).toHaveLength(1);
    expect(found[0]!.freqHz).toBeGreaterThan(985);
    expect(found[0]!.freqHz).toBeLessThan(1015);
    expect(Math.abs(found[0]!.startMs - 1000)).toBeLessThanOrEqual(30);
    expect(Math.abs(found[0]!.endMs - 1400)).toBeLessThanOrEqual(30);
  });

  it('never takes speech for a beep, nor a tone shorter than 120 ms', () => {
    const d = new BeepDetector();
    expect(d.push(greeting, RATE)).toEqual([]);
    expect(d.push(hello, RATE)).toEqual([]);
    expect(d.push(tone(800, 60), RATE)).toEqual([]);
    expect(d.push(new Int16Array(RATE / 2), RATE)).toEqual([]);
  });
});
