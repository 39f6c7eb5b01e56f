/**
 * Why a call ended, from what LiveKit says of the phone participant (src/api/calls-model.ts): its
 * disconnect reason, corrected by the bridge's `sip.callStatus` when the bridge's own connection
 * failed after a normal BYE.
 */
import { DisconnectReason } from '@livekit/protocol';
import { describe, expect, it } from 'vitest';
import { endReasonOf } from '../src/api/calls-model.js';

describe('the end reason of a call', () => {
  it('maps LiveKit disconnect reasons', () => {
    expect(endReasonOf(DisconnectReason.CLIENT_INITIATED)).toBe('hangup');
    expect(endReasonOf(DisconnectReason.ROOM_DELETED)).toBe('hangup');
    expect(endReasonOf(DisconnectReason.USER_UNAVAILABLE)).toBe('no-answer');
    expect(endReasonOf(DisconnectReason.USER_REJECTED)).toBe('rejected');
    expect(endReasonOf(DisconnectReason.SIGNAL_CLOSE)).toBe('failed');
    expect(endReasonOf(DisconnectReason.CONNECTION_TIMEOUT)).toBe('failed');
    expect(endReasonOf(undefined)).toBe('unknown');
  });

  it('a BYE the bridge reported (sip.callStatus hangup) is a hang-up, even when its connection then failed', () => {
    expect(endReasonOf(DisconnectReason.CONNECTION_TIMEOUT, 'hangup')).toBe('hangup');
    expect(endReasonOf(DisconnectReason.SIGNAL_CLOSE, 'hangup')).toBe('hangup');
    expect(endReasonOf(undefined, 'hangup')).toBe('hangup');
  });

  it('the call status never hides a carrier outcome, and a live call status is no hang-up', () => {
    expect(endReasonOf(DisconnectReason.USER_REJECTED, 'hangup')).toBe('rejected');
    expect(endReasonOf(DisconnectReason.USER_UNAVAILABLE, 'hangup')).toBe('no-answer');
    expect(endReasonOf(DisconnectReason.CONNECTION_TIMEOUT, 'active')).toBe('failed');
  });
});
