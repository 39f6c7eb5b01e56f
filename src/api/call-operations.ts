/**
 * What the call routes do with LiveKit, apart from HTTP: place an outbound call (dispatch the
 * worker pool into a new room with the call request as job metadata, then dial; a failed dial
 * closes the room and reports `call.ended`), and find a call's room and participants. SDK
 * failures become catalog errors (a missing room is a missing call).
 */

import type { Static } from '@sinclair/typebox';
import type { FastifyBaseLogger } from 'fastify';
import { type ParticipantInfo, type Room, RoomAgentDispatch } from 'livekit-server-sdk';
import type { Config } from '../core/config.js';
import { CallNotFoundError, NotFoundError } from '../core/errors.js';
import type { OutboundCallJob } from '../core/job-metadata.js';
import type { LiveKitClients } from '../core/livekit.js';
import { sipOutcome } from '../core/sip-status.js';
import type { CallEvents } from './call-events.js';
import { type CallRoomMetadata, newCallId, OUTBOUND_SIP_IDENTITY } from './calls-model.js';
import { fromLiveKitError, sipStatusOf } from './livekit-errors.js';
import type { ApiMetrics } from './metrics.js';
import type { CallCreated, CreateCallBody } from './schemas/calls.js';
import { callLiveKit } from './sip-lookup.js';

export interface CallOperations {
  /** Runs one LiveKit call for call `id`; a missing room becomes CallNotFoundError. */
  lk<T>(id: string, op: () => Promise<T>): Promise<T>;
  findCall(id: string): Promise<{
    room: Room | undefined;
    participants: ParticipantInfo[];
  }>;
  createCall(
    body: CreateCallBody,
    trunkId: string,
    log: FastifyBaseLogger,
  ): Promise<Static<typeof CallCreated>>;
}

export function callOperations(deps: {
  config: Config;
  livekit: LiveKitClients;
  metrics: ApiMetrics;
  events: CallEvents;
}): CallOperations {
  const { config, livekit, metrics, events } = deps;

  /** LiveKit errors → catalog errors; a missing room is a missing call. */
  async function lk<T>(id: string, op: () => Promise<T>): Promise<T> {
    try {
      return await callLiveKit(`call ${id}`, op);
    } catch (err) {
      throw err instanceof NotFoundError ? new CallNotFoundError(id) : err;
    }
  }

  /** The call's room (undefined when there is none) and its participants. */
  async function findCall(id: string) {
    const [rooms, participants] = await Promise.all([
      lk(id, () => livekit.rooms.listRooms([id])),
      lk(id, () => livekit.rooms.listParticipants(id)).catch((err) => {
        if (err instanceof CallNotFoundError) return [];
        throw err;
      }),
    ]);
    return { room: rooms.find((r) => r.name === id), participants };
  }

  async function createCall(
    body: CreateCallBody,
    trunkId: string,
    log: FastifyBaseLogger,
  ): Promise<Static<typeof CallCreated>> {
    const callId = newCallId();
    const createdAt = new Date().toISOString();
    const agent = body.agent?.name;
    const job: OutboundCallJob = {
      kind: 'phone-agents.call',
      version: 2,
      direction: 'outbound',
      callId,
      room: callId,
      to: body.to,
      from: body.from,
      trunkId,
      ...(agent ? { agent } : {}),
      metadata: { ...body.metadata, ...body.agent?.metadata },
      maxDurationS: body.maxDurationS,
      ringingTimeoutS: body.ringingTimeoutS,
      waitUntilAnswered: body.waitUntilAnswered ?? false,
      sipParticipantIdentity: OUTBOUND_SIP_IDENTITY,
      createdAt,
    };
    const roomMeta: CallRoomMetadata = {
      phoneAgents: {
        callId,
        direction: 'outbound',
        agent,
        to: body.to,
        from: body.from,
        trunkId,
        metadata: body.metadata,
        createdAt,
        ...(body.waitUntilAnswered ? { waitUntilAnswered: true } : {}),
      },
    };
    const fail = (err: unknown, what: string): Error => {
      const e = fromLiveKitError(err, what);
      const sip = sipStatusOf(e);
      metrics.callsFailed.inc({
        sip_status: sip ? String(sip.sipStatusCode) : 'none',
        reason: (e as { code?: string }).code ?? 'PA_ERR_INTERNAL',
      });
      return e;
    };

    // 1. The room, with the worker pool dispatched into it and the call request (naming the
    //    agent) as job metadata: the agent must be on its way before the phone rings.
    try {
      await livekit.rooms.createRoom({
        name: callId,
        metadata: JSON.stringify(roomMeta),
        agents: [
          new RoomAgentDispatch({ agentName: config.AGENT_NAME, metadata: JSON.stringify(job) }),
        ],
      });
    } catch (err) {
      throw fail(err, 'room');
    }

    // 2. Dial. With waitUntilAnswered the SDK waits ringingTimeout + 2 s (not our timeout).
    try {
      const p = await livekit.sip.createSipParticipant(trunkId, body.to, callId, {
        fromNumber: body.from,
        participantIdentity: OUTBOUND_SIP_IDENTITY,
        participantAttributes: { 'phoneAgents.callId': callId },
        waitUntilAnswered: body.waitUntilAnswered,
        ringingTimeout: body.ringingTimeoutS,
        maxCallDuration: body.maxDurationS ?? config.MAX_CALL_DURATION_S,
      });
      // "(routes)" cannot be an agent name: the agents file's routes chose.
      metrics.callsCreated.inc({ agent: agent ?? '(routes)' });
      if (body.waitUntilAnswered) {
        void events.publish('call.answered', callId, {
          direction: 'outbound',
          to: body.to,
          from: body.from,
          sipCallId: p.sipCallId,
          metadata: body.metadata,
        });
      }
      return {
        id: callId,
        room: callId,
        status: body.waitUntilAnswered ? 'active' : 'dialing',
        sipCallId: p.sipCallId,
        participantIdentity: p.participantIdentity || OUTBOUND_SIP_IDENTITY,
        createdAt,
      };
    } catch (err) {
      const e = fail(err, `outbound trunk ${trunkId}`);
      // The agent is already in the room: close it (in the background, the caller waits enough).
      livekit.rooms.deleteRoom(callId).catch((cleanupErr: Error) => {
        log.warn({ callId, err: cleanupErr.message }, 'could not delete the room of a failed call');
      });
      const sip = sipStatusOf(e);
      if (sip) {
        void events.publish('call.ended', callId, {
          direction: 'outbound',
          reason: sipOutcome(sip.sipStatusCode),
          sipStatusCode: sip.sipStatusCode,
          sipStatus: sip.sipStatus,
          durationS: 0,
          metadata: body.metadata,
        });
      }
      throw e;
    }
  }

  return { lk, findCall, createCall };
}
