/**
 * Agents using tools of MCP servers, in a real agent session (text mode, scripted LLM) against a
 * real MCP server built with the MCP SDK on loopback (test/support/mcp-server.ts).
 */
import { createServer } from 'node:net';
import { initializeLogger, voice } from '@livekit/agents';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type AgentsConfig, parseAgentsFile } from '../src/agents/agents-file.js';
import { McpServers } from '../src/agents/mcp-servers.js';
import { McpCallTools } from '../src/agents/mcp-tools.js';
import { createAgentFactory } from '../src/agents/phone-agent.js';
import { createSessionData, type PhoneSessionData } from '../src/agents/session-data.js';
import { CallMetrics } from '../src/call/call-metrics.js';
import { createLogger } from '../src/core/logger.js';
import { ScriptedLLM, type ScriptedTurn } from '../src/sim/scripted-llm.js';
import { buildCallContext } from '../src/telephony/call-context.js';
import { startTestMcpServer, type TestMcpServer } from './support/mcp-server.js';

const TOKEN = 'crm-token-for-tests-7f3a';
const env = { CRM_TOKEN: TOKEN };

let crm: TestMcpServer;
let downUrl = '';

beforeAll(async () => {
  initializeLogger({ pretty: false, level: 'error' });
  crm = await startTestMcpServer({
    requireHeader: { name: 'authorization', value: `Bearer ${TOKEN}` },
    slowMs: 2500,
  });
  downUrl = `http://127.0.0.1:${await closedPort()}/mcp`;
});
afterAll(() => crm.close());

let session: voice.AgentSession<PhoneSessionData> | undefined;
let servers: McpServers | undefined;
afterEach(async () => {
  await session?.close();
  await servers?.close();
  session = undefined;
  servers = undefined;
  crm.methods.length = 0;
  crm.calls.length = 0;
  crm.headers.length = 0;
});

/** A port nothing listens on: the server that is down. */
async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

function agentsFile(o: { url?: string; transport?: 'sse'; tools?: string } = {}): AgentsConfig {
  return parseAgentsFile(
    `
mcpServers:
  - name: crm
    url: ${o.url ?? crm.url}
    ${o.transport ? `transport: ${o.transport}` : ''}
    headers:
      Authorization: "Bearer \${CRM_TOKEN}"
    timeoutMs: 700
    fillerAfterMs: 200
    filler: Let me look that up.
    fallback: Sorry, our customer system is not answering. Can I call you back?
agents:
  - name: front
    instructions: Front desk.
    mcp:
      - server: crm
        tools: ${o.tools ?? '[find_customer, slow_lookup, open_ticket]'}
    handoffs: [{ agent: billing }]
  - name: billing
    instructions: Billing.
    mcp:
      - server: crm
        tools: [find_customer]
routes: [{ default: true, agent: front }]
`,
    'agents.yaml',
    { env },
  );
}

/**
 * Calls the tool named in the caller's words with the account number they said; hands off on
 * "billing"; reads out what a tool returned. Remembers the tools offered at each request.
 */
function scriptedLLM() {
  const offered: string[][] = [];
  const model = new ScriptedLLM((turn: ScriptedTurn) => {
    offered.push([...turn.tools].sort());
    if (turn.toolOutput) {
      return `${turn.toolOutput.isError ? 'Error' : 'Result'}: ${turn.toolOutput.output}`;
    }
    if (/billing/.test(turn.userText))
      return { toolCalls: [{ name: 'handoff_to_billing', args: {} }] };
    const tool = /use (\w+)/.exec(turn.userText)?.[1];
    const account = /account (\d+)/.exec(turn.userText)?.[1] ?? '4471';
    if (tool) return { toolCalls: [{ name: tool, args: { accountNumber: account } }] };
    return 'How can I help?';
  });
  return { model, offered };
}

async function startCall(
  config: AgentsConfig,
  o: { cacheTtlMs?: number; now?: () => number; log?: ReturnType<typeof createLogger> } = {},
) {
  const call = buildCallContext({
    attributes: { 'sip.phoneNumber': '+14155550142', 'sip.trunkPhoneNumber': '+14155550123' },
  });
  servers ??= new McpServers(config.mcpServers.values(), {
    env,
    ...(o.log ? { log: o.log } : {}),
    ...(o.cacheTtlMs !== undefined ? { cacheTtlMs: o.cacheTtlMs } : {}),
    ...(o.now ? { now: o.now } : {}),
  });
  const metrics = new CallMetrics({ callId: 'call-mcp', direction: 'inbound' });
  const mcp: McpCallTools = new McpCallTools(servers, {
    ...(o.log ? { log: o.log } : {}),
    onUnavailable: (server, reason) => metrics.noteToolServerUnavailable(server, reason),
  });
  const { model, offered } = scriptedLLM();
  const factory = createAgentFactory({ config, call, env, greet: false, mcp });
  session = new voice.AgentSession<PhoneSessionData>({
    llm: model,
    userData: createSessionData(call),
  });
  const spoken: { at: number; text: string }[] = [];
  session.on(voice.AgentSessionEventTypes.ConversationItemAdded, (ev) => {
    if (ev.item.type === 'message' && ev.item.role === 'assistant') {
      spoken.push({ at: Date.now(), text: ev.item.textContent ?? '' });
    }
  });
  await session.start({ agent: factory.create('front') });
  await mcp.settled();
  const say = async (userInput: string) => {
    const result = await session!.run({ userInput }).wait();
    await mcp.settled();
    return result;
  };
  return { say, model, offered, spoken, metrics, mcp };
}

describe('discovery when the session starts', () => {
  it('lists the tools over streamable HTTP and offers only the allow-listed ones', async () => {
    const { say, offered } = await startCall(agentsFile());
    expect(crm.methods).toContain('tools/list');
    await say('hello');
    // slow_lookup and find_customer are allowed; open_ticket is allowed but does not exist yet;
    // delete_customer exists but is not on the allow-list.
    expect(offered[0]).toEqual(['find_customer', 'handoff_to_billing', 'slow_lookup']);
  });

  it('a "*" pattern on the allow-list admits every tool it matches, and nothing else', async () => {
    const { say, offered } = await startCall(agentsFile({ tools: '["find_*", slow_lookup]' }));
    await say('hello');
    expect(offered[0]).toEqual(['find_customer', 'handoff_to_billing', 'slow_lookup']);
  });

  it('a tool name the agent already has is left out, never a failed agent', async () => {
    const config = parseAgentsFile(
      `
mcpServers:
  - { name: crm, url: "${crm.url}", headers: { Authorization: "Bearer \${CRM_TOKEN}" } }
  - { name: crm-copy, url: "${crm.url}", headers: { Authorization: "Bearer \${CRM_TOKEN}" } }
agents:
  - name: front
    instructions: Front desk.
    mcp: [{ server: crm, tools: ["*"] }, { server: crm-copy, tools: ["*"] }]
    handoffs: [{ agent: billing }]
  - { name: billing, instructions: Billing. }
routes: [{ default: true, agent: front }]
`,
      'agents.yaml',
      { env },
    );
    const { say, offered } = await startCall(config);
    await say('hello');
    expect(offered[0]).toEqual([
      'delete_customer',
      'find_customer',
      'handoff_to_billing',
      'slow_lookup',
    ]);
  });

  it('the SSE transport works for servers that only have it', async () => {
    const { say, offered } = await startCall(agentsFile({ url: crm.sseUrl, transport: 'sse' }));
    await say('Please use find_customer for account 4471');
    expect(offered[0]).toContain('find_customer');
    expect(crm.calls).toEqual([{ tool: 'find_customer', args: { accountNumber: '4471' } }]);
  });

  it('sends the headers from the environment, and never logs their values', async () => {
    const lines: string[] = [];
    const log = createLogger(
      { LOG_LEVEL: 'debug', LOG_FULL_NUMBERS: false },
      { destination: { write: (l: string) => lines.push(l) } as never },
    );
    const { say } = await startCall(agentsFile(), { log });
    await say('Please use find_customer for account 4471');
    await say('Please use slow_lookup');
    expect(crm.headers.length).toBeGreaterThan(0);
    for (const h of crm.headers) expect(h.authorization).toBe(`Bearer ${TOKEN}`);
    expect(lines.length).toBeGreaterThan(0);
    expect(lines.join('\n')).not.toContain(TOKEN);
  });

  it('a server that adds a tool and says its list changed: running agents get it', async () => {
    const { say, offered } = await startCall(agentsFile());
    await say('hello');
    expect(offered.at(-1)).not.toContain('open_ticket');
    crm.addTicketTool();
    await expect.poll(() => crm.methods.filter((m) => m === 'tools/list').length).toBe(2);
    await new Promise((r) => setTimeout(r, 50));
    await say('hello again');
    expect(offered.at(-1)).toContain('open_ticket');
  });

  it('the tool list is reused per process for the cache time, then listed again', async () => {
    let now = 1_000_000;
    const clock = () => now;
    const config = agentsFile();
    await startCall(config, { cacheTtlMs: 60_000, now: clock });
    await session!.close();
    await startCall(config, { now: clock });
    expect(crm.methods.filter((m) => m === 'tools/list')).toHaveLength(1);
    await session!.close();
    now += 61_000;
    await startCall(config, { now: clock });
    expect(crm.methods.filter((m) => m === 'tools/list')).toHaveLength(2);
  });
});

describe('tool calls', () => {
  it('passes the arguments from the conversation; the structured result reaches the LLM', async () => {
    const { say, model } = await startCall(agentsFile());
    const result = await say('Please use find_customer for account 5521');
    expect(crm.calls).toEqual([{ tool: 'find_customer', args: { accountNumber: '5521' } }]);
    result.expect.nextEvent().isFunctionCall({ name: 'find_customer' });
    const out = result.expect.nextEvent().isFunctionCallOutput().event();
    expect(JSON.parse((out.item as { output: string }).output)).toEqual({
      accountNumber: '5521',
      name: 'Dana Miller',
      plan: 'Fiber Max',
    });
    expect(model.calls.at(-1)?.toolOutput?.isError).toBe(false);
  });

  it('an error result goes to the LLM as the tool error (no fallback sentence)', async () => {
    const { say, model, spoken } = await startCall(agentsFile());
    await say('Please use find_customer for account 0000');
    const last = model.calls.at(-1)?.toolOutput;
    expect(last?.isError).toBe(true);
    expect(last?.output).toContain('No customer with account number 0000');
    expect(spoken.map((s) => s.text)).toEqual([
      expect.stringContaining('Error: No customer with account number 0000'),
    ]);
  });

  it('a timeout: the filler while waiting, then the spoken fallback, no LLM reply on top', async () => {
    const { say, model, spoken } = await startCall(agentsFile());
    const started = Date.now();
    await say('Please use slow_lookup');
    expect(spoken.map((s) => s.text)).toEqual([
      'Let me look that up.',
      'Sorry, our customer system is not answering. Can I call you back?',
    ]);
    expect(spoken[0]!.at - started).toBeLessThan(700);
    expect(spoken[1]!.at - started).toBeGreaterThanOrEqual(650);
    expect(spoken[1]!.at - started).toBeLessThan(1600);
    expect(model.calls).toHaveLength(1);
  });

  it('a hidden tool cannot be called even if the LLM names it', async () => {
    const { say } = await startCall(agentsFile());
    await say('Please use delete_customer');
    expect(crm.calls).toEqual([]);
  });
});

describe('a server that is down at call start', () => {
  it('the agent works without its tools; reported once per call and in the summary', async () => {
    const { say, offered, spoken, metrics, mcp } = await startCall(agentsFile({ url: downUrl }));
    expect(mcp.unavailable.get('crm')).toMatch(/ECONNREFUSED|fetch failed/);
    await say('hello');
    expect(offered[0]).toEqual(['handoff_to_billing']);
    expect(spoken.at(-1)?.text).toBe('How can I help?');
    // billing lists the same server: tried again, still down, not reported a second time.
    await say('I have a billing question');
    await expect.poll(() => session!.currentAgent.id).toBe('billing');
    await mcp.settled();
    const summary = metrics.end({ outcome: 'completed', endedBy: 'caller' });
    expect(summary.toolServersUnavailable).toEqual([
      {
        t: expect.any(Number),
        server: 'crm',
        reason: expect.stringMatching(/ECONNREFUSED|fetch failed/),
      },
    ]);
  });

  it('a server that rejects our credentials counts as down too', async () => {
    const config = parseAgentsFile(
      `
mcpServers: [{ name: crm, url: "${crm.url}", headers: { Authorization: "Bearer \${CRM_TOKEN}" } }]
agents: [{ name: front, instructions: Hi., mcp: [{ server: crm, tools: [find_customer] }] }]
routes: [{ default: true, agent: front }]
`,
      'agents.yaml',
      { env: { CRM_TOKEN: 'wrong' } },
    );
    servers = new McpServers(config.mcpServers.values(), { env: { CRM_TOKEN: 'wrong' } });
    const mcp = new McpCallTools(servers);
    const factory = createAgentFactory({ config, greet: false, mcp });
    const { model, offered } = scriptedLLM();
    const call = buildCallContext({ attributes: {} });
    session = new voice.AgentSession<PhoneSessionData>({
      llm: model,
      userData: createSessionData(call),
    });
    await session.start({ agent: factory.create('front') });
    await mcp.settled();
    expect(mcp.unavailable.get('crm')).toMatch(/401/);
    await session.run({ userInput: 'hello' }).wait();
    expect(offered[0]).toEqual([]);
  });
});
