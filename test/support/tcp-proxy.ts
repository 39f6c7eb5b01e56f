/**
 * A loopback TCP proxy that can be switched off and on: "LiveKit is down" exactly as a client
 * sees it (connection refused, open connections cut), then back on the same address with the
 * same state behind it.
 */

import type { AddressInfo } from 'node:net';
import { connect, createServer, type Server, type Socket } from 'node:net';

export class SwitchableProxy {
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  port = 0;

  constructor(private readonly target: { host: string; port: number }) {}

  /** The proxy's URL with the scheme of `like` (e.g. the stand-in's http:// URL). */
  url(scheme = 'http'): string {
    return `${scheme}://127.0.0.1:${this.port}`;
  }

  /** Accepts connections (on the same port as before, after `down()`). */
  async up(): Promise<void> {
    const server = createServer((client) => {
      const upstream = connect(this.target.port, this.target.host);
      for (const s of [client, upstream]) {
        this.sockets.add(s);
        s.on('close', () => this.sockets.delete(s));
        s.on('error', () => {
          client.destroy();
          upstream.destroy();
        });
      }
      client.pipe(upstream).pipe(client);
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => resolve());
    });
    this.port = (server.address() as AddressInfo).port;
    this.server = server;
  }

  /** Refuses new connections and cuts the open ones. */
  async down(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

/** A proxy in front of `url` (http://host:port), already up. */
export async function proxyTo(url: string): Promise<SwitchableProxy> {
  const u = new URL(url);
  const proxy = new SwitchableProxy({ host: u.hostname, port: Number(u.port) });
  await proxy.up();
  return proxy;
}
