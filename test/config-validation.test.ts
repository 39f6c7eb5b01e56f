import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../src/core/config.js';

const base = {
  LIVEKIT_URL: 'wss://lk.example.com',
  LIVEKIT_API_KEY: 'key',
  LIVEKIT_API_SECRET: 'secret',
  API_KEYS: 'a,b',
};

describe('config loader', () => {
  it('applies defaults and parses lists', () => {
    const c = loadConfig({ role: 'api', env: base });
    expect(c.PORT).toBe(8080);
    expect(c.API_KEYS).toEqual(['a', 'b']);
    expect(c.REDIS_URL).toBeUndefined();
    expect(c.LOG_LEVEL).toBe('info');
  });

  it('names a missing variable the role needs', () => {
    expect(() => loadConfig({ role: 'api', env: { ...base, LIVEKIT_URL: '' } })).toThrow(
      /^Invalid configuration: LIVEKIT_URL is required/,
    );
  });

  it('names a malformed variable and what is wrong', () => {
    expect(() => loadConfig({ role: 'api', env: { ...base, PORT: 'eighty' } })).toThrow(
      'Invalid configuration: PORT must be a whole number (got "eighty")',
    );
    expect(() => loadConfig({ role: 'api', env: { ...base, PORT: '70000' } })).toThrow(
      /PORT must be ≤ 65535/,
    );
    expect(() => loadConfig({ role: 'api', env: { ...base, LIVEKIT_URL: 'ftp://x' } })).toThrow(
      /LIVEKIT_URL must use ws or wss or http or https/,
    );
  });

  it('never echoes a secret value in the error', () => {
    const load = () =>
      loadConfig({ role: 'api', env: { ...base, REDIS_URL: 'not a url with password hunter2' } });
    expect(load).toThrow('REDIS_URL');
    expect(load).not.toThrow(/hunter2/);
  });

  it('checks variables that go together', () => {
    expect(() =>
      loadConfig({
        role: 'api',
        env: { ...base, EVENTS_WEBHOOK_URL: 'https://hooks.example.com' },
      }),
    ).toThrow(/EVENTS_WEBHOOK_SECRET is required when EVENTS_WEBHOOK_URL is set/);
  });

  it('lets the offline role start with no LiveKit settings', () => {
    expect(loadConfig({ role: 'offline', env: {} }).LIVEKIT_URL).toBeUndefined();
  });

  it('reads .env.local without overriding the environment', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cfg-'));
    writeFileSync(join(dir, '.env.local'), 'PA_TEST_ONLY_FROM_FILE=file\nPA_TEST_BOTH=file\n');
    process.env.PA_TEST_BOTH = 'env';
    loadConfig({ role: 'offline', envFileDir: dir });
    expect(process.env.PA_TEST_ONLY_FROM_FILE).toBe('file');
    expect(process.env.PA_TEST_BOTH).toBe('env');
  });
});
