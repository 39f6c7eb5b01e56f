/** Starts the API: `npm run start:api`. */
import { loadConfig } from '../core/config.js';
import { createLogger } from '../core/logger.js';
import { buildApp } from './app.js';

async function main(): Promise<void> {
  let config: ReturnType<typeof loadConfig>;
  try {
    config = loadConfig({ role: 'api' });
  } catch (err) {
    // One line naming the variable; no stack trace for a configuration mistake.
    process.stderr.write(`${(err as Error).message}\n`);
    process.exit(78);
  }
  const log = createLogger(config, { name: 'api' });
  const app = await buildApp({ config, logger: log });
  const close = async (signal: string) => {
    log.info({ signal }, 'shutting down');
    await app.close();
    process.exit(0);
  };
  process.once('SIGTERM', () => void close('SIGTERM'));
  process.once('SIGINT', () => void close('SIGINT'));
  await app.listen({ port: config.PORT, host: config.HOST });
}

void main();
