/**
 * The one request-signing scheme, used wherever this service POSTs to someone else's endpoint
 * (declared HTTP tools, outgoing call events): header `X-Phone-Agents-Signature:
 * t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>`. The timestamp is inside the
 * MAC so receivers can reject replays.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

/** Lower-case, as Node's `req.headers` keys are; HTTP header names are case-insensitive. */
export const SIGNATURE_HEADER = 'x-phone-agents-signature';

export function sign(secret: string, body: string, nowS = Math.floor(Date.now() / 1000)): string {
  const v1 = createHmac('sha256', secret).update(`${nowS}.${body}`).digest('hex');
  return `t=${nowS},v1=${v1}`;
}

/**
 * Checks a signature header as a receiver should: right key, untampered body, and a timestamp
 * within `toleranceS` of now. Exported for endpoint implementers and tests.
 */
export function verify(
  secret: string,
  header: string | undefined,
  body: string,
  { toleranceS = 300, nowS = Math.floor(Date.now() / 1000) } = {},
): boolean {
  const parts = new Map(
    (header ?? '').split(',').map((p) => {
      const i = p.indexOf('=');
      return [p.slice(0, i).trim(), p.slice(i + 1).trim()] as const;
    }),
  );
  const t = Number(parts.get('t'));
  const v1 = parts.get('v1') ?? '';
  if (!Number.isInteger(t) || Math.abs(nowS - t) > toleranceS || !/^[0-9a-f]{64}$/.test(v1)) {
    return false;
  }
  const expected = createHmac('sha256', secret).update(`${t}.${body}`).digest();
  return timingSafeEqual(expected, Buffer.from(v1, 'hex'));
}
