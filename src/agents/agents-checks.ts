/**
 * Cross-checks of the agents file: what its schema cannot say. Names that must exist (agents,
 * tools, MCP servers, handoff targets), names the LLM sees that must be unique per agent,
 * transfer destinations, DTMF keys, MCP servers' URLs and header variables, one default route
 * and last, number patterns in E.164.
 */

import type { FileIssue, Locate } from '../core/file-diagnostics.js';
import { formatPath } from '../core/file-diagnostics.js';
import { transferTarget } from '../core/phone.js';
import {
  type AgentsFileData,
  ENV_REFERENCE,
  handoffToolName,
  type RouteMatch,
} from './agents-schema.js';

export interface CheckOptions {
  /** Where `secretEnv` and MCP header variables are read. */
  env: NodeJS.ProcessEnv;
  /** Names of tools written in code that agents may reference. */
  codeToolNames: Iterable<string>;
}

export function crossCheck(data: AgentsFileData, opts: CheckOptions, locate: Locate): FileIssue[] {
  const issues: FileIssue[] = [];
  const add = (path: (string | number)[], message: string) =>
    issues.push({ ...locate(path), path: formatPath(path), message });
  const env = opts.env;
  const codeTools = new Set(opts.codeToolNames);

  const agentNames = new Set<string>();
  data.agents.forEach((a, i) => {
    if (agentNames.has(a.name)) add(['agents', i, 'name'], `duplicate agent name "${a.name}"`);
    agentNames.add(a.name);
  });

  const httpTools = new Set<string>();
  (data.tools ?? []).forEach((t, i) => {
    const at = ['tools', i] as const;
    if (httpTools.has(t.name)) add([...at, 'name'], `duplicate tool name "${t.name}"`);
    if (codeTools.has(t.name)) {
      add([...at, 'name'], `"${t.name}" is already the name of a tool written in code`);
    }
    httpTools.add(t.name);
    const urlProblem = checkHttpUrl(t.url);
    if (urlProblem) add([...at, 'url'], urlProblem);
    if (t.secretEnv && !env[t.secretEnv]) {
      add([...at, 'secretEnv'], `environment variable ${t.secretEnv} is not set`);
    }
    if (t.parameters?.required) {
      for (const r of t.parameters.required) {
        if (!t.parameters.properties || !(r in t.parameters.properties)) {
          add([...at, 'parameters', 'required'], `"${r}" is required but not in properties`);
        }
      }
    }
  });

  const mcpServers = new Set<string>();
  (data.mcpServers ?? []).forEach((s, i) => {
    const at = ['mcpServers', i] as const;
    if (mcpServers.has(s.name)) add([...at, 'name'], `duplicate MCP server name "${s.name}"`);
    mcpServers.add(s.name);
    const urlProblem = checkHttpUrl(s.url) ?? checkNoCredentials(s.url);
    if (urlProblem) add([...at, 'url'], urlProblem);
    for (const [header, value] of Object.entries(s.headers ?? {})) {
      const names = envReferences(value);
      if (names.length === 0) {
        add(
          [...at, 'headers', header],
          // biome-ignore lint/suspicious/noTemplateCurlyInString: the agents file's ${VAR} syntax, quoted
          'must come from the environment: write ${ENV_VAR} (e.g. "Bearer ${CRM_TOKEN}"), never the value itself',
        );
      }
      for (const name of names) {
        if (!env[name]) add([...at, 'headers', header], `environment variable ${name} is not set`);
      }
    }
  });

  data.agents.forEach((a, i) => {
    const at = ['agents', i] as const;
    // Every name the LLM sees for this agent must be unique.
    const seen = new Map<string, string>();
    const claim = (name: string, what: string, path: (string | number)[]) => {
      const before = seen.get(name);
      if (before) add(path, `"${name}" is already used by ${before} of this agent`);
      else seen.set(name, what);
    };
    (a.tools ?? []).forEach((name, j) => {
      if (!httpTools.has(name) && !codeTools.has(name)) {
        add(
          [...at, 'tools', j],
          `unknown tool "${name}": declare it under tools: or register it in code`,
        );
      }
      claim(name, 'a tool', [...at, 'tools', j]);
    });
    const usedServers = new Set<string>();
    (a.mcp ?? []).forEach((m, j) => {
      if (!mcpServers.has(m.server)) {
        add(
          [...at, 'mcp', j, 'server'],
          `unknown MCP server "${m.server}": declare it under mcpServers:`,
        );
      } else if (usedServers.has(m.server)) {
        add([...at, 'mcp', j, 'server'], `MCP server "${m.server}" is listed twice for this agent`);
      }
      usedServers.add(m.server);
      m.tools.forEach((name, k) => {
        // Patterns are matched against the server's list at the call; exact names claim now.
        if (!name.includes('*')) {
          claim(name, `a tool of MCP server ${m.server}`, [...at, 'mcp', j, 'tools', k]);
        }
      });
    });
    (a.handoffs ?? []).forEach((h, j) => {
      if (!agentNames.has(h.agent)) {
        add([...at, 'handoffs', j, 'agent'], `unknown agent "${h.agent}"`);
      } else if (h.agent === a.name) {
        add([...at, 'handoffs', j, 'agent'], 'an agent cannot hand off to itself');
      }
      claim(handoffToolName(h.agent), 'a handoff', [...at, 'handoffs', j, 'agent']);
    });
    (a.transfers ?? []).forEach((t, j) => {
      const problem = checkTransferTarget(t.to);
      if (problem) add([...at, 'transfers', j, 'to'], problem);
      else if (t.mode === 'warm' && !/^tel:/i.test(t.to)) {
        // The human is dialed through the outbound trunk; only REFER (cold) takes a SIP URI.
        add(
          [...at, 'transfers', j, 'to'],
          'a warm transfer dials a phone number: use tel:+<E.164 number> (sip: URIs work for cold transfers only)',
        );
      }
      if (t.extension && (t.mode ?? 'cold') === 'cold') {
        add(
          [...at, 'transfers', j, 'extension'],
          'an extension needs mode: warm (a cold transfer cannot press keys after the answer)',
        );
      }
      claim(t.name, 'a transfer', [...at, 'transfers', j, 'name']);
    });
    for (const key of Object.keys(a.dtmf?.menu ?? {})) {
      // A record's keys are not checked by the schema; "12" would silently never match.
      if (!/^[0-9*#]$/.test(key)) {
        add([...at, 'dtmf', 'menu', key], `"${key}" is not one keypad key (0-9, * or #)`);
      }
    }
    if (a.voicemail?.message && a.voicemail.action === 'hangup') {
      add([...at, 'voicemail', 'message'], 'is only said with action: message');
    }
  });

  const defaults: number[] = [];
  data.routes.forEach((r, i) => {
    const at = ['routes', i] as const;
    if (r.default) defaults.push(i);
    if (r.default && r.match) {
      add([...at, 'match'], 'the default route takes every call: remove match or default');
    }
    if (!r.default && !r.match) add([...at], 'needs match: (or default: true)');
    if ((r.agent === undefined) === (r.refuse === undefined)) {
      add([...at], 'needs exactly one of agent: or refuse:');
    }
    if (r.agent && !agentNames.has(r.agent)) add([...at, 'agent'], `unknown agent "${r.agent}"`);
    if (r.match) checkMatch(r.match, [...at, 'match'], add);
  });
  if (defaults.length === 0) {
    add(['routes'], 'needs a default route (default: true) as the last route');
  } else if (defaults.length > 1) {
    for (const i of defaults.slice(1)) add(['routes', i, 'default'], 'only one default route');
  } else if (defaults[0] !== data.routes.length - 1) {
    add(['routes', defaults[0]!, 'default'], 'the default route must be the last route');
  }
  return issues;
}

function checkMatch(
  m: RouteMatch,
  at: (string | number)[],
  add: (path: (string | number)[], message: string) => void,
) {
  for (const key of ['dialedNumber', 'callerNumber'] as const) {
    const value = m[key];
    if (value === undefined) continue;
    const list = Array.isArray(value) ? value : [value];
    list.forEach((p, j) => {
      // Numbers are compared in E.164; "+1 415 ..." would silently never match.
      if (p.startsWith('+') && !/^\+[0-9*]+$/.test(p)) {
        add(
          Array.isArray(value) ? [...at, key, j] : [...at, key],
          `"${p}" is not an E.164 number or prefix: write digits only, e.g. +1415* or +14155550100`,
        );
      }
    });
  }
}

function checkHttpUrl(value: string): string | undefined {
  try {
    const u = new URL(value);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') return 'must be an https or http URL';
    return undefined;
  } catch {
    return 'must be an https or http URL';
  }
}

/** A secret belongs in a header from the environment, not in the file. */
function checkNoCredentials(value: string): string | undefined {
  const u = new URL(value);
  if (u.username || u.password) {
    // biome-ignore lint/suspicious/noTemplateCurlyInString: the agents file's ${VAR} syntax, quoted
    return 'must not contain credentials: send them in headers: with ${ENV_VAR} values';
  }
  return undefined;
}

/** Names of the environment variables a header value refers to (`${NAME}`). */
export function envReferences(value: string): string[] {
  return [...value.matchAll(ENV_REFERENCE)].map((m) => m[1]!);
}

/** A destination as a URI (a bare number is the API's shorthand, not the file's). */
function checkTransferTarget(to: string): string | undefined {
  if (/^(tel|sips?):/i.test(to) && transferTarget(to)) return undefined;
  if (/^tel:/i.test(to)) return 'tel: must be followed by an E.164 number';
  return 'must be tel:+<E.164 number> or sip:user@host';
}
