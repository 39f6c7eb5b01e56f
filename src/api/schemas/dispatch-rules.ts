/**
 * Dispatch-rule schemas: which room an inbound call goes to and which agent joins it. The
 * agent is an agent of the agents file; LiveKit dispatches the worker pool (AGENT_NAME) with
 * `{"agent": name, "metadata": {...}}` as the job metadata.
 */
import { type Static, Type } from '@sinclair/typebox';
import { E164, patchBody, stringMap } from './common.js';
import { TrunkId } from './trunks.js';

const RuleId = Type.String({
  pattern: '^SDR_[A-Za-z0-9_-]{1,64}$',
  description: 'LiveKit SIP dispatch rule id',
  examples: ['SDR_8bT2mQzLx4Pa'],
});

/** Room name prefix of `individual` and `callee` rules when none is given. */
export const DEFAULT_ROOM_PREFIX = 'call';

export const RuleIdParams = Type.Object({ id: RuleId }, { additionalProperties: false });

/**
 * An agent of the agents file (AGENTS_CONFIG): the product's agent, not LiveKit's agent name.
 * LiveKit always dispatches the worker pool (AGENT_NAME); this name travels in the job metadata
 * and the worker connects that agent (or, when the file has no such agent, follows its routes).
 * Same pattern as agent names in the agents file.
 */
export const AgentName = Type.String({
  pattern: '^[a-z][a-z0-9_-]{0,39}$',
  description:
    'An agent of the agents file (lower-case letters, digits, "_" or "-", max 40). Sent to ' +
    'the worker pool (AGENT_NAME) in the job metadata; an unknown name falls back to the ' +
    "agents file's routes",
  examples: ['receptionist'],
});

/** Free-form settings for the agent: the job metadata's `metadata` object. */
export const AgentMetadataObject = Type.Record(Type.String({ maxLength: 128 }), Type.Unknown(), {
  maxProperties: 64,
  description:
    'Free-form settings for the agent, given to it as the `metadata` object of its job ' +
    "metadata (the agents file's `metadata:` route conditions match its keys)",
});

/** Longest dispatch metadata JSON (`{"agent", "metadata"}`) a rule may carry. */
export const MAX_DISPATCH_METADATA = 8192;

const AgentMetadata = Type.Optional(
  Type.Union([AgentMetadataObject, Type.String({ maxLength: MAX_DISPATCH_METADATA })], {
    description:
      'An object, or (older clients) a string: a JSON object is parsed, any other text ' +
      'is passed as {"value": "<text>"}, "" as {}. The dispatch metadata is ' +
      `{"agent": name, "metadata": {...}}, at most ${MAX_DISPATCH_METADATA} characters.`,
  }),
);

/** The agent dispatched (by the worker pool AGENT_NAME) into every room the rule creates. */
export const AgentRef = Type.Object(
  { name: AgentName, metadata: AgentMetadata },
  { additionalProperties: false },
);
export type AgentRef = Static<typeof AgentRef>;

/**
 * A dispatch rule's agent: as AgentRef, but the name may be left out: the worker pool is
 * dispatched and the agents file's routes choose the agent from the call (dialed number,
 * caller, SIP headers, attributes).
 */
export const RuleAgentRef = Type.Object(
  {
    name: Type.Optional(
      Type.String({
        pattern: AgentName.pattern,
        description:
          `${AgentName.description}. Absent: the worker's agents file's routes choose ` +
          '(by dialed number, caller, SIP headers)',
      }),
    ),
    metadata: AgentMetadata,
  },
  { additionalProperties: false },
);
export type RuleAgentRef = Static<typeof RuleAgentRef>;

/**
 * An agent as read back: for dispatches this service made, `name` and the `metadata` object;
 * for rules made elsewhere (another LiveKit agent name, or metadata not in our format), the
 * LiveKit `agentName` and the raw metadata string, so nothing is hidden.
 */
export const AgentView = Type.Object(
  {
    name: Type.Optional(
      Type.String({ description: "Absent: the agents file's routes choose the agent" }),
    ),
    metadata: Type.Union([Type.Record(Type.String(), Type.Unknown()), Type.String()], {
      description:
        'Object: the agent metadata of a dispatch made by this service. String: the raw ' +
        'dispatch metadata of a rule made elsewhere (name is then its LiveKit agentName)',
    }),
  },
  { additionalProperties: false },
);
export type AgentView = Static<typeof AgentView>;

export const RuleKind = Type.Union(
  [Type.Literal('individual'), Type.Literal('direct'), Type.Literal('callee')],
  {
    description:
      'individual: a new room per call (<roomPrefix>_<caller>_<random>); direct: every call ' +
      'joins roomName; callee: one room per dialed number (<roomPrefix>_<called>)',
  },
);
export type RuleKind = Static<typeof RuleKind>;

const RoomPart = (description: string) =>
  Type.String({ pattern: '^[A-Za-z0-9_.-]{1,64}$', description });

const ruleFields = {
  name: Type.Optional(Type.String({ maxLength: 128 })),
  kind: RuleKind,
  roomPrefix: Type.Optional(
    RoomPart(`individual and callee: room name prefix (default "${DEFAULT_ROOM_PREFIX}")`),
  ),
  roomName: Type.Optional(RoomPart('direct: the room every call joins (required)')),
  pin: Type.Optional(
    Type.String({
      pattern: '^[0-9]{0,16}$',
      description: 'Digits the caller must enter; empty = no PIN',
    }),
  ),
  randomize: Type.Optional(
    Type.Boolean({ description: 'callee: add a random suffix (one room per call)' }),
  ),
  trunkIds: Type.Optional(
    Type.Array(TrunkId, {
      maxItems: 100,
      uniqueItems: true,
      description: 'Inbound trunks the rule applies to; empty = all trunks',
    }),
  ),
  inboundNumbers: Type.Optional(
    Type.Array(E164, {
      maxItems: 100,
      uniqueItems: true,
      description: 'Caller numbers the rule applies to; empty = any caller',
    }),
  ),
  numbers: Type.Optional(
    Type.Array(E164, {
      maxItems: 100,
      uniqueItems: true,
      description: 'Dialed numbers the rule applies to; empty = any',
    }),
  ),
  hidePhoneNumber: Type.Optional(
    Type.Boolean({ description: "Hide the caller's number from the room" }),
  ),
  agent: Type.Optional(RuleAgentRef),
  metadata: Type.Optional(Type.String({ maxLength: 4096 })),
  attributes: Type.Optional(stringMap("Attributes set on the caller's participant")),
};

export const DispatchRuleCreate = Type.Object(ruleFields, { additionalProperties: false });
export type DispatchRuleCreate = Static<typeof DispatchRuleCreate>;

export const DispatchRulePatch = patchBody(
  {
    ...ruleFields,
    kind: Type.Optional(RuleKind),
    agent: Type.Optional(Type.Union([RuleAgentRef, Type.Null()])),
  },
  'Fields to change; lists and maps replace the current ones; agent null removes it',
);
export type DispatchRulePatch = Static<typeof DispatchRulePatch>;

export const DispatchRule = Type.Object(
  {
    id: RuleId,
    name: Type.String(),
    kind: RuleKind,
    roomPrefix: Type.Optional(Type.String()),
    roomName: Type.Optional(Type.String()),
    pin: Type.Optional(Type.String()),
    randomize: Type.Optional(Type.Boolean()),
    trunkIds: Type.Array(Type.String()),
    inboundNumbers: Type.Array(Type.String()),
    numbers: Type.Array(Type.String()),
    hidePhoneNumber: Type.Boolean(),
    agent: Type.Optional(AgentView),
    metadata: Type.String(),
    attributes: Type.Record(Type.String(), Type.String()),
  },
  { additionalProperties: false },
);
export type DispatchRule = Static<typeof DispatchRule>;
