/**
 * How a transfer attempt ended, from what the LiveKit SDK reported, in words the agent can say.
 * SIP statuses are read by the one mapping the API uses too (src/core/sip-status.ts).
 */
import { ServerError, SipCallError } from 'livekit-server-sdk';
import { type SipOutcome, sipOutcome } from '../../core/sip-status.js';

export type TransferFailureReason = SipOutcome | 'voicemail' | 'no-decision' | 'error';

export interface TransferFailure {
  reason: TransferFailureReason;
  sipStatusCode?: number;
  sipStatus?: string;
  /** For logs: what the SDK or the flow said. */
  detail: string;
}

/** Classifies an error thrown by TransferSIPParticipant / CreateSIPParticipant. */
export function transferFailure(err: unknown): TransferFailure {
  if (err instanceof SipCallError) {
    return {
      reason: sipOutcome(err.sipStatusCode),
      ...(err.sipStatusCode ? { sipStatusCode: err.sipStatusCode } : {}),
      ...(err.sipStatus ? { sipStatus: err.sipStatus } : {}),
      detail: err.message,
    };
  }
  if (err instanceof ServerError) {
    // Ringing ran out: canceled / deadline without SIP metadata.
    if (err.code === 'canceled' || err.code === 'deadline_exceeded') {
      return { reason: 'no-answer', detail: err.message };
    }
    return { reason: 'error', detail: `${err.code ?? err.status}: ${err.message}` };
  }
  if ((err as Error)?.name === 'TimeoutError') return { reason: 'no-answer', detail: 'timeout' };
  return { reason: 'error', detail: (err as Error)?.message ?? String(err) };
}

const SAY: Record<TransferFailureReason, string> = {
  busy: 'the line was busy',
  declined: 'the call was declined',
  'no-answer': 'nobody answered',
  unreachable: 'the number could not be reached',
  rejected: 'the phone network rejected the call',
  voicemail: 'the call went to voicemail',
  'no-decision': 'they could not take the call right now',
  error: 'a technical problem prevented it',
};

/** The tool output the LLM gets after a failed transfer: what happened and what to offer. */
export function failureInstructions(target: string, f: TransferFailure): string {
  return (
    `The transfer to ${target} did not go through: ${SAY[f.reason]}. ` +
    'You are still on the line with the caller. Tell them briefly, then offer another option: ' +
    'take a message, try another destination, or arrange a call back.'
  );
}
