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
import { AgentServer, cli } from '@livekit/agents';
import { loadAgentsFile } from '../agents/agents-file.js';
import { defaultCodeTools } from '../agents/code-tools.js';
import { loadConfig } from '../core/config.js';
import { isCatalogError } from '../core/errors.js';
import { drainWaitsForRunningJobs } from './drain.js';
import { applyJobProcessFlags } from './job-process-flags.js';
import { startWorkerMetrics } from './metrics.js';
import { workerServerOptions } from './server-options.js';

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

const worker = workerServerOptions(config, agentFile);

// The same count LiveKit gets as load (server-options.ts).
await startWorkerMetrics({
  port: config.WORKER_METRICS_PORT,
  activeCalls: worker.activeCalls,
}).catch((err: Error) => {
  console.error(`WORKER_METRICS_PORT ${config.WORKER_METRICS_PORT}: ${err.message}`);
  process.exit(2);
});

// commander (inside cli.runApp) reads LOG_LEVEL itself and knows no "silent".
if (process.env.LOG_LEVEL === 'silent') process.env.LOG_LEVEL = 'fatal';

// A SIGTERM while the pool starts a job process must not end the running calls (drain.ts).
drainWaitsForRunningJobs(AgentServer, worker.options.drainTimeout);

cli.runApp(worker.options);
