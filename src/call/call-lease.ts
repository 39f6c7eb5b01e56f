/**
 * While a call runs, its job holds the call at the API, so that another worker can take the call
 * over if this process dies (src/api/agent-recovery.ts, docs/reliability.md):
 *
 * - the **lease**: `GET /v1/calls/:id/lease?identity=…` held open for the whole call. When the
 *   process dies its socket closes and the API knows at once. The API sends a heartbeat line
 *   every 2 s; after `heartbeatTimeoutMs` without one (a dead or stuck API replica) the job
 *   leases again and only then drops the old connection, so a reconnect never looks like a death.
 * - **checkpoints**: `PUT /v1/calls/:id/checkpoint` with the agent talking, the last lines of the
 *   conversation and the call's start, sent `debounceMs` after each conversation item (one at a
 *   time; the newest state wins). `release()` sends the last one as `ended` (or `handed-off`,
 *   a warm transfer bridged caller and human) before the lease closes: no take-over then.
 *
 * Like call reporting, none of this ever blocks or fails a call: failures are logged and retried.
 * Without API_URL there is no lease (the calls are then not taken over).
 */
import type { ResumeLine } from '../core/job-metadata.js';
import type { Logger } from '../core/logger.js';

/** Lines a checkpoint carries (the newest), and their longest text. */
export const CHECKPOINT_LINES = 20;
const LINE_CHARS = 500;

export interface CheckpointState {
  /** The agent talking now. */
  agent?: string;
  /** The conversation so far (the last CHECKPOINT_LINES are sent). */
  transcript: readonly ResumeLine[];
}

export interface CallLease {
  /** The conversation changed: checkpoint it (debounced). */
  checkpoint(state: CheckpointState): void;
  /**
   * The call is over (`ended`) or handed to a human (`handed-off`): the last checkpoint says so,
   * then the lease closes. Nobody takes such a call over.
   */
  release(state: 'ended' | 'handed-off'): Promise<void>;
  /** Drops the lease without a word (this job was taken over: its successor holds the call). */
  abandon(): void;
}

export interface CallLeases {
  open(
    callId: string,
    o: {
      /** This job's participant identity in the room (`agent-AJ_…`). */
      agentIdentity: string;
      /** Epoch ms the call started (a take-over carries the original start). */
      startedAt: number;
      /** 0 for the call's first agent, n for the n-th take-over. */
      attempt: number;
    },
  ): CallLease;
}

export interface CallLeasesOptions {
  /** API_URL; unset = no leases (calls are then not taken over). */
  apiUrl?: string;
  /** API_TOKEN. */
  token?: string;
  log: Logger;
  debounceMs?: number;
  heartbeatTimeoutMs?: number;
  requestTimeoutMs?: number;
}

const defaults = {
  debounceMs: 250,
  heartbeatTimeoutMs: 6500,
  requestTimeoutMs: 4000,
} as const;

const noLease: CallLease = {
  checkpoint() {},
  async release() {},
  abandon() {},
};

export function createCallLeases(options: CallLeasesOptions): CallLeases {
  const o = { ...defaults, ...options };
  const log = o.log.child({ component: 'call-lease' });
  const base = o.apiUrl ? (o.apiUrl.endsWith('/') ? o.apiUrl : `${o.apiUrl}/`) : undefined;
  const headers: Record<string, string> = o.token ? { authorization: `Bearer ${o.token}` } : {};

  return {
    open(callId, meta) {
      if (!base) return noLease;
      const path = `v1/calls/${encodeURIComponent(callId)}`;
      const leaseUrl = new URL(
        `${path}/lease?identity=${encodeURIComponent(meta.agentIdentity)}`,
        base,
      );
      const checkpointUrl = new URL(`${path}/checkpoint`, base);
      const clog = log.child({ callId });
      let done = false;
      let current: AbortController | undefined;

      // ── the lease ──────────────────────────────────────────────────────────────────────────
      const hold = async () => {
        let failures = 0;
        let previous: AbortController | undefined;
        while (!done) {
          const ctl = new AbortController();
          try {
            const res = await fetch(leaseUrl, { headers, signal: ctl.signal });
            if (!res.ok || !res.body) {
              await res.arrayBuffer().catch(() => undefined);
              throw new Error(`HTTP ${res.status}`);
            }
            // Leased (again): only now let the previous connection go.
            current = ctl;
            previous?.abort();
            previous = undefined;
            if (done) break; // released or abandoned while this lease was being taken
            if (failures > 0) clog.info({ failures }, 'call lease held again');
            failures = 0;
            const reason = await readUntilSilent(res.body, o.heartbeatTimeoutMs, () => done);
            if (done) break;
            clog.warn({ reason }, 'call lease interrupted; leasing again');
            // A silent (stuck) connection stays open until the new lease holds.
            if (reason === 'silent') previous = ctl;
            else ctl.abort();
          } catch (err) {
            ctl.abort();
            if (done) break;
            failures++;
            const delay = Math.min(2000, 100 * 2 ** Math.min(failures - 1, 5));
            if (failures === 1 || failures % 10 === 0) {
              clog.warn({ err: (err as Error).message, failures, delay }, 'call lease failed');
            }
            await new Promise((r) => setTimeout(r, delay));
          }
        }
        // The call is over for this job: no connection of its lease may stay open.
        current?.abort();
        previous?.abort();
      };
      void hold();

      // ── checkpoints ────────────────────────────────────────────────────────────────────────
      let latest: CheckpointState = { transcript: [] };
      let timer: NodeJS.Timeout | undefined;
      let sending: Promise<void> | undefined;
      let dirty = false;

      const body = (state: 'live' | 'ended' | 'handed-off') =>
        JSON.stringify({
          agentIdentity: meta.agentIdentity,
          ...(latest.agent ? { agent: latest.agent } : {}),
          startedAt: Math.round(meta.startedAt),
          attempt: meta.attempt,
          state,
          transcript: latest.transcript.slice(-CHECKPOINT_LINES).map((l) => ({
            t: Math.max(0, Math.round(l.t)),
            role: l.role,
            text: l.text.slice(0, LINE_CHARS),
            ...(l.agent ? { agent: l.agent } : {}),
          })),
        });

      const put = async (state: 'live' | 'ended' | 'handed-off'): Promise<void> => {
        try {
          const res = await fetch(checkpointUrl, {
            method: 'PUT',
            headers: { ...headers, 'content-type': 'application/json' },
            body: body(state),
            signal: AbortSignal.timeout(o.requestTimeoutMs),
          });
          const text = await res.text().catch(() => '');
          if (!res.ok) clog.warn({ status: res.status, body: text }, 'checkpoint not stored');
          else if (text.includes('"stored":false')) {
            clog.warn('checkpoint refused: another agent took this call over');
          }
        } catch (err) {
          clog.warn({ err: (err as Error).message }, 'checkpoint failed');
        }
      };

      const flush = () => {
        timer = undefined;
        if (sending) {
          dirty = true;
          return;
        }
        sending = put('live').finally(() => {
          sending = undefined;
          if (dirty && !done) {
            dirty = false;
            flush();
          }
        });
      };

      return {
        checkpoint(state) {
          if (done) return;
          latest = { ...state, transcript: [...state.transcript] };
          if (!timer) timer = setTimeout(flush, o.debounceMs);
        },
        async release(state) {
          if (done) return;
          done = true;
          clearTimeout(timer);
          await sending;
          await put(state);
          current?.abort();
        },
        abandon() {
          done = true;
          clearTimeout(timer);
          current?.abort();
        },
      };
    },
  };
}

/**
 * Reads a lease's heartbeat stream until it ends (`ended`), fails (`error`), stays silent for
 * `silentMs` (`silent`) or `stop()` says so.
 */
async function readUntilSilent(
  stream: ReadableStream<Uint8Array>,
  silentMs: number,
  stop: () => boolean,
): Promise<'ended' | 'error' | 'silent'> {
  const reader = stream.getReader();
  try {
    for (;;) {
      let timer: NodeJS.Timeout | undefined;
      const silent = new Promise<'silent'>((r) => {
        timer = setTimeout(() => r('silent'), silentMs);
      });
      const next = await Promise.race([reader.read(), silent]).finally(() => clearTimeout(timer));
      if (next === 'silent') return stop() ? 'ended' : 'silent';
      if (next.done) return 'ended';
    }
  } catch {
    return 'error';
  } finally {
    // A read still pending (silent) is rejected by the release: nothing waits on it.
    try {
      reader.releaseLock();
    } catch {}
  }
}
