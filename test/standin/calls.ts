/**
 * SIP calls: outbound dialing (CreateSIPParticipant), inbound calls a test places with
 * `simulateInboundCall`, cold transfers, and the far end's actions (answer, hang up).
 * A call is a SIP participant in a room whose `sip.callStatus` attribute follows the call.
 */
import { createHash, randomUUID } from 'node:crypto';
import {
  type CreateSIPParticipantRequest,
  DisconnectReason,
  ParticipantInfo,
  ParticipantInfo_Kind,
  ParticipantPermission,
  type SIPDispatchRuleInfo,
  SIPHeaderOptions,
  type SIPInboundTrunkInfo,
  type SIPOutboundTrunkInfo,
  SIPParticipantInfo,
  SIPTransferStatus,
  type TransferSIPParticipantRequest,
  TransferSIPParticipantResponse,
} from '@livekit/protocol';
import {
  type DialOutcome,
  inviteError,
  numberOf,
  outcomeFor,
  ringTimeoutError,
  transferError,
} from './dialing.js';
import { newId } from './ids.js';
import type { Rooms } from './rooms.js';
import { rulePin, type SipStore, sameNumber, validateOutboundConfig } from './sip.js';
import { rpcError, type TwirpError, twirpError } from './twirp.js';

export type CallStatus = 'dialing' | 'ringing' | 'automation' | 'active' | 'hangup';

export interface SipCall {
  callId: string;
  callIdFull: string;
  direction: 'outbound' | 'inbound';
  room: string;
  identity: string;
  trunkId: string;
  ruleId?: string;
  /** Our side's number (from-number outbound, dialed number inbound). */
  trunkNumber: string;
  /** The remote party (callee outbound, caller inbound). */
  remoteNumber: string;
  headers: Record<string, string>;
  status: CallStatus;
  outcome?: DialOutcome;
  /** How the call ended, once it has. */
  end?: {
    reason:
      | 'answered-then-hangup'
      | 'failed'
      | 'no-answer'
      | 'transferred'
      | 'removed'
      | 'canceled';
    sipStatus?: number;
  };
  transfers: { to: string; result?: 'ok' | 'failed'; sipStatus?: number }[];
  startedAt: number;
  answeredAt?: number;
}

interface Live {
  call: SipCall;
  timers: Set<NodeJS.Timeout>;
  /** Settles the dial: undefined on answer, the error otherwise. */
  settle?: (err: TwirpError | undefined) => void;
  transfer?: { to: string; done: Promise<TwirpError | undefined> };
}

/** ringingTimeout when the request has none (livekit/sip's default). */
const DEFAULT_RINGING_MS = 30_000;
/** A delay between "dialing" and "ringing" (the INVITE's 180), kept short. */
const RING_AFTER_MS = 20;

export interface CallsOptions {
  answerDelayMs: number;
  outcomes: Map<string, DialOutcome>;
}

export class Calls {
  readonly calls = new Map<string, SipCall>();
  private readonly live = new Map<string, Live>();

  constructor(
    private readonly rooms: Rooms,
    private readonly store: SipStore,
    private readonly opts: CallsOptions,
  ) {
    // A SIP participant removed from the room (RemoveParticipant, DeleteRoom) ends its call.
    rooms.on('event', (e) => {
      if (e.event !== 'participant_left' || !e.participant) return;
      const callId = e.participant.attributes['sip.callID'];
      const live = callId ? this.live.get(callId) : undefined;
      if (live && live.call.identity === e.participant.identity) {
        this.finish(live, live.call.end?.reason ?? 'removed', undefined, false);
        live.settle?.(rpcError('canceled', 'participant left the room'));
      }
    });
  }

  /** CreateSIPParticipant. Resolves once joined, or (waitUntilAnswered) once answered. */
  async dial(req: CreateSIPParticipantRequest, signal: AbortSignal): Promise<SIPParticipantInfo> {
    if (req.sipTrunkId === '' && !req.trunk && req.sipNumber === '') {
      throw twirpError('invalid_argument', 'missing sip trunk id and sip number');
    }
    if (req.trunk) validateOutboundConfig(req.trunk);
    if (req.sipCallTo === '') throw twirpError('invalid_argument', 'missing sip callee number');
    if (req.sipCallTo.includes('@')) {
      throw twirpError(
        'invalid_argument',
        'SipCallTo should be a phone number or SIP user, not a full SIP URI',
      );
    }
    if (req.roomName === '') throw twirpError('invalid_argument', 'missing room name');
    let trunk: SIPOutboundTrunkInfo | undefined;
    if (req.sipTrunkId !== '') {
      trunk = this.store.outboundTrunks.get(req.sipTrunkId);
      if (!trunk) throw twirpError('not_found', 'requested sip trunk does not exist');
    }
    let from = req.sipNumber;
    if (from === '') {
      if (!trunk || trunk.numbers.length === 0) {
        throw rpcError('failed_precondition', 'no numbers on outbound trunk');
      }
      from = trunk.numbers[Math.floor(Math.random() * trunk.numbers.length)] ?? '';
    }
    const hostname = trunk?.address ?? req.trunk?.hostname ?? '';
    const callId = newId('SCL_');
    const identity = req.participantIdentity || `sip_${req.sipCallTo}`;
    const attrs: Record<string, string> = { ...req.participantAttributes };
    attrs['sip.callID'] = callId;
    attrs['sip.trunkID'] = req.sipTrunkId || trunk?.sipTrunkId || '';
    if (!req.hidePhoneNumber) {
      attrs['sip.phoneNumber'] = req.sipCallTo;
      attrs['sip.hostname'] = hostname;
      attrs['sip.trunkPhoneNumber'] = from;
    }
    const callIdFull = `${randomUUID()}@${hostname || 'standin'}`;
    attrs['sip.callIDFull'] = callIdFull;
    const headers = { ...trunk?.headers, ...req.headers };
    const include = req.includeHeaders || trunk?.includeHeaders || SIPHeaderOptions.SIP_NO_HEADERS;
    Object.assign(attrs, headerAttributes(headers, include));
    attrs['sip.callStatus'] = 'dialing';

    const call: SipCall = {
      callId,
      callIdFull,
      direction: 'outbound',
      room: req.roomName,
      identity,
      trunkId: attrs['sip.trunkID'] ?? '',
      trunkNumber: from,
      remoteNumber: req.sipCallTo,
      headers,
      status: 'dialing',
      outcome: outcomeFor(req.sipCallTo, this.opts.outcomes),
      transfers: [],
      startedAt: Date.now(),
    };
    this.calls.set(callId, call);
    // The SIP service joins the room first (creating it, without agents), then sends the INVITE.
    const p = this.rooms.join(
      req.roomName,
      new ParticipantInfo({
        identity,
        name: req.participantName,
        metadata: req.participantMetadata,
        kind: ParticipantInfo_Kind.SIP,
        attributes: attrs,
        permission: sipPermission(),
      }),
    );
    const live: Live = { call, timers: new Set() };
    this.live.set(callId, live);
    const answered = new Promise<TwirpError | undefined>((resolve) => {
      live.settle = (err) => {
        live.settle = undefined;
        resolve(err);
      };
    });
    const ringingMs = durationMs(req.ringingTimeout) ?? DEFAULT_RINGING_MS;
    this.ring(live, call.outcome ?? { kind: 'answer' }, ringingMs);

    const info = new SIPParticipantInfo({
      participantId: p.sid,
      participantIdentity: identity,
      roomName: req.roomName,
      sipCallId: callId,
    });
    if (!req.waitUntilAnswered) return info;
    const err = await Promise.race([
      answered,
      new Promise<TwirpError>((resolve) => {
        if (signal.aborted) resolve(rpcError('canceled', 'context canceled'));
        signal.addEventListener('abort', () => resolve(rpcError('canceled', 'context canceled')), {
          once: true,
        });
      }),
    ]);
    if (err) {
      // The caller went away while it rang: the dial is canceled like LiveKit's context is.
      if (live.settle) this.fail(live, 'canceled', undefined);
      throw err;
    }
    return info;
  }

  private ring(live: Live, outcome: DialOutcome, ringingMs: number): void {
    const delay =
      outcome.kind === 'no-answer' ? undefined : (outcome.delayMs ?? this.opts.answerDelayMs);
    this.after(live, Math.min(RING_AFTER_MS, delay ?? RING_AFTER_MS), () => {
      if (live.call.status === 'dialing') this.setStatus(live, 'ringing');
    });
    this.after(live, ringingMs, () => {
      if (live.settle) this.fail(live, 'no-answer', ringTimeoutError());
    });
    if (delay === undefined) return;
    this.after(live, delay, () => {
      if (!live.settle) return;
      if (outcome.kind === 'answer') this.answer(live);
      else if (outcome.kind === 'sip-error') {
        this.fail(live, 'failed', inviteError(outcome.status, outcome.reason), outcome.status);
      }
    });
  }

  private answer(live: Live): void {
    live.call.answeredAt = Date.now();
    live.call.status = 'active';
    this.bridgeSetAttributes(live, {
      'sip.callStatus': 'active',
      'sip.callTag': newId(''),
    });
    const settle = live.settle;
    live.settle = undefined;
    settle?.(undefined);
  }

  /** The dial failed or was canceled: the SIP participant leaves the room. */
  private fail(
    live: Live,
    reason: NonNullable<SipCall['end']>['reason'],
    err: TwirpError | undefined,
    sipStatus?: number,
  ): void {
    const settle = live.settle;
    live.settle = undefined;
    this.finish(live, reason, sipStatus, true);
    settle?.(err ?? rpcError('canceled', 'context canceled'));
  }

  /** Ends a call: status hangup, timers cleared, participant gone. */
  private finish(
    live: Live,
    reason: NonNullable<SipCall['end']>['reason'],
    sipStatus: number | undefined,
    leave: boolean,
  ): void {
    if (live.call.end) return;
    live.call.end = { reason, sipStatus };
    for (const t of live.timers) clearTimeout(t);
    live.timers.clear();
    this.live.delete(live.call.callId);
    if (leave) {
      // livekit-sip sets `hangup` when a call is hung up or canceled; a dial the far end refused
      // or never answered leaves with its last status (`ringing`): no attribute for those ends.
      if (reason !== 'failed' && reason !== 'no-answer') {
        this.bridgeSetAttributes(live, { 'sip.callStatus': 'hangup' });
      }
      live.call.status = 'hangup';
      this.rooms.leave(live.call.room, live.call.identity, disconnectReasonOf(reason, sipStatus));
    } else {
      live.call.status = 'hangup';
    }
  }

  private setStatus(live: Live, status: CallStatus): void {
    live.call.status = status;
    this.bridgeSetAttributes(live, { 'sip.callStatus': status });
  }

  /**
   * livekit-sip sets a call's attributes as the SIP participant itself (SetAttributes on its own
   * room connection): LiveKit refuses that without `canUpdateMetadata`, which the SIP token
   * grants and an UpdateParticipant that restates the permission without it takes away.
   */
  private bridgeSetAttributes(live: Live, attrs: Record<string, string>): void {
    const p = this.rooms.get(live.call.room)?.participants.get(live.call.identity);
    if (p && !p.permission?.canUpdateMetadata) return;
    this.rooms.setAttributes(live.call.room, live.call.identity, attrs);
  }

  private after(live: Live, ms: number, fn: () => void): void {
    const t = setTimeout(() => {
      live.timers.delete(t);
      fn();
    }, ms);
    t.unref();
    live.timers.add(t);
  }

  private liveFor(room: string, identity: string): Live {
    for (const live of this.live.values()) {
      if (live.call.room === room && live.call.identity === identity) return live;
    }
    throw new Error(`no SIP call for ${identity} in room ${room}`);
  }

  /** The far end: 'ringing', 'active' (answers now) or 'hangup'. */
  setCallStatus(room: string, identity: string, status: 'ringing' | 'active' | 'hangup'): void {
    const live = this.liveFor(room, identity);
    if (status === 'hangup') {
      this.hangup(room, identity);
      return;
    }
    if (status === 'active') {
      if (live.settle) this.answer(live);
      else this.setStatus(live, 'active');
      return;
    }
    this.setStatus(live, status);
  }

  /**
   * The phone hangs up. Before the answer that is the callee declining (603); afterwards a BYE:
   * the SIP participant leaves the room.
   */
  hangup(room: string, identity: string): void {
    const live = this.liveFor(room, identity);
    if (live.settle && live.call.direction === 'outbound') {
      this.fail(live, 'failed', inviteError(603, 'Decline'), 603);
      return;
    }
    this.finish(live, live.call.answeredAt ? 'answered-then-hangup' : 'canceled', undefined, true);
  }

  /** TransferSIPParticipant (cold transfer by SIP REFER). */
  async transfer(req: TransferSIPParticipantRequest): Promise<TransferSIPParticipantResponse> {
    if (req.transferTo === '') throw twirpError('invalid_argument', 'missing transfer to');
    const inner = req.transferTo.replace(/^<(.*)>$/, '$1');
    if (!/^(sips?|tel):/.test(inner)) {
      throw twirpError(
        'invalid_argument',
        'transfer_to must be a valid SIP(s) or TEL URI (sip:, sips: or tel:)',
      );
    }
    const p = this.rooms.participant(req.roomName, req.participantIdentity);
    const callId = p.attributes['sip.callID'];
    if (!callId) throw rpcError('invalid_argument', 'no SIP session associated with participant');
    const live = this.live.get(callId);
    if (!live) throw rpcError('canceled', 'call already closed');
    if (live.call.status !== 'active') {
      throw rpcError('failed_precondition', "can't transfer non established call");
    }
    if (live.transfer) {
      if (live.transfer.to !== inner) {
        throw rpcError('invalid_argument', 'call already being transferred elsewhere');
      }
    } else {
      const outcome = outcomeFor(numberOf(inner), this.opts.outcomes);
      const record: SipCall['transfers'][number] = { to: inner };
      live.call.transfers.push(record);
      const timeoutMs = durationMs(req.ringingTimeout) ?? DEFAULT_RINGING_MS;
      const done = new Promise<TwirpError | undefined>((resolve) => {
        const settle = (err: TwirpError | undefined, sipStatus?: number) => {
          if (record.result) return;
          live.transfer = undefined;
          record.result = err ? 'failed' : 'ok';
          record.sipStatus = sipStatus;
          resolve(err);
        };
        this.after(live, timeoutMs, () =>
          settle(rpcError('canceled', 'context deadline exceeded')),
        );
        if (outcome.kind === 'no-answer') return;
        this.after(live, outcome.delayMs ?? this.opts.answerDelayMs, () => {
          if (outcome.kind === 'answer') {
            settle(undefined, 200);
            this.finish(live, 'transferred', undefined, true);
          } else {
            settle(transferError(outcome.status, outcome.reason), outcome.status);
          }
        });
      });
      live.transfer = { to: inner, done };
    }
    const err = await live.transfer.done;
    if (err) throw err;
    return new TransferSIPParticipantResponse({
      transferId: newId('TR_'),
      status: SIPTransferStatus.STS_TRANSFER_SUCCESSFUL,
    });
  }

  /** A phone calls one of our numbers: trunk and dispatch-rule matching, then the SIP join. */
  inbound(opts: {
    from?: string;
    to: string;
    headers?: Record<string, string>;
    hidePhoneNumber?: boolean;
    pin?: string;
    sourceIp?: string;
  }): { room: string; identity: string; callId: string; ruleId: string; trunkId: string } {
    const from = opts.from ?? '+14155550100';
    const to = opts.to;
    const trunk = matchTrunk([...this.store.inboundTrunks.values()], from, to);
    const rule = matchRule(trunk, [...this.store.rules.values()], from, to, opts.pin);
    const { room: base, pin } = rulePin(rule);
    if (pin && opts.pin === undefined) throw new Error('dispatch rule requires a PIN');
    const hide = opts.hidePhoneNumber ?? rule.hidePhoneNumber;
    let room = base;
    let shownFrom = from;
    let identity = `sip_${from}`;
    if (hide) {
      identity = `sip_${createHash('sha256').update(from).digest('hex').slice(0, 16)}`;
      shownFrom = from.slice(from.length <= 4 ? -1 : -4);
    }
    const kind = rule.rule?.rule;
    if (kind?.case === 'dispatchRuleIndividual') {
      room = kind.value.noRandomness
        ? `${kind.value.roomPrefix}_${shownFrom}`
        : `${kind.value.roomPrefix}_${shownFrom}_${newId('')}`;
    } else if (kind?.case === 'dispatchRuleCallee') {
      room = kind.value.roomPrefix ? `${kind.value.roomPrefix}_${to}` : to;
      if (kind.value.randomize) room += `_${newId('')}`;
    }
    const callId = newId('SCL_');
    const callIdFull = `${randomUUID()}@carrier.example`;
    const attrs: Record<string, string> = { ...rule.attributes };
    attrs['sip.callID'] = callId;
    attrs['sip.callIDFull'] = callIdFull;
    attrs['sip.callTag'] = newId('');
    attrs['sip.trunkID'] = trunk?.sipTrunkId ?? '';
    attrs['sip.ruleID'] = rule.sipDispatchRuleId;
    if (!hide) {
      attrs['sip.phoneNumber'] = from;
      attrs['sip.trunkPhoneNumber'] = to;
    }
    const headers = opts.headers ?? {};
    for (const [h, attr] of Object.entries(trunk?.headersToAttributes ?? {})) {
      const v = findHeader(headers, h);
      if (v !== undefined) attrs[attr] = v;
    }
    Object.assign(
      attrs,
      headerAttributes(headers, trunk?.includeHeaders ?? SIPHeaderOptions.SIP_NO_HEADERS),
    );
    attrs['sip.callStatus'] = 'ringing';
    this.rooms.ensure(room, rule.roomConfig);
    const call: SipCall = {
      callId,
      callIdFull,
      direction: 'inbound',
      room,
      identity,
      trunkId: trunk?.sipTrunkId ?? '',
      ruleId: rule.sipDispatchRuleId,
      trunkNumber: to,
      remoteNumber: from,
      headers,
      status: 'ringing',
      transfers: [],
      startedAt: Date.now(),
    };
    this.calls.set(callId, call);
    this.rooms.join(
      room,
      new ParticipantInfo({
        identity,
        name: `Phone ${shownFrom}`,
        metadata: rule.metadata,
        kind: ParticipantInfo_Kind.SIP,
        attributes: attrs,
        permission: sipPermission(),
      }),
    );
    const live: Live = { call, timers: new Set() };
    this.live.set(callId, live);
    live.settle = () => {
      live.settle = undefined;
    };
    // LiveKit answers once the SIP participant subscribes to the agent; here after the delay.
    this.after(live, this.opts.answerDelayMs, () => {
      if (live.settle) this.answer(live);
    });
    return { room, identity, callId, ruleId: rule.sipDispatchRuleId, trunkId: call.trunkId };
  }

  shutdown(): void {
    for (const live of this.live.values()) for (const t of live.timers) clearTimeout(t);
    this.live.clear();
  }
}

function durationMs(d: { seconds: bigint; nanos: number } | undefined): number | undefined {
  if (!d) return undefined;
  const ms = Number(d.seconds) * 1000 + Math.floor(d.nanos / 1e6);
  return ms > 0 ? ms : undefined;
}

function findHeader(headers: Record<string, string>, name: string): string | undefined {
  const key = Object.keys(headers).find((k) => k.toLowerCase() === name.toLowerCase());
  return key === undefined ? undefined : headers[key];
}

/** `sip.h.<header>` attributes for the headers the trunk or request asks to include. */
function headerAttributes(
  headers: Record<string, string>,
  include: SIPHeaderOptions,
): Record<string, string> {
  const out: Record<string, string> = {};
  if (include === SIPHeaderOptions.SIP_NO_HEADERS) return out;
  for (const [k, v] of Object.entries(headers)) {
    const name = k.toLowerCase();
    if (include === SIPHeaderOptions.SIP_X_HEADERS && !name.startsWith('x-')) continue;
    out[`sip.h.${name}`] = v;
  }
  return out;
}

/** sip.MatchTrunkDetailed: a number-specific trunk beats a wildcard one. */
function matchTrunk(
  trunks: SIPInboundTrunkInfo[],
  from: string,
  to: string,
): SIPInboundTrunkInfo | undefined {
  let selected: SIPInboundTrunkInfo | undefined;
  const defaults: SIPInboundTrunkInfo[] = [];
  for (const t of trunks) {
    if (t.allowedNumbers.length > 0 && !t.allowedNumbers.some((a) => sameNumber(a, from))) {
      continue;
    }
    if (t.numbers.length === 0) defaults.push(t);
    else if (t.numbers.some((n) => sameNumber(n, to))) {
      if (selected) throw new Error(`Multiple SIP Trunks matched for ${JSON.stringify(to)}`);
      selected = t;
    }
  }
  if (selected) return selected;
  if (defaults.length > 1)
    throw new Error(`Multiple default SIP Trunks matched for ${JSON.stringify(to)}`);
  if (defaults[0]) return defaults[0];
  if (trunks.length > 0)
    throw new Error(`No SIP Trunk matched for ${JSON.stringify(to)}: call dropped`);
  return undefined;
}

/** sip.DispatchRulePriority: PIN rules first, then direct/individual/callee, specific numbers. */
function priority(r: SIPDispatchRuleInfo): number {
  const { pin } = rulePin(r);
  const kind = r.rule?.rule.case;
  let p = kind === 'dispatchRuleDirect' ? 0 : kind === 'dispatchRuleIndividual' ? 1 : 2;
  if (!pin) p += 100;
  if (r.inboundNumbers.length === 0) p += 1000;
  if (r.numbers.length === 0) p += 1000;
  return p;
}

/** sip.MatchDispatchRule: trunk-specific rules beat wildcard ones; PIN filtering. */
function matchRule(
  trunk: SIPInboundTrunkInfo | undefined,
  rules: SIPDispatchRuleInfo[],
  from: string,
  to: string,
  sentPin: string | undefined,
): SIPDispatchRuleInfo {
  if (rules.length === 0) throw new Error('No SIP Dispatch Rules defined');
  const specific: SIPDispatchRuleInfo[] = [];
  const wildcard: SIPDispatchRuleInfo[] = [];
  for (const r of rules) {
    if (r.inboundNumbers.length > 0 && !r.inboundNumbers.includes(from)) continue;
    if (r.numbers.length > 0 && !r.numbers.some((n) => sameNumber(n, to))) continue;
    const { pin } = rulePin(r);
    if (sentPin !== undefined && sentPin !== '') {
      if (pin === '' || pin !== sentPin) continue;
    }
    if (r.trunkIds.length === 0) wildcard.push(r);
    else if (trunk && r.trunkIds.includes(trunk.sipTrunkId)) specific.push(r);
  }
  const best = (list: SIPDispatchRuleInfo[]) =>
    [...list].sort(
      (a, b) => priority(a) - priority(b) || rulePin(a).room.localeCompare(rulePin(b).room),
    )[0];
  const rule = best(specific) ?? best(wildcard);
  if (!rule) {
    throw new Error(
      trunk
        ? `No SIP Dispatch Rules matched for ${JSON.stringify(to)}`
        : `No SIP Trunk or Dispatch Rules matched for ${JSON.stringify(to)}`,
    );
  }
  return rule;
}

/**
 * The SIP participant's disconnect reason when a dial ends, as livekit-sip gives it
 * (pkg/sip/errors.go): busy, declined and refused calls are USER_REJECTED, not-found, timeouts
 * and other 4xx USER_UNAVAILABLE, a carrier's 5xx SIP_TRUNK_FAILURE.
 */
function disconnectReasonOf(
  reason: NonNullable<SipCall['end']>['reason'],
  sipStatus: number | undefined,
): DisconnectReason {
  if (reason === 'no-answer') return DisconnectReason.USER_UNAVAILABLE;
  if (reason !== 'failed') return DisconnectReason.CLIENT_INITIATED;
  const code = sipStatus ?? 0;
  if ([401, 403, 407, 486, 488].includes(code) || (code >= 600 && code < 700)) {
    return DisconnectReason.USER_REJECTED;
  }
  if (code >= 500 && code < 600) return DisconnectReason.SIP_TRUNK_FAILURE;
  return DisconnectReason.USER_UNAVAILABLE;
}

/** What LiveKit's SIP token grants a SIP participant (protocol `sip/token.go`, BuildSIPToken). */
function sipPermission(): ParticipantPermission {
  return new ParticipantPermission({
    canSubscribe: true,
    canPublish: true,
    canPublishData: true,
    canUpdateMetadata: true,
  });
}
