/**
 * Outbound calls answered by a machine, over the real SIP bridge. Each callee is a baresip phone
 * that answers at once; the "voicemail" ones play a mailbox greeting (eSpeak), then a 1 kHz beep,
 * then record. Judged from the callee's own recordings (what it sent: the beep's time; what it
 * heard: the agent) and from the call events:
 *   - leave a message (the agent's `voicemail: { action: message }`): nothing reaches the mailbox
 *     before the beep (not even the greeting), the message starts after the beep and plays whole,
 *     then the bridge hangs up; `call.voicemail` says message-left with the beep heard;
 *   - hang up (`action: hangup`, as AMD_MODE=hangup): the mailbox records nothing at all and
 *     the call ends; `call.voicemail` says hung-up;
 *   - a person who answers "Hello?": the check finds a human and the greeting answers them
 *     (after their "Hello?", not over it); no `call.voicemail`.
 * The LLM stand-in plays the answering-machine classifier (the `save_prediction` tool voice.AMD
 * gives it), deciding from the transcript the STT stand-in heard.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readWav, writeWav } from '../../src/core/wav.js';
import type { ScriptedRule } from '../../src/sim/scripted-llm.js';
import type { Phone } from '../../stack/phones.js';
import { type Product, startProduct } from '../../stack/product.js';
import { callerWav, primeTtsStandIn, speechIn, until } from './support/audio.js';
import { heardMix } from './support/transfer.js';

const FROM = '+15550100002';
const MAILBOX =
  'Hi, you have reached Dana. I cannot take your call right now. Please leave a message after the tone.';
const GREETING = 'Hello, this is Ava from Acme Home Internet, calling about your appointment.';
const MESSAGE =
  'Hi Dana, this is Ava from Acme. Please call us back about your appointment. Thank you.';
const BEEP_HZ = 1000;

let product: Product;
const trunks = new Map<string, string>();

function agentsYaml(): string {
  return `version: 1
agents:
  - name: leaves-message
    instructions: You are Ava from Acme Home Internet, calling a customer about an appointment.
    greeting: ${GREETING}
    voicemail: { action: message, message: "${MESSAGE}" }
  - name: hangs-up
    instructions: You are Ava from Acme Home Internet, calling a customer about an appointment.
    greeting: ${GREETING}
    voicemail: { action: hangup }
routes:
  - name: everyone
    default: true
    agent: leaves-message
`;
}

/** voice.AMD's classifier: a mailbox greeting is a machine, anything else a person. */
const classifier: ScriptedRule = (turn) => {
  if (!turn.tools.includes('save_prediction')) return undefined;
  const label = /leave a message|after the tone/i.test(turn.userText) ? 'machine-vm' : 'human';
  return { toolCalls: [{ name: 'save_prediction', args: { label } }] };
};

/** A mailbox's line: its greeting from 0.3 s, a 500 ms beep 0.6 s after it, then silence. */
async function mailboxWav(file: string): Promise<void> {
  const [spoken] = await callerWav(file, [{ at: 0.3, text: MAILBOX }], 'en-us+f3');
  const wav = readWav(file);
  const beepAt = Math.round((spoken!.end + 0.6) * wav.sampleRate);
  const beepLen = Math.round(0.5 * wav.sampleRate);
  const out = new Int16Array(beepAt + beepLen + wav.sampleRate);
  out.set(wav.samples.subarray(0, Math.min(wav.samples.length, beepAt)));
  for (let i = 0; i < beepLen; i++) {
    out[beepAt + i] = Math.round(
      0.3 * 32767 * Math.sin((2 * Math.PI * BEEP_HZ * i) / wav.sampleRate),
    );
  }
  writeWav(file, { sampleRate: wav.sampleRate, channels: 1, samples: out });
}

beforeAll(async () => {
  product = await startProduct({ worker: false });
  const dir = product.stack.logsDir;
  const agentsFile = join(dir, 'agents-voicemail.yaml');
  writeFileSync(agentsFile, agentsYaml());
  await product.startWorker('worker', {
    env: { AGENTS_CONFIG: agentsFile, SILENCE_TIMEOUT_S: '0' },
  });
  product.providers.llm.setRule(classifier);
  await primeTtsStandIn(product.providers.tts, [GREETING, MESSAGE]);
}, 240_000);

afterAll(async () => {
  await product?.stop();
});

/** A phone answering at once with `micWav` as its voice, and an outbound trunk to it. */
async function callee(user: string, micWav: string): Promise<Phone> {
  const phone = await product.phone({ user, answer: 'auto', micWav, micSeconds: 60 });
  const res = await product.api('POST', '/v1/trunks/outbound', {
    name: `e2e ${user}`,
    address: `${phone.host}:${phone.port}`,
    transport: 'udp',
    numbers: [FROM],
  });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  trunks.set(user, res.body.id);
  return phone;
}

/** Places the call to `phone` with `agent`; resolves once the phone answered. */
async function place(phone: Phone, agent: string): Promise<{ id: string; answeredAt: number }> {
  const since = Date.now();
  const res = await product.api('POST', '/v1/calls', {
    to: phone.user,
    from: FROM,
    trunkId: trunks.get(phone.user),
    agent: { name: agent },
  });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  const answered = await phone.waitForEvent('CALL_ESTABLISHED', { since, timeoutMs: 20_000 });
  return { id: res.body.id as string, answeredAt: answered.at };
}

/** When the beep ended in what the phone sent (s from the recording's start). */
function beepEnd(sent: string): number {
  const { samples, sampleRate } = readWav(sent);
  let end: number | undefined;
  for (let t = 0; t + 0.1 <= samples.length / sampleRate; t += 0.1) {
    if ((heardMix(sent, t, t + 0.1, [BEEP_HZ]).tone[BEEP_HZ] ?? 0) > 0) end = t + 0.1;
  }
  if (end === undefined) throw new Error(`no ${BEEP_HZ} Hz beep in ${sent}`);
  return end;
}

/**
 * A call from `agent` answered by a mailbox (its greeting, the beep) on a phone of `user`: until
 * the line closed and `call.voicemail` was reported. `said` is what the agent's TTS made for it.
 */
async function callAMailbox(user: string, agent: string, closeWithinMs: number) {
  const mic = join(product.stack.logsDir, `mailbox-${user.slice(1)}.wav`);
  await mailboxWav(mic);
  const phone = await callee(user, mic);
  product.providers.stt.setScript([MAILBOX]);
  const spokenBefore = product.providers.tts.spoken().length;
  const call = await place(phone, agent);
  const closed = await phone.waitForEvent('CALL_CLOSED', {
    since: call.answeredAt,
    timeoutMs: closeWithinMs,
  });
  const voicemail = await until('call.voicemail', () =>
    product.callEvents(call.id).find((e) => e.type === 'call.voicemail'),
  );
  const said = product.providers.tts.spoken().slice(spokenBefore);
  return { phone, call, closed, voicemail, said };
}

describe('voicemail on a real outbound call', () => {
  it('leaves the message after the beep, then hangs up; the mailbox never hears the greeting', async () => {
    const { phone, call, closed, voicemail, said } = await callAMailbox(
      '+15550000061',
      'leaves-message',
      45_000,
    );
    expect(voicemail.data).toMatchObject({
      category: 'machine-vm',
      action: 'message-left',
      beepHeard: true,
    });
    expect(said.map((c) => c.text.trim())).toEqual([MESSAGE]);
    const message = said[0]!;

    const rec = phone.recordings().at(-1)!;
    const beep = beepEnd(rec.sent);
    const heard = speechIn(rec.heard);
    console.log(
      `voicemail: beep ended at ${beep.toFixed(2)} s; the mailbox heard ${JSON.stringify(heard)}; ` +
        `hung up ${closed.at - call.answeredAt} ms after the answer (${closed.param})`,
    );
    // Nothing before the beep's end: the greeting was never played to the machine.
    expect(heard.length).toBeGreaterThan(0);
    expect(heard[0]!.start).toBeGreaterThanOrEqual(beep);
    // The whole message, and soon after the beep (the recording is what a mailbox keeps).
    expect(heard[0]!.start - beep).toBeLessThan(3);
    const heardS = heard.reduce((n, s) => n + s.end - s.start, 0);
    expect(heardS).toBeGreaterThan((message.audioMs / 1000) * 0.8);
    // Then the agent hung up: the phone got the bridge's BYE after the message played.
    expect(closed.at).toBeGreaterThan(message.firstAudioAt! + message.audioMs - 500);
    const summary = await until('call.summary', () =>
      product.callEvents(call.id).find((e) => e.type === 'call.summary'),
    );
    expect(summary.data).toMatchObject({ outcome: 'voicemail', endedBy: 'agent' });
    await until('call.ended', () =>
      product.callEvents(call.id).find((e) => e.type === 'call.ended'),
    );
  }, 90_000);

  it('hang-up policy: the mailbox records nothing and the call ends', async () => {
    const { phone, call, closed, voicemail, said } = await callAMailbox(
      '+15550000062',
      'hangs-up',
      30_000,
    );
    expect(voicemail.data).toMatchObject({ category: 'machine-vm', action: 'hung-up' });
    expect(said).toEqual([]);
    const rec = phone.recordings().at(-1)!;
    const heard = heardMix(rec.heard, 0, Number.POSITIVE_INFINITY, [BEEP_HZ]);
    console.log(
      `hang-up: closed ${closed.at - call.answeredAt} ms after the answer (${closed.param}); heard ${JSON.stringify(heard)}`,
    );
    expect(speechIn(rec.heard)).toEqual([]);
    expect(heard.otherAny).toBeLessThanOrEqual(0.2);
    const summary = await until('call.summary', () =>
      product.callEvents(call.id).find((e) => e.type === 'call.summary'),
    );
    expect(summary.data).toMatchObject({ outcome: 'voicemail', endedBy: 'agent' });
  }, 60_000);

  it('a person who answers "Hello?" is greeted after it, and no voicemail is reported', async () => {
    const mic = join(product.stack.logsDir, 'person-hello.wav');
    await callerWav(mic, [{ at: 0.5, text: 'Hello?' }]);
    const phone = await callee('+15550000063', mic);
    product.providers.stt.setScript(['Hello?']);
    const spokenBefore = product.providers.tts.spoken().length;
    const call = await place(phone, 'leaves-message');
    const greeting = await until(
      'the greeting played',
      () => {
        const c = product.providers.tts
          .spoken()
          .slice(spokenBefore)
          .find((x) => x.text.includes('calling about your appointment'));
        return c?.firstAudioAt && Date.now() > c.firstAudioAt + c.audioMs + 500 ? c : undefined;
      },
      30_000,
    );
    expect(greeting.text.trim()).toBe(GREETING);
    expect((await product.api('DELETE', `/v1/calls/${call.id}`)).status).toBe(204);
    await phone.waitForEvent('CALL_CLOSED', { since: call.answeredAt, timeoutMs: 10_000 });
    const rec = phone.recordings().at(-1)!;
    const heard = speechIn(rec.heard);
    const sent = speechIn(rec.sent);
    console.log(
      `person: said "Hello?" ${JSON.stringify(sent)}; heard ${JSON.stringify(heard)}; ` +
        `greeting's first audio ${greeting.firstAudioAt! - call.answeredAt} ms after the answer`,
    );
    // The greeting came after the callee's "Hello?" (not over it), within a few seconds.
    expect(heard.length).toBeGreaterThan(0);
    expect(heard[0]!.start).toBeGreaterThan(sent[0]!.end);
    expect(heard[0]!.start - sent[0]!.end).toBeLessThan(4);
    await until('call.ended', () =>
      product.callEvents(call.id).find((e) => e.type === 'call.ended'),
    );
    expect(product.callEvents(call.id).find((e) => e.type === 'call.voicemail')).toBeUndefined();
  }, 60_000);
});
