/**
 * Reading SIP objects from LiveKit by id, and the one wrapper that turns SDK failures into
 * catalog errors. LiveKit has no "get by id": listing with an id filter answers a missing id
 * with a null item the SDK cannot decode, so we list and pick (deployments hold few trunks).
 */
import type {
  SIPDispatchRuleInfo,
  SIPInboundTrunkInfo,
  SIPOutboundTrunkInfo,
  SipClient,
} from 'livekit-server-sdk';
import { NotFoundError } from '../core/errors.js';
import { fromLiveKitError } from './livekit-errors.js';

/** Runs one LiveKit call; failures become catalog errors naming `what`. */
export async function callLiveKit<T>(what: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    throw fromLiveKitError(err, what);
  }
}

export async function getInboundTrunk(sip: SipClient, id: string): Promise<SIPInboundTrunkInfo> {
  const all = await callLiveKit('inbound trunks', () => sip.listSipInboundTrunk());
  const found = all.find((t) => t.sipTrunkId === id);
  if (!found) throw new NotFoundError(`Inbound trunk ${id} does not exist`);
  return found;
}

export async function getOutboundTrunk(sip: SipClient, id: string): Promise<SIPOutboundTrunkInfo> {
  const all = await callLiveKit('outbound trunks', () => sip.listSipOutboundTrunk());
  const found = all.find((t) => t.sipTrunkId === id);
  if (!found) throw new NotFoundError(`Outbound trunk ${id} does not exist`);
  return found;
}

export async function getDispatchRule(sip: SipClient, id: string): Promise<SIPDispatchRuleInfo> {
  const all = await callLiveKit('dispatch rules', () => sip.listSipDispatchRule());
  const found = all.find((r) => r.sipDispatchRuleId === id);
  if (!found) throw new NotFoundError(`Dispatch rule ${id} does not exist`);
  return found;
}
