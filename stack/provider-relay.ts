/**
 * A relay from the stack's namespace to real providers. The worker runs inside the namespace,
 * which has no route out (stack/netns.ts); with real provider keys (the local stack,
 * `npm run stack:up`) its plugins are pointed at this relay on the veth's host end instead, and
 * the relay, in the root namespace, forwards every request and WebSocket to the provider's real
 * URL over the machine's own network:
 *
 *   worker (namespace) ── ws://10.77.<i>.1:<port>/v1/listen ──► relay ── wss://api.deepgram.com/v1/listen
 *
 * One port per target; the relay's URL keeps the target's path (`http://host:port/v1` for
 * `https://api.elevenlabs.io/v1`), so a plugin's base-URL option takes it as it is. Requests are
 * passed on unchanged (headers, API keys, bodies, streamed answers) except `Host`. The namespace
 * stays sealed: nothing in it reaches anything but the relay.
 */
import {
  type ClientRequest,
  createServer,
  request as httpRequest,
  type IncomingMessage,
  type OutgoingHttpHeaders,
  type Server,
} from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';

export interface RelayTarget {
  /** What it relays to, e.g. wss://api.deepgram.com, https://api.elevenlabs.io/v1. */
  target: string;
  /** The relay's base URL to give the plugin (same scheme family and path as the target). */
  url: string;
  port: number;
}

export interface ProviderRelay {
  readonly targets: RelayTarget[];
  close(): Promise<void>;
}

/** Starts one relay port on `host` per target URL (ws://, wss://, http://, https://). */
export async function startProviderRelay(host: string, targets: string[]): Promise<ProviderRelay> {
  const servers: Server[] = [];
  const sockets = new Set<Socket>();
  const out: RelayTarget[] = [];
  try {
    for (const target of targets) {
      const base = new URL(target);
      if (!/^(wss?|https?):$/.test(base.protocol)) {
        throw new Error(`provider URL ${target}: want ws://, wss://, http:// or https://`);
      }
      const secure = base.protocol === 'https:' || base.protocol === 'wss:';
      const send = secure ? httpsRequest : httpRequest;
      const forward = (req: IncomingMessage): ClientRequest => {
        const headers: OutgoingHttpHeaders = { ...req.headers, host: base.host };
        return send({
          protocol: secure ? 'https:' : 'http:',
          hostname: base.hostname,
          port: base.port || (secure ? 443 : 80),
          method: req.method,
          path: req.url,
          headers,
        });
      };
      const server = createServer((req, res) => {
        const up = forward(req);
        up.on('response', (answer) => {
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(res);
        });
        up.on('error', (err) => {
          if (!res.headersSent) {
            res.writeHead(502, { 'content-type': 'application/json' });
            res.end(JSON.stringify({ error: `relay to ${base.origin}: ${err.message}` }));
          } else res.destroy();
        });
        req.pipe(up);
      });
      server.on('connection', (s) => {
        sockets.add(s);
        s.on('close', () => sockets.delete(s));
      });
      server.on('upgrade', (req, client: Socket, head: Buffer) => {
        const up = forward(req);
        up.on('upgrade', (answer, upstream, upHead) => {
          sockets.add(upstream);
          upstream.on('close', () => sockets.delete(upstream));
          const lines = [`HTTP/1.1 ${answer.statusCode} ${answer.statusMessage}`];
          for (let i = 0; i < answer.rawHeaders.length; i += 2) {
            lines.push(`${answer.rawHeaders[i]}: ${answer.rawHeaders[i + 1]}`);
          }
          client.write(`${lines.join('\r\n')}\r\n\r\n`);
          if (upHead.length) client.write(upHead);
          if (head.length) upstream.write(head);
          upstream.pipe(client).on('error', () => client.destroy());
          client.pipe(upstream).on('error', () => upstream.destroy());
          client.on('error', () => upstream.destroy());
          upstream.on('error', () => client.destroy());
        });
        // Refused upgrades (401, 404, ...) come back as ordinary answers: pass them on.
        up.on('response', (answer) => {
          const chunks: Buffer[] = [];
          answer.on('data', (c: Buffer) => chunks.push(c));
          answer.on('end', () => {
            const body = Buffer.concat(chunks);
            client.end(
              `HTTP/1.1 ${answer.statusCode} ${answer.statusMessage}\r\n` +
                `content-type: ${answer.headers['content-type'] ?? 'text/plain'}\r\n` +
                `content-length: ${body.length}\r\nconnection: close\r\n\r\n${body.toString('latin1')}`,
              'latin1',
            );
          });
        });
        up.on('error', (err) => {
          const body = JSON.stringify({ error: `relay to ${base.origin}: ${err.message}` });
          client.end(
            `HTTP/1.1 502 Bad Gateway\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
          );
        });
        client.on('error', () => up.destroy());
        up.end();
      });
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(0, host, () => resolve());
      });
      servers.push(server);
      const port = (server.address() as AddressInfo).port;
      const scheme = base.protocol.startsWith('ws') ? 'ws' : 'http';
      const path = base.pathname === '/' ? '' : base.pathname.replace(/\/$/, '');
      out.push({ target, url: `${scheme}://${host}:${port}${path}`, port });
    }
  } catch (err) {
    for (const s of servers) s.close();
    throw err;
  }
  return {
    targets: out,
    async close() {
      for (const s of sockets) s.destroy();
      await Promise.all(servers.map((s) => new Promise<void>((r) => s.close(() => r()))));
    },
  };
}
