/**
 * A LiveKit webhook receiver for the real-stack tests, listening in the root namespace on the
 * veth address (`netns.hostIp`) that livekit-server, inside the namespace, can reach.
 * Every delivery is verified with the SDK's WebhookReceiver (JWT + body hash).
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { DisconnectReason, ParticipantInfo_Kind } from '@livekit/protocol';
import { WebhookReceiver } from 'livekit-server-sdk';

export interface ReceivedWebhook {
  event: string;
  room?: string;
  participant?: string;
  /** The participant's kind: STANDARD, AGENT, SIP, ... */
  kind?: string;
  /** participant_left / _connection_aborted: LiveKit's disconnect reason (CLIENT_INITIATED, ...). */
  disconnectReason?: string;
  /** The event's own id (LiveKit redelivers with the same id). */
  id?: string;
  at: number;
}

export interface WebhookSink {
  /** http://<host>:<port>/livekit/webhook */
  readonly url: string;
  readonly received: readonly ReceivedWebhook[];
  /** Deliveries whose signature did not verify. */
  readonly rejected: number;
  waitFor(pred: (w: ReceivedWebhook) => boolean, timeoutMs?: number): Promise<ReceivedWebhook>;
  close(): Promise<void>;
}

export async function startWebhookSink(
  host: string,
  apiKey: string,
  apiSecret: string,
): Promise<WebhookSink> {
  const receiver = new WebhookReceiver(apiKey, apiSecret);
  const received: ReceivedWebhook[] = [];
  let rejected = 0;
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      receiver
        .receive(Buffer.concat(chunks).toString('utf8'), req.headers.authorization)
        .then((ev) => {
          received.push({
            event: ev.event,
            room: ev.room?.name,
            participant: ev.participant?.identity,
            ...(ev.participant
              ? {
                  kind: ParticipantInfo_Kind[ev.participant.kind],
                  disconnectReason: DisconnectReason[ev.participant.disconnectReason],
                }
              : {}),
            id: ev.id,
            at: Date.now(),
          });
          res.writeHead(200).end();
        })
        .catch(() => {
          rejected++;
          res.writeHead(401).end();
        });
    });
  });
  await new Promise<void>((r) => server.listen(0, host, r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${host}:${port}/livekit/webhook`,
    received,
    get rejected() {
      return rejected;
    },
    waitFor: async (pred, timeoutMs = 10_000) => {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const hit = received.find(pred);
        if (hit) return hit;
        if (Date.now() > deadline) {
          throw new Error(`no such webhook in ${timeoutMs} ms; got ${JSON.stringify(received)}`);
        }
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}
