/**
 * Tools declared in the agents file as HTTP endpoints ("serverless" tools). When the LLM calls
 * one, the agent POSTs `{ tool, arguments, call }` (call = the CallContext) as JSON, signed with
 * HMAC-SHA256 when the tool names a `secretEnv`:
 *
 *   X-Phone-Agents-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>
 *
 * The endpoint answers 2xx with JSON, which goes back to the LLM as the tool's result. A timeout,
 * a non-2xx status, or an answer that is not JSON makes the agent say the tool's `fallback`
 * sentence itself (no LLM round trip), so the caller never hears dead air. A slow endpoint gets
 * a spoken filler after `fillerAfterMs` of silence (remote-tool-speech.ts, shared with MCP tools).
 */
import { llm } from '@livekit/agents';
import type { Logger } from '../core/logger.js';
import { SIGNATURE_HEADER, sign } from '../core/signature.js';
import type { HttpToolSpec } from './agents-schema.js';
import type { CodeTool } from './code-tools.js';
import {
  callWithFillerAndFallback,
  type RemoteOutcome,
  remoteToolSpeechDefaults,
} from './remote-tool-speech.js';
import type { PhoneSessionData } from './session-data.js';

export const httpToolDefaults = {
  ...remoteToolSpeechDefaults,
  timeoutMs: 4000,
  /** Larger answers are refused: they would flood the LLM's context. */
  maxResponseBytes: 32 * 1024,
} as const satisfies Required<
  Pick<HttpToolSpec, 'timeoutMs' | 'fillerAfterMs' | 'filler' | 'fallback'>
> & { maxResponseBytes: number };

export interface HttpToolOptions {
  /** Where `secretEnv` is read; default process.env. */
  env?: NodeJS.ProcessEnv;
  logger?: Logger;
}

/** Why an endpoint call failed (logged; the caller hears the fallback). */
export type HttpToolFailure = 'timeout' | 'status' | 'invalid_json' | 'too_large' | 'network';

export function createHttpTool(spec: HttpToolSpec, opts: HttpToolOptions = {}): CodeTool {
  const env = opts.env ?? process.env;
  const secret = spec.secretEnv ? env[spec.secretEnv] : undefined;
  if (spec.secretEnv && !secret) {
    // The loader checks this at start-up; reaching here means the env changed since.
    throw new Error(`${spec.secretEnv} is not set (HMAC key of tool "${spec.name}")`);
  }
  const timeoutMs = spec.timeoutMs ?? httpToolDefaults.timeoutMs;

  return llm.tool({
    name: spec.name,
    description: spec.description,
    parameters: spec.parameters ?? { type: 'object', properties: {} },
    execute: async (args: Record<string, unknown>, { ctx, abortSignal }) => {
      const call = (ctx.userData as PhoneSessionData | undefined)?.call;
      const body = JSON.stringify({ tool: spec.name, arguments: args, call });
      return callWithFillerAndFallback(
        ctx,
        { kind: 'http tool', logFields: { tool: spec.name }, speech: spec, logger: opts.logger },
        () => postJson(spec.url, body, { secret, timeoutMs, abortSignal }),
      );
    },
  });
}

type Outcome = RemoteOutcome<HttpToolFailure>;

async function postJson(
  url: string,
  body: string,
  o: { secret: string | undefined; timeoutMs: number; abortSignal: AbortSignal },
): Promise<Outcome> {
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    accept: 'application/json',
    'user-agent': 'phone-agents',
  };
  if (o.secret) headers[SIGNATURE_HEADER] = sign(o.secret, body);
  const timeout = AbortSignal.timeout(o.timeoutMs);
  const signal = AbortSignal.any([timeout, o.abortSignal]);
  try {
    const res = await fetch(url, { method: 'POST', headers, body, signal, redirect: 'error' });
    if (!res.ok) {
      await res.body?.cancel();
      return { ok: false, failure: 'status', status: res.status };
    }
    const text = await readLimited(res, httpToolDefaults.maxResponseBytes);
    if (text === undefined) return { ok: false, failure: 'too_large', status: res.status };
    try {
      return { ok: true, value: JSON.parse(text) as unknown };
    } catch {
      return { ok: false, failure: 'invalid_json', status: res.status };
    }
  } catch {
    return { ok: false, failure: timeout.aborted ? 'timeout' : 'network' };
  }
}

async function readLimited(res: Response, max: number): Promise<string | undefined> {
  if (!res.body) return '';
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
    size += chunk.byteLength;
    if (size > max) return undefined;
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}
