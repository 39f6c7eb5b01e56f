/**
 * Starts a real redis-server on a free loopback port for the whole test run (installed by
 * .ci/run; `apt-get install redis-server` on a dev machine). Tests read REDIS_TEST_URL.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { freePort } from './ports.js';

let redis: ChildProcess | undefined;

export async function setup(): Promise<void> {
  const port = await freePort();
  redis = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('redis-server did not start in 10 s')), 10_000);
    redis?.once('error', (err) => {
      clearTimeout(timer);
      reject(
        new Error(
          `redis-server could not start (${err.message}); install it: apt-get install redis-server`,
        ),
      );
    });
    redis?.stdout?.on('data', (chunk: Buffer) => {
      if (chunk.toString().includes('Ready to accept connections')) {
        clearTimeout(timer);
        resolve();
      }
    });
  });
  process.env.REDIS_TEST_URL = `redis://127.0.0.1:${port}`;
}

export async function teardown(): Promise<void> {
  redis?.kill('SIGTERM');
}
