/**
 * The agent that talks to the human during a warm transfer: it reads them the briefing,
 * answers questions from the summary, and records their decision (accept / decline tools; the
 * orchestrator also takes keys 1 / 2). It stays silent until the briefing was read, so the
 * human's "Hello?" does not get an LLM reply that talks over it.
 */
import { llm, voice } from '@livekit/agents';
import { z } from 'zod';

export type ConsultDecision = 'accepted' | 'declined';

export interface ConsultAgentOptions {
  /** The main agent's summary of the call (name, reason, what was tried). */
  summary: string;
  /** How the target is called in the agents file (e.g. "sales"). */
  targetName?: string;
}

export function briefingText(summary: string): string {
  return (
    `Hello, this is the virtual assistant with a caller on hold for you. ${summary.trim()} ` +
    'Would you like to take the call? Say yes or press 1 to be connected, or say no or press 2.'
  );
}

export class ConsultAgent extends voice.Agent {
  #briefed = false;
  #decide: ((d: ConsultDecision) => void) | undefined;
  /** Resolves with the human's decision, made with the tools. */
  readonly decision: Promise<ConsultDecision>;

  constructor(o: ConsultAgentOptions) {
    let decide: (d: ConsultDecision) => void = () => {};
    const decision = new Promise<ConsultDecision>((resolve) => {
      decide = resolve;
    });
    super({
      instructions:
        'You are a phone assistant briefing a colleague about a caller who is on hold. ' +
        `The colleague${o.targetName ? ` (${o.targetName})` : ''} decides whether to take the call. ` +
        `What you know about the caller: ${o.summary}\n` +
        'If they agree to take the call, call accept_transfer. If they decline, are busy or ' +
        'cannot take it, call decline_transfer. Answer questions about the caller briefly, only ' +
        'from what you know. Speak in short plain sentences.',
      tools: {
        accept_transfer: llm.tool({
          description: 'The colleague agrees to take the call now.',
          execute: async () => {
            decide('accepted');
            return undefined;
          },
        }),
        decline_transfer: llm.tool({
          description: 'The colleague declines or cannot take the call.',
          parameters: z.object({ reason: z.string().optional() }),
          execute: async () => {
            decide('declined');
            return undefined;
          },
        }),
      },
    });
    this.#decide = decide;
    this.decision = decision;
  }

  /** Reads the briefing; from then on the human's words get replies. */
  brief(summary: string): voice.SpeechHandle {
    this.#briefed = true;
    return this.session.say(briefingText(summary));
  }

  /** A decision made outside the LLM (a key press). */
  decide(d: ConsultDecision): void {
    this.#decide?.(d);
  }

  override async onUserTurnCompleted(): Promise<void> {
    if (!this.#briefed) throw new voice.StopResponse();
  }
}
