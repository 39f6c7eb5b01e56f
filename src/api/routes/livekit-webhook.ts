/**
 * LiveKit webhooks in: POST /v1/livekit/webhook. LiveKit signs each delivery (JWT in the
 * Authorization header with the SHA-256 of the raw body); anything else is 401. Room and
 * participant events become call events:
 *
 * | LiveKit webhook                                  | call event                        |
 * |--------------------------------------------------|-----------------------------------|
 * | participant_joined, phone (SIP) participant      | call.started                      |
 * | a phone participant seen with sip.callStatus=active (participant_joined, track_published) | call.answered |
 * | participant_left / _connection_aborted, phone    | call.ended {durationS, reason}    |
 * | room_finished of an outbound call room           | call.ended (if not sent already)  |
 *
 * Webhooks cannot tell everything: LiveKit sends none when an attribute changes, so an answer
 * after the join is known from the agent worker (POST /v1/calls/:id/events), from
 * waitUntilAnswered, or from a later track_published. `reason` comes from LiveKit's disconnect
 * reason (hangup, no-answer, declined, failed), or `transfer` after a transfer was reported.
 * `durationS` counts from the phone participant joining the room (for outbound calls that
 * includes the ringing). Events are deduplicated per call and type, which also absorbs
 * LiveKit's redeliveries. A dial placed with `waitUntilAnswered` that fails is reported by
 * POST /v1/calls itself, with the carrier's SIP status (webhooks carry none): its phone
 * participant leaving makes no call.ended here, or the less precise one could win the race.
 *
 * A warm transfer's human (a second SIP participant, dialed into the call's room with
 * `phoneAgents.role: transfer-target`, src/telephony/transfer/warm-transfer.ts) is not the call:
 * their joining, answering or leaving (declined, busy, no answer, hanging up after the bridge)
 * maps to nothing; the call ends when its phone participant leaves.
 *
 * An AGENT participant leaving a call room also goes to agent recovery
 * (src/api/agent-recovery.ts), which takes the call over when the agent died; the mapping above
 * stays pure.
 */
import type { FastifyInstance } from 'fastify';
import type { ParticipantInfo, WebhookEvent } from 'livekit-server-sdk';
import { ValidationError, WebhookSignatureError } from '../../core/errors.js';
import type { CallEventType } from '../call-events.js';
import {
  disconnectReasonName,
  endReasonOf,
  isSipParticipant,
  isTransferTarget,
  joinedAtMs,
  parseRoomMetadata,
  roomCreatedAtMs,
  sipParties,
} from '../calls-model.js';
import { WebhookAccepted } from '../schemas/calls.js';
import { problemResponses } from '../schemas/common.js';

interface MappedEvent {
  type: CallEventType;
  callId: string;
  data: Record<string, unknown>;
}

/** How livekit-sip ends a SIP participant whose dial failed: busy/declined, no answer, carrier error. */
const DIAL_FAILURES = new Set(['USER_REJECTED', 'USER_UNAVAILABLE', 'SIP_TRUNK_FAILURE']);

function seconds(ms: number): number {
  return Math.max(0, Math.round(ms / 100) / 10);
}

/** Who is who, from the phone participant's attributes. */
function parties(p: ParticipantInfo, outbound: boolean) {
  const a = p.attributes ?? {};
  return {
    direction: outbound ? 'outbound' : 'inbound',
    ...sipParties(a, outbound),
    sipCallId: a['sip.callID'],
    trunkId: a['sip.trunkID'],
    participantIdentity: p.identity,
  };
}

/** Call events a LiveKit webhook implies (pure; `transferred` says a transfer was reported). */
function callEventsOf(ev: WebhookEvent, transferred = false): MappedEvent[] {
  const room = ev.room;
  if (!room?.name) return [];
  const callId = room.name;
  const meta = parseRoomMetadata(room.metadata);
  const p = ev.participant;
  // createdAt has whole seconds only: for a prompt delivery, now is more precise.
  const now = Date.now();
  const sentMs = Number(ev.createdAt ?? 0) * 1000;
  const atMs = sentMs > 0 && now - sentMs > 1000 ? sentMs : now;
  const extra = meta?.metadata ? { metadata: meta.metadata } : {};
  const out: MappedEvent[] = [];

  if (p && isSipParticipant(p) && !isTransferTarget(p)) {
    const outbound = meta !== undefined || p.attributes?.['phoneAgents.callId'] !== undefined;
    const who = parties(p, outbound);
    const status = p.attributes?.['sip.callStatus'];
    switch (ev.event) {
      case 'participant_joined':
        out.push({
          type: 'call.started',
          callId,
          data: { ...who, sipCallStatus: status, ...extra },
        });
        if (status === 'active')
          out.push({ type: 'call.answered', callId, data: { ...who, ...extra } });
        break;
      case 'track_published':
        if (status === 'active')
          out.push({ type: 'call.answered', callId, data: { ...who, ...extra } });
        break;
      case 'participant_left':
      case 'participant_connection_aborted':
        // A dial that never connected, placed with waitUntilAnswered: POST /v1/calls reports
        // its end with the carrier's SIP status, which this webhook lacks (the first call.ended
        // of a call wins, and the two race).
        if (
          meta?.waitUntilAnswered &&
          status !== 'active' &&
          DIAL_FAILURES.has(disconnectReasonName(p.disconnectReason))
        ) {
          break;
        }
        out.push({
          type: 'call.ended',
          callId,
          data: {
            ...who,
            reason: transferred ? 'transfer' : endReasonOf(p.disconnectReason, status),
            disconnectReason: disconnectReasonName(p.disconnectReason),
            durationS: seconds(atMs - joinedAtMs(p)),
            sipCallStatus: status,
            ...extra,
          },
        });
        break;
    }
  } else if (ev.event === 'room_finished' && meta) {
    out.push({
      type: 'call.ended',
      callId,
      data: {
        direction: 'outbound',
        to: meta.to,
        from: meta.from,
        reason: transferred ? 'transfer' : 'hangup',
        durationS: seconds(atMs - roomCreatedAtMs(room)),
        ...extra,
      },
    });
  }
  return out;
}

function mayEnd(ev: WebhookEvent): boolean {
  return (
    ev.event === 'participant_left' ||
    ev.event === 'participant_connection_aborted' ||
    ev.event === 'room_finished'
  );
}

export default async function livekitWebhook(app: FastifyInstance): Promise<void> {
  const { livekit, events, recovery } = app.deps;

  // The signature covers the exact bytes LiveKit sent: keep the body as a string (this
  // plugin's scope only; LiveKit posts application/webhook+json).
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser(
    ['application/webhook+json', 'application/json'],
    { parseAs: 'string' },
    (_req, body, done) => done(null, body),
  );

  app.post(
    '/v1/livekit/webhook',
    {
      config: { public: true },
      schema: {
        tags: ['Webhooks'],
        summary: 'LiveKit webhook receiver',
        description:
          "Point LiveKit's `webhook.urls` here. Authenticated by LiveKit's signature " +
          "(JWT with the body's SHA-256, signed with the API secret), not by an API key.",
        security: [],
        response: { 200: WebhookAccepted, ...problemResponses(400, 401) },
      },
    },
    async (req) => {
      const raw = typeof req.body === 'string' ? req.body : '';
      let ev: WebhookEvent;
      try {
        ev = await livekit.webhooks.receive(raw, req.headers.authorization);
      } catch (err) {
        const e = err as Error;
        // The SDK verifies before it parses: a parse failure means a signed but broken body.
        if (e instanceof SyntaxError || /cannot decode/i.test(e.message)) {
          throw new ValidationError(`The webhook body is not a LiveKit event: ${e.message}`);
        }
        throw new WebhookSignatureError(e.message);
      }
      const transferred =
        mayEnd(ev) && ev.room?.name
          ? await events.published('call.transferred', ev.room.name)
          : false;
      const published: string[] = [];
      for (const m of callEventsOf(ev, transferred)) {
        if (await events.publish(m.type, m.callId, m.data)) published.push(m.type);
      }
      req.log.debug({ event: ev.event, id: ev.id, published }, 'livekit webhook');
      // An agent that left a call room it should still be in: another one takes the call over
      // (agent-recovery.ts). Not awaited: LiveKit's webhook delivery must not wait on it.
      void recovery
        .onWebhook(ev)
        .catch((err: Error) => req.log.error({ err: err.message }, 'agent recovery failed'));
      return { events: published };
    },
  );
}
