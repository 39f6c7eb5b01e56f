/**
 * The soft-ack policy applied to a session: an STT-event filter (the agent's `sttNode` output
 * passes through it) plus owning the interrupt call.
 *
 * While the agent speaks, each caller utterance is classified on every interim transcript:
 *   - ignore / undecided: its events are dropped, so the framework never sees the words; with
 *     `minWords: 1` its VAD path never pauses on sound alone, and no user turn is ever made
 *     of it (not then, not when the agent's turn ends). Audio never stops: no stutter.
 *   - interrupt: the agent is stopped at once (`session.interrupt()`, on the first interim
 *     that shows a command or real speech) and this and later events of the utterance pass,
 *     becoming the next user turn.
 * While the agent is silent every event passes: "yeah" after a question is an answer.
 */
import type { ReadableStream } from 'node:stream/web';
import { TransformStream } from 'node:stream/web';
import { stt } from '@livekit/agents';
import type { AgentSpeechTracker } from './agent-speech.js';
import {
  type Classification,
  CompiledLexicon,
  classify,
  type LexiconOptions,
} from './classifier.js';
import type { SoftAckOptions } from './options.js';

export interface DecisionRecord {
  /** Date.now() of the transcript event. */
  at: number;
  text: string;
  final: boolean;
  /** Heard while the agent was speaking (else it simply passed as a turn). */
  overAgent: boolean;
  decision: Classification['decision'] | 'pass';
  reason?: Classification['reason'];
  command?: string;
}

export type SpeechEventStream = ReadableStream<stt.SpeechEvent | string>;

const compiled = new WeakMap<LexiconOptions, CompiledLexicon>();
function compile(lex: LexiconOptions): CompiledLexicon {
  let c = compiled.get(lex);
  if (!c) {
    c = new CompiledLexicon(lex);
    compiled.set(lex, c);
  }
  return c;
}

export function transcriptOf(
  ev: stt.SpeechEvent | string,
): { text: string; final: boolean; confidence?: number } | undefined {
  if (typeof ev === 'string') return { text: ev, final: true };
  const alt = ev.alternatives?.[0];
  const confidence = typeof alt?.confidence === 'number' ? { confidence: alt.confidence } : {};
  switch (ev.type) {
    case stt.SpeechEventType.FINAL_TRANSCRIPT:
      return { text: alt?.text ?? '', final: true, ...confidence };
    case stt.SpeechEventType.INTERIM_TRANSCRIPT:
    case stt.SpeechEventType.PREFLIGHT_TRANSCRIPT:
      return { text: alt?.text ?? '', final: false, ...confidence };
    default:
      return undefined;
  }
}

/** Filters one STT event stream with the soft-ack classifier. */
export function softAckFilter(
  events: SpeechEventStream,
  tracker: AgentSpeechTracker,
  options: SoftAckOptions,
  onDecision: (r: DecisionRecord) => void,
): SpeechEventStream {
  const lexicon = compile(options.lexicon);
  // One utterance = transcript events up to and including a final.
  let utterance: { overAgent: boolean; interrupted: boolean } | undefined;
  return events.pipeThrough(
    new TransformStream<stt.SpeechEvent | string, stt.SpeechEvent | string>({
      transform(ev, controller) {
        const t = transcriptOf(ev);
        if (!t) {
          // The STT's end of speech closes an utterance whose final never came (or had no words).
          if (typeof ev !== 'string' && ev.type === stt.SpeechEventType.END_OF_SPEECH) {
            utterance = undefined;
          }
          controller.enqueue(ev);
          return;
        }
        const now = Date.now();
        utterance ??= {
          overAgent: tracker.speakingAtOnset(options.onsetGraceMs, now),
          interrupted: false,
        };
        const u = utterance;
        if (t.final) utterance = undefined;
        if (!u.overAgent || u.interrupted) {
          if (t.text)
            onDecision({
              at: now,
              text: t.text,
              final: t.final,
              overAgent: u.overAgent,
              decision: 'pass',
            });
          controller.enqueue(ev);
          return;
        }
        const c = classify(
          t.text,
          lexicon,
          {
            final: t.final,
            agentTokens: tracker.recentTokens(now),
            ...(t.confidence !== undefined ? { confidence: t.confidence } : {}),
            minConfidence: options.minConfidence,
          },
          options.echo,
        );
        onDecision({
          at: now,
          text: t.text,
          final: t.final,
          overAgent: true,
          decision: c.decision,
          reason: c.reason,
          ...(c.command ? { command: c.command } : {}),
        });
        if (c.decision === 'interrupt') {
          u.interrupted = true;
          tracker.interrupt();
          controller.enqueue(ev);
        }
      },
    }),
  );
}
