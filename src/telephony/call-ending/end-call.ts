/**
 * Ending a call from the agent's side: the goodbye + hang-up tool, and `endCall` used by the
 * silence and duration limits. The session is shut down with reason `user_initiated`; the call
 * job then hangs up the line (deletes the room), so the caller hears the goodbye and then the
 * line drop.
 */
import { llm, voice } from '@livekit/agents';

export const END_CALL_TOOL = 'end_call';

export const endCallDefaults = {
  goodbye: 'Thank you for calling. Goodbye!',
} as const;

/** Says `text` (unless empty), waits until it played, then shuts the session down. */
export async function endCall(
  session: voice.AgentSession,
  text: string,
  reason: string,
): Promise<void> {
  if (text) {
    if (session.agentState === 'speaking') session.interrupt();
    await session.say(text, { allowInterruptions: false, addToChatCtx: true }).waitForPlayout();
  }
  session.shutdown({ drain: true, reason });
}

/**
 * The goodbye + hang-up tool. The model says its goodbye with the call (same turn); if it said
 * nothing, `goodbye` is spoken. The shutdown waits for the goodbye to play out.
 */
export function createEndCallTool(
  o: { goodbye?: string } = {},
): llm.FunctionTool<Record<string, never>, unknown, undefined> {
  const goodbye = o.goodbye ?? endCallDefaults.goodbye;
  return llm.tool({
    name: END_CALL_TOOL,
    description:
      'Ends the call (hangs up). Call it when the caller is done or asks to hang up, after ' +
      'saying goodbye in the same reply. Do not call it to transfer or to put the caller on hold.',
    execute: async (_args, { ctx }) => {
      ctx.speechHandle.addDoneCallback((sh) => {
        const spoke = sh.chatItems.some(
          (i) =>
            i.type === 'message' && i.role === 'assistant' && (i.textContent ?? '').trim() !== '',
        );
        void endCall(ctx.session, spoke ? '' : goodbye, voice.CloseReason.USER_INITIATED);
      });
      return undefined;
    },
  }) as llm.FunctionTool<Record<string, never>, unknown, undefined>;
}
