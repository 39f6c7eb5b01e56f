/**
 * A call whose agent died is taken over by another worker (docs/reliability.md).
 *
 * LiveKit's open-source server never re-dispatches a job whose agent left (MigrateJob is "not
 * implemented on OSS"; the dispatch's restart policy is stored, never acted on), and it notices a
 * crashed agent late: a `kill -9` of the job process or of the whole worker leaves the agent
 * participant in the room until its ICE connection times out, ~21 s later (`participant_left`,
 * reason CONNECTION_TIMEOUT); a worker killed alone orphans its job processes, which leave
 * ~13 s later (CLIENT_INITIATED). The room and the phone participant stay: the caller hears
 * dead air. So the API does it, from two signals:
 *
 * - the **lease** (fast): each call's job process holds `GET /v1/calls/:id/lease` open while the
 *   call runs. A process that dies closes its socket (the kernel does it, whatever killed the
 *   process), and the API learns within milliseconds; a job that ends on purpose first reports
 *   its last checkpoint as `ended` or `handed-off`.
 * - **LiveKit webhooks** (backstop: node loss, a lease that could not be held): an AGENT
 *   participant left a call room.
 *
 * Either way the same rule decides (`recoveryDecision`, pure): the call is taken over when the
 * room still has its phone participant, no other agent is there, no transfer was reported and
 * the departed agent had not released the call. Then, at most `maxAttempts` times per call (a
 * crashing agent must not loop; after that the call is ended rather than left silent), the API
 * removes the departed agent's participant (a crashed one lingers ~21 s; a live one that lost
 * its lease must not talk over its successor) and dispatches the worker pool into the room with
 * the call's original job metadata plus `resume` (the agent, the conversation so far from the
 * last checkpoint, the attempt): src/core/job-metadata.ts. Each departure is handled once
 * (lease, webhook and LiveKit's redeliveries share one marker), and `call.resumed` is published.
 *
 * Checkpoints and markers live in the API's store: in Redis (REDIS_URL) every replica sees them,
 * which recovery across API replicas needs.
 */
import type { ParticipantInfo, WebhookEvent } from 'livekit-server-sdk';
import type { ResumeLine, ResumeState } from '../core/job-metadata.js';
import { withResume } from '../core/job-metadata.js';
import type { LiveKitClients } from '../core/livekit.js';
import type { Logger } from '../core/logger.js';
import type { CallEvents } from './call-events.js';
import { disconnectReasonName, isDisconnected, isSipParticipant } from './calls-model.js';
import type { IdempotencyStore } from './idempotency.js';

/** `ParticipantInfo_Kind.AGENT` (the SDK does not export the enum). */
const KIND_AGENT = 4;

/** What a call's job last reported of its conversation (PUT /v1/calls/:id/checkpoint). */
export interface CallCheckpoint {
  /** The job's participant identity in the room (`agent-AJ_…`). */
  agentIdentity: string;
  /** The agent talking now. */
  agent?: string;
  /** When the call started (epoch ms). */
  startedAt?: number;
  /** The last lines of the conversation, oldest first. */
  transcript: ResumeLine[];
  /** `ended` / `handed-off`: the job let the call go on purpose (no take-over). */
  state: 'live' | 'ended' | 'handed-off';
  /** 0 for the call's first agent, n for the agent of the n-th take-over. */
  attempt?: number;
}

export type RecoveryDecision = { recover: true } | { recover: false; why: string };

/** How the API learned of the departure. */
export type DetectedBy = 'lease' | 'webhook';

/**
 * Whether a departed agent's call is taken over. `participants` is the room's participant list
 * now (undefined: the room is gone); the departed agent may still be listed (a crashed agent
 * lingers until LiveKit times it out).
 */
export function recoveryDecision(input: {
  departed: string;
  participants: readonly ParticipantInfo[] | undefined;
  transferred: boolean;
  checkpoint: CallCheckpoint | undefined;
}): RecoveryDecision {
  const { departed, participants, checkpoint } = input;
  if (!participants) return { recover: false, why: 'the room is gone' };
  const live = participants.filter((p) => !isDisconnected(p));
  if (!live.some(isSipParticipant)) return { recover: false, why: 'no phone participant' };
  if (input.transferred) return { recover: false, why: 'the call was transferred' };
  if (checkpoint?.agentIdentity === departed && checkpoint.state !== 'live') {
    return { recover: false, why: `the agent released the call (${checkpoint.state})` };
  }
  if (live.some((p) => isAgent(p) && p.identity !== departed)) {
    return { recover: false, why: 'another agent is in the call' };
  }
  return { recover: true };
}

export function isAgent(p: ParticipantInfo): boolean {
  return Number(p.kind) === KIND_AGENT;
}

/** Disconnect reasons that end the call for everyone: nothing to take over. */
const CALL_OVER = new Set(['ROOM_DELETED', 'ROOM_CLOSED']);

export interface RecoveryResult {
  outcome: 'resumed' | 'declined' | 'duplicate' | 'exhausted' | 'failed';
  why?: string;
  attempt?: number;
}

export interface AgentRecovery {
  /** A LiveKit webhook: an agent that left a call room (other webhooks are ignored). */
  onWebhook(ev: WebhookEvent): Promise<RecoveryResult | undefined>;
  /** A job's lease closed without the job releasing the call. */
  onLeaseLost(callId: string, agentIdentity: string): Promise<RecoveryResult>;
  /** Stores a job's checkpoint; false when the job was already replaced (it must stop). */
  saveCheckpoint(callId: string, cp: CallCheckpoint): Promise<boolean>;
  checkpoint(callId: string): Promise<CallCheckpoint | undefined>;
  /** Marks a lease (re)opened by a job (a lease lost before a newer one opened is no death). */
  leaseOpened(callId: string, agentIdentity: string): Promise<number>;
  /** When the newest lease of this job was opened (epoch ms), if any. */
  leaseOpenedAt(callId: string, agentIdentity: string): Promise<number | undefined>;
}

export interface AgentRecoveryOptions {
  livekit: Pick<LiveKitClients, 'rooms' | 'dispatch'>;
  store: Pick<IdempotencyStore, 'once' | 'has' | 'getValue' | 'setValue' | 'increment'>;
  events: Pick<CallEvents, 'publish' | 'published'>;
  log: Logger;
  /** AGENT_NAME: the worker pool dispatched into the room. */
  agentName: string;
  /** AGENT_RECOVERY_ATTEMPTS: take-overs per call (0 = off). */
  maxAttempts: number;
  /** How long checkpoints and markers live (the longest call and then some). */
  ttlMs: number;
}

export function createAgentRecovery(o: AgentRecoveryOptions): AgentRecovery {
  const log = o.log.child({ component: 'agent-recovery' });
  const keys = {
    checkpoint: (callId: string) => `checkpoint:${callId}`,
    lease: (callId: string, identity: string) => `lease:${callId}:${identity}`,
    // Shared by the lease and the webhook of one departure (and LiveKit's redeliveries).
    departure: (callId: string, identity: string) => `recover:${callId}:${identity}`,
    attempts: (callId: string) => `recover-attempts:${callId}`,
  };

  async function participantsOf(callId: string): Promise<ParticipantInfo[] | undefined> {
    try {
      return await o.livekit.rooms.listParticipants(callId);
    } catch (err) {
      // twirp not_found: the room is gone.
      const e = err as { code?: string; status?: number };
      if (e.code === 'not_found' || e.status === 404) return undefined;
      throw err;
    }
  }

  async function readCheckpoint(callId: string): Promise<CallCheckpoint | undefined> {
    const raw = await o.store.getValue(keys.checkpoint(callId));
    if (!raw) return undefined;
    try {
      return JSON.parse(raw) as CallCheckpoint;
    } catch {
      return undefined;
    }
  }

  /** The job metadata the departed agent was dispatched with (its dispatch, else the pool's). */
  async function dispatchMetadata(callId: string, departed: string): Promise<string | undefined> {
    const dispatches = (await o.livekit.dispatch.listDispatch(callId)).filter(
      (d) => d.agentName === o.agentName,
    );
    const own = dispatches.find((d) =>
      d.state?.jobs?.some((j) => j.state?.participantIdentity === departed),
    );
    return (own ?? dispatches[0])?.metadata;
  }

  async function recover(
    callId: string,
    departed: string,
    detectedBy: DetectedBy,
    reason: string,
  ): Promise<RecoveryResult> {
    const started = Date.now();
    const at = { callId, departed, detectedBy, reason };
    if (o.maxAttempts <= 0) return { outcome: 'declined', why: 'recovery is off' };
    if (!(await o.store.once(keys.departure(callId, departed), o.ttlMs))) {
      return { outcome: 'duplicate' };
    }
    try {
      const [participants, transferred, checkpoint] = await Promise.all([
        participantsOf(callId),
        o.events.published('call.transferred', callId),
        readCheckpoint(callId),
      ]);
      const decision = recoveryDecision({ departed, participants, transferred, checkpoint });
      if (!decision.recover) {
        log.info({ ...at, why: decision.why }, 'agent left a call: no take-over');
        return { outcome: 'declined', why: decision.why };
      }
      const attempt = await o.store.increment(keys.attempts(callId), o.ttlMs);
      if (attempt > o.maxAttempts) {
        // Agents keep dying in this call: end it rather than leave the caller in silence.
        log.error(
          { ...at, attempts: attempt - 1 },
          'agent died again: take-overs exhausted; ending the call',
        );
        await o.livekit.rooms.deleteRoom(callId).catch(() => undefined);
        return { outcome: 'exhausted', attempt };
      }
      // The checkpoint of the departed agent (a newer agent's is never the departed one's).
      const cp = checkpoint?.agentIdentity === departed ? checkpoint : undefined;
      const resume: ResumeState = {
        attempt,
        ...(cp?.agent ? { agent: cp.agent } : {}),
        ...(cp?.startedAt ? { startedAt: cp.startedAt } : {}),
        transcript: cp?.transcript ?? [],
      };
      const metadata = withResume(await dispatchMetadata(callId, departed), resume);
      // A crashed agent lingers until LiveKit times it out; a live one that lost its lease
      // must not talk over its successor (its job leaves the call quietly when removed).
      if (participants?.some((p) => p.identity === departed && !isDisconnected(p))) {
        await o.livekit.rooms.removeParticipant(callId, departed).catch(() => undefined);
      }
      await o.livekit.dispatch.createDispatch(callId, o.agentName, { metadata });
      log.warn(
        {
          ...at,
          attempt,
          agent: resume.agent,
          transcriptLines: resume.transcript.length,
          ms: Date.now() - started,
        },
        'agent died in a call: dispatched another to take it over',
      );
      void o.events.publish(
        'call.resumed',
        callId,
        {
          attempt,
          ...(resume.agent ? { agent: resume.agent } : {}),
          departedIdentity: departed,
          detectedBy,
          reason,
        },
        attempt,
      );
      return { outcome: 'resumed', attempt };
    } catch (err) {
      log.error({ ...at, err: (err as Error).message }, 'taking over a call failed');
      return { outcome: 'failed', why: (err as Error).message };
    }
  }

  return {
    async onWebhook(ev) {
      if (ev.event !== 'participant_left' && ev.event !== 'participant_connection_aborted') {
        return undefined;
      }
      const p = ev.participant;
      const callId = ev.room?.name;
      if (!p || !callId || !isAgent(p)) return undefined;
      const reason = disconnectReasonName(p.disconnectReason);
      if (CALL_OVER.has(reason)) return undefined;
      return recover(callId, p.identity, 'webhook', reason);
    },
    onLeaseLost: (callId, identity) => recover(callId, identity, 'lease', 'lease lost'),
    async saveCheckpoint(callId, cp) {
      // A job already declared dead (and replaced) must not overwrite its successor's state.
      if (await o.store.has(keys.departure(callId, cp.agentIdentity))) return false;
      await o.store.setValue(keys.checkpoint(callId), JSON.stringify(cp), o.ttlMs);
      return true;
    },
    checkpoint: readCheckpoint,
    async leaseOpened(callId, identity) {
      const now = Date.now();
      await o.store.setValue(keys.lease(callId, identity), String(now), o.ttlMs);
      return now;
    },
    async leaseOpenedAt(callId, identity) {
      const v = await o.store.getValue(keys.lease(callId, identity));
      return v ? Number(v) : undefined;
    },
  };
}
