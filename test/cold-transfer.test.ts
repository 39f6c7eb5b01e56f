/**
 * Cold transfer (SIP REFER) chosen by a scripted LLM in a real AgentSession (text mode), with
 * the LiveKit stand-in as the server: the request the tool sends, its grants, what the agent
 * says before and after, and the call event.
 */
import { initializeLogger, type llm, voice } from '@livekit/agents';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { TransferSpec } from '../src/agents/agents-schema.js';
import { ScriptedLLM } from '../src/sim/scripted-llm.js';
import { createTelephonyTools, type TransferMark } from '../src/telephony/tools.js';
import { defaultHoldAudio } from '../src/telephony/transfer/hold-audio.js';
import { NUMBERS } from './standin/index.js';
import { type StandinCall, startStandinCall } from './support/telephony-call.js';

beforeAll(() => initializeLogger({ pretty: false, level: 'error' }));

let call: StandinCall | undefined;
let session: voice.AgentSession<TransferMark> | undefined;
afterEach(async () => {
  await session?.close();
  await call?.close();
  session = undefined;
  call = undefined;
});

const transfers = (to: string): TransferSpec[] => [
  { name: 'transfer_to_sales', to, description: 'The sales team, for new orders.', mode: 'cold' },
];

const model = () =>
  new ScriptedLLM((turn) => {
    if (turn.toolOutput)
      return 'Sorry, the sales line was busy. I can take a message or arrange a call back.';
    if (/sales/i.test(turn.userText)) {
      return {
        text: 'Sure, I am transferring you to sales now.',
        toolCalls: [{ name: 'transfer_to_sales', args: {} }],
      };
    }
    return 'How can I help?';
  });

async function start(to: string) {
  call = await startStandinCall();
  const events: { type: string; data: Record<string, unknown> }[] = [];
  const spoken: { text: string; at: number }[] = [];
  const tools = createTelephonyTools({
    control: call.control,
    direction: 'inbound',
    transfers: transfers(to),
    ringTimeoutS: 5,
    warm: {
      trunkId: undefined,
      decisionTimeoutMs: 1000,
      hold: defaultHoldAudio(),
      createConsultSession: () => {
        throw new Error('not used');
      },
    },
    report: (type, data) => events.push({ type, data }),
  });
  const scripted = model();
  session = new voice.AgentSession<TransferMark>({ llm: scripted, userData: {} });
  session.on(voice.AgentSessionEventTypes.ConversationItemAdded, (ev) => {
    if (ev.item.type === 'message' && ev.item.role === 'assistant') {
      spoken.push({ text: ev.item.textContent ?? '', at: Date.now() });
    }
  });
  await session.start({
    agent: new voice.Agent({ instructions: 'You are a receptionist.', tools }),
  });
  return { call, session, events, spoken, scripted };
}

describe('cold transfer', () => {
  it('says so, then REFERs the caller to the target; the caller leaves and the event is reported', async () => {
    const { call, session, events, spoken } = await start(`tel:${NUMBERS.answers}`);
    const result = await session.run({ userInput: 'Put me through to sales please' }).wait();

    result.expect.nextEvent().isMessage({ role: 'assistant' });
    result.expect.nextEvent().isFunctionCall({ name: 'transfer_to_sales' });
    result.expect.nextEvent().isFunctionCallOutput();
    result.expect.noMoreEvents();

    const reqs = call.callRequests();
    expect(reqs.map((r) => r.method)).toEqual(['TransferSIPParticipant']);
    const refer = reqs[0]!;
    expect(refer.body).toMatchObject({
      roomName: call.room,
      participantIdentity: call.caller,
      transferTo: `tel:${NUMBERS.answers}`,
      ringingTimeout: '5s',
    });
    expect(refer.grants?.sip?.call).toBe(true);
    expect(refer.grants?.video).toMatchObject({ roomAdmin: true, room: call.room });
    expect(refer.status).toBe(200);
    // The agent said it first.
    expect(spoken[0]!.text).toContain('transferring you to sales');
    expect(spoken[0]!.at).toBeLessThanOrEqual(refer.at);

    expect(call.lk.participants(call.room).some((p) => p.identity === call.caller)).toBe(false);
    expect([...call.lk.state.calls.values()][0]!.transfers).toEqual([
      { to: `tel:${NUMBERS.answers}`, result: 'ok', sipStatus: 200 },
    ]);
    expect(session.userData.transferredTo).toBe(`tel:${NUMBERS.answers}`);
    expect(session.userData.transfer).toEqual({ mode: 'cold', to: `tel:${NUMBERS.answers}` });
    expect(events).toEqual([
      {
        type: 'call.transferred',
        data: { to: `tel:${NUMBERS.answers}`, mode: 'cold', destination: 'transfer_to_sales' },
      },
    ]);
  });

  it('on a SIP failure the agent tells the caller and offers another option; the caller stays', async () => {
    const { call, session, events, scripted } = await start(`tel:${NUMBERS.busy}`);
    const result = await session.run({ userInput: 'Sales, please' }).wait();

    result.expect.nextEvent().isMessage({ role: 'assistant' });
    result.expect.nextEvent().isFunctionCall({ name: 'transfer_to_sales' });
    const out = result.expect.nextEvent().isFunctionCallOutput().event();
    const output = (out.item as llm.FunctionCallOutput).output;
    expect(output).toContain('the line was busy');
    expect(output).toMatch(/take a message.*call back/);
    const reply = result.expect.nextEvent().isMessage({ role: 'assistant' }).event();
    expect((reply.item as llm.ChatMessage).textContent).toContain('busy');
    result.expect.noMoreEvents();

    const reqs = call.callRequests();
    expect(reqs.map((r) => [r.method, r.status, r.code])).toEqual([
      ['TransferSIPParticipant', 429, 'resource_exhausted'],
    ]);
    expect(scripted.calls.at(-1)?.toolOutput?.name).toBe('transfer_to_sales');
    expect(call.lk.participants(call.room).some((p) => p.identity === call.caller)).toBe(true);
    expect(session.userData.transferredTo).toBeUndefined();
    expect(events).toEqual([]);
  });
});
