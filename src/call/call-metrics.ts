/**
 * Per-call metrics and the call summary, read from the AgentSession's events, so a real call
 * and a simulated one are measured by the same code.
 *
 * - Turn latency: the user stopped speaking (the end-of-utterance metric's `lastSpeakingTimeMs`,
 *   i.e. VAD speech end corrected for VAD delay) → the agent's next audio started playing
 *   (agent state `speaking`, set on the first played frame).
 * - Interruptions: assistant messages that were cut off (`interrupted`), i.e. the caller took
 *   the floor.
 * - Backchannels ignored: reported by the interruption policy through `noteBackchannelIgnored`
 *   (it is the only component that knows a sound was judged a backchannel).
 * - Handoffs: agent-handoff items in the conversation.
 * - Tool servers unavailable: MCP servers the agents could not reach (they went on without
 *   those tools), reported by the session through `noteToolServerUnavailable`.
 */
import { type metrics as lkMetrics, type llm, type voice, voice as voiceNs } from '@livekit/agents';
import type { CallDirection } from '../telephony/call-context.js';

const Ev = voiceNs.AgentSessionEventTypes;

/** How the call ended, as reported to the API. */
export type CallOutcome =
  | 'completed' // the conversation ran and one side hung up
  | 'no-answer' // outbound: the callee never picked up
  | 'refused' // routing refused the call (blocked caller)
  | 'max-duration' // ended at MAX_CALL_DURATION_S (the agent says so first)
  | 'transferred' // handed to a human or another number (SIP REFER, warm transfer)
  | 'voicemail' // outbound: a machine answered (message left or hung up)
  | 'error';

/** Who ended the call. */
export type EndedBy = 'caller' | 'agent' | 'system';

export interface CallEnd {
  outcome: CallOutcome;
  endedBy: EndedBy;
  /** Free text for logs: the session's close reason, the error, ... */
  reason?: string;
}

export type TimelineEvent =
  | { t: number; type: 'call-start'; direction: CallDirection; agent?: string }
  | { t: number; type: 'answered' }
  | { t: number; type: 'user-speech-start' }
  | { t: number; type: 'user-speech-end' }
  | { t: number; type: 'agent-speech-start'; agent?: string; latencyMs?: number }
  | { t: number; type: 'agent-speech-end' }
  | { t: number; type: 'user-transcript'; text: string }
  | { t: number; type: 'agent-message'; agent?: string; text: string; interrupted: boolean }
  | { t: number; type: 'interruption'; agent?: string; heard: string }
  | { t: number; type: 'backchannel-ignored'; text: string }
  | { t: number; type: 'false-interruption'; resumed: boolean }
  | { t: number; type: 'handoff'; from?: string; to: string }
  | { t: number; type: 'tool-server-unavailable'; server: string; reason: string }
  | ({ t: number; type: 'call-end' } & CallEnd);

export interface TranscriptLine {
  /** Milliseconds since the call started. */
  t: number;
  role: 'caller' | 'agent';
  text: string;
  agent?: string;
  interrupted?: boolean;
}

export interface LatencyStats {
  count: number;
  p50: number | null;
  p95: number | null;
  max: number | null;
  valuesMs: number[];
}

export interface CallSummary {
  callId: string;
  direction: CallDirection;
  startedAt: string;
  endedAt: string;
  durationMs: number;
  outcome: CallOutcome;
  endedBy: EndedBy;
  reason?: string;
  agents: string[];
  /** MCP servers that could not be reached: the agents went on without their tools. */
  toolServersUnavailable?: { t: number; server: string; reason: string }[];
  transcript: TranscriptLine[];
  metrics: {
    turnLatency: LatencyStats;
    interruptions: number;
    backchannelsIgnored: number;
    falseInterruptions: number;
    handoffs: { t: number; from?: string; to: string }[];
    userTurns: number;
    agentTurns: number;
  };
}

export interface CallMetricsOptions {
  callId: string;
  direction: CallDirection;
  /** Epoch ms clock; tests and the simulator share theirs. Default Date.now. */
  now?: () => number;
  /** When the call started (epoch ms), if before now: a take-over continues the call's record. */
  startedAt?: number;
  /** The conversation so far (a take-over's), kept at the start of the transcript. */
  transcript?: readonly TranscriptLine[];
}

export class CallMetrics {
  readonly callId: string;
  readonly direction: CallDirection;
  readonly timeline: TimelineEvent[] = [];
  readonly transcript: TranscriptLine[] = [];
  /** Sees every timeline event as it is recorded (the simulator prints them live). */
  onEvent: ((e: TimelineEvent) => void) | undefined;
  readonly #now: () => number;
  readonly #startedAt: number;
  readonly #latencies: number[] = [];
  #agent: string | undefined;
  readonly #agents: string[] = [];
  /** Epoch ms at which the user's last committed turn ended, until the agent answers it. */
  #pendingTurnEnd: number | undefined;
  #agentSpeaking = false;
  #ended: CallSummary | undefined;
  #detach: (() => void) | undefined;

  constructor(opts: CallMetricsOptions) {
    this.callId = opts.callId;
    this.direction = opts.direction;
    this.#now = opts.now ?? Date.now;
    this.#startedAt = Math.min(opts.startedAt ?? Number.POSITIVE_INFINITY, this.#now());
    this.transcript.push(...(opts.transcript ?? []).map((l) => ({ ...l })));
    this.#push({ type: 'call-start', direction: opts.direction });
  }

  /** Milliseconds since the call started. */
  elapsed(at = this.#now()): number {
    return Math.max(0, Math.round(at - this.#startedAt));
  }

  get startedAt(): number {
    return this.#startedAt;
  }

  noteAgent(agentId: string): void {
    this.#agent = agentId;
    if (!this.#agents.includes(agentId)) this.#agents.push(agentId);
    const start = this.timeline[0];
    if (start?.type === 'call-start' && !start.agent) start.agent = agentId;
  }

  noteAnswered(): void {
    this.#push({ type: 'answered' });
  }

  /** Called by the interruption policy when it judged caller sound a backchannel and kept talking. */
  noteBackchannelIgnored(text: string, at = this.#now()): void {
    this.#push({ type: 'backchannel-ignored', text }, at);
  }

  /** An MCP tool server could not be reached (the session reports each once per call). */
  noteToolServerUnavailable(server: string, reason: string, at = this.#now()): void {
    this.#push({ type: 'tool-server-unavailable', server, reason }, at);
  }

  /** Subscribes to a session's events; returns (and remembers) the unsubscribe function. */
  attach(session: voice.AgentSession): () => void {
    const onUser = (ev: voice.UserStateChangedEvent) => {
      if (ev.newState === 'speaking') this.#push({ type: 'user-speech-start' }, ev.createdAt);
      else if (ev.oldState === 'speaking') this.#push({ type: 'user-speech-end' }, ev.createdAt);
    };
    const onAgent = (ev: voice.AgentStateChangedEvent) => this.#onAgentState(ev);
    const onMetrics = (ev: voice.MetricsCollectedEvent) => this.#onMetrics(ev.metrics);
    const onItem = (ev: voice.ConversationItemAddedEvent) => this.#onItem(ev.item);
    const onFalse = (ev: voice.AgentFalseInterruptionEvent) =>
      this.#push({ type: 'false-interruption', resumed: ev.resumed }, ev.createdAt);
    session.on(Ev.UserStateChanged, onUser);
    session.on(Ev.AgentStateChanged, onAgent);
    session.on(Ev.MetricsCollected, onMetrics);
    session.on(Ev.ConversationItemAdded, onItem);
    session.on(Ev.AgentFalseInterruption, onFalse);
    this.#detach = () => {
      session.off(Ev.UserStateChanged, onUser);
      session.off(Ev.AgentStateChanged, onAgent);
      session.off(Ev.MetricsCollected, onMetrics);
      session.off(Ev.ConversationItemAdded, onItem);
      session.off(Ev.AgentFalseInterruption, onFalse);
    };
    return this.#detach;
  }

  /** Closes the record (idempotent: the first outcome wins) and returns the summary. */
  end(end: CallEnd): CallSummary {
    if (this.#ended) return this.#ended;
    this.#detach?.();
    if (this.#agentSpeaking) this.#push({ type: 'agent-speech-end' });
    const endedAt = this.#now();
    const { outcome, endedBy, reason } = end;
    this.#push({ type: 'call-end', outcome, endedBy, ...(reason ? { reason } : {}) }, endedAt);
    // Events stamped by their source (VAD, playout) may arrive after later ones.
    this.timeline.sort((a, b) => a.t - b.t);
    const count = (type: TimelineEvent['type']) =>
      this.timeline.filter((e) => e.type === type).length;
    const unavailable = this.timeline
      .filter(
        (e): e is Extract<TimelineEvent, { type: 'tool-server-unavailable' }> =>
          e.type === 'tool-server-unavailable',
      )
      .map(({ t, server, reason }) => ({ t, server, reason }));
    this.#ended = {
      callId: this.callId,
      direction: this.direction,
      startedAt: new Date(this.#startedAt).toISOString(),
      endedAt: new Date(endedAt).toISOString(),
      durationMs: Math.round(endedAt - this.#startedAt),
      outcome,
      endedBy,
      ...(reason ? { reason } : {}),
      agents: [...this.#agents],
      ...(unavailable.length ? { toolServersUnavailable: unavailable } : {}),
      transcript: [...this.transcript],
      metrics: {
        turnLatency: latencyStats(this.#latencies),
        interruptions: count('interruption'),
        backchannelsIgnored: count('backchannel-ignored'),
        falseInterruptions: count('false-interruption'),
        handoffs: this.timeline
          .filter((e): e is Extract<TimelineEvent, { type: 'handoff' }> => e.type === 'handoff')
          .map(({ t, from, to }) => ({ t, ...(from ? { from } : {}), to })),
        userTurns: this.transcript.filter((l) => l.role === 'caller').length,
        agentTurns: this.transcript.filter((l) => l.role === 'agent').length,
      },
    };
    return this.#ended;
  }

  #onAgentState(ev: voice.AgentStateChangedEvent): void {
    if (ev.newState === 'speaking') {
      this.#agentSpeaking = true;
      let latencyMs: number | undefined;
      if (this.#pendingTurnEnd !== undefined) {
        latencyMs = Math.max(0, Math.round(ev.createdAt - this.#pendingTurnEnd));
        this.#latencies.push(latencyMs);
        this.#pendingTurnEnd = undefined;
      }
      this.#push(
        {
          type: 'agent-speech-start',
          ...(this.#agent ? { agent: this.#agent } : {}),
          ...(latencyMs !== undefined ? { latencyMs } : {}),
        },
        ev.createdAt,
      );
    } else if (ev.oldState === 'speaking') {
      this.#agentSpeaking = false;
      this.#push({ type: 'agent-speech-end' }, ev.createdAt);
    }
  }

  #onMetrics(m: lkMetrics.AgentMetrics): void {
    // One end-of-utterance metric per committed user turn: the turn the agent answers next.
    if (m.type === 'eou_metrics' && m.lastSpeakingTimeMs > 0) {
      this.#pendingTurnEnd = m.lastSpeakingTimeMs;
    }
  }

  #onItem(item: llm.ChatMessage | llm.AgentHandoffItem): void {
    if (item.type === 'agent_handoff') {
      // The session records its first agent as a handoff from nobody: not a handoff.
      if (!item.oldAgentId) {
        this.noteAgent(item.newAgentId);
        return;
      }
      this.#push({
        type: 'handoff',
        from: item.oldAgentId,
        to: item.newAgentId,
      });
      this.noteAgent(item.newAgentId);
      return;
    }
    const text = item.textContent?.trim() ?? '';
    if (item.role === 'user' && text) {
      this.transcript.push({ t: this.elapsed(item.createdAt), role: 'caller', text });
      this.#push({ type: 'user-transcript', text }, item.createdAt);
    } else if (item.role === 'assistant' && text) {
      const agent = this.#agent;
      this.transcript.push({
        t: this.elapsed(item.createdAt),
        role: 'agent',
        text,
        ...(agent ? { agent } : {}),
        ...(item.interrupted ? { interrupted: true } : {}),
      });
      this.#push({
        type: 'agent-message',
        ...(agent ? { agent } : {}),
        text,
        interrupted: item.interrupted,
      });
      if (item.interrupted) {
        this.#push({ type: 'interruption', ...(agent ? { agent } : {}), heard: text });
      }
    }
  }

  #push(ev: DistributiveOmit<TimelineEvent, 't'>, at = this.#now()): void {
    const e = { ...ev, t: this.elapsed(at) } as TimelineEvent;
    this.timeline.push(e);
    this.onEvent?.(e);
  }
}

type DistributiveOmit<T, K extends keyof T> = T extends unknown ? Omit<T, K> : never;

export function latencyStats(values: readonly number[]): LatencyStats {
  const sorted = [...values].sort((a, b) => a - b);
  const pick = (q: number) =>
    sorted.length
      ? (sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] ?? null)
      : null;
  return {
    count: sorted.length,
    p50: pick(0.5),
    p95: pick(0.95),
    max: sorted.length ? (sorted[sorted.length - 1] ?? null) : null,
    valuesMs: [...values],
  };
}
