/**
 * The caller's key presses: menus and digit collection.
 *
 * - Menu: a key press is routed like a spoken choice. With a menu (`{ '1': 'billing' }`) the
 *   session gets the option's words as the caller's turn ("billing"), so the LLM picks the same
 *   tool or handoff it would for the spoken word; without one, the turn says which key was
 *   pressed ("[pressed 3]").
 * - Collection (`collect`): account numbers, PINs. Keys are captured (not routed) until `#`,
 *   `maxDigits`, or no key for the inter-digit timeout. Digits are never logged in full.
 */
import { voice } from '@livekit/agents';
import type { CallControl } from '../call-control.js';
import { maskDigits } from './digits.js';

export interface DtmfRouterOptions {
  /** Key → the words it stands for (`{ '1': 'billing', '2': 'technical support' }`). */
  menu?: Readonly<Record<string, string>>;
  /** Whose keys count (default: the caller). */
  identity?: string;
  /** Digit collection ends after this long without a key. */
  interDigitTimeoutMs?: number;
}

export const dtmfRouterDefaults = {
  interDigitTimeoutMs: 5000,
} as const satisfies DtmfRouterOptions;

export interface CollectOptions {
  maxDigits?: number;
  /** Ends the entry; not part of the digits. Default `#`. */
  terminator?: string;
  interDigitTimeoutMs?: number;
  /** How long to wait for the first key (default: twice the inter-digit timeout). */
  firstDigitTimeoutMs?: number;
  signal?: AbortSignal;
}

export type CollectEnd = 'terminator' | 'max-digits' | 'timeout' | 'no-input' | 'aborted';

export interface DigitEntry {
  digits: string;
  ended: CollectEnd;
}

export class DtmfRouter {
  private readonly o: DtmfRouterOptions & { interDigitTimeoutMs: number };
  private readonly identity: string;
  private capture: ((digit: string) => void) | undefined;
  private off: (() => void) | undefined;

  constructor(
    private readonly session: voice.AgentSession,
    private readonly control: CallControl,
    options: DtmfRouterOptions = {},
  ) {
    this.o = { ...dtmfRouterDefaults, ...options };
    this.identity = options.identity ?? control.callerIdentity;
  }

  /** Starts routing the caller's keys; returns `stop`. */
  start(): () => void {
    this.off ??= this.control.media.subscribe((e) => {
      if (e.type === 'dtmf' && e.identity === this.identity) this.onKey(e.digit);
    });
    return () => this.stop();
  }

  stop(): void {
    this.off?.();
    this.off = undefined;
  }

  /** True while `collect` is capturing keys. */
  get collecting(): boolean {
    return this.capture !== undefined;
  }

  /** Captures the caller's next entry. One collection at a time. */
  collect(opts: CollectOptions = {}): Promise<DigitEntry> {
    if (this.capture) return Promise.reject(new Error('a digit collection is already running'));
    this.start();
    const terminator = opts.terminator ?? '#';
    const gap = opts.interDigitTimeoutMs ?? this.o.interDigitTimeoutMs;
    const first = opts.firstDigitTimeoutMs ?? gap * 2;
    const log = this.control.log;
    return new Promise<DigitEntry>((resolve) => {
      let digits = '';
      let timer: NodeJS.Timeout | undefined;
      const arm = (ms: number) => {
        clearTimeout(timer);
        timer = setTimeout(() => done(digits ? 'timeout' : 'no-input'), ms);
      };
      const onAbort = () => done('aborted');
      const done = (ended: CollectEnd) => {
        clearTimeout(timer);
        opts.signal?.removeEventListener('abort', onAbort);
        this.capture = undefined;
        log.info(
          { callId: this.control.room, digits: maskDigits(digits), count: digits.length, ended },
          'digits collected',
        );
        resolve({ digits, ended });
      };
      this.capture = (d) => {
        if (d === terminator) return done('terminator');
        digits += d;
        if (opts.maxDigits && digits.length >= opts.maxDigits) return done('max-digits');
        arm(gap);
      };
      if (opts.signal?.aborted) return onAbort();
      opts.signal?.addEventListener('abort', onAbort, { once: true });
      arm(first);
    });
  }

  private onKey(digit: string): void {
    if (this.capture) {
      this.capture(digit);
      return;
    }
    const option = this.o.menu?.[digit];
    const userInput = option ?? `[pressed ${digit}]`;
    this.control.log.info(
      { callId: this.control.room, key: option ? digit : '*', option: option ?? null },
      'DTMF key routed',
    );
    // Like a spoken choice: stop talking, take the key as the caller's turn.
    if (this.session.agentState === 'speaking') this.session.interrupt();
    this.session.generateReply({ userInput });
  }
}

/** Starts routing the caller's keys on this session (menus); the router also collects digits. */
export function installDtmf(
  session: voice.AgentSession,
  control: CallControl,
  options: DtmfRouterOptions = {},
): DtmfRouter {
  const router = new DtmfRouter(session, control, options);
  router.start();
  session.once(voice.AgentSessionEventTypes.Close, () => router.stop());
  return router;
}
