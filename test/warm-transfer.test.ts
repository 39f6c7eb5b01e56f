/**
 * Warm transfer on a self-hosted server (docs/transfers.md), chosen by a scripted LLM in a real
 * AgentSession; the human's line is a second, real AgentSession (the consultation). The LiveKit
 * stand-in is the server: the SIP and room requests each outcome makes, in order, with grants.
 *
 * Accepted (speech, and key 1) / declined (key 2) / no answer / voicemail (real audio: an
 * eSpeak greeting through Silero VAD into voice.AMD).
 */
import { initializeLogger, type llm, type VAD, voice } from '@livekit/agents';
import * as silero from '@livekit/agents-plugin-silero';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { TransferSpec } from '../src/agents/agents-schema.js';
import { resample } from '../src/core/wav.js';
import { SimAudioInput } from '../src/sim/audio-input.js';
import { SimAudioOutput } from '../src/sim/audio-output.js';
import { SimClock } from '../src/sim/clock.js';
import { speak } from '../src/sim/offline-tts.js';
import { ScriptedLLM } from '../src/sim/scripted-llm.js';
import { ScriptedSTT } from '../src/sim/scripted-stt.js';
import { trackOf } from '../src/sim/sim-call-media.js';
import { SyntheticTTS } from '../src/sim/synthetic-tts.js';
import { createTelephonyTools, type TransferMark } from '../src/telephony/tools.js';
import { superviseBridge } from '../src/telephony/transfer/bridge.js';
import { briefingText } from '../src/telephony/transfer/consult-agent.js';
import { defaultHoldAudio } from '../src/telephony/transfer/hold-audio.js';
import { NUMBERS, type RecordedRequest } from './standin/index.js';
import { type StandinCall, startStandinCall } from './support/telephony-call.js';

let vad: VAD;
beforeAll(async () => {
  initializeLogger({ pretty: false, level: 'error' });
  vad = await silero.VAD.load({ sampleRate: 8000 });
});

const SUMMARY =
  'Maria Lopez is calling about a double charge on invoice 1042; a refund request was already filed.';

let call: StandinCall | undefined;
const sessions: voice.AgentSession[] = [];
afterEach(async () => {
  for (const s of sessions.splice(0)) await s.close().catch(() => undefined);
  await call?.close();
  call = undefined;
});

/** The main agent: asks for a warm transfer with a summary, then reports what happened. */
const mainModel = () =>
  new ScriptedLLM((turn) => {
    if (turn.toolOutput)
      return 'I am sorry, nobody from billing can take your call right now. I can take a message or arrange a call back.';
    if (/person/i.test(turn.userText)) {
      return {
        text: 'Of course, I will get someone from billing. Please hold for a moment.',
        toolCalls: [{ name: 'billing_desk', args: { summary: SUMMARY } }],
      };
    }
    return 'How can I help?';
  });

/** The consultation's LLM: the human's words → accept / decline; AMD's question → the verdict. */
const consultModel = (verdict = 'human') =>
  new ScriptedLLM((turn) => {
    if (turn.tools.includes('save_prediction')) {
      return { toolCalls: [{ name: 'save_prediction', args: { label: verdict } }] };
    }
    if (/yes|put them through/i.test(turn.userText))
      return { toolCalls: [{ name: 'accept_transfer', args: {} }] };
    if (/no|can't/i.test(turn.userText))
      return { toolCalls: [{ name: 'decline_transfer', args: {} }] };
    return undefined;
  });

interface Setup {
  to: string;
  /** Audio-mode consultation (for the voicemail case): caller line clip placed at 300 ms. */
  humanAudio?: { samples: Int16Array; transcript: string };
  amd?: boolean;
  verdict?: string;
  ringTimeoutS?: number;
  /** The destination as the agents file writes it (default `tel:<to>`). */
  target?: string;
  /** No outbound trunk configured. */
  noTrunk?: boolean;
  decisionTimeoutMs?: number;
}

async function start(s: Setup) {
  const consultLlm = consultModel(s.verdict);
  const clock = new SimClock();
  const consultOutput = new SimAudioOutput({ clock, recordSampleRate: 8000 });
  call = await startStandinCall({
    media: {
      startSideSession: async (session, agent) => {
        sessions.push(session);
        if (s.humanAudio) {
          const input = new SimAudioInput({ clock, sampleRate: 8000 });
          const stt = session.stt as ScriptedSTT;
          session.input.audio = input;
          session.output.audio = consultOutput;
          await session.start({ agent });
          clock.start();
          const ms = (s.humanAudio.samples.length * 1000) / 8000;
          input.play(s.humanAudio.samples, 300);
          stt.addUtterance({ atMs: 300, durationMs: ms, transcript: s.humanAudio.transcript });
        } else {
          await session.start({ agent });
        }
      },
    },
  });
  const c = call;
  const transfers: TransferSpec[] = [
    {
      name: 'billing_desk',
      to: s.target ?? `tel:${s.to}`,
      description: 'A person in billing.',
      mode: 'warm',
    },
  ];
  const events: { type: string; data: Record<string, unknown> }[] = [];
  const tools = createTelephonyTools({
    control: c.control,
    direction: 'inbound',
    transfers,
    ringTimeoutS: s.ringTimeoutS ?? 5,
    warm: {
      trunkId: s.noTrunk ? undefined : c.outboundTrunkId,
      decisionTimeoutMs: s.decisionTimeoutMs ?? 4000,
      hold: defaultHoldAudio(),
      createConsultSession: () =>
        new voice.AgentSession({
          llm: consultLlm,
          ...(s.humanAudio
            ? {
                vad,
                stt: new ScriptedSTT({ clock }),
                tts: new SyntheticTTS(),
                turnHandling: { turnDetection: 'vad' as const },
              }
            : {}),
        }),
      ...(s.amd ? { amd: { noSpeechTimeoutMs: 3000 } } : {}),
    },
    report: (type, data) => events.push({ type, data }),
  });
  const main = new voice.AgentSession<TransferMark>({ llm: mainModel(), userData: {} });
  sessions.push(main);
  await main.start({ agent: new voice.Agent({ instructions: 'You are a receptionist.', tools }) });
  const human = () =>
    c.lk.state.calls.size > 1 ? [...c.lk.state.calls.values()][1]!.identity : undefined;
  return { call: c, main, events, consultLlm, human, consultOutput };
}

/** Resolves once the consultation read its briefing. */
async function briefed(c: StandinCall): Promise<voice.AgentSession> {
  for (let i = 0; i < 200; i++) {
    const side = c.media.sideSessions[0]?.session;
    const said = side?.history.items.some(
      (it) =>
        it.type === 'message' &&
        it.role === 'assistant' &&
        (it.textContent ?? '').includes('caller on hold'),
    );
    if (side && said) return side;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('the human was never briefed');
}

const call_ = (r: RecordedRequest) => `${r.method}`;
const subs = (r: RecordedRequest) => {
  const b = r.body as { identity: string; trackSids: string[]; subscribe?: boolean };
  return { who: b.identity, tracks: b.trackSids, subscribe: b.subscribe ?? false };
};

/**
 * The transfer did not happen: the agent announced it, called the tool, was told `why`, and then
 * spoke to the caller again (its reply is returned).
 */
function expectNoTransfer(result: voice.testing.RunResult, why: string) {
  result.expect.nextEvent().isMessage({ role: 'assistant' });
  result.expect.nextEvent().isFunctionCall({ name: 'billing_desk' });
  const out = result.expect.nextEvent().isFunctionCallOutput().event();
  expect((out.item as llm.FunctionCallOutput).output).toContain(why);
  return result.expect.nextEvent().isMessage({ role: 'assistant' }).event();
}

describe('warm transfer', () => {
  it('accepted by speech: caller on hold, human dialed, isolated, briefed, then bridged', async () => {
    const { call, main, events, human } = await start({ to: NUMBERS.answers });
    const run = main.run({ userInput: 'Can I talk to a person?' });
    const consult = await briefed(call);
    const briefAt = Date.now();
    const h = human()!;
    expect(h).toMatch(/^transfer_/);
    consult.generateReply({ userInput: 'Yes, put them through.' });
    const result = await run.wait();

    result.expect.nextEvent().isMessage({ role: 'assistant' });
    result.expect.nextEvent().isFunctionCall({ name: 'billing_desk' });
    // The agent left the conversation: its session closed without another word.
    expect(
      main.history.items.filter((i) => i.type === 'message' && i.role === 'assistant'),
    ).toHaveLength(1);

    const reqs = call.callRequests();
    const caller = call.caller;
    const K = call.media.sideSessions[0]!.trackSid;
    const hold = call.media.holds[0]!;
    expect(reqs.map(call_)).toEqual([
      'CreateSIPParticipant',
      'UpdateParticipant', // human may not subscribe while dialing
      'UpdateSubscriptions', // caller off the human's track
      'UpdateSubscriptions', // caller off the consultation voice
      'UpdateSubscriptions', // human: pending subscriptions to caller/hold/main voice cancelled
      'UpdateParticipant', // human may subscribe again (the consultation voice only)
      'UpdateSubscriptions', // late subscriptions cancelled again
      'UpdateSubscriptions', // bridge: caller hears human
      'UpdateSubscriptions', // bridge: human hears caller
    ]);
    const dial = reqs[0]!;
    expect(dial.body).toMatchObject({
      sipTrunkId: call.outboundTrunkId,
      sipCallTo: NUMBERS.answers,
      roomName: call.room,
      participantIdentity: h,
      waitUntilAnswered: true,
      ringingTimeout: '5s',
    });
    expect((dial.body as { playDialtone?: boolean }).playDialtone ?? false).toBe(false);
    expect(dial.grants?.sip?.call).toBe(true);
    // Protobuf JSON omits false: the permission granted is publish only (and the SIP bridge's
    // own attribute updates, which LiveKit refuses without canUpdateMetadata).
    expect(reqs[1]!.body).toEqual({
      room: call.room,
      identity: h,
      permission: { canPublish: true, canPublishData: true, canUpdateMetadata: true },
    });
    expect(subs(reqs[2]!)).toEqual({ who: caller, tracks: [trackOf(h)], subscribe: false });
    expect(subs(reqs[3]!)).toEqual({ who: caller, tracks: [K], subscribe: false });
    expect(subs(reqs[4]!)).toEqual({
      who: h,
      tracks: [trackOf(caller), hold.trackSid, 'TR_agent_voice'],
      subscribe: false,
    });
    expect(reqs[5]!.body).toMatchObject({ identity: h, permission: { canSubscribe: true } });
    expect(subs(reqs[6]!)).toEqual(subs(reqs[4]!));
    expect(subs(reqs[7]!)).toEqual({ who: caller, tracks: [trackOf(h)], subscribe: true });
    expect(subs(reqs[8]!)).toEqual({ who: h, tracks: [trackOf(caller)], subscribe: true });
    for (const r of reqs.slice(1))
      expect(r.grants?.video).toMatchObject({ roomAdmin: true, room: call.room });
    // Nothing was said to the human before the caller was cut off the consultation voice.
    expect(reqs[3]!.at).toBeLessThanOrEqual(briefAt);
    // The briefing carries the summary.
    const said = consult.history.items.filter(
      (i) => i.type === 'message' && i.role === 'assistant',
    );
    expect((said[0] as llm.ChatMessage).textContent).toBe(briefingText(SUMMARY));

    expect(hold.stoppedAt).toBeDefined();
    expect(main.userData.transfer).toEqual({
      mode: 'warm',
      to: `tel:${NUMBERS.answers}`,
      humanIdentity: h,
    });
    expect(events).toEqual([
      {
        type: 'call.transferred',
        data: { to: `tel:${NUMBERS.answers}`, mode: 'warm', destination: 'billing_desk' },
      },
    ]);
    // Both phones are still in the room, talking; no one was removed.
    const left = call.lk
      .participants(call.room)
      .map((p) => p.identity)
      .sort();
    expect(left).toEqual([caller, h].sort());

    // The job supervises the bridged call: one side hanging up ends it for both.
    const end = superviseBridge(call.control, { humanIdentity: h });
    call.lk.hangup(call.room, h);
    expect(await end).toBe('human-left');
  });

  it('accepted with key 1', async () => {
    const { call, main, human } = await start({ to: NUMBERS.answers });
    const run = main.run({ userInput: 'A person please' });
    await briefed(call);
    await call.media.pressDigits(human()!, '1');
    await run.wait();
    expect(main.userData.transfer?.mode).toBe('warm');
    expect(
      call
        .callRequests()
        .slice(-2)
        .map(subs)
        .map((s) => s.subscribe),
    ).toEqual([true, true]);
  });

  it('declined with key 2: the human is removed and the agent offers a fallback', async () => {
    const { call, main, events, human } = await start({ to: NUMBERS.answers });
    const run = main.run({ userInput: 'A person please' });
    await briefed(call);
    const h = human()!;
    await call.media.pressDigits(h, '2');
    const result = await run.wait();

    const reply = expectNoTransfer(result, 'the call was declined');
    expect((reply.item as llm.ChatMessage).textContent).toContain('take a message');

    const reqs = call.callRequests();
    const last = reqs.at(-1)!;
    expect(last.method).toBe('RemoveParticipant');
    expect(last.body).toMatchObject({ room: call.room, identity: h });
    expect(reqs.some((r) => r.method === 'UpdateSubscriptions' && subs(r).subscribe)).toBe(false);
    expect(call.lk.participants(call.room).map((p) => p.identity)).toEqual([call.caller]);
    expect(call.media.holds[0]!.stoppedAt).toBeDefined();
    expect(main.userData.transferredTo).toBeUndefined();
    expect(main.input.audioEnabled).toBe(true);
    expect(events).toEqual([]);
  });

  it('no answer: the ringing times out, the agent is back with the caller', async () => {
    const { call, main } = await start({ to: NUMBERS.noAnswer, ringTimeoutS: 1 });
    const result = await main.run({ userInput: 'A person please' }).wait();
    expectNoTransfer(result, 'nobody answered');

    const reqs = call.callRequests();
    expect(reqs.map((r) => [r.method, r.status])).toEqual([
      ['CreateSIPParticipant', 408],
      ['UpdateParticipant', 200],
      ['UpdateSubscriptions', 200],
    ]);
    expect(reqs[0]!.code).toBe('canceled');
    expect(call.media.sideSessions).toEqual([]);
    expect(call.media.holds[0]!.stoppedAt).toBeDefined();
    expect(main.userData.transferredTo).toBeUndefined();
  });

  it('voicemail on the human line: detected from the greeting, hung up, agent back', async () => {
    const text = "Hi, you've reached Dana in billing. Please leave a message after the tone.";
    const tts = await speak(text, { sampleRate: 16000 });
    const samples = resample(tts.samples, 16000, 8000);
    const { call, main, consultLlm, consultOutput } = await start({
      to: NUMBERS.answers,
      amd: true,
      verdict: 'machine-vm',
      humanAudio: { samples, transcript: text },
    });
    const result = await main.run({ userInput: 'A person please' }).wait();
    expectNoTransfer(result, 'went to voicemail');

    // AMD classified the transcript of the greeting; the briefing was never read.
    expect(consultLlm.calls.some((c) => c.userText.includes('leave a message'))).toBe(true);
    expect(consultOutput.events.filter((e) => e.kind === 'start')).toEqual([]);
    const reqs = call.callRequests();
    expect(reqs.at(-1)!.method).toBe('RemoveParticipant');
    expect(reqs.some((r) => r.method === 'UpdateSubscriptions' && subs(r).subscribe)).toBe(false);
    expect(main.userData.transferredTo).toBeUndefined();
  }, 30_000);

  describe('when it does not go through', () => {
    const said = (session: voice.AgentSession) =>
      session.history.items
        .filter((i) => i.type === 'message' && i.role === 'assistant')
        .map((i) => (i as llm.ChatMessage).textContent);
    const removed = (c: StandinCall, who: string) =>
      c
        .callRequests()
        .some(
          (r) =>
            r.method === 'RemoveParticipant' && (r.body as { identity?: string }).identity === who,
        );
    const bridged = (c: StandinCall) =>
      c.callRequests().some((r) => r.method === 'UpdateSubscriptions' && subs(r).subscribe);

    it.each([
      ['a SIP address', 'sip:billing@pbx.example.com'],
      ['a number that is not E.164', 'tel:0800 123'],
    ])(
      'a destination that is %s: nothing is dialed, no hold, the agent is told',
      async (_w, target) => {
        const { call, main } = await start({ to: NUMBERS.answers, target });
        const result = await main.run({ userInput: 'A person please' }).wait();
        expectNoTransfer(result, 'a technical problem prevented it');
        expect(call.callRequests()).toEqual([]);
        expect(call.media.holds).toEqual([]);
        expect(main.input.audioEnabled).toBe(true);
      },
    );

    it('no outbound trunk configured: nothing is dialed, the agent is told', async () => {
      const { call, main } = await start({ to: NUMBERS.answers, noTrunk: true });
      const result = await main.run({ userInput: 'A person please' }).wait();
      expectNoTransfer(result, 'a technical problem prevented it');
      expect(call.callRequests()).toEqual([]);
    });

    it.each([
      ['busy (486)', NUMBERS.busy, 'the line was busy'],
      ['declined (603)', NUMBERS.declined, 'the call was declined'],
      ['unreachable (503)', NUMBERS.unreachable, 'the number could not be reached'],
    ])('the human’s line is %s: the hold ends and the agent says so', async (_w, to, why) => {
      const { call, main, events } = await start({ to });
      const result = await main.run({ userInput: 'A person please' }).wait();
      expectNoTransfer(result, why);
      const reqs = call.callRequests();
      expect(reqs[0]!.method).toBe('CreateSIPParticipant');
      expect(reqs[0]!.status).toBeGreaterThanOrEqual(400);
      // The failed SIP participant leaves by itself: nobody to remove, nothing bridged.
      expect(reqs.some((r) => r.method === 'RemoveParticipant')).toBe(false);
      expect(bridged(call)).toBe(false);
      expect(call.media.sideSessions).toEqual([]);
      expect(call.media.holds[0]!.stoppedAt).toBeDefined();
      expect(main.input.audioEnabled).toBe(true);
      expect(events).toEqual([]);
    });

    it('declined by speech: the consultation says goodbye, the human is removed, agent back', async () => {
      const { call, main, human } = await start({ to: NUMBERS.answers });
      const run = main.run({ userInput: 'A person please' });
      const consult = await briefed(call);
      const h = human()!;
      consult.generateReply({ userInput: "No, I can't take it right now." });
      const result = await run.wait();
      expectNoTransfer(result, 'the call was declined');
      expect(said(consult).at(-1)).toBe('Okay, thank you. Goodbye.');
      expect(removed(call, h)).toBe(true);
      expect(bridged(call)).toBe(false);
      expect(call.media.holds[0]!.stoppedAt).toBeDefined();
      expect(main.userData.transfer).toBeUndefined();
    });

    it('no decision before the timeout: the human is removed without a goodbye, agent back', async () => {
      const { call, main, human } = await start({ to: NUMBERS.answers, decisionTimeoutMs: 300 });
      const run = main.run({ userInput: 'A person please' });
      const consult = await briefed(call);
      const h = human()!;
      const result = await run.wait();
      expectNoTransfer(result, 'they could not take the call right now');
      expect(said(consult)).not.toContain('Okay, thank you. Goodbye.');
      expect(removed(call, h)).toBe(true);
      expect(bridged(call)).toBe(false);
    });

    it('the human hangs up during the consultation: nobody to remove, agent back', async () => {
      const { call, main, human } = await start({ to: NUMBERS.answers });
      const run = main.run({ userInput: 'A person please' });
      const consult = await briefed(call);
      const h = human()!;
      call.lk.hangup(call.room, h);
      const result = await run.wait();
      expectNoTransfer(result, 'the call was declined');
      expect(said(consult)).not.toContain('Okay, thank you. Goodbye.');
      expect(removed(call, h)).toBe(false);
      expect(bridged(call)).toBe(false);
      expect(call.media.holds[0]!.stoppedAt).toBeDefined();
      expect(main.userData.transfer).toBeUndefined();
    });

    it('the caller hangs up during the consultation: the human is removed, nothing bridged', async () => {
      const { call, main, human, events } = await start({ to: NUMBERS.answers });
      const run = main.run({ userInput: 'A person please' });
      await briefed(call);
      const h = human()!;
      call.lk.hangup(call.room, call.caller);
      await run.wait();
      expect(removed(call, h)).toBe(true);
      expect(bridged(call)).toBe(false);
      expect(call.lk.participants(call.room).map((p) => p.identity)).toEqual([]);
      expect(call.media.holds[0]!.stoppedAt).toBeDefined();
      expect(main.userData.transfer).toBeUndefined();
      expect(events).toEqual([]);
    });

    it('the caller hangs up while the human’s phone rings: the dial is cancelled', async () => {
      const { call, main, human } = await start({ to: NUMBERS.noAnswer, ringTimeoutS: 20 });
      const run = main.run({ userInput: 'A person please' });
      for (let i = 0; i < 100 && !human(); i++) await new Promise((r) => setTimeout(r, 20));
      const h = human()!;
      call.lk.hangup(call.room, call.caller);
      await run.wait();
      // Removing the ringing participant stops the ringing (long before the 20 s timeout).
      expect(removed(call, h)).toBe(true);
      expect(call.media.sideSessions).toEqual([]);
      expect(main.userData.transfer).toBeUndefined();
    });

    it('a failed subscription update while isolating: the briefing is never read, the human is removed', async () => {
      const { call, main, human } = await start({ to: NUMBERS.answers });
      const setSubscribed = call.control.setSubscribed.bind(call.control);
      // LiveKit refuses to take the caller off the consultation voice: the caller would hear it.
      call.control.setSubscribed = async (identity, tracks, subscribe) => {
        const k = call.media.sideSessions[0]?.trackSid;
        if (identity === call.caller && !subscribe && k && tracks.includes(k)) {
          throw new Error('twirp error unavailable: update subscriptions failed');
        }
        return setSubscribed(identity, tracks, subscribe);
      };
      const result = await main.run({ userInput: 'A person please' }).wait();
      expectNoTransfer(result, 'a technical problem prevented it');
      const consult = call.media.sideSessions[0]!.session;
      expect(said(consult)).toEqual([]);
      expect(removed(call, human()!)).toBe(true);
      expect(bridged(call)).toBe(false);
      expect(main.userData.transfer).toBeUndefined();
    });

    it('a failed subscription update while bridging: the transfer is not reported done, the agent is back', async () => {
      const { call, main, human, events } = await start({ to: NUMBERS.answers });
      const setSubscribed = call.control.setSubscribed.bind(call.control);
      call.control.setSubscribed = async (identity, tracks, subscribe) => {
        if (identity === call.caller && subscribe) {
          throw new Error('twirp error unavailable: update subscriptions failed');
        }
        return setSubscribed(identity, tracks, subscribe);
      };
      const run = main.run({ userInput: 'A person please' });
      await briefed(call);
      const h = human()!;
      await call.media.pressDigits(h, '1');
      const result = await run.wait();
      expectNoTransfer(result, 'a technical problem prevented it');
      expect(removed(call, h)).toBe(true);
      expect(main.userData.transfer).toBeUndefined();
      expect(main.input.audioEnabled).toBe(true);
      expect(events).toEqual([]);
    });
  });
});
