/**
 * After a warm transfer the caller and the human talk in the room without the agent's session.
 * Nobody else would notice one of them hanging up, leaving the other on a silent line: the job
 * waits here (no session, no media) and then hangs up the room for both.
 */
import type { CallControl } from '../call-control.js';

export type BridgeEnd = 'caller-left' | 'human-left' | 'max-duration';

export function superviseBridge(
  control: CallControl,
  o: { humanIdentity: string; maxDurationMs?: number; signal?: AbortSignal },
): Promise<BridgeEnd> {
  const present = (id: string) => control.media.party(id) !== undefined;
  if (!present(control.callerIdentity)) return Promise.resolve('caller-left');
  if (!present(o.humanIdentity)) return Promise.resolve('human-left');
  return control
    .waitFor<BridgeEnd>(
      (e) => {
        if (e.type !== 'left') return undefined;
        if (e.identity === control.callerIdentity) return 'caller-left';
        if (e.identity === o.humanIdentity) return 'human-left';
        return undefined;
      },
      {
        timeoutMs: o.maxDurationMs ?? 2 ** 31 - 1,
        what: 'one side of the transferred call to hang up',
        ...(o.signal ? { signal: o.signal } : {}),
      },
    )
    .catch(() => 'max-duration' as const);
}
