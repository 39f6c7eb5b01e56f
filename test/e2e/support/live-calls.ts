/**
 * Callers who stay on the line while the workers around them change (rolling deploys, drains):
 * dial in, wait for the greeting to play, ask a question and wait until its answer played, as
 * the stand-ins (STT heard it, TTS spoke it) and the caller's phone saw it.
 */
import type { Phone } from '../../../stack/phones.js';
import type { Product } from '../../../stack/product.js';
import { until } from './audio.js';
import { dialIn, played } from './standins.js';

export interface LiveCall {
  phone: Phone;
  callId: string;
  caller: string;
  answeredAt: number;
  /** When the caller started hanging up (undefined: still talking). */
  hungUpAt?: number;
}

/** `caller` dials `number` from a phone of their own, with a microphone of two minutes. */
export async function callNumber(
  product: Product,
  caller: string,
  number: string,
): Promise<LiveCall> {
  const phone = await product.phone({ user: caller, micSeconds: 120 });
  const { callId, answeredAt } = await dialIn(product, phone, number);
  return { phone, callId, caller, answeredAt };
}

/** Until the agent's greeting (it names Acme) played on the call. */
export async function greeted(product: Product, c: LiveCall): Promise<void> {
  const greeting = await until('the greeting', () =>
    product.providers.tts
      .spoken()
      .find(
        (s) => s.text.includes('Acme') && (s.firstAudioAt ?? 0) >= c.answeredAt - 2000 && s.finalAt,
      ),
  );
  await played(greeting);
}

/** The caller says `wav`'s sentence once the agent is quiet; resolves when the answer played. */
export async function ask(
  product: Product,
  c: LiveCall,
  wav: string,
  transcript: string,
  answer: string,
): Promise<{ heardAt: number; replyAudioAt: number; replyMs: number }> {
  const before = product.providers.tts.spoken().length;
  const askedAt = Date.now();
  await c.phone.play(wav, 100);
  const heard = await until('the STT hearing the caller', () =>
    product.providers.stt
      .heard()
      // Confirmed after the WAV started: the stand-in's onset may reach back into line noise
      // heard before it (one sound segment), so the onset alone cannot say which sentence.
      .find((h) => h.transcript === transcript && h.confirmedAt >= askedAt && h.finalSentAt),
  ).catch((err) => {
    console.log('heard:', JSON.stringify(product.providers.stt.heard()), 'asked at', askedAt);
    throw err;
  });
  const reply = await until(
    'the answer',
    () =>
      product.providers.tts
        .spoken()
        .slice(before)
        .find((s) => s.text.includes(answer) && s.finalAt && s.firstAudioAt),
    20_000,
  );
  await played(reply);
  return { heardAt: heard.confirmedAt, replyAudioAt: reply.firstAudioAt!, replyMs: reply.audioMs };
}
