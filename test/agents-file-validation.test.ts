import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadAgentsFile, parseAgentsFile } from '../src/agents/agents-file.js';
import { defaultCodeTools } from '../src/agents/code-tools.js';
import type { FileIssue } from '../src/core/file-diagnostics.js';
import { testConfig } from './support/config.js';

const codeToolNames = defaultCodeTools().names();
const env = { TOOLS_SECRET: 's3cret' };

/** Parses and returns the thrown error (fails the test when the file is accepted). */
function problems(
  text: string,
  file = 'agents.yaml',
  opts: Parameters<typeof parseAgentsFile>[2] = { env, codeToolNames },
) {
  try {
    parseAgentsFile(text, file, opts);
  } catch (err) {
    const e = err as Error & { code: string; issues: FileIssue[] };
    expect(e.code).toBe('PA_ERR_CONFIG_INVALID');
    return { message: e.message, issues: e.issues };
  }
  throw new Error('the file was accepted');
}

const valid = `version: 1
agents:
  - name: receptionist
    instructions: Answer the phone.
    tools: [lookup]
    handoffs:
      - agent: billing
  - name: billing
    instructions: Billing questions.
tools:
  - name: lookup
    description: Looks things up.
    url: https://tools.example/lookup
    secretEnv: TOOLS_SECRET
routes:
  - default: true
    agent: receptionist
`;

describe('valid files', () => {
  it('the shipped example is valid (through AGENTS_CONFIG default)', () => {
    const path = resolve(__dirname, '..', testConfig({}, 'offline').AGENTS_CONFIG);
    const file = loadAgentsFile(path, { env, codeToolNames });
    expect([...file.agents.keys()]).toEqual(['receptionist', 'billing', 'support', 'renewals']);
    expect(file.defaultAgent).toBe('receptionist');
  });

  it('a minimal YAML file, and the same as JSON', () => {
    const yaml = parseAgentsFile(valid, 'agents.yaml', { env, codeToolNames });
    expect(yaml.tools.get('lookup')?.url).toBe('https://tools.example/lookup');
    const json = parseAgentsFile(
      JSON.stringify({
        agents: [{ name: 'a', instructions: 'Hi.' }],
        routes: [{ default: true, agent: 'a' }],
      }),
      'agents.json',
    );
    expect(json.defaultAgent).toBe('a');
  });
});

describe('errors name the file, the line and the path', () => {
  it('a bad tool URL', () => {
    const { message, issues } = problems(valid.replace('https://tools.example/lookup', 'ftp://x'));
    expect(message).toBe(
      'Invalid configuration: agents.yaml:13:10: tools[0].url: must be an https or http URL',
    );
    expect(issues).toEqual([
      { line: 13, col: 10, path: 'tools[0].url', message: 'must be an https or http URL' },
    ]);
  });

  it('a missing required field points at its parent mapping', () => {
    const { message } = problems(valid.replace('    instructions: Billing questions.\n', ''));
    expect(message).toContain('agents.yaml:8:5: agents[1].instructions: is required');
  });

  it('a misspelt key', () => {
    const { message } = problems(valid.replace('    tools: [lookup]', '    tool: [lookup]'));
    expect(message).toContain('agents.yaml:5:11: agents[0].tool: is not a known setting here');
  });

  it('wrong types and enum values', () => {
    const text = `agents:
  - name: Receptionist
    instructions: ""
    keyterms: Acme
    transfers:
      - { name: desk, to: "tel:+14155550100", description: Desk, mode: lukewarm }
routes:
  - { default: yes, agent: receptionist }
`;
    const { issues } = problems(text);
    expect(issues.map((i) => `${i.line}:${i.col} ${i.path}: ${i.message}`)).toEqual([
      '2:11 agents[0].name: must be lower-case letters, digits, "_" or "-", starting with a letter (max 40)',
      '3:19 agents[0].instructions: must not be empty',
      '4:15 agents[0].keyterms: must be a list',
      '6:72 agents[0].transfers[0].mode: must be one of cold, warm',
      '8:16 routes[0].default: must be true or false',
    ]);
  });

  it('cross-references: unknown handoff target, unknown route agent, unknown tool', () => {
    const text = valid
      .replace('      - agent: billing', '      - agent: bililng')
      .replace('    tools: [lookup]', '    tools: [lookup, send_sms]')
      .replace('    agent: receptionist\n', '    agent: reception\n');
    const { message } = problems(text);
    expect(message.split('\n')).toEqual([
      'Invalid configuration: 3 problems',
      'agents.yaml:5:21: agents[0].tools[1]: unknown tool "send_sms": declare it under tools: or register it in code',
      'agents.yaml:7:16: agents[0].handoffs[0].agent: unknown agent "bililng"',
      'agents.yaml:17:12: routes[0].agent: unknown agent "reception"',
    ]);
  });

  it('duplicate agent names and tool names valid for LLMs', () => {
    const text = `agents:
  - { name: a, instructions: x, tools: ["look up"] }
  - { name: a, instructions: y }
routes:
  - { default: true, agent: a }
`;
    const { issues } = problems(text);
    expect(issues.map((i) => `${i.line}:${i.col} ${i.path}: ${i.message}`)).toEqual([
      '2:41 agents[0].tools[0]: must be letters, digits, "_" or "-" (max 64): what LLM servers accept',
    ]);
    const dup = problems(text.replace('"look up"', 'current_date_time'));
    expect(dup.message).toBe(
      'Invalid configuration: agents.yaml:3:13: agents[1].name: duplicate agent name "a"',
    );
  });

  it('exactly one default route, and it comes last', () => {
    const base = `agents:
  - { name: a, instructions: x }
routes:
`;
    expect(problems(`${base}  - { match: { callerHidden: true }, agent: a }\n`).message).toBe(
      'Invalid configuration: agents.yaml:4:3: routes: needs a default route (default: true) as the last route',
    );
    expect(
      problems(`${base}  - { default: true, agent: a }\n  - { default: true, agent: a }\n`).message,
    ).toBe('Invalid configuration: agents.yaml:5:16: routes[1].default: only one default route');
    expect(
      problems(
        `${base}  - { default: true, agent: a }\n  - { match: { direction: inbound }, agent: a }\n`,
      ).message,
    ).toBe(
      'Invalid configuration: agents.yaml:4:16: routes[0].default: the default route must be the last route',
    );
  });

  it('route shape: agent xor refuse, numbers in E.164', () => {
    const text = `agents:
  - { name: a, instructions: x }
routes:
  - match: { callerNumber: "+1 415 555 0199" }
  - match: { dialedNumber: ["+1415*", "+1-628"] }
    agent: a
    refuse: No.
  - { default: true, agent: a }
`;
    const { issues } = problems(text);
    expect(issues.map((i) => `${i.line}:${i.col} ${i.path}: ${i.message}`)).toEqual([
      '4:5 routes[0]: needs exactly one of agent: or refuse:',
      '4:28 routes[0].match.callerNumber: "+1 415 555 0199" is not an E.164 number or prefix: write digits only, e.g. +1415* or +14155550100',
      '5:5 routes[1]: needs exactly one of agent: or refuse:',
      '5:39 routes[1].match.dialedNumber[1]: "+1-628" is not an E.164 number or prefix: write digits only, e.g. +1415* or +14155550100',
    ]);
  });

  it('per-agent interruption overrides are checked against the filter options', () => {
    const text = `agents:
  - name: a
    instructions: x
    interruptions: { echoMatchRatio: 2, softAck: [yeah] }
routes:
  - { default: true, agent: a }
`;
    expect(problems(text).issues.map((i) => `${i.line}:${i.col} ${i.path}: ${i.message}`)).toEqual([
      '4:38 agents[0].interruptions.echoMatchRatio: must be at most 1',
      '4:50 agents[0].interruptions.softAck: is not a known setting here (check the spelling)',
    ]);
  });

  it('transfer destinations must be tel: E.164 or sip: URIs', () => {
    const text = `agents:
  - name: a
    instructions: x
    transfers:
      - { name: desk, to: "+14155550100", description: Desk }
      - { name: eng, to: "tel:555", description: Eng }
routes:
  - { default: true, agent: a }
`;
    expect(problems(text).message.split('\n').slice(1)).toEqual([
      'agents.yaml:5:27: agents[0].transfers[0].to: must be tel:+<E.164 number> or sip:user@host',
      'agents.yaml:6:26: agents[0].transfers[1].to: tel: must be followed by an E.164 number',
    ]);
  });

  it('DTMF menus, voicemail policies, warm transfers and extensions', () => {
    const text = `agents:
  - name: a
    instructions: x
    dtmf: { menu: { "1": billing, "12": sales } }
    voicemail: { action: hangup, message: Call us back }
    transfers:
      - { name: eng, to: "sip:tier2@pbx.example", description: Eng, mode: warm }
      - { name: desk, to: "tel:+14155550100", description: Desk, extension: "204" }
      - { name: ops, to: "tel:+14155550101", description: Ops, mode: warm, extension: "w2#" }
routes:
  - { default: true, agent: a }
`;
    expect(problems(text).message.split('\n').slice(1)).toEqual([
      'agents.yaml:4:41: agents[0].dtmf.menu.12: "12" is not one keypad key (0-9, * or #)',
      'agents.yaml:5:43: agents[0].voicemail.message: is only said with action: message',
      'agents.yaml:7:26: agents[0].transfers[0].to: a warm transfer dials a phone number: use tel:+<E.164 number> (sip: URIs work for cold transfers only)',
      'agents.yaml:8:77: agents[0].transfers[1].extension: an extension needs mode: warm (a cold transfer cannot press keys after the answer)',
    ]);
    // Keypad keys only in an extension (checked by the schema, before the cross-checks).
    expect(problems(text.replace('"w2#"', '"2x"')).message).toMatch(
      /agents\[0\]\.transfers\[2\]\.extension: must be keypad keys 0-9, \* or #, w for a half-second pause/,
    );
    const ok = parseAgentsFile(
      text
        .replace('"12": sales', '"2": sales')
        .replace(', message: Call us back', '')
        .replace('sip:tier2@pbx.example', 'tel:+14155550102')
        .replace(', extension: "204"', ''),
      'agents.yaml',
    );
    const a = ok.agents.get('a')!;
    expect(a.dtmf?.menu).toEqual({ '1': 'billing', '2': 'sales' });
    expect(a.voicemail).toEqual({ action: 'hangup' });
    expect(a.transfers?.[2]).toMatchObject({ mode: 'warm', extension: 'w2#' });
  });

  it('an HMAC secret variable that is not set fails at start-up, not during a call', () => {
    expect(problems(valid, 'agents.yaml', { env: {}, codeToolNames }).message).toBe(
      'Invalid configuration: agents.yaml:14:16: tools[0].secretEnv: environment variable TOOLS_SECRET is not set',
    );
  });

  it('YAML syntax errors and JSON syntax errors have positions too', () => {
    expect(problems('agents:\n  - name: a\n   instructions: [x\n').message).toMatch(
      /^Invalid configuration: (?:\d+ problems\n)?agents\.yaml:\d+:\d+: /,
    );
    expect(problems('{"agents": [}', 'agents.json').message).toMatch(
      /^Invalid configuration: (?:\d+ problems\n)?agents\.json:1:\d+: /,
    );
  });

  it('a missing file names the path and the setting', () => {
    const dir = mkdtempSync(join(tmpdir(), 'agents-'));
    expect(() => loadAgentsFile(join(dir, 'nope.yaml'))).toThrow(
      `Invalid configuration: ${join(dir, 'nope.yaml')}: file not found (check AGENTS_CONFIG)`,
    );
    writeFileSync(join(dir, 'empty.yaml'), '');
    expect(() => loadAgentsFile(join(dir, 'empty.yaml'))).toThrow(
      /empty\.yaml:1:1: must be a mapping/,
    );
  });
});

describe('MCP servers', () => {
  /** `${NAME}` as the agents file writes it. */
  const ref = (name: string) => `$${'{'}${name}}`;
  const withMcp = `agents:
  - name: front
    instructions: Hi.
    tools: [lookup]
    mcp:
      - server: crm
        tools: [find_customer, "ticket_*"]
tools:
  - name: lookup
    description: Looks things up.
    url: https://tools.example/lookup
mcpServers:
  - name: crm
    url: https://crm.example/mcp
    transport: sse
    headers:
      Authorization: "Bearer \${CRM_TOKEN}"
    timeoutMs: 3000
routes: [{ default: true, agent: front }]
`;

  it('a server with headers from the environment and an allow-list per agent', () => {
    const file = parseAgentsFile(withMcp, 'agents.yaml', { env: { CRM_TOKEN: 't' } });
    expect(file.mcpServers.get('crm')).toMatchObject({ transport: 'sse', timeoutMs: 3000 });
    expect(file.agents.get('front')?.mcp).toEqual([
      { server: 'crm', tools: ['find_customer', 'ticket_*'] },
    ]);
  });

  it('a missing header variable, a bad URL, a literal secret: file:line:col at start-up', () => {
    const text = withMcp
      .replace('https://crm.example/mcp', 'crm.example/mcp')
      .replace('    transport: sse\n', '')
      .replace('    timeoutMs: 3000', '      X-Api-Key: abc123\n    timeoutMs: 3000');
    expect(problems(text, 'agents.yaml', { env: {} }).message.split('\n')).toEqual([
      'Invalid configuration: 3 problems',
      'agents.yaml:14:10: mcpServers[0].url: must be an https or http URL',
      'agents.yaml:16:22: mcpServers[0].headers.Authorization: environment variable CRM_TOKEN is not set',
      `agents.yaml:17:18: mcpServers[0].headers.X-Api-Key: must come from the environment: write ${ref('ENV_VAR')} (e.g. "Bearer ${ref('CRM_TOKEN')}"), never the value itself`,
    ]);
  });

  it('credentials in the URL, unknown servers, names the agent already uses, a bad transport', () => {
    const text = withMcp
      .replace('https://crm.example/mcp', 'https://user:pw@crm.example/mcp')
      .replace(
        'tools: [find_customer, "ticket_*"]',
        'tools: [lookup]\n      - server: tickets\n        tools: [open]',
      );
    expect(problems(text, 'agents.yaml', { env: { CRM_TOKEN: 't' } }).message.split('\n')).toEqual([
      'Invalid configuration: 3 problems',
      'agents.yaml:7:17: agents[0].mcp[0].tools[0]: "lookup" is already used by a tool of this agent',
      'agents.yaml:8:17: agents[0].mcp[1].server: unknown MCP server "tickets": declare it under mcpServers:',
      `agents.yaml:16:10: mcpServers[0].url: must not contain credentials: send them in headers: with ${ref('ENV_VAR')} values`,
    ]);
    expect(
      problems(withMcp.replace('transport: sse', 'transport: websocket'), 'agents.yaml', {
        env: { CRM_TOKEN: 't' },
      }).message,
    ).toBe(
      'Invalid configuration: agents.yaml:15:16: mcpServers[0].transport: must be one of streamable-http, sse',
    );
  });
});
