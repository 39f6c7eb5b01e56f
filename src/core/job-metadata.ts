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
 * - `resume`: set only when the API re-dispatches the worker pool into a call whose agent died
 *   (src/api/agent-recovery.ts): the agent that was talking, the conversation so far and the
 *   attempt number. The worker then takes the call over instead of answering it (`ResumeState`).
 *
 * Dispatch rules and routed numbers carry exactly the first two keys (`AgentJobMetadata`);
 * outbound calls add the call request (`OutboundCallJob`); a recovery adds `resume` to whichever
 * the call was dispatched with. The API writes them; the worker reads any of them with
 * `readJobMetadata`, and the API recognises its own dispatches with `readAgentDispatch`.
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

/** One line of the conversation carried into a resumed call (the call summary's transcript line). */
export interface ResumeLine {
  /** Milliseconds since the call started. */
  t: number;
  role: 'caller' | 'agent';
  text: string;
  agent?: string;
}

/**
 * A call taken over after its agent died: the API's re-dispatch says who was talking and what
 * was said, from the last checkpoint the dead job sent (src/call/call-lease.ts).
 */
export interface ResumeState {
  /** 1 for the first take-over of this call, 2 for the next, ... (the API bounds it). */
  attempt: number;
  /** The agent that was talking (absent: the job died before it was routed). */
  agent?: string;
  /** When the call started (epoch ms), so durations and transcript times continue. */
  startedAt?: number;
  /** The last lines of the conversation, oldest first. */
  transcript: ResumeLine[];
}

/** Bounds of a `resume` the worker accepts (a checkpoint sends at most 20 lines of 500 characters). */
export const RESUME_LIMITS = { attempts: 10, lines: 50, lineChars: 2000 } as const;

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
  /** Set when this job takes over a call whose agent died; absent when malformed. */
  resume?: ResumeState;
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
  const resume = readResume(o.resume);
  if (resume) out.resume = resume;
  return out;
}

/**
 * A `resume` field, checked: a positive whole attempt number, an optional agent name, an optional
 * start time and a bounded transcript of caller/agent lines. Anything else is no resume (the job
 * then answers the call as new, which is better than not answering it).
 */
export function readResume(v: unknown): ResumeState | undefined {
  if (!isPlainObject(v)) return undefined;
  const { attempt, agent, startedAt, transcript } = v;
  if (typeof attempt !== 'number' || !Number.isInteger(attempt)) return undefined;
  if (attempt < 1 || attempt > RESUME_LIMITS.attempts) return undefined;
  if (transcript !== undefined && !Array.isArray(transcript)) return undefined;
  const lines: ResumeLine[] = [];
  for (const l of (transcript ?? []).slice(-RESUME_LIMITS.lines)) {
    if (!isPlainObject(l) || (l.role !== 'caller' && l.role !== 'agent')) return undefined;
    if (typeof l.text !== 'string') return undefined;
    const text = l.text.slice(0, RESUME_LIMITS.lineChars);
    const t = typeof l.t === 'number' && Number.isFinite(l.t) && l.t >= 0 ? Math.round(l.t) : 0;
    lines.push({
      t,
      role: l.role,
      text,
      ...(typeof l.agent === 'string' && l.agent ? { agent: l.agent } : {}),
    });
  }
  return {
    attempt,
    ...(typeof agent === 'string' && agent.trim() ? { agent: agent.trim() } : {}),
    ...(positive(startedAt) ? { startedAt } : {}),
    transcript: lines,
  };
}

/**
 * The job metadata of a take-over: the call's own dispatch metadata (ours or an outbound call's;
 * free text, which the worker reads nothing from, is dropped) with `resume` set. A previous
 * take-over's `resume` is replaced.
 */
export function withResume(raw: string | undefined, resume: ResumeState): string {
  return JSON.stringify({ ...(jsonObject(raw) ?? {}), resume });
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
