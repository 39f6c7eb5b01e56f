/**
 * What every phone session carries in `AgentSession.userData`, read by tools as
 * `ctx.userData` (RunContext).
 */
import type { CallContext } from '../telephony/call-context.js';

export interface PhoneSessionData {
  /** The call, as built at job entry (src/telephony/call-context.ts). */
  call: CallContext;
  /** Name of the agent currently talking (updated on every handoff). */
  currentAgent?: string;
  /** Handoffs so far, oldest first (for the call summary). */
  handoffs: { from: string; to: string; at: number }[];
}

export function createSessionData(call: CallContext): PhoneSessionData {
  return { call, handoffs: [] };
}
