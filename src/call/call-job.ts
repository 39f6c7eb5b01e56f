/**
 * One phone call, from the moment the job starts to the summary: the product's main job.
 *
 * Written against `CallTransport`, so the LiveKit room (room-transport.ts) and the offline
 * simulator (src/sim/call-simulator.ts) run this same code:
 *
 *   wait for the phone participant → CallContext from its SIP attributes → route →
 *   outbound: wait until the callee answers (`sip.callStatus` = `active`) → start the session
 *   (the agent greets) → run until someone hangs up, the agent ends the call (end_call, silence,
 *   the length limit with a goodbye, voicemail), a transfer takes the caller away, or the
 *   transport goes away → after a warm transfer, wait while caller and human talk → hang up →
 *   summary to the API.
 *
 * A refused call (blocked caller) gets its message said and is hung up. An outbound call that
 * is never answered ends without the agent ever speaking.
 *
 * While the call runs the job holds it at the API (call-lease.ts: a lease and checkpoints of the
 * conversation), so that if this process dies another worker takes it over: the API re-dispatches
 * with `resume` in the job metadata, and this same code then goes to the agent that was talking,
 * with the conversation so far, and says it got cut off instead of greeting
 * (docs/reliability.md). A job whose agent the API removed (its successor took the call) leaves
 * quietly: no hang-up, no summary.
 */
import { voice } from '@livekit/agents';
import type { AgentsConfig } from '../agents/agents-file.js';
import { route } from '../agents/routing.js';
import type { PhoneSessionData } from '../agents/session-data.js';
import { type ResumeState, readJobMetadata } from '../core/job-metadata.js';
import type { Logger } from '../core/logger.js';
import { buildCallContext, type CallContext } from '../telephony/call-context.js';
import type { CallControl, CallMedia } from '../telephony/call-control.js';
import type { NoiseSuppression } from '../telephony/noise/index.js';
import type { TransferMark } from '../telephony/tools.js';
import { superviseBridge } from '../telephony/transfer/bridge.js';
import type { CallEventSink } from '../telephony/voicemail/answering-machine.js';
import type { CallLease, CallLeases } from './call-lease.js';
import { type CallEnd, CallMetrics, type CallSummary } from './call-metrics.js';
import type { CallReporter } from './call-report.js';

/** The phone participant of a call, as the job sees it. */
export interface Caller {
  readonly identity: string;
  /** Current participant attributes (`sip.*` and custom ones). */
  attributes(): Readonly<Record<string, string>>;
  /** Calls `fn` with the full attribute set after each change; returns an unsubscribe. */
  onAttributesChanged(fn: (attributes: Readonly<Record<string, string>>) => void): () => void;
  /** Resolves when the participant left (hung up, transferred away, dropped). */
  readonly left: Promise<string>;
}

/** Where a call's audio and participants live: a LiveKit room, or a simulation. */
export interface CallTransport {
  /** The call id: the room name (the API's call model uses the same). */
  readonly callId: string;
  /** The job's metadata (outbound calls: the API's OutboundCallJob as JSON). */
  readonly jobMetadata: string;
  /** The room side of the call for transfers, DTMF and call ending (src/telephony). */
  readonly media: CallMedia;
  /** Connects and resolves with the phone participant; rejects when the call goes away first. */
  waitForCaller(opts: { identity?: string; signal: AbortSignal }): Promise<Caller>;
  /**
   * Starts `parts.session` with `parts.agent`, this transport's audio in/out linked to the
   * caller, and the call's noise suppression from `parts.noise` (if any) run by the source of
   * the caller's audio, before VAD and STT.
   */
  startSession(parts: CallSessionParts, caller: Caller): Promise<void>;
  /** Ends the call for everyone (room: deletes it, which hangs up the phone line). */
  hangUp(reason: string): Promise<void>;
  /** Resolves when the transport is gone (room disconnected, simulation over). */
  readonly closed: Promise<string>;
  /** This job's participant identity in the room (for the lease); known once connected. */
  readonly agentIdentity?: string;
  /** True once this job's agent was removed from the call (another agent took it over). */
  takenOver?(): boolean;
}

/** What a session factory (session.ts) gives the job for one call. */
export interface CallSessionParts {
  session: voice.AgentSession;
  /** The agent that takes the call (routing decided), or a bare announcer for a refusal. */
  agent: voice.Agent;
  /** The process's noise suppression; the transport takes this call's piece from it. */
  noise?: NoiseSuppression;
  /** The call's control (transfers, DTMF, ...); a refusal has none. */
  control?: CallControl;
  /** Called once the session runs (binds what needs a started session). */
  started(): void;
  /** Frees per-call resources (noise suppressor, ...); called after the session closed. */
  dispose(): Promise<void>;
}

export type CallSessionFactory = (args: {
  call: CallContext;
  /** Routed agent; undefined for a refusal (the agent only announces). */
  agentName: string | undefined;
  metrics: CallMetrics;
  /** The room name (= call id). */
  callId: string;
  /** The phone participant. */
  callerIdentity: string;
  media: CallMedia;
  /**
   * When the agent ends the call with a goodbye (ms after the session started); the job's own
   * limit a little later only backs it up. Undefined = no limit.
   */
  endAfterMs: number | undefined;
  /** Call events only the agent knows (transferred, voicemail) to the API. */
  report: CallEventSink;
  /** Set when this job takes over a call whose agent died: apologise, go on with the context. */
  resume?: ResumeState;
}) => Promise<CallSessionParts>;

export interface CallLimits {
  /**
   * MAX_CALL_DURATION_S in ms; a shorter `maxDurationS` in the job metadata wins. The agent
   * says goodbye and hangs up GOODBYE_MARGIN_MS before it (installCallEnding); at the limit
   * itself the job cuts the call only if that did not happen (a stuck session).
   */
  maxCallDurationMs: number;
  /** OUTBOUND_ANSWER_TIMEOUT_S in ms; `ringingTimeoutS` in the job metadata (+ margin) wins. */
  answerTimeoutMs: number;
  /** How long to wait for the phone participant to join at all. */
  callerJoinTimeoutMs: number;
}

export const defaultCallLimits = {
  maxCallDurationMs: 3600_000,
  answerTimeoutMs: 60_000,
  callerJoinTimeoutMs: 60_000,
} as const satisfies CallLimits;

export interface CallJobOptions {
  transport: CallTransport;
  agents: Pick<AgentsConfig, 'agents' | 'routes'>;
  createSession: CallSessionFactory;
  reporter: CallReporter;
  log: Logger;
  limits?: Partial<CallLimits>;
  /** PHONE_DEFAULT_REGION */
  defaultRegion?: string;
  /** Epoch-ms clock for metrics (the simulator passes its own). */
  now?: () => number;
  /** Called once the call's metrics exist (the simulator prints them live). */
  onMetrics?: (metrics: CallMetrics) => void;
  /** Holds the call at the API while it runs (API_URL); absent = no take-over if this job dies. */
  leases?: CallLeases;
}

/** Time the SIP side is given beyond the API's ringing timeout before the job gives up. */
const RINGING_MARGIN_MS = 5000;
/** The agent's goodbye at the length limit starts this long before the hard cut. */
const GOODBYE_MARGIN_MS = 15_000;

export async function runCallJob(opts: CallJobOptions): Promise<CallSummary> {
  const { transport, reporter } = opts;
  const limits: CallLimits = { ...defaultCallLimits, ...opts.limits };
  const callId = transport.callId;
  const log = opts.log.child({ callId });
  const jobMeta = readJobMetadata(transport.jobMetadata);
  const stop = new AbortController();

  // 1. The phone participant.
  let caller: Caller;
  try {
    caller = await withTimeout(
      transport.waitForCaller({ identity: jobMeta.sipParticipantIdentity, signal: stop.signal }),
      limits.callerJoinTimeoutMs,
      'no phone participant joined',
    );
  } catch (err) {
    stop.abort();
    const direction = jobMeta.direction ?? 'inbound';
    const metrics = new CallMetrics({ callId, direction, now: opts.now });
    opts.onMetrics?.(metrics);
    log.warn({ err: (err as Error).message }, 'call ended before the phone participant joined');
    await transport.hangUp('no phone participant').catch(() => undefined);
    return finish(metrics, {
      outcome: direction === 'outbound' ? 'no-answer' : 'error',
      endedBy: 'system',
      reason: (err as Error).message,
    });
  }

  // 2. Who is calling, and who answers.
  const call = buildCallContext({
    attributes: caller.attributes(),
    jobMetadata: transport.jobMetadata,
    roomName: callId,
    participantIdentity: caller.identity,
    ...(opts.defaultRegion ? { defaultRegion: opts.defaultRegion } : {}),
  });
  const resume = jobMeta.resume;
  const metrics = new CallMetrics({
    callId,
    direction: call.direction,
    now: opts.now,
    // A take-over continues the call: its start, and the conversation so far.
    ...(resume?.startedAt ? { startedAt: resume.startedAt } : {}),
    ...(resume ? { transcript: resume.transcript } : {}),
  });
  opts.onMetrics?.(metrics);
  // A take-over goes on with the agent that was talking (routes decide if it is unknown).
  const decision =
    resume?.agent && opts.agents.agents.has(resume.agent)
      ? { agent: resume.agent, route: 'resume' }
      : route(opts.agents, call, log);
  log.info(
    {
      direction: call.direction,
      callerNumber: call.callerNumber ?? call.callerRaw,
      dialedNumber: call.dialedNumber ?? call.dialedRaw,
      route: decision.route,
      ...('agent' in decision ? { agent: decision.agent } : { refused: true }),
      ...(resume ? { resumeAttempt: resume.attempt } : {}),
    },
    resume ? 'call taken over' : 'call routed',
  );

  // The call's length counts from its start, also across a take-over.
  const elapsedMs = resume?.startedAt ? Math.max(0, Date.now() - resume.startedAt) : 0;
  const maxDurationMs =
    Math.min(
      limits.maxCallDurationMs,
      jobMeta.maxDurationS ? jobMeta.maxDurationS * 1000 : Number.POSITIVE_INFINITY,
    ) - elapsedMs;
  const answered = watchAnswered(caller);
  answered.promise.then(
    (status) => {
      if (status !== 'active') return;
      metrics.noteAnswered();
      reporter.report(callId, 'call.answered', { direction: call.direction });
    },
    () => undefined,
  );

  // While the call runs, the API holds it for another worker should this one die.
  let lease: CallLease | undefined;
  if ('agent' in decision && opts.leases) {
    lease = opts.leases.open(callId, {
      agentIdentity: transport.agentIdentity ?? '',
      startedAt: metrics.startedAt,
      attempt: resume?.attempt ?? 0,
    });
    lease.checkpoint({ agent: decision.agent, transcript: metrics.transcript });
  }

  // 3. Outbound: nobody speaks before the callee picked up.
  if (call.direction === 'outbound') {
    const answerTimeoutMs = jobMeta.ringingTimeoutS
      ? jobMeta.ringingTimeoutS * 1000 + RINGING_MARGIN_MS
      : limits.answerTimeoutMs;
    const status = await Promise.race([
      answered.promise,
      caller.left.then(() => 'left' as const),
      transport.closed.then(() => 'closed' as const),
      delay(answerTimeoutMs, stop.signal).then(() => 'timeout' as const),
    ]);
    if (status !== 'active') {
      stop.abort();
      answered.stop();
      log.info({ status }, 'outbound call not answered');
      await lease?.release('ended');
      await transport.hangUp('not answered').catch(() => undefined);
      return finish(metrics, { outcome: 'no-answer', endedBy: 'system', reason: status });
    }
  }

  // 4. The conversation.
  const agentName = 'agent' in decision ? decision.agent : undefined;
  let parts: CallSessionParts | undefined;
  let end: CallEnd;
  let startedAt = Date.now();
  try {
    parts = await opts.createSession({
      call,
      agentName,
      metrics,
      callId,
      callerIdentity: caller.identity,
      media: transport.media,
      endAfterMs: Number.isFinite(maxDurationMs)
        ? Math.max(maxDurationMs - GOODBYE_MARGIN_MS, maxDurationMs / 2)
        : undefined,
      report: (type, data) => reporter.report(callId, type, data),
      ...(resume ? { resume } : {}),
    });
    const { session } = parts;
    metrics.attach(session);
    if (agentName) metrics.noteAgent(agentName);
    if (lease) checkpointOn(session, lease, metrics, agentName);
    const sessionClosed = new Promise<voice.CloseEvent>((resolve) =>
      session.once(voice.AgentSessionEventTypes.Close, resolve),
    );
    await transport.startSession(parts, caller);
    startedAt = Date.now();
    parts.started();

    if ('refuse' in decision) {
      await session.say(decision.refuse, { allowInterruptions: false }).waitForPlayout();
      end = { outcome: 'refused', endedBy: 'agent', reason: decision.route };
    } else {
      end = await Promise.race([
        caller.left.then(
          (reason): CallEnd => ({
            outcome: transferredTo(session) ? 'transferred' : 'completed',
            endedBy: transferredTo(session) ? 'agent' : 'caller',
            reason,
          }),
        ),
        sessionClosed.then((ev) => endOfSession(ev, session)),
        transport.closed.then(
          (reason): CallEnd => ({ outcome: 'completed', endedBy: 'system', reason }),
        ),
        // Backstop only: the agent's own goodbye (endAfterMs) normally ended the call already.
        delay(maxDurationMs, stop.signal).then(
          (): CallEnd => ({ outcome: 'max-duration', endedBy: 'system', reason: 'hard limit' }),
        ),
      ]);
    }
  } catch (err) {
    log.error({ err }, 'call failed');
    end = { outcome: 'error', endedBy: 'system', reason: (err as Error).message };
  } finally {
    stop.abort();
    answered.stop();
  }

  // 5. Close the session first: it commits what the agent was saying when the call ended.
  if (parts) {
    await parts.session
      .close()
      .catch((err: Error) => log.warn({ err: err.message }, 'session close failed'));
  }
  // Another agent took the call over (the API removed this one): the call goes on without us.
  if (transport.takenOver?.()) {
    lease?.abandon();
    log.warn('this agent was removed from the call: another agent took it over');
    await parts?.dispose().catch(() => undefined);
    return metrics.end({ outcome: 'completed', endedBy: 'system', reason: 'taken over' });
  }
  // 6. A warm transfer bridged caller and human in this room: deleting it now would hang up
  // both. Wait until one of them hangs up (or the call's limit), then hang up the other.
  const bridged = warmBridge(parts);
  // The call is ours no more (over, or with a human): nobody is to take it over now.
  await lease?.release(bridged ? 'handed-off' : 'ended');
  if (bridged && parts?.control) {
    log.info({ humanIdentity: bridged }, 'warm transfer bridged; waiting for a side to hang up');
    const left = await superviseBridge(parts.control, {
      humanIdentity: bridged,
      maxDurationMs: Math.max(0, maxDurationMs - (Date.now() - startedAt)),
    });
    log.info({ left }, 'transferred call ended');
  }
  const summary = metrics.end(end);
  await transport
    .hangUp(end.outcome)
    .catch((err: Error) => log.warn({ err: err.message }, 'hang-up failed'));
  await parts?.dispose().catch(() => undefined);
  return report(summary);

  function finish(m: CallMetrics, e: CallEnd): Promise<CallSummary> {
    return report(m.end(e));
  }

  async function report(summary: CallSummary): Promise<CallSummary> {
    const { transcript, ...rest } = summary;
    log.info({ ...rest, transcriptLines: transcript.length }, 'call summary');
    reporter.report(callId, 'call.summary', { ...summary });
    await reporter.flush(5000);
    return summary;
  }
}

/** Checkpoints the conversation after each of its items and each change of agent. */
function checkpointOn(
  session: voice.AgentSession,
  lease: CallLease,
  metrics: CallMetrics,
  firstAgent: string | undefined,
): void {
  const save = () => {
    const current = (session.userData as PhoneSessionData | undefined)?.currentAgent ?? firstAgent;
    lease.checkpoint({
      ...(current ? { agent: current } : {}),
      transcript: metrics.transcript,
    });
  };
  // Registered after the metrics' own listener: the transcript already has the item.
  session.on(voice.AgentSessionEventTypes.ConversationItemAdded, save);
  session.on(voice.AgentSessionEventTypes.AgentStateChanged, (ev) => {
    // After a handoff the new agent speaks: its name is in the session data by then.
    if (ev.newState === 'speaking') save();
  });
}

/**
 * Resolves with the first terminal `sip.callStatus`: `active` (answered) or `hangup`. Servers
 * without the attribute never report it: the caller joining counts as answered then.
 */
function watchAnswered(caller: Caller): { promise: Promise<'active' | 'hangup'>; stop(): void } {
  let off = () => {};
  const promise = new Promise<'active' | 'hangup'>((resolve) => {
    const check = (attrs: Readonly<Record<string, string>>) => {
      const status = attrs['sip.callStatus'];
      if (status === undefined || status === 'active') resolve('active');
      else if (status === 'hangup') resolve('hangup');
    };
    off = caller.onAttributesChanged(check);
    check(caller.attributes());
  });
  void promise.then(() => off());
  return { promise, stop: () => off() };
}

/** Set by the transfer tools (src/telephony/tools.ts) on the session's userData. */
function transferMark(session: voice.AgentSession): TransferMark {
  const data = session.userData as TransferMark | undefined;
  return data && typeof data === 'object' ? data : {};
}

function transferredTo(session: voice.AgentSession): string | undefined {
  const to = transferMark(session).transferredTo;
  return typeof to === 'string' ? to : undefined;
}

/** The human's identity when a warm transfer left caller and human talking in the room. */
function warmBridge(parts: CallSessionParts | undefined): string | undefined {
  const t = parts ? transferMark(parts.session).transfer : undefined;
  return t?.mode === 'warm' ? t.humanIdentity : undefined;
}

/** Close reasons of the session (framework's, and those src/telephony shuts it down with). */
function endOfSession(ev: voice.CloseEvent, session: voice.AgentSession): CallEnd {
  const reason = String(ev.reason);
  if (ev.error)
    return { outcome: 'error', endedBy: 'system', reason: `${ev.error.type}: ${reason}` };
  if (transferredTo(session)) return { outcome: 'transferred', endedBy: 'agent', reason };
  switch (reason) {
    case 'participant_disconnected':
      return { outcome: 'completed', endedBy: 'caller', reason };
    case 'job_shutdown':
      return { outcome: 'completed', endedBy: 'system', reason };
    case 'warm_transfer':
      return { outcome: 'transferred', endedBy: 'agent', reason };
    case 'max_duration':
      return { outcome: 'max-duration', endedBy: 'agent', reason };
    case 'voicemail':
      return { outcome: 'voicemail', endedBy: 'agent', reason };
    case 'silence_timeout':
      // The caller went quiet; the agent asked, then said goodbye.
      return { outcome: 'completed', endedBy: 'agent', reason };
    default:
      // `user_initiated` (end_call) or another tool's own reason: the agent ended it.
      return { outcome: 'completed', endedBy: 'agent', reason };
  }
}

function delay(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (!Number.isFinite(ms)) return; // no limit: never resolves
    const timer = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => clearTimeout(timer), { once: true });
  });
}

async function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what} within ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
