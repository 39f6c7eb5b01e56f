/**
 * A real HTTP receiver for the API's outgoing call events (EVENTS_WEBHOOK_URL); it verifies each
 * delivery's signature with EVENTS_SECRET. Used by the API tests, the real-stack product
 * (stack/product.ts) and the local stack (`npm run stack:up`), where `stack:call` reads the
 * events back: `GET <url>` answers `{ events: [{ ...event, receivedAt }] }` (valid deliveries,
 * first of each id, arrival order); every other method is a delivery.
 */
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { CallEvent } from '../src/api/call-events.js';
import { SIGNATURE_HEADER, verify } from '../src/core/signature.js';

export const EVENTS_SECRET = 'events-secret-0123456789';

export interface Delivery {
  headers: IncomingHttpHeaders;
  body: string;
  valid: boolean;
  at: number;
}

/**
 * Answers with the next scripted status (200 when the script is empty), after `delayMs`; while
 * `hold` is set, answers wait for `release()`.
 */
export class EventReceiver {
  readonly deliveries: Delivery[] = [];
  script: number[] = [];
  delayMs = 0;
  hold = false;
  url = '';
  private server?: Server;
  private held: Array<() => void> = [];

  /** Listens on `host` (default loopback), port `port` (default a free one). */
  async start(host = '127.0.0.1', port = 0): Promise<void> {
    const server = createServer((req, res) => {
      if (req.method === 'GET') {
        const events = this.received();
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ events }));
        return;
      }
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        const sig = req.headers[SIGNATURE_HEADER] as string | undefined;
        this.deliveries.push({
          headers: req.headers,
          body,
          valid: verify(EVENTS_SECRET, sig, body),
          at: Date.now(),
        });
        const status = this.script.shift() ?? 200;
        const answer = () => setTimeout(() => res.writeHead(status).end(), this.delayMs);
        if (this.hold) this.held.push(answer);
        else answer();
      });
    });
    this.server = server;
    await new Promise<void>((r) => server.listen(port, host, r));
    this.url = `http://${host}:${(server.address() as AddressInfo).port}/hooks`;
  }

  /** Valid deliveries' events (first delivery of each id). */
  events(): CallEvent[] {
    return this.received().map(({ receivedAt: _, ...ev }) => ev);
  }

  /** Same, with when each arrived (ms since epoch). */
  received(): Array<CallEvent & { receivedAt: number }> {
    const seen = new Set<string>();
    const out: Array<CallEvent & { receivedAt: number }> = [];
    for (const d of this.deliveries) {
      if (!d.valid) continue;
      const ev = JSON.parse(d.body) as CallEvent;
      if (seen.has(ev.id)) continue;
      seen.add(ev.id);
      out.push({ ...ev, receivedAt: d.at });
    }
    return out;
  }

  async waitFor(n: number, timeoutMs = 5000): Promise<void> {
    const end = Date.now() + timeoutMs;
    while (this.deliveries.length < n) {
      if (Date.now() > end) throw new Error(`only ${this.deliveries.length}/${n} deliveries`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  /** Waits for an event matching `match`. */
  async waitForEvent(match: (e: CallEvent) => boolean, timeoutMs = 5000): Promise<CallEvent> {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const found = this.events().find(match);
      if (found) return found;
      if (Date.now() > end) {
        const got = this.events().map((e) => `${e.type} ${e.callId}`);
        throw new Error(`no matching event within ${timeoutMs} ms; got: ${got.join(', ')}`);
      }
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  /** Answers the held requests. */
  release(): void {
    this.hold = false;
    for (const answer of this.held.splice(0)) answer();
  }

  reset(): void {
    this.release();
    this.deliveries.length = 0;
    this.script = [];
    this.delayMs = 0;
  }

  async stop(): Promise<void> {
    this.release();
    this.server?.closeAllConnections();
    await new Promise((r) => this.server?.close(r));
  }
}
