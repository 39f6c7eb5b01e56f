/**
 * The phone-tuned AgentSession of one call, built the same way for a LiveKit room and for the
 * simulator; only the models differ (providers.ts in production, scripted/offline ones in the
 * simulator), and they are passed in.
 *
 * - VAD: the process's Silero instance (loaded once, in prewarm), 8 kHz.
 * - Turn detection: LiveKit's local `v1-mini` end-of-turn model; endpointing delays for phone
 *   turns.
 * - Interruptions: the soft-ack policy (src/telephony/interruption): session options, an STT
 *   filter per agent, and the controller bound before start (it must see the greeting). Its
 *   "ignored backchannel" decisions feed the call metrics.
 * - Noise: the process's noise suppression (src/telephony/noise); the transport puts the call's
 *   piece in the input path, before VAD and STT.
 * - Telephony (src/telephony, docs/transfers.md): a CallControl per call; the agents get the
 *   transfer / DTMF / end_call tools; key presses are routed (the agent's DTMF menu); silence
 *   and the length limit end the call with a goodbye; outbound calls check for voicemail.
 * - A take-over (`resume`: this job replaces an agent that died, docs/reliability.md): the agent
 *   that was talking gets the conversation so far as its chat context and, instead of greeting,
 *   says it got cut off and goes on from there; no voicemail check (the call was answered).
 */
import { llm, type stt, type tts, type VAD, VADEventType, voice } from '@livekit/agents';
import { AudioFrame } from '@livekit/rtc-node';
import type { AgentsConfig } from '../agents/agents-file.js';
import type { AgentSpec } from '../agents/agents-schema.js';
import type { CodeToolRegistry } from '../agents/code-tools.js';
import type { McpServers } from '../agents/mcp-servers.js';
import { McpCallTools } from '../agents/mcp-tools.js';
import { type AgentModels, createAgentFactory, PhoneAgent } from '../agents/phone-agent.js';
import { createSessionData, type PhoneSessionData } from '../agents/session-data.js';
import type { Config } from '../core/config.js';
import type { ResumeLine } from '../core/job-metadata.js';
import type { LiveKitClients } from '../core/livekit.js';
import type { Logger } from '../core/logger.js';
import type { CallContext } from '../telephony/call-context.js';
import { type CallControl, createCallControl, type HoldAudio } from '../telephony/call-control.js';
import { type CallEnding, installCallEnding } from '../telephony/call-ending/install.js';
import { type DtmfRouter, installDtmf } from '../telephony/dtmf/router.js';
import {
  attachInterruptionPolicy,
  type DecisionRecord,
  interruptionSpeechFilter,
  resolveSoftAckOptions,
  type SoftAckOptions,
  withInterruptionOptions,
} from '../telephony/interruption/index.js';
import type { NoiseSuppression } from '../telephony/noise/index.js';
import { createTelephonyTools } from '../telephony/tools.js';
import { loadHoldAudio } from '../telephony/transfer/hold-audio.js';
import {
  handleAnsweringMachine,
  type VoicemailAction,
} from '../telephony/voicemail/answering-machine.js';
import type { CallSessionFactory, CallSessionParts } from './call-job.js';
import type { CallMetrics } from './call-metrics.js';

type TurnDetection = NonNullable<
  NonNullable<voice.AgentSessionOptions['turnHandling']>['turnDetection']
>;

/** Endpointing for phone turns (ms): callers pause mid-sentence; the turn model decides. */
export const phoneEndpointing = {
  mode: 'fixed',
  minDelay: 400,
  maxDelay: 2500,
} as const;

export interface SessionModels {
  stt: stt.STT;
  llm: llm.LLM;
  tts: tts.TTS;
}

/** What the telephony features of a call need; loaded once per process. */
export interface TelephonyDeps {
  livekit: Pick<LiveKitClients, 'sip' | 'rooms'>;
  /** TRANSFER_RING_TIMEOUT_S */
  ringTimeoutS: number;
  /** WARM_TRANSFER_DECISION_TIMEOUT_S in ms. */
  decisionTimeoutMs: number;
  /** DEFAULT_OUTBOUND_TRUNK_ID: the trunk a warm transfer dials the human through. */
  outboundTrunkId: string | undefined;
  /** WARM_TRANSFER_HOLD_AUDIO, loaded. */
  hold: HoldAudio;
  /** DTMF_INTER_DIGIT_TIMEOUT_S in ms. */
  interDigitTimeoutMs: number;
  /** SILENCE_TIMEOUT_S in ms (0 = off). */
  silenceTimeoutMs: number;
  /** AMD_MODE, VOICEMAIL_MESSAGE, VOICEMAIL_BEEP_TIMEOUT_S; an agent's `voicemail:` wins. */
  voicemail: { action: VoicemailAction; message?: string; beepTimeoutMs: number };
}

/** The telephony deps from the settings (hold audio read here: once per process). */
export function telephonyDeps(
  config: Config,
  livekit: Pick<LiveKitClients, 'sip' | 'rooms'>,
): TelephonyDeps {
  return {
    livekit,
    ringTimeoutS: config.TRANSFER_RING_TIMEOUT_S,
    decisionTimeoutMs: config.WARM_TRANSFER_DECISION_TIMEOUT_S * 1000,
    outboundTrunkId: config.DEFAULT_OUTBOUND_TRUNK_ID,
    hold: loadHoldAudio(config.WARM_TRANSFER_HOLD_AUDIO),
    interDigitTimeoutMs: config.DTMF_INTER_DIGIT_TIMEOUT_S * 1000,
    silenceTimeoutMs: config.SILENCE_TIMEOUT_S * 1000,
    voicemail: {
      action: config.AMD_MODE,
      ...(config.VOICEMAIL_MESSAGE ? { message: config.VOICEMAIL_MESSAGE } : {}),
      beepTimeoutMs: config.VOICEMAIL_BEEP_TIMEOUT_S * 1000,
    },
  };
}

export interface PhoneSessionDeps {
  agents: AgentsConfig;
  codeTools: CodeToolRegistry;
  /** Loaded once per process (prewarm). */
  vad: VAD;
  /** Session-wide models for a call. */
  models: (call: CallContext) => SessionModels;
  /** Per-agent models (own voice, STT keyterms); none in the simulator. */
  agentModels?: (spec: AgentSpec) => AgentModels;
  /** Per-call turn detector (default: none → VAD endpointing; production passes v1-mini). */
  turnDetector?: () => TurnDetection;
  interruption: SoftAckOptions;
  /** The process's noise suppression (loadNoiseSuppression); undefined = none. */
  noise?: NoiseSuppression;
  /** Transfers, DTMF, call ending, voicemail; undefined = none of them (bare sessions in tests). */
  telephony?: TelephonyDeps;
  /** Speak first on outbound calls once answered (default true). */
  greetOutbound?: boolean;
  /** Environment the HTTP tools read their `secretEnv` from. */
  env?: NodeJS.ProcessEnv;
  /** The process's MCP servers (one connection each, tool lists cached); absent = no MCP tools. */
  mcp?: McpServers;
  /** No caller audio (conversation tests): no answering-machine check on outbound calls. */
  textMode?: boolean;
  log: Logger;
}

/** What a process loads once for all its calls (a job process's prewarm). */
export interface ProcessResources {
  agents: AgentsConfig;
  codeTools: CodeToolRegistry;
  vad: VAD;
  noise?: NoiseSuppression;
  log: Logger;
}

/** What differs between a real call and a simulated one: the models, and where server calls go. */
export type CallModels = Pick<
  PhoneSessionDeps,
  'models' | 'agentModels' | 'turnDetector' | 'telephony' | 'env'
>;

/**
 * The session deps of a call from the settings: the one construction a real call, the
 * simulator, the demo, the interruption evaluation and the rehearsal call all use. Only the
 * models (production providers or scripted ones) and where telephony's server calls go differ.
 */
export function phoneSessionDeps(
  config: Config,
  resources: ProcessResources,
  models: CallModels,
): PhoneSessionDeps {
  return { ...resources, ...models, interruption: resolveSoftAckOptions(config) };
}

export function createPhoneSessionFactory(deps: PhoneSessionDeps): CallSessionFactory {
  return async ({
    call,
    agentName,
    metrics,
    callId,
    callerIdentity,
    media,
    endAfterMs,
    report,
    resume,
  }) => {
    const sessionOptions = (): voice.AgentSessionOptions => ({
      ...deps.models(call),
      vad: deps.vad,
      turnHandling: {
        turnDetection: deps.turnDetector?.() ?? 'vad',
        endpointing: phoneEndpointing,
      },
    });
    const options = withInterruptionOptions<voice.AgentSessionOptions>(
      sessionOptions(),
      deps.interruption,
    );
    const session = new voice.AgentSession<PhoneSessionData>({
      ...options,
      userData: createSessionData(call),
    });
    const t = deps.telephony;
    // A refusal only says its message: no control over the call, no tools.
    const control: CallControl | undefined =
      t && agentName
        ? createCallControl({
            room: callId,
            callerIdentity,
            livekit: t.livekit,
            media,
            log: deps.log.child({ callId }),
          })
        : undefined;
    const specOf = (name: string | undefined) => (name ? deps.agents.agents.get(name) : undefined);
    // Outbound calls are checked for voicemail (not a take-over: that call was answered by a
    // person); the greeting then waits for the verdict, so a machine never records half of it.
    const voicemailAction =
      specOf(agentName)?.voicemail?.action ?? t?.voicemail.action ?? ('off' as const);
    const checkVoicemail =
      !!t &&
      call.direction === 'outbound' &&
      voicemailAction !== 'off' &&
      !deps.textMode &&
      !resume;
    let router: DtmfRouter | undefined;
    if (t && control) {
      router = installDtmf(session, control, {
        // Read at each key press: after a handoff, the agent now talking owns the menu.
        menu: currentMenu(() => specOf(session.userData.currentAgent ?? agentName)),
        interDigitTimeoutMs: t.interDigitTimeoutMs,
      });
    }
    const telephonyTools =
      t && control
        ? (spec: AgentSpec) =>
            createTelephonyTools({
              control,
              direction: call.direction,
              transfers: spec.transfers ?? [],
              ringTimeoutS: t.ringTimeoutS,
              warm: {
                trunkId: t.outboundTrunkId,
                decisionTimeoutMs: t.decisionTimeoutMs,
                hold: t.hold,
                // The consultation with the human: same models, its own session.
                createConsultSession: () => new voice.AgentSession(sessionOptions()),
                amd: {},
              },
              ...(router ? { dtmf: router } : {}),
              report,
            }) as llm.ToolContextEntry<PhoneSessionData>[]
        : undefined;
    const factory = createAgentFactory({
      config: deps.agents,
      codeTools: deps.codeTools,
      call,
      logger: deps.log,
      ...(deps.agentModels ? { models: deps.agentModels } : {}),
      ...(deps.env ? { env: deps.env } : {}),
      speechFilter: (spec) => interruptionSpeechFilter(spec.interruptions),
      greet: call.direction === 'outbound' ? (deps.greetOutbound ?? true) && !checkVoicemail : true,
      ...(telephonyTools ? { extraTools: telephonyTools } : {}),
      ...(deps.mcp
        ? {
            mcp: new McpCallTools(deps.mcp, {
              log: deps.log.child({ callId }),
              onUnavailable: (server, reason) => metrics.noteToolServerUnavailable(server, reason),
            }),
          }
        : {}),
    });
    const agent = agentName
      ? factory.create(
          agentName,
          resume ? { chatCtx: chatContextOf(resume.transcript), resumed: true } : {},
        )
      : // A refusal only says its message (session.say): no instructions, tools or greeting.
        new voice.Agent({ instructions: 'You only read out messages.' });
    // Bound before the session starts: the greeting (said inside start()) is the first speech
    // a caller talks over or echoes, and the policy must see its speech handle and its words.
    const controller = attachInterruptionPolicy(session, deps.interruption, {
      onDecision: (r) => noteDecision(metrics, r),
    });
    let ending: CallEnding | undefined;

    const parts: CallSessionParts = {
      session,
      agent,
      ...(deps.noise ? { noise: deps.noise } : {}),
      ...(control ? { control } : {}),
      started() {
        if (!t || !control) return;
        // The one length limit of a call: the agent says so and hangs up (the job's hard limit
        // comes later and only backs this up).
        ending = installCallEnding(session, {
          silenceTimeoutMs: t.silenceTimeoutMs,
          ...(endAfterMs !== undefined ? { maxDurationMs: endAfterMs } : {}),
          control,
        });
        if (checkVoicemail) {
          const message = specOf(agentName)?.voicemail?.message ?? t.voicemail.message;
          const greets = (deps.greetOutbound ?? true) && agent instanceof PhoneAgent;
          void handleAnsweringMachine(session, {
            action: voicemailAction,
            ...(message ? { message } : {}),
            ...(greets ? { greet: () => agent.greet() } : {}),
            beepTimeoutMs: t.voicemail.beepTimeoutMs,
            report,
            log: deps.log.child({ callId }),
          }).catch((err: Error) =>
            deps.log.warn({ callId, err: err.message }, 'answering-machine check failed'),
          );
        }
      },
      async dispose() {
        controller.dispose();
        ending?.dispose();
        router?.stop();
      },
    };
    return parts;
  };
}

/**
 * Runs the VAD over a second of quiet audio, so a call's first frames do not pay for the model's
 * first inferences and the code's first compilation (~0.4 s late otherwise). Prewarm only.
 */
export async function warmUpVad(vad: VAD, sampleRate = 8000): Promise<void> {
  const stream = vad.stream();
  const per = sampleRate / 50; // 20 ms frames
  for (let i = 0; i < 50; i++) {
    const data = new Int16Array(per);
    for (let k = 0; k < per; k++) data[k] = (((i * per + k) * 7919) % 61) - 30; // faint hiss
    stream.pushFrame(new AudioFrame(data, sampleRate, 1, per));
  }
  const timeout = setTimeout(() => stream.close(), 5000);
  try {
    for await (const ev of stream) {
      if (ev.type === VADEventType.INFERENCE_DONE && ev.samplesIndex >= sampleRate * 0.9) break;
    }
  } finally {
    clearTimeout(timeout);
    stream.close();
  }
}

/** The conversation of a call taken over, as the agent's chat context. */
export function chatContextOf(lines: readonly ResumeLine[]): llm.ChatContext {
  const ctx = llm.ChatContext.empty();
  for (const l of lines) {
    ctx.addMessage({ role: l.role === 'caller' ? 'user' : 'assistant', content: l.text });
  }
  return ctx;
}

/** A DTMF menu that always reads the current agent's `dtmf.menu`. */
function currentMenu(spec: () => AgentSpec | undefined): Readonly<Record<string, string>> {
  return new Proxy(
    {},
    {
      get: (_target, key) => (typeof key === 'string' ? spec()?.dtmf?.menu?.[key] : undefined),
    },
  );
}

/** A backchannel the policy kept the agent talking over counts once, on its final transcript. */
function noteDecision(metrics: CallMetrics, r: DecisionRecord): void {
  if (r.final && r.overAgent && r.decision === 'ignore' && r.reason === 'backchannel') {
    metrics.noteBackchannelIgnored(r.text, r.at);
  }
}
