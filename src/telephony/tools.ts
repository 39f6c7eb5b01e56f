/**
 * The telephony tools an agent gets on a call:
 * - one tool per transfer destination of the agent (agents file `transfers`, tool name = the
 *   transfer's name): cold (SIP REFER) or warm (consult a human first, docs/transfers.md);
 * - `send_dtmf` on outbound calls (navigating an IVR);
 * - `collect_digits` (account numbers, PINs by keypad);
 * - `end_call` (goodbye + hang-up).
 *
 * A transfer that did not happen returns what happened to the model, which tells the caller
 * and offers another option; a transfer that did sets `userData.transferredTo` (and, for a
 * warm one, `userData.transfer`) for the call job.
 */
import { llm, type voice } from '@livekit/agents';
import { z } from 'zod';
import type { CallControl, HoldAudio } from './call-control.js';
import { createEndCallTool } from './call-ending/end-call.js';
import type { DtmfRouter } from './dtmf/router.js';
import { sendDigits } from './dtmf/send.js';
import { coldTransfer } from './transfer/cold-transfer.js';
import { failureInstructions } from './transfer/outcome.js';
import { warmTransfer } from './transfer/warm-transfer.js';
import type { CallEventSink } from './voicemail/answering-machine.js';

/** A destination the agent may transfer to (the agents file's `transfers:` entries). */
export interface TransferDestination {
  /** The tool's name. */
  name: string;
  /** `tel:+E164`, `sip:user@host` or `sips:user@host`. */
  to: string;
  /** When the LLM should transfer (the tool description). */
  description: string;
  mode?: 'cold' | 'warm';
  /** Keys dialed once a warm transfer's destination answers. */
  extension?: string;
}

/** What the call job finds in `session.userData` after a transfer. */
export interface TransferMark {
  transferredTo?: string;
  /** A bridged warm transfer: the job must keep the room until one side hangs up. */
  transfer?: { mode: 'cold' | 'warm'; to: string; humanIdentity?: string };
}

export interface TelephonyToolsOptions {
  control: CallControl;
  direction: 'inbound' | 'outbound';
  transfers: readonly TransferDestination[];
  ringTimeoutS: number;
  warm: {
    trunkId: string | undefined;
    decisionTimeoutMs: number;
    hold: HoldAudio;
    createConsultSession: () => voice.AgentSession;
    /** Answering-machine check on the human's line; undefined = off. */
    amd?: { llm?: llm.LLM; noSpeechTimeoutMs?: number };
  };
  /** For `collect_digits`; without it the tool is not offered. */
  dtmf?: DtmfRouter;
  report?: CallEventSink;
  goodbye?: string;
}

export function createTelephonyTools(o: TelephonyToolsOptions): llm.ToolContextEntry[] {
  const tools: llm.ToolContextEntry[] = o.transfers.map((t) =>
    (t.mode ?? 'cold') === 'warm' ? warmTool(o, t) : coldTool(o, t),
  );
  if (o.direction === 'outbound') tools.push(sendDtmfTool(o.control));
  if (o.dtmf) tools.push(collectDigitsTool(o.dtmf));
  tools.push(createEndCallTool(o.goodbye ? { goodbye: o.goodbye } : {}));
  return tools;
}

function coldTool(o: TelephonyToolsOptions, t: TransferDestination) {
  return llm.tool({
    name: t.name,
    description:
      `${t.description}\nTransfers the caller to another line and ends your part in the call. ` +
      'Before calling it, tell the caller you are transferring them, in the same reply.',
    execute: async (_args, { ctx }) => {
      await ctx.waitForPlayout();
      const r = await coldTransfer(o.control, { to: t.to, ringingTimeoutS: o.ringTimeoutS });
      if (!r.ok) return failureInstructions(t.name.replace(/_/g, ' '), r.failure);
      mark(ctx.session, { mode: 'cold', to: r.to });
      o.report?.('call.transferred', { to: r.to, mode: 'cold', destination: t.name });
      return undefined;
    },
  });
}

function warmTool(o: TelephonyToolsOptions, t: TransferDestination) {
  return llm.tool({
    name: t.name,
    description:
      `${t.description}\nConnects the caller to a person after briefing them; the caller is on ` +
      'hold meanwhile. Before calling it, tell the caller you will put them on hold briefly.',
    parameters: z.object({
      summary: z
        .string()
        .describe(
          "For the person taking the call: the caller's name, their reason, what was tried",
        ),
    }),
    execute: async ({ summary }, { ctx }) => {
      await ctx.waitForPlayout();
      const session = ctx.session;
      const callerLeft = new AbortController();
      const off = o.control.media.subscribe((e) => {
        if (e.type === 'left' && e.identity === o.control.callerIdentity) callerLeft.abort();
      });
      // On hold: what the caller says meanwhile is not a turn.
      session.input.setAudioEnabled(false);
      try {
        const r = await warmTransfer(o.control, {
          to: t.to,
          trunkId: o.warm.trunkId,
          summary,
          targetName: t.name.replace(/_/g, ' '),
          ringingTimeoutS: o.ringTimeoutS,
          ...(t.extension ? { dtmf: t.extension } : {}),
          decisionTimeoutMs: o.warm.decisionTimeoutMs,
          hold: o.warm.hold,
          createConsultSession: o.warm.createConsultSession,
          ...(o.warm.amd ? { amd: o.warm.amd } : {}),
          signal: callerLeft.signal,
        });
        if (!r.ok) {
          session.input.setAudioEnabled(true);
          return failureInstructions(t.name.replace(/_/g, ' '), r.failure);
        }
        mark(session, { mode: 'warm', to: r.to, humanIdentity: r.humanIdentity });
        o.report?.('call.transferred', { to: r.to, mode: 'warm', destination: t.name });
        // The caller and the human talk now; this agent leaves the conversation.
        session.shutdown({ drain: false, reason: 'warm_transfer' });
        return undefined;
      } finally {
        off();
      }
    },
  });
}

function sendDtmfTool(control: CallControl) {
  return llm.tool({
    name: 'send_dtmf',
    description:
      'Presses keys on the phone keypad, e.g. to choose an option in an automated phone menu ' +
      '("press 2 for sales") or enter an extension. Digits 0-9, * and #; w pauses half a second.',
    parameters: z.object({
      digits: z.string().describe('Keys to press, in order, e.g. "2" or "1234#"'),
    }),
    execute: async ({ digits }) => {
      try {
        const sent = await sendDigits(control, digits);
        return `Pressed ${sent}.`;
      } catch (err) {
        throw new llm.ToolError((err as Error).message);
      }
    },
  });
}

function collectDigitsTool(router: DtmfRouter) {
  return llm.tool({
    name: 'collect_digits',
    description:
      'Lets the caller type a number on their keypad (account number, PIN, ...), ending with #. ' +
      'Ask them to enter it followed by the pound key in the same reply, then call this.',
    parameters: z.object({
      max_digits: z
        .number()
        .int()
        .min(1)
        .max(32)
        .optional()
        .describe('Stop after this many digits'),
    }),
    execute: async ({ max_digits }, { ctx }) => {
      await ctx.waitForPlayout();
      const entry = await router.collect(max_digits ? { maxDigits: max_digits } : {});
      if (!entry.digits) return 'The caller did not enter any digits.';
      return `The caller entered: ${entry.digits}`;
    },
  });
}

function mark(session: voice.AgentSession, transfer: NonNullable<TransferMark['transfer']>): void {
  const data = session.userData as TransferMark | undefined;
  if (!data || typeof data !== 'object') return;
  data.transferredTo = transfer.to;
  data.transfer = transfer;
}
