/**
 * The MCP tools of one call (agents file: `agents[].mcp`, an allow-list per server): each agent
 * gets one agents-js `Toolset` per server it lists. Its `setup` runs when the agent starts in
 * the call's session; it takes the process's cached tool list (mcp-servers.ts) or lists the
 * tools again in the background, so a slow server never delays the greeting.
 *
 * - A server that cannot be reached when an agent starts leaves that agent without the server's
 *   tools: the call goes on; it is logged once per call and reported in the call summary.
 * - A tool call is timed out after the server's `timeoutMs`, with the same filler and spoken
 *   fallback as HTTP tools (remote-tool-speech.ts). A tool that answers with an error result
 *   (`isError`, e.g. "no such customer") is an answer: its text goes to the LLM as the tool's
 *   error, so the agent can tell the caller or ask again.
 */
import { llm, type voice } from '@livekit/agents';
import type { Logger } from '../core/logger.js';
import type { AgentSpec } from './agents-schema.js';
import { describe, type McpServers, type McpToolInfo, type ServerLink } from './mcp-servers.js';
import { callWithFillerAndFallback } from './remote-tool-speech.js';
import type { PhoneSessionData } from './session-data.js';

export interface McpCallOptions {
  /** The call's logger (with its call id). */
  log?: Logger;
  /** A server could not be reached when an agent started; once per server per call. */
  onUnavailable?: (server: string, reason: string) => void;
}

/** The MCP side of one call: toolsets for its agents, and the servers it found down. */
export class McpCallTools {
  readonly #servers: McpServers;
  readonly #o: McpCallOptions;
  readonly #unavailable = new Map<string, string>();
  readonly #pending = new Set<Promise<unknown>>();

  constructor(servers: McpServers, o: McpCallOptions = {}) {
    this.#servers = servers;
    this.#o = o;
  }

  /** Servers that could not be reached during this call, with why. */
  get unavailable(): ReadonlyMap<string, string> {
    return this.#unavailable;
  }

  /**
   * One toolset per server the agent lists in `mcp:`. A server's tool whose name the agent
   * already has (`taken`, or an earlier server's tool) is left out with a warning: two tools of
   * one name would make the framework reject the agent's whole tool list.
   */
  toolsets(spec: AgentSpec, taken: ReadonlySet<string> = new Set()): llm.Toolset[] {
    const earlier: { link: ServerLink; allowed: (name: string) => boolean }[] = [];
    return (spec.mcp ?? []).map((m) => {
      const link = this.#servers.link(m.server);
      const allowed = allowList(m.tools);
      const before = [...earlier];
      earlier.push({ link, allowed });
      const free = (name: string) =>
        !taken.has(name) &&
        !before.some((e) =>
          (e.link.known() ?? []).some((t) => t.name === name && e.allowed(t.name)),
        );
      return this.#toolset(
        link,
        allowed,
        free,
        before.map((e) => e.link),
        spec.name,
      );
    });
  }

  /** Resolves once every discovery started so far has finished (text mode, tests). */
  async settled(): Promise<void> {
    while (this.#pending.size > 0) await Promise.allSettled([...this.#pending]);
  }

  #toolset(
    link: ServerLink,
    allowed: (name: string) => boolean,
    free: (name: string) => boolean,
    /** Servers listed before this one for the agent: their names win. */
    earlier: ServerLink[],
    agent: string,
  ): llm.Toolset {
    const log = this.#o.log?.child({ mcpServer: link.spec.name, agent });
    const build = (list: readonly McpToolInfo[]) =>
      list
        .filter((t) => allowed(t.name))
        .filter((t) => {
          if (free(t.name)) return true;
          log?.warn(
            { tool: t.name },
            'MCP tool left out: the agent already has a tool of that name',
          );
          return false;
        })
        .map((t) => this.#tool(link, t, log));
    let offs: (() => void)[] = [];
    return llm.Toolset.create({
      id: `mcp_${link.spec.name}`,
      tools: build(link.fresh() ?? []),
      setup: async ({ updateTools }) => {
        offs = [
          link.onChanged((list) => updateTools(build(list))),
          ...earlier.map((e) => e.onChanged(() => updateTools(build(link.known() ?? [])))),
        ];
        const fresh = link.fresh();
        if (fresh) {
          updateTools(build(fresh));
          return;
        }
        // Not awaited: the agent greets while the server is asked; its tools arrive with the
        // answer (onChanged), well before the caller's first request in practice.
        const discovery = link.list().then(
          () => undefined,
          (err: unknown) => {
            updateTools([]);
            this.#noteUnavailable(link.spec.name, describe(err));
          },
        );
        this.#pending.add(discovery);
        void discovery.finally(() => this.#pending.delete(discovery));
      },
      aclose: async () => {
        for (const off of offs) off();
      },
    });
  }

  #tool(link: ServerLink, info: McpToolInfo, log: Logger | undefined) {
    const spec = link.spec;
    return llm.tool({
      name: info.name,
      description: info.description || `Tool ${info.name} of ${spec.name}.`,
      parameters: info.inputSchema,
      execute: async (args: Record<string, unknown>, { ctx, abortSignal }) => {
        let errorResult: string | undefined;
        const value = await callWithFillerAndFallback(
          ctx as voice.RunContext<PhoneSessionData>,
          {
            kind: 'mcp tool',
            logFields: { tool: info.name, mcpServer: spec.name },
            speech: spec,
            ...(log ? { logger: log } : {}),
          },
          async () => {
            const r = await link.call(info.name, args ?? {}, abortSignal);
            if (r.ok !== 'error') return r;
            errorResult = r.message;
            return { ok: true, value: undefined };
          },
        );
        if (errorResult !== undefined) {
          log?.info({ tool: info.name }, 'mcp tool answered with an error result');
          throw new llm.ToolError(errorResult || `${info.name} failed`);
        }
        return value;
      },
    });
  }

  #noteUnavailable(server: string, reason: string): void {
    if (this.#unavailable.has(server)) return;
    this.#unavailable.set(server, reason);
    this.#o.log?.warn(
      { mcpServer: server, reason },
      'MCP server unavailable: the agent continues without its tools',
    );
    this.#o.onUnavailable?.(server, reason);
  }
}

export function allowList(patterns: readonly string[]): (name: string) => boolean {
  const res = patterns.map(
    (p) => new RegExp(`^${p.split('*').map(escapeRegExp).join('[a-zA-Z0-9_-]*')}$`),
  );
  return (name) => res.some((re) => re.test(name));
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
