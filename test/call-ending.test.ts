/**
 * Ending calls, in real AgentSessions: the goodbye + hang-up tool chosen by a scripted LLM,
 * caller silence ("are you still there?", then goodbye), the maximum duration, and the caller
 * hanging up mid-sentence (the session stops at once; nothing is logged as an error).
 */
import { initializeLogger, type VAD, voice } from '@livekit/agents';
import * as silero from '@livekit/agents-plugin-silero';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { createLogger } from '../src/core/logger.js';
import { resample } from '../src/core/wav.js';
import { SimAudioInput } from '../src/sim/audio-input.js';
import { SimAudioOutput } from '../src/sim/audio-output.js';
import { SimClock } from '../src/sim/clock.js';
import { speak } from '../src/sim/offline-tts.js';
import { ScriptedLLM, type ScriptedRule } from '../src/sim/scripted-llm.js';
import { ScriptedSTT } from '../src/sim/scripted-stt.js';
import { SimCallMedia } from '../src/sim/sim-call-media.js';
import { SyntheticTTS } from '../src/sim/synthetic-tts.js';
import { createCallControl } from '../src/telephony/call-control.js';
import { createEndCallTool, endCallDefaults } from '../src/telephony/call-ending/end-call.js';
import { installCallEnding } from '../src/telephony/call-ending/install.js';

const CALLER = 'sip_+14155550142';
let vad: VAD;
let yes: Int16Array;
beforeAll(async () => {
  initializeLogger({ pretty: false, level: 'warn' });
  vad = await silero.VAD.load({ sampleRate: 8000 });
  yes = resample((await speak('Yes, I am here.', { sampleRate: 16000 })).samples, 16000, 8000);
});

const closers: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  vi.restoreAllMocks();
  for (const c of closers.splice(0)) await c().catch(() => undefined);
});

function said(session: voice.AgentSession): string[] {
  return session.history.items
    .filter((i) => i.type === 'message' && i.role === 'assistant')
    .map((i) => (i.type === 'message' ? (i.textContent ?? '') : ''));
}

/** A session with simulated phone audio both ways. */
async function audioCall(rule: ScriptedRule = () => undefined) {
  const clock = new SimClock();
  const input = new SimAudioInput({ clock, sampleRate: 8000 });
  const output = new SimAudioOutput({ clock });
  const stt = new ScriptedSTT({ clock });
  const session = new voice.AgentSession({
    vad,
    stt,
    llm: new ScriptedLLM(rule),
    tts: new SyntheticTTS({ msPerChar: 40, minMs: 300 }),
    turnHandling: { turnDetection: 'vad' },
  });
  session.input.audio = input;
  session.output.audio = output;
  const closed = new Promise<voice.CloseEvent & { at: number }>((r) =>
    session.once(voice.AgentSessionEventTypes.Close, (ev) => r({ ...ev, at: clock.now() })),
  );
  closers.push(
    () => session.close(),
    () => input.close(),
    async () => output.close(),
  );
  await session.start({ agent: new voice.Agent({ instructions: 'You are a receptionist.' }) });
  clock.start();
  return { clock, session, input, output, stt, closed };
}

describe('end_call tool', () => {
  it('the model says goodbye and hangs up; the session ends after the goodbye played', async () => {
    const { session, output, closed, clock } = await audioCall();
    const llm = new ScriptedLLM((t) =>
      /bye/.test(t.userText)
        ? { text: 'Thanks for calling, goodbye!', toolCalls: [{ name: 'end_call', args: {} }] }
        : undefined,
    );
    session.updateAgent(new voice.Agent({ instructions: 'x', llm, tools: [createEndCallTool()] }));
    await clock.sleepUntil(300);
    session.generateReply({ userInput: "That's all, bye" });
    const ev = await closed;
    expect(ev.reason).toBe('user_initiated');
    expect(said(session)).toEqual(['Thanks for calling, goodbye!']);
    const finish = output.events.find((e) => e.kind === 'finish');
    expect(finish).toBeDefined();
    expect(ev.at).toBeGreaterThanOrEqual(finish!.atMs);
  });

  it('a hang-up without words still says the configured goodbye first', async () => {
    const { session, closed, clock } = await audioCall();
    const llm = new ScriptedLLM((t) =>
      /bye/.test(t.userText) ? { toolCalls: [{ name: 'end_call', args: {} }] } : undefined,
    );
    session.updateAgent(new voice.Agent({ instructions: 'x', llm, tools: [createEndCallTool()] }));
    await clock.sleepUntil(300);
    session.generateReply({ userInput: 'bye' });
    const ev = await closed;
    expect(ev.reason).toBe('user_initiated');
    expect(said(session)).toEqual([endCallDefaults.goodbye]);
  });
});

describe('caller silence', () => {
  it('asks "are you still there?", then says goodbye and hangs up', async () => {
    const { session, closed, output } = await audioCall();
    installCallEnding(session, { silenceTimeoutMs: 1200 });
    const ev = await closed;
    expect(ev.reason).toBe('silence_timeout');
    expect(said(session)).toEqual([
      'Are you still there?',
      "I haven't heard from you, so I'll end the call now. Goodbye!",
    ]);
    const starts = output.events.filter((e) => e.kind === 'start').map((e) => e.atMs);
    const finishes = output.events.filter((e) => e.kind === 'finish').map((e) => e.atMs);
    expect(starts[0]).toBeGreaterThanOrEqual(1200);
    expect(starts[1]! - finishes[0]!).toBeGreaterThanOrEqual(1150);
  }, 20_000);

  it('a caller who answers the prompt keeps the call going', async () => {
    const { session, stt, clock, input } = await audioCall((t) =>
      t.userText ? 'Great, how can I help?' : undefined,
    );
    const ending = installCallEnding(session, { silenceTimeoutMs: 1200 });
    await clock.sleepUntil(2600);
    expect(said(session)).toEqual(['Are you still there?']);
    const at = clock.now() + 50;
    input.play(yes, at);
    stt.addUtterance({
      atMs: at,
      durationMs: (yes.length * 1000) / 8000,
      transcript: 'yes I am here',
    });
    await clock.sleepUntil(at + 4000);
    expect(said(session)).toContain('Great, how can I help?');
    expect(ending.endedBy).toBeUndefined();
  }, 20_000);
});

describe('maximum call duration', () => {
  it('says so and hangs up at the limit', async () => {
    const { session, closed } = await audioCall();
    installCallEnding(session, { silenceTimeoutMs: 0, maxDurationMs: 800 });
    const ev = await closed;
    expect(ev.reason).toBe('max_duration');
    expect(said(session)).toEqual([
      "We've reached the time limit for this call, so I have to end it now. Goodbye!",
    ]);
    expect(ev.at).toBeGreaterThanOrEqual(800);
  });
});

describe('caller hangs up mid-sentence', () => {
  it('stops the session at once, with no error logged', async () => {
    const written: string[] = [];
    const write = process.stdout.write.bind(process.stdout);
    vi.spyOn(process.stdout, 'write').mockImplementation(((
      chunk: string | Uint8Array,
      ...rest: never[]
    ) => {
      written.push(String(chunk));
      return write(chunk, ...rest);
    }) as typeof process.stdout.write);
    const lines: string[] = [];
    const log = createLogger(
      { LOG_LEVEL: 'debug', LOG_FULL_NUMBERS: false },
      { destination: { write: (s: string) => lines.push(s) } },
    );
    const media = new SimCallMedia();
    media.join(CALLER);
    const control = createCallControl({
      room: 'call_x',
      callerIdentity: CALLER,
      livekit: {} as never,
      media,
      log,
    });

    const { session, output, closed, clock } = await audioCall();
    installCallEnding(session, { silenceTimeoutMs: 0, control });
    session.say(
      'Our opening hours are nine to five on weekdays, and ten to two on Saturdays, closed on Sundays and holidays.',
    );
    await clock.sleepUntil(1500);
    expect(output.playing).toBe(true);
    // The agent's voice stops at once; the session (STT, VAD streams) is closed shortly after.
    // "At once" and "shortly" are orderings against timers of ours started at the hang-up
    // (timers fire in the order they expire, however late a loaded machine runs them).
    const cleared = new Promise<void>((resolve) => {
      const clearBuffer = output.clearBuffer.bind(output);
      output.clearBuffer = () => {
        clearBuffer();
        resolve();
      };
    });
    const timer = (ms: number) =>
      new Promise<'timer'>((resolve) => setTimeout(() => resolve('timer'), ms));
    const in150 = timer(150);
    const in1500 = timer(1500);
    media.leave(CALLER);
    expect(await Promise.race([cleared.then(() => 'cleared' as const), in150])).toBe('cleared');
    expect(await Promise.race([closed.then(() => 'closed' as const), in1500])).toBe('closed');
    const ev = await closed;

    expect(ev.reason).toBe('participant_disconnected');
    expect(ev.error ?? null).toBeNull();
    const clear = output.events.at(-1)!;
    expect(clear.kind).toBe('clear');
    const errors = [...written, ...lines].filter((l) => /"level":(50|60)/.test(l));
    expect(errors).toEqual([]);
  });
});
