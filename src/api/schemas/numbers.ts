/**
 * Number routing schemas: one call routes a phone number to an agent of the agents file (an
 * inbound trunk for the number plus an `individual` dispatch rule that dispatches the worker
 * pool, AGENT_NAME, with the agent in its job metadata; both managed by this service).
 */
import { type Static, Type } from '@sinclair/typebox';
import { E164 } from './common.js';
import { AgentRef, AgentView, DEFAULT_ROOM_PREFIX } from './dispatch-rules.js';
import { IpAddress, SipAuthInput, SipAuthOutput } from './trunks.js';

export const NumberParams = Type.Object(
  {
    e164: Type.String({
      format: 'e164',
      maxLength: 16,
      description: 'The number in E.164 format, "+" URL-encoded as %2B or literal',
      examples: ['+14155550123'],
    }),
  },
  { additionalProperties: false },
);

export const NumberRoutingInput = Type.Object(
  {
    agent: AgentRef,
    roomPrefix: Type.Optional(
      Type.String({
        pattern: '^[A-Za-z0-9_.-]{1,64}$',
        default: DEFAULT_ROOM_PREFIX,
        description: 'Prefix of the per-call room names (<prefix>_<caller>_<random>)',
      }),
    ),
    allowedAddresses: Type.Optional(
      Type.Array(IpAddress, {
        maxItems: 100,
        uniqueItems: true,
        default: [],
        description: 'Carrier IPs/CIDRs allowed to send calls for this number; empty = any',
      }),
    ),
    allowedNumbers: Type.Optional(
      Type.Array(E164, {
        maxItems: 100,
        uniqueItems: true,
        default: [],
        description: 'Caller numbers allowed; empty = any caller',
      }),
    ),
    auth: Type.Optional(SipAuthInput),
    hidePhoneNumber: Type.Optional(
      Type.Boolean({
        default: false,
        description: "Hide the caller's number from the room and the agent",
      }),
    ),
  },
  {
    additionalProperties: false,
    description:
      'The complete routing of the number: fields left out take their defaults (PUT replaces).',
  },
);
export type NumberRoutingInput = Static<typeof NumberRoutingInput>;

/** The body as handlers see it: ajv (`useDefaults`) has filled in every default. */
export type NumberRoutingSpec = NumberRoutingInput &
  Required<
    Pick<
      NumberRoutingInput,
      'roomPrefix' | 'allowedAddresses' | 'allowedNumbers' | 'hidePhoneNumber'
    >
  >;

export const NumberRouting = Type.Object(
  {
    number: Type.String(),
    agent: Type.Optional(AgentView),
    roomPrefix: Type.Optional(Type.String()),
    allowedAddresses: Type.Array(Type.String()),
    allowedNumbers: Type.Array(Type.String()),
    auth: Type.Optional(SipAuthOutput),
    hidePhoneNumber: Type.Boolean(),
    trunkId: Type.Union([Type.String(), Type.Null()]),
    dispatchRuleId: Type.Union([Type.String(), Type.Null()]),
    status: Type.Union([Type.Literal('active'), Type.Literal('incomplete')], {
      description:
        'incomplete: only the trunk or only the rule exists (an earlier request failed half-way); ' +
        'PUT the number again to repair it, or DELETE it',
    }),
  },
  { additionalProperties: false },
);
export type NumberRouting = Static<typeof NumberRouting>;
