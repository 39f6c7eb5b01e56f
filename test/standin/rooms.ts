/**
 * Rooms, participants and agent dispatches: the state the room service, the SIP service and
 * the webhooks share. Every change that LiveKit reports by webhook goes through `emit`.
 */
import { EventEmitter } from 'node:events';
import {
  AgentDispatch,
  AgentDispatchState,
  DisconnectReason,
  Job,
  JobState,
  JobStatus,
  JobType,
  ParticipantInfo,
  ParticipantInfo_Kind,
  ParticipantInfo_State,
  ParticipantPermission,
  Room,
  type RoomAgentDispatch,
} from '@livekit/protocol';
import { newId } from './ids.js';
import { rpcError } from './twirp.js';

export type RoomEventName =
  | 'room_started'
  | 'room_finished'
  | 'participant_joined'
  | 'participant_left'
  | 'participant_attributes_changed';

export interface RoomEvent {
  event: RoomEventName;
  room: Room;
  participant?: ParticipantInfo;
  at: number;
}

export interface RoomRecord {
  info: Room;
  participants: Map<string, ParticipantInfo>;
  dispatches: AgentDispatch[];
  /** Closes the room once it has stayed empty for departureTimeout (LiveKit default 20 s). */
  closeTimer?: NodeJS.Timeout;
}

/** What the stand-in reads of a CreateRoomRequest or a dispatch rule's RoomConfiguration. */
export interface RoomConfig {
  emptyTimeout?: number;
  departureTimeout?: number;
  maxParticipants?: number;
  metadata?: string;
  agents?: RoomAgentDispatch[];
}

const DEFAULT_EMPTY_TIMEOUT_S = 300;
const DEFAULT_DEPARTURE_TIMEOUT_S = 20;

export class Rooms extends EventEmitter<{ event: [RoomEvent] }> {
  readonly rooms = new Map<string, RoomRecord>();

  constructor(
    private readonly opts: { departureTimeoutMs?: number; emptyTimeoutMs?: number } = {},
  ) {
    super();
  }

  get(name: string): RoomRecord | undefined {
    return this.rooms.get(name);
  }

  /** Creates the room if missing (dispatching `config.agents`); returns it either way. */
  ensure(name: string, config: RoomConfig = {}): { record: RoomRecord; created: boolean } {
    const existing = this.rooms.get(name);
    if (existing) return { record: existing, created: false };
    const now = Date.now();
    const info = new Room({
      sid: newId('RM_'),
      name,
      emptyTimeout: config.emptyTimeout || DEFAULT_EMPTY_TIMEOUT_S,
      departureTimeout: config.departureTimeout || DEFAULT_DEPARTURE_TIMEOUT_S,
      maxParticipants: config.maxParticipants ?? 0,
      metadata: config.metadata ?? '',
      creationTime: BigInt(Math.floor(now / 1000)),
      creationTimeMs: BigInt(now),
    });
    const record: RoomRecord = { info, participants: new Map(), dispatches: [] };
    this.rooms.set(name, record);
    // A room nobody joins closes after emptyTimeout.
    this.scheduleClose(record, this.opts.emptyTimeoutMs ?? info.emptyTimeout * 1000);
    this.emitEvent('room_started', record);
    for (const a of config.agents ?? []) this.addDispatch(record, a);
    return { record, created: true };
  }

  addDispatch(
    record: RoomRecord,
    d: { agentName: string; metadata?: string; attributes?: Record<string, string> },
  ): AgentDispatch {
    const dispatch = new AgentDispatch({
      id: newId('AD_'),
      agentName: d.agentName,
      room: record.info.name,
      metadata: d.metadata ?? '',
      attributes: d.attributes ?? {},
      state: new AgentDispatchState({ createdAt: BigInt(Date.now()) * 1_000_000n }),
    });
    record.dispatches.push(dispatch);
    return dispatch;
  }

  /**
   * A worker took a job of one of the room's dispatches (the newest when not named): the job goes
   * into the dispatch's `state.jobs` and its agent participant (`agent-<job id>`) joins.
   */
  dispatchAgent(roomName: string, dispatchId?: string): ParticipantInfo {
    const record = this.rooms.get(roomName);
    const dispatch = dispatchId
      ? record?.dispatches.find((d) => d.id === dispatchId)
      : record?.dispatches.at(-1);
    if (!record || !dispatch) throw new Error(`no dispatch in room ${roomName}`);
    const id = newId('AJ_');
    const identity = `agent-${id}`;
    dispatch.state ??= new AgentDispatchState();
    dispatch.state.jobs.push(
      new Job({
        id,
        dispatchId: dispatch.id,
        type: JobType.JT_ROOM,
        room: record.info.clone(),
        agentName: dispatch.agentName,
        metadata: dispatch.metadata,
        state: new JobState({
          status: JobStatus.JS_RUNNING,
          participantIdentity: identity,
          startedAt: BigInt(Date.now()) * 1_000_000n,
        }),
      }),
    );
    return this.join(
      roomName,
      new ParticipantInfo({ identity, kind: ParticipantInfo_Kind.AGENT, attributes: {} }),
    );
  }

  /** A participant connects. An identity already present is replaced (DUPLICATE_IDENTITY). */
  join(roomName: string, p: ParticipantInfo): ParticipantInfo {
    const { record } = this.ensure(roomName);
    if (record.participants.has(p.identity)) {
      this.leave(roomName, p.identity, DisconnectReason.DUPLICATE_IDENTITY);
    }
    clearTimeout(record.closeTimer);
    record.closeTimer = undefined;
    const now = Date.now();
    p.sid ||= newId('PA_');
    p.state = ParticipantInfo_State.ACTIVE;
    p.joinedAt = BigInt(Math.floor(now / 1000));
    p.joinedAtMs = BigInt(now);
    p.permission ??= new ParticipantPermission({
      canSubscribe: true,
      canPublish: true,
      canPublishData: true,
    });
    record.participants.set(p.identity, p);
    record.info.numParticipants = record.participants.size;
    this.emitEvent('participant_joined', record, p);
    return p;
  }

  /** A participant disconnects; returns false if it was not there. */
  leave(
    roomName: string,
    identity: string,
    reason: DisconnectReason = DisconnectReason.CLIENT_INITIATED,
  ): boolean {
    const record = this.rooms.get(roomName);
    const p = record?.participants.get(identity);
    if (!record || !p) return false;
    record.participants.delete(identity);
    record.info.numParticipants = record.participants.size;
    p.state = ParticipantInfo_State.DISCONNECTED;
    p.disconnectReason = reason;
    // livekit-server ends an agent's job when its participant leaves, for any reason
    // (TerminateJob AGENT_LEFT_ROOM: JS_FAILED "agent worker left the room"); it never starts
    // another (no re-dispatch on a self-hosted server).
    for (const d of record.dispatches) {
      for (const j of d.state?.jobs ?? []) {
        if (j.state?.participantIdentity !== identity || j.state.status !== JobStatus.JS_RUNNING) {
          continue;
        }
        j.state.status = JobStatus.JS_FAILED;
        j.state.error = 'agent worker left the room';
        j.state.endedAt = BigInt(Date.now()) * 1_000_000n;
      }
    }
    this.emitEvent('participant_left', record, p);
    if (record.participants.size === 0 && reason !== DisconnectReason.ROOM_DELETED) {
      this.scheduleClose(
        record,
        this.opts.departureTimeoutMs ?? record.info.departureTimeout * 1000,
      );
    }
    return true;
  }

  setAttributes(roomName: string, identity: string, attrs: Record<string, string>): void {
    const record = this.rooms.get(roomName);
    const p = record?.participants.get(identity);
    if (!record || !p) return;
    for (const [k, v] of Object.entries(attrs)) {
      if (v === '') delete p.attributes[k];
      else p.attributes[k] = v;
    }
    p.version += 1;
    this.emitEvent('participant_attributes_changed', record, p);
  }

  /** DeleteRoom: everyone is disconnected, then the room finishes. */
  close(roomName: string): boolean {
    const record = this.rooms.get(roomName);
    if (!record) return false;
    clearTimeout(record.closeTimer);
    for (const identity of [...record.participants.keys()]) {
      this.leave(roomName, identity, DisconnectReason.ROOM_DELETED);
    }
    this.rooms.delete(roomName);
    this.emitEvent('room_finished', record);
    return true;
  }

  participant(roomName: string, identity: string): ParticipantInfo {
    const p = this.rooms.get(roomName)?.participants.get(identity);
    if (!p) throw rpcError('not_found', 'participant does not exist');
    return p;
  }

  private scheduleClose(record: RoomRecord, ms: number): void {
    clearTimeout(record.closeTimer);
    record.closeTimer = setTimeout(() => {
      if (this.rooms.get(record.info.name) === record) this.close(record.info.name);
    }, ms);
    record.closeTimer.unref();
  }

  shutdown(): void {
    for (const r of this.rooms.values()) clearTimeout(r.closeTimer);
  }

  private emitEvent(event: RoomEventName, record: RoomRecord, p?: ParticipantInfo): void {
    this.emit('event', {
      event,
      room: record.info.clone(),
      participant: p?.clone(),
      at: Date.now(),
    });
  }
}
