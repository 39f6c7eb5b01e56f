/**
 * Outbound calls: who answered? LiveKit's `voice.AMD` classifies the greeting (VAD timing plus
 * an LLM over the transcript: human, voicemail, IVR, mailbox unavailable) while holding back
 * the agent's reply; a Goertzel beep detector listens to the same audio for the beep.
 *
 * - human / uncertain: the agent greets (its greeting answers the callee's "Hello?"). The
 *   agent said nothing before: a callee who answers and says nothing hears the greeting after
 *   `NO_SPEECH_MS` (voice.AMD's own default, 10 s, is a long silence on a phone).
 * - IVR: the agent carries on and is told to navigate the menu (send_dtmf).
 * - voicemail: per policy, hang up, or wait for the beep (at most `beepTimeoutMs` after the
 *   verdict) and leave the message, then hang up. Mailbox unavailable: hang up.
 * The outcome is reported as the `call.voicemail` call event.
 */
import { type llm, voice } from '@livekit/agents';
import type { AudioFrame } from '@livekit/rtc-node';
import type { Logger } from '../../core/logger.js';
import { endCall } from '../call-ending/end-call.js';
import { type Beep, BeepDetector } from './beep-detector.js';

export type VoicemailAction = 'off' | 'hangup' | 'message';

export type CallEventSink = (
  type: 'call.voicemail' | 'call.transferred',
  data: Record<string, unknown>,
) => void;

export interface AnsweringMachineOptions {
  action: VoicemailAction;
  /** Said after the beep when `action` is `message` (no message → hang up). */
  message?: string;
  /** Says the agent's greeting: for a person, at the verdict; never to a machine. */
  greet?: () => void;
  beepTimeoutMs: number;
  /** The classifier's LLM; default the session's. */
  llm?: llm.LLM;
  report?: CallEventSink;
  log: Logger;
  /** voice.AMD timing overrides (tests, tuning). */
  amd?: Pick<
    voice.AMDOptions,
    | 'noSpeechTimeoutMs'
    | 'detectionTimeoutMs'
    | 'machineSilenceThresholdMs'
    | 'humanSilenceThresholdMs'
  >;
}

export interface AnsweringMachineOutcome {
  category: voice.AMDCategory | 'skipped';
  action: 'none' | 'continued' | 'message-left' | 'hung-up';
  beep?: Beep;
}

/** A callee who answered but has said nothing for this long is greeted (verdict: uncertain). */
export const NO_SPEECH_MS = 3000;

const IVR_INSTRUCTIONS =
  'An automated phone menu answered this call. Listen to the options and use send_dtmf to ' +
  'reach the right department or a person; do not talk to the menu as if it were a person.';

export async function handleAnsweringMachine(
  session: voice.AgentSession,
  o: AnsweringMachineOptions,
): Promise<AnsweringMachineOutcome> {
  if (o.action === 'off') return { category: 'skipped', action: 'none' };
  const log = o.log.child({ component: 'amd' });
  // The beep detector runs on every frame of the caller's audio: only until the verdict (and,
  // when a message is left, the beep), whatever happens, never for the rest of the call.
  const beeps = listenForBeeps(session);
  let verdict: voice.AMDPredictionEvent;
  let leave: boolean;
  let beep: Beep | undefined;
  // voice.AMD holds every reply until its verdict. For a person the greeting is what answers
  // their "Hello?": queued at the verdict, in place of the held reply (agents-js drops queued
  // speech when a user turn ends, so a greeting queued earlier would never play). A check that
  // fails greets too: the callee must not be left waiting.
  let greeted = !o.greet;
  const greet = () => {
    if (greeted) return;
    greeted = true;
    void session.interrupt();
    o.greet?.();
  };
  try {
    const amd = new voice.AMD(session, {
      llm: o.llm ?? null,
      stt: null,
      interruptOnMachine: true,
      suppressCompatibilityWarning: true,
      noSpeechTimeoutMs: NO_SPEECH_MS,
      ...o.amd,
    });
    // Emitted before the hold is lifted, so the greeting is first in line.
    amd.on('amd_prediction', (r: voice.AMDPredictionEvent) => {
      if (!r.isMachine) greet();
    });
    try {
      verdict = await amd.execute();
    } finally {
      await amd.aclose();
    }
    log.info({ category: verdict.category, reason: verdict.reason }, 'answered by');
    leave =
      verdict.category === voice.AMDCategory.MACHINE_VM && o.action === 'message' && !!o.message;
    if (leave) beep = beeps.last() ?? (await beeps.next(o.beepTimeoutMs));
  } catch (err) {
    greet();
    throw err;
  } finally {
    beeps.stop();
  }

  if (!verdict.isMachine) return { category: verdict.category, action: 'none' };
  if (verdict.category === voice.AMDCategory.MACHINE_IVR) {
    session.generateReply({ instructions: IVR_INSTRUCTIONS });
    return { category: verdict.category, action: 'continued' };
  }
  if (!leave) {
    o.report?.('call.voicemail', { category: verdict.category, action: 'hung-up' });
    await endCall(session, '', 'voicemail');
    return { category: verdict.category, action: 'hung-up' };
  }
  log.info({ beepHeard: !!beep, freqHz: beep?.freqHz }, 'leaving the voicemail message');
  await endCall(session, o.message!, 'voicemail');
  o.report?.('call.voicemail', {
    category: verdict.category,
    action: 'message-left',
    beepHeard: !!beep,
  });
  return { category: verdict.category, action: 'message-left', ...(beep ? { beep } : {}) };
}

/** Runs the beep detector over the session's input audio until stopped. */
function listenForBeeps(session: voice.AgentSession) {
  const detector = new BeepDetector();
  const found: Beep[] = [];
  const waiters = new Set<(b: Beep) => void>();
  let stopped = false;
  let reader: ReadableStreamDefaultReader<AudioFrame> | undefined;
  void (async () => {
    // The audio branch exists once the session's activity started.
    while (!stopped && !reader) {
      const stream = session._subscribeAudioStream();
      if (stream) reader = stream.getReader();
      else await new Promise((r) => setTimeout(r, 50));
    }
    while (!stopped && reader) {
      const { done, value } = await reader.read();
      if (done || !value) break;
      const mono =
        value.channels === 1 ? value.data : value.data.filter((_, i) => i % value.channels === 0);
      for (const b of detector.push(mono, value.sampleRate)) {
        found.push(b);
        for (const w of [...waiters]) w(b);
      }
    }
  })().catch(() => undefined);
  return {
    last: () => found.at(-1),
    next: (timeoutMs: number) =>
      new Promise<Beep | undefined>((resolve) => {
        const timer = setTimeout(() => {
          waiters.delete(on);
          resolve(undefined);
        }, timeoutMs);
        const on = (b: Beep) => {
          clearTimeout(timer);
          waiters.delete(on);
          resolve(b);
        };
        waiters.add(on);
      }),
    stop: () => {
      stopped = true;
      void reader?.cancel().catch(() => undefined);
    },
  };
}
