/**
 * The one logger factory (pino). Secrets are censored and phone numbers masked by key, so
 * call sites log plain objects and stay off the formatting business. Formatting (pretty)
 * happens in a separate process when asked for; the hot path only writes JSON.
 */
import pino, { type Logger, type LoggerOptions } from 'pino';
import { secretSettingNames } from './config.js';
import { maskNumber } from './phone.js';

export type { Logger } from 'pino';

const SECRET_KEYS = [
  'authorization',
  'apiKey',
  'apiSecret',
  'secret',
  'password',
  'authPassword',
  'token',
  'pin',
  'digits',
  // Every setting marked secret, by its variable name (a config object logged by mistake).
  ...secretSettingNames,
];

const NUMBER_KEYS = [
  'to',
  'from',
  'number',
  'numbers',
  'phoneNumber',
  'callerNumber',
  'calleeNumber',
  'dialedNumber',
  'callerRaw',
  'dialedRaw',
  'e164',
  'transferTo',
];

function paths(keys: string[]): string[] {
  return keys.flatMap((k) => [k, `*.${k}`]);
}

const SECRET_PATHS = new Set([...paths(SECRET_KEYS), 'req.headers.authorization']);

export interface LoggerConfig {
  LOG_LEVEL: string;
  LOG_FULL_NUMBERS: boolean;
}

export function createLogger(
  config: LoggerConfig,
  options: { name?: string; destination?: pino.DestinationStream } = {},
): Logger {
  const fullNumbers = config.LOG_FULL_NUMBERS;
  const opts: LoggerOptions = {
    level: config.LOG_LEVEL,
    base: { pid: process.pid, ...(options.name ? { name: options.name } : {}) },
    redact: {
      paths: [...SECRET_PATHS, ...paths(NUMBER_KEYS)],
      censor: (value: unknown, path: (string | symbol)[]) => {
        // Wildcards also visit pino's symbol keys: stringify before comparing.
        const joined = path.map(String).join('.');
        const key = String(path[path.length - 1] ?? '');
        if (SECRET_PATHS.has(joined) || SECRET_KEYS.includes(key)) return '[redacted]';
        return maskValue(value, fullNumbers);
      },
    },
  };
  return options.destination ? pino(opts, options.destination) : pino(opts);
}

function maskValue(value: unknown, full: boolean): unknown {
  if (typeof value === 'string') return maskNumber(value, full);
  if (Array.isArray(value)) return value.map((v) => maskValue(v, full));
  return value;
}

/** Where @livekit/agents keeps its process-wide logger (its log_core.js): what its `log()` returns. */
const FRAMEWORK_LOGGER = Symbol.for('@livekit/agents:logger');
const FRAMEWORK_REDACTED = Symbol.for('phone-agents:framework-logger-redacted');

/**
 * The agents framework logs with its own pino logger, which has none of the redaction above: at
 * info it logs each tool call with its arguments ("Executing LLM tool call",
 * `lk.pii.arguments`), so the keys `send_dtmf` pressed (an extension, a PIN) would be in the
 * worker's log. Replaces the framework's process-wide logger with a child that censors them like
 * ours, with the same secret keys; the framework asks `log()` for it when it runs tools. Call it
 * at each job's start (the framework sets a new logger for each job, just before the job's
 * entry). Returns false when there is no framework logger yet.
 */
export function redactFrameworkLogger(): boolean {
  const g = globalThis as unknown as Record<symbol, Logger | undefined>;
  const current = g[FRAMEWORK_LOGGER];
  if (!current) return false;
  if ((current as unknown as Record<symbol, boolean>)[FRAMEWORK_REDACTED]) return true;
  const child = current.child({}, { redact: { paths: [...SECRET_PATHS], censor: '[redacted]' } });
  (child as unknown as Record<symbol, boolean>)[FRAMEWORK_REDACTED] = true;
  g[FRAMEWORK_LOGGER] = child;
  return true;
}
