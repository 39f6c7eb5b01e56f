import { int, list, str, url } from '../core/settings-schema.js';

/** Settings of the control-plane API (src/api). */
export const apiSettings = {
  PORT: int({ doc: 'API listen port', default: 8080, min: 1, max: 65535 }),
  HOST: str({ doc: 'API listen address', default: '0.0.0.0' }),
  API_KEYS: list({
    doc: 'Comma-separated bearer tokens accepted by the API',
    minItems: 1,
    secret: true,
  }),
  REDIS_URL: url({
    doc: 'Redis for idempotency keys (in memory when unset)',
    protocols: ['redis', 'rediss'],
    secret: true,
  }),
  EVENTS_WEBHOOK_URL: url({
    doc: 'Where signed call events are POSTed (off when unset)',
    protocols: ['http', 'https'],
  }),
  EVENTS_WEBHOOK_SECRET: str({ doc: 'HMAC-SHA256 key for call-event signatures', secret: true }),
  RATE_LIMIT_MAX: int({ doc: 'Requests per API key per window', default: 600, min: 1 }),
  RATE_LIMIT_WINDOW_MS: int({ doc: 'Rate-limit window in ms', default: 60_000, min: 1000 }),
  DEFAULT_OUTBOUND_TRUNK_ID: str({
    doc: 'Outbound SIP trunk (ST_...) used by POST /v1/calls when the request names none',
  }),
  EVENTS_MAX_ATTEMPTS: int({
    doc: 'Delivery attempts per call event before it is dropped (exponential backoff + jitter)',
    default: 8,
    min: 1,
    max: 30,
  }),
  EVENTS_RETRY_BASE_MS: int({
    doc: 'First retry delay of call-event delivery in ms (doubles per attempt, capped at 60 s)',
    default: 500,
    min: 10,
  }),
  EVENTS_TIMEOUT_MS: int({
    doc: 'Timeout of one call-event delivery in ms',
    default: 5000,
    min: 100,
  }),
  AGENT_RECOVERY_ATTEMPTS: int({
    doc: 'Take-overs per call when its agent dies (another worker joins with the conversation so far; docs/reliability.md); after that the call is ended. 0 = off',
    default: 3,
    min: 0,
    max: 10,
  }),
  LIVEKIT_TIMEOUT_MS: int({
    doc: 'Timeout of LiveKit API requests (not of waitUntilAnswered calls) in ms',
    default: 10_000,
    min: 100,
  }),
} as const;
