/**
 * The one LiveKit client factory: every server-side call goes through these SDK clients.
 */
import {
  AgentDispatchClient,
  RoomServiceClient,
  SipClient,
  WebhookReceiver,
} from 'livekit-server-sdk';

export interface LiveKitConfig {
  LIVEKIT_URL?: string;
  LIVEKIT_API_KEY?: string;
  LIVEKIT_API_SECRET?: string;
  LIVEKIT_TIMEOUT_MS?: number;
}

export interface LiveKitClients {
  sip: SipClient;
  rooms: RoomServiceClient;
  dispatch: AgentDispatchClient;
  webhooks: WebhookReceiver;
}

export function createLiveKitClients(config: LiveKitConfig): LiveKitClients {
  const { LIVEKIT_URL: host, LIVEKIT_API_KEY: key, LIVEKIT_API_SECRET: secret } = config;
  if (!host || !key || !secret) {
    throw new Error('LIVEKIT_URL, LIVEKIT_API_KEY and LIVEKIT_API_SECRET are required');
  }
  const options = { requestTimeout: Math.ceil((config.LIVEKIT_TIMEOUT_MS ?? 10_000) / 1000) };
  return {
    sip: new SipClient(host, key, secret, options),
    rooms: new RoomServiceClient(host, key, secret, options),
    dispatch: new AgentDispatchClient(host, key, secret, options),
    webhooks: new WebhookReceiver(key, secret),
  };
}
