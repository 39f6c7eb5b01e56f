/**
 * RoomService and AgentDispatchService handlers (livekit pkg/service/roomservice.go,
 * agent_dispatch_service.go, roommanager.go) over the shared `Rooms` state.
 */
import {
  type AgentDispatch,
  type CreateAgentDispatchRequest,
  type CreateRoomRequest,
  type DeleteAgentDispatchRequest,
  type DeleteRoomRequest,
  DeleteRoomResponse,
  DisconnectReason,
  type ListAgentDispatchRequest,
  ListAgentDispatchResponse,
  type ListParticipantsRequest,
  ListParticipantsResponse,
  type ListRoomsRequest,
  ListRoomsResponse,
  type MuteRoomTrackRequest,
  type ParticipantInfo,
  RemoveParticipantResponse,
  type Room,
  type RoomParticipantIdentity,
  type SendDataRequest,
  SendDataResponse,
  type UpdateParticipantRequest,
  type UpdateRoomMetadataRequest,
  type UpdateSubscriptionsRequest,
  UpdateSubscriptionsResponse,
} from '@livekit/protocol';
import type { Rooms } from './rooms.js';
import { rpcError, twirpError } from './twirp.js';

export interface SentData {
  room: string;
  data: Uint8Array;
  kind: number;
  topic?: string;
  destinationIdentities: string[];
  at: number;
}

const roomNotFound = () => rpcError('not_found', 'requested room does not exist');

export class RoomService {
  readonly sentData: SentData[] = [];
  readonly subscriptions: UpdateSubscriptionsRequest[] = [];

  constructor(private readonly rooms: Rooms) {}

  createRoom(req: CreateRoomRequest): Room {
    return this.rooms.ensure(req.name, req).record.info;
  }

  listRooms(req: ListRoomsRequest): ListRoomsResponse {
    const all = [...this.rooms.rooms.values()].map((r) => r.info);
    const rooms = req.names.length ? all.filter((r) => req.names.includes(r.name)) : all;
    return new ListRoomsResponse({ rooms });
  }

  deleteRoom(req: DeleteRoomRequest): DeleteRoomResponse {
    if (!this.rooms.close(req.room)) throw roomNotFound();
    return new DeleteRoomResponse();
  }

  listParticipants(req: ListParticipantsRequest): ListParticipantsResponse {
    const record = this.rooms.get(req.room);
    return new ListParticipantsResponse({
      participants: record ? [...record.participants.values()] : [],
    });
  }

  getParticipant(req: RoomParticipantIdentity): ParticipantInfo {
    return this.rooms.participant(req.room, req.identity);
  }

  removeParticipant(req: RoomParticipantIdentity): RemoveParticipantResponse {
    this.rooms.participant(req.room, req.identity);
    this.rooms.leave(req.room, req.identity, DisconnectReason.PARTICIPANT_REMOVED);
    return new RemoveParticipantResponse();
  }

  updateParticipant(req: UpdateParticipantRequest): ParticipantInfo {
    const p = this.rooms.participant(req.room, req.identity);
    if (req.metadata !== '') p.metadata = req.metadata;
    if (req.name !== '') p.name = req.name;
    if (req.permission) p.permission = req.permission;
    if (Object.keys(req.attributes).length > 0) {
      this.rooms.setAttributes(req.room, req.identity, req.attributes);
    } else {
      p.version += 1;
    }
    return p;
  }

  updateSubscriptions(req: UpdateSubscriptionsRequest): UpdateSubscriptionsResponse {
    this.rooms.participant(req.room, req.identity);
    this.subscriptions.push(req);
    return new UpdateSubscriptionsResponse();
  }

  sendData(req: SendDataRequest): SendDataResponse {
    if (req.nonce.length !== 0 && req.nonce.length !== 16) {
      throw twirpError(
        'invalid_argument',
        `nonce should be 16-bytes or not present, got: ${req.nonce.length} bytes`,
      );
    }
    if (!this.rooms.get(req.room)) throw roomNotFound();
    this.sentData.push({
      room: req.room,
      data: req.data,
      kind: req.kind,
      topic: req.topic,
      destinationIdentities: req.destinationIdentities,
      at: Date.now(),
    });
    return new SendDataResponse();
  }

  updateRoomMetadata(req: UpdateRoomMetadataRequest): Room {
    const record = this.rooms.get(req.room);
    if (!record) throw roomNotFound();
    record.info.metadata = req.metadata;
    return record.info;
  }

  mutePublishedTrack(req: MuteRoomTrackRequest): never {
    this.rooms.participant(req.room, req.identity);
    // The stand-in models no media tracks.
    throw rpcError('not_found', 'track is not found');
  }

  /** Move/Forward are LiveKit Cloud features; self-hosted servers do not implement them. */
  moveOrForward(req: { room: string; destinationRoom: string }): never {
    if (req.room === req.destinationRoom) {
      throw twirpError('invalid_argument', 'destination room cannot be the same as source room');
    }
    throw rpcError('unimplemented', 'not implemented');
  }

  createDispatch(req: CreateAgentDispatchRequest): AgentDispatch {
    const { record } = this.rooms.ensure(req.room);
    return this.rooms.addDispatch(record, req);
  }

  listDispatch(req: ListAgentDispatchRequest): ListAgentDispatchResponse {
    const record = this.rooms.get(req.room);
    if (!record) throw roomNotFound();
    const agentDispatches = req.dispatchId
      ? record.dispatches.filter((d) => d.id === req.dispatchId)
      : record.dispatches;
    return new ListAgentDispatchResponse({ agentDispatches });
  }

  deleteDispatch(req: DeleteAgentDispatchRequest): AgentDispatch {
    const record = this.rooms.get(req.room);
    if (!record) throw roomNotFound();
    const i = record.dispatches.findIndex((d) => d.id === req.dispatchId);
    const d = record.dispatches[i];
    if (!d) throw rpcError('not_found', 'dispatch ID not found');
    record.dispatches.splice(i, 1);
    if (d.state) d.state.deletedAt = BigInt(Date.now()) * 1_000_000n;
    return d;
  }
}
