/**
 * Baseline "seed-grace": seed 003's algorithm, rebuilt on the same supported paths so the eval
 * can compare it in the same run. Kept as the seed describes it, weaknesses included:
 *   - gating on `agentState` 'speaking'/'thinking';
 *   - soft-ack = every word (lower case, punctuation removed) in {okay, yeah, uhhuh, ok, hmm,
 *     right}, and no command keyword (but, wait, no, stop);
 *   - on caller voice (VAD) over the agent, after the framework's 500 ms minimum: decide on the
 *     transcript if there is one, else wait a 350 ms grace period; a soft-ack seen blocks,
 *     anything else (including no words at all) interrupts; later non-soft-ack words interrupt;
 *   - soft-ack transcripts heard over the agent are filtered out.
 */
import { TransformStream } from 'node:stream/web';
import { type stt, voice } from '@livekit/agents';
import { type DecisionRecord, type SpeechEventStream, transcriptOf } from './soft-ack-filter.js';

export const seedSoftAcks = ['okay', 'yeah', 'uhhuh', 'ok', 'hmm', 'right'] as const;
export const seedKeywords = ['but', 'wait', 'no', 'stop'] as const;
export const seedTiming = { minDurationMs: 500, graceMs: 350 } as const;

export function seedIsSoftAck(text: string): boolean {
  const words = text
    .toLowerCase()
    .replace(/[^\w\s]/g, '')
    .split(/\s+/)
    .filter(Boolean);
  if (words.length === 0) return false;
  if (words.some((w) => (seedKeywords as readonly string[]).includes(w))) return false;
  return words.every((w) => (seedSoftAcks as readonly string[]).includes(w));
}

export class SeedGraceController {
  private text = ''; // latest transcript of the current caller speech
  private softAckSeen = false;
  private checked = false;
  private timers: NodeJS.Timeout[] = [];
  private readonly off: () => void;

  constructor(
    private readonly session: voice.AgentSession,
    private readonly onDecision: (r: DecisionRecord) => void,
  ) {
    const onUser = (ev: voice.UserStateChangedEvent) => {
      if (ev.newState === 'speaking') this.onVoiceStart();
    };
    session.on(voice.AgentSessionEventTypes.UserStateChanged, onUser);
    this.off = () => session.off(voice.AgentSessionEventTypes.UserStateChanged, onUser);
  }

  private get agentBusy(): boolean {
    const s = this.session.agentState;
    return s === 'speaking' || s === 'thinking';
  }

  private onVoiceStart(): void {
    this.clearTimers();
    this.text = '';
    this.softAckSeen = false;
    this.checked = false;
    if (!this.agentBusy) return;
    this.timers.push(setTimeout(() => this.check(), seedTiming.minDurationMs));
  }

  private check(): void {
    if (!this.agentBusy) return;
    if (this.text) {
      this.checked = true;
      this.decide(!seedIsSoftAck(this.text), 'transcript');
      return;
    }
    this.timers.push(
      setTimeout(() => {
        this.checked = true;
        if (!this.agentBusy) return;
        this.decide(
          !this.softAckSeen,
          this.softAckSeen ? 'grace: soft-ack seen' : 'grace: no soft-ack',
        );
      }, seedTiming.graceMs),
    );
  }

  private decide(interrupt: boolean, why: string): void {
    this.onDecision({
      at: Date.now(),
      text: this.text,
      final: false,
      overAgent: true,
      decision: interrupt ? 'interrupt' : 'ignore',
      ...(interrupt ? { command: why } : {}),
    });
    if (!interrupt) return;
    try {
      void this.session.interrupt();
    } catch {
      // speech not interruptible
    }
  }

  filter(events: SpeechEventStream): SpeechEventStream {
    return events.pipeThrough(
      new TransformStream<stt.SpeechEvent | string, stt.SpeechEvent | string>({
        transform: (ev, controller) => {
          const t = transcriptOf(ev);
          if (!t?.text) {
            controller.enqueue(ev);
            return;
          }
          this.text = t.text;
          if (!this.agentBusy) {
            controller.enqueue(ev);
            return;
          }
          const soft = seedIsSoftAck(t.text);
          if (soft) {
            this.softAckSeen = true;
            return; // the seed's interim filter: soft-acks over the agent are dropped
          }
          // Later words that are not a soft-ack interrupt (the seed re-checks on every VAD frame).
          if (this.checked) this.decide(true, 'transcript');
          controller.enqueue(ev);
        },
      }),
    );
  }

  dispose(): void {
    this.clearTimers();
    this.off();
  }

  private clearTimers(): void {
    for (const t of this.timers.splice(0)) clearTimeout(t);
  }
}
