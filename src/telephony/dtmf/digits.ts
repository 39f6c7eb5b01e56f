/**
 * DTMF keys: validation, the SipDTMF codes LiveKit uses, and masking for logs (account
 * numbers and PINs are never logged in full).
 */
import { DtmfInvalidError } from '../../core/errors.js';

const KEYS = '0123456789*#ABCD';

/** True for one key of a phone keypad (incl. the A-D column). */
export function isDtmfKey(k: string): boolean {
  return k.length === 1 && KEYS.includes(k.toUpperCase());
}

/** The SipDTMF code of a key: 0-9, * = 10, # = 11, A-D = 12-15. */
export function dtmfCode(key: string): number {
  const k = key.toUpperCase();
  if (!isDtmfKey(k)) throw new DtmfInvalidError(key);
  if (k >= '0' && k <= '9') return Number(k);
  if (k === '*') return 10;
  if (k === '#') return 11;
  return 12 + k.charCodeAt(0) - 'A'.charCodeAt(0);
}

/**
 * Normalises a digit string to send: spaces and dashes dropped, letters upper-cased, `w` kept
 * as a half-second pause. Throws DtmfInvalidError for anything else.
 */
export function parseDtmf(digits: string): string {
  const s = digits.replace(/[\s-]/g, '');
  if (s === '' || ![...s].every((k) => k === 'w' || k === 'W' || isDtmfKey(k))) {
    throw new DtmfInvalidError(digits);
  }
  return s.toUpperCase().replace(/W/g, 'w');
}

/** `12345678` → `******78`: only the last two keys of a longer entry stay readable. */
export function maskDigits(digits: string): string {
  if (digits.length <= 2) return '*'.repeat(digits.length);
  return '*'.repeat(digits.length - 2) + digits.slice(-2);
}
