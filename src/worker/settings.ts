import { bool, int, num, str, url } from '../core/settings-schema.js';

/** Settings of the agent worker pool (src/worker). */
export const workerSettings = {
  AGENT_NAME: str({
    doc: 'Agent name this worker registers for explicit dispatch',
    default: 'phone-agent',
    pattern: /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/,
    hint: 'letters, digits, "_", "." or "-" (max 64)',
  }),
  MAX_CONCURRENT_CALLS: int({
    doc: 'Calls one worker takes before it reports itself full',
    default: 25,
    min: 1,
  }),
  MAX_CALL_DURATION_S: int({
    doc: 'Hard limit of one call in seconds (also the pod termination grace period)',
    default: 3600,
    min: 30,
  }),
  WORKER_HEALTH_PORT: int({
    doc: 'Worker health/status HTTP port (GET / and /worker)',
    default: 8081,
    min: 1,
    max: 65535,
  }),
  WORKER_METRICS_PORT: int({
    doc: 'Worker Prometheus metrics port (GET /metrics: phone_agents_worker_active_calls, which the autoscaler reads)',
    default: 9464,
    min: 1,
    max: 65535,
  }),
  WORKER_MAX_CPU: num({
    doc: 'CPU use (0-1 of all cores) at which the worker reports itself full, whatever its call count; 0 = calls only (a node shared with other work, tests)',
    default: 0.85,
    min: 0,
    max: 1,
  }),
  JOB_SEMI_SPACE_MB: int({
    doc: "V8 semi-space size (MB) of each call's job process: 4 keeps a call process near 185 MB RSS instead of ~210 at no CPU cost (npm run bench:calls); 0 = Node's default",
    default: 4,
    min: 0,
    max: 64,
  }),
  JOB_OPTIMIZE_FOR_SIZE: bool({
    doc: "Run each call's job process with V8's --optimize-for-size: ~10 MB less RSS per call, but less optimised code makes call start-ups late the VAD windows of the calls in progress (npm run bench:calls: 25 calls miss real time with it, hold without it)",
    default: false,
  }),
  JOB_WARM_UP_CALL: bool({
    doc: 'Each job process rehearses one offline call in prewarm (a few seconds, no network), so real calls do not pay for V8 compiling the call path',
    default: true,
  }),
  OUTBOUND_ANSWER_TIMEOUT_S: int({
    doc: 'How long an outbound call may ring (sip.callStatus not yet active) before the job ends it',
    default: 60,
    min: 5,
  }),
  API_URL: url({
    doc: "Base URL of this service's API; the worker POSTs call events and summaries to /v1/calls/:id/events (unset = summaries are only logged)",
    protocols: ['http', 'https'],
  }),
  API_TOKEN: str({
    doc: "Bearer token the worker sends to API_URL (one of the API's API_KEYS)",
    secret: true,
  }),
} as const;
