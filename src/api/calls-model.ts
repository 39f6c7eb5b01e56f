/**
 * The call model. The API keeps no call state: LiveKit is the source of truth. A call is a room
 * with a SIP participant; its id is the room name (`call-<uuid>` for outbound calls, the
 * dispatch rule's room name for inbound ones). Its status comes from the SIP participant's
 * `sip.callStatus` attribute. Outbound rooms carry `CallRoomMetadata`; the agent receives the
 * request as `OutboundCallJob` in its job metadata (the contract: src/core/job-metadata.ts).
 */
import { randomUUID } from 'node:crypto';
import type { ParticipantInfo, Room } from 'livekit-server-sdk';
import { type CallDirection, jsonObject } from '../core/job-metadata.js';

const CALL_ID_PREFIX = 'call-';
/** Identity of the phone participant of outbound calls (the SDK's own default is ambiguous). */
export const OUTBOUND_SIP_IDENTITY = 'callee';

/** `ParticipantInfo_Kind.SIP` / `ParticipantInfo_State.DISCONNECTED` (the SDK does not export the enums). */
const KIND_SIP = 3;
const STATE_DISCONNECTED = 3;

export type CallStatus = 'dialing' | 'ringing' | 'active' | 'ended' | 'failed';

export function newCallId(): string {
  return CALL_ID_PREFIX + randomUUID();
}

/** Room metadata marking a room the API created for an outbound call. */
export interface CallRoomMetadata {
  phoneAgents: {
    callId: string;
    direction: 'outbound';
    agent?: string;
    to: string;
    from?: string;
    trunkId: string;
    metadata?: Record<string, string>;
    createdAt: string;
    /** POST /v1/calls waited for the answer: it reports a failed dial itself (call.ended). */
    waitUntilAnswered?: boolean;
  };
}

export function parseRoomMetadata(
  raw: string | undefined,
): CallRoomMetadata['phoneAgents'] | undefined {
  if (!raw?.includes('"phoneAgents"')) return undefined;
  const m = jsonObject(raw)?.phoneAgents as CallRoomMetadata['phoneAgents'] | undefined;
  return typeof m?.callId === 'string' ? m : undefined;
}

export function isSipParticipant(p: ParticipantInfo | undefined): p is ParticipantInfo {
  return Number(p?.kind) === KIND_SIP || p?.attributes?.['sip.callID'] !== undefined;
}

/**
 * A warm transfer's human: a SIP participant the agent dialed into the caller's room
 * (`phoneAgents.role` set by src/telephony/transfer/warm-transfer.ts), not the call's phone.
 */
export function isTransferTarget(p: ParticipantInfo | undefined): boolean {
  return p?.attributes?.['phoneAgents.role'] === 'transfer-target';
}

export function isDisconnected(p: ParticipantInfo): boolean {
  return Number(p.state) === STATE_DISCONNECTED;
}

/** Whether a room holds a call: a phone participant, or our metadata (a call being dialed). */
export function isCallRoom(room: Room, participants: readonly ParticipantInfo[]): boolean {
  return participants.some(isSipParticipant) || parseRoomMetadata(room.metadata) !== undefined;
}

/** The call's phone participant: a connected one first. */
export function sipParticipantOf(
  participants: readonly ParticipantInfo[],
): ParticipantInfo | undefined {
  let found: ParticipantInfo | undefined;
  for (const p of participants) {
    if (!isSipParticipant(p)) continue;
    if (!isDisconnected(p)) return p;
    found ??= p;
  }
  return found;
}

/** Caller and callee from the phone participant's attributes (sip.phoneNumber is the remote party). */
export function sipParties(
  attrs: Record<string, string> | undefined,
  outbound: boolean,
): { from?: string; to?: string } {
  const remote = attrs?.['sip.phoneNumber'];
  const local = attrs?.['sip.trunkPhoneNumber'];
  return outbound ? { from: local, to: remote } : { from: remote, to: local };
}

/** LiveKit's `DisconnectReason` numbers → names (for events and logs). */
const DISCONNECT_REASONS = [
  'UNKNOWN_REASON',
  'CLIENT_INITIATED',
  'DUPLICATE_IDENTITY',
  'SERVER_SHUTDOWN',
  'PARTICIPANT_REMOVED',
  'ROOM_DELETED',
  'STATE_MISMATCH',
  'JOIN_FAILURE',
  'MIGRATION',
  'SIGNAL_CLOSE',
  'ROOM_CLOSED',
  'USER_UNAVAILABLE',
  'USER_REJECTED',
  'SIP_TRUNK_FAILURE',
  'CONNECTION_TIMEOUT',
  'MEDIA_FAILURE',
  'AGENT_ERROR',
] as const;

export function disconnectReasonName(reason: number | undefined): string {
  return DISCONNECT_REASONS[Number(reason ?? 0)] ?? `REASON_${reason}`;
}

/**
 * Why a call ended (`call.ended` data.reason). From webhooks: hangup, no-answer, rejected (busy
 * or declined: LiveKit does not tell them apart), failed, transfer, unknown. When the API itself
 * saw the dial fail (waitUntilAnswered), the SIP outcome: busy, declined, no-answer,
 * unreachable, rejected.
 */
export type EndReason = 'hangup' | 'no-answer' | 'rejected' | 'failed' | 'transfer' | 'unknown';

/**
 * Why the phone participant left, from LiveKit's disconnect reason and, when given, the phone's
 * last `sip.callStatus`. The bridge sets `hangup` when either side sent BYE; a bridge that then
 * drops its connection to LiveKit before its leave arrives is reported ~20 s later as a
 * connection failure (seen with livekit-sip v1.8.0 on the real stack), though the call ended
 * normally.
 */
export function endReasonOf(reason: number | undefined, sipCallStatus?: string): EndReason {
  const byReason = endReasonByDisconnect(reason);
  if (sipCallStatus === 'hangup' && (byReason === 'failed' || byReason === 'unknown')) {
    return 'hangup';
  }
  return byReason;
}

function endReasonByDisconnect(reason: number | undefined): EndReason {
  switch (disconnectReasonName(reason)) {
    case 'CLIENT_INITIATED': // the phone side hung up
    case 'PARTICIPANT_REMOVED': // our side (agent or DELETE /v1/calls/:id) hung up
    case 'ROOM_DELETED':
    case 'ROOM_CLOSED':
      return 'hangup';
    case 'USER_UNAVAILABLE':
      return 'no-answer';
    case 'USER_REJECTED':
      return 'rejected';
    case 'JOIN_FAILURE':
    case 'SIP_TRUNK_FAILURE':
    case 'CONNECTION_TIMEOUT':
    case 'MEDIA_FAILURE':
    case 'SIGNAL_CLOSE':
    case 'STATE_MISMATCH':
    case 'SERVER_SHUTDOWN':
    case 'AGENT_ERROR':
      return 'failed';
    default:
      return 'unknown';
  }
}

const FAILED_REASONS = new Set<EndReason>(['no-answer', 'rejected', 'failed']);

function ms(v: bigint | number | undefined): number {
  return v === undefined ? 0 : Number(v);
}

export function roomCreatedAtMs(room: Room): number {
  return ms(room.creationTimeMs) || ms(room.creationTime) * 1000;
}

export function joinedAtMs(p: ParticipantInfo): number {
  return ms(p.joinedAtMs) || ms(p.joinedAt) * 1000;
}

/**
 * Status from the phone participant. Without one, the call is being set up (the room exists a
 * moment before the dial request lands) unless the room is older than `setupWindowMs`.
 */
function callStatusOf(
  sip: ParticipantInfo | undefined,
  roomCreatedMs: number,
  nowMs: number,
  setupWindowMs: number,
): CallStatus {
  if (!sip) return nowMs - roomCreatedMs < setupWindowMs ? 'dialing' : 'ended';
  if (isDisconnected(sip)) {
    const reason = endReasonOf(sip.disconnectReason, sip.attributes?.['sip.callStatus']);
    return FAILED_REASONS.has(reason) ? 'failed' : 'ended';
  }
  switch (sip.attributes?.['sip.callStatus']) {
    case 'dialing':
      return 'dialing';
    case 'ringing':
      return 'ringing';
    case 'hangup':
      return 'ended';
    default:
      // 'active', 'automation' (sending DTMF after answer), or a server without the attribute.
      return 'active';
  }
}

/** The API's view of a call. */
export interface CallView {
  id: string;
  room: string;
  direction: CallDirection;
  status: CallStatus;
  to?: string;
  from?: string;
  agent?: string;
  trunkId?: string;
  sipCallId?: string;
  sipCallStatus?: string;
  participantIdentity?: string;
  createdAt: string;
  metadata?: Record<string, string>;
}

export function toCallView(
  room: Room,
  participants: readonly ParticipantInfo[],
  nowMs: number,
  setupWindowMs: number,
): CallView {
  const meta = parseRoomMetadata(room.metadata);
  const sip = sipParticipantOf(participants);
  const attrs = sip?.attributes ?? {};
  const direction: CallDirection = meta ? 'outbound' : 'inbound';
  const { from, to } = sipParties(attrs, direction === 'outbound');
  const created = roomCreatedAtMs(room);
  return {
    id: room.name,
    room: room.name,
    direction,
    status: callStatusOf(sip, created, nowMs, setupWindowMs),
    to: to ?? meta?.to,
    from: from ?? meta?.from,
    agent: meta?.agent,
    trunkId: attrs['sip.trunkID'] ?? meta?.trunkId,
    sipCallId: attrs['sip.callID'],
    sipCallStatus: attrs['sip.callStatus'],
    participantIdentity: sip?.identity,
    createdAt: new Date(created || nowMs).toISOString(),
    metadata: meta?.metadata,
  };
}
