/**
 * A shutdown request that reaches a job process before the framework listens for it is kept and
 * handed over once it does.
 *
 * agents-js 1.9's job process (ipc/job_proc_lazy_main) reads its first IPC message with
 * `once('message')` and attaches its message handler only after `prewarm` returned. Node reads
 * the IPC channel only while someone listens and emits each message on the next tick: a
 * `shutdownRequest` that arrives right behind the `initializeRequest`, or during prewarm, is
 * emitted to nobody and lost. That is what a drain (SIGTERM) does to a process the pool started
 * shortly before: the worker then waits `shutdownProcessTimeout` (60 s) for an acknowledgement,
 * SIGKILLs the process and only then exits, so a rolling deploy waited a minute for nothing
 * (test/e2e/rolling-deploy.test.ts found it; prewarm takes several seconds here).
 *
 * The fix wraps the process's `emit`: a `shutdownRequest` emitted while no `message` listener is
 * there is kept, and emitted again as soon as the framework's handler is attached.
 */

interface IpcMessage {
  case?: unknown;
}

let requested = false;

/** Whether a shutdown request arrived while the process was not listening yet (prewarm skips its rehearsal then). */
export function shutdownRequestedEarly(): boolean {
  return requested;
}

/** Installs the keeper in a job process (a no-op anywhere else); idempotent. */
export function keepEarlyShutdownRequests(proc: NodeJS.Process = process): void {
  if (!proc.send || !isJobProcess(proc) || (proc as Marked)[MARK]) return;
  (proc as Marked)[MARK] = true;
  let initialized = false;
  let kept: IpcMessage | undefined;
  const emit = proc.emit.bind(proc) as (event: string | symbol, ...args: unknown[]) => boolean;
  (proc as { emit: typeof emit }).emit = (event, ...args) => {
    if (event === 'message') {
      const msg = args[0] as IpcMessage | undefined;
      if (msg?.case === 'initializeRequest') initialized = true;
      if (msg?.case === 'shutdownRequest' && proc.listenerCount('message') === 0) {
        kept = msg;
        requested = true;
        return false;
      }
    }
    return emit(event, ...args);
  };
  proc.on('newListener', (event) => {
    if (event !== 'message' || !kept || !initialized) return;
    const msg = kept;
    kept = undefined;
    // `newListener` fires before the listener is added.
    setImmediate(() => emit('message', msg));
  });
}

const MARK = Symbol.for('phone-agents.keepEarlyShutdownRequests');
type Marked = NodeJS.Process & { [MARK]?: boolean };

/** agents-js forks job processes from its `job_proc_lazy_main` with the job file as argument. */
function isJobProcess(proc: NodeJS.Process): boolean {
  return /job_proc_lazy_main\.(c?js|ts)$/.test(proc.argv[1] ?? '');
}
