/**
 * The one config loader. Each area declares its settings in a fragment (src/<area>/settings.ts);
 * this module merges them, reads the environment (plus `.env.local` in development), and fails
 * with one line naming the variable and what is wrong.
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { agentSettings } from '../agents/settings.js';
import { apiSettings } from '../api/settings.js';
import { telephonySettings } from '../telephony/settings.js';
import { workerSettings } from '../worker/settings.js';
import { ConfigError } from './errors.js';
import { coreSettings } from './settings.js';
import type { SettingsFragment, SettingsOf } from './settings-schema.js';

export const allSettings = {
  ...coreSettings,
  ...apiSettings,
  ...workerSettings,
  ...telephonySettings,
  ...agentSettings,
} as const satisfies SettingsFragment;

export type Config = SettingsOf<typeof allSettings>;
export type SettingName = keyof typeof allSettings;

/** Which process is starting: each needs a different set of variables. */
export type Role = 'api' | 'worker' | 'offline';

/** Variables without which a role cannot start (beyond those marked `required`). */
const requiredByRole: Record<Role, readonly SettingName[]> = {
  api: ['LIVEKIT_URL', 'LIVEKIT_API_KEY', 'LIVEKIT_API_SECRET', 'API_KEYS'],
  worker: ['LIVEKIT_URL', 'LIVEKIT_API_KEY', 'LIVEKIT_API_SECRET'],
  offline: [],
};

export interface LoadOptions {
  role: Role;
  /** Defaults to process.env (after `.env.local` is merged in, without overriding). */
  env?: NodeJS.ProcessEnv;
  /** Loads `.env.local` from this directory when env is not given. Default: cwd. */
  envFileDir?: string;
}

/** Loads and validates settings; throws ConfigError (PA_ERR_CONFIG_INVALID) on the first problem. */
export function loadConfig(opts: LoadOptions): Config {
  const env = opts.env ?? readProcessEnv(opts.envFileDir ?? process.cwd());
  const out: Record<string, unknown> = {};
  const mustHave = new Set<string>(requiredByRole[opts.role]);
  for (const [name, setting] of Object.entries(allSettings) as [
    string,
    SettingsFragment[string],
  ][]) {
    const raw = env[name];
    if (raw === undefined || raw.trim() === '') {
      if (setting.required || mustHave.has(name)) {
        throw new ConfigError(`${name} is required (${setting.doc})`);
      }
      out[name] = setting.default;
      continue;
    }
    try {
      out[name] = setting.parse(raw.trim());
    } catch (err) {
      const message = (err as Error).message;
      // Parsers echo the bad value to help; never for a secret.
      throw new ConfigError(
        `${name} ${setting.secret ? message.replace(/\s*\(got .*\)$/s, '') : message}`,
      );
    }
  }
  crossCheck(out as Config, opts.role);
  return Object.freeze(out) as Config;
}

/** Rules that involve more than one variable. */
function crossCheck(c: Config, role: Role): void {
  if (c.EVENTS_WEBHOOK_URL && !c.EVENTS_WEBHOOK_SECRET) {
    throw new ConfigError('EVENTS_WEBHOOK_SECRET is required when EVENTS_WEBHOOK_URL is set');
  }
  // Only the worker reports to the API; the API's own pods may share the same ConfigMap.
  if (role === 'worker' && c.API_URL && !c.API_TOKEN) {
    throw new ConfigError('API_TOKEN is required when API_URL is set (one of the API_KEYS)');
  }
}

function readProcessEnv(dir: string): NodeJS.ProcessEnv {
  const file = resolve(dir, '.env.local');
  // Node ≥ 20.12 parses dotenv files natively; existing variables win over the file.
  if (existsSync(file)) process.loadEnvFile(file);
  return process.env;
}

/** The settings of a fragment whose values must never be logged. */
export function secretNames(fragment: SettingsFragment): string[] {
  return Object.entries(fragment)
    .filter(([, s]) => s.secret)
    .map(([n]) => n);
}

/** Settings whose values must never be logged. */
export const secretSettingNames: readonly string[] = secretNames(allSettings);
