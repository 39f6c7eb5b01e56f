/** Builds a validated Config for tests through the real loader (no hand-made objects). */
import { type Config, loadConfig, type Role } from '../../src/core/config.js';

export const TEST_API_KEY = 'test-api-key-0123456789';

export function testConfig(overrides: Record<string, string> = {}, role: Role = 'api'): Config {
  return loadConfig({
    role,
    env: {
      LIVEKIT_URL: 'http://127.0.0.1:1',
      LIVEKIT_API_KEY: 'devkey',
      LIVEKIT_API_SECRET: 'devsecret-devsecret-devsecret-0123',
      API_KEYS: TEST_API_KEY,
      LOG_LEVEL: 'silent',
      ...overrides,
    },
  });
}
