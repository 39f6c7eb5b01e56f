/** The API's route plugins, in one list so a newcomer finds every route here. */
import type { FastifyInstance } from 'fastify';
import health from './health.js';

export async function registerRoutes(app: FastifyInstance): Promise<void> {
  await app.register(health);
}
