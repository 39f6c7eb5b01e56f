/**
 * Calls: outbound calls (POST /v1/calls, with Idempotency-Key), the active calls, one call,
 * hang-up, cold transfer (SIP REFER) and the worker's event reports. Stateless: every answer
 * comes from LiveKit (see calls-model.ts).
 *
 * Dispatch: LiveKit agent name = the worker pool's AGENT_NAME (the worker registers under the
 * same setting). `agent.name` is an agent of the agents file; it and the metadata travel in
 * the job metadata (`OutboundCallJob`, src/core/job-metadata.ts), where the worker picks the agent.
 * Without `agent`, the agents file's routes pick it (e.g. by `metadata:` campaign keys).
 *
 * Dialing failures are problem+json with `sipStatusCode` / `sipStatus` when the carrier
 * answered (mapping in livekit-errors.ts): busy 409 PA_ERR_SIP_BUSY, declined 403
 * PA_ERR_SIP_DECLINED, no answer 504 PA_ERR_SIP_NO_ANSWER, unreachable 502
 * PA_ERR_SIP_UNREACHABLE, other rejections 502 PA_ERR_SIP_REJECTED. Without waitUntilAnswered
 * the call returns while it rings, and later failures arrive as `call.ended` events.
 */
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { type Static, Type } from '@sinclair/typebox';
import type { FastifyError, FastifyInstance } from 'fastify';
import {
  CallNotConnectedError,
  CallNotFoundError,
  InvalidTransferTargetError,
  NoOutboundTrunkError,
  ValidationError,
} from '../../core/errors.js';
import { transferTarget } from '../../core/phone.js';
import { eventId } from '../call-events.js';
import { callOperations } from '../call-operations.js';
import {
  type CallView,
  isCallRoom,
  isDisconnected,
  parseRoomMetadata,
  sipParticipantOf,
  toCallView,
} from '../calls-model.js';
import { IDEMPOTENCY_KEY_PATTERN, requestFingerprint, runOnce } from '../idempotency.js';
import { type Problem, sendProblem, toProblem } from '../problem.js';
import {
  CallCreated,
  CallList,
  CallParams,
  CallSchema,
  CreateCallBody,
  EventAccepted,
  ListCallsQuery,
  ReportEventBody,
  TransferBody,
  TransferResult,
} from '../schemas/calls.js';
import { problemResponses, UPSTREAM_PROBLEMS } from '../schemas/common.js';
import { callLiveKit } from '../sip-lookup.js';

const TAGS = ['Calls'];
/** ListParticipants in parallel per page of GET /v1/calls (bounded: LiveKit is shared). */
const LIST_CONCURRENCY = 16;
const SIP_RINGING_DEFAULT_S = 30;

const IdempotencyHeaders = Type.Object({
  'idempotency-key': Type.Optional(
    Type.String({
      pattern: IDEMPOTENCY_KEY_PATTERN.source,
      description:
        'Makes the request safe to retry: the same key with the same body returns the first ' +
        'result (for 24 h) and never dials twice; with another body it is 422.',
    }),
  ),
});

type Created = Static<typeof CallCreated>;

export default async function calls(fastify: FastifyInstance): Promise<void> {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  const { config, livekit, idempotency, events } = app.deps;
  // A room without its phone participant is "dialing" this long (the dial request's bound).
  const setupWindowMs = config.LIVEKIT_TIMEOUT_MS;

  const ops = callOperations(app.deps);

  app.post(
    '/v1/calls',
    {
      schema: {
        tags: TAGS,
        summary: 'Place an outbound call',
        description:
          'Dispatches the worker pool (AGENT_NAME) to a new room, then dials. The job metadata ' +
          'is the call request: `agent` (agent.name, an agent of the agents file; without it ' +
          "the agents file's routes choose), `metadata` (the call metadata merged with " +
          'agent.metadata, whose keys win: what `metadata:` route conditions match), ' +
          'direction, to, ' +
          'from, callId, maxDurationS, ringingTimeoutS. ' +
          'SIP failures are problem+json with sipStatusCode and sipStatus: busy 409, ' +
          'declined 403, no answer 504, unreachable or rejected 502.',
        headers: IdempotencyHeaders,
        body: CreateCallBody,
        response: {
          201: CallCreated,
          ...problemResponses(400, 403, 404, 409, 412, 422, ...UPSTREAM_PROBLEMS),
        },
      },
    },
    async (req, reply) => {
      const body = req.body;
      const trunkId = body.trunkId ?? config.DEFAULT_OUTBOUND_TRUNK_ID;
      if (!trunkId) throw new NoOutboundTrunkError();
      if (body.maxDurationS !== undefined && body.maxDurationS > config.MAX_CALL_DURATION_S) {
        throw new ValidationError(
          `body.maxDurationS must be at most MAX_CALL_DURATION_S (${config.MAX_CALL_DURATION_S})`,
        );
      }
      const key = req.headers['idempotency-key'];
      if (key === undefined) {
        return reply.code(201).send(await ops.createCall(body, trunkId, req.log));
      }

      // The first request may take as long as its dial; duplicates wait as long.
      const ringS = body.waitUntilAnswered
        ? (body.ringingTimeoutS ?? SIP_RINGING_DEFAULT_S) + 2
        : 0;
      const leaseMs = ringS * 1000 + 2 * config.LIVEKIT_TIMEOUT_MS + 5000;
      const outcome = await runOnce(
        idempotency,
        {
          key: `${req.apiKeyId ?? 'anonymous'}:${key}`,
          fingerprint: requestFingerprint('POST', '/v1/calls', body),
          leaseMs,
          waitMs: leaseMs,
        },
        async () => {
          try {
            const created = await ops.createCall(body, trunkId, req.log);
            return { value: undefined, response: { status: 201, body: created }, store: true };
          } catch (err) {
            const problem = toProblem(err as FastifyError);
            // Keep final answers (incl. SIP outcomes); let a retry run again after our own
            // failures or an unreachable LiveKit, where nothing was dialed.
            const store = problem.status !== 500 && problem.status !== 503;
            return { value: err, response: { status: problem.status, body: problem }, store };
          }
        },
      );
      // The first request rethrows its own error: the error handler logs and formats it.
      if (!outcome.replayed && outcome.value) throw outcome.value;
      if (outcome.replayed) reply.header('idempotent-replayed', 'true');
      const { status, body: stored } = outcome.response;
      if (status >= 400) return sendProblem(reply, req, stored as Problem);
      // Only 201 and problems are ever stored.
      return reply.code(201).send(stored as Created);
    },
  );

  app.get(
    '/v1/calls',
    {
      schema: {
        tags: TAGS,
        summary: 'List active calls',
        description:
          'Calls in progress, outbound and inbound (rooms with a phone participant), by id.',
        querystring: ListCallsQuery,
        response: { 200: CallList, ...problemResponses(400, ...UPSTREAM_PROBLEMS) },
      },
    },
    async (req) => {
      const { limit, cursor } = req.query;
      const rooms = await ops.lk('list', () => livekit.rooms.listRooms());
      // Rooms nobody is in cannot hold a call, unless we just created them for one.
      const candidates = rooms
        .filter(
          (r) =>
            (cursor === undefined || r.name > cursor) &&
            (r.numParticipants > 0 || parseRoomMetadata(r.metadata) !== undefined),
        )
        .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
      const now = Date.now();
      const found: CallView[] = [];
      let examined = 0;
      while (examined < candidates.length && found.length < limit) {
        const batch = candidates.slice(examined, examined + LIST_CONCURRENCY);
        const views = await Promise.all(
          batch.map(async (room) => {
            // A room that ended meanwhile is simply not listed.
            const participants = await ops
              .lk(room.name, () => livekit.rooms.listParticipants(room.name))
              .catch((err) => {
                if (err instanceof CallNotFoundError) return undefined;
                throw err;
              });
            if (!participants || !isCallRoom(room, participants)) return undefined;
            return toCallView(room, participants, now, setupWindowMs);
          }),
        );
        for (const v of views) {
          examined++;
          if (v && v.status !== 'ended' && v.status !== 'failed') found.push(v);
          if (found.length >= limit) break;
        }
      }
      const last = candidates[examined - 1];
      return examined < candidates.length && last
        ? { calls: found, nextCursor: last.name }
        : { calls: found };
    },
  );

  app.get(
    '/v1/calls/:id',
    {
      schema: {
        tags: TAGS,
        summary: 'Get a call',
        description:
          'Status from the room and the phone participant (sip.callStatus). Calls whose room ' +
          'has ended are 404: their outcome is in the call.ended event.',
        params: CallParams,
        response: { 200: CallSchema, ...problemResponses(404, ...UPSTREAM_PROBLEMS) },
      },
    },
    async (req) => {
      const { id } = req.params;
      const { room, participants } = await ops.findCall(id);
      if (!room || !isCallRoom(room, participants)) {
        throw new CallNotFoundError(id);
      }
      return toCallView(room, participants, Date.now(), setupWindowMs);
    },
  );

  app.delete(
    '/v1/calls/:id',
    {
      schema: {
        tags: TAGS,
        summary: 'Hang up a call',
        description: 'Deletes the room: the phone participant and the agent are disconnected.',
        params: CallParams,
        response: {
          204: Type.Null({ description: 'Hung up' }),
          ...problemResponses(404, ...UPSTREAM_PROBLEMS),
        },
      },
    },
    async (req, reply) => {
      const { id } = req.params;
      await ops.lk(id, () => livekit.rooms.deleteRoom(id));
      req.log.info({ callId: id }, 'call hung up');
      return reply.code(204).send(null);
    },
  );

  app.post(
    '/v1/calls/:id/transfer',
    {
      schema: {
        tags: TAGS,
        summary: 'Cold-transfer a call',
        description:
          'Sends a SIP REFER to the carrier: the phone participant is connected to `to` and ' +
          'leaves the room. SIP failures are reported like dialing failures (sipStatusCode).',
        params: CallParams,
        body: TransferBody,
        response: {
          200: TransferResult,
          ...problemResponses(400, 403, 404, 409, 412, ...UPSTREAM_PROBLEMS),
        },
      },
    },
    async (req) => {
      const { id } = req.params;
      const to = transferTarget(req.body.to)?.uri;
      if (!to) throw new InvalidTransferTargetError(req.body.to);
      const { room, participants } = await ops.findCall(id);
      if (!room) throw new CallNotFoundError(id);
      const sip = sipParticipantOf(participants);
      if (!sip || isDisconnected(sip)) throw new CallNotConnectedError(id);
      await callLiveKit(`call ${id}`, () =>
        livekit.sip.transferSipParticipant(id, sip.identity, to, {
          ringingTimeout: req.body.ringingTimeoutS,
          playDialtone: req.body.playDialtone,
        }),
      );
      req.log.info({ callId: id }, 'call transferred');
      void events.publish('call.transferred', id, { to, participantIdentity: sip.identity });
      return { id, status: 'transferred' as const, to };
    },
  );

  app.post(
    '/v1/calls/:id/events',
    {
      schema: {
        tags: TAGS,
        summary: 'Report a call event (agent worker)',
        description:
          'For what only the agent knows (answered, voicemail, summary, an agent-initiated ' +
          'transfer or hang-up). Sent to EVENTS_WEBHOOK_URL as `{ id, type, createdAt, callId, ' +
          'data }`; one event per type and call, later duplicates are acknowledged and dropped.',
        params: CallParams,
        body: ReportEventBody,
        response: { 202: EventAccepted, ...problemResponses(400, 401, 429, 503) },
      },
    },
    async (req, reply) => {
      const { id } = req.params;
      const { type, data } = req.body;
      const event = await events.publish(type, id, data ?? {});
      return reply.code(202).send({ id: event?.id ?? eventId(id, type), duplicate: !event });
    },
  );
}
