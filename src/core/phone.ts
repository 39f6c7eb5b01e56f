/**
 * Phone numbers: E.164 validation (libphonenumber-js) and masking for logs.
 */
import {
  type CountryCode,
  isValidPhoneNumber,
  parsePhoneNumberFromString,
} from 'libphonenumber-js/max';

const E164_SHAPE = /^\+[1-9]\d{1,14}$/;

/** True for a plausible, correctly formatted E.164 number ("+" country code, digits only). */
export function isE164(value: string): boolean {
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
    if (international?.isValid()) return international.number;
    if (!defaultRegion || !/^[\d\s().-]{4,20}$/.test(v)) return undefined;
    const national = parsePhoneNumberFromString(v, defaultRegion);
    return national?.isValid() ? national.number : undefined;
  }
  const parsed = parsePhoneNumberFromString(v);
  return parsed?.isValid() ? parsed.number : undefined;
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
