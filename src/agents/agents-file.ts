/**
 * The agents file (AGENTS_CONFIG): agents, tools declared as HTTP endpoints, MCP tool servers,
 * handoffs, transfer destinations and call routes, in YAML or JSON. Loaded once at start-up; every problem is
 * reported as `file:line:col: path: what is wrong`, all of them at once, so a bad deploy fails
 * before the first call instead of during one. The documented example is
 * config/agents.example.yaml; the schema is agents-schema.ts, the cross-checks agents-checks.ts.
 */
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { ConfigError } from '../core/errors.js';
import { checkSchema, fileError, parsePositioned } from '../core/file-diagnostics.js';
import { crossCheck } from './agents-checks.js';
import {
  type AgentSpec,
  AgentsFileSchema,
  type HttpToolSpec,
  type McpServerSpec,
  type RouteSpec,
} from './agents-schema.js';

/** The validated file, indexed for the worker. */
export interface AgentsConfig {
  /** Path it was loaded from (for logs). */
  file: string;
  agents: ReadonlyMap<string, AgentSpec>;
  tools: ReadonlyMap<string, HttpToolSpec>;
  mcpServers: ReadonlyMap<string, McpServerSpec>;
  /** In file order; the default route is last. */
  routes: readonly RouteSpec[];
  /** The agent of the default route (a refusing default has none). */
  defaultAgent?: string;
}

export interface LoadOptions {
  /** Where `secretEnv` and MCP header variables are read; default process.env. */
  env?: NodeJS.ProcessEnv;
  /** Names of tools written in code that agents may reference (see code-tools.ts). */
  codeToolNames?: Iterable<string>;
}

/** Reads and validates the agents file; throws ConfigError listing every problem. */
export function loadAgentsFile(path: string, opts: LoadOptions = {}): AgentsConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new ConfigError(
      `${path}: ${code === 'ENOENT' ? 'file not found (check AGENTS_CONFIG)' : (err as Error).message}`,
    );
  }
  return parseAgentsFile(text, path, opts);
}

/** Validates the text of an agents file; `fileName` is used in error messages. */
export function parseAgentsFile(
  text: string,
  fileName: string,
  opts: LoadOptions = {},
): AgentsConfig {
  const shown = basename(fileName);
  const file = parsePositioned(text, shown);
  const data = checkSchema(AgentsFileSchema, file, shown);
  const issues = crossCheck(
    data,
    { env: opts.env ?? process.env, codeToolNames: opts.codeToolNames ?? [] },
    file.locate,
  );
  if (issues.length > 0) throw fileError(shown, issues);

  const routes = data.routes;
  const defaultRoute = routes[routes.length - 1];
  return {
    file: fileName,
    agents: new Map(data.agents.map((a) => [a.name, a])),
    tools: new Map((data.tools ?? []).map((t) => [t.name, t])),
    mcpServers: new Map((data.mcpServers ?? []).map((s) => [s.name, s])),
    routes,
    ...(defaultRoute?.agent ? { defaultAgent: defaultRoute.agent } : {}),
  };
}
