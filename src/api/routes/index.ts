/** The API's route plugins, in one list so a newcomer finds every route here. */
import type { FastifyInstance } from 'fastify';
import callRecovery from './call-recovery.js';
import calls from './calls.js';
import dispatchRules from './dispatch-rules.js';
import health from './health.js';
import livekitWebhook from './livekit-webhook.js';
import numbers from './numbers.js';
import trunks from './trunks.js';

export async function registerRoutes(app: FastifyInstance): Promise<void> {
  await app.register(health);
  await app.register(calls);
  await app.register(callRecovery);
  await app.register(livekitWebhook);
  await app.register(trunks);
  await app.register(dispatchRules);
  await app.register(numbers);
}
