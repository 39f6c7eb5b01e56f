/**
 * Tools declared as HTTP endpoints, called by a real agent session (text mode, scripted LLM)
 * against a real local HTTP server that checks the HMAC signature itself.
 */
import { createHmac } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { initializeLogger, voice } from '@livekit/agents';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type AgentsConfig, parseAgentsFile } from '../src/agents/agents-file.js';
import { createAgentFactory } from '../src/agents/phone-agent.js';
import { createSessionData, type PhoneSessionData } from '../src/agents/session-data.js';
import { SIGNATURE_HEADER, sign, verify } from '../src/core/signature.js';
import { ScriptedLLM } from '../src/sim/scripted-llm.js';
import { buildCallContext } from '../src/telephony/call-context.js';

const SECRET = 'tools-secret-for-tests';

interface Received {
  path: string;
  headers: IncomingMessage['headers'];
  body: string;
  signatureOk: boolean;
}
const received: Received[] = [];
let server: Server;
let base = '';

/** The receiving side verifies with its own HMAC code, not the module under test. */
function signatureValid(header: string | undefined, body: string): boolean {
  const m = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(header ?? '');
  if (!m) return false;
  const expected = createHmac('sha256', SECRET).update(`${m[1]}.${body}`).digest('hex');
  return expected === m[2] && Math.abs(Date.now() / 1000 - Number(m[1])) < 60;
}

beforeAll(async () => {
  initializeLogger({ pretty: false, level: 'error' });
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => {
      body += c;
    });
    req.on('end', () => {
      const header = req.headers[SIGNATURE_HEADER] as string | undefined;
      received.push({
        path: req.url ?? '',
        headers: req.headers,
        body,
        signatureOk: signatureValid(header, body),
      });
      const json = (status: number, value: unknown) => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(value));
      };
      switch (req.url) {
        case '/invoice': {
          if (!signatureValid(header, body)) return json(401, { error: 'bad signature' });
          const { arguments: args } = JSON.parse(body);
          return json(200, { accountNumber: args.accountNumber, amount: 40.5, status: 'paid' });
        }
        case '/slow':
          setTimeout(() => json(200, { late: true }), 1500);
          return;
        case '/broken':
          return json(500, { error: 'database down' });
        case '/html':
          res.writeHead(200, { 'content-type': 'text/html' });
          return res.end('<html>Service Unavailable</html>');
        default:
          return json(404, {});
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(() => new Promise<void>((r) => server.close(() => r())));

let session: voice.AgentSession<PhoneSessionData> | undefined;
afterEach(async () => {
  await session?.close();
  session = undefined;
  received.length = 0;
});

function agentsFile(): AgentsConfig {
  const tool = (name: string, path: string, extra = '') => `
  - name: ${name}
    description: Test tool ${name}.
    parameters:
      type: object
      properties: { accountNumber: { type: string } }
      required: [accountNumber]
    url: ${base}${path}
    secretEnv: TOOLS_SECRET${extra}`;
  return parseAgentsFile(
    `
agents:
  - name: billing
    instructions: Billing.
    tools: [lookup_invoice, slow_lookup, broken_lookup, html_lookup]
tools:${tool('lookup_invoice', '/invoice')}${tool(
      'slow_lookup',
      '/slow',
      `
    timeoutMs: 700
    fillerAfterMs: 200
    filler: One moment while I check.
    fallback: Sorry, the billing system is slow right now. Can I call you back?`,
    )}${tool('broken_lookup', '/broken')}${tool('html_lookup', '/html')}
routes: [{ default: true, agent: billing }]
`,
    'agents.yaml',
    { env: { TOOLS_SECRET: SECRET } },
  );
}

/** The LLM calls the tool named in the caller's words, then reads out what it got back. */
function toolCallingLLM() {
  return new ScriptedLLM((turn) => {
    if (turn.toolOutput) return `Result: ${turn.toolOutput.output}`;
    const name = /use (\w+)/.exec(turn.userText)?.[1];
    return name ? { toolCalls: [{ name, args: { accountNumber: '4471' } }] } : 'Okay.';
  });
}

async function runCall(userInput: string) {
  const call = buildCallContext({
    attributes: {
      'sip.ruleID': 'SDR_1',
      'sip.callID': 'SCL_http1',
      'sip.phoneNumber': '+14155550142',
      'sip.trunkPhoneNumber': '+14155550123',
      'sip.h.X-Customer-Id': 'cust-981',
    },
  });
  const model = toolCallingLLM();
  const factory = createAgentFactory({
    config: agentsFile(),
    call,
    env: { TOOLS_SECRET: SECRET },
    greet: false,
  });
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
  await session.start({ agent: factory.create('billing') });
  const started = Date.now();
  const result = await session.run({ userInput }).wait();
  return { result, spoken, model, started };
}

describe('HTTP tool answers', () => {
  it('POSTs the arguments and the call context, signed; the JSON answer reaches the LLM', async () => {
    const { result, model } = await runCall('Please use lookup_invoice');

    expect(received).toHaveLength(1);
    const req = received[0]!;
    expect(req.path).toBe('/invoice');
    expect(req.headers['content-type']).toBe('application/json');
    expect(req.signatureOk).toBe(true);
    const body = JSON.parse(req.body);
    expect(body.tool).toBe('lookup_invoice');
    expect(body.arguments).toEqual({ accountNumber: '4471' });
    expect(body.call).toMatchObject({
      direction: 'inbound',
      callerNumber: '+14155550142',
      dialedNumber: '+14155550123',
      livekitCallId: 'SCL_http1',
      headers: { 'x-customer-id': 'cust-981' },
    });

    result.expect.nextEvent().isFunctionCall({ name: 'lookup_invoice' });
    const output = result.expect.nextEvent().isFunctionCallOutput().event();
    expect(JSON.parse((output.item as { output: string }).output)).toEqual({
      accountNumber: '4471',
      amount: 40.5,
      status: 'paid',
    });
    const reply = result.expect.nextEvent().isMessage({ role: 'assistant' }).event();
    expect((reply.item as { textContent?: string }).textContent).toContain('"amount":40.5');
    expect(model.calls.at(-1)?.toolOutput?.isError).toBe(false);
  });
});

describe('HTTP tool failures get a spoken fallback, never dead air', () => {
  it('timeout: a filler while waiting, then the fallback, and no LLM reply on top', async () => {
    const { spoken, model, started } = await runCall('Please use slow_lookup');
    const texts = spoken.map((s) => s.text);
    expect(texts).toEqual([
      'One moment while I check.',
      'Sorry, the billing system is slow right now. Can I call you back?',
    ]);
    // Filler after ~200 ms of silence, fallback right at the 700 ms timeout.
    expect(spoken[0]!.at - started).toBeLessThan(700);
    expect(spoken[1]!.at - started).toBeGreaterThanOrEqual(650);
    expect(spoken[1]!.at - started).toBeLessThan(1400);
    // The LLM was asked once (for the tool call), not again to improvise over the fallback.
    expect(model.calls).toHaveLength(1);
  });

  it('HTTP 500: the default fallback', async () => {
    const { spoken, model } = await runCall('Please use broken_lookup');
    expect(received[0]?.path).toBe('/broken');
    expect(spoken.map((s) => s.text)).toEqual(["Sorry, I can't get that information right now."]);
    expect(model.calls).toHaveLength(1);
  });

  it('an answer that is not JSON: the fallback', async () => {
    const { spoken } = await runCall('Please use html_lookup');
    expect(spoken.map((s) => s.text)).toEqual(["Sorry, I can't get that information right now."]);
  });

  it('the fallback stays in the history, so the LLM knows what the caller heard', async () => {
    await runCall('Please use broken_lookup');
    const history = session!.history.items
      .filter((i) => i.type === 'message' && i.role === 'assistant')
      .map((i) => (i as { textContent?: string }).textContent);
    expect(history).toContain("Sorry, I can't get that information right now.");
  });
});

describe('signature helpers', () => {
  const body = '{"tool":"x"}';
  const now = 1_700_000_000;

  it('the signature matches an independent HMAC and verify accepts it', () => {
    const header = sign(SECRET, body, now);
    const hex = createHmac('sha256', SECRET).update(`${now}.${body}`).digest('hex');
    expect(header).toBe(`t=${now},v1=${hex}`);
    expect(verify(SECRET, header, body, { nowS: now })).toBe(true);
  });

  it('rejects a tampered body, a wrong key, a stale timestamp and garbage', () => {
    const header = sign(SECRET, body, now);
    expect(verify(SECRET, header, '{"tool":"y"}', { nowS: now })).toBe(false);
    expect(verify('other', header, body, { nowS: now })).toBe(false);
    expect(verify(SECRET, header, body, { nowS: now + 301 })).toBe(false);
    expect(verify(SECRET, 't=abc,v1=zz', body, { nowS: now })).toBe(false);
    expect(verify(SECRET, undefined, body, { nowS: now })).toBe(false);
  });
});
