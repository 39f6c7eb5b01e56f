/**
 * The phone-tuned AgentSession of one call, built the same way for a LiveKit room and for the
 * simulator; only the models differ (providers.ts in production, scripted/offline ones in the
 * simulator), and they are passed in.
 *
 * - VAD: the process's Silero instance (loaded once, in prewarm), 8 kHz.
 * - Turn detection: LiveKit's local `v1-mini` end-of-turn model; endpointing delays for phone
 *   turns.
 * - Interruptions: the soft-ack policy (src/telephony/interruption): session options, an STT
 *   filter per agent, and the controller attached after start. Its "ignored backchannel"
 *   decisions feed the call metrics.
 * - Noise: the call's noise suppressor (src/telephony/noise) as a frame processor on the caller's
 *   audio, before VAD and STT; the transport puts it in the input path.
 */
import { type llm, type stt, type tts, type VAD, VADEventType, voice } from '@livekit/agents';
import { AudioFrame } from '@livekit/rtc-node';
import type { AgentSpec, AgentsConfig } from '../agents/agents-file.js';
import type { CodeToolRegistry } from '../agents/code-tools.js';
import { type AgentModels, createAgentFactory } from '../agents/phone-agent.js';
import { createSessionData, type PhoneSessionData } from '../agents/session-data.js';
import type { Logger } from '../core/logger.js';
import type { CallContext } from '../telephony/call-context.js';
import {
  attachInterruptionPolicy,
  interruptionSpeechFilter,
  type SoftAckOptions,
  withInterruptionOptions,
} from '../telephony/interruption/index.js';
import type { NoiseSuppressorFactory } from '../telephony/noise/suppressor.js';
import type { CallSessionFactory, CallSessionParts } from './call-job.js';
import type { CallMetrics } from './call-metrics.js';
import { NoiseFrameProcessor } from './noise-input.js';

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
  /** Undefined = no local noise suppression. */
  noise?: NoiseSuppressorFactory;
  /** Speak first on outbound calls once answered (default true). */
  greetOutbound?: boolean;
  /** Environment the HTTP tools read their `secretEnv` from. */
  env?: NodeJS.ProcessEnv;
  log: Logger;
}

export function createPhoneSessionFactory(deps: PhoneSessionDeps): CallSessionFactory {
  return async ({ call, agentName, metrics }) => {
    const options = withInterruptionOptions<voice.AgentSessionOptions>(
      {
        ...deps.models(call),
        vad: deps.vad,
        turnHandling: {
          turnDetection: deps.turnDetector?.() ?? 'vad',
          endpointing: phoneEndpointing,
        },
      },
      deps.interruption,
    );
    const session = new voice.AgentSession<PhoneSessionData>({
      ...options,
      userData: createSessionData(call),
    });
    const factory = createAgentFactory({
      config: deps.agents,
      codeTools: deps.codeTools,
      call,
      logger: deps.log,
      ...(deps.agentModels ? { models: deps.agentModels } : {}),
      ...(deps.env ? { env: deps.env } : {}),
      speechFilter: (spec) => interruptionSpeechFilter(spec.interruptions),
      greet: call.direction === 'outbound' ? (deps.greetOutbound ?? true) : true,
    });
    const agent = agentName
      ? factory.create(agentName)
      : // A refusal only says its message (session.say): no instructions, tools or greeting.
        new voice.Agent({ instructions: 'You only read out messages.' });
    const noise =
      deps.noise && deps.noise.backend !== 'off' ? new NoiseFrameProcessor(deps.noise) : undefined;
    let controller: ReturnType<typeof attachInterruptionPolicy> | undefined;

    const parts: CallSessionParts = {
      session,
      agent,
      ...(noise ? { noise } : {}),
      started() {
        controller = attachInterruptionPolicy(session, deps.interruption, {
          onDecision: (r) => noteDecision(metrics, r),
        });
      },
      async dispose() {
        controller?.dispose();
        noise?.close();
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

/** A backchannel the policy kept the agent talking over counts once, on its final transcript. */
function noteDecision(
  metrics: CallMetrics,
  r: Parameters<NonNullable<Parameters<typeof attachInterruptionPolicy>[2]>['onDecision'] & {}>[0],
): void {
  if (r.final && r.overAgent && r.decision === 'ignore' && r.reason === 'backchannel') {
    metrics.noteBackchannelIgnored(r.text, r.at);
  }
}
