/** Schemas of /v1/calls and the LiveKit webhook (validation, serialization and OpenAPI). */
import { type Static, Type } from '@sinclair/typebox';
import { CALL_EVENT_TYPES } from '../call-events.js';
import { E164, StringMap, stringMap } from './common.js';
import { AgentMetadataObject, AgentName } from './dispatch-rules.js';

/** Room names: call-<uuid> for outbound calls; inbound rooms are named by dispatch rules. */
const CallId = Type.String({
  minLength: 1,
  maxLength: 128,
  pattern: '^[A-Za-z0-9_.:+@=-]+$',
  description: 'Call id (the LiveKit room name)',
  examples: ['call-7d3f0e4a-1b2c-4d5e-8f90-123456789abc'],
});
export const CallParams = Type.Object({ id: CallId }, { additionalProperties: false });
export type CallParams = Static<typeof CallParams>;

const CallStatusSchema = Type.Union(
  [
    Type.Literal('dialing'),
    Type.Literal('ringing'),
    Type.Literal('active'),
    Type.Literal('ended'),
    Type.Literal('failed'),
  ],
  { description: 'From the phone participant: sip.callStatus dialing → ringing → active → ended' },
);

export const CreateCallBody = Type.Object(
  {
    to: E164,
    from: Type.Optional(E164),
    trunkId: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 64,
        pattern: '^[A-Za-z0-9_-]+$',
        description: 'Outbound trunk (ST_...); DEFAULT_OUTBOUND_TRUNK_ID when absent',
      }),
    ),
    agent: Type.Optional(
      Type.Object(
        {
          name: AgentName,
          metadata: Type.Optional(AgentMetadataObject),
        },
        {
          additionalProperties: false,
          description:
            'The agent of the agents file that takes the call. LiveKit dispatches the worker ' +
            "pool (AGENT_NAME); this travels in its job metadata. Without it the agents file's " +
            'routes choose (e.g. `metadata: { campaign: renewals }`)',
        },
      ),
    ),
    metadata: Type.Optional(
      stringMap(
        'Call metadata: returned by GET /v1/calls/:id and in call events, and given to ' +
          'the agent (merged under agent.metadata, whose keys win)',
      ),
    ),
    waitUntilAnswered: Type.Optional(
      Type.Boolean({
        default: false,
        description:
          'Answer only once the callee picked up (or with the SIP failure). The request then ' +
          'lasts up to ringingTimeoutS (default 30) + 2 s.',
      }),
    ),
    ringingTimeoutS: Type.Optional(Type.Integer({ minimum: 1, maximum: 300 })),
    maxDurationS: Type.Optional(
      Type.Integer({ minimum: 1, description: 'At most MAX_CALL_DURATION_S (the default)' }),
    ),
  },
  { additionalProperties: false },
);
export type CreateCallBody = Static<typeof CreateCallBody>;

export const CallCreated = Type.Object({
  id: Type.String(),
  room: Type.String(),
  status: CallStatusSchema,
  sipCallId: Type.String(),
  participantIdentity: Type.String(),
  createdAt: Type.String({ format: 'date-time' }),
});

export const CallSchema = Type.Object(
  {
    id: Type.String(),
    room: Type.String(),
    direction: Type.Union([Type.Literal('outbound'), Type.Literal('inbound')]),
    status: CallStatusSchema,
    to: Type.Optional(Type.String()),
    from: Type.Optional(Type.String()),
    agent: Type.Optional(
      Type.String({ description: 'Outbound: the agent the request named (agents file)' }),
    ),
    trunkId: Type.Optional(Type.String()),
    sipCallId: Type.Optional(Type.String()),
    sipCallStatus: Type.Optional(Type.String()),
    participantIdentity: Type.Optional(Type.String()),
    createdAt: Type.String({ format: 'date-time' }),
    metadata: Type.Optional(StringMap),
  },
  { description: 'A call: a LiveKit room with a phone (SIP) participant' },
);

export const ListCallsQuery = Type.Object(
  {
    limit: Type.Integer({ minimum: 1, maximum: 500, default: 100 }),
    cursor: Type.Optional(
      Type.String({ maxLength: 128, description: 'nextCursor of a previous page' }),
    ),
  },
  { additionalProperties: false },
);
export type ListCallsQuery = Static<typeof ListCallsQuery>;

export const CallList = Type.Object({
  calls: Type.Array(CallSchema),
  nextCursor: Type.Optional(Type.String()),
});

export const TransferBody = Type.Object(
  {
    to: Type.String({
      minLength: 1,
      maxLength: 256,
      description: 'tel:+<E.164>, sip:user@host (or sips:), or a bare E.164 number',
      examples: ['tel:+14155550123', 'sip:support@pbx.example.com'],
    }),
    ringingTimeoutS: Type.Optional(Type.Integer({ minimum: 1, maximum: 300 })),
    playDialtone: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
);
export type TransferBody = Static<typeof TransferBody>;

export const TransferResult = Type.Object({
  id: Type.String(),
  status: Type.Literal('transferred'),
  to: Type.String(),
});

const CallEventTypeSchema = Type.Union(CALL_EVENT_TYPES.map((t) => Type.Literal(t)));

/** What the agent worker reports about a call (only it knows answers, summaries, voicemail). */
export const ReportEventBody = Type.Object(
  {
    type: CallEventTypeSchema,
    data: Type.Optional(
      Type.Record(Type.String({ maxLength: 128 }), Type.Unknown(), {
        maxProperties: 64,
        description: 'Event payload, delivered as the event\'s "data"',
      }),
    ),
  },
  { additionalProperties: false },
);
export type ReportEventBody = Static<typeof ReportEventBody>;

export const EventAccepted = Type.Object({
  id: Type.String(),
  duplicate: Type.Boolean({ description: 'An event of this type was already sent for the call' }),
});

export const WebhookAccepted = Type.Object({
  events: Type.Array(Type.String(), { description: 'Call events this webhook produced' }),
});

/** Participant identities (the worker's job in a room is `agent-AJ_…`). */
const Identity = Type.String({ minLength: 1, maxLength: 128, pattern: '^[A-Za-z0-9_.:+@=-]+$' });

/** What a call's job reports of its conversation, so another worker can take the call over. */
export const CheckpointBody = Type.Object(
  {
    agentIdentity: Identity,
    agent: Type.Optional(AgentName),
    startedAt: Type.Optional(
      Type.Integer({ minimum: 0, description: 'When the call started (epoch ms)' }),
    ),
    attempt: Type.Optional(
      Type.Integer({
        minimum: 0,
        maximum: 10,
        description: '0: the call’s first agent; n: the agent of its n-th take-over',
      }),
    ),
    state: Type.Union([Type.Literal('live'), Type.Literal('ended'), Type.Literal('handed-off')], {
      description:
        '`ended` / `handed-off` (a warm transfer bridged the caller to a human): the job lets ' +
        'the call go on purpose, nothing to take over when it leaves',
    }),
    transcript: Type.Array(
      Type.Object(
        {
          t: Type.Integer({ minimum: 0, description: 'ms since the call started' }),
          role: Type.Union([Type.Literal('caller'), Type.Literal('agent')]),
          text: Type.String({ maxLength: 2000 }),
          agent: Type.Optional(Type.String({ maxLength: 128 })),
          interrupted: Type.Optional(Type.Boolean()),
        },
        { additionalProperties: false },
      ),
      { maxItems: 50, description: 'The last lines of the conversation, oldest first' },
    ),
  },
  { additionalProperties: false },
);
export type CheckpointBody = Static<typeof CheckpointBody>;

export const CheckpointAccepted = Type.Object({
  stored: Type.Boolean({
    description:
      'false: this job was already replaced by another (its agent was declared dead); it must ' +
      'leave the call',
  }),
});

export const LeaseQuery = Type.Object({ identity: Identity }, { additionalProperties: false });
