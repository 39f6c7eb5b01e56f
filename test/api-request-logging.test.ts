import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { buildApp } from '../src/api/app.js';
import { createLogger } from '../src/core/logger.js';
import { TEST_API_KEY, testConfig } from './support/config.js';

describe('request logging', () => {
  it('tags every request line with the request id and masks numbers in URLs', async () => {
    const lines: Record<string, unknown>[] = [];
    const destination = new Writable({
      write(chunk, _enc, cb) {
        lines.push(JSON.parse(chunk.toString()));
        cb();
      },
    });
    const config = testConfig({ LOG_LEVEL: 'info' });
    const app = await buildApp({ config, logger: createLogger(config, { destination }) });
    await app.inject({
      method: 'GET',
      url: '/v1/numbers/%2B14155550123',
      headers: { authorization: `Bearer ${TEST_API_KEY}`, 'x-request-id': 'req-42' },
    });
    await app.close();
    const mine = lines.filter((l) => l.requestId === 'req-42');
    expect(mine.length).toBeGreaterThanOrEqual(2); // incoming request + completed
    expect(JSON.stringify(lines)).not.toContain('14155550123');
    expect(JSON.stringify(mine)).toContain('***0123');
  });
});
