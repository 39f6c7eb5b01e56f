/**
 * DTMF over the real SIP bridge, both ways, judged from what the phones sent and received:
 *
 * - In: a baresip caller presses keys (RFC 4733 telephone-events, `sndcode`); livekit-sip turns
 *   each into a `SipDTMF` data packet in the room and the worker's DTMF router takes it.
 *   Key 3 of the receptionist's menu ("account number") makes the agent ask for the number and
 *   collect it (`collect_digits`): once ended by `#`, once by the inter-digit timeout
 *   (DTMF_INTER_DIGIT_TIMEOUT_S=2). Key 2 ("billing") hands the call to the billing agent, who
 *   greets the caller: in the TTS stand-in, in the phone's recording, and in `call.summary`.
 * - Out: on an outbound call a phone menu answers (the callee's phone says an IVR prompt); the
 *   agent's `send_dtmf` tool presses the extension; the callee's baresip reports each key it
 *   received over RTP (ctrl_tcp `CALL_DTMF_START`), all of them, in order.
 * - The digits typed and pressed are in no line of the worker's or the API's log (at the
 *   production level, info), although those logs hold the key presses and collections.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Phone } from '../../stack/phones.js';
import { type Product, startProduct } from '../../stack/product.js';
import { agentsOfFile, type SpokenContext } from '../../stack/providers/index.js';
import { callerWav, primeTtsStandIn, speechIn, until } from './support/audio.js';
import {
  DTMF_AGENTS_FILE as AGENTS_FILE,
  DIGIT_ENTRY_RULES,
  ENTER_PROMPT,
  enterDigits,
  THANKS,
} from './support/dtmf.js';
import { dialIn, played, spokenSince } from './support/standins.js';

const NUMBER = '+15550100000';
const CALLER = '+15550000001';
const CALLEE = '+15550000009';
const FROM = '+15550100001';
const GREETING =
  'Thanks for calling Acme. For billing, press 2. To enter your account number, press 3.';
const TRANSITION = 'Sure, let me get you to billing.';
const BILLING_GREETING = 'Hi, Ben from billing here.';
const OUT_GREETING = 'Hello, this is Ava from Acme.';
const IVR_PROMPT = 'Welcome to Globex. Please enter the extension you want, then press pound.';
/** Typed and ended with `#`. */
const ACCOUNT = '58213907';
/** Typed without `#`: the inter-digit timeout ends the entry. */
const PIN = '736251';
/** What the agent presses on the outbound call. */
const EXTENSION = '2*80417#';
const INTER_DIGIT_S = 2;

let product: Product;

beforeAll(async () => {
  product = await startProduct({
    agentsFile: AGENTS_FILE,
    workerEnv: {
      DTMF_INTER_DIGIT_TIMEOUT_S: String(INTER_DIGIT_S),
      // The outbound call meets a phone menu: no answering-machine check (its LLM classifier
      // would get the stand-in's scripted replies).
      AMD_MODE: 'off',
    },
    // The API's log in a file, at the production level, to look for the digits in it.
    apiEnv: { LOG_LEVEL: 'info' },
    apiLogFile: true,
  });
  product.providers.llm.setRules(
    [
      ...DIGIT_ENTRY_RULES,
      { match: 'billing', handoff: 'billing' },
      { match: 'extension', tool: 'send_dtmf', args: { digits: EXTENSION } },
    ],
    agentsOfFile(AGENTS_FILE),
  );
  await primeTtsStandIn(product.providers.tts, [
    GREETING,
    ENTER_PROMPT,
    THANKS,
    TRANSITION,
    BILLING_GREETING,
    OUT_GREETING,
  ]);
  await product.routeNumber(NUMBER, 'receptionist');
}, 180_000);

afterAll(async () => {
  await product?.stop();
});

const spoken = (words: string, since: number) => spokenSince(product, words, since);

interface WorkerLine {
  level: number;
  msg: string;
  time: number;
  [k: string]: unknown;
}

function jsonLines(log: string): WorkerLine[] {
  return log
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .flatMap((l) => {
      try {
        return [JSON.parse(l) as WorkerLine];
      } catch {
        return [];
      }
    });
}

/** livekit-sip's log lines matching `re`. */
function bridgeLines(re: RegExp): string[] {
  return readFileSync(join(product.stack.logsDir, 'livekit-sip.log'), 'utf8')
    .split('\n')
    .filter((l) => re.test(l));
}

/** `digits` as a run of its own in `text` (not part of a longer number such as a timestamp). */
function containsDigits(text: string, digits: string): boolean {
  const esc = digits.replace(/[*#]/g, (c) => `\\${c}`);
  return new RegExp(`(^|[^0-9])${esc}([^0-9]|$)`).test(text);
}

describe('DTMF in: the caller presses keys on a baresip phone', () => {
  let phone: Phone;
  let callId = '';
  let answeredAt = 0;
  let billingKeyAt = 0;
  let billingSpoken: SpokenContext[] = [];

  it('key 3 starts an account number entry; # ends it at once', async () => {
    phone = await product.phone({ user: CALLER });
    const call = await dialIn(product, phone, NUMBER);
    ({ answeredAt, callId } = call);
    const { dialedAt } = call;
    await played(await spoken('press 3', dialedAt));

    // Key 3, the prompt, then the digits and "#".
    const {
      keyAt,
      asked,
      lastKeyAt: hashAt,
      entered,
      output,
    } = await enterDigits(product, phone, `${ACCOUNT}#`);
    expect(asked.agent).toBe('receptionist');
    expect(asked.tools).toContain('collect_digits');
    console.log(`key 3 sent → LLM request with "account number": ${asked.at - keyAt} ms`);
    expect(output).toBe(`The caller entered: ${ACCOUNT}`);
    const afterHash = entered.at - hashAt;
    console.log(
      `"#" sent → collect_digits returned (LLM request with the digits): ${afterHash} ms`,
    );
    // "#" ended it: well before the inter-digit timeout would have.
    expect(afterHash).toBeLessThan(INTER_DIGIT_S * 1000);
    const collected = jsonLines(product.workerLog()).filter((l) => l.msg === 'digits collected');
    expect(collected.map((l) => [l.count, l.ended])).toEqual([[ACCOUNT.length, 'terminator']]);
  });

  it('without #, the entry ends after the inter-digit timeout', async () => {
    await played(await spoken(THANKS, answeredAt));
    // No "#": the last key sent is the PIN's last digit.
    const { lastKeyAt, entered, output } = await enterDigits(product, phone, PIN);
    expect(output).toBe(`The caller entered: ${PIN}`);
    const afterLast = entered.at - lastKeyAt;
    console.log(
      `last key sent → collect_digits returned: ${afterLast} ms (inter-digit timeout ${INTER_DIGIT_S} s)`,
    );
    // The timer starts when the last key reaches the worker, after it left the phone.
    expect(afterLast).toBeGreaterThanOrEqual(INTER_DIGIT_S * 1000 - 50);
    expect(afterLast).toBeLessThan(INTER_DIGIT_S * 1000 + 3000);
    const collected = jsonLines(product.workerLog()).filter((l) => l.msg === 'digits collected');
    expect(collected.map((l) => [l.count, l.ended])).toEqual([
      [ACCOUNT.length, 'terminator'],
      [PIN.length, 'timeout'],
    ]);
  });

  it('key 2 hands the call to billing, and the billing agent speaks', async () => {
    const thanks = await until('the second "thank you" spoken', () => {
      const all = product.providers.tts
        .spoken()
        .filter((c) => c.text.includes(THANKS) && c.finalAt && c.firstAudioAt);
      return all.length >= 2 ? all : undefined;
    });
    expect(thanks).toHaveLength(2);
    await played(thanks[1]!, 1500);
    billingKeyAt = Date.now();
    await phone.sendDtmf('2');
    const routed = await until('the LLM request for key 2', () =>
      product.providers.llm
        .requests()
        .find((r) => r.at >= billingKeyAt && r.userText === 'billing'),
    );
    expect(routed.agent).toBe('receptionist');
    expect(routed.reply?.toolCalls?.map((t) => t.name)).toEqual(['handoff_to_billing']);
    const transition = await spoken(TRANSITION, billingKeyAt);
    const greeting = await spoken(BILLING_GREETING, billingKeyAt);
    expect(greeting.firstAudioAt!).toBeGreaterThanOrEqual(transition.firstAudioAt!);
    billingSpoken = [transition, greeting];
    console.log(
      `key 2 sent → transition's first audio ${transition.firstAudioAt! - billingKeyAt} ms, billing greeting's ${greeting.firstAudioAt! - billingKeyAt} ms`,
    );
    // The billing agent holds the conversation now: its own first LLM request.
    const billing = await until('a request of the billing agent', () =>
      product.providers.llm.requests().find((r) => r.at >= billingKeyAt && r.agent === 'billing'),
    );
    expect(billing.tools).not.toContain('handoff_to_billing');
    await played(greeting);

    const hangupAt = Date.now();
    await phone.hangup();
    await phone.waitForEvent('CALL_CLOSED', { since: hangupAt, timeoutMs: 10_000 });
    const summary = await until('call.summary', () =>
      product.callEvents(callId).find((e) => e.type === 'call.summary'),
    );
    expect(summary.data).toMatchObject({ outcome: 'completed', endedBy: 'caller' });
    expect(summary.data.agents).toEqual(['receptionist', 'billing']);
    expect(
      (summary.data.metrics.handoffs as Array<{ from?: string; to: string }>).map((h) => [
        h.from,
        h.to,
      ]),
    ).toEqual([['receptionist', 'billing']]);
    const lines = summary.data.transcript as Array<{ role: string; text: string }>;
    console.log(`transcript: ${JSON.stringify(lines.map((l) => [l.role, l.text]))}`);
    // The keys became the caller's turns as their menu words.
    expect(lines.filter((l) => l.role === 'caller').map((l) => l.text)).toEqual([
      'account number',
      'account number',
      'billing',
    ]);
    expect(lines.some((l) => l.role !== 'caller' && l.text.includes('Ben from billing'))).toBe(
      true,
    );
    const ended = product.callEvents(callId).find((e) => e.type === 'call.ended');
    expect(ended?.data).toMatchObject({ direction: 'inbound', reason: 'hangup' });
  });

  it("the phone's recording holds the billing agent's words after key 2", async () => {
    await phone.stop();
    const { heard } = phone.recordings().at(-1)!;
    const speech = speechIn(heard);
    // The heard track starts 0.2-0.5 s after the answer (its first packet decoded) and loses up
    // to ~0.7 s to the jitter buffer: the key is at most ~1.2 s earlier in it than on the wall
    // clock. "Thank you" ended 1.5 s before the key.
    const keyInRecording = (billingKeyAt - answeredAt) / 1000;
    const after = speech.filter((s) => s.start > keyInRecording - 1.2);
    const heardS = after.reduce((n, s) => n + (s.end - s.start), 0);
    const spokenS = billingSpoken.reduce((n, c) => n + c.audioMs, 0) / 1000;
    console.log(
      `heard after key 2 (at ${keyInRecording.toFixed(1)} s): ${JSON.stringify(after)}; ${heardS.toFixed(1)} s of speech for ${spokenS.toFixed(1)} s spoken`,
    );
    expect(heardS).toBeGreaterThan(spokenS * 0.7);
  });
});

describe('DTMF out: send_dtmf on an outbound call reaches the callee', () => {
  let callee: Phone;
  let callId = '';

  it("a phone menu answers; the agent presses the extension; the callee's phone receives every key, in order", async () => {
    callee = await product.phone({ user: CALLEE, answer: 'auto' });
    const trunk = await product.api('POST', '/v1/trunks/outbound', {
      name: 'e2e ivr',
      address: `${callee.host}:${callee.port}`,
      transport: 'udp',
      numbers: [FROM],
    });
    expect(trunk.status, JSON.stringify(trunk.body)).toBe(201);
    const ivr = join(product.stack.logsDir, 'ivr-prompt.wav');
    await callerWav(ivr, [{ at: 0.2, text: IVR_PROMPT }], 'en-us+f2');
    product.providers.stt.setScript([IVR_PROMPT]);

    const since = Date.now();
    const res = await product.api('POST', '/v1/calls', {
      to: CALLEE,
      from: FROM,
      trunkId: trunk.body.id,
      agent: { name: 'caller' },
    });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    callId = res.body.id;
    await callee.waitForEvent('CALL_ESTABLISHED', { since, timeoutMs: 20_000 });
    await played(await spoken(OUT_GREETING, since), 500);
    await callee.play(ivr);

    const asked = await until(
      'the LLM request after the menu prompt',
      () =>
        product.providers.llm
          .requests()
          .find((r) => r.at >= since && r.agent === 'caller' && /extension/.test(r.userText)),
      30_000,
    );
    expect(asked.tools).toContain('send_dtmf');
    expect(asked.reply?.toolCalls).toEqual([{ name: 'send_dtmf', args: { digits: EXTENSION } }]);
    const keys = await until(
      'every key at the callee',
      () => {
        const got = callee.events.filter((e) => e.type === 'CALL_DTMF_START' && e.at >= since);
        return got.length >= EXTENSION.length ? got : undefined;
      },
      20_000,
    ).catch((err: Error) => {
      // Where the keys went: the bridge logs the SipDTMF packets it could not write to SIP.
      console.log(`livekit-sip on DTMF:\n${bridgeLines(/dtmf/i).join('\n')}`);
      console.log(
        `callee events: ${callee.events.map((e) => `${e.type}${e.param ? `(${e.param})` : ''}`).join(', ')}`,
      );
      throw err;
    });
    const sent = await until('the tool output', () =>
      product.providers.llm
        .requests()
        .find((r) => r.at >= since && r.toolOutput?.name === 'send_dtmf'),
    );
    expect(JSON.parse(sent.toolOutput!.output)).toBe(`Pressed ${EXTENSION}.`);
    const received = keys.map((e) => e.param).join('');
    const gaps = keys.slice(1).map((e, i) => e.at - keys[i]!.at);
    console.log(
      `send_dtmf "${EXTENSION}": callee received "${received}" (CALL_DTMF_START), first key ${keys[0]!.at - asked.at} ms after the LLM request, gaps ${JSON.stringify(gaps)} ms`,
    );
    expect(received).toBe(EXTENSION);
    const ends = callee.events.filter((e) => e.type === 'CALL_DTMF_END' && e.at >= since);
    console.log(`CALL_DTMF_END events: ${ends.length}`);

    const hangupAt = Date.now();
    await callee.hangup();
    await callee.waitForEvent('CALL_CLOSED', { since: hangupAt, timeoutMs: 10_000 });
    const summary = await until('call.summary', () =>
      product.callEvents(callId).find((e) => e.type === 'call.summary'),
    );
    expect(summary.data).toMatchObject({
      direction: 'outbound',
      outcome: 'completed',
      endedBy: 'caller',
      agents: ['caller'],
    });
  });
});

describe('the digits in the logs', () => {
  it("no typed or pressed digit string is in the worker's or the API's log", () => {
    const worker = product.workerLog();
    const api = product.apiLog();
    // The logs saw the keys: three menu keys routed, two collections, one send.
    const lines = jsonLines(worker);
    expect(lines.filter((l) => l.msg === 'DTMF key routed')).toHaveLength(3);
    expect(lines.filter((l) => l.msg === 'digits collected')).toHaveLength(2);
    expect(lines.filter((l) => l.msg === 'DTMF sent')).toHaveLength(1);
    // ...and the API logged the webhooks and call events of both calls.
    expect(api).toContain('/v1/livekit/webhook');
    console.log(
      `logs searched: worker ${worker.split('\n').length} lines, API ${api.split('\n').length} lines`,
    );
    for (const digits of [ACCOUNT, PIN, EXTENSION, EXTENSION.replace(/\D/g, '')]) {
      expect(containsDigits(worker, digits), `"${digits}" in the worker's log`).toBe(false);
      expect(containsDigits(api, digits), `"${digits}" in the API's log`).toBe(false);
    }
  });
});
