/**
 * Multi-agent handoff in session text mode: a real voice.AgentSession with the scripted LLM,
 * agents built from an agents file by the factory.
 */
import { initializeLogger, type llm, voice } from '@livekit/agents';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { parseAgentsFile } from '../src/agents/agents-file.js';
import { createAgentFactory, PhoneAgent } from '../src/agents/phone-agent.js';
import { PHONE_RULES } from '../src/agents/prompts.js';
import { createSessionData, type PhoneSessionData } from '../src/agents/session-data.js';
import { ScriptedLLM, type ScriptedTurn } from '../src/sim/scripted-llm.js';
import { buildCallContext } from '../src/telephony/call-context.js';

beforeAll(() => initializeLogger({ pretty: false, level: 'error' }));

const config = parseAgentsFile(
  `
agents:
  - name: receptionist
    instructions: You are Ava, the receptionist of Acme.
    greeting: Thanks for calling Acme.
    tools: [current_date_time]
    handoffs:
      - agent: billing
        description: Invoices and payments.
        transition: Sure, let me get you to billing.
  - name: billing
    instructions: You are Ben from Acme billing.
    greeting: Ben from billing here.
    handoffs: [{ agent: receptionist }]
routes: [{ default: true, agent: receptionist }]
`,
  'agents.yaml',
  { codeToolNames: ['current_date_time'] },
);

/** Billing's LLM is slow on purpose: the switch must not wait for it. */
const BILLING_TTFT_MS = 1500;

function whoIsAsked(turn: ScriptedTurn): string {
  const system = turn.chatCtx.items.find(
    (i): i is llm.ChatMessage => i.type === 'message' && i.role === 'system',
  );
  const text = system?.textContent ?? '';
  return text.includes('You are Ben') ? 'billing' : 'receptionist';
}

const scripted = (billingTtftMs = 0) =>
  new ScriptedLLM((turn) => {
    if (whoIsAsked(turn) === 'billing') {
      return { text: 'I can see your last invoice, it was forty dollars.', ttftMs: billingTtftMs };
    }
    if (/invoice/i.test(turn.userText)) {
      return { toolCalls: [{ name: 'handoff_to_billing', args: {} }] };
    }
    return 'Happy to help.';
  });

let session: voice.AgentSession<PhoneSessionData> | undefined;
afterEach(async () => {
  await session?.close();
  session = undefined;
});

async function startCall(model: ScriptedLLM) {
  const call = buildCallContext({
    attributes: { 'sip.ruleID': 'SDR_1', 'sip.phoneNumber': '+14155550142' },
  });
  const factory = createAgentFactory({ config, call });
  session = new voice.AgentSession<PhoneSessionData>({
    llm: model,
    userData: createSessionData(call),
  });
  const spoken: { at: number; text: string }[] = [];
  session.on(voice.AgentSessionEventTypes.ConversationItemAdded, (ev) => {
    const item = ev.item;
    if (item.type === 'message' && item.role === 'assistant') {
      spoken.push({ at: Date.now(), text: item.textContent ?? '' });
    }
  });
  await session.start({ agent: factory.create('receptionist') });
  return { session, spoken };
}

describe('receptionist hands a billing question to billing', () => {
  it('calls the handoff tool, switches agent, and billing answers', async () => {
    const model = scripted();
    const { session } = await startCall(model);
    const result = await session.run({ userInput: 'I have a question about my invoice' }).wait();

    result.expect.nextEvent().isFunctionCall({ name: 'handoff_to_billing' });
    result.expect.nextEvent().isFunctionCallOutput();
    result.expect.nextEvent().isAgentHandoff({ newAgentType: PhoneAgent });
    const answer = result.expect.nextEvent().isMessage({ role: 'assistant' }).event();
    expect((answer.item as llm.ChatMessage).textContent).toBe(
      'I can see your last invoice, it was forty dollars.',
    );
    result.expect.noMoreEvents();

    const current = session.currentAgent as PhoneAgent;
    expect(current.name).toBe('billing');
    expect(current.handoffFrom).toBe('receptionist');
    expect(session.userData.currentAgent).toBe('billing');
    expect(session.userData.handoffs).toMatchObject([{ from: 'receptionist', to: 'billing' }]);
  });

  it('carries the conversation over, without the previous instructions or tool traffic', async () => {
    const model = scripted();
    const { session } = await startCall(model);
    await session.run({ userInput: 'I have a question about my invoice' }).wait();

    expect(model.calls.some((c) => c.reply?.text?.includes('forty dollars'))).toBe(true);
    const items = (session.currentAgent as PhoneAgent).chatCtx.items;
    const system = items.filter((i) => i.type === 'message' && i.role === 'system');
    // Only billing's own instructions (with the phone rules), not the receptionist's.
    expect(system).toHaveLength(1);
    const instructions = (system[0] as llm.ChatMessage).textContent ?? '';
    expect(instructions).toContain('You are Ben from Acme billing.');
    expect(instructions).toContain(PHONE_RULES);
    expect(instructions).not.toContain('You are Ava');
    // The caller's words and the receptionist's greeting came along; the handoff call did not.
    const texts = items
      .filter((i): i is llm.ChatMessage => i.type === 'message' && i.role !== 'system')
      .map((m) => `${m.role}: ${m.textContent}`);
    expect(texts).toContain('user: I have a question about my invoice');
    expect(texts).toContain('assistant: Thanks for calling Acme.');
    expect(items.some((i) => i.type === 'function_call' && i.name === 'handoff_to_billing')).toBe(
      false,
    );
  });

  it('speaks the transition, then billing’s greeting without waiting for billing’s slow LLM', async () => {
    const model = scripted(BILLING_TTFT_MS);
    const { session, spoken } = await startCall(model);
    await session.run({ userInput: 'I have a question about my invoice' }).wait();

    const texts = spoken.map((s) => s.text);
    const transition = texts.indexOf('Sure, let me get you to billing.');
    const greeting = texts.indexOf('Ben from billing here.');
    const answer = texts.findIndex((t) => t.includes('forty dollars'));
    expect(transition).toBeGreaterThan(-1);
    expect(greeting).toBe(transition + 1);
    expect(answer).toBe(greeting + 1);
    // Billing's LLM needs 1.5 s, but its greeting follows the transition right away: it is
    // spoken before billing's LLM could have answered (an ordering, whatever the machine's
    // load), and the answer comes only after that LLM's 1.5 s.
    const billingAsked = model.calls.find((c) => c.reply?.text?.includes('forty dollars'))!;
    expect(billingAsked).toBeDefined();
    expect(spoken[greeting]!.at).toBeLessThan(billingAsked.at + BILLING_TTFT_MS);
    expect(spoken[answer]!.at - billingAsked.at).toBeGreaterThanOrEqual(BILLING_TTFT_MS - 20);
  });

  it('billing can hand back to the receptionist with the history of both', async () => {
    const model = new ScriptedLLM((turn) => {
      const who = whoIsAsked(turn);
      if (turn.toolOutput) return undefined;
      if (who === 'receptionist' && /invoice/i.test(turn.userText)) {
        return { toolCalls: [{ name: 'handoff_to_billing', args: {} }] };
      }
      if (who === 'billing' && /opening hours/i.test(turn.userText)) {
        return { toolCalls: [{ name: 'handoff_to_receptionist', args: {} }] };
      }
      if (who === 'billing') return 'It was forty dollars.';
      return 'We are open from nine to five.';
    });
    const { session, spoken } = await startCall(model);
    await session.run({ userInput: 'A question about my invoice' }).wait();
    const back = await session.run({ userInput: 'And what are your opening hours?' }).wait();
    back.expect.containsAgentHandoff({ newAgentType: PhoneAgent });
    expect((session.currentAgent as PhoneAgent).name).toBe('receptionist');
    // The default transition names the target agent.
    const texts = spoken.map((s) => s.text);
    const handBack = texts.indexOf("One moment, I'll pass you to receptionist.");
    expect(handBack).toBeGreaterThan(-1);
    // Back at the receptionist: its greeting, then the answer to the question that caused it.
    expect(texts.slice(handBack + 1)).toEqual([
      'Thanks for calling Acme.',
      'We are open from nine to five.',
    ]);
    const userTexts = (session.currentAgent as PhoneAgent).chatCtx.items
      .filter((i): i is llm.ChatMessage => i.type === 'message' && i.role === 'user')
      .map((m) => m.textContent);
    expect(userTexts).toEqual(['A question about my invoice', 'And what are your opening hours?']);
    expect(session.userData.handoffs.map((h) => `${h.from}->${h.to}`)).toEqual([
      'receptionist->billing',
      'billing->receptionist',
    ]);
  });
});
