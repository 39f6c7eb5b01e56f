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
