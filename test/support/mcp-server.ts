/**
 * A real MCP server for tests, built with the MCP SDK (McpServer), on loopback: streamable HTTP
 * (stateful sessions) at `/mcp`, and the older SSE transport at `/sse` + `/messages`. It records
 * the headers and the `tools/list` / `tools/call` requests it got, can add a tool later (and
 * tell its clients the list changed), and can require a header.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { SSEServerTransport } from '@modelcontextprotocol/sdk/server/sse.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { z } from 'zod';

export interface TestMcpServer {
  url: string;
  sseUrl: string;
  /** Headers of every HTTP request, in order. */
  headers: IncomingHttpHeaders[];
  /** JSON-RPC methods received (`tools/list`, `tools/call`, ...), in order. */
  methods: string[];
  /** Arguments of every tools/call, by tool. */
  calls: { tool: string; args: Record<string, unknown> }[];
  /** Registers `open_ticket` on every session and notifies the clients. */
  addTicketTool(): void;
  close(): Promise<void>;
}

export interface TestMcpServerOptions {
  /** Requests without this header value get 401. */
  requireHeader?: { name: string; value: string };
  /** How long `slow_lookup` takes (ms). */
  slowMs?: number;
}

export async function startTestMcpServer(o: TestMcpServerOptions = {}): Promise<TestMcpServer> {
  const headers: IncomingHttpHeaders[] = [];
  const methods: string[] = [];
  const calls: TestMcpServer['calls'] = [];
  const servers: McpServer[] = [];
  let ticketTool = false;

  const text = (t: string) => ({ content: [{ type: 'text' as const, text: t }] });
  const build = () => {
    const server = new McpServer(
      { name: 'test-crm', version: '1.0.0' },
      { capabilities: { tools: { listChanged: true } } },
    );
    server.registerTool(
      'find_customer',
      {
        description: 'Finds a customer by account number.',
        inputSchema: { accountNumber: z.string().describe('digits only') },
      },
      async ({ accountNumber }) => {
        calls.push({ tool: 'find_customer', args: { accountNumber } });
        if (accountNumber === '0000') {
          return { ...text(`No customer with account number ${accountNumber}.`), isError: true };
        }
        return {
          ...text(JSON.stringify({ name: 'Dana Miller', plan: 'Fiber Max' })),
          structuredContent: { accountNumber, name: 'Dana Miller', plan: 'Fiber Max' },
        };
      },
    );
    server.registerTool(
      'slow_lookup',
      { description: 'Takes a long time.', inputSchema: { accountNumber: z.string() } },
      async ({ accountNumber }) => {
        calls.push({ tool: 'slow_lookup', args: { accountNumber } });
        await new Promise((r) => setTimeout(r, o.slowMs ?? 3000));
        return text('late');
      },
    );
    server.registerTool(
      'delete_customer',
      { description: 'Deletes a customer.', inputSchema: { accountNumber: z.string() } },
      async ({ accountNumber }) => {
        calls.push({ tool: 'delete_customer', args: { accountNumber } });
        return text('deleted');
      },
    );
    if (ticketTool) registerTicket(server);
    servers.push(server);
    return server;
  };
  const registerTicket = (server: McpServer) =>
    server.registerTool(
      'open_ticket',
      { description: 'Opens a support ticket.', inputSchema: { summary: z.string() } },
      async ({ summary }) => {
        calls.push({ tool: 'open_ticket', args: { summary } });
        return text('ticket 77 opened');
      },
    );

  const streamable = new Map<string, StreamableHTTPServerTransport>();
  const sse = new Map<string, SSEServerTransport>();
  const http: Server = createServer(async (req, res) => {
    headers.push(req.headers);
    const need = o.requireHeader;
    if (need && req.headers[need.name.toLowerCase()] !== need.value) {
      res.writeHead(401, { 'content-type': 'application/json' }).end('{"error":"unauthorized"}');
      return;
    }
    const url = new URL(req.url ?? '/', 'http://x');
    try {
      if (url.pathname === '/mcp') {
        const body = req.method === 'POST' ? await readJson(req) : undefined;
        for (const m of [body].flat()) {
          if (m && typeof m === 'object' && 'method' in m) methods.push(String(m.method));
        }
        const sid = req.headers['mcp-session-id'] as string | undefined;
        let transport = sid ? streamable.get(sid) : undefined;
        if (!transport) {
          if (sid) {
            res.writeHead(404).end();
            return;
          }
          const t = new StreamableHTTPServerTransport({
            sessionIdGenerator: () => randomUUID(),
            onsessioninitialized: (id) => {
              streamable.set(id, t);
            },
          });
          transport = t;
          await build().connect(t);
        }
        await transport.handleRequest(req, res, body);
      } else if (url.pathname === '/sse' && req.method === 'GET') {
        const t = new SSEServerTransport('/messages', res);
        sse.set(t.sessionId, t);
        await build().connect(t);
      } else if (url.pathname === '/messages' && req.method === 'POST') {
        const t = sse.get(url.searchParams.get('sessionId') ?? '');
        if (!t) {
          res.writeHead(404).end();
          return;
        }
        const body = await readJson(req);
        if (body && typeof body === 'object' && 'method' in body) methods.push(String(body.method));
        await t.handlePostMessage(req, res, body);
      } else {
        res.writeHead(404).end();
      }
    } catch (err) {
      if (!res.headersSent) res.writeHead(500).end(String(err));
    }
  });
  await new Promise<void>((r) => http.listen(0, '127.0.0.1', r));
  const port = (http.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/mcp`,
    sseUrl: `http://127.0.0.1:${port}/sse`,
    headers,
    methods,
    calls,
    addTicketTool() {
      ticketTool = true;
      for (const s of servers) {
        registerTicket(s);
        if (s.isConnected()) s.sendToolListChanged();
      }
    },
    async close() {
      await Promise.all(servers.map((s) => s.close().catch(() => undefined)));
      http.closeAllConnections();
      await new Promise<void>((r) => http.close(() => r()));
    },
  };
}

async function readJson(req: import('node:http').IncomingMessage): Promise<unknown> {
  let raw = '';
  for await (const chunk of req) raw += chunk;
  return raw ? JSON.parse(raw) : undefined;
}
