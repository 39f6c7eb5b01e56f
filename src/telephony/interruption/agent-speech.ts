/**
 * What the agent is doing, as the filter needs it: whether a speech of the agent is under way
 * (from `speech_created` until its handle is done or interrupted — not `agentState`, which
 * reads 'listening' while output is paused), whether it was when the caller's voice started
 * (VAD, `user_state_changed`), and the words it is saying or just said, for echo.
 *
 * The words are tapped from the session's transcription output (a `voice.TextOutput` placed
 * in front of the existing one): the framework sends every agent text there, say() and
 * generated replies alike, whatever the agent class.
 */
import { voice } from '@livekit/agents';
import { normalize } from './classifier.js';

const MAX_AGENT_TOKENS = 300;
/** A VAD onset older than this (and speech over) is not the onset of a new transcript. */
const ONSET_MAX_AGE_MS = 3000;
/** Typical delay of a streaming STT's first interim after the voice starts. */
const TRANSCRIPT_DELAY_MS = 300;

type TextOutput = NonNullable<voice.AgentSession['output']['transcription']>;

/**
 * Sees the agent's text on its way to the transcription output, then forwards it. agents-js
 * does not export the `TextOutput` base class; its contract is these four methods.
 */
class TextTap {
  constructor(
    private readonly onText: (text: string) => void,
    private readonly onFlush: () => void,
    private readonly next: TextOutput | undefined,
  ) {}

  async captureText(text: string | voice.TimedString): Promise<void> {
    this.onText(typeof text === 'string' ? text : text.text);
    await this.next?.captureText(text);
  }

  flush(): void {
    this.onFlush();
    this.next?.flush();
  }

  onAttached(): void {
    this.next?.onAttached();
  }

  onDetached(): void {
    this.next?.onDetached();
  }
}

export class AgentSpeechTracker {
  private readonly active = new Set<voice.SpeechHandle>();
  private quietSince = 0; // Date.now() when the last speech ended (0: never spoke)
  private tokens: string[] = [];
  private partial = ''; // text since the last whitespace (words arrive in pieces)
  /** Last VAD onset of the caller, and how long the agent had been quiet then (0: speaking). */
  private userStart: { at: number; quietMs: number } | undefined;
  private readonly offs: Array<() => void> = [];
  private tap: TextOutput | undefined;
  private seenHandle = false;

  constructor(
    private readonly session: voice.AgentSession,
    private readonly echoTailMs: number,
  ) {
    const onSpeech = (ev: voice.SpeechCreatedEvent) => this.track(ev.speechHandle);
    const onUser = (ev: voice.UserStateChangedEvent) => {
      if (ev.newState === 'speaking') {
        const at = Date.now();
        this.userStart = { at, quietMs: this.quietForMs(at) };
      }
    };
    session.on(voice.AgentSessionEventTypes.SpeechCreated, onSpeech);
    session.on(voice.AgentSessionEventTypes.UserStateChanged, onUser);
    this.offs.push(
      () => session.off(voice.AgentSessionEventTypes.SpeechCreated, onSpeech),
      () => session.off(voice.AgentSessionEventTypes.UserStateChanged, onUser),
    );
    this.tapTranscription();
  }

  /** A speech of the agent is under way (queued speech counts: its audio is coming). */
  get speaking(): boolean {
    for (const h of this.active) if (!h.done() && !h.interrupted) return true;
    // Attached after a speech began (e.g. the greeting of onEnter): fall back on the state.
    if (!this.seenHandle) return ['speaking', 'thinking'].includes(this.session.agentState);
    return false;
  }

  /** Milliseconds the agent had been quiet at `at` (0 while speaking; Infinity if it never spoke). */
  quietForMs(at = Date.now()): number {
    if (this.speaking) return 0;
    if (this.quietSince === 0) return Number.POSITIVE_INFINITY;
    return Math.max(0, at - this.quietSince);
  }

  /**
   * Was the agent speaking when this utterance began? Its first transcript comes a few hundred
   * ms after the voice did, so judge at the VAD onset (`user_state_changed` → speaking), which
   * itself lags the sound by up to `graceMs`. Without a recent onset, judge now with that lag
   * plus the usual transcript delay.
   */
  speakingAtOnset(graceMs: number, now = Date.now()): boolean {
    const u = this.userStart;
    if (u && (this.session.userState === 'speaking' || now - u.at <= ONSET_MAX_AGE_MS)) {
      return u.quietMs <= graceMs;
    }
    return this.speaking || this.quietForMs(now) <= graceMs + TRANSCRIPT_DELAY_MS;
  }

  /** Normalised words the agent is saying or said within the echo tail, oldest first. */
  recentTokens(now = Date.now()): string[] {
    if (this.quietForMs(now) > this.echoTailMs) return [];
    const pending = normalize(this.partial);
    return pending.length ? [...this.tokens, ...pending] : this.tokens;
  }

  /** Interrupts the current speech if it allows it; false when there was nothing to stop. */
  interrupt(): boolean {
    if (!this.speaking) return false;
    try {
      void this.session.interrupt();
      return true;
    } catch {
      // the current speech does not allow interruptions
      return false;
    }
  }

  dispose(): void {
    for (const off of this.offs.splice(0)) off();
  }

  private track(handle: voice.SpeechHandle): void {
    // RoomIO sets the transcription output during start(): make sure the tap is in front.
    this.tapTranscription();
    if (!this.speaking && this.quietForMs() > this.echoTailMs) {
      // A new turn after a real pause: older words can no longer come back as echo.
      this.tokens = [];
      this.partial = '';
    }
    this.active.add(handle);
    this.seenHandle = true;
    handle.addDoneCallback(() => {
      this.active.delete(handle);
      if (!this.speaking) this.quietSince = Date.now();
    });
  }

  private onText(text: string): void {
    const joined = this.partial + text;
    const cut = joined.search(/\s\S*$/); // keep an unfinished last word for the next piece
    const complete = cut >= 0 ? joined.slice(0, cut) : '';
    this.partial = cut >= 0 ? joined.slice(cut) : joined;
    if (complete) this.push(normalize(complete));
  }

  private onFlush(): void {
    if (this.partial) this.push(normalize(this.partial));
    this.partial = '';
  }

  private push(words: string[]): void {
    this.tokens.push(...words);
    if (this.tokens.length > MAX_AGENT_TOKENS)
      this.tokens.splice(0, this.tokens.length - MAX_AGENT_TOKENS);
  }

  /** Puts the tap in front of the session's transcription output (again, if it was replaced). */
  private tapTranscription(): void {
    const output = this.session.output;
    if (this.tap && output.transcription === this.tap) return;
    const tap = new TextTap(
      (t) => this.onText(t),
      () => this.onFlush(),
      output.transcription ?? undefined,
    ) as unknown as TextOutput;
    this.tap = tap;
    output.transcription = tap;
  }
}
