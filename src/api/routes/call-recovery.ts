/**
 * The worker's side of taking over calls whose agent died (src/api/agent-recovery.ts,
 * docs/reliability.md). Both routes are for the agent worker (its API_TOKEN), like
 * POST /v1/calls/:id/events, and are not rate-limited: every call's job uses them.
 *
 * - `PUT /v1/calls/:id/checkpoint`: the conversation so far (agent, last lines, start time),
 *   sent after each conversation item; `state: ended | handed-off` lets the call go on purpose.
 * - `GET /v1/calls/:id/lease?identity=agent-AJ_…`: held open by the call's job process while
 *   the call runs. The API answers with a heartbeat line (ndjson) every LEASE_HEARTBEAT_MS, so
 *   the job can tell a dead API replica and lease again elsewhere. When the job's socket closes
 *   (the process died: the kernel closes it) and no newer lease of the same job opened within
 *   LEASE_GRACE_MS (a reconnect), the API takes the call over. Leases this API closes itself
 *   (shutting down) are no death: the job leases again at another replica.
 */
import type { ServerResponse } from 'node:http';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { IdempotencyUnavailableError } from '../../core/errors.js';
import { CallParams, CheckpointAccepted, CheckpointBody, LeaseQuery } from '../schemas/calls.js';
import { problemResponses } from '../schemas/common.js';

const TAGS = ['Calls'];
/** Between two heartbeat lines of a lease (the job leases again after ~3 missed ones). */
export const LEASE_HEARTBEAT_MS = 2000;
/** How long a lost lease waits for the same job to lease again before its call is taken over. */
export const LEASE_GRACE_MS = 250;
/** Tries at handling a lost lease while the store is unavailable, and the wait between them. */
export const LEASE_LOST_ATTEMPTS = 4;
export const LEASE_LOST_RETRY_MS = 750;

export default async function callRecovery(fastify: FastifyInstance): Promise<void> {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  const { recovery, log } = app.deps;
  /** Leases held open now, with how to end each without it counting as a death. */
  const open = new Set<{ end(): void }>();
  let closing = false;

  app.addHook('preClose', async () => {
    // A long-lived response would hold the server's close forever; the jobs lease again.
    closing = true;
    for (const l of [...open]) l.end();
  });

  app.put(
    '/v1/calls/:id/checkpoint',
    {
      config: { rateLimit: false },
      schema: {
        tags: TAGS,
        summary: 'Checkpoint a call (agent worker)',
        description:
          "The call's job reports the conversation so far, so that another worker can take " +
          'the call over if this one dies. `state: ended` or `handed-off` releases the call.',
        params: CallParams,
        body: CheckpointBody,
        response: { 200: CheckpointAccepted, ...problemResponses(400, 401, 503) },
      },
    },
    async (req) => {
      const { id } = req.params;
      const stored = await recovery.saveCheckpoint(id, req.body);
      return { stored };
    },
  );

  app.get(
    '/v1/calls/:id/lease',
    {
      config: { rateLimit: false },
      schema: {
        tags: TAGS,
        summary: 'Hold a call (agent worker)',
        description:
          "Held open by the call's job process while the call runs: an `application/x-ndjson` " +
          `stream of heartbeat lines every ${LEASE_HEARTBEAT_MS} ms. When the job's connection ` +
          'closes without the job having released the call (checkpoint `state: ended`), its ' +
          'agent is taken for dead and another worker takes the call over.',
        params: CallParams,
        querystring: LeaseQuery,
        response: problemResponses(400, 401, 503),
      },
    },
    async (req, reply) => {
      const { id } = req.params;
      const { identity } = req.query;
      const openedAt = await recovery.leaseOpened(id, identity);
      reply.hijack();
      const res: ServerResponse = reply.raw;
      res.writeHead(200, {
        'content-type': 'application/x-ndjson',
        'cache-control': 'no-store',
        // One lease per connection: when it ends the socket goes too, so a closing server
        // does not wait out the keep-alive timeout of a connection a job no longer reads.
        connection: 'close',
        'x-request-id': req.id,
      });
      res.write(`${JSON.stringify({ type: 'lease', heartbeatMs: LEASE_HEARTBEAT_MS })}\n`);
      let endedHere = false;
      const beat = setInterval(() => res.write('{"type":"heartbeat"}\n'), LEASE_HEARTBEAT_MS);
      const lease = {
        end() {
          endedHere = true;
          res.end(`${JSON.stringify({ type: 'closing' })}\n`);
        },
      };
      open.add(lease);
      res.on('close', () => {
        clearInterval(beat);
        open.delete(lease);
        if (endedHere || closing) return;
        void leaseLost(id, identity, openedAt);
      });
    },
  );

  async function leaseLost(callId: string, identity: string, openedAt: number): Promise<void> {
    // A store that does not answer for a moment (a Redis stall under load) must not cost a call
    // its take-over: the webhook backstop comes ~21 s later. Every step is safe to repeat.
    for (let attempt = 1; ; attempt++) {
      try {
        await handleLeaseLost(callId, identity, openedAt);
        return;
      } catch (err) {
        const retry =
          err instanceof IdempotencyUnavailableError && attempt < LEASE_LOST_ATTEMPTS && !closing;
        if (!retry) {
          log.error(
            { callId, identity, attempt, err: (err as Error).message },
            'handling a lost lease failed',
          );
          return;
        }
        await new Promise((r) => setTimeout(r, LEASE_LOST_RETRY_MS));
      }
    }
  }

  async function handleLeaseLost(callId: string, identity: string, openedAt: number) {
    // The usual end of a call: the job released it (its last checkpoint says so) and then
    // closed the lease. Nothing to check with LiveKit.
    const cp = await recovery.checkpoint(callId);
    if (cp?.agentIdentity === identity && cp.state !== 'live') return;
    await new Promise((r) => setTimeout(r, LEASE_GRACE_MS));
    if (closing) return;
    // The job leased again (it reconnects before dropping a lease it doubts): alive.
    const newest = await recovery.leaseOpenedAt(callId, identity);
    if (newest !== undefined && newest !== openedAt) return;
    const result = await recovery.onLeaseLost(callId, identity);
    log.info({ callId, identity, ...result }, 'call lease lost');
  }
}
