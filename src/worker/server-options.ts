/**
 * The worker's registration with LiveKit, as `main.ts` runs it: explicit dispatch under
 * AGENT_NAME, the load it reports (calls in progress of MAX_CONCURRENT_CALLS or CPU of
 * WORKER_MAX_CPU, whichever is higher; load.ts) and the refusal of job requests beyond
 * MAX_CONCURRENT_CALLS between two load reports. Built here, apart from the process start-up,
 * so tests check the options the worker really registers with.
 */
import { type AgentServer, type JobRequest, ServerOptions } from '@livekit/agents';
import type { Config } from '../core/config.js';
import { hasRoomForCall, LOAD_THRESHOLD, workerLoad } from './load.js';

export type WorkerServerSettings = Pick<
  Config,
  | 'AGENT_NAME'
  | 'LIVEKIT_URL'
  | 'LIVEKIT_API_KEY'
  | 'LIVEKIT_API_SECRET'
  | 'MAX_CONCURRENT_CALLS'
  | 'WORKER_MAX_CPU'
  | 'MAX_CALL_DURATION_S'
  | 'WORKER_HEALTH_PORT'
>;

export interface WorkerServer {
  options: ServerOptions;
  /** Calls running in this worker's job processes now (0 until the first load report). */
  activeCalls(): number;
}

export function workerServerOptions(
  config: WorkerServerSettings,
  /** The job file (job-entry.ts or .js). */
  agentFile: string,
  /** CPU use 0..1; default the SDK's own (cgroup-aware) measure, reused rather than rewritten. */
  cpuLoad: (server: AgentServer) => Promise<number> = new ServerOptions({ agent: agentFile })
    .loadFunc,
): WorkerServer {
  let server: AgentServer | undefined;

  async function loadFunc(worker: AgentServer): Promise<number> {
    server = worker;
    return workerLoad({
      activeCalls: worker.activeJobs.length,
      maxCalls: config.MAX_CONCURRENT_CALLS,
      cpu: await cpuLoad(worker),
      maxCpu: config.WORKER_MAX_CPU,
    });
  }

  /** LiveKit may offer calls between two load reports (2.5 s apart): refuse beyond the cap. */
  async function requestFunc(req: JobRequest): Promise<void> {
    const active = server?.activeJobs.length ?? 0;
    if (!hasRoomForCall(active, config.MAX_CONCURRENT_CALLS)) {
      await req.reject();
      return;
    }
    await req.accept();
  }

  const options = new ServerOptions({
    agent: agentFile,
    agentName: config.AGENT_NAME,
    // The worker speaks WebSocket; LIVEKIT_URL may be given as http(s)://.
    wsURL: (config.LIVEKIT_URL ?? '').replace(/^http/, 'ws'),
    apiKey: config.LIVEKIT_API_KEY,
    apiSecret: config.LIVEKIT_API_SECRET,
    loadFunc,
    requestFunc,
    // Not 0 or Infinity: the SDK replaces falsy values with its defaults (`||`).
    loadThreshold: LOAD_THRESHOLD,
    // Running calls may last up to their limit; a minute more for the summary to go out.
    drainTimeout: (config.MAX_CALL_DURATION_S + 60) * 1000,
    port: config.WORKER_HEALTH_PORT,
    // Prewarm loads the models and rehearses a call (job-entry.ts): several seconds on a busy node.
    initializeProcessTimeout: 60_000,
  });
  // The same count LiveKit gets as load: jobs running in this worker's job processes. Until the
  // first load report the server is not known yet, and no call runs either.
  return { options, activeCalls: () => server?.activeJobs.length ?? 0 };
}
