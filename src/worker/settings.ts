import { int, str } from '../core/settings-schema.js';

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
} as const;
