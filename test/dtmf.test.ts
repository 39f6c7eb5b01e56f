/**
 * DTMF in a real AgentSession (text mode) with a scripted LLM: menu keys routed like spoken
 * choices, digit collection (terminator, timeout) never logged in full, keys sent on an
 * outbound call by the `send_dtmf` tool, and the extension dialed after a warm-transfer answer.
 */
import { initializeLogger, type llm, voice } from '@livekit/agents';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../src/core/logger.js';
import { ScriptedLLM } from '../src/sim/scripted-llm.js';
import { SimCallMedia } from '../src/sim/sim-call-media.js';
import { type CallControl, createCallControl } from '../src/telephony/call-control.js';
import { maskDigits, parseDtmf } from '../src/telephony/dtmf/digits.js';
import { installDtmf } from '../src/telephony/dtmf/router.js';
import { createTelephonyTools } from '../src/telephony/tools.js';
import { defaultHoldAudio } from '../src/telephony/transfer/hold-audio.js';
import { warmTransfer } from '../src/telephony/transfer/warm-transfer.js';
import { NUMBERS } from './standin/index.js';
import { startStandinCall } from './support/telephony-call.js';

beforeAll(() => initializeLogger({ pretty: false, level: 'error' }));

const CALLER = 'sip_+14155550142';
let session: voice.AgentSession | undefined;
afterEach(async () => {
  await session?.close();
  session = undefined;
});

function roomLess(media: SimCallMedia) {
  const lines: string[] = [];
  const log = createLogger(
    { LOG_LEVEL: 'info', LOG_FULL_NUMBERS: false },
    { destination: { write: (s: string) => lines.push(s) } },
  );
  const control = createCallControl({
    room: 'call_test',
    callerIdentity: CALLER,
    // No server request is made by DTMF; the clients point nowhere.
    livekit: {} as never,
    media,
    log,
  });
  media.join(CALLER, { 'sip.callStatus': 'active' });
  return { control, lines };
}

function tools(
  control: CallControl,
  direction: 'inbound' | 'outbound',
  dtmf?: ReturnType<typeof installDtmf>,
) {
  return createTelephonyTools({
    control,
    direction,
    transfers: [],
    ringTimeoutS: 5,
    warm: {
      trunkId: undefined,
      decisionTimeoutMs: 1000,
      hold: defaultHoldAudio(),
      createConsultSession: () => {
        throw new Error('not used');
      },
    },
    ...(dtmf ? { dtmf } : {}),
  });
}

async function until(cond: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('DTMF menu', () => {
  it('routes a key like the spoken option; unknown keys say which key', async () => {
    const media = new SimCallMedia({ keyGapMs: 10 });
    const { control } = roomLess(media);
    const model = new ScriptedLLM((t) =>
      t.userText === 'billing' ? 'Connecting you to billing.' : 'Sorry?',
    );
    session = new voice.AgentSession({ llm: model });
    await session.start({ agent: new voice.Agent({ instructions: 'Press 1 for billing.' }) });
    installDtmf(session, control, { menu: { '1': 'billing', '2': 'technical support' } });

    await media.pressDigits(CALLER, '1');
    await until(() => model.calls.length >= 1);
    expect(model.calls[0]!.userText).toBe('billing');
    await until(() =>
      session!.history.items.some(
        (i) => i.type === 'message' && i.textContent === 'Connecting you to billing.',
      ),
    );

    await media.pressDigits(CALLER, '9');
    await until(() => model.calls.length >= 2);
    expect(model.calls[1]!.userText).toBe('[pressed 9]');
    // Keys from someone else (e.g. a transfer target) are not the caller's choices: the
    // caller's next key, pressed after theirs, is the next thing the model hears.
    await media.pressDigits('transfer_x', '2');
    await media.pressDigits(CALLER, '1');
    await until(() => model.calls.length >= 3);
    expect(model.calls.map((c) => c.userText)).toEqual(['billing', '[pressed 9]', 'billing']);
  });
});

describe('digit collection', () => {
  it('collects until #, hands the digits to the model, logs them masked', async () => {
    const media = new SimCallMedia({ keyGapMs: 20 });
    const { control, lines } = roomLess(media);
    const model = new ScriptedLLM((t) => {
      if (t.toolOutput) return `Thanks, I found account ${t.toolOutput.output.replace(/\D/g, '')}.`;
      if (/account/.test(t.userText)) {
        return {
          text: 'Please enter your account number followed by the pound key.',
          toolCalls: [{ name: 'collect_digits', args: {} }],
        };
      }
      return undefined;
    });
    session = new voice.AgentSession({ llm: model });
    const router = installDtmf(session, control, { menu: { '1': 'billing' } });
    await session.start({
      agent: new voice.Agent({ instructions: 'x', tools: tools(control, 'inbound', router) }),
    });

    const run = session.run({ userInput: 'I want to check my account' });
    await until(() => router.collecting);
    await media.pressDigits(CALLER, '12345678#');
    const result = await run.wait();

    result.expect.nextEvent().isMessage({ role: 'assistant' });
    result.expect.nextEvent().isFunctionCall({ name: 'collect_digits' });
    const out = result.expect.nextEvent().isFunctionCallOutput().event();
    expect((out.item as llm.FunctionCallOutput).output).toBe(
      JSON.stringify('The caller entered: 12345678'),
    );
    result.expect.nextEvent().isMessage({ role: 'assistant' });
    // The "1" inside the entry was captured, not routed to the billing menu.
    expect(model.calls.map((c) => c.userText)).not.toContain('billing');

    const log = lines.join('');
    // The logger redacts `digits` outright; the masked form is the fallback if it did not.
    expect(log).toMatch(/"digits":"(\[redacted\]|\*{6}78)","count":8/);
    expect(log).toContain('"ended":"terminator"');
    expect(log).not.toContain('12345678');
    expect(log).not.toMatch(/"key":"[0-9]"/);
  });

  it('ends on the inter-digit timeout, or reports no input', async () => {
    const media = new SimCallMedia({ keyGapMs: 10 });
    const { control } = roomLess(media);
    session = new voice.AgentSession({ llm: new ScriptedLLM(() => undefined) });
    await session.start({ agent: new voice.Agent({ instructions: 'x' }) });
    const router = installDtmf(session, control);
    const entry = router.collect({ interDigitTimeoutMs: 300 });
    await media.pressDigits(CALLER, '4711');
    expect(await entry).toEqual({ digits: '4711', ended: 'timeout' });
    expect(await router.collect({ interDigitTimeoutMs: 100, firstDigitTimeoutMs: 150 })).toEqual({
      digits: '',
      ended: 'no-input',
    });
    const capped = router.collect({ maxDigits: 4 });
    await media.pressDigits(CALLER, '98765');
    expect(await capped).toEqual({ digits: '9876', ended: 'max-digits' });
  });

  it('masks and validates digit strings', () => {
    expect(maskDigits('1234')).toBe('**34');
    expect(maskDigits('7')).toBe('*');
    expect(parseDtmf('12 34-#w*')).toBe('1234#w*');
    expect(() => parseDtmf('12x')).toThrow(/PA_ERR_DTMF_INVALID|Invalid DTMF/);
  });
});

describe('sending DTMF on an outbound call', () => {
  it('the model navigates an IVR with send_dtmf; keys go out one by one, w pauses', async () => {
    const media = new SimCallMedia();
    const { control } = roomLess(media);
    const model = new ScriptedLLM((t) => {
      if (t.toolOutput) return t.toolOutput.isError ? 'That did not work.' : undefined;
      if (/press 2/.test(t.userText))
        return { toolCalls: [{ name: 'send_dtmf', args: { digits: '2w1#' } }] };
      if (/extension/.test(t.userText))
        return { toolCalls: [{ name: 'send_dtmf', args: { digits: '12x' } }] };
      return undefined;
    });
    session = new voice.AgentSession({ llm: model });
    await session.start({
      agent: new voice.Agent({ instructions: 'x', tools: tools(control, 'outbound') }),
    });
    const names = Object.keys(session.currentAgent.toolCtx.functionTools);
    expect(names).toContain('send_dtmf');

    const t0 = Date.now();
    const result = await session.run({ userInput: 'For sales, press 2.' }).wait();
    result.expect.nextEvent().isFunctionCall({ name: 'send_dtmf' });
    const out = result.expect.nextEvent().isFunctionCallOutput().event();
    expect((out.item as llm.FunctionCallOutput).output).toBe(JSON.stringify('Pressed 2w1#.'));
    expect(media.sentDtmf.map((d) => d.digit)).toEqual(['2', '1', '#']);
    const at = media.sentDtmf.map((d) => d.at - t0);
    expect(at[1]! - at[0]!).toBeGreaterThanOrEqual(300 + 500 - 20); // gap + pause
    expect(at[2]! - at[1]!).toBeGreaterThanOrEqual(280);

    const bad = await session.run({ userInput: 'enter the extension' }).wait();
    bad.expect.nextEvent().isFunctionCall({ name: 'send_dtmf' });
    const err = bad.expect.nextEvent().isFunctionCallOutput().event();
    expect((err.item as llm.FunctionCallOutput).isError).toBe(true);
    expect(media.sentDtmf).toHaveLength(3);
  });

  it('inbound agents do not get send_dtmf', () => {
    const { control } = roomLess(new SimCallMedia());
    const names = tools(control, 'inbound').map((t) => (t as { name?: string }).name);
    expect(names).not.toContain('send_dtmf');
    expect(names).toContain('end_call');
  });

  it('a warm transfer dials the extension after the answer (CreateSIPParticipant dtmf)', async () => {
    const call = await startStandinCall();
    try {
      const r = await warmTransfer(call.control, {
        to: NUMBERS.noAnswer,
        trunkId: call.outboundTrunkId,
        summary: 'x',
        ringingTimeoutS: 1,
        decisionTimeoutMs: 1000,
        dtmf: 'ww204#',
        hold: defaultHoldAudio(),
        createConsultSession: () => new voice.AgentSession({}),
      });
      expect(r.ok).toBe(false);
      const dial = call.callRequests().find((q) => q.method === 'CreateSIPParticipant')!;
      expect(dial.body).toMatchObject({ sipCallTo: NUMBERS.noAnswer, dtmf: 'ww204#' });
    } finally {
      await call.close();
    }
  });
});
