/**
 * The local stack's supervisor: one long-running process that owns the whole stack
 * (`npm run stack:up` starts it detached; `npm run stack:down` sends it SIGTERM).
 *
 *   supervisor (root namespace, its own session)      namespace pa-stack-<i> (its owner marker: this pid)
 *     our API on 10.77.<i>.1, provider stand-ins,       redis, livekit-server, livekit-sip,
 *     call-event receiver (127.0.0.1), provider relay   our worker and its job processes
 *
 * It composes the product with stack/product.ts (as the e2e tests do), routes the number to the
 * agent through our API (`PUT /v1/numbers/:e164`), loads the stand-ins' script, writes
 * `.stack/stack.json` and waits. On SIGTERM/SIGINT/SIGHUP it stops everything (the worker, the
 * servers, the namespace) and removes its state files. If the worker dies it is started again
 * (at most 5 times). Output goes to `.stack/supervisor.log`.
 *
 *   tsx stack/local/supervisor.ts [--number +E164] [--agent NAME] [--agents-file FILE]
 *                                 [--api-port N] [--standins FILE]
 */
import { existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { REPO_ROOT } from '../netns.js';
import { API_TOKEN, type Product, startProduct } from '../product.js';
import { agentsOfFile } from '../providers/index.js';
import { loadStandInScript } from '../providers/script-file.js';
import { clearState, DEFAULT_AGENT, DEFAULT_NUMBER, statePaths, writeInfo } from './state.js';

const log = (line: string) =>
  process.stdout.write(`${new Date().toISOString()} supervisor: ${line}\n`);

/** The running product, for the failure path. */
let running: Product | undefined;

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      number: { type: 'string', default: DEFAULT_NUMBER },
      agent: { type: 'string', default: DEFAULT_AGENT },
      'agents-file': { type: 'string' },
      'api-port': { type: 'string' },
      standins: { type: 'string' },
    },
  });
  const paths = statePaths();
  // This run's logs only; the previous run's stay in logs.previous/.
  rmSync(`${paths.logs}.previous`, { recursive: true, force: true });
  if (existsSync(paths.logs)) renameSync(paths.logs, `${paths.logs}.previous`);
  mkdirSync(paths.logs, { recursive: true });
  writeFileSync(paths.pid, String(process.pid));
  const agentsFile = resolve(
    values['agents-file'] ??
      process.env.AGENTS_CONFIG ??
      resolve(REPO_ROOT, 'config/agents.example.yaml'),
  );
  const standInsFile = resolve(values.standins ?? resolve(REPO_ROOT, 'stack/local/standins.yaml'));
  const standIns = loadStandInScript(standInsFile);
  const apiPort = values['api-port'] ? Number(values['api-port']) : undefined;

  let product: Product | undefined;
  let stopping = false;
  const stop = async (why: string, code: number) => {
    if (stopping) return;
    stopping = true;
    log(`stopping (${why})`);
    // Before the product exists, main() sees `stopping` once startProduct returns.
    if (!product) return;
    await product.stop().catch((err: unknown) => log(`stop: ${String(err)}`));
    clearState();
    log('stopped');
    process.exit(code);
  };
  for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) {
    process.on(sig, () => void stop(sig, 0));
  }

  log(`starting (pid ${process.pid}, logs ${paths.logs})`);
  const t0 = Date.now();
  product = await startProduct({
    agentsFile,
    logsDir: paths.logs,
    ...(apiPort ? { apiPort } : {}),
    realProviders: process.env,
    workerStartTimeoutMs: 240_000,
    apiEnv: { LOG_LEVEL: process.env.LOG_LEVEL ?? 'info' },
    workerEnv: { LOG_LEVEL: process.env.LOG_LEVEL ?? 'info' },
  });
  running = product;
  if (stopping) {
    stopping = false;
    return stop('stopped while starting', 0);
  }
  const p = product;
  log(`product up in ${Date.now() - t0} ms (${p.netns.name}, API ${p.apiUrl})`);

  // The stand-ins' script: what the caller is heard to say when nobody said, the LLM's rules.
  const { stt, tts, llm } = standIns;
  p.providers.setLatency({
    ...(stt?.latencyMs !== undefined ? { stt: stt.latencyMs } : {}),
    ...(tts?.latencyMs !== undefined ? { tts: tts.latencyMs } : {}),
    ...(llm?.latencyMs !== undefined ? { llm: llm.latencyMs } : {}),
  });
  p.providers.stt.setScript(stt?.script ?? [], { fallback: stt?.fallback ?? '' });
  if (llm?.rules) p.providers.llm.setRules(llm.rules, agentsOfFile(agentsFile));

  await p.routeNumber(values.number, values.agent);
  log(`${values.number} routed to ${values.agent}`);

  const writeState = () =>
    writeInfo({
      apiUrl: p.apiUrl,
      apiKey: API_TOKEN,
      livekitUrl: p.stack.livekitUrl,
      livekitApiKey: p.stack.apiKey,
      livekitApiSecret: p.stack.apiSecret,
      sipHost: p.stack.sipHost,
      sipPort: p.stack.sipPort,
      number: values.number,
      sipUri: p.stack.sipUri(values.number),
      agent: values.agent,
      agentsFile,
      netns: p.netns.name,
      hostIp: p.netns.hostIp,
      providers: p.providerChoice,
      standInControlUrl: p.providers.controlUrl,
      eventsUrl: p.events.url,
      logsDir: p.stack.logsDir,
      supervisorLog: paths.log,
      startedAt: new Date(t0).toISOString(),
      pids: {
        supervisor: process.pid,
        ...p.stack.pids,
        worker: p.worker?.pid ?? 0,
      },
    });

  // A worker that dies is started again (its log goes on in the same file).
  let restarts = 0;
  const watch = () => {
    p.worker?.once('exit', (code, signal) => {
      if (stopping) return;
      log(`worker exited (${code ?? signal}); see ${p.stack.logsDir}/worker.log`);
      if (++restarts > 5) return void stop('the worker keeps exiting', 1);
      setTimeout(() => {
        if (stopping) return;
        p.startWorker()
          .then((w) => {
            p.worker = w;
            writeState();
            log(`worker started again (pid ${w.pid})`);
            watch();
          })
          .catch((err: unknown) => void stop(`worker restart failed: ${String(err)}`, 1));
      }, 1_000);
    });
  };
  watch();
  writeState();
  log('ready');
}

main().catch(async (err: unknown) => {
  log(`failed: ${(err as Error).stack ?? String(err)}`);
  await running?.stop().catch(() => undefined);
  clearState();
  process.exit(1);
});
