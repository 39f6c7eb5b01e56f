/**
 * What the far end does when the stand-in dials a number: chosen by the callee number's last
 * four digits (overridable per number), and the SIP-status → twirp mapping LiveKit applies
 * (livekit/protocol SIPStatus.GRPCStatus, xtwirp error meta).
 */
import { SIPStatus } from '@livekit/protocol';
import { errorDetails, rpcError, type TwirpCode, type TwirpError } from './twirp.js';

export type DialOutcome =
  | { kind: 'answer'; delayMs?: number }
  | { kind: 'sip-error'; status: number; reason: string; delayMs?: number }
  | { kind: 'no-answer' };

/** Real-shaped, libphonenumber-valid E.164 numbers, one per outcome. */
export const NUMBERS = {
  answers: '+14155550123',
  answers2: '+14155550124',
  busy: '+14155550486',
  declined: '+14155550603',
  noAnswer: '+14155550408',
  unreachable: '+14155550503',
  notFound: '+14155550404',
  unavailable: '+14155550480',
} as const;

const BY_SUFFIX: Record<string, DialOutcome> = {
  '0486': { kind: 'sip-error', status: 486, reason: 'Busy Here' },
  '0603': { kind: 'sip-error', status: 603, reason: 'Decline' },
  '0408': { kind: 'no-answer' },
  '0503': { kind: 'sip-error', status: 503, reason: 'Service Unavailable' },
  '0404': { kind: 'sip-error', status: 404, reason: 'Not Found' },
  '0480': { kind: 'sip-error', status: 480, reason: 'Temporarily Unavailable' },
};

/** The phone number in "tel:+1...", "sip:+1...@host", "<sip:...>" or a bare number. */
export function numberOf(target: string): string {
  const inner = target.replace(/^<(.*)>$/, '$1');
  const m = /^(?:sips?|tel):([^@;>]+)/i.exec(inner);
  return m?.[1] ?? inner;
}

export function outcomeFor(
  number: string,
  overrides: ReadonlyMap<string, DialOutcome>,
): DialOutcome {
  const n = numberOf(number);
  const o = overrides.get(n);
  if (o) return o;
  const digits = n.replace(/\D/g, '');
  return BY_SUFFIX[digits.slice(-4)] ?? { kind: 'answer' };
}

/** SIPStatus.GRPCStatus for the codes a phone call produces; class fallbacks otherwise. */
const SIP_TO_TWIRP: Record<number, TwirpCode> = {
  400: 'invalid_argument',
  401: 'permission_denied',
  402: 'permission_denied',
  403: 'permission_denied',
  404: 'not_found',
  405: 'invalid_argument',
  406: 'invalid_argument',
  407: 'unauthenticated',
  408: 'deadline_exceeded',
  410: 'not_found',
  480: 'resource_exhausted',
  481: 'not_found',
  484: 'invalid_argument',
  485: 'invalid_argument',
  486: 'resource_exhausted',
  487: 'aborted',
  488: 'invalid_argument',
  491: 'aborted',
  500: 'failed_precondition',
  501: 'failed_precondition',
  502: 'failed_precondition',
  503: 'failed_precondition',
  504: 'deadline_exceeded',
  600: 'resource_exhausted',
  603: 'permission_denied',
  604: 'not_found',
  606: 'invalid_argument',
  607: 'permission_denied',
  608: 'permission_denied',
};

export function twirpCodeForSip(status: number): TwirpCode {
  const mapped = SIP_TO_TWIRP[status];
  if (mapped) return mapped;
  if (status < 300) return 'unknown';
  if (status < 500) return 'invalid_argument';
  if (status < 600) return 'failed_precondition';
  return 'invalid_argument';
}

/** livekit/sip answers these INVITE failures with "INVITE failed", others "unexpected status". */
const INVITE_FAILED = new Set([400, 404, 480, 486, 488]);

/** The error CreateSIPParticipant returns when the INVITE gets a final non-2xx answer. */
export function inviteError(status: number, reason: string): TwirpError {
  const st = `sip status: ${status}: ${reason}`;
  const inner = INVITE_FAILED.has(status)
    ? `INVITE failed: ${st}`
    : `unexpected status from INVITE response: ${st}`;
  return sipStatusError(status, reason, inner);
}

/** The error TransferSIPParticipant returns when the REFER/NOTIFY reports a failure. */
export function transferError(status: number, reason: string): TwirpError {
  return sipStatusError(status, reason, `call transfer failed: sip status: ${status}: ${reason}`);
}

function sipStatusError(status: number, reason: string, inner: string): TwirpError {
  const code = twirpCodeForSip(status);
  const detail = new SIPStatus({ code: status, status: reason });
  return rpcError(code, inner, {
    sip_status_code: String(status),
    sip_status: reason,
    error_details: errorDetails(code, inner, detail),
  });
}

/** Ringing ran out (livekit/sip ErrSIPRequestTimeout, psrpc Canceled, no SIP status). */
export function ringTimeoutError(): TwirpError {
  return rpcError('canceled', 'sip request timed out');
}
