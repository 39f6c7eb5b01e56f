/**
 * SIP trunks: /v1/trunks/inbound (carrier → us) and /v1/trunks/outbound (us → carrier).
 * DELETE checks that the trunk exists (and is of the addressed kind) first, because LiveKit's
 * DeleteSIPTrunk succeeds for any id and would turn a typo into a silent 204.
 */
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { Deleted, problemResponses, UPSTREAM_PROBLEMS } from '../schemas/common.js';
import {
  InboundTrunk,
  InboundTrunkCreate,
  InboundTrunkPatch,
  OutboundTrunk,
  OutboundTrunkCreate,
  OutboundTrunkPatch,
  TrunkIdParams,
} from '../schemas/trunks.js';
import { callLiveKit, getInboundTrunk, getOutboundTrunk } from '../sip-lookup.js';
import {
  inboundCreateOptions,
  inboundReplace,
  inboundTrunkToJson,
  inboundUpdateFields,
  outboundCreateOptions,
  outboundReplace,
  outboundTrunkToJson,
  outboundUpdateFields,
} from '../trunk-mapping.js';

const TAGS = ['Trunks'];

export default async function trunks(fastify: FastifyInstance): Promise<void> {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  const { sip } = app.deps.livekit;

  // ── inbound ──────────────────────────────────────────────────────────────────────────────
  app.post(
    '/v1/trunks/inbound',
    {
      schema: {
        tags: TAGS,
        summary: 'Create an inbound trunk',
        description:
          'Accepts calls from a carrier. LiveKit requires at least one of numbers, ' +
          'allowedAddresses or auth, and refuses a trunk that overlaps another on a number.',
        body: InboundTrunkCreate,
        response: { 201: InboundTrunk, ...problemResponses(400, ...UPSTREAM_PROBLEMS) },
      },
    },
    async (req, reply) => {
      const body = req.body;
      const created = await callLiveKit('inbound trunk', () =>
        sip.createSipInboundTrunk(body.name ?? '', body.numbers ?? [], inboundCreateOptions(body)),
      );
      req.log.info({ trunkId: created.sipTrunkId }, 'inbound trunk created');
      return reply
        .code(201)
        .header('location', `/v1/trunks/inbound/${created.sipTrunkId}`)
        .send(inboundTrunkToJson(created));
    },
  );

  app.get(
    '/v1/trunks/inbound',
    {
      schema: {
        tags: TAGS,
        summary: 'List inbound trunks',
        response: {
          200: Type.Object({ items: Type.Array(InboundTrunk) }),
          ...problemResponses(...UPSTREAM_PROBLEMS),
        },
      },
    },
    async () => {
      const all = await callLiveKit('inbound trunks', () => sip.listSipInboundTrunk());
      return { items: all.map(inboundTrunkToJson) };
    },
  );

  app.get(
    '/v1/trunks/inbound/:id',
    {
      schema: {
        tags: TAGS,
        summary: 'Get an inbound trunk',
        params: TrunkIdParams,
        response: { 200: InboundTrunk, ...problemResponses(400, 404, ...UPSTREAM_PROBLEMS) },
      },
    },
    async (req) => inboundTrunkToJson(await getInboundTrunk(sip, req.params.id)),
  );

  app.patch(
    '/v1/trunks/inbound/:id',
    {
      schema: {
        tags: TAGS,
        summary: 'Change an inbound trunk',
        description: 'Only the fields sent change; a list sent replaces the current list.',
        params: TrunkIdParams,
        body: InboundTrunkPatch,
        response: { 200: InboundTrunk, ...problemResponses(400, 404, ...UPSTREAM_PROBLEMS) },
      },
    },
    async (req) => {
      const { id } = req.params;
      const current = await getInboundTrunk(sip, id);
      const fields = inboundUpdateFields(req.body);
      const what = `Inbound trunk ${id}`;
      const updated = await callLiveKit(what, () =>
        fields
          ? sip.updateSipInboundTrunkFields(id, fields)
          : sip.updateSipInboundTrunk(id, inboundReplace(current, req.body)),
      );
      req.log.info({ trunkId: id, fields: Object.keys(req.body) }, 'inbound trunk updated');
      return inboundTrunkToJson(updated);
    },
  );

  app.delete(
    '/v1/trunks/inbound/:id',
    {
      schema: {
        tags: TAGS,
        summary: 'Delete an inbound trunk',
        description: 'An unknown id, or the id of an outbound trunk, answers 404.',
        params: TrunkIdParams,
        response: { 204: Deleted, ...problemResponses(400, 404, ...UPSTREAM_PROBLEMS) },
      },
    },
    async (req, reply) => {
      const { id } = req.params;
      await getInboundTrunk(sip, id);
      await callLiveKit(`Inbound trunk ${id}`, () => sip.deleteSipTrunk(id));
      req.log.info({ trunkId: id }, 'inbound trunk deleted');
      return reply.code(204).send(null);
    },
  );

  // ── outbound ─────────────────────────────────────────────────────────────────────────────
  app.post(
    '/v1/trunks/outbound',
    {
      schema: {
        tags: TAGS,
        summary: 'Create an outbound trunk',
        description:
          'How calls are placed: the carrier address, transport, credentials and caller IDs.',
        body: OutboundTrunkCreate,
        response: { 201: OutboundTrunk, ...problemResponses(400, ...UPSTREAM_PROBLEMS) },
      },
    },
    async (req, reply) => {
      const body = req.body;
      const created = await callLiveKit('outbound trunk', () =>
        sip.createSipOutboundTrunk(
          body.name ?? '',
          body.address,
          body.numbers,
          outboundCreateOptions(body),
        ),
      );
      req.log.info({ trunkId: created.sipTrunkId }, 'outbound trunk created');
      return reply
        .code(201)
        .header('location', `/v1/trunks/outbound/${created.sipTrunkId}`)
        .send(outboundTrunkToJson(created));
    },
  );

  app.get(
    '/v1/trunks/outbound',
    {
      schema: {
        tags: TAGS,
        summary: 'List outbound trunks',
        response: {
          200: Type.Object({ items: Type.Array(OutboundTrunk) }),
          ...problemResponses(...UPSTREAM_PROBLEMS),
        },
      },
    },
    async () => {
      const all = await callLiveKit('outbound trunks', () => sip.listSipOutboundTrunk());
      return { items: all.map(outboundTrunkToJson) };
    },
  );

  app.get(
    '/v1/trunks/outbound/:id',
    {
      schema: {
        tags: TAGS,
        summary: 'Get an outbound trunk',
        params: TrunkIdParams,
        response: { 200: OutboundTrunk, ...problemResponses(400, 404, ...UPSTREAM_PROBLEMS) },
      },
    },
    async (req) => outboundTrunkToJson(await getOutboundTrunk(sip, req.params.id)),
  );

  app.patch(
    '/v1/trunks/outbound/:id',
    {
      schema: {
        tags: TAGS,
        summary: 'Change an outbound trunk',
        description: 'Only the fields sent change; a list sent replaces the current list.',
        params: TrunkIdParams,
        body: OutboundTrunkPatch,
        response: { 200: OutboundTrunk, ...problemResponses(400, 404, ...UPSTREAM_PROBLEMS) },
      },
    },
    async (req) => {
      const { id } = req.params;
      const current = await getOutboundTrunk(sip, id);
      const fields = outboundUpdateFields(req.body);
      const what = `Outbound trunk ${id}`;
      const updated = await callLiveKit(what, () =>
        fields
          ? sip.updateSipOutboundTrunkFields(id, fields)
          : sip.updateSipOutboundTrunk(id, outboundReplace(current, req.body)),
      );
      req.log.info({ trunkId: id, fields: Object.keys(req.body) }, 'outbound trunk updated');
      return outboundTrunkToJson(updated);
    },
  );

  app.delete(
    '/v1/trunks/outbound/:id',
    {
      schema: {
        tags: TAGS,
        summary: 'Delete an outbound trunk',
        description: 'An unknown id, or the id of an inbound trunk, answers 404.',
        params: TrunkIdParams,
        response: { 204: Deleted, ...problemResponses(400, 404, ...UPSTREAM_PROBLEMS) },
      },
    },
    async (req, reply) => {
      const { id } = req.params;
      await getOutboundTrunk(sip, id);
      await callLiveKit(`Outbound trunk ${id}`, () => sip.deleteSipTrunk(id));
      req.log.info({ trunkId: id }, 'outbound trunk deleted');
      return reply.code(204).send(null);
    },
  );
}
