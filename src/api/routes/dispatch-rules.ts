/**
 * Dispatch rules: /v1/dispatch-rules. A rule picks the room for each inbound call; its `agent`
 * becomes the rule's `roomConfig.agents`: LiveKit dispatches the worker pool (AGENT_NAME) to
 * every call the rule matches, with `{"agent": name, "metadata": {...}}` as the job metadata,
 * and the worker connects that agent of its agents file. Rules made outside this service are
 * shown as they are (agent = their LiveKit agentName and raw metadata).
 *
 * The SDK's create call cannot carry `inboundNumbers`/`numbers`; a rule that has them is
 * created and then replaced with the full object (and deleted again if the replace fails).
 * Known limit: while it exists without them, LiveKit checks it as a rule for all numbers, so
 * it can clash with an existing catch-all rule of the same trunk and PIN that the final rule
 * would not clash with.
 */
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import type { SIPDispatchRuleInfo } from 'livekit-server-sdk';
import {
  dispatchRuleToJson,
  patchedShape,
  type RuleShape,
  ruleCreateOptions,
  ruleReplace,
  ruleShapeOf,
  ruleUpdateFields,
  sdkRule,
} from '../dispatch-rule-mapping.js';
import { fieldError } from '../problem.js';
import { Deleted, problemResponses, UPSTREAM_PROBLEMS } from '../schemas/common.js';
import {
  DispatchRule,
  DispatchRuleCreate,
  DispatchRulePatch,
  RuleIdParams,
} from '../schemas/dispatch-rules.js';
import { callLiveKit, getDispatchRule } from '../sip-lookup.js';

const TAGS = ['Dispatch rules'];

/** Which shape fields each kind uses; anything else sent for that kind is a mistake. */
const KIND_FIELDS: Record<RuleShape['kind'], readonly (keyof RuleShape)[]> = {
  individual: ['roomPrefix', 'pin'],
  callee: ['roomPrefix', 'pin', 'randomize'],
  direct: ['roomName', 'pin'],
};

/** Cross-field rules JSON Schema does not express well: fields must fit the rule's kind. */
function checkShape(shape: RuleShape, sent: Partial<RuleShape>): void {
  const allowed = KIND_FIELDS[shape.kind];
  for (const key of ['roomPrefix', 'roomName', 'randomize'] as const) {
    if (sent[key] !== undefined && !allowed.includes(key)) {
      throw fieldError(`body.${key}`, `does not apply to a rule of kind "${shape.kind}"`);
    }
  }
  if (shape.kind === 'direct' && !shape.roomName) {
    throw fieldError('body.roomName', 'is required for a rule of kind "direct"');
  }
}

export default async function dispatchRules(fastify: FastifyInstance): Promise<void> {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  const { sip } = app.deps.livekit;
  const agentName = app.deps.config.AGENT_NAME;
  const toJson = (r: SIPDispatchRuleInfo) => dispatchRuleToJson(r, agentName);

  app.post(
    '/v1/dispatch-rules',
    {
      schema: {
        tags: TAGS,
        summary: 'Create a dispatch rule',
        description:
          'Routes inbound calls matching trunkIds/numbers to rooms. With `agent`, LiveKit ' +
          'dispatches the worker pool (AGENT_NAME) into each room with the job metadata ' +
          '{"agent": agent.name, "metadata": agent.metadata}; the worker connects that agent ' +
          'of its agents file. LiveKit refuses a rule that duplicates another for the same ' +
          'trunk, numbers and PIN.',
        body: DispatchRuleCreate,
        response: { 201: DispatchRule, ...problemResponses(400, ...UPSTREAM_PROBLEMS) },
      },
    },
    async (req, reply) => {
      const body = req.body;
      const shape: RuleShape = { ...body };
      checkShape(shape, body);
      let rule = await callLiveKit('dispatch rule', () =>
        sip.createSipDispatchRule(sdkRule(shape), ruleCreateOptions(body, agentName)),
      );
      if (body.inboundNumbers?.length || body.numbers?.length) {
        const id = rule.sipDispatchRuleId;
        const full = ruleReplace(
          rule,
          { inboundNumbers: body.inboundNumbers, numbers: body.numbers },
          ruleShapeOf(rule.rule),
          agentName,
        );
        try {
          rule = await callLiveKit(`Dispatch rule ${id}`, () =>
            sip.updateSipDispatchRule(id, full),
          );
        } catch (err) {
          // Do not leave a rule broader than asked for (it would match every number).
          await sip
            .deleteSipDispatchRule(id)
            .catch((e: unknown) =>
              req.log.error({ err: e, ruleId: id }, 'could not remove half-created dispatch rule'),
            );
          throw err;
        }
      }
      req.log.info(
        { ruleId: rule.sipDispatchRuleId, agent: body.agent?.name },
        'dispatch rule created',
      );
      return reply
        .code(201)
        .header('location', `/v1/dispatch-rules/${rule.sipDispatchRuleId}`)
        .send(toJson(rule));
    },
  );

  app.get(
    '/v1/dispatch-rules',
    {
      schema: {
        tags: TAGS,
        summary: 'List dispatch rules',
        response: {
          200: Type.Object({ items: Type.Array(DispatchRule) }),
          ...problemResponses(...UPSTREAM_PROBLEMS),
        },
      },
    },
    async () => {
      const all = await callLiveKit('dispatch rules', () => sip.listSipDispatchRule());
      return { items: all.map(toJson) };
    },
  );

  app.get(
    '/v1/dispatch-rules/:id',
    {
      schema: {
        tags: TAGS,
        summary: 'Get a dispatch rule',
        params: RuleIdParams,
        response: { 200: DispatchRule, ...problemResponses(400, 404, ...UPSTREAM_PROBLEMS) },
      },
    },
    async (req) => toJson(await getDispatchRule(sip, req.params.id)),
  );

  app.patch(
    '/v1/dispatch-rules/:id',
    {
      schema: {
        tags: TAGS,
        summary: 'Change a dispatch rule',
        description:
          'Only the fields sent change; lists and maps sent replace the current ones. ' +
          'Changing `kind` drops the fields of the old kind.',
        params: RuleIdParams,
        body: DispatchRulePatch,
        response: { 200: DispatchRule, ...problemResponses(400, 404, ...UPSTREAM_PROBLEMS) },
      },
    },
    async (req) => {
      const { id } = req.params;
      const patch = req.body;
      const current = await getDispatchRule(sip, id);
      const shape = patchedShape(ruleShapeOf(current.rule), patch);
      checkShape(shape, patch);
      const fields = ruleUpdateFields(patch, shape);
      const updated = await callLiveKit(`Dispatch rule ${id}`, () =>
        fields
          ? sip.updateSipDispatchRuleFields(id, fields)
          : sip.updateSipDispatchRule(id, ruleReplace(current, patch, shape, agentName)),
      );
      req.log.info({ ruleId: id, fields: Object.keys(patch) }, 'dispatch rule updated');
      return toJson(updated);
    },
  );

  app.delete(
    '/v1/dispatch-rules/:id',
    {
      schema: {
        tags: TAGS,
        summary: 'Delete a dispatch rule',
        params: RuleIdParams,
        response: { 204: Deleted, ...problemResponses(400, 404, ...UPSTREAM_PROBLEMS) },
      },
    },
    async (req, reply) => {
      const { id } = req.params;
      // LiveKit answers not_found for an unknown rule; fromLiveKitError makes that our 404.
      await callLiveKit(`Dispatch rule ${id}`, () => sip.deleteSipDispatchRule(id));
      req.log.info({ ruleId: id }, 'dispatch rule deleted');
      return reply.code(204).send(null);
    },
  );
}
