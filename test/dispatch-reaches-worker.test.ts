/**
 * The dispatch contract: what the API dispatches through the LiveKit stand-in names the pool the
 * worker registers under (the agent name of the worker's own ServerOptions, built by
 * `workerServerOptions` as `src/worker/main.ts` does, from the same settings), and the job
 * metadata it carries, read by the worker's own code (buildCallContext + route with the shipped
 * agents file), connects the agent the API was asked for, or lets the agents file's routes choose
 * by the call's metadata.
 *
 * No worker process runs here (the stand-in does not speak the agent protocol): a real LiveKit
 * server handing the job to a running `src/worker/main.ts` is the real-stack test
 * test/e2e/inbound-call-to-a-number.test.ts.
 */
import { resolve } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AgentsConfig, loadAgentsFile } from '../src/agents/agents-file.js';
import { defaultCodeTools } from '../src/agents/code-tools.js';
import { type RouteLog, route } from '../src/agents/routing.js';
import type { Config } from '../src/core/config.js';
import { buildCallContext, type CallContext } from '../src/telephony/call-context.js';
import { workerServerOptions } from '../src/worker/server-options.js';
import { NUMBERS, type Standin } from './standin/index.js';
import { startCallsApi, TRUNK_NUMBER } from './support/calls.js';
import { TEST_API_KEY, testConfig } from './support/config.js';

const repoRoot = resolve(import.meta.dirname, '..');
const auth = { authorization: `Bearer ${TEST_API_KEY}` };
/** Dialed by the inbound call; the example file routes this number to `support` by itself. */
const SUPPORT_NUMBER = '+14155550123';
const CALLER = '+12125550100';

/** The deployment's own setting, read by the API (dispatches) and by the worker (registers). */
const DEPLOYMENT = { AGENT_NAME: 'acme-phone-pool' };

let lk: Standin;
let app: FastifyInstance;
let close: () => Promise<void>;
let workerConfig: Config;
let agents: AgentsConfig;

beforeAll(async () => {
  ({ lk, app, close } = await startCallsApi({ answerDelayMs: 20 }, DEPLOYMENT));
  workerConfig = testConfig(DEPLOYMENT, 'worker');
  agents = loadAgentsFile(resolve(repoRoot, 'config/agents.example.yaml'), {
    env: { TOOLS_SECRET: 'test-secret' },
    codeToolNames: defaultCodeTools().names(),
  });
});

afterAll(() => close?.());

/** What the worker does at job entry: the job (dispatch) metadata + the SIP participant. */
function workerSees(room: string, identity: string): CallContext {
  const dispatches = lk.dispatches(room);
  expect(dispatches).toHaveLength(1);
  // The job reaches the pool only when the dispatch names the name the worker registers with.
  const registered = workerServerOptions(workerConfig, 'job-entry.js', async () => 0).options;
  expect(registered.agentName).toBe(DEPLOYMENT.AGENT_NAME);
  expect(dispatches[0]?.agentName).toBe(registered.agentName);
  const sip = lk.participants(room).find((p) => p.identity === identity);
  expect(sip, `SIP participant ${identity} in ${room}`).toBeDefined();
  return buildCallContext({
    attributes: sip?.attributes,
    jobMetadata: dispatches[0]?.metadata,
    roomName: room,
    participantIdentity: identity,
  });
}

async function placeCall(body: object): Promise<{ id: string; participantIdentity: string }> {
  const res = await app.inject({ method: 'POST', url: '/v1/calls', headers: auth, payload: body });
  expect(res.statusCode, res.body).toBe(201);
  return res.json();
}

function recordingLog(): RouteLog & { warnings: object[] } {
  const warnings: object[] = [];
  return { warnings, warn: (obj) => warnings.push(obj) };
}

describe('outbound: POST /v1/calls reaches the worker pool', () => {
  it('connects the agent the request named, with its metadata', async () => {
    const call = await placeCall({
      to: NUMBERS.answers,
      from: TRUNK_NUMBER,
      agent: { name: 'billing', metadata: { accountNumber: '4711' } },
      metadata: { crmId: 'c-9' },
    });
    const ctx = workerSees(call.id, call.participantIdentity);
    expect(ctx).toMatchObject({
      direction: 'outbound',
      requestedAgent: 'billing',
      dialedNumber: NUMBERS.answers,
      callerNumber: TRUNK_NUMBER,
      metadata: { crmId: 'c-9', accountNumber: '4711' },
    });
    expect(route(agents, ctx)).toEqual({ agent: 'billing', route: 'metadata.agent' });
  });

  it("without an agent, campaign metadata matches the file's renewal-campaign route", async () => {
    const call = await placeCall({ to: NUMBERS.answers, metadata: { campaign: 'renewals' } });
    const ctx = workerSees(call.id, call.participantIdentity);
    expect(ctx.requestedAgent).toBeUndefined();
    expect(route(agents, ctx)).toEqual({ agent: 'renewals', route: 'renewal-campaign' });
  });

  it('an agent the file lacks (older clients sent the pool name) is logged; routes decide', async () => {
    const call = await placeCall({
      to: NUMBERS.answers,
      agent: { name: 'phone-agent', metadata: { campaign: 'renewals' } },
    });
    const ctx = workerSees(call.id, call.participantIdentity);
    const log = recordingLog();
    expect(route(agents, ctx, log)).toEqual({ agent: 'renewals', route: 'renewal-campaign' });
    expect(log.warnings).toEqual([expect.objectContaining({ requestedAgent: 'phone-agent' })]);
  });
});

describe('inbound: a number routed with PUT /v1/numbers reaches the worker pool', () => {
  it('connects the agent the number was routed to, with its metadata', async () => {
    const put = await app.inject({
      method: 'PUT',
      url: `/v1/numbers/${encodeURIComponent(SUPPORT_NUMBER)}`,
      headers: auth,
      payload: { agent: { name: 'billing', metadata: { line: 'priority' } } },
    });
    expect(put.statusCode, put.body).toBe(201);

    const inbound = await lk.simulateInboundCall({ from: CALLER, to: SUPPORT_NUMBER });
    expect(inbound.ruleId).toBe(put.json().dispatchRuleId);
    const ctx = workerSees(inbound.room, inbound.identity);
    expect(ctx).toMatchObject({
      direction: 'inbound',
      callerNumber: CALLER,
      dialedNumber: SUPPORT_NUMBER,
      ruleId: inbound.ruleId,
      requestedAgent: 'billing',
      metadata: { line: 'priority' },
    });
    // The dialed number alone would route to support: the number's agent wins.
    expect(route(agents, ctx)).toEqual({ agent: 'billing', route: 'metadata.agent' });
  });
});
