/**
 * Cold transfers that fail at the destination, on the real stack. The agent's transfer tools
 * point at SIPp callees (busy 486, declined 603, temporarily unavailable 480, ringing until the
 * ringing timeout). In one call the caller asks four times; each time the LLM stand-in says it
 * transfers and calls the tool, the bridge sends a REFER, the caller's phone (baresip, which
 * follows REFER) calls the destination and reports the outcome back in a NOTIFY. Judged from
 * the caller's phone: it got the REFER and its call to the destination failed with that status,
 * its call with the agent stayed up, and it then heard the agent say what happened (the tool's
 * output names the reason: the product mapped the SIP status), after which the agent takes the
 * next request.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ScriptedRule } from '../../src/sim/scripted-llm.js';
import { type Phone, type SippBehaviour, startSippUas } from '../../stack/phones.js';
import { type Product, startProduct } from '../../stack/product.js';
import { parseSippMessages } from '../../stack/sipp-caller.js';
import { callerWav, until } from './support/audio.js';
import { dialIn, played } from './support/standins.js';
import {
  failureReason,
  heardMix,
  lastIsUser,
  newestRecording,
  position,
} from './support/transfer.js';

const NUMBER = '+15550100000';
const CALLER = '+15550000001';
const GREETING = 'Acme, this is Ava.';
const RING_TIMEOUT_S = 5;

interface Case {
  behaviour: SippBehaviour;
  tool: string;
  /** What the caller "says" (the STT stand-in's line for the request). */
  request: string;
  /** The reason the product tells the model (src/telephony/transfer/outcome.ts). */
  reason: string;
  /** baresip's call to the destination closes with this status (none: it still rings). */
  status?: number;
  user: string;
}

const CASES: Case[] = [
  {
    behaviour: 486,
    tool: 'sales_desk',
    request: 'Put me through to sales',
    reason: 'the line was busy',
    status: 486,
    user: '+15550000486',
  },
  {
    behaviour: 603,
    tool: 'billing_desk',
    request: 'Put me through to billing',
    reason: 'the call was declined',
    status: 603,
    user: '+15550000603',
  },
  {
    behaviour: 480,
    tool: 'repairs_desk',
    request: 'Put me through to repairs',
    reason: 'nobody answered',
    status: 480,
    user: '+15550000480',
  },
  {
    behaviour: 'ring-forever',
    tool: 'returns_desk',
    request: 'Put me through to returns',
    reason: 'nobody answered',
    user: '+15550000499',
  },
];

const toolLine = (c: Case) => `Sure, one moment, transferring you to ${c.tool.replace('_', ' ')}.`;
const sorryLine = (reason: string) => `I am sorry, ${reason}. Can I take a message instead?`;

let product: Product;
let phone: Phone;
let requestWav = '';
const destinations = new Map<string, { uri: string; dir: string }>();

const rule: ScriptedRule = (turn) => {
  if (turn.toolOutput) {
    const reason = failureReason(turn.toolOutput.output);
    return reason ? sorryLine(reason) : undefined;
  }
  const c = CASES.find((x) => x.request === turn.userText.trim());
  if (c && lastIsUser(turn)) return { text: toolLine(c), toolCalls: [{ name: c.tool, args: {} }] };
  return undefined;
};

beforeAll(async () => {
  product = await startProduct({
    worker: false,
    workerEnv: { SILENCE_TIMEOUT_S: '0', TRANSFER_RING_TIMEOUT_S: String(RING_TIMEOUT_S) },
  });
  const dir = product.stack.logsDir;
  const transfers: string[] = [];
  for (const c of CASES) {
    const uas = await startSippUas(product.stack, c.behaviour);
    const uri = `sip:${c.user}@${uas.address}`;
    destinations.set(c.tool, { uri, dir: join(dir, `sipp-${c.behaviour}-${uas.port}`) });
    transfers.push(
      `      - name: ${c.tool}\n        to: ${uri}\n        description: The ${c.tool.replace('_', ' ')}.\n        mode: cold`,
    );
  }
  const agentsFile = join(dir, 'agents-cold-failures.yaml');
  writeFileSync(
    agentsFile,
    `version: 1
agents:
  - name: receptionist
    instructions: |
      You are Ava at Acme Home Internet. Transfer callers to the desk they ask for.
    greeting: ${GREETING}
    transfers:
${transfers.join('\n')}
routes:
  - name: everyone
    default: true
    agent: receptionist
`,
  );
  requestWav = join(dir, 'caller-request.wav');
  await callerWav(requestWav, [{ at: 0.2, text: 'Put me through please' }]);
  await product.startWorker('worker', { env: { AGENTS_CONFIG: agentsFile } });
  product.providers.llm.setRule(rule);
  await product.routeNumber(NUMBER, 'receptionist');
}, 240_000);

afterAll(async () => {
  await product?.stop();
});

describe('cold transfers the destination refuses: the agent tells the caller and stays', () => {
  let callId = '';
  let sipCallId = '';

  it('answers the caller', async () => {
    phone = await product.phone({ user: CALLER, micSeconds: 150 });
    ({ callId, sipCallId } = await dialIn(product, phone, NUMBER));
    const greeting = await until('the greeting', () =>
      product.providers.tts.spoken().find((c) => c.text.includes('Acme') && c.firstAudioAt),
    );
    await played(greeting, 500);
  });

  it.each(CASES)(
    'destination $behaviour: REFER, the phone’s call fails, the agent says "$reason" and stays',
    async (c) => {
      const spokenBefore = product.providers.tts.spoken().length;
      product.providers.stt.setScript([c.request]);
      const askedAt = Date.now();
      await phone.play(requestWav, 140);
      const refer = await phone.waitForEvent('TRANSFER', { since: askedAt, timeoutMs: 20_000 });
      const dest = destinations.get(c.tool)!;
      expect(refer.param).toContain(dest.uri);
      expect(refer.id).toBe(sipCallId);
      // The phone's own call to the destination, and how it ended.
      const outcome = c.status
        ? await phone.waitForEvent('CALL_CLOSED', {
            since: refer.at,
            timeoutMs: 10_000,
            filter: (e) => e.id !== sipCallId,
          })
        : undefined;
      if (c.status) expect(outcome?.sipStatus).toBe(c.status);
      // The agent is told what happened and says it to the caller.
      const reply = () =>
        product.providers.tts
          .spoken()
          .slice(spokenBefore)
          .find((s) => s.text.startsWith('I am'));
      await until('the agent telling the caller', reply, RING_TIMEOUT_S * 1000 + 20_000);
      // Marked as its first words are synthesised, before any of its audio reached the phone.
      const rec = newestRecording(phone)!;
      const from = position(rec.heard);
      const sorry = await until('the reply synthesised', () => {
        const r = reply();
        return r?.finalAt && r.firstAudioAt ? r : undefined;
      });
      expect(sorry.text.trim()).toBe(sorryLine(c.reason));
      const toolRequest = product.providers.llm
        .requests()
        .find((r) => r.toolOutput?.name === c.tool && r.at >= askedAt);
      expect(toolRequest?.toolOutput?.output).toContain(`did not go through: ${c.reason}.`);
      // Its words reach the caller's phone: speech on the live recording while it plays.
      await until('the reply played', () =>
        Date.now() > sorry.firstAudioAt! + sorry.audioMs + 600 ? true : undefined,
      );
      const heard = heardMix(rec.heard, from, position(rec.heard));
      console.log(
        `${c.behaviour}: REFER ${refer.at - askedAt} ms after the request; phone's call ${
          outcome
            ? `closed ${outcome.at - refer.at} ms after the REFER (${outcome.param})`
            : 'still ringing'
        }; the agent's reply reached the phone ${sorry.firstAudioAt! - refer.at} ms after the REFER; heard ${JSON.stringify(heard)}`,
      );
      expect(heard.other).toBeGreaterThanOrEqual(Math.min(1.5, (sorry.audioMs / 1000) * 0.5));
      // The call with the agent is still up.
      expect(phone.events.filter((e) => e.type === 'CALL_CLOSED' && e.id === sipCallId)).toEqual(
        [],
      );
      if (!c.status) {
        // The bridge gave up after the ringing timeout, but nothing tells the phone: its call to
        // the destination still rings (REFER has no way to cancel it; a carrier would do the same).
        const stillRinging = !phone.events.some(
          (e) => e.type === 'CALL_CLOSED' && e.id !== sipCallId && e.at >= refer.at,
        );
        console.log(
          `ring-forever: the phone's call to the destination still rings: ${stillRinging}`,
        );
      }
      // The destination saw the INVITE from the caller's phone (not from the bridge).
      const msgs = parseSippMessages(readFileSync(join(dest.dir, 'messages.log'), 'utf8'));
      const invite = msgs.find(
        (m) => m.direction === 'received' && m.firstLine.startsWith('INVITE'),
      );
      expect(invite?.text).toMatch(new RegExp(`From:.*${CALLER.replace('+', '\\+')}`, 'i'));
    },
    45_000,
  );

  it('the caller hangs up: the call ends as a normal hang-up, not a transfer', async () => {
    const at = Date.now();
    // baresip hangs up its newest call: first the one still ringing the unanswering desk,
    // then the call with the agent.
    const agentLegClosed = () =>
      phone.events.some((e) => e.type === 'CALL_CLOSED' && e.id === sipCallId);
    for (let i = 0; i < 3 && !agentLegClosed(); i++) {
      await phone.hangup();
      await phone
        .waitForEvent('CALL_CLOSED', {
          since: at,
          timeoutMs: 3_000,
          filter: (e) => e.id === sipCallId,
        })
        .catch(() => undefined);
    }
    expect(agentLegClosed()).toBe(true);
    const ended = await until('call.ended', () =>
      product.callEvents(callId).find((e) => e.type === 'call.ended'),
    );
    expect(ended.data).toMatchObject({ reason: 'hangup' });
    expect(product.callEvents(callId).some((e) => e.type === 'call.transferred')).toBe(false);
  });
});
