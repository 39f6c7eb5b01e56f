/**
 * What the product did, seen from the provider stand-ins and the API: what the agent's TTS spoke
 * and when it played out, a call dialed in and its id.
 */
import type { Phone } from '../../../stack/phones.js';
import type { Product } from '../../../stack/product.js';
import type { SpokenContext } from '../../../stack/providers/index.js';
import { until } from './audio.js';

/** The first TTS context opened at or after `since` whose text holds `words`, once final. */
export function spokenSince(
  product: Product,
  words: string,
  since: number,
): Promise<SpokenContext> {
  return until(`"${words}" spoken`, () =>
    product.providers.tts
      .spoken()
      .find((c) => c.openedAt >= since && c.text.includes(words) && c.finalAt && c.firstAudioAt),
  );
}

/** Until `ctx` played out on the worker's side (+ `marginMs`). */
export function played(ctx: SpokenContext, marginMs = 800): Promise<true> {
  return until(
    'played',
    () => (Date.now() > ctx.firstAudioAt! + ctx.audioMs + marginMs ? true : undefined),
    30_000,
  );
}

/** The id of the call from `caller`, once `GET /v1/calls` lists it. */
export function callIdOf(product: Product, caller: string): Promise<string> {
  return until('the call in GET /v1/calls', async () => {
    const r = await product.api('GET', '/v1/calls');
    return r.body?.calls?.find((c: { from: string }) => c.from === caller)?.id as
      | string
      | undefined;
  });
}

/**
 * `phone` calls `number` through the SIP bridge; resolves once answered, with the call's id
 * (ours) and `sipCallId` (baresip's id of the call: its SIP Call-ID).
 */
export async function dialIn(
  product: Product,
  phone: Phone,
  number: string,
  timeoutMs = 30_000,
): Promise<{ dialedAt: number; answeredAt: number; callId: string; sipCallId: string }> {
  const dialedAt = Date.now();
  await phone.dial(product.stack.sipUri(number));
  const established = await phone.waitForEvent('CALL_ESTABLISHED', { since: dialedAt, timeoutMs });
  return {
    dialedAt,
    answeredAt: established.at,
    callId: await callIdOf(product, phone.user),
    sipCallId: established.id ?? '',
  };
}
