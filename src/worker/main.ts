/**
 * The agent worker: `npm run start:worker` (production) or `npm run dev:worker`.
 *
 * Registers with LiveKit under AGENT_NAME for explicit dispatch (dispatch rules, the API's
 * outbound calls). Each call runs in its own job process (job-entry.ts). The worker reports its
 * load as calls in progress of MAX_CONCURRENT_CALLS or CPU of WORKER_MAX_CPU, whichever is
 * higher, so LiveKit stops sending calls to a full worker; between load reports a job request is
 * also refused when the worker already runs MAX_CONCURRENT_CALLS. The calls in progress are also
 * served to Prometheus on WORKER_METRICS_PORT (metrics.ts) for autoscaling. SIGTERM drains: no
 * new calls, running calls finish (up to MAX_CALL_DURATION_S), then the process exits.
 */
import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type AgentServer, cli, type JobRequest, ServerOptions } from '@livekit/agents';
import { loadAgentsFile } from '../agents/agents-file.js';
import { defaultCodeTools } from '../agents/code-tools.js';
import { loadConfig } from '../core/config.js';
import { isCatalogError } from '../core/errors.js';
import { applyJobProcessFlags } from './job-process-flags.js';
import { hasRoomForCall, LOAD_THRESHOLD, workerLoad } from './load.js';
import { startWorkerMetrics } from './metrics.js';

/** Settings and the agents file are checked here, so a mistake stops the worker with one line. */
function checkedConfig() {
  try {
    const c = loadConfig({ role: 'worker' });
    loadAgentsFile(c.AGENTS_CONFIG, { codeToolNames: defaultCodeTools().names() });
    return c;
  } catch (err) {
    if (!isCatalogError(err)) throw err;
    console.error((err as Error).message);
    process.exit(2);
  }
}

const config = checkedConfig();
applyJobProcessFlags(config);

// The job file sits beside this one, .ts under tsx and .js when built.
const agentFile = fileURLToPath(new URL(`./job-entry${extname(import.meta.url)}`, import.meta.url));

// The SDK's own CPU measure (cgroup-aware), reused rather than rewritten.
const sdkCpuLoad = new ServerOptions({ agent: agentFile }).loadFunc;

let server: AgentServer | undefined;

async function loadFunc(worker: AgentServer): Promise<number> {
  server = worker;
  return workerLoad({
    activeCalls: worker.activeJobs.length,
    maxCalls: config.MAX_CONCURRENT_CALLS,
    cpu: await sdkCpuLoad(worker),
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

// The same count LiveKit gets as load: jobs running in this worker's job processes. Until the
// first load report the server is not known yet, and no call runs either.
await startWorkerMetrics({
  port: config.WORKER_METRICS_PORT,
  activeCalls: () => server?.activeJobs.length ?? 0,
}).catch((err: Error) => {
  console.error(`WORKER_METRICS_PORT ${config.WORKER_METRICS_PORT}: ${err.message}`);
  process.exit(2);
});

// commander (inside cli.runApp) reads LOG_LEVEL itself and knows no "silent".
if (process.env.LOG_LEVEL === 'silent') process.env.LOG_LEVEL = 'fatal';

cli.runApp(
  new ServerOptions({
    agent: agentFile,
    agentName: config.AGENT_NAME,
    // The worker speaks WebSocket; LIVEKIT_URL may be given as http(s)://.
    wsURL: config.LIVEKIT_URL!.replace(/^http/, 'ws'),
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
  }),
);
