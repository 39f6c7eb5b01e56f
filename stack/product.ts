/**
 * The whole product on the real stack, for end-to-end tests: the real LiveKit server, SIP bridge
 * and Redis in a network namespace (stack/), the provider stand-ins (Deepgram, ElevenLabs and
 * OpenAI protocols, stack/providers) that the unmodified plugins talk to, our API in this process
 * and our worker as a child process inside the namespace, exactly as `npm run start:api` and
 * `npm run start:worker` run them. Phones are baresip (stack/phones.ts).
 *
 *   root namespace: vitest, the API (on the veth's host end), call-event receiver, stand-ins
 *   namespace:      redis, livekit-server, livekit-sip, the worker and its job processes, phones
 */
import type { ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../src/api/app.js';
import { loadConfig } from '../src/core/config.js';
import { createLogger } from '../src/core/logger.js';
import { createNetns, freePortOn, type Netns, REPO_ROOT } from './netns.js';
import { type Phone, type PhoneOptions, startPhone } from './phones.js';
import { type ProviderStandIns, startProviderStandIns } from './providers/index.js';
import { type Stack, startStack } from './services.js';
import { EVENTS_SECRET, EventReceiver } from './event-receiver.js';

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
}

export interface ApiAnswer {
  status: number;
  body: any;
}

export interface Product {
  readonly netns: Netns;
  readonly stack: Stack;
  readonly providers: ProviderStandIns;
  readonly app: FastifyInstance;
  /** Our API's base URL (http://<hostIp>:<port>). */
  readonly apiUrl: string;
  /** Signed call events the API sent (EVENTS_WEBHOOK_URL). */
  readonly events: EventReceiver;
  /** The worker process (inside the namespace); undefined with `worker: false`. */
  worker: ChildProcess | undefined;
  /** Calls our API with the API token. */
  api(method: string, path: string, body?: unknown): Promise<ApiAnswer>;
  /** A baresip phone in the namespace (stopped by stop()). */
  phone(opts: PhoneOptions): Promise<Phone>;
  /** Starts (another) worker; resolves once it registered with LiveKit. */
  startWorker(name?: string): Promise<ChildProcess>;
  /** The worker's log so far (JSON lines). */
  workerLog(name?: string): string;
  /** The call events of one call, by type, in arrival order. */
  callEvents(callId: string): Array<{ type: string; data: Record<string, any>; at: number }>;
  stop(): Promise<void>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function startProduct(opts: ProductOptions = {}): Promise<Product> {
  const netns = await createNetns();
  const apiPort = await freePortOn(netns.hostIp);
  const apiUrl = `http://${netns.hostIp}:${apiPort}`;
  const stack = await startStack({
    netns,
    webhookUrls: [`${apiUrl}/v1/livekit/webhook`],
  });
  const providers = await startProviderStandIns({ host: netns.hostIp });
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
  const app = await buildApp({ config, logger: createLogger(config, { name: 'api' }) });
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
    // The unmodified plugins, pointed at the stand-ins (no provider keys here).
    DEEPGRAM_API_KEY: 'e2e-deepgram-key',
    DEEPGRAM_BASE_URL: providers.deepgramBaseUrl,
    ELEVEN_API_KEY: 'e2e-eleven-key',
    ELEVEN_BASE_URL: providers.elevenlabsBaseUrl,
    OPENAI_API_KEY: 'e2e-openai-key',
    LLM_BASE_URL: providers.llmBaseUrl,
    // The test machine's CPU is shared with the stack and the tests: count calls, not CPU.
    WORKER_MAX_CPU: '0',
    ...opts.workerEnv,
  });

  const product: Product = {
    netns,
    stack,
    providers,
    app,
    apiUrl,
    events,
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
    async phone(o) {
      const p = await startPhone(stack, o);
      phones.push(p);
      return p;
    },
    async startWorker(name = 'worker') {
      const child = stack.spawnNode('src/worker/main.ts', ['start'], {
        env: workerEnv(),
        logName: name,
      });
      workers.set(name, child);
      const deadline = Date.now() + 90_000;
      // Registered, and an idle job process prewarmed (models loaded, rehearsal call done):
      // what a deployed worker has before its first call.
      const ready = () => {
        const log = product.workerLog(name);
        return log.includes('registered worker') && log.includes('job process ready');
      };
      while (!ready()) {
        if (child.exitCode !== null) {
          throw new Error(`${name} exited (${child.exitCode}):\n${product.workerLog(name)}`);
        }
        if (Date.now() > deadline) throw new Error(`${name} did not register in 90 s`);
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
      await events.stop?.();
      await stack.stop();
      await netns.remove();
    },
  };
  if (opts.worker ?? true) product.worker = await product.startWorker();
  return product;
}
