/**
 * Phone numbers and phone URIs: E.164 checks (libphonenumber-js), SIP/tel URIs, transfer
 * destinations, and masking for logs.
 *
 * Numbers are accepted when they are *possible* (a country code and a length that country
 * uses), not only when libphonenumber's bundled metadata calls them *valid* today: carriers
 * route numbers the metadata does not know yet (new ranges), and developers test with 555
 * numbers (+1 555 123 0000) that are possible but never valid. Validity stays available as
 * information (`isValidE164`).
 */
import {
  type CountryCode,
  isPossiblePhoneNumber,
  isValidPhoneNumber,
  parsePhoneNumberFromString,
} from 'libphonenumber-js/max';

const E164_SHAPE = /^\+[1-9]\d{1,14}$/;

/** True for a correctly formatted, possible E.164 number ("+" country code, digits only). */
export function isE164(value: string): boolean {
  return E164_SHAPE.test(value) && isPossiblePhoneNumber(value);
}

/** True when the number is also valid by libphonenumber's metadata (assigned ranges). */
export function isValidE164(value: string): boolean {
  return E164_SHAPE.test(value) && isValidPhoneNumber(value);
}

/**
 * Normalises what a carrier or SIP header sends ("+1 (415) 555-0123", "tel:+1415...",
 * "sip:+1415...@host") to E.164, or undefined when it is not a phone number (anonymous,
 * extensions, SIP user names). With `defaultRegion` (ISO 3166 alpha-2, e.g. "US"), national
 * formats such as "(415) 555-0123" are read as numbers of that country.
 */
export function toE164(value: string | undefined, defaultRegion?: CountryCode): string | undefined {
  if (!value) return undefined;
  const v = userPart(value);
  if (!v.startsWith('+')) {
    // Bare digits long enough to carry a country code are tried as international first.
    const international = /^\d{11,15}$/.test(v) ? parsePhoneNumberFromString(`+${v}`) : undefined;
    if (international?.isPossible()) return international.number;
    if (!defaultRegion || !/^[\d\s().-]{4,20}$/.test(v)) return undefined;
    const national = parsePhoneNumberFromString(v, defaultRegion);
    return national?.isPossible() ? national.number : undefined;
  }
  const parsed = parsePhoneNumberFromString(v);
  return parsed?.isPossible() ? parsed.number : undefined;
}

/**
 * The user part of a SIP/tel URI ("sip:+1415...@carrier;user=phone" → "+1415..."), or the value
 * itself, trimmed. toE164 reads numbers through it; routes match non-E.164 callers (extensions,
 * SIP users) by it.
 */
export function userPart(value: string): string {
  const m = /^(?:sips?|tel):([^@;]*)/i.exec(value.trim());
  return (m ? (m[1] ?? '') : value).trim();
}

/**
 * The numbers in a request (any string in E.164 shape, at any depth) that are possible but not
 * valid by libphonenumber's metadata: accepted, and worth a line in the log.
 */
export function unrecognisedNumbers(value: unknown, depth = 0): string[] {
  if (typeof value === 'string') return isE164(value) && !isValidE164(value) ? [value] : [];
  if (depth > 4 || typeof value !== 'object' || value === null) return [];
  return Object.values(value).flatMap((v) => unrecognisedNumbers(v, depth + 1));
}

/** A transfer destination as SIP REFER and dialing take it. */
export interface TransferTarget {
  /** `tel:+<E.164>`, or the `sip:`/`sips:` URI as given. */
  uri: string;
  /** The E.164 number of a `tel:` destination (what a warm transfer dials). */
  number?: string;
}

const SIP_URI = /^sips?:[^\s@<>"]+@[A-Za-z0-9.-]+(:\d{1,5})?(;[^\s<>"]*)?$/i;

/**
 * Reads a transfer destination: a bare E.164 number, `tel:+<E.164>`, or `sip:`/`sips:`
 * user@host (port and parameters allowed). Undefined when it is none of them.
 */
export function transferTarget(to: string): TransferTarget | undefined {
  const t = to.trim();
  const number = /^(?:tel:)?(\+\d+)$/i.exec(t)?.[1];
  if (number) return isE164(number) ? { uri: `tel:${number}`, number } : undefined;
  return SIP_URI.test(t) ? { uri: t } : undefined;
}

/** "+14155550123" → "***0123"; anything shorter than 5 characters is fully masked. */
export function maskNumber(value: string, full = false): string {
  if (full) return value;
  const digits = value.replace(/\D/g, '');
  if (digits.length < 5) return '***';
  return `***${digits.slice(-4)}`;
}

const NUMBER_IN_TEXT = /\+?\d[\d ().-]{5,18}\d/g;

/** Masks every phone-number-like run of digits inside free text (error messages, URLs). */
export function maskNumbersInText(text: string, full = false): string {
  if (full) return text;
  return text.replace(NUMBER_IN_TEXT, (m) =>
    m.replace(/\D/g, '').length >= 7 ? maskNumber(m) : m,
  );
}
