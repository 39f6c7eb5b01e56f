/**
 * The job metadata: the one contract between the API and the worker (`ctx.job.metadata`, JSON).
 * LiveKit dispatches the worker pool by its registered name (AGENT_NAME, the same setting for
 * both); which agent of the agents file takes the call travels here:
 *
 * - `agent`: the agents-file agent the API was asked for (the API's `agent.name`). The worker
 *   connects it (routing's `metadata.agent`); an agent the file lacks → warning + routes.
 * - `metadata`: the user's metadata for the agent, an object. The agents file's `metadata:`
 *   route conditions match its keys, and the agent and its HTTP tools see it as the call's
 *   metadata.
 *
 * Dispatch rules and routed numbers carry exactly these two keys (`AgentJobMetadata`); outbound
 * calls add the call request (`OutboundCallJob`). The API writes them; the worker reads any of
 * them with `readJobMetadata`, and the API recognises its own dispatches with `readAgentDispatch`.
 */

export type CallDirection = 'inbound' | 'outbound';

/** What a dispatch rule or routed number dispatches with. */
export interface AgentJobMetadata {
  agent: string;
  metadata: Record<string, unknown>;
}

/**
 * Job metadata of an outbound call: the contract above plus the call request. `agent` is absent
 * when the request named none (the agents file's routes choose). `metadata` is the call's
 * `metadata` merged with `agent.metadata` (the agent's keys win: they are addressed to the
 * agent). Version 2: `agent` became the name (v1: `{ name, metadata }`).
 */
export interface OutboundCallJob extends Omit<AgentJobMetadata, 'agent'> {
  agent?: string;
  kind: 'phone-agents.call';
  version: 2;
  direction: 'outbound';
  callId: string;
  room: string;
  to: string;
  from?: string;
  trunkId: string;
  maxDurationS?: number;
  ringingTimeoutS?: number;
  waitUntilAnswered: boolean;
  /** Identity of the SIP participant the agent should wait for. */
  sipParticipantIdentity: string;
  createdAt: string;
}

/** What the worker reads from any job metadata; fields absent when not given (or not ours). */
export interface JobMetadata {
  /** The requested agent; `{ "name": ... }` (version 1) is read too. */
  agent?: string;
  /** The user's metadata; {} when absent. */
  metadata: Record<string, unknown>;
  direction?: CallDirection;
  sipParticipantIdentity?: string;
  /** Positive seconds only. */
  maxDurationS?: number;
  /** Positive seconds only. */
  ringingTimeoutS?: number;
}

/** The JSON object in a LiveKit metadata string; undefined for anything else (free text too). */
export function jsonObject(raw: string | undefined): Record<string, unknown> | undefined {
  // Only text opening with "{" can parse to an object: no parse (and throw) for the rest.
  if (!raw?.trimStart().startsWith('{')) return undefined;
  try {
    return JSON.parse(raw) as Record<string, unknown>;
  } catch {
    return undefined;
  }
}

/**
 * Reads job metadata. Metadata in another format (a dispatch made outside the API, free text)
 * contributes only the fields it happens to have in the right shape.
 */
export function readJobMetadata(raw: string | undefined): JobMetadata {
  const o = jsonObject(raw) ?? {};
  const agent = isPlainObject(o.agent) ? o.agent.name : o.agent;
  const out: JobMetadata = { metadata: isPlainObject(o.metadata) ? o.metadata : {} };
  if (typeof agent === 'string' && agent.trim()) out.agent = agent.trim();
  if (o.direction === 'inbound' || o.direction === 'outbound') out.direction = o.direction;
  if (typeof o.sipParticipantIdentity === 'string' && o.sipParticipantIdentity) {
    out.sipParticipantIdentity = o.sipParticipantIdentity;
  }
  if (positive(o.maxDurationS)) out.maxDurationS = o.maxDurationS;
  if (positive(o.ringingTimeoutS)) out.ringingTimeoutS = o.ringingTimeoutS;
  return out;
}

/**
 * Our dispatch metadata exactly (`{"agent": name, "metadata": {...}}` and nothing else), or
 * undefined when a dispatch was made in another format.
 */
export function readAgentDispatch(raw: string): AgentJobMetadata | undefined {
  const o = jsonObject(raw);
  if (!o || !Object.keys(o).every((k) => k === 'agent' || k === 'metadata')) return undefined;
  if (typeof o.agent !== 'string' || o.agent === '') return undefined;
  if (o.metadata !== undefined && !isPlainObject(o.metadata)) return undefined;
  return { agent: o.agent, metadata: o.metadata ?? {} };
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function positive(n: unknown): n is number {
  return typeof n === 'number' && Number.isFinite(n) && n > 0;
}
