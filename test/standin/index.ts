/**
 * A protocol-faithful LiveKit server stand-in for tests: the unmodified livekit-server-sdk
 * talks to it over real HTTP on loopback (Twirp JSON, JWT grants, LiveKit's error bodies and
 * statuses, SIP validation rules, dialing outcomes, signed webhooks).
 *
 * ```ts
 * import { startLiveKitStandin, NUMBERS } from './standin/index.js';
 * const lk = await startLiveKitStandin({ answerDelayMs: 50, webhookUrl });
 * const sip = new SipClient(lk.url, lk.apiKey, lk.apiSecret);
 * await sip.createSipParticipant(trunkId, NUMBERS.busy, 'room', { waitUntilAnswered: true });
 * //   → SipCallError, sipStatusCode 486, code 'resource_exhausted', status 429
 * await lk.close();
 * ```
 *
 * Public API (stable; other tests code against it):
 * - `startLiveKitStandin(opts?)` → `Standin`. Options: `apiKey`/`apiSecret` (defaults
 *   `STANDIN_API_KEY`/`STANDIN_API_SECRET`), `answerDelayMs` (ring time before an answer or a
 *   SIP failure, default 200), `outcomes` (per-number `DialOutcome` overrides), `webhookUrl`
 *   (POST signed webhooks there), `sipAvailable` (false: every SIP RPC answers 500
 *   `sip not connected (redis required)`), `departureTimeoutMs` (how long an emptied room
 *   lingers before `room_finished`; default the room's departureTimeout, 20 s),
 *   `emptyTimeoutMs` (how long a room nobody joined lives; default its emptyTimeout, 300 s).
 * - `Standin`:
 *   - `url`, `apiKey`, `apiSecret`: give these to the SDK clients / the app's config.
 *   - `requests`: every RPC in arrival order `{ service, method, body, grants, status, code, at }`.
 *   - `state`: live, inspectable state: `inboundTrunks`, `outboundTrunks`, `rules` (Maps by id,
 *     protobuf messages), `rooms` (Map by name of `{ info, participants, dispatches }`),
 *     `calls` (Map by `SCL_` id of `SipCall`: direction, numbers, status, outcome, end,
 *     transfers), `sentData`, `subscriptions`, `webhooks` (delivery log).
 *   - `participants(room)`, `dispatches(room)`: convenience views.
 *   - `events`: EventEmitter; `'event'` fires `{ event, room, participant?, at }` for
 *     room_started, participant_joined, participant_attributes_changed, participant_left,
 *     room_finished (always, with or without webhookUrl). `waitForEvent(predicate, ms)` too.
 *   - `setOutcome(number, outcome)`: change what a number does from now on.
 *   - Far end: `setCallStatus(room, identity, 'ringing'|'active'|'hangup')`,
 *     `hangup(room, identity)` (before the answer an outbound callee declines with 603;
 *     afterwards the SIP participant leaves), `joinParticipant(room, {identity, kind?,
 *     attributes?})` / `leaveParticipant(room, identity, reason?)` for an agent or other
 *     participant (`reason`: LiveKit's DisconnectReason, default CLIENT_INITIATED; a crashed
 *     agent leaves with CONNECTION_TIMEOUT ~21 s after it died, as livekit-server v1.13.5 does).
 *   - `dispatchAgent(room, dispatchId?)`: a worker took a job of the room's dispatch (the
 *     newest when not named): the job is recorded in the dispatch's `state.jobs` (id `AJ_…`,
 *     `state.participantIdentity` `agent-AJ_…`, JS_RUNNING) and its AGENT participant joins, as
 *     the real server shows them in ListDispatch and webhooks.
 *   - `simulateInboundCall({ from?, to, headers?, hidePhoneNumber?, pin? })`: trunk and
 *     dispatch-rule matching as LiveKit does, room from the rule (agents dispatched on
 *     creation), SIP participant `sip_<caller>` with `sip.*` attributes, `ringing` then
 *     `active` after answerDelayMs. Throws when nothing matches: no room, participant or
 *     dispatch. (The real bridge does not reject such a call with a SIP error: it sends 180
 *     Ringing, the server answers its dispatch request with DROP, and the INVITE never gets a
 *     final response, so the caller rings until they give up; test/e2e/unrouted-number-*.)
 *   - `signWebhook(event)`: `{ body, authorization }` exactly as LiveKit signs them.
 *   - `flushWebhooks()`: resolves once queued webhooks were delivered.
 *   - `close()`.
 * - `NUMBERS`: E.164 numbers per default outcome (`answers`, `busy` 486, `declined` 603,
 *   `noAnswer` (rings until ringingTimeout → canceled 408), `unreachable` 503, `notFound` 404,
 *   `unavailable` 480). Other numbers answer. The same rules apply to transfer targets.
 *   A SIP failure comes after `answerDelayMs` (or the outcome's `delayMs`); `noAnswer` rings
 *   for the request's `ringingTimeout` (30 s when absent): pass `ringingTimeout: 1` in tests.
 *   Errors that crossed LiveKit's internal RPC carry its "twirp error unknown: " prefix.
 */
import type { AddressInfo } from 'node:net';
import type { Message, MessageType } from '@bufbuild/protobuf';
import {
  CreateAgentDispatchRequest,
  CreateRoomRequest,
  CreateSIPDispatchRuleRequest,
  CreateSIPInboundTrunkRequest,
  CreateSIPOutboundTrunkRequest,
  CreateSIPParticipantRequest,
  DeleteAgentDispatchRequest,
  DeleteRoomRequest,
  DeleteSIPDispatchRuleRequest,
  DeleteSIPTrunkRequest,
  type DisconnectReason,
  ForwardParticipantRequest,
  GetSIPInboundTrunkRequest,
  GetSIPOutboundTrunkRequest,
  ListAgentDispatchRequest,
  ListParticipantsRequest,
  ListRoomsRequest,
  ListSIPDispatchRuleRequest,
  ListSIPInboundTrunkRequest,
  ListSIPOutboundTrunkRequest,
  ListSIPTrunkRequest,
  MoveParticipantRequest,
  MuteRoomTrackRequest,
  ParticipantInfo,
  ParticipantInfo_Kind,
  RoomParticipantIdentity,
  SendDataRequest,
  TransferSIPParticipantRequest,
  UpdateParticipantRequest,
  UpdateRoomMetadataRequest,
  UpdateSIPDispatchRuleRequest,
  UpdateSIPInboundTrunkRequest,
  UpdateSIPOutboundTrunkRequest,
  UpdateSubscriptionsRequest,
} from '@livekit/protocol';
import {
  ensureDestinationRoom,
  ensureRoomAdmin,
  ensureRoomCreate,
  ensureRoomList,
  ensureSipAdmin,
  ensureSipCall,
} from './auth.js';
import { Calls, type SipCall } from './calls.js';
import type { DialOutcome } from './dialing.js';
import { RoomService, type SentData } from './room-service.js';
import { type RoomEvent, type RoomRecord, Rooms } from './rooms.js';
import {
  createHttpServer,
  type MethodContext,
  type MethodSpec,
  type RecordedRequest,
  type ServiceTable,
} from './server.js';
import { SipService, type SipStore } from './sip.js';
import { rpcError } from './twirp.js';
import {
  type SignedWebhook,
  signWebhook,
  toWebhookEvent,
  type WebhookDelivery,
  WebhookSender,
} from './webhooks.js';

export type { SipCall } from './calls.js';
export { type DialOutcome, NUMBERS } from './dialing.js';
export type { RoomEvent } from './rooms.js';
export type { RecordedRequest } from './server.js';

export const STANDIN_API_KEY = 'APIstandin';
export const STANDIN_API_SECRET = 'standin-secret-0123456789abcdefghijklmnopqrstuv';

export interface StandinOptions {
  apiKey?: string;
  apiSecret?: string;
  answerDelayMs?: number;
  outcomes?: Record<string, DialOutcome>;
  webhookUrl?: string;
  sipAvailable?: boolean;
  departureTimeoutMs?: number;
  emptyTimeoutMs?: number;
}

const defaults = {
  apiKey: STANDIN_API_KEY,
  apiSecret: STANDIN_API_SECRET,
  answerDelayMs: 200,
  sipAvailable: true,
} as const satisfies StandinOptions;

export interface StandinState extends SipStore {
  rooms: Map<string, RoomRecord>;
  calls: Map<string, SipCall>;
  sentData: SentData[];
  subscriptions: UpdateSubscriptionsRequest[];
  webhooks: WebhookDelivery[];
}

export interface Standin {
  url: string;
  apiKey: string;
  apiSecret: string;
  requests: RecordedRequest[];
  state: StandinState;
  events: Rooms;
  participants(room: string): ParticipantInfo[];
  dispatches(room: string): RoomRecord['dispatches'];
  waitForEvent(match: (e: RoomEvent) => boolean, timeoutMs?: number): Promise<RoomEvent>;
  setOutcome(number: string, outcome: DialOutcome): void;
  setCallStatus(room: string, identity: string, status: 'ringing' | 'active' | 'hangup'): void;
  hangup(room: string, identity: string): void;
  joinParticipant(
    room: string,
    p: {
      identity: string;
      kind?: 'standard' | 'agent' | 'sip';
      attributes?: Record<string, string>;
      metadata?: string;
    },
  ): ParticipantInfo;
  leaveParticipant(room: string, identity: string, reason?: DisconnectReason): boolean;
  dispatchAgent(room: string, dispatchId?: string): ParticipantInfo;
  simulateInboundCall(opts: {
    from?: string;
    to: string;
    headers?: Record<string, string>;
    hidePhoneNumber?: boolean;
    pin?: string;
  }): Promise<{ room: string; identity: string; callId: string; ruleId: string; trunkId: string }>;
  signWebhook(event: object): Promise<SignedWebhook>;
  flushWebhooks(): Promise<void>;
  close(): Promise<void>;
}

type Answer = Message | Promise<Message>;

/** A method whose handler gets its own request type (`MethodSpec` erases it for the table). */
function method<R extends Message<R>>(
  req: MessageType<R>,
  handle: (r: R, ctx: MethodContext) => Answer,
): MethodSpec {
  return { req, handle };
}

export async function startLiveKitStandin(options: StandinOptions = {}): Promise<Standin> {
  const opts = { ...defaults, ...options };
  const rooms = new Rooms({
    departureTimeoutMs: opts.departureTimeoutMs,
    emptyTimeoutMs: opts.emptyTimeoutMs,
  });
  const store: SipStore = { inboundTrunks: new Map(), outboundTrunks: new Map(), rules: new Map() };
  const outcomes = new Map(Object.entries(opts.outcomes ?? {}));
  const calls = new Calls(rooms, store, { answerDelayMs: opts.answerDelayMs, outcomes });
  const sip = new SipService(store);
  const roomService = new RoomService(rooms);
  const requests: RecordedRequest[] = [];

  const sender = opts.webhookUrl
    ? new WebhookSender(opts.webhookUrl, opts.apiKey, opts.apiSecret)
    : undefined;
  if (sender) {
    rooms.on('event', (e) => {
      const wh = toWebhookEvent(e);
      if (wh) sender.send(wh);
    });
  }

  const sipAvailable = () => {
    if (!opts.sipAvailable) throw rpcError('internal', 'sip not connected (redis required)');
  };
  /** A SIP admin RPC: grant, then SIP availability, then the handler. */
  const admin = <R extends Message<R>>(req: MessageType<R>, fn: (r: R) => Answer): MethodSpec =>
    method(req, (r, { grants }) => {
      ensureSipAdmin(grants);
      sipAvailable();
      return fn(r);
    });
  /** A RoomService/AgentDispatch RPC on one room: roomAdmin for that room, then the handler. */
  const roomAdmin = <R extends Message<R> & { room: string }>(
    req: MessageType<R>,
    fn: (r: R) => Answer,
  ): MethodSpec =>
    method(req, (r, { grants }) => {
      ensureRoomAdmin(grants, r.room);
      return fn(r);
    });
  const moveOrForward = <R extends Message<R> & { room: string; destinationRoom: string }>(
    req: MessageType<R>,
  ): MethodSpec =>
    method(req, (r, { grants }) => {
      ensureDestinationRoom(grants, r.room, r.destinationRoom);
      return roomService.moveOrForward(r);
    });

  const services: ServiceTable = {
    SIP: {
      CreateSIPInboundTrunk: admin(CreateSIPInboundTrunkRequest, (r) => sip.createInboundTrunk(r)),
      CreateSIPOutboundTrunk: admin(CreateSIPOutboundTrunkRequest, (r) =>
        sip.createOutboundTrunk(r),
      ),
      UpdateSIPInboundTrunk: admin(UpdateSIPInboundTrunkRequest, (r) => sip.updateInboundTrunk(r)),
      UpdateSIPOutboundTrunk: admin(UpdateSIPOutboundTrunkRequest, (r) =>
        sip.updateOutboundTrunk(r),
      ),
      GetSIPInboundTrunk: admin(GetSIPInboundTrunkRequest, (r) => sip.getInboundTrunk(r)),
      GetSIPOutboundTrunk: admin(GetSIPOutboundTrunkRequest, (r) => sip.getOutboundTrunk(r)),
      ListSIPTrunk: admin(ListSIPTrunkRequest, () => sip.listTrunks()),
      ListSIPInboundTrunk: admin(ListSIPInboundTrunkRequest, (r) => sip.listInboundTrunks(r)),
      ListSIPOutboundTrunk: admin(ListSIPOutboundTrunkRequest, (r) => sip.listOutboundTrunks(r)),
      DeleteSIPTrunk: admin(DeleteSIPTrunkRequest, (r) => sip.deleteTrunk(r)),
      CreateSIPDispatchRule: admin(CreateSIPDispatchRuleRequest, (r) => sip.createDispatchRule(r)),
      UpdateSIPDispatchRule: admin(UpdateSIPDispatchRuleRequest, (r) => sip.updateDispatchRule(r)),
      ListSIPDispatchRule: admin(ListSIPDispatchRuleRequest, (r) => sip.listDispatchRules(r)),
      DeleteSIPDispatchRule: admin(DeleteSIPDispatchRuleRequest, (r) => sip.deleteDispatchRule(r)),
      CreateSIPParticipant: method(CreateSIPParticipantRequest, (r, { grants, signal }) => {
        ensureSipCall(grants);
        sipAvailable();
        return calls.dial(r, signal);
      }),
      TransferSIPParticipant: method(TransferSIPParticipantRequest, (r, { grants }) => {
        // livekit-server checks these two before the grants.
        if (r.roomName === '') throw rpcError('invalid_argument', 'Missing room name');
        if (r.participantIdentity === '') {
          throw rpcError('invalid_argument', 'Missing participant identity');
        }
        ensureSipCall(grants);
        ensureRoomAdmin(grants, r.roomName);
        sipAvailable();
        return calls.transfer(r);
      }),
    },
    RoomService: {
      CreateRoom: method(CreateRoomRequest, (r, { grants }) => {
        ensureRoomCreate(grants);
        return roomService.createRoom(r);
      }),
      ListRooms: method(ListRoomsRequest, (r, { grants }) => {
        ensureRoomList(grants);
        return roomService.listRooms(r);
      }),
      DeleteRoom: method(DeleteRoomRequest, (r, { grants }) => {
        ensureRoomCreate(grants);
        return roomService.deleteRoom(r);
      }),
      ListParticipants: roomAdmin(ListParticipantsRequest, (r) => roomService.listParticipants(r)),
      GetParticipant: roomAdmin(RoomParticipantIdentity, (r) => roomService.getParticipant(r)),
      RemoveParticipant: roomAdmin(RoomParticipantIdentity, (r) =>
        roomService.removeParticipant(r),
      ),
      UpdateParticipant: roomAdmin(UpdateParticipantRequest, (r) =>
        roomService.updateParticipant(r),
      ),
      UpdateSubscriptions: roomAdmin(UpdateSubscriptionsRequest, (r) =>
        roomService.updateSubscriptions(r),
      ),
      SendData: roomAdmin(SendDataRequest, (r) => roomService.sendData(r)),
      UpdateRoomMetadata: roomAdmin(UpdateRoomMetadataRequest, (r) =>
        roomService.updateRoomMetadata(r),
      ),
      MutePublishedTrack: roomAdmin(MuteRoomTrackRequest, (r) => roomService.mutePublishedTrack(r)),
      MoveParticipant: moveOrForward(MoveParticipantRequest),
      ForwardParticipant: moveOrForward(ForwardParticipantRequest),
    },
    AgentDispatchService: {
      CreateDispatch: roomAdmin(CreateAgentDispatchRequest, (r) => roomService.createDispatch(r)),
      ListDispatch: roomAdmin(ListAgentDispatchRequest, (r) => roomService.listDispatch(r)),
      DeleteDispatch: roomAdmin(DeleteAgentDispatchRequest, (r) => roomService.deleteDispatch(r)),
    },
  };

  const server = createHttpServer({
    apiKey: opts.apiKey,
    apiSecret: opts.apiSecret,
    services,
    requests,
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;

  const state: StandinState = {
    ...store,
    rooms: rooms.rooms,
    calls: calls.calls,
    sentData: roomService.sentData,
    subscriptions: roomService.subscriptions,
    webhooks: sender?.deliveries ?? [],
  };

  const kinds = {
    standard: ParticipantInfo_Kind.STANDARD,
    agent: ParticipantInfo_Kind.AGENT,
    sip: ParticipantInfo_Kind.SIP,
  } as const;

  return {
    url: `http://127.0.0.1:${port}`,
    apiKey: opts.apiKey,
    apiSecret: opts.apiSecret,
    requests,
    state,
    events: rooms,
    participants: (room) => [...(rooms.get(room)?.participants.values() ?? [])],
    dispatches: (room) => rooms.get(room)?.dispatches ?? [],
    waitForEvent: (match, timeoutMs = 5_000) =>
      new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          rooms.off('event', on);
          reject(new Error(`no matching stand-in event within ${timeoutMs} ms`));
        }, timeoutMs);
        const on = (e: RoomEvent) => {
          if (!match(e)) return;
          clearTimeout(timer);
          rooms.off('event', on);
          resolve(e);
        };
        rooms.on('event', on);
      }),
    setOutcome: (number, outcome) => {
      outcomes.set(number, outcome);
    },
    setCallStatus: (room, identity, status) => calls.setCallStatus(room, identity, status),
    hangup: (room, identity) => calls.hangup(room, identity),
    joinParticipant: (room, p) =>
      rooms.join(
        room,
        new ParticipantInfo({
          identity: p.identity,
          kind: kinds[p.kind ?? 'standard'],
          attributes: p.attributes ?? {},
          metadata: p.metadata ?? '',
        }),
      ),
    leaveParticipant: (room, identity, reason) => rooms.leave(room, identity, reason),
    dispatchAgent: (room, dispatchId) => rooms.dispatchAgent(room, dispatchId),
    simulateInboundCall: async (o) => calls.inbound(o),
    signWebhook: (event) => signWebhook(event, opts.apiKey, opts.apiSecret),
    flushWebhooks: async () => {
      await sender?.flush();
    },
    close: async () => {
      calls.shutdown();
      rooms.shutdown();
      await sender?.flush();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}
