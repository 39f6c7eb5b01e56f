/**
 * A caller dials a number routed to an agent, on the real stack: `PUT /v1/numbers/:e164` (our
 * API) makes the inbound trunk and the dispatch rule on the real LiveKit server; a baresip phone
 * calls the real SIP bridge; LiveKit dispatches our worker, which answers with the
 * receptionist's greeting (ElevenLabs protocol → eSpeak speech). The phone says a sentence; the
 * Deepgram stand-in hears it in the RTP audio that crossed bridge, server and worker, the LLM
 * stand-in answers, and the phone hears the reply. The phone hangs up: `call.ended` and the
 * worker's `call.summary` arrive as signed call events, and the real server's webhooks passed
 * our signature check on the way.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Phone } from '../../stack/phones.js';
import { type Product, startProduct } from '../../stack/product.js';
import { callerWav, levelBetween, type Segment, speechIn, until } from './support/audio.js';

const NUMBER = '+15550100000'; // possible, not valid: a developer's test number
const CALLER = '+15550000001';
const GREETING = 'Thanks for calling Acme Home Internet, this is Ava. How can I help you today?';
const QUESTION = 'I have a question about my bill';
const REPLY = 'Of course. I can help you with your bill. Let me pull up your account.';

let product: Product;
let phone: Phone;
let said: Segment[];
let sentence: string;
/** When the question started, seconds into the phone's recordings; the reply's length. */
let askedInRecording = 0;
let replyAudioS = 0;

beforeAll(async () => {
  product = await startProduct();
  sentence = join(product.stack.logsDir, 'caller-question.wav');
  said = await callerWav(sentence, [{ at: 0.2, text: QUESTION }]);
  product.providers.stt.setScript([QUESTION]);
  product.providers.llm.setRules([{ match: 'bill', reply: REPLY }]);
}, 180_000);

afterAll(async () => {
  await product?.stop();
});

describe('an inbound call to a routed number, over the real LiveKit server and SIP bridge', () => {
  let callId = '';
  let answeredAt = 0;
  let dialedAt = 0;

  it('routes the number to the receptionist through our API', async () => {
    const res = await product.api('PUT', `/v1/numbers/${encodeURIComponent(NUMBER)}`, {
      agent: { name: 'receptionist' },
    });
    expect(res.status, JSON.stringify(res.body)).toBeLessThan(300);
    expect(res.body).toMatchObject({ number: NUMBER, agent: { name: 'receptionist' } });
  });

  it('answers the call and greets the caller', async () => {
    phone = await product.phone({ user: CALLER, micSeconds: 120 });
    dialedAt = Date.now();
    await phone.dial(product.stack.sipUri(NUMBER));
    const established = await phone.waitForEvent('CALL_ESTABLISHED', {
      since: dialedAt,
      timeoutMs: 30_000,
    });
    answeredAt = established.at;
    console.log(`inbound INVITE → 200 OK: ${answeredAt - dialedAt} ms`);
    const calls = await until('the call in GET /v1/calls', async () => {
      const r = await product.api('GET', '/v1/calls');
      return r.body?.calls?.length ? r.body.calls : undefined;
    });
    expect(calls[0]).toMatchObject({ direction: 'inbound', status: 'active', from: CALLER });
    callId = calls[0].id;
    // The greeting went through the ElevenLabs protocol and was played to the line.
    const greeting = await until('the greeting spoken', () =>
      product.providers.tts
        .spoken()
        .find((c) => c.text.includes('Acme Home Internet') && c.finalAt),
    );
    expect(greeting.text.trim()).toBe(GREETING);
    // (The phone's recordings are complete once the call ends: heard audio is checked then.)
  });

  it('hears the caller and answers with the LLM reply', async () => {
    // Once the greeting is over, the caller asks.
    const greeting = product.providers.tts.spoken()[0]!;
    await until('the greeting over', () =>
      Date.now() > (greeting.firstAudioAt ?? 0) + greeting.audioMs + 800 ? true : undefined,
    );
    const askedAt = Date.now();
    await phone.play(sentence, 100);
    const heard = await until('the STT stand-in hearing the question', () =>
      product.providers.stt.heard().find((h) => h.transcript === QUESTION && h.finalSentAt),
    );
    // The words came from the audio played now: the stand-in confirmed speech after the WAV
    // started (its onset can reach back into line noise before it: one sound segment).
    expect(heard.confirmedAt).toBeGreaterThanOrEqual(askedAt);
    const request = await until('the LLM request', () =>
      product.providers.llm.requests().find((r) => r.userText.includes(QUESTION)),
    );
    expect(request.agent ?? 'receptionist').toBe('receptionist');
    const reply = await until('the reply spoken', () =>
      product.providers.tts
        .spoken()
        .find((c) => c.text.includes('pull up your account') && c.finalAt),
    );
    // Let the reply play out.
    await until('the reply played', () =>
      Date.now() > (reply.firstAudioAt ?? 0) + reply.audioMs + 800 ? true : undefined,
    );
    askedInRecording = (askedAt - answeredAt) / 1000 + said[0]!.start;
    replyAudioS = reply.audioMs / 1000;
    const turnLatency = (reply.firstAudioAt ?? 0) - (heard.offsetAt ?? heard.onsetAt);
    console.log(`turn: caller's last word → agent's first audio sent ≈ ${turnLatency} ms`);
  });

  it('ends with call.ended and the call summary when the caller hangs up', async () => {
    await phone.hangup();
    const ended = await until('call.ended', () =>
      product.callEvents(callId).find((e) => e.type === 'call.ended'),
    );
    expect(ended.data).toMatchObject({ direction: 'inbound', reason: 'hangup' });
    const summary = await until('call.summary', () =>
      product.callEvents(callId).find((e) => e.type === 'call.summary'),
    );
    expect(summary.data).toMatchObject({ outcome: 'completed', endedBy: 'caller' });
    expect(summary.data.agents).toEqual(['receptionist']);
    const userLines = (summary.data.transcript as Array<{ role: string; text: string }>).filter(
      (l) => l.role === 'caller',
    );
    expect(userLines.map((l) => l.text)).toEqual([QUESTION]);
    // The webhooks that became call.started/call.ended passed our signature check.
    expect(product.callEvents(callId).map((e) => e.type)).toContain('call.started');
  });

  it('the phone heard the whole greeting after answering, and the reply after its question', async () => {
    await phone.stop(); // closes the recordings
    const { heard, sent } = phone.recordings().at(-1)!;
    const speech = speechIn(heard);
    console.log(`heard speech: ${JSON.stringify(speech)}`);
    // The greeting (about 4 s of speech) starts within 1.5 s of the answer.
    const greeting = speech[0]!;
    expect(greeting.start).toBeLessThan(1.5);
    expect(greeting.end - greeting.start).toBeGreaterThan(3);
    // Nothing between the greeting and the question: the agent waited for the caller.
    expect(
      speech.filter((s) => s.start > greeting.end + 0.5 && s.start < askedInRecording),
    ).toEqual([]);
    // The reply: speech after the question, about as long as the TTS made it.
    const after = speech.filter((s) => s.start > askedInRecording + 0.5);
    const replied = after.reduce((n, s) => n + (s.end - s.start), 0);
    expect(replied).toBeGreaterThan(replyAudioS * 0.7);
    // The phone's own track holds the question where the test played it.
    const sentSpeech = speechIn(sent);
    expect(sentSpeech.some((s) => Math.abs(s.start - askedInRecording) < 0.5)).toBe(true);
    expect(levelBetween(heard, greeting.start, greeting.end)).toBeGreaterThan(200);
  });
});
