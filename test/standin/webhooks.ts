/**
 * Webhooks as LiveKit sends them (livekit/protocol webhook/url_notifier.go): protobuf-JSON
 * body, `Content-Type: application/webhook+json`, `Authorization: <JWT>` (no Bearer) signed
 * HS256 by the API key with claim `sha256` = base64 SHA-256 of the exact body.
 */
import { createHash } from 'node:crypto';
import { type Message, protoInt64 } from '@bufbuild/protobuf';
import { WebhookEvent } from '@livekit/protocol';
import { SignJWT } from 'jose';
import { newId } from './ids.js';
import type { RoomEvent } from './rooms.js';

export interface SignedWebhook {
  body: string;
  authorization: string;
}

export interface WebhookDelivery {
  event: string;
  room?: string;
  identity?: string;
  status?: number;
  error?: string;
  at: number;
}

/** Webhook tokens are valid for five minutes, like LiveKit's. */
const VALID_FOR_S = 300;

export async function signWebhook(
  event: object | Message,
  apiKey: string,
  apiSecret: string,
): Promise<SignedWebhook> {
  const body = isMessage(event) ? event.toJsonString() : JSON.stringify(event);
  const sha256 = createHash('sha256').update(body).digest('base64');
  const now = Math.floor(Date.now() / 1000);
  const authorization = await new SignJWT({ sha256 })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setIssuer(apiKey)
    .setNotBefore(now)
    .setExpirationTime(now + VALID_FOR_S)
    .sign(new TextEncoder().encode(apiSecret));
  return { body, authorization };
}

function isMessage(v: object): v is Message {
  return (
    typeof (v as Message).toJsonString === 'function' &&
    typeof (v as Message).getType === 'function'
  );
}

export function toWebhookEvent(e: RoomEvent): WebhookEvent | undefined {
  if (e.event === 'participant_attributes_changed') return undefined;
  return new WebhookEvent({
    event: e.event,
    room: e.room,
    participant: e.participant,
    id: newId('EV_'),
    createdAt: protoInt64.parse(Math.floor(e.at / 1000)),
  });
}

/** Fire-and-forget delivery that keeps each room's events in order. */
export class WebhookSender {
  readonly deliveries: WebhookDelivery[] = [];
  private readonly chains = new Map<string, Promise<void>>();

  constructor(
    private readonly url: string,
    private readonly apiKey: string,
    private readonly apiSecret: string,
  ) {}

  send(event: WebhookEvent): void {
    const key = event.room?.name ?? '';
    const prev = this.chains.get(key) ?? Promise.resolve();
    const next = prev.then(() => this.post(event));
    this.chains.set(key, next);
    void next.finally(() => {
      if (this.chains.get(key) === next) this.chains.delete(key);
    });
  }

  /** Resolves once every queued webhook has been delivered (or failed). */
  async flush(): Promise<void> {
    while (this.chains.size > 0) await Promise.all([...this.chains.values()]);
  }

  private async post(event: WebhookEvent): Promise<void> {
    const record: WebhookDelivery = {
      event: event.event,
      room: event.room?.name,
      identity: event.participant?.identity,
      at: Date.now(),
    };
    this.deliveries.push(record);
    try {
      const { body, authorization } = await signWebhook(event, this.apiKey, this.apiSecret);
      const res = await fetch(this.url, {
        method: 'POST',
        headers: {
          'Content-Type': 'application/webhook+json',
          Authorization: authorization,
          'User-Agent': 'LiveKit',
        },
        body,
        signal: AbortSignal.timeout(5_000),
      });
      record.status = res.status;
      await res.arrayBuffer().catch(() => undefined);
    } catch (err) {
      record.error = (err as Error).message;
    }
  }
}
