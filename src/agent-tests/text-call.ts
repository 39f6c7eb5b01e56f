/**
 * A phone call in text mode, for conversation tests: a `CallTransport` whose session runs with
 * no audio in or out (agents-js text mode: the caller's turns are typed, the agent's replies are
 * text), so the product's own call job (src/call/call-job.ts: routing, the session factory, the
 * summary) runs exactly as for a real call. The far end is driven from outside: key presses go
 * through the call's media like a phone's DTMF, hanging up ends the job.
 *
 * The LiveKit server API behind transfers is a recorder: a cold transfer (SIP REFER) is
 * accepted and the caller then leaves the call, as the carrier would make them; dialing a human
 * for a warm transfer gets no answer (text mode has nobody to brief).
 */
import type { voice } from '@livekit/agents';
import type { Caller, CallSessionParts, CallTransport } from '../call/call-job.js';
import type { TelephonyDeps } from '../call/session.js';
import type { Config } from '../core/config.js';
import type { LiveKitClients } from '../core/livekit.js';
import { SimCallMedia } from '../sim/sim-call-media.js';

export interface TextCallOptions {
  callId: string;
  /** The job's metadata (direction, requested agent, the user's metadata). */
  jobMetadata: string;
  /** The phone participant's `sip.*` and custom attributes. */
  attributes: Record<string, string>;
  /** Called with the session before it starts, so nothing it says is missed. */
  onSession?: (session: voice.AgentSession) => void;
}

export const CALLER_IDENTITY = 'sip_caller';

export class TextCallTransport implements CallTransport {
  readonly callId: string;
  readonly jobMetadata: string;
  readonly media = new SimCallMedia({ keyGapMs: 20 });
  readonly closed: Promise<string>;
  /** Resolves with the session once it runs. */
  readonly started: Promise<voice.AgentSession>;
  /** Why the job hung up, once it did. */
  hungUp: string | undefined;
  readonly #o: TextCallOptions;
  #close!: (reason: string) => void;
  #leave!: (reason: string) => void;
  #started!: (session: voice.AgentSession) => void;
  readonly #left: Promise<string>;

  constructor(o: TextCallOptions) {
    this.#o = o;
    this.callId = o.callId;
    this.jobMetadata = o.jobMetadata;
    this.closed = new Promise((r) => {
      this.#close = r;
    });
    this.#left = new Promise((r) => {
      this.#leave = r;
    });
    this.started = new Promise((r) => {
      this.#started = r;
    });
  }

  async waitForCaller(): Promise<Caller> {
    const attributes = { ...this.#o.attributes };
    this.media.join(CALLER_IDENTITY, attributes);
    return {
      identity: CALLER_IDENTITY,
      attributes: () => attributes,
      onAttributesChanged: () => () => {},
      left: this.#left,
    };
  }

  async startSession(parts: CallSessionParts): Promise<void> {
    this.#o.onSession?.(parts.session);
    // No room, no audio input or output: agents-js runs the session on text alone.
    await parts.session.start({ agent: parts.agent });
    this.#started(parts.session);
  }

  async hangUp(reason: string): Promise<void> {
    this.hungUp ??= reason;
    this.#close(reason);
  }

  /** The caller presses keys (DTMF), as a phone would send them. */
  press(digits: string): Promise<void> {
    return this.media.pressDigits(CALLER_IDENTITY, digits);
  }

  /** The caller hangs up (or was transferred away). */
  leave(reason: string): void {
    this.media.leave(CALLER_IDENTITY);
    this.#leave(reason);
  }
}

/** The telephony deps of a text call: no silence timer, no voicemail check, a recording server. */
export function textTelephonyDeps(
  config: Pick<
    Config,
    'TRANSFER_RING_TIMEOUT_S' | 'WARM_TRANSFER_DECISION_TIMEOUT_S' | 'DTMF_INTER_DIGIT_TIMEOUT_S'
  >,
): TelephonyDeps {
  return {
    livekit: textLiveKit(),
    ringTimeoutS: config.TRANSFER_RING_TIMEOUT_S,
    decisionTimeoutMs: config.WARM_TRANSFER_DECISION_TIMEOUT_S * 1000,
    outboundTrunkId: 'ST_conversation_test',
    hold: { sampleRate: 8000, samples: new Int16Array(160) },
    interDigitTimeoutMs: config.DTMF_INTER_DIGIT_TIMEOUT_S * 1000,
    // Between typed turns the caller is "silent" for as long as the test takes: no timer.
    silenceTimeoutMs: 0,
    voicemail: { action: 'off', beepTimeoutMs: 0 },
  };
}

/** The server API the telephony features call: REFER accepted, a dialed human never answers. */
function textLiveKit(): Pick<LiveKitClients, 'sip' | 'rooms'> {
  const noAnswer = () =>
    Promise.reject(
      Object.assign(new Error('nobody answers in a conversation test'), { name: 'TimeoutError' }),
    );
  const sip = {
    transferSipParticipant: async () => undefined,
    createSipParticipant: noAnswer,
  };
  const rooms = {
    updateSubscriptions: async () => undefined,
    updateParticipant: async () => undefined,
    removeParticipant: async () => undefined,
  };
  return {
    sip: sip as unknown as LiveKitClients['sip'],
    rooms: rooms as unknown as LiveKitClients['rooms'],
  };
}
