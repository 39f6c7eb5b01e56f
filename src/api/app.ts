/**
 * Builds the Fastify app: authentication, rate limits, problem+json errors, metrics, OpenAPI
 * and the route plugins. `main.ts` runs it; tests and benchmarks build it with their own deps.
 */
import { randomUUID } from 'node:crypto';
import rateLimit from '@fastify/rate-limit';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import Fastify, {
  type FastifyBaseLogger,
  type FastifyError,
  type FastifyInstance,
  LogController,
} from 'fastify';
import type { Config } from '../core/config.js';
import { RateLimitedError, RouteNotFoundError } from '../core/errors.js';
import { createLiveKitClients, type LiveKitClients } from '../core/livekit.js';
import { createLogger, type Logger } from '../core/logger.js';
import { isE164, maskNumbersInText, unrecognisedNumbers } from '../core/phone.js';
import { type AgentRecovery, createAgentRecovery } from './agent-recovery.js';
import { authenticate, createApiKeyCheck } from './auth.js';
import { type CallEvents, createCallEvents } from './call-events.js';
import { createIdempotencyStore, type IdempotencyStore } from './idempotency.js';
import { type ApiMetrics, createApiMetrics } from './metrics.js';
import { problemOf, sendProblem, toProblem, writeClientError } from './problem.js';
import { registerRoutes } from './routes/index.js';

/** Everything routes need, created once per app. */
export interface ApiDeps {
  config: Config;
  log: Logger;
  livekit: LiveKitClients;
  metrics: ApiMetrics;
  /** Idempotency keys and event-dedupe markers (Redis when REDIS_URL is set). */
  idempotency: IdempotencyStore;
  /** Outgoing signed call events (EVENTS_WEBHOOK_URL). */
  events: CallEvents;
  /** Takes over calls whose agent died (checkpoints, leases, re-dispatch). */
  recovery: AgentRecovery;
}

declare module 'fastify' {
  interface FastifyInstance {
    deps: ApiDeps;
  }
}

export interface BuildOptions {
  config: Config;
  logger?: Logger;
  /** Overrides for tests; built from config when absent. */
  deps?: Partial<ApiDeps>;
}

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;
/** How long a closing API waits for open connections before it closes them. */
const CLOSE_CONNECTIONS_AFTER_MS = 3000;

export async function buildApp(opts: BuildOptions): Promise<FastifyInstance> {
  const { config } = opts;
  const log = opts.logger ?? createLogger(config, { name: 'api' });
  const idempotency = opts.deps?.idempotency ?? createIdempotencyStore(config);
  const livekit = opts.deps?.livekit ?? createLiveKitClients(config);
  const events =
    opts.deps?.events ??
    createCallEvents({
      url: config.EVENTS_WEBHOOK_URL,
      secret: config.EVENTS_WEBHOOK_SECRET,
      log,
      dedupe: idempotency,
      maxAttempts: config.EVENTS_MAX_ATTEMPTS,
      baseDelayMs: config.EVENTS_RETRY_BASE_MS,
      timeoutMs: config.EVENTS_TIMEOUT_MS,
    });
  const deps: ApiDeps = {
    config,
    log,
    livekit,
    metrics: opts.deps?.metrics ?? createApiMetrics(),
    idempotency,
    events,
    recovery:
      opts.deps?.recovery ??
      createAgentRecovery({
        livekit,
        store: idempotency,
        events,
        log,
        agentName: config.AGENT_NAME,
        maxAttempts: config.AGENT_RECOVERY_ATTEMPTS,
        // Checkpoints and markers outlive the longest call.
        ttlMs: (config.MAX_CALL_DURATION_S + 3600) * 1000,
      }),
    ...opts.deps,
  };
  const fullNumbers = config.LOG_FULL_NUMBERS;

  // Phone numbers appear in paths (/v1/numbers/+1415...): mask them in request logs.
  const reqLog = log.child(
    {},
    {
      serializers: {
        req: (req: { method: string; url: string }) => ({
          method: req.method,
          url: maskNumbersInText(req.url, fullNumbers),
        }),
      },
    },
  );

  const app = Fastify({
    loggerInstance: reqLog as FastifyBaseLogger,
    bodyLimit: 64 * 1024,
    genReqId: (req) => {
      const given = req.headers['x-request-id'];
      return typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
    },
    logController: new LogController({ requestIdLogLabel: 'requestId' }),
    // Errors before a route runs (URL too long or malformed; headers too large) are
    // problem+json like every other error, not Fastify's or Node's own JSON.
    frameworkErrors: (err, req, reply) => sendProblem(reply, req, toProblem(err)),
    clientErrorHandler: writeClientError,
    ajv: {
      customOptions: {
        // Reject unknown fields instead of silently dropping them.
        removeAdditional: false,
        coerceTypes: 'array',
        useDefaults: true,
        formats: { e164: (v: string) => isE164(v) },
      },
    },
  });

  app.decorate('deps', deps);
  // A connection that never sends a request (or a client that stopped reading) would hold the
  // close until its keep-alive or header timeout; requests in flight get a few seconds.
  app.addHook('preClose', async () => {
    setTimeout(() => app.server.closeAllConnections(), CLOSE_CONNECTIONS_AFTER_MS).unref();
  });
  // Flush queued call events, then close the store they dedupe with.
  app.addHook('onClose', async () => {
    await deps.events.close();
    await deps.idempotency.close();
  });

  app.addHook('onRequest', async (req, reply) => {
    reply.header('x-request-id', req.id);
  });

  app.setErrorHandler((err: FastifyError, req, reply) => {
    const problem = toProblem(err);
    // LiveKit's messages quote numbers ("Conflicting inbound SIP Trunks: +1415..."): mask them.
    if (problem.status >= 500) {
      const message = maskNumbersInText(err.message ?? '', fullNumbers);
      const stack = maskNumbersInText(err.stack ?? '', fullNumbers);
      req.log.error({ err: { type: err.name, code: err.code, message, stack } }, 'request failed');
    } else {
      req.log.info(
        { code: problem.code, status: problem.status },
        maskNumbersInText(problem.detail, fullNumbers),
      );
    }
    return sendProblem(reply, req, problem);
  });
  app.setNotFoundHandler((req, reply) =>
    sendProblem(
      reply,
      req,
      problemOf(new RouteNotFoundError(`${req.method} ${req.url.split('?')[0]}`)),
    ),
  );

  // Latency histogram by matched route (not raw URL: keeps label cardinality bounded).
  app.addHook('onResponse', async (req, reply) => {
    deps.metrics.httpDuration.observe(
      {
        method: req.method,
        route: req.routeOptions.url ?? 'unmatched',
        status_code: String(reply.statusCode),
      },
      reply.elapsedTime / 1000,
    );
  });

  app.addHook('onRequest', authenticate(createApiKeyCheck(config.API_KEYS ?? [])));

  // Possible numbers are accepted even when libphonenumber's metadata does not list their range
  // (555 test numbers, ranges newer than the metadata); the log says so, for support.
  app.addHook('preHandler', async (req) => {
    const numbers = [...unrecognisedNumbers(req.params), ...unrecognisedNumbers(req.body)];
    if (numbers.length === 0) return;
    // `numbers` is masked by the logger (unless LOG_FULL_NUMBERS).
    req.log.warn(
      { numbers },
      'accepted phone numbers outside the ranges libphonenumber knows as assigned',
    );
  });

  await app.register(rateLimit, {
    global: true,
    hook: 'preHandler',
    max: config.RATE_LIMIT_MAX,
    timeWindow: config.RATE_LIMIT_WINDOW_MS,
    keyGenerator: (req) => req.apiKeyId ?? req.ip,
    allowList: (req) => Boolean(req.routeOptions.config?.public),
    errorResponseBuilder: (_req, ctx) => new RateLimitedError(ctx.after),
  });

  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'Phone agents API',
        version: '1',
        description:
          'SIP trunks, numbers, dispatch rules and calls for AI phone agents on LiveKit.',
      },
      components: {
        securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } },
      },
      security: [{ bearer: [] }],
    },
  });
  // The docs UI and its JSON are public; the hook must exist before the routes are added.
  app.addHook('onRoute', (route) => {
    if (route.url.startsWith('/docs')) route.config = { ...route.config, public: true };
  });
  await app.register(swaggerUi, { routePrefix: '/docs', uiConfig: { docExpansion: 'list' } });

  await registerRoutes(app);
  return app;
}
