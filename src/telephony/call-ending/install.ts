/**
 * The limits that end a call without anyone pressing the red button:
 * - caller silence: after `silenceTimeoutMs` with neither side talking the agent asks "are you
 *   still there?"; another `silenceTimeoutMs` of silence → goodbye and hang up. Any caller
 *   speech or key press starts over.
 * - a maximum duration: the agent says so and hangs up (the job's own hard limit stays the
 *   backstop; give it a few seconds more).
 * - the caller hanging up: the session stops at once, mid-sentence included (`drain: false`,
 *   reason `participant_disconnected`), which the framework treats as a normal end.
 */
import { voice } from '@livekit/agents';
import type { CallControl } from '../call-control.js';
import { endCall } from './end-call.js';

export interface CallEndingOptions {
  /** 0 = no silence handling. */
  silenceTimeoutMs: number;
  stillTherePrompt?: string;
  goodbye?: string;
  /** Graceful end this long after install; undefined = none. */
  maxDurationMs?: number;
  maxDurationMessage?: string;
  /** Caller key presses count as activity; the caller leaving ends the session. */
  control?: CallControl;
}

export const callEndingDefaults = {
  stillTherePrompt: 'Are you still there?',
  goodbye: "I haven't heard from you, so I'll end the call now. Goodbye!",
  maxDurationMessage:
    "We've reached the time limit for this call, so I have to end it now. Goodbye!",
} as const satisfies Partial<CallEndingOptions>;

export interface CallEnding {
  /** Why the call is being ended by these limits, once it is. */
  readonly endedBy: 'silence' | 'max-duration' | 'caller-left' | undefined;
  dispose(): void;
}

const Ev = voice.AgentSessionEventTypes;

export function installCallEnding(
  session: voice.AgentSession,
  options: CallEndingOptions,
): CallEnding {
  const defined = Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined));
  const o = { ...callEndingDefaults, ...defined } as typeof callEndingDefaults & CallEndingOptions;
  let endedBy: CallEnding['endedBy'];
  let prompted = false;
  let silenceTimer: NodeJS.Timeout | undefined;
  let disposed = false;

  const idle = () =>
    (session.userState === 'listening' || session.userState === 'away') &&
    (session.agentState === 'listening' || session.agentState === 'idle');

  const rearm = () => {
    clearTimeout(silenceTimer);
    silenceTimer = undefined;
    if (disposed || endedBy || o.silenceTimeoutMs <= 0 || !idle()) return;
    silenceTimer = setTimeout(onSilence, o.silenceTimeoutMs);
  };
  const onSilence = () => {
    if (disposed || endedBy || !idle()) return;
    if (!prompted) {
      prompted = true;
      try {
        session.say(o.stillTherePrompt);
      } catch {
        // The session started closing meanwhile: nothing to prompt.
      }
      return;
    }
    end('silence', o.goodbye);
  };
  const end = (why: NonNullable<CallEnding['endedBy']>, text: string) => {
    if (endedBy) return;
    endedBy = why;
    clearTimeout(silenceTimer);
    void endCall(session, text, why === 'silence' ? 'silence_timeout' : 'max_duration').catch(() =>
      session.shutdown({ drain: false, reason: why }),
    );
  };

  const onUser = (ev: voice.UserStateChangedEvent) => {
    if (ev.newState === 'speaking') prompted = false;
    rearm();
  };
  session.on(Ev.UserStateChanged, onUser);
  session.on(Ev.AgentStateChanged, rearm);

  const maxTimer =
    o.maxDurationMs !== undefined
      ? setTimeout(() => end('max-duration', o.maxDurationMessage), o.maxDurationMs)
      : undefined;

  const offControl = o.control?.media.subscribe((e) => {
    const caller = o.control?.callerIdentity;
    if (e.type === 'dtmf' && e.identity === caller) {
      prompted = false;
      rearm();
    }
    if (e.type === 'left' && e.identity === caller && !endedBy) {
      endedBy = 'caller-left';
      // The caller is gone: nothing left to say; stop now, mid-sentence included.
      session.shutdown({ drain: false, reason: voice.CloseReason.PARTICIPANT_DISCONNECTED });
    }
  });

  const dispose = () => {
    if (disposed) return;
    disposed = true;
    clearTimeout(silenceTimer);
    clearTimeout(maxTimer);
    session.off(Ev.UserStateChanged, onUser);
    session.off(Ev.AgentStateChanged, rearm);
    offControl?.();
  };
  session.once(Ev.Close, dispose);
  rearm();

  return {
    get endedBy() {
      return endedBy;
    },
    dispose,
  };
}
