/**
 * CallMedia without a room: the simulator's (and tests') stand-in for the agent's own room
 * connection. The far end is driven through `join` / `update` / `leave` / `pressDigits` (a test
 * may feed them from the LiveKit stand-in's participant events); what the agent does to the room
 * (DTMF sent, hold audio, side sessions) is recorded for assertions.
 *
 * Tracks are not media here: every participant gets one synthetic audio track sid, so the
 * server-side subscription calls the transfer makes carry real-looking sids.
 */
import type { voice } from '@livekit/agents';
import type {
  CallMedia,
  HoldAudio,
  LocalTrack,
  Party,
  PartyEvent,
} from '../telephony/call-control.js';

export interface SimCallMediaOptions {
  /**
   * Starts a side session (warm-transfer consultation) linked to `identity`: give it audio
   * I/O (SimAudioInput/SimAudioOutput) or none (text mode), then `session.start({ agent })`.
   * Default: text mode.
   */
  startSideSession?: (
    session: voice.AgentSession,
    agent: voice.Agent,
    identity: string,
  ) => Promise<void>;
  /** Gap between DTMF keys the far end presses with `pressDigits` (ms). */
  keyGapMs?: number;
}

export interface SimHold {
  trackSid: string;
  audio: HoldAudio;
  startedAt: number;
  stoppedAt?: number;
}

export class SimCallMedia implements CallMedia {
  readonly sentDtmf: { digit: string; at: number }[] = [];
  readonly holds: SimHold[] = [];
  readonly sideSessions: { identity: string; trackSid: string; session: voice.AgentSession }[] = [];
  private readonly parties = new Map<string, Party>();
  private readonly listeners = new Set<(e: PartyEvent) => void>();
  private seq = 0;

  constructor(private readonly opts: SimCallMediaOptions = {}) {}

  // ── far end ──────────────────────────────────────────────────────────────────────────────
  join(identity: string, attributes: Record<string, string> = {}): Party {
    const party: Party = {
      identity,
      attributes: { ...attributes },
      audioTrackSids: [trackOf(identity)],
    };
    this.parties.set(identity, party);
    this.emit({ type: 'joined', party });
    return party;
  }

  update(identity: string, attributes: Record<string, string>): void {
    const prev = this.parties.get(identity);
    if (!prev) return;
    const party: Party = { ...prev, attributes: { ...prev.attributes, ...attributes } };
    this.parties.set(identity, party);
    this.emit({ type: 'updated', party });
  }

  leave(identity: string): void {
    if (!this.parties.delete(identity)) return;
    this.emit({ type: 'left', identity });
  }

  /** The far end presses keys, `keyGapMs` apart (default 150 ms). */
  async pressDigits(identity: string, digits: string): Promise<void> {
    for (const digit of digits) {
      this.emit({ type: 'dtmf', identity, digit });
      await new Promise((r) => setTimeout(r, this.opts.keyGapMs ?? 150));
    }
  }

  // ── CallMedia ────────────────────────────────────────────────────────────────────────────
  party(identity: string): Party | undefined {
    return this.parties.get(identity);
  }

  subscribe(fn: (e: PartyEvent) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  async sendDtmf(digit: string): Promise<void> {
    this.sentDtmf.push({ digit, at: Date.now() });
  }

  async startHold(audio: HoldAudio): Promise<LocalTrack> {
    const hold: SimHold = { trackSid: `TR_agent_hold_${++this.seq}`, audio, startedAt: Date.now() };
    this.holds.push(hold);
    return {
      trackSid: hold.trackSid,
      stop: async () => {
        hold.stoppedAt ??= Date.now();
      },
    };
  }

  async startSideSession(
    session: voice.AgentSession,
    agent: voice.Agent,
    identity: string,
  ): Promise<LocalTrack> {
    const trackSid = `TR_agent_side_${++this.seq}`;
    if (this.opts.startSideSession) await this.opts.startSideSession(session, agent, identity);
    else await session.start({ agent });
    this.sideSessions.push({ identity, trackSid, session });
    return { trackSid, stop: async () => session.close() };
  }

  voiceTrackSid(): string {
    return 'TR_agent_voice';
  }

  async waitLocalSubscribed(): Promise<boolean> {
    return true;
  }

  private emit(e: PartyEvent): void {
    for (const fn of [...this.listeners]) fn(e);
  }
}

/** The synthetic audio track sid of a simulated participant. */
export function trackOf(identity: string): string {
  return `TR_${identity}_audio`;
}
