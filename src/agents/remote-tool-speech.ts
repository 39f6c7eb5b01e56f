/**
 * What the caller hears while a tool asks another system (an HTTP endpoint, an MCP server),
 * the same for every such tool: a filler sentence once the answer is `fillerAfterMs` late, and
 * the tool's fallback sentence when it fails or times out, said directly (text-to-speech only,
 * no LLM round trip). A phone line must never go quiet because a backend is slow or down.
 */
import type { voice } from '@livekit/agents';
import type { Logger } from '../core/logger.js';
import type { PhoneSessionData } from './session-data.js';

export const remoteToolSpeechDefaults = {
  fillerAfterMs: 1000,
  filler: 'One moment, please.',
  fallback: "Sorry, I can't get that information right now.",
} as const satisfies Required<RemoteToolSpeech>;

/** The sentences of one tool (agents file: `filler`, `fillerAfterMs`, `fallback`). */
export interface RemoteToolSpeech {
  filler?: string;
  fillerAfterMs?: number;
  fallback?: string;
}

/** What the remote side did: an answer for the LLM, or a failure the caller hears about. */
export type RemoteOutcome<Failure extends string> =
  | { ok: true; value: unknown }
  | { ok: false; failure: Failure; status?: number };

export interface RemoteCallOptions {
  /** For logs: the tool's name and where it went (`{ tool, server }`), never secrets. */
  logFields: Record<string, unknown>;
  /** `http tool` / `mcp tool`: how log lines name it. */
  kind: string;
  speech: RemoteToolSpeech;
  logger?: Logger;
}

/**
 * Runs `request` with the filler armed; returns the answer for the LLM, or says the fallback
 * and returns undefined (no LLM reply on top: the fallback stays in the chat history, so the
 * LLM knows what the caller was told).
 */
export async function callWithFillerAndFallback<Failure extends string>(
  ctx: voice.RunContext<PhoneSessionData>,
  o: RemoteCallOptions,
  request: () => Promise<RemoteOutcome<Failure>>,
): Promise<unknown> {
  const started = Date.now();
  const outcome = await ctx.filler(
    o.speech.filler ?? remoteToolSpeechDefaults.filler,
    { delay: o.speech.fillerAfterMs ?? remoteToolSpeechDefaults.fillerAfterMs, maxSteps: 1 },
    request,
  );
  const elapsedMs = Date.now() - started;
  if (outcome.ok) {
    o.logger?.debug({ ...o.logFields, elapsedMs }, `${o.kind} answered`);
    return outcome.value;
  }
  o.logger?.warn(
    { ...o.logFields, elapsedMs, failure: outcome.failure, status: outcome.status },
    `${o.kind} failed; saying the fallback`,
  );
  ctx.session.say(o.speech.fallback ?? remoteToolSpeechDefaults.fallback);
  return undefined;
}
