/**
 * Dispatch-rule schemas: which room an inbound call goes to and which agent joins it.
 */
import { type Static, Type } from '@sinclair/typebox';
import { E164 } from './common.js';
import { stringMap, TrunkId } from './trunks.js';

export const RuleId = Type.String({
  pattern: '^SDR_[A-Za-z0-9_-]{1,64}$',
  description: 'LiveKit SIP dispatch rule id',
  examples: ['SDR_8bT2mQzLx4Pa'],
});

/** Room name prefix of `individual` and `callee` rules when none is given. */
export const DEFAULT_ROOM_PREFIX = 'call';

export const RuleIdParams = Type.Object({ id: RuleId }, { additionalProperties: false });

/** The named agent (worker `agentName`) dispatched into every room the rule creates. */
export const AgentRef = Type.Object(
  {
    name: Type.String({
      pattern: '^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$',
      description: 'Agent name the worker registered with',
      examples: ['receptionist'],
    }),
    metadata: Type.Optional(
      Type.String({ maxLength: 8192, description: 'Job metadata the agent receives' }),
    ),
  },
  { additionalProperties: false },
);
export type AgentRef = Static<typeof AgentRef>;

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
  agent: Type.Optional(AgentRef),
  metadata: Type.Optional(Type.String({ maxLength: 4096 })),
  attributes: Type.Optional(stringMap("Attributes set on the caller's participant")),
};

export const DispatchRuleCreate = Type.Object(ruleFields, { additionalProperties: false });
export type DispatchRuleCreate = Static<typeof DispatchRuleCreate>;

export const DispatchRulePatch = Type.Object(
  {
    ...ruleFields,
    kind: Type.Optional(RuleKind),
    agent: Type.Optional(Type.Union([AgentRef, Type.Null()])),
  },
  {
    additionalProperties: false,
    minProperties: 1,
    description: 'Fields to change; lists and maps replace the current ones; agent null removes it',
  },
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
    agent: Type.Optional(
      Type.Object(
        { name: Type.String(), metadata: Type.String() },
        { additionalProperties: false },
      ),
    ),
    metadata: Type.String(),
    attributes: Type.Record(Type.String(), Type.String()),
  },
  { additionalProperties: false },
);
export type DispatchRule = Static<typeof DispatchRule>;
