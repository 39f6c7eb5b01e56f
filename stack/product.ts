/**
 * The whole product on the real stack, for end-to-end tests: the real LiveKit server, SIP bridge
 * and Redis in a network namespace (stack/), the provider stand-ins (Deepgram, ElevenLabs and
 * OpenAI protocols, stack/providers) that the unmodified plugins talk to, our API in this process
 * and our worker as a child process inside the namespace, exactly as `npm run start:api` and
 * `npm run start:worker` run them. Phones are baresip (stack/phones.ts).
 *
 * The end-to-end tests, `npm run bench:e2e` and the local stack (`npm run stack:up`,
 * stack/local/supervisor.ts) all compose the product here. With `realProviders` the providers
 * whose keys are set there are the real ones, reached through a relay on the veth's host end
 * (stack/provider-relay.ts: the namespace has no route out); the stand-ins serve the rest.
 *
 *   root namespace: vitest, the API (on the veth's host end), call-event receiver, stand-ins
 *   namespace:      redis, livekit-server, livekit-sip, the worker and its job processes, phones
 */
import type { ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import pino from 'pino';
import { buildApp } from '../src/api/app.js';
import { loadConfig } from '../src/core/config.js';
import { createLogger } from '../src/core/logger.js';
import { speak } from '../src/sim/offline-tts.js';
import { EVENTS_SECRET, EventReceiver } from './event-receiver.js';
import { createNetns, freePortOn, type Netns, REPO_ROOT } from './netns.js';
import { type Phone, type PhoneOptions, startPhone } from './phones.js';
import { type ProviderRelay, startProviderRelay } from './provider-relay.js';
import { type ProviderStandIns, startProviderStandIns } from './providers/index.js';
import { DEV_API_KEY, DEV_API_SECRET, type Stack, startStack } from './services.js';
import { startWebhookSink, type WebhookSink } from './webhook-sink.js';

export const API_TOKEN = 'e2e-api-token-0123456789';
export const AGENT_NAME = 'phone-agent';

export interface ProductOptions {
  /** Agents file of the worker (default: the example). */
  agentsFile?: string;
  /** Extra settings of the worker (e.g. MAX_CALL_DURATION_S, SILENCE_TIMEOUT_S). */
  workerEnv?: Record<string, string>;
  /** Extra settings of the API. */
  apiEnv?: Record<string, string>;
  /** Start the worker (default true). */
  worker?: boolean;
  /** Where logs and generated configs go (default: a new temp folder, see startStack). */
  logsDir?: string;
  /**
   * Capture every packet inside the namespace to `<logsDir>/namespace.pcapng` (startStack's
   * `capture`; default PA_STACK_CAPTURE=1). Tests read the RTP on the wire from it.
   */
  capture?: boolean;
  /** Port of our API on the veth's host end (default: a free one). */
  apiPort?: number;
  /** How long a worker may take to register and prewarm a job process (default 90 s). */
  workerStartTimeoutMs?: number;
  /**
   * Use the real providers configured in this environment, each on its own, instead of the
   * stand-ins: Deepgram when DEEPGRAM_API_KEY is set, ElevenLabs when ELEVEN_API_KEY is, the LLM
   * when OPENAI_API_KEY or LLM_BASE_URL is (with their *_BASE_URL, *_MODEL, DEEPGRAM_LANGUAGE,
   * ELEVEN_VOICE_ID, LLM_TEMPERATURE). Default: the stand-ins for all three.
   */
  realProviders?: Record<string, string | undefined>;
  /**
   * Write the API's log (JSON lines, at `apiEnv.LOG_LEVEL` or E2E_LOG_LEVEL, default warn) to
   * `<logsDir>/api.log` instead of this process's stdout; read it with `product.apiLog()`.
   */
  apiLogFile?: boolean;
}

/** Which provider serves each part of the pipeline. */
export interface ProviderChoice {
  stt: 'stand-in' | 'deepgram';
  tts: 'stand-in' | 'elevenlabs';
  llm: 'stand-in' | 'openai-compatible';
}

export interface ApiAnswer {
  status: number;
  body: any;
}

export interface Product {
  readonly netns: Netns;
  readonly stack: Stack;
  readonly providers: ProviderStandIns;
  /** Which provider serves STT, TTS and LLM (the stand-ins unless `realProviders` says otherwise). */
  readonly providerChoice: ProviderChoice;
  /** The relay to the real providers (only with real providers). */
  readonly relay: ProviderRelay | undefined;
  readonly app: FastifyInstance;
  /** Our API's base URL (http://<hostIp>:<port>). */
  readonly apiUrl: string;
  /** Signed call events the API sent (EVENTS_WEBHOOK_URL). */
  readonly events: EventReceiver;
  /** Every webhook the LiveKit server sent (a second `webhook.urls` target beside our API). */
  readonly livekitWebhooks: WebhookSink;
  /** The worker process (inside the namespace); undefined with `worker: false`. */
  worker: ChildProcess | undefined;
  /** Calls our API with the API token. */
  api(method: string, path: string, body?: unknown): Promise<ApiAnswer>;
  /** Routes a number to an agent (`PUT /v1/numbers/:e164`); throws with the API's answer if refused. */
  routeNumber(number: string, agent: string): Promise<void>;
  /** A baresip phone in the namespace (stopped by stop()). */
  phone(opts: PhoneOptions): Promise<Phone>;
  /**
   * Starts (another) worker; resolves once it registered with LiveKit. `env` adds settings for
   * this worker only (e.g. DEFAULT_OUTBOUND_TRUNK_ID of a trunk made after the stack started).
   */
  startWorker(name?: string, opts?: { env?: Record<string, string> }): Promise<ChildProcess>;
  /** The worker's log so far (JSON lines). */
  workerLog(name?: string): string;
  /** The API's log so far (JSON lines; only with `apiLogFile`, otherwise ''). */
  apiLog(): string;
  /** The call events of one call, by type, in arrival order. */
  callEvents(callId: string): Array<{ type: string; data: Record<string, any>; at: number }>;
  stop(): Promise<void>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const DEFAULT_PROVIDER_URLS = {
  deepgram: 'wss://api.deepgram.com',
  elevenlabs: 'https://api.elevenlabs.io/v1',
  llm: 'https://api.openai.com/v1',
} as const;

/** The worker's provider settings: stand-ins, or the real providers through the relay. */
async function providerSettings(
  hostIp: string,
  standIns: ProviderStandIns,
  real: Record<string, string | undefined> | undefined,
): Promise<{ env: Record<string, string>; choice: ProviderChoice; relay?: ProviderRelay }> {
  const set = (k: string) => (real?.[k] ?? '').trim() !== '';
  const pick = (keys: string[]) =>
    Object.fromEntries(keys.filter(set).map((k) => [k, real![k]!.trim()]));
  const choice: ProviderChoice = {
    stt: set('DEEPGRAM_API_KEY') ? 'deepgram' : 'stand-in',
    tts: set('ELEVEN_API_KEY') ? 'elevenlabs' : 'stand-in',
    llm: set('OPENAI_API_KEY') || set('LLM_BASE_URL') ? 'openai-compatible' : 'stand-in',
  };
  const targets: string[] = [];
  const target = (key: string, fallback: string) => {
    const url = set(key) ? real![key]!.trim() : fallback;
    targets.push(url);
    return url;
  };
  const deepgram =
    choice.stt === 'deepgram' ? target('DEEPGRAM_BASE_URL', DEFAULT_PROVIDER_URLS.deepgram) : '';
  const eleven =
    choice.tts === 'elevenlabs' ? target('ELEVEN_BASE_URL', DEFAULT_PROVIDER_URLS.elevenlabs) : '';
  const llm =
    choice.llm === 'openai-compatible' ? target('LLM_BASE_URL', DEFAULT_PROVIDER_URLS.llm) : '';
  const relay = targets.length ? await startProviderRelay(hostIp, targets) : undefined;
  const via = (url: string) => relay?.targets.find((t) => t.target === url)?.url ?? '';
  const env: Record<string, string> =
    choice.stt === 'deepgram'
      ? {
          ...pick(['DEEPGRAM_API_KEY', 'DEEPGRAM_MODEL', 'DEEPGRAM_LANGUAGE']),
          DEEPGRAM_BASE_URL: via(deepgram),
        }
      : { DEEPGRAM_API_KEY: 'e2e-deepgram-key', DEEPGRAM_BASE_URL: standIns.deepgramBaseUrl };
  Object.assign(
    env,
    choice.tts === 'elevenlabs'
      ? {
          ...pick(['ELEVEN_API_KEY', 'ELEVEN_MODEL', 'ELEVEN_VOICE_ID']),
          ELEVEN_BASE_URL: via(eleven),
        }
      : { ELEVEN_API_KEY: 'e2e-eleven-key', ELEVEN_BASE_URL: standIns.elevenlabsBaseUrl },
    choice.llm === 'openai-compatible'
      ? {
          // Servers without auth take any key; the worker's settings want one.
          OPENAI_API_KEY: 'local-stack',
          ...pick(['OPENAI_API_KEY', 'LLM_MODEL', 'LLM_TEMPERATURE']),
          LLM_BASE_URL: via(llm),
        }
      : { OPENAI_API_KEY: 'e2e-openai-key', LLM_BASE_URL: standIns.llmBaseUrl },
  );
  return { env, choice, ...(relay ? { relay } : {}) };
}

export async function startProduct(opts: ProductOptions = {}): Promise<Product> {
  const netns = await createNetns();
  const apiPort = opts.apiPort ?? (await freePortOn(netns.hostIp));
  const apiUrl = `http://${netns.hostIp}:${apiPort}`;
  const livekitWebhooks = await startWebhookSink(netns.hostIp, DEV_API_KEY, DEV_API_SECRET);
  const stack = await startStack({
    netns,
    webhookUrls: [`${apiUrl}/v1/livekit/webhook`, livekitWebhooks.url],
    ...(opts.logsDir ? { logsDir: opts.logsDir } : {}),
    ...(opts.capture !== undefined ? { capture: opts.capture } : {}),
  });
  const providers = await startProviderStandIns({ host: netns.hostIp });
  // The TTS stand-in renders with eSpeak (WASM) in this process: its first sentences cost up to
  // ~1.5 s each while V8 compiles it (steady state ~0.15 s per sentence). A real TTS answers in a
  // few hundred ms, so warm it up now, alongside the worker's start, not in a call's first turn.
  const ttsWarm = warmUpTtsStandIn(providers).catch(() => undefined);
  const chosen = await providerSettings(netns.hostIp, providers, opts.realProviders);
  const events = new EventReceiver();
  await events.start();

  const config = loadConfig({
    role: 'api',
    env: {
      LIVEKIT_URL: stack.livekitHttpUrl,
      LIVEKIT_API_KEY: stack.apiKey,
      LIVEKIT_API_SECRET: stack.apiSecret,
      API_KEYS: API_TOKEN,
      REDIS_URL: stack.redisUrl,
      EVENTS_WEBHOOK_URL: events.url,
      EVENTS_WEBHOOK_SECRET: EVENTS_SECRET,
      EVENTS_RETRY_BASE_MS: '100',
      AGENT_NAME,
      LOG_LEVEL: process.env.E2E_LOG_LEVEL ?? 'warn',
      ...opts.apiEnv,
    },
  });
  const apiLogPath = join(stack.logsDir, 'api.log');
  const app = await buildApp({
    config,
    logger: createLogger(config, {
      name: 'api',
      ...(opts.apiLogFile
        ? { destination: pino.destination({ dest: apiLogPath, sync: true }) }
        : {}),
    }),
  });
  await app.listen({ host: netns.hostIp, port: apiPort });

  const phones: Phone[] = [];
  const workers = new Map<string, ChildProcess>();

  const workerEnv = (): NodeJS.ProcessEnv => ({
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    NODE_ENV: 'production',
    LOG_LEVEL: process.env.E2E_LOG_LEVEL ?? 'info',
    ...stack.env(),
    AGENT_NAME,
    AGENTS_CONFIG: opts.agentsFile ?? join(REPO_ROOT, 'config/agents.example.yaml'),
    TOOLS_SECRET: 'e2e-tools-secret',
    API_URL: apiUrl,
    API_TOKEN,
    // The unmodified plugins, pointed at the stand-ins (or, with `realProviders`, at the
    // relay to the real providers).
    ...chosen.env,
    // The test machine's CPU is shared with the stack and the tests: count calls, not CPU.
    WORKER_MAX_CPU: '0',
    ...opts.workerEnv,
  });

  const product: Product = {
    netns,
    stack,
    providers,
    providerChoice: chosen.choice,
    relay: chosen.relay,
    app,
    apiUrl,
    events,
    livekitWebhooks,
    worker: undefined,
    async api(method, path, body) {
      const res = await fetch(`${apiUrl}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${API_TOKEN}`,
          ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      });
      const text = await res.text();
      return { status: res.status, body: text ? JSON.parse(text) : undefined };
    },
    async routeNumber(number, agent) {
      const res = await this.api('PUT', `/v1/numbers/${encodeURIComponent(number)}`, {
        agent: { name: agent },
      });
      if (res.status >= 300) {
        throw new Error(`routing ${number} → ${agent}: ${res.status} ${JSON.stringify(res.body)}`);
      }
    },
    async phone(o) {
      const p = await startPhone(stack, o);
      phones.push(p);
      return p;
    },
    async startWorker(name = 'worker', o = {}) {
      // Each worker its own health and metrics ports: several may share the namespace.
      const ports = netns.allocPorts(2);
      // Readiness is read from what this start adds to the log (a log kept from an earlier
      // start, as the local stack's, already says "registered").
      const logFrom = product.workerLog(name).length;
      const child = stack.spawnNode('src/worker/main.ts', ['start'], {
        env: {
          WORKER_HEALTH_PORT: String(ports),
          WORKER_METRICS_PORT: String(ports + 1),
          ...workerEnv(),
          ...o.env,
        },
        logName: name,
      });
      workers.set(name, child);
      const limitMs = opts.workerStartTimeoutMs ?? 90_000;
      const deadline = Date.now() + limitMs;
      // Registered, and an idle job process prewarmed (models loaded, rehearsal call done):
      // what a deployed worker has before its first call.
      const ready = () => {
        const log = product.workerLog(name).slice(logFrom);
        return log.includes('registered worker') && log.includes('job process ready');
      };
      while (!ready()) {
        if (child.exitCode !== null) {
          throw new Error(`${name} exited (${child.exitCode}):\n${product.workerLog(name)}`);
        }
        if (Date.now() > deadline) {
          throw new Error(`${name} did not register in ${Math.round(limitMs / 1000)} s`);
        }
        await sleep(200);
      }
      return child;
    },
    workerLog(name = 'worker') {
      try {
        return readFileSync(join(stack.logsDir, `${name}.log`), 'utf8');
      } catch {
        return '';
      }
    },
    apiLog() {
      try {
        return readFileSync(apiLogPath, 'utf8');
      } catch {
        return '';
      }
    },
    callEvents(callId) {
      return events.deliveries
        .filter((d) => d.valid)
        .map((d) => ({
          ...(JSON.parse(d.body) as { type: string; callId: string; data: any }),
          at: d.at,
        }))
        .filter((e) => e.callId === callId)
        .map((e) => ({ type: e.type, data: e.data, at: e.at }));
    },
    async stop() {
      for (const p of phones) await p.stop().catch(() => undefined);
      for (const w of workers.values()) if (w.exitCode === null) w.kill('SIGKILL');
      await app.close().catch(() => undefined);
      await providers.close().catch(() => undefined);
      await chosen.relay?.close().catch(() => undefined);
      await events.stop?.();
      await stack.stop();
      await livekitWebhooks.close().catch(() => undefined);
      await netns.remove();
    },
  };
  if (opts.worker ?? true) {
    try {
      product.worker = await product.startWorker();
    } catch (err) {
      await product.stop();
      throw err;
    }
  }
  await ttsWarm;
  return product;
}

/** Renders a few sentences with the TTS stand-in's voice (see startProduct). */
async function warmUpTtsStandIn(providers: ProviderStandIns): Promise<void> {
  const { defaultVoice: voice, rate } = providers.tts.options;
  for (const text of [
    'Warming up.',
    'Thanks for calling, this is the warm-up sentence. How can I help you today?',
    'One more sentence, with a comma, to finish the warm-up of the voice.',
    'And the last one.',
  ]) {
    await speak(text, { voice, rate, sampleRate: 16000 });
  }
}
