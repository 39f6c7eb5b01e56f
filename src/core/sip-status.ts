/**
 * What a SIP final status means for a call attempt, in the outcomes this product reports: the
 * API's dialing and transfer errors (src/api/livekit-errors.ts) and the agent's transfers
 * (src/telephony/transfer) read SIP answers through this one mapping.
 *
 * | outcome      | SIP status                             |
 * |--------------|----------------------------------------|
 * | busy         | 486, 600                               |
 * | declined     | 603, 607, 608                          |
 * | no-answer    | 408, 480, 487, none (ringing ran out)  |
 * | unreachable  | 404, 604, 500, 502, 503, 504           |
 * | rejected     | 403, 488 and anything else             |
 */
export type SipOutcome = 'busy' | 'declined' | 'no-answer' | 'unreachable' | 'rejected';

export function sipOutcome(status: number | undefined): SipOutcome {
  switch (status) {
    case 486:
    case 600:
      return 'busy';
    case 603:
    case 607:
    case 608:
      return 'declined';
    case undefined:
    case 408:
    case 480:
    case 487:
      return 'no-answer';
    case 404:
    case 604:
    case 500:
    case 502:
    case 503:
    case 504:
      return 'unreachable';
    default:
      return 'rejected';
  }
}
