/**
 * Translates what livekit-server-sdk throws into catalog errors, so every route reports
 * LiveKit and SIP failures the same way. SIP statuses become outcomes by the one mapping
 * (src/core/sip-status.ts); each outcome is an HTTP status and code, the API's documented contract:
 *
 * | outcome      | SIP status                   | HTTP | code                    |
 * |--------------|------------------------------|------|-------------------------|
 * | busy         | 486, 600                     | 409  | PA_ERR_SIP_BUSY         |
 * | declined     | 603, 607, 608                | 403  | PA_ERR_SIP_DECLINED     |
 * | no answer    | 408, 480, 487, ring timeout  | 504  | PA_ERR_SIP_NO_ANSWER    |
 * | unreachable  | 404, 604, 500, 502, 503, 504 | 502  | PA_ERR_SIP_UNREACHABLE  |
 * | rejected     | 403, 488 and anything else   | 502  | PA_ERR_SIP_REJECTED     |
 */
import { ServerError, SipCallError } from 'livekit-server-sdk';
import {
  LiveKitAuthError,
  LiveKitConflictError,
  LiveKitInvalidError,
  LiveKitPreconditionError,
  LiveKitRejectedError,
  LiveKitTimeoutError,
  LiveKitUnavailableError,
  NotFoundError,
  NotSupportedError,
  SipBusyError,
  SipDeclinedError,
  SipNoAnswerError,
  SipRejectedError,
  SipUnreachableError,
} from '../core/errors.js';
import { sipOutcome } from '../core/sip-status.js';
import { withProblem } from './problem.js';

const SIP_ERRORS = {
  busy: SipBusyError,
  declined: SipDeclinedError,
  'no-answer': SipNoAnswerError,
  unreachable: SipUnreachableError,
  rejected: SipRejectedError,
} as const;

/** What the carrier answered, as `fromLiveKitError` attaches it to SIP failures. */
export interface SipStatus {
  sipStatusCode: number;
  sipStatus: string;
}

/** The SIP status on an error from `fromLiveKitError`, or undefined when the carrier said none. */
export function sipStatusOf(err: unknown): SipStatus | undefined {
  const p = (err as { problem?: Partial<SipStatus> }).problem;
  return p?.sipStatusCode === undefined
    ? undefined
    : { sipStatusCode: p.sipStatusCode, sipStatus: p.sipStatus ?? '' };
}

/** LiveKit prefixes errors that crossed its internal RPC ("twirp error unknown: ..."). */
function cleanMessage(message: string): string {
  return message.replace(/^twirp error [a-z_]+: /, '');
}

/**
 * Maps an SDK error to a catalog error. `what` names the resource for not-found messages
 * ("trunk ST_123"). Unknown errors are returned unchanged (they become a logged 500).
 */
export function fromLiveKitError(err: unknown, what = 'resource'): Error {
  if (
    err instanceof SipCallError ||
    (err instanceof ServerError && err.metadata?.sip_status_code)
  ) {
    const sip = err instanceof SipCallError ? err : SipCallError.fromServerError(err);
    const status = sip.sipStatusCode;
    const reason = sip.sipStatus ?? 'unknown';
    const e = new SIP_ERRORS[sipOutcome(status)](`${status} ${reason}`);
    return withProblem(e, { sipStatusCode: status, sipStatus: reason });
  }
  if (err instanceof ServerError) {
    const msg = cleanMessage(err.message);
    switch (err.code) {
      case 'not_found':
      case 'bad_route':
        return new NotFoundError(`${what} not found (${msg})`);
      case 'invalid_argument':
      case 'malformed':
      case 'out_of_range':
        return new LiveKitInvalidError(msg);
      case 'already_exists':
      case 'aborted':
        return new LiveKitConflictError(msg);
      case 'failed_precondition':
        return new LiveKitPreconditionError(msg);
      case 'unauthenticated':
      case 'permission_denied':
        return new LiveKitAuthError(msg);
      case 'unimplemented':
        return new NotSupportedError(msg);
      case 'canceled':
      case 'deadline_exceeded':
        // A ring timeout without SIP metadata: nobody answered.
        if (/sip|timed out|ring/i.test(msg)) {
          return withProblem(new SipNoAnswerError(msg), {
            sipStatusCode: 408,
            sipStatus: 'Request Timeout',
          });
        }
        return new LiveKitTimeoutError(msg);
      case 'unavailable':
      case 'resource_exhausted':
        return new LiveKitUnavailableError(msg);
      default:
        if (err.status === 401) return new LiveKitAuthError(msg);
        return new LiveKitRejectedError(msg);
    }
  }
  if (err instanceof Error) {
    if (err.name === 'TimeoutError' || err.name === 'AbortError') {
      return new LiveKitTimeoutError('request timed out');
    }
    if (err instanceof TypeError && /fetch failed/i.test(err.message)) {
      const cause = (err as { cause?: { code?: string } }).cause?.code;
      return new LiveKitUnavailableError(cause ?? err.message);
    }
    return err;
  }
  return new LiveKitRejectedError(String(err));
}
