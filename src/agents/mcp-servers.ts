/**
 * MCP servers of the agents file (`mcpServers:`), on the maintained MCP SDK
 * (@modelcontextprotocol/sdk): one connection per server per process, opened on first use:
 * streamable HTTP, or the older SSE transport where a server only has that. Header values come
 * from the environment (`${VAR}`) and are never logged. A server's tool list is cached for
 * MCP_TOOLS_CACHE_TTL_S and listed again at once when the server says it changed
 * (`tools/list_changed`). The tools one call offers its agents are in mcp-tools.ts.
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { SSEClientTransport } from '@modelcontextprotocol/sdk/client/sse.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import {
  type CallToolResult,
  ErrorCode,
  McpError,
  type Tool,
  ToolListChangedNotificationSchema,
} from '@modelcontextprotocol/sdk/types.js';
import type { Logger } from '../core/logger.js';
import { ENV_REFERENCE, type McpServerSpec, TOOL_NAME } from './agents-schema.js';
import { type RemoteOutcome, remoteToolSpeechDefaults } from './remote-tool-speech.js';

export const mcpDefaults = {
  ...remoteToolSpeechDefaults,
  transport: 'streamable-http',
  timeoutMs: 4000,
  /** How long a server's tool list is reused before it is listed again. */
  cacheTtlMs: 300_000,
  /** Larger results are refused: they would flood the LLM's context. */
  maxResultBytes: 32 * 1024,
  /** Pages of `tools/list` read at most (a server with more is cut off there). */
  maxListPages: 20,
} as const satisfies Required<
  Pick<McpServerSpec, 'transport' | 'timeoutMs' | 'filler' | 'fillerAfterMs' | 'fallback'>
> & { cacheTtlMs: number; maxResultBytes: number; maxListPages: number };

/** A tool as the server describes it. */
export interface McpToolInfo {
  name: string;
  description?: string;
  inputSchema: Record<string, unknown>;
}

/** Why a tool call failed (logged; the caller hears the fallback). */
export type McpToolFailure = 'timeout' | 'unreachable' | 'protocol' | 'too_large';

/** A tool call's outcome: an answer, the server's error result, or a failure. */
export type McpCallOutcome = RemoteOutcome<McpToolFailure> | { ok: 'error'; message: string };

export interface McpServersOptions {
  /** Where header `${VAR}`s are read; default process.env. */
  env?: NodeJS.ProcessEnv;
  log?: Logger;
  /** MCP_TOOLS_CACHE_TTL_S in ms. */
  cacheTtlMs?: number;
  /** Clock for the cache (tests). */
  now?: () => number;
}

const CLIENT_INFO = { name: 'phone-agents', version: '1.0.0' };

/** The MCP servers of the agents file, one connection each, per process. */
/** The MCP servers of the agents file, one connection each, per process. */
export class McpServers {
  readonly #links = new Map<string, ServerLink>();
  readonly #log: Logger | undefined;

  constructor(specs: Iterable<McpServerSpec>, o: McpServersOptions = {}) {
    this.#log = o.log;
    const env = o.env ?? process.env;
    for (const spec of specs) {
      this.#links.set(
        spec.name,
        new ServerLink(spec, {
          headers: resolveHeaders(spec, env),
          cacheTtlMs: o.cacheTtlMs ?? mcpDefaults.cacheTtlMs,
          now: o.now ?? Date.now,
          ...(o.log ? { log: o.log.child({ mcpServer: spec.name }) } : {}),
        }),
      );
    }
  }

  get names(): string[] {
    return [...this.#links.keys()];
  }

  /** The server's tools: the cached list while fresh, else listed now (connecting if needed). */
  tools(server: string): Promise<McpToolInfo[]> {
    return this.#link(server).list();
  }

  /**
   * Lists every server's tools now (or those named in `only`): prewarm, the conversation-test
   * runner. What fails is logged and returned, never thrown: a server that is down never stops
   * the process.
   */
  async discoverAll(only?: Iterable<string>): Promise<Map<string, Error | undefined>> {
    const out = new Map<string, Error | undefined>();
    const names = only ? new Set(only) : undefined;
    await Promise.all(
      [...this.#links.entries()]
        .filter(([name]) => !names || names.has(name))
        .map(async ([name, link]) => {
          try {
            const tools = await link.list();
            this.#log?.info({ mcpServer: name, tools: tools.length }, 'MCP server tools listed');
            out.set(name, undefined);
          } catch (err) {
            this.#log?.warn({ mcpServer: name, err: describe(err) }, 'MCP server unavailable');
            out.set(name, err as Error);
          }
        }),
    );
    return out;
  }

  /** Calls one tool; never throws (the outcome says what happened). */
  call(
    server: string,
    name: string,
    args: Record<string, unknown>,
    signal?: AbortSignal,
  ): Promise<McpCallOutcome> {
    return this.#link(server).call(name, args, signal);
  }

  /** Closes every connection (end of the process, the end of a test run). */
  async close(): Promise<void> {
    await Promise.all([...this.#links.values()].map((l) => l.close()));
  }

  /** The connection to one server (the per-call tools read its list and call through it). */
  link(server: string): ServerLink {
    return this.#link(server);
  }

  #link(server: string): ServerLink {
    const link = this.#links.get(server);
    // The agents file is checked: an agent can only name a declared server.
    if (!link) throw new Error(`unknown MCP server "${server}"`);
    return link;
  }
}

// ── one server ───────────────────────────────────────────────────────────────────────────────

interface LinkOptions {
  headers: Record<string, string>;
  cacheTtlMs: number;
  now: () => number;
  log?: Logger;
}

/** @internal The process's connection to one server and its cached tool list. */
export class ServerLink {
  readonly spec: McpServerSpec;
  readonly #o: LinkOptions;
  readonly #timeoutMs: number;
  #client: Client | undefined;
  #connecting: Promise<Client> | undefined;
  #listing: Promise<McpToolInfo[]> | undefined;
  #cache: { tools: McpToolInfo[]; at: number } | undefined;
  readonly #listeners = new Set<(tools: McpToolInfo[]) => void>();

  constructor(spec: McpServerSpec, o: LinkOptions) {
    this.spec = spec;
    this.#o = o;
    this.#timeoutMs = spec.timeoutMs ?? mcpDefaults.timeoutMs;
  }

  /** The last list, however old. */
  known(): McpToolInfo[] | undefined {
    return this.#cache?.tools;
  }

  /** The cached list while it is younger than the cache time. */
  fresh(): McpToolInfo[] | undefined {
    const c = this.#cache;
    return c && this.#o.now() - c.at < this.#o.cacheTtlMs ? c.tools : undefined;
  }

  /** Calls `fn` with every new list (listed again, or changed on the server); returns `off`. */
  onChanged(fn: (tools: McpToolInfo[]) => void): () => void {
    this.#listeners.add(fn);
    return () => this.#listeners.delete(fn);
  }

  list(): Promise<McpToolInfo[]> {
    const fresh = this.fresh();
    if (fresh) return Promise.resolve(fresh);
    return this.#relist();
  }

  async call(
    name: string,
    args: Record<string, unknown>,
    signal?: AbortSignal,
  ): Promise<McpCallOutcome> {
    const deadline = Date.now() + this.#timeoutMs;
    const reused = this.#client !== undefined;
    let outcome = await this.#callOnce(name, args, deadline, signal);
    // A kept connection can be stale (the server restarted and forgot our session): one retry
    // on a new connection, within the same time budget.
    if (!outcome.ok && outcome.failure === 'unreachable' && reused && Date.now() < deadline) {
      outcome = await this.#callOnce(name, args, deadline, signal);
    }
    return outcome;
  }

  async close(): Promise<void> {
    const client = this.#client;
    this.#client = undefined;
    await client?.close().catch(() => undefined);
  }

  async #callOnce(
    name: string,
    args: Record<string, unknown>,
    deadline: number,
    signal?: AbortSignal,
  ): Promise<McpCallOutcome> {
    const remaining = () => Math.max(1, deadline - Date.now());
    let client: Client;
    try {
      client = await withDeadline(this.#connect(remaining()), remaining());
    } catch (err) {
      return { ok: false, failure: isTimeout(err) ? 'timeout' : 'unreachable' };
    }
    try {
      const result = (await client.callTool({ name, arguments: args }, undefined, {
        timeout: remaining(),
        ...(signal ? { signal } : {}),
      })) as CallToolResult;
      if (result.isError) return { ok: 'error', message: textOf(result) };
      const value = resultValue(result);
      if (JSON.stringify(value ?? null).length > mcpDefaults.maxResultBytes) {
        return { ok: false, failure: 'too_large' };
      }
      return { ok: true, value };
    } catch (err) {
      if (isTimeout(err)) return { ok: false, failure: 'timeout' };
      if (err instanceof McpError) return { ok: false, failure: 'protocol' };
      await this.#drop(client);
      return { ok: false, failure: 'unreachable' };
    }
  }

  #relist(): Promise<McpToolInfo[]> {
    this.#listing ??= (async () => {
      const client = await withDeadline(this.#connect(this.#timeoutMs), this.#timeoutMs);
      try {
        const tools = await this.#listAll(client);
        this.#cache = { tools, at: this.#o.now() };
        // Newest subscribers first: an agent's later servers drop a name this one now offers
        // before this one offers it (the framework rejects two tools of one name).
        for (const fn of [...this.#listeners].reverse()) fn(tools);
        return tools;
      } catch (err) {
        await this.#drop(client);
        throw err;
      }
    })().finally(() => {
      this.#listing = undefined;
    });
    return this.#listing;
  }

  async #listAll(client: Client): Promise<McpToolInfo[]> {
    const out: McpToolInfo[] = [];
    let cursor: string | undefined;
    for (let page = 0; page < mcpDefaults.maxListPages; page++) {
      const r = await client.listTools(cursor ? { cursor } : {}, { timeout: this.#timeoutMs });
      for (const t of r.tools) {
        const info = toolInfo(t);
        if (info) out.push(info);
        else {
          this.#o.log?.warn(
            { tool: t.name },
            'MCP tool skipped: its name is not one an LLM accepts (letters, digits, "_", "-"; max 64)',
          );
        }
      }
      cursor = r.nextCursor;
      if (!cursor) break;
    }
    return out;
  }

  #connect(timeoutMs: number): Promise<Client> {
    if (this.#client) return Promise.resolve(this.#client);
    this.#connecting ??= (async () => {
      const client = new Client(CLIENT_INFO, { capabilities: {} });
      const url = new URL(this.spec.url);
      const requestInit: RequestInit = { headers: this.#o.headers };
      const transport =
        (this.spec.transport ?? mcpDefaults.transport) === 'sse'
          ? new SSEClientTransport(url, { requestInit })
          : new StreamableHTTPClientTransport(url, { requestInit });
      client.setNotificationHandler(ToolListChangedNotificationSchema, () => {
        this.#o.log?.info('MCP server changed its tool list; listing again');
        void this.#relist().catch((err: unknown) =>
          this.#o.log?.warn({ err: describe(err) }, 'listing MCP tools again failed'),
        );
      });
      client.onclose = () => {
        if (this.#client === client) this.#client = undefined;
      };
      await client.connect(transport, { timeout: timeoutMs });
      this.#client = client;
      return client;
    })().finally(() => {
      this.#connecting = undefined;
    });
    return this.#connecting;
  }

  async #drop(client: Client): Promise<void> {
    if (this.#client === client) this.#client = undefined;
    await client.close().catch(() => undefined);
  }
}

// ── helpers ──────────────────────────────────────────────────────────────────────────────────

/** Header values with their `${VAR}`s filled in from `env` (checked at load: all set). */
export function resolveHeaders(
  spec: McpServerSpec,
  env: NodeJS.ProcessEnv,
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(spec.headers ?? {})) {
    out[name] = value.replace(ENV_REFERENCE, (_, v: string) => env[v] ?? '');
  }
  return out;
}

/** An allow-list of names and `*` patterns as a predicate. */
function toolInfo(t: Tool): McpToolInfo | undefined {
  if (!TOOL_NAME.test(t.name)) return undefined;
  return {
    name: t.name,
    ...(t.description ? { description: t.description } : {}),
    inputSchema: t.inputSchema as Record<string, unknown>,
  };
}

/** What the LLM gets: the structured result when there is one, else the text parts. */
function resultValue(r: CallToolResult): unknown {
  if (r.structuredContent !== undefined) return r.structuredContent;
  return textOf(r);
}

function textOf(r: CallToolResult): string {
  return (r.content ?? [])
    .map((c) => {
      if (c.type === 'text') return c.text;
      if (c.type === 'resource' && 'text' in c.resource) return String(c.resource.text);
      // Images and audio mean nothing on a phone line.
      return `[${c.type}]`;
    })
    .join('\n');
}

function isTimeout(err: unknown): boolean {
  return (
    (err instanceof McpError && err.code === ErrorCode.RequestTimeout) ||
    (err instanceof Error && err.name === 'TimeoutError')
  );
}

async function withDeadline<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          const err = new Error(`no answer within ${ms} ms`);
          err.name = 'TimeoutError';
          reject(err);
        }, ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** One line for logs and the call summary: what went wrong, without headers or secrets. */
export function describe(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  // The HTTP status (the SDK's StreamableHTTPError) or the network error's code (ECONNREFUSED).
  const status = (err as { code?: unknown }).code;
  const cause = (err as { cause?: { code?: string; message?: string } }).cause;
  const code =
    typeof status === 'number' && status >= 100 && status < 600
      ? ` (HTTP ${status})`
      : cause && typeof cause === 'object' && (cause.code || cause.message)
        ? ` (${cause.code ?? cause.message})`
        : '';
  return `${err.message.split('\n')[0]}${code}`.slice(0, 300);
}
