/**
 * Numbers: /v1/numbers/:e164 routes a phone number to an agent in one idempotent PUT (an
 * inbound trunk for the number and a dispatch rule that dispatches the worker pool, AGENT_NAME,
 * with the agent's name and metadata as job metadata; see number-routing.ts).
 * The path takes the number with "+" URL-encoded (%2B) or literal.
 */
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { createNumberRouter } from '../number-routing.js';
import { Deleted, problemResponses, UPSTREAM_PROBLEMS } from '../schemas/common.js';
import {
  NumberParams,
  NumberRouting,
  NumberRoutingInput,
  type NumberRoutingSpec,
} from '../schemas/numbers.js';

const TAGS = ['Numbers'];

export default async function numbers(fastify: FastifyInstance): Promise<void> {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  const router = createNumberRouter(app.deps.livekit.sip, app.deps.config.AGENT_NAME);

  app.put(
    '/v1/numbers/:e164',
    {
      schema: {
        tags: TAGS,
        summary: 'Route a phone number to an agent',
        description:
          'Creates or updates the inbound trunk for the number and an individual dispatch rule ' +
          '(one room per call) that dispatches the worker pool (AGENT_NAME) with the job ' +
          'metadata {"agent": agent.name, "metadata": agent.metadata}; the worker connects ' +
          'that agent of its agents file. Idempotent: the body is the complete ' +
          'routing, repeating it changes nothing. 409 when the number already belongs to a ' +
          'trunk this API does not manage.',
        params: NumberParams,
        body: NumberRoutingInput,
        response: {
          200: NumberRouting,
          201: NumberRouting,
          ...problemResponses(400, 409, ...UPSTREAM_PROBLEMS),
        },
      },
    },
    async (req, reply) => {
      const { routing, created } = await router.put(
        req.params.e164,
        req.body as NumberRoutingSpec,
        req.log,
      );
      return reply.code(created ? 201 : 200).send(routing);
    },
  );

  app.get(
    '/v1/numbers',
    {
      schema: {
        tags: TAGS,
        summary: 'List routed numbers',
        response: {
          200: Type.Object({ items: Type.Array(NumberRouting) }),
          ...problemResponses(...UPSTREAM_PROBLEMS),
        },
      },
    },
    async () => ({ items: await router.list() }),
  );

  app.get(
    '/v1/numbers/:e164',
    {
      schema: {
        tags: TAGS,
        summary: 'Get the routing of a number',
        params: NumberParams,
        response: { 200: NumberRouting, ...problemResponses(400, 404, ...UPSTREAM_PROBLEMS) },
      },
    },
    async (req) => router.get(req.params.e164),
  );

  app.delete(
    '/v1/numbers/:e164',
    {
      schema: {
        tags: TAGS,
        summary: 'Stop routing a number',
        description: "Deletes the number's dispatch rule and inbound trunk.",
        params: NumberParams,
        response: { 204: Deleted, ...problemResponses(400, 404, ...UPSTREAM_PROBLEMS) },
      },
    },
    async (req, reply) => {
      await router.remove(req.params.e164, req.log);
      return reply.code(204).send(null);
    },
  );
}
