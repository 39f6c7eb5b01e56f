/**
 * A drain (SIGTERM) that arrives while the worker's process pool is starting a job process still
 * waits for the running calls.
 *
 * agents-js 1.9's `AgentServer.drain()` closes the idle job processes and joins every process of
 * the pool. The pool lists a replacement process before it starts it (it first waits for the
 * pool's init lock, held while another process runs its prewarm: several seconds here), and
 * joining a process that has not started rejects with "runner not started". `drain()` then
 * rejects at once, the CLI logs the error and closes the worker, and the close ends the running
 * calls. A restart under load hit this in 3 of 5 runs (bench:reliability): each call answered
 * shortly before the SIGTERM leaves such a process behind.
 *
 * The guard keeps what the drain already did (the worker reports itself full and takes no new
 * job) and, on that one error, waits itself until no job runs any more, within the drain's
 * timeout. The late process starts, warms up idle and is closed with the worker.
 */
import { type AgentServer, log, WorkerError } from '@livekit/agents';

/** How often a guarded drain looks whether the running calls have ended. */
const POLL_MS = 250;

const NOT_STARTED = 'runner not started';

type Drain = AgentServer['drain'];
type Guarded = Drain & { [MARK]?: true };
const MARK = Symbol.for('phone-agents.drainWaitsForRunningJobs');

/** Installs the guard on the class the CLI instantiates; idempotent. */
export function drainWaitsForRunningJobs(
  server: { prototype: AgentServer },
  drainTimeoutMs: number,
): void {
  const original = server.prototype.drain as Guarded;
  if (original[MARK]) return;
  const guarded: Guarded = async function (this: AgentServer, timeout?: number) {
    const startedAt = Date.now();
    try {
      await original.call(this, timeout);
    } catch (err) {
      if (!(err instanceof Error) || err.message !== NOT_STARTED) throw err;
      log().info(
        { runningCalls: this.activeJobs.length },
        'drain: a job process was still starting; waiting for the running calls to end',
      );
      await runningJobsEnded(this, (timeout ?? drainTimeoutMs) - (Date.now() - startedAt));
    }
  };
  guarded[MARK] = true;
  server.prototype.drain = guarded;
}

/** Resolves once `server` runs no job; rejects as agents-js does when `timeoutMs` passes first. */
async function runningJobsEnded(server: AgentServer, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (server.activeJobs.length > 0) {
    if (Date.now() >= deadline) throw new WorkerError('timed out draining');
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}
