/**
 * Cold transfer: SIP REFER (TransferSIPParticipant) hands the caller to a number or SIP URI.
 * On success the carrier connects the caller to the target and the phone participant leaves
 * the room (which ends the job); on failure the caller is still with the agent.
 */

import { transferTarget } from '../../core/phone.js';
import type { CallControl } from '../call-control.js';
import { type TransferFailure, transferFailure } from './outcome.js';

export interface ColdTransferOptions {
  to: string;
  ringingTimeoutS: number;
}

export type TransferResult =
  | { ok: true; to: string }
  | { ok: false; to: string; failure: TransferFailure };

export async function coldTransfer(
  control: CallControl,
  opts: ColdTransferOptions,
): Promise<TransferResult> {
  // The agents file checked the destination; anything else goes to LiveKit as given.
  const to = transferTarget(opts.to)?.uri ?? opts.to.trim();
  const log = control.log.child({ callId: control.room, mode: 'cold' });
  log.info('transferring the caller (SIP REFER)');
  try {
    await control.transfer(control.callerIdentity, to, { ringingTimeoutS: opts.ringingTimeoutS });
    log.info('transfer accepted by the far end');
    return { ok: true, to };
  } catch (err) {
    const failure = transferFailure(err);
    log.warn({ reason: failure.reason, sipStatusCode: failure.sipStatusCode }, 'transfer failed');
    return { ok: false, to, failure };
  }
}
