/**
 * The job side of the worker: what each job process runs. Loaded by the agents framework in
 * every job process (see main.ts); `prewarm` runs once per process, before it takes a call, so
 * the models and the agents file are ready when the phone rings.
 */
import { defineAgent, type JobContext, type JobProcess } from '@livekit/agents';
import { loadAgentsFile } from '../agents/agents-file.js';
import { defaultCodeTools } from '../agents/code-tools.js';
import { McpServers } from '../agents/mcp-servers.js';
import { agentModels, createTurnDetector, loadVAD, sessionModels } from '../agents/providers.js';
import { runCallJob } from '../call/call-job.js';
import { createCallLeases } from '../call/call-lease.js';
import { createCallReporter } from '../call/call-report.js';
import {
  createPhoneSessionFactory,
  type PhoneSessionDeps,
  type ProcessResources,
  phoneSessionDeps,
  telephonyDeps,
  warmUpVad,
} from '../call/session.js';
import { type Config, loadConfig } from '../core/config.js';
import { createLiveKitClients } from '../core/livekit.js';
import { createLogger, redactFrameworkLogger } from '../core/logger.js';
import { loadNoiseSuppression } from '../telephony/noise/index.js';
import { keepEarlyShutdownRequests, shutdownRequestedEarly } from './early-shutdown.js';
import { RoomTransport } from './room-transport.js';
import { warmUpCall } from './warm-up-call.js';

/** A real call's session deps: the production providers and the LiveKit server of the settings. */
export function workerSessionDeps(config: Config, resources: ProcessResources): PhoneSessionDeps {
  return phoneSessionDeps(config, resources, {
    telephony: telephonyDeps(config, createLiveKitClients(config)),
    models: () => sessionModels(config),
    agentModels: agentModels(config),
    turnDetector: () => createTurnDetector(),
  });
}

// Before the framework listens: a drain's shutdown request must not get lost (early-shutdown.ts).
keepEarlyShutdownRequests();

type ProcessData = {
  job: Awaited<ReturnType<typeof prepareProcess>>;
};

/**
 * Everything a job process loads once: settings, agents file, VAD, noise suppression, the
 * LiveKit server clients and hold audio of the telephony features, the MCP servers' tool lists;
 * then a rehearsal call
 * (warm-up-call.ts) compiles the call path before a caller waits on it.
 */
async function prepareProcess() {
  const config = loadConfig({ role: 'worker' });
  const log = createLogger(config, { name: 'worker' });
  const codeTools = defaultCodeTools();
  const agents = loadAgentsFile(config.AGENTS_CONFIG, { codeToolNames: codeTools.names() });
  const [vad, noise] = await Promise.all([loadVAD(config), loadNoiseSuppression(config, log)]);
  await warmUpVad(vad);
  // MCP servers' tools are listed once here, then per call only when the cache time ran out;
  // a server that is down is logged and tried again at each call's start.
  const mcp = new McpServers(agents.mcpServers.values(), {
    log,
    cacheTtlMs: config.MCP_TOOLS_CACHE_TTL_S * 1000,
  });
  await mcp.discoverAll();
  const createSession = createPhoneSessionFactory({
    ...workerSessionDeps(config, { agents, codeTools, vad, noise, log }),
    mcp,
  });
  const api = {
    ...(config.API_URL ? { apiUrl: config.API_URL } : {}),
    ...(config.API_TOKEN ? { token: config.API_TOKEN } : {}),
    log,
  };
  const reporter = createCallReporter(api);
  // The lease and checkpoints that let another worker take a call over if this process dies.
  const leases = createCallLeases(api);
  // A process the worker no longer wants (it drains) skips the rehearsal: it only has to exit.
  if (config.JOB_WARM_UP_CALL && !shutdownRequestedEarly()) {
    // A failed rehearsal only costs the first call its speed: log it, take calls anyway.
    await warmUpCall({ config, agents, vad, noise, log }).catch((err: Error) =>
      log.warn({ err: err.message }, 'warm-up call failed'),
    );
  }
  return { config, log, agents, createSession, reporter, leases };
}

export default defineAgent<ProcessData>({
  prewarm: async (proc: JobProcess<ProcessData>) => {
    const t0 = performance.now();
    const job = await prepareProcess();
    proc.userData.job = job;
    // Operations (and the end-to-end tests) see when a process can take a call at full speed.
    job.log.info({ prewarmMs: Math.round(performance.now() - t0) }, 'job process ready');
  },
  entry: async (ctx: JobContext<ProcessData>) => {
    // The framework's own lines (each tool call with its arguments) must not show the keys
    // send_dtmf presses either. Here, not in prewarm: at each job's start the framework makes
    // its process-wide logger anew (a child with the job's id, from the one before prewarm).
    redactFrameworkLogger();
    const { config, log, agents, createSession, reporter, leases } =
      ctx.proc.userData.job ?? (await prepareProcess());
    try {
      await runCallJob({
        transport: new RoomTransport(ctx, { log, frameMs: config.CALLER_FRAME_MS }),
        agents,
        createSession,
        reporter,
        leases,
        log,
        limits: {
          // The agent says goodbye shortly before; this is the hard cut (call-job.ts).
          maxCallDurationMs: config.MAX_CALL_DURATION_S * 1000,
          answerTimeoutMs: config.OUTBOUND_ANSWER_TIMEOUT_S * 1000,
        },
        ...(config.PHONE_DEFAULT_REGION ? { defaultRegion: config.PHONE_DEFAULT_REGION } : {}),
      });
    } finally {
      ctx.shutdown('call ended');
    }
  },
});
