/**
 * The conversation-test runner (npm run test:agents): the shipped examples pass against the
 * scripted stand-in; a broken agents file makes them fail with a readable report and JUnit XML;
 * bad test files are reported as file:line:col; the command's exit codes.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { type AddressInfo, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { initializeLogger, type VAD } from '@livekit/agents';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { matchArgs } from '../src/agent-tests/matchers.js';
import { formatCase, junitXml } from '../src/agent-tests/report.js';
import { type RunResult, runAgentTests } from '../src/agent-tests/runner.js';
import { checkAgainstAgents, parseAgentTestFile } from '../src/agent-tests/test-file.js';
import { scriptedTestLlm } from '../src/agent-tests/test-llm.js';
import { loadAgentsFile } from '../src/agents/agents-file.js';
import { loadVAD } from '../src/agents/providers.js';
import { createLogger } from '../src/core/logger.js';
import { type ProviderStandIns, startProviderStandIns } from '../stack/providers/index.js';
import { testConfig } from './support/config.js';

const repo = resolve(__dirname, '..');
const examples = join(repo, 'examples/agent-tests');
const config = testConfig({}, 'offline');
const log = createLogger({ LOG_LEVEL: 'silent', LOG_FULL_NUMBERS: false });

let standIn: ProviderStandIns;
let vad: VAD;
beforeAll(async () => {
  initializeLogger({ pretty: false, level: 'silent' });
  [standIn, vad] = await Promise.all([startProviderStandIns({}), loadVAD(config)]);
});
afterAll(() => standIn.close());

function run(paths: string[], agentsFile?: string, filter?: RegExp): Promise<RunResult> {
  return runAgentTests({
    paths,
    ...(agentsFile ? { agentsFile } : {}),
    ...(filter ? { filter } : {}),
    config,
    llm: scriptedTestLlm(config, standIn),
    vad,
    log,
    cwd: repo,
    env: {},
  });
}

/** The example agents file with one edit, as a team might break it. */
function brokenAgentsFile(edit: (text: string) => string): string {
  const text = readFileSync(join(repo, 'config/agents.example.yaml'), 'utf8');
  const broken = edit(text);
  expect(broken).not.toBe(text);
  const path = join(mkdtempSync(join(tmpdir(), 'agents-')), 'agents.yaml');
  writeFileSync(path, broken);
  return path;
}

describe('the shipped examples', () => {
  it('pass against the scripted stand-in, with no LLM and no network', async () => {
    const r = await run([examples]);
    const failures = r.files
      .flatMap((f) => [
        ...(f.error ? [`${f.shown}: ${f.error}`] : []),
        ...f.cases.filter((c) => !c.ok).map(formatCase),
      ])
      .join('\n');
    expect(failures).toBe('');
    expect(r.files.map((f) => f.shown)).toEqual([
      'examples/agent-tests/billing.test.yaml',
      'examples/agent-tests/reception.test.yaml',
      'examples/agent-tests/renewals.test.yaml',
      'examples/agent-tests/support.test.yaml',
    ]);
    expect(r.passed).toBeGreaterThanOrEqual(16);
    expect(r.failed).toBe(0);
  }, 120_000);
});

describe('a broken agents file', () => {
  it('a removed handoff fails the example that needs it, with a readable report', async () => {
    const agents = brokenAgentsFile((t) =>
      t.replace(
        / {6}- agent: billing\n {8}description: The caller asks about an invoice[^\n]*\n {8}transition:[^\n]*\n/,
        '',
      ),
    );
    const r = await run([join(examples, 'reception.test.yaml')], agents, /invoice question/);
    const c = r.files[0]!.cases[0]!;
    expect(c.ok).toBe(false);
    const text = formatCase(c);
    expect(text).toContain('✗ an invoice question is handed to billing');
    expect(text).toContain(
      'turn 1 – say "Hi, I have a question about my last invoice.":\n        - expected a handoff to billing; there was none (receptionist kept the call)',
    );
    expect(text).toContain(
      'expected billing to be talking at the end of the turn; it was receptionist',
    );
    // The transcript shows what happened instead.
    expect(text).toMatch(
      /transcript:\n +\[answered by\] receptionist\n +receptionist: Thanks for calling/,
    );
    expect(text).toContain('caller: Hi, I have a question about my last invoice.');

    const xml = junitXml(r);
    expect(xml).toContain(
      '<testsuite name="examples/agent-tests/reception.test.yaml" tests="1" failures="1"',
    );
    expect(xml).toMatch(
      /<failure message="expected a handoff to billing; there was none \(receptionist kept the call\)" type="ConversationExpectation">/,
    );
  }, 60_000);

  it('a tool taken from the agent: the call the script still makes is reported, and fails', async () => {
    const agents = brokenAgentsFile((t) =>
      t.replace('tools: [lookup_invoice]', 'tools: [current_date_time]'),
    );
    const r = await run([join(examples, 'billing.test.yaml')], agents, /before looking up/);
    const c = r.files[0]!.cases[0]!;
    expect(c.ok).toBe(false);
    expect(c.turns[2]!.failures).toEqual([
      expect.stringMatching(
        /^the LLM called lookup_invoice, which the agent does not have \(Unknown function: lookup_invoice - available tools: collect_digits, current_date_time, end_call, handoff_to_receptionist\)$/,
      ),
      'expected a call of lookup_invoice; tools called: none',
    ]);
  }, 60_000);

  it('an agents file with a mistake stops the test file with the file:line:col problem', async () => {
    const agents = brokenAgentsFile((t) =>
      t.replace('url: https://network.acme.example/mcp', 'url: network.acme.example/mcp'),
    );
    const r = await run([join(examples, 'support.test.yaml')], agents);
    expect(r.failed).toBe(1);
    expect(r.files[0]!.error).toMatch(
      /^Invalid configuration: agents\.yaml:\d+:10: mcpServers\[0\]\.url: must be an https or http URL$/,
    );
  });
});

describe('a real MCP server that is down when the call starts', () => {
  it('the call goes on without its tools, and the call summary reports it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mcp-down-'));
    // A port nothing listens on.
    const s = createServer();
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
    const port = (s.address() as AddressInfo).port;
    await new Promise<void>((r) => s.close(() => r()));
    writeFileSync(
      join(dir, 'agents.yaml'),
      `mcpServers: [{ name: crm, url: "http://127.0.0.1:${port}/mcp", timeoutMs: 500 }]
agents:
  - { name: front, instructions: You answer the phone., greeting: Hello!, mcp: [{ server: crm, tools: [find_customer] }] }
routes: [{ default: true, agent: front }]
`,
    );
    writeFileSync(
      join(dir, 'down.test.yaml'),
      `agentsFile: agents.yaml
script: [{ agent: front, reply: "How can I help?" }]
cases:
  - name: no CRM today
    turns:
      - say: Hi there.
        expect: { reply: { contains: How can I help }, notToolCalls: ["*"] }
`,
    );
    const r = await run([dir]);
    const c = r.files[0]!.cases[0]!;
    expect(formatCase(c)).toMatch(/^ {2}✓ no CRM today/);
    expect(c.summary?.outcome).toBe('completed');
    expect(c.summary?.toolServersUnavailable).toEqual([
      { t: expect.any(Number), server: 'crm', reason: expect.stringMatching(/ECONNREFUSED/) },
    ]);
    expect(c.transcript[0]).toMatch(/^\[MCP server crm unavailable: .*ECONNREFUSED/);
  }, 60_000);
});

describe('test files are checked like the agents file', () => {
  const agents = loadAgentsFile(join(repo, 'config/agents.example.yaml'), {
    env: { TOOLS_SECRET: 'x' },
    codeToolNames: ['current_date_time'],
  });
  const problems = (text: string) => {
    try {
      const t = parseAgentTestFile(text, 'calls.test.yaml');
      checkAgainstAgents(t, agents, 'agents.yaml');
    } catch (err) {
      expect((err as { code?: string }).code).toBe('PA_ERR_AGENT_TEST_INVALID');
      return (err as Error).message.split('\n');
    }
    throw new Error('the file was accepted');
  };

  it('shape: unknown keys, bad keys; then both say and press, bad regular expressions', () => {
    expect(
      problems(`cases:
  - name: a
    turns:
      - say: hi
        press: "1"
      - press: "12x"
      - say: bye
        expect: { endcall: true }
`),
    ).toEqual([
      'Invalid agent test file: 2 problems',
      'calls.test.yaml:6:16: cases[0].turns[1].press: must be keypad keys 0-9, * or # (max 32)',
      'calls.test.yaml:8:28: cases[0].turns[2].expect.endcall: is not a known setting here (check the spelling)',
    ]);
    expect(
      problems(`cases:
  - name: a
    turns:
      - say: hi
        press: "1"
      - say: hello
        expect: { reply: { matches: "(" }, toolCalls: [{ name: x, args: { n: { matches: "[" } } }] }
`),
    ).toEqual([
      'Invalid agent test file: 3 problems',
      'calls.test.yaml:4:9: cases[0].turns[0]: needs exactly one of say: or press:',
      'calls.test.yaml:7:37: cases[0].turns[1].expect.reply.matches: is not a valid regular expression: Invalid regular expression: /(/i: Unterminated group',
      'calls.test.yaml:7:89: cases[0].turns[1].expect.toolCalls[0].args.n.matches: is not a valid regular expression: Invalid regular expression: /[/i: Unterminated character class',
    ]);
  });

  it('names the agents file lacks: agents, handoff targets, transfers, fixtures', () => {
    expect(
      problems(`fixtures:
  tools: { lookup_invoices: [{ respond: {} }] }
  mcpServers: { crm: [{ name: x, responses: [{ respond: 1 }] }] }
cases:
  - name: a
    agent: billling
    turns:
      - say: hi
        expect: { handoff: suport, transfer: front_desk }
      - say: hi
        expect: { transfer: frontdesk }
`),
    ).toEqual([
      'Invalid agent test file: 5 problems',
      'calls.test.yaml:2:29: fixtures.tools.lookup_invoices: agents.yaml has no HTTP tool "lookup_invoices" (its tools:)',
      'calls.test.yaml:3:22: fixtures.mcpServers.crm: agents.yaml has no MCP server "crm" (its mcpServers:)',
      'calls.test.yaml:6:12: cases[0].agent: agents.yaml has no agent "billling" (it has receptionist, billing, support, renewals)',
      'calls.test.yaml:9:28: cases[0].turns[0].expect.handoff: agents.yaml has no agent "suport" (it has receptionist, billing, support, renewals)',
      'calls.test.yaml:11:29: cases[0].turns[1].expect.transfer: agents.yaml has no transfer destination "frontdesk" (agents[].transfers[].name)',
    ]);
  });
});

describe('argument matchers', () => {
  it('values, contains, matches, oneOf, present and nested objects', () => {
    const args = { accountNumber: 4471, note: 'Late payment', tags: ['a'], addr: { zip: '94107' } };
    expect(matchArgs({ accountNumber: '4471' }, args).ok).toBe(true);
    expect(matchArgs({ note: { contains: 'late' } }, args).ok).toBe(true);
    expect(matchArgs({ note: { matches: '^late' } }, args).ok).toBe(true);
    expect(matchArgs({ accountNumber: { oneOf: [1, 4471] } }, args).ok).toBe(true);
    expect(matchArgs({ missing: { present: false } }, args).ok).toBe(true);
    expect(matchArgs({ addr: { zip: '94107' } }, args).ok).toBe(true);
    expect(matchArgs({ tags: ['a'] }, args).ok).toBe(true);
    expect(matchArgs({ accountNumber: '4417' }, args)).toEqual({
      ok: false,
      why: 'accountNumber is 4471, expected "4417"',
    });
    expect(matchArgs({ addr: { zip: { contains: '2' } } }, args).why).toBe(
      'addr.zip is "94107", which does not contain "2"',
    );
    expect(matchArgs({ missing: 'x' }, args).why).toBe('missing is missing');
  });
});

describe('the command', () => {
  const tsx = join(repo, 'node_modules/.bin/tsx');
  const cli = (args: string[], env: NodeJS.ProcessEnv = {}) =>
    spawnSync(tsx, ['scripts/test-agents.ts', ...args], {
      cwd: repo,
      encoding: 'utf8',
      env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env },
      timeout: 90_000,
    });

  it('exit 0 and a JUnit file when the cases pass; 1 when one fails; 2 for a wrong command', () => {
    const dir = mkdtempSync(join(tmpdir(), 'agent-tests-'));
    writeFileSync(
      join(dir, 'greeting.test.yaml'),
      `agentsFile: ${join(repo, 'config/agents.example.yaml')}
cases:
  - name: the receptionist answers
    greeting: { agent: receptionist, reply: { contains: Acme } }
  - name: the receptionist answers in French
    greeting: { reply: { contains: Bonjour } }
`,
    );
    const r = cli([dir, '--junit', join(dir, 'out/junit.xml'), '--case', 'answers$']);
    expect(r.stdout).toContain('✓ the receptionist answers');
    expect(r.status).toBe(0);
    expect(readFileSync(join(dir, 'out/junit.xml'), 'utf8')).toContain(
      'name="the receptionist answers"',
    );
    const failing = cli([join(dir, 'greeting.test.yaml')]);
    expect(failing.stdout).toContain(
      '- expected the agent to say "Bonjour"; it said "Thanks for calling',
    );
    expect(failing.status).toBe(1);
    expect(cli([]).status).toBe(2);
    const missing = cli([join(dir, 'nope.test.yaml')]);
    expect(missing.status).toBe(2);
    expect(missing.stderr).toContain('nope.test.yaml: no such file or folder');
    expect(missing.stderr).not.toMatch(/\n\s+at /); // no stack trace for a user's mistake
  }, 120_000);
});
