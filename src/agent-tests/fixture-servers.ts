/**
 * The fixtures a test file declares, served on loopback so the agents' HTTP and MCP tools run
 * their real code against them: one HTTP server with `POST /tools/<name>` per HTTP tool and a
 * real MCP server (the MCP SDK's, streamable HTTP) at `/mcp/<server>` per MCP server. Each call
 * is answered by the first response whose `when` matches its arguments; a call no response
 * matches gets an error and is recorded, so the report can say which fixture was missing.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Server as McpServer } from '@modelcontextprotocol/sdk/server/index.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import {
  CallToolRequestSchema,
  type CallToolResult,
  ListToolsRequestSchema,
} from '@modelcontextprotocol/sdk/types.js';
import { matchArgs } from './matchers.js';
import type { AgentTestFileData, HttpFixtureResponse, McpToolFixture } from './test-file.js';

/** One call a fixture received. */
export interface FixtureCall {
  kind: 'http' | 'mcp';
  tool: string;
  /** The MCP server's name (MCP tools). */
  server?: string;
  args: Record<string, unknown>;
  /** False when no response matched the arguments. */
  matched: boolean;
  /** Why the tool could not be called at all (its real endpoint is off limits). */
  blocked?: string;
}

type Fixtures = NonNullable<AgentTestFileData['fixtures']>;

export class FixtureServers {
  readonly calls: FixtureCall[] = [];
  #fixtures: Fixtures = {};
  #blocked = new Map<string, string>();
  #base = '';
  readonly #http: Server;
  readonly #sessions = new Map<
    string,
    { transport: StreamableHTTPServerTransport; server: McpServer }
  >();
  readonly #timers = new Set<NodeJS.Timeout>();

  private constructor() {
    this.#http = createServer((req, res) => {
      void this.#handle(req, res).catch((err: unknown) => {
        if (!res.headersSent) res.writeHead(500).end(String(err));
      });
    });
  }

  static async start(): Promise<FixtureServers> {
    const f = new FixtureServers();
    await new Promise<void>((r) => f.#http.listen(0, '127.0.0.1', r));
    f.#base = `http://127.0.0.1:${(f.#http.address() as AddressInfo).port}`;
    return f;
  }

  httpUrl(tool: string): string {
    return `${this.#base}/tools/${encodeURIComponent(tool)}`;
  }

  mcpUrl(server: string): string {
    return `${this.#base}/mcp/${encodeURIComponent(server)}`;
  }

  /**
   * Serves this test file's fixtures from now on (MCP sessions of the previous file end).
   * `blocked`: HTTP tools that may not reach their real endpoint, with why; a call fails.
   */
  async use(fixtures: Fixtures | undefined, blocked = new Map<string, string>()): Promise<void> {
    this.#fixtures = fixtures ?? {};
    this.#blocked = blocked;
    await this.#closeSessions();
  }

  async close(): Promise<void> {
    for (const t of this.#timers) clearTimeout(t);
    await this.#closeSessions();
    this.#http.closeAllConnections();
    await new Promise<void>((r) => this.#http.close(() => r()));
  }

  async #closeSessions(): Promise<void> {
    const sessions = [...this.#sessions.values()];
    this.#sessions.clear();
    await Promise.all(sessions.map((s) => s.server.close().catch(() => undefined)));
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://x');
    const [, kind, rawName] = url.pathname.split('/');
    const name = decodeURIComponent(rawName ?? '');
    if (kind === 'tools' && req.method === 'POST') return this.#httpTool(name, req, res);
    if (kind === 'mcp') return this.#mcp(name, req, res);
    res.writeHead(404).end();
  }

  async #httpTool(tool: string, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = (await readJson(req)) as { arguments?: Record<string, unknown> } | undefined;
    const args = body?.arguments ?? {};
    const responses = this.#fixtures.tools?.[tool] ?? [];
    const r = pick(responses, args);
    const blocked = this.#blocked.get(tool);
    this.calls.push({
      kind: 'http',
      tool,
      args,
      matched: r !== undefined,
      ...(blocked ? { blocked } : {}),
    });
    if (!r) {
      sendJson(res, 500, { error: `no fixture response for ${tool} matches these arguments` });
      return;
    }
    await this.#sleep(r.delayMs);
    if (res.destroyed) return;
    sendJson(res, r.status ?? 200, r.respond ?? {});
  }

  async #mcp(server: string, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const tools = this.#fixtures.mcpServers?.[server];
    if (!tools) {
      res.writeHead(404).end();
      return;
    }
    const body = req.method === 'POST' ? await readJson(req) : undefined;
    const sid = req.headers['mcp-session-id'];
    let session = typeof sid === 'string' ? this.#sessions.get(sid) : undefined;
    if (!session) {
      if (sid) {
        res.writeHead(404).end();
        return;
      }
      const transport: StreamableHTTPServerTransport = new StreamableHTTPServerTransport({
        sessionIdGenerator: () => randomUUID(),
        onsessioninitialized: (id) => {
          this.#sessions.set(id, { transport, server: mcp });
        },
      });
      const mcp = this.#mcpServer(server, tools);
      await mcp.connect(transport);
      session = { transport, server: mcp };
    }
    await session.transport.handleRequest(req, res, body);
  }

  #mcpServer(name: string, tools: McpToolFixture[]): McpServer {
    const server = new McpServer(
      { name: `fixture-${name}`, version: '1.0.0' },
      { capabilities: { tools: {} } },
    );
    server.setRequestHandler(ListToolsRequestSchema, async () => ({
      tools: tools.map((t) => ({
        name: t.name,
        ...(t.description ? { description: t.description } : {}),
        inputSchema: { type: 'object' as const, properties: {}, ...t.inputSchema },
      })),
    }));
    server.setRequestHandler(CallToolRequestSchema, async (req): Promise<CallToolResult> => {
      const tool = tools.find((t) => t.name === req.params.name);
      const args = (req.params.arguments ?? {}) as Record<string, unknown>;
      const r = tool ? pick(tool.responses, args) : undefined;
      this.calls.push({ kind: 'mcp', server: name, tool: req.params.name, args, matched: !!r });
      if (!r) {
        return {
          content: [{ type: 'text', text: `no fixture response matches these arguments` }],
          isError: true,
        };
      }
      await this.#sleep(r.delayMs);
      if (r.error !== undefined)
        return { content: [{ type: 'text', text: r.error }], isError: true };
      if (r.respond && typeof r.respond === 'object' && !Array.isArray(r.respond)) {
        return {
          content: [{ type: 'text', text: JSON.stringify(r.respond) }],
          structuredContent: r.respond as Record<string, unknown>,
        };
      }
      const text = typeof r.respond === 'string' ? r.respond : JSON.stringify(r.respond ?? '');
      return { content: [{ type: 'text', text }] };
    });
    return server;
  }

  #sleep(ms: number | undefined): Promise<void> {
    if (!ms) return Promise.resolve();
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.#timers.delete(t);
        resolve();
      }, ms);
      this.#timers.add(t);
    });
  }
}

function pick<R extends HttpFixtureResponse | McpToolFixture['responses'][number]>(
  responses: readonly R[],
  args: Record<string, unknown>,
): R | undefined {
  return responses.find((r) => !r.when || matchArgs(r.when, args).ok);
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  let raw = '';
  for await (const chunk of req) raw += chunk;
  if (!raw) return undefined;
  try {
    return JSON.parse(raw);
  } catch {
    return undefined;
  }
}

function sendJson(res: ServerResponse, status: number, value: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(value));
}
