/**
 * The simulated line: a `CallTransport` for the call job (src/call/call-job.ts), the same
 * interface as the LiveKit room. The caller is a participant of the simulated room
 * (`SimCallMedia`: presence, key presses); the caller's audio comes from `SimAudioInput` and
 * the agent's goes to `SimAudioOutput`, both on the simulation's clock.
 */
import type { voice } from '@livekit/agents';
import { isFrameProcessor } from '@livekit/rtc-node';
import type { PhoneSessionData } from '../agents/session-data.js';
import type { Caller, CallSessionParts, CallTransport } from '../call/call-job.js';
import type { SimAudioInput } from './audio-input.js';
import type { SimAudioOutput } from './audio-output.js';
import type { SimClock } from './clock.js';
import { seedOf } from './noise.js';
import type { Scenario } from './scenario.js';
import { SimCallMedia } from './sim-call-media.js';

/** The simulated line: the same interface as the LiveKit room for the call job. */
export class SimTransport implements CallTransport {
  readonly callId: string;
  /** The job's metadata (the API↔worker contract); '' unless the simulation sets one. */
  jobMetadata = '';
  /** The room side: the caller is a participant here too (presence, key presses). */
  readonly media = new SimCallMedia({ keyGapMs: 200 });
  readonly closed: Promise<string>;
  #close!: (reason: string) => void;
  readonly caller: SimCaller;

  constructor(
    scenario: Scenario,
    private readonly clock: SimClock,
    private readonly input: SimAudioInput,
    private readonly output: SimAudioOutput,
    /** Called with the session before it starts (the caller's script watches the agent). */
    private readonly onSession: (session: voice.AgentSession<PhoneSessionData>) => void,
    private readonly onStart?: (clock: SimClock) => void,
  ) {
    this.callId = `sim-${seedOf(scenario.name).toString(16)}`;
    this.closed = new Promise((r) => {
      this.#close = r;
    });
    this.caller = new SimCaller({
      'sip.callID': 'SCL_sim',
      'sip.trunkID': 'ST_sim',
      'sip.ruleID': 'SDR_sim',
      'sip.callStatus': 'ringing',
      ...(scenario.call.from ? { 'sip.phoneNumber': scenario.call.from } : {}),
      ...(scenario.call.to ? { 'sip.trunkPhoneNumber': scenario.call.to } : {}),
      ...scenario.call.attributes,
    });
    this.caller.onLeave = () => this.media.leave(this.caller.identity);
  }

  async waitForCaller(): Promise<Caller> {
    this.media.join(this.caller.identity, { ...this.caller.attributes() });
    return this.caller;
  }

  async startSession(parts: CallSessionParts, _caller: Caller): Promise<void> {
    const session = parts.session as voice.AgentSession<PhoneSessionData>;
    this.onSession(session);
    // As a room's AudioStream does: the call's processor runs inside the audio source.
    // (LiveKit Cloud's filter exists only on Cloud room tracks: nothing to run here.)
    const piece = parts.noise?.forRoom();
    this.input.useProcessor(isFrameProcessor(piece) ? piece : undefined);
    session.input.audio = this.input;
    session.output.audio = this.output;
    await session.start({ agent: parts.agent });
    this.clock.start();
    this.onStart?.(this.clock);
    // LiveKit answers an inbound call once the agent's audio track is up.
    this.caller.set({ 'sip.callStatus': 'active' });
  }

  async hangUp(): Promise<void> {
    this.caller.leave('agent hung up');
    this.#close('hung up');
  }

  finish(): void {
    this.#close('simulation over');
  }
}

export class SimCaller implements Caller {
  readonly identity = 'sip_caller';
  readonly left: Promise<string>;
  #leave!: (reason: string) => void;
  #attrs: Record<string, string>;
  readonly #listeners = new Set<(a: Readonly<Record<string, string>>) => void>();

  constructor(attrs: Record<string, string>) {
    this.#attrs = { ...attrs };
    this.left = new Promise((r) => {
      this.#leave = r;
    });
  }

  attributes(): Readonly<Record<string, string>> {
    return this.#attrs;
  }

  onAttributesChanged(fn: (a: Readonly<Record<string, string>>) => void): () => void {
    this.#listeners.add(fn);
    return () => this.#listeners.delete(fn);
  }

  /** Told when the caller leaves (the transport's media sees the participant go). */
  onLeave: (() => void) | undefined;

  set(changes: Record<string, string>): void {
    this.#attrs = { ...this.#attrs, ...changes };
    for (const fn of this.#listeners) fn(this.#attrs);
  }

  leave(reason: string): void {
    if (this.#gone) return;
    this.#gone = true;
    this.#leave(reason);
    this.onLeave?.();
  }

  #gone = false;
}
