/**
 * Hands what only the agent knows (the callee answered, the call summary) to the API, which
 * turns it into signed call events (`POST /v1/calls/:id/events`, see src/api/routes/calls.ts).
 * The call id is the room name, as in the API's call model.
 *
 * Reporting never blocks or fails a call: sends run in the background with a bounded number of
 * attempts and a per-attempt timeout; `flush()` waits a bounded time at job end. Without
 * API_URL the events are only logged.
 */
import type { Logger } from '../core/logger.js';

export type WorkerEventType =
  | 'call.answered'
  | 'call.summary'
  | 'call.voicemail'
  | 'call.transferred';

export interface CallReporter {
  report(callId: string, type: WorkerEventType, data: Record<string, unknown>): void;
  /** Waits until pending sends finished or `timeoutMs` passed. */
  flush(timeoutMs?: number): Promise<void>;
}

export interface CallReporterOptions {
  /** API_URL; unset = log only. */
  apiUrl?: string;
  /** API_TOKEN (one of the API's API_KEYS). */
  token?: string;
  log: Logger;
  attempts?: number;
  timeoutMs?: number;
  baseDelayMs?: number;
}

const defaults = {
  attempts: 4,
  timeoutMs: 5000,
  baseDelayMs: 500,
} as const satisfies Partial<CallReporterOptions>;

export function createCallReporter(options: CallReporterOptions): CallReporter {
  const o = { ...defaults, ...options };
  const log = o.log.child({ component: 'call-report' });
  const pending = new Set<Promise<void>>();

  async function send(callId: string, type: WorkerEventType, body: string): Promise<void> {
    const url = new URL(`v1/calls/${encodeURIComponent(callId)}/events`, withSlash(o.apiUrl ?? ''));
    for (let attempt = 1; attempt <= o.attempts; attempt++) {
      let failure: string;
      try {
        const res = await fetch(url, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            ...(o.token ? { authorization: `Bearer ${o.token}` } : {}),
          },
          body,
          signal: AbortSignal.timeout(o.timeoutMs),
        });
        await res.arrayBuffer().catch(() => undefined);
        if (res.ok) {
          log.debug({ callId, type, attempt }, 'call event reported');
          return;
        }
        failure = `HTTP ${res.status}`;
        // A 4xx other than 429 will not get better by retrying (bad token, bad payload).
        if (res.status < 500 && res.status !== 429) attempt = o.attempts;
      } catch (err) {
        failure = (err as Error).name === 'TimeoutError' ? 'timeout' : (err as Error).message;
      }
      if (attempt >= o.attempts) {
        log.error({ callId, type, attempts: attempt, failure }, 'call event not reported');
        return;
      }
      const delay = o.baseDelayMs * 2 ** (attempt - 1);
      log.warn({ callId, type, attempt, failure, delay }, 'call event report failed; retrying');
      await new Promise((r) => setTimeout(r, delay));
    }
  }

  return {
    report(callId, type, data) {
      if (!o.apiUrl) {
        log.info({ callId, type, data }, 'call event (API_URL unset: not reported)');
        return;
      }
      const p = send(callId, type, JSON.stringify({ type, data })).finally(() => pending.delete(p));
      pending.add(p);
    },
    async flush(timeoutMs = 10_000) {
      if (pending.size === 0) return;
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        Promise.allSettled([...pending]),
        new Promise((r) => {
          timer = setTimeout(r, timeoutMs);
        }),
      ]);
      clearTimeout(timer);
    },
  };
}

function withSlash(base: string): string {
  return base.endsWith('/') ? base : `${base}/`;
}
