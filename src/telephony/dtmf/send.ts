/** Sends DTMF keys into the call (navigating an IVR on an outbound call). */
import type { CallControl } from '../call-control.js';
import { maskDigits, parseDtmf } from './digits.js';

export const sendDtmfDefaults = {
  /** Between keys: long enough for IVRs that read tones, short enough to feel like a person. */
  gapMs: 300,
  /** What `w` waits. */
  pauseMs: 500,
} as const;

/** Sends `digits` (0-9 * # A-D, `w` = pause) one key at a time; throws DtmfInvalidError first. */
export async function sendDigits(
  control: CallControl,
  digits: string,
  opts: { gapMs?: number; pauseMs?: number; signal?: AbortSignal } = {},
): Promise<string> {
  const keys = parseDtmf(digits);
  const { gapMs, pauseMs } = { ...sendDtmfDefaults, ...opts };
  for (const k of keys) {
    if (opts.signal?.aborted) break;
    if (k === 'w') await sleep(pauseMs);
    else {
      await control.media.sendDtmf(k);
      await sleep(gapMs);
    }
  }
  control.log.info({ callId: control.room, digits: maskDigits(keys) }, 'DTMF sent');
  return keys;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
