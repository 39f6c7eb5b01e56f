/**
 * Dispatch rules, our JSON ↔ livekit-server-sdk: request bodies become SDK options and update
 * messages, SDK rule objects become the API's product-shaped JSON.
 *
 * PATCH uses LiveKit's partial updates when every changed field has one; a rule's agent,
 * numbers, hidePhoneNumber and attributes need a whole-object replace built from the current one.
 *
 * A rule's `agent` is an agent of the agents file. LiveKit dispatches the worker pool by its
 * registered name (AGENT_NAME, passed in as `agentName`); the agent's name and metadata are the
 * dispatch metadata `{"agent": name, "metadata": {...}}` the worker reads as job metadata
 * (src/core/job-metadata.ts).
 */
import {
  type CreateSipDispatchRuleOptions,
  RoomAgentDispatch,
  RoomConfiguration,
  SIPDispatchRule,
  type SIPDispatchRuleInfo,
  type SipDispatchRuleCallee,
  type SipDispatchRuleDirect,
  type SipDispatchRuleIndividual,
  type SipDispatchRuleUpdateOptions,
} from 'livekit-server-sdk';
import { type AgentJobMetadata, jsonObject, readAgentDispatch } from '../core/job-metadata.js';
import { fieldError } from './problem.js';
import {
  type AgentView,
  DEFAULT_ROOM_PREFIX,
  type DispatchRule,
  type DispatchRuleCreate,
  type DispatchRulePatch,
  MAX_DISPATCH_METADATA,
  type RuleAgentRef,
  type RuleKind,
} from './schemas/dispatch-rules.js';
import { listUpdate } from './trunk-mapping.js';

type SdkRule = SipDispatchRuleDirect | SipDispatchRuleIndividual | SipDispatchRuleCallee;

// ── dispatch rules ───────────────────────────────────────────────────────────────────────────
/** The rule's shape in our JSON: kind plus the fields that belong to that kind. */
export interface RuleShape {
  kind: RuleKind;
  roomPrefix?: string;
  roomName?: string;
  pin?: string;
  randomize?: boolean;
}

export function ruleShapeOf(rule: SIPDispatchRule | undefined): RuleShape {
  const r = rule?.rule;
  const pin = (p: string) => (p ? { pin: p } : {});
  switch (r?.case) {
    case 'dispatchRuleDirect':
      return { kind: 'direct', roomName: r.value.roomName, ...pin(r.value.pin) };
    case 'dispatchRuleCallee':
      return {
        kind: 'callee',
        roomPrefix: r.value.roomPrefix,
        ...pin(r.value.pin),
        randomize: r.value.randomize,
      };
    case 'dispatchRuleIndividual':
      return { kind: 'individual', roomPrefix: r.value.roomPrefix, ...pin(r.value.pin) };
    default:
      // A rule without a kind cannot be created through LiveKit's API; report it as the default.
      return { kind: 'individual', roomPrefix: '' };
  }
}

/** The SDK's create argument for a validated shape. */
export function sdkRule(shape: RuleShape): SdkRule {
  switch (shape.kind) {
    case 'direct':
      return { type: 'direct', roomName: shape.roomName ?? '', pin: shape.pin };
    case 'callee':
      return {
        type: 'callee',
        roomPrefix: shape.roomPrefix ?? DEFAULT_ROOM_PREFIX,
        pin: shape.pin,
        randomize: shape.randomize,
      };
    default:
      return {
        type: 'individual',
        roomPrefix: shape.roomPrefix ?? DEFAULT_ROOM_PREFIX,
        pin: shape.pin,
      };
  }
}

/** The protobuf rule message for updates and replaces. */
function ruleMessage(shape: RuleShape): SIPDispatchRule {
  const pin = shape.pin ?? '';
  switch (shape.kind) {
    case 'direct':
      return new SIPDispatchRule({
        rule: { case: 'dispatchRuleDirect', value: { roomName: shape.roomName ?? '', pin } },
      });
    case 'callee':
      return new SIPDispatchRule({
        rule: {
          case: 'dispatchRuleCallee',
          value: {
            roomPrefix: shape.roomPrefix ?? DEFAULT_ROOM_PREFIX,
            pin,
            randomize: shape.randomize ?? false,
          },
        },
      });
    default:
      return new SIPDispatchRule({
        rule: {
          case: 'dispatchRuleIndividual',
          value: { roomPrefix: shape.roomPrefix ?? DEFAULT_ROOM_PREFIX, pin },
        },
      });
  }
}

// ── the agent of a rule (the dispatch contract: src/core/job-metadata.ts) ──────────────
/**
 * The agent metadata as an object. Older clients sent a string: a JSON object is parsed, other
 * text is kept as `{ value }` (so their PUTs keep working), "" means none.
 */
function agentMetadataObject(metadata: RuleAgentRef['metadata']): Record<string, unknown> {
  if (metadata === undefined || metadata === '') return {};
  if (typeof metadata !== 'string') return metadata;
  return jsonObject(metadata) ?? { value: metadata };
}

/**
 * The dispatch (job) metadata JSON for an agent: `{"agent": name, "metadata": {...}}`; without a
 * name `{"metadata": {...}}`, and the worker's agents-file routes choose the agent.
 */
function agentDispatchMetadata(agent: RuleAgentRef): string {
  const metadata = agentMetadataObject(agent.metadata);
  const job: Partial<AgentJobMetadata> = agent.name
    ? { agent: agent.name, metadata }
    : { metadata };
  const json = JSON.stringify(job);
  if (json.length > MAX_DISPATCH_METADATA) {
    throw fieldError(
      'body.agent.metadata',
      `is too large: the dispatch metadata may have at most ${MAX_DISPATCH_METADATA} characters (got ${json.length})`,
    );
  }
  return json;
}

/**
 * `agent` → `roomConfig.agents`: LiveKit dispatches the worker pool (`agentName`, AGENT_NAME)
 * into each call's room, and the agent's name and metadata ride in the dispatch metadata.
 */
function roomConfigFor(
  agent: RuleAgentRef | null | undefined,
  agentName: string,
  base?: RoomConfiguration,
): RoomConfiguration {
  const config = base ? base.clone() : new RoomConfiguration();
  config.agents = agent
    ? [new RoomAgentDispatch({ agentName, metadata: agentDispatchMetadata(agent) })]
    : [];
  return config;
}

/**
 * The rule's agent as the API shows it: `{ name, metadata: {...} }` for a dispatch of our
 * worker pool in our format (`{ metadata }` when it names no agent: the routes choose);
 * otherwise LiveKit's `agentName` and the raw metadata string, so a rule made outside this
 * service shows everything it holds.
 */
export function agentOf(
  info: { roomConfig?: RoomConfiguration },
  agentName: string,
): { agent: AgentView } | Record<string, never> {
  const a = info.roomConfig?.agents[0];
  if (!a) return {};
  const ours = a.agentName === agentName ? readAgentDispatch(a.metadata) : undefined;
  if (ours) return { agent: { name: ours.agent, metadata: ours.metadata } };
  // Our pool without a name (`{"metadata": {...}}`): the agents file's routes choose.
  const routed = a.agentName === agentName ? jsonObject(a.metadata) : undefined;
  if (routed && Object.keys(routed).every((k) => k === 'metadata')) {
    const metadata = routed.metadata ?? {};
    if (typeof metadata === 'object' && metadata !== null && !Array.isArray(metadata)) {
      return { agent: { metadata: metadata as Record<string, unknown> } };
    }
  }
  return { agent: { name: a.agentName, metadata: a.metadata } };
}

export function dispatchRuleToJson(r: SIPDispatchRuleInfo, agentName: string): DispatchRule {
  return {
    id: r.sipDispatchRuleId,
    name: r.name,
    ...ruleShapeOf(r.rule),
    trunkIds: r.trunkIds,
    inboundNumbers: r.inboundNumbers,
    numbers: r.numbers,
    hidePhoneNumber: r.hidePhoneNumber,
    ...agentOf(r, agentName),
    metadata: r.metadata,
    attributes: r.attributes,
  };
}

export function ruleCreateOptions(
  body: DispatchRuleCreate,
  agentName: string,
): CreateSipDispatchRuleOptions {
  return {
    name: body.name,
    metadata: body.metadata,
    trunkIds: body.trunkIds,
    hidePhoneNumber: body.hidePhoneNumber,
    attributes: body.attributes,
    roomConfig: body.agent ? roomConfigFor(body.agent, agentName) : undefined,
  };
}

/** What a PATCH does to the rule's shape: the current shape with the patch applied. */
export function patchedShape(current: RuleShape, patch: DispatchRulePatch): RuleShape {
  const kind = patch.kind ?? current.kind;
  const sameKind = kind === current.kind;
  const keep = <K extends keyof RuleShape>(k: K) => (sameKind ? current[k] : undefined);
  return {
    kind,
    roomPrefix: patch.roomPrefix ?? keep('roomPrefix'),
    roomName: patch.roomName ?? keep('roomName'),
    pin: patch.pin ?? current.pin,
    randomize: patch.randomize ?? keep('randomize'),
  };
}

const RULE_SHAPE_KEYS = ['kind', 'roomPrefix', 'roomName', 'pin', 'randomize'] as const;

/** The partial update for a PATCH, or undefined when the PATCH needs a replace. */
export function ruleUpdateFields(
  patch: DispatchRulePatch,
  shape: RuleShape,
): SipDispatchRuleUpdateOptions | undefined {
  const replaceOnly =
    patch.agent !== undefined ||
    patch.inboundNumbers !== undefined ||
    patch.numbers !== undefined ||
    patch.hidePhoneNumber !== undefined ||
    // LiveKit merges a partial attributes update; ours replaces the map.
    patch.attributes !== undefined;
  if (replaceOnly) return undefined;
  const fields: SipDispatchRuleUpdateOptions = {};
  if (patch.name !== undefined) fields.name = patch.name;
  if (patch.metadata !== undefined) fields.metadata = patch.metadata;
  if (patch.trunkIds) fields.trunkIds = listUpdate(patch.trunkIds);
  if (RULE_SHAPE_KEYS.some((k) => patch[k] !== undefined)) fields.rule = ruleMessage(shape);
  return fields;
}

export function ruleReplace(
  current: SIPDispatchRuleInfo,
  patch: DispatchRulePatch,
  shape: RuleShape,
  agentName: string,
): SIPDispatchRuleInfo {
  const next = current.clone();
  next.rule = ruleMessage(shape);
  if (patch.name !== undefined) next.name = patch.name;
  if (patch.metadata !== undefined) next.metadata = patch.metadata;
  if (patch.attributes !== undefined) next.attributes = patch.attributes;
  if (patch.trunkIds) next.trunkIds = patch.trunkIds;
  if (patch.inboundNumbers) next.inboundNumbers = patch.inboundNumbers;
  if (patch.numbers) next.numbers = patch.numbers;
  if (patch.hidePhoneNumber !== undefined) next.hidePhoneNumber = patch.hidePhoneNumber;
  if (patch.agent !== undefined) {
    next.roomConfig = roomConfigFor(patch.agent, agentName, current.roomConfig);
  }
  return next;
}
