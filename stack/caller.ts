/**
 * A caller: a baresip phone (stack/phones.ts) that follows what it hears, for the benches over
 * the real path (`npm run bench:e2e`, `npm run bench:reliability`). It waits for the agent to
 * finish speaking before it talks (RecordingTail over the heard recording, while the call runs),
 * and afterwards puts both recordings and the wall clock on one time line (alignRecordings).
 */
import { join } from 'node:path';
import { sleep } from './netns.js';
import { alignRecordings, RecordingTail, type Segment } from './phone-audio.js';
import type { Phone } from './phones.js';

export class Caller {
  readonly tail: RecordingTail;
  dialedAt = 0;
  answeredAt = 0;
  closedAt = 0;
  /** Wall clock of each WAV played. */
  readonly played: Array<{ what: string; at: number; seconds: number }> = [];
  constructor(
    readonly phone: Phone,
    readonly uri: string,
  ) {
    this.tail = new RecordingTail(join(phone.dir, 'rec'));
  }

  async dial(timeoutMs = 30_000): Promise<void> {
    this.dialedAt = Date.now();
    await this.phone.dial(this.uri);
    const e = await Promise.race([
      this.phone.waitForEvent('CALL_ESTABLISHED', { since: this.dialedAt, timeoutMs }),
      this.phone.waitForEvent('CALL_CLOSED', { since: this.dialedAt, timeoutMs }),
    ]);
    if (e.type !== 'CALL_ESTABLISHED') throw new Error(`${this.phone.name}: ${e.param}`);
    this.answeredAt = e.at;
  }

  /** Waits for agent speech starting after `sinceS` (recording s), then `quietS` of silence. */
  async agentDone(sinceS: number, quietS: number, firstSpeechMs = 15_000): Promise<boolean> {
    const t0 = Date.now();
    for (;;) {
      this.tail.poll();
      const spoke = this.tail.segments.filter((s) => s.start >= sinceS - 0.05);
      if (
        this.tail.current === undefined &&
        spoke.length &&
        this.tail.seconds() - spoke.at(-1)!.end >= quietS
      ) {
        return true;
      }
      const speaking = this.tail.current !== undefined && this.tail.current >= sinceS - 0.05;
      if (!spoke.length && !speaking && Date.now() - t0 > firstSpeechMs) return false;
      if (Date.now() - t0 > 90_000) return true;
      await sleep(50);
    }
  }

  /** Waits until agent speech has started after `sinceS`. */
  async agentStarted(sinceS: number, timeoutMs = 15_000): Promise<boolean> {
    const t0 = Date.now();
    for (;;) {
      this.tail.poll();
      if (
        (this.tail.current !== undefined && this.tail.current >= sinceS - 0.05) ||
        this.tail.segments.some((s) => s.start >= sinceS - 0.05)
      ) {
        return true;
      }
      if (Date.now() - t0 > timeoutMs) return false;
      await sleep(20);
    }
  }

  async play(what: string, wav: string, seconds: number): Promise<number> {
    this.tail.poll();
    const sinceS = this.tail.seconds();
    const at = Date.now();
    await this.phone.play(wav, seconds + 300);
    this.played.push({ what, at, seconds });
    return sinceS;
  }

  async hangup(): Promise<void> {
    await this.phone.hangup().catch(() => undefined);
    const e = await this.phone.waitForEvent('CALL_CLOSED', {
      since: this.dialedAt,
      timeoutMs: 10_000,
    });
    this.closedAt = e.at;
    await this.phone.stop();
  }

  /** The recordings on the sent file's time line, with wall-clock conversion. */
  analyze() {
    const rec = this.phone.recordings().at(-1)!;
    const a = alignRecordings(rec.heard, rec.sent);
    const startAt = this.closedAt - a.sentS * 1000;
    const onSent = (wall: number) => (wall - startAt) / 1000;
    const wall = (s: number) => startAt + s * 1000;
    /** Caller speech of a played WAV (sent time line). */
    const speechOf = (p: { at: number; seconds: number }): Segment[] =>
      a.sent.filter((s) => s.start >= onSent(p.at) - 0.1 && s.start <= onSent(p.at) + p.seconds);
    return { ...a, onSent, wall, speechOf };
  }

  /**
   * Per WAV played: from its last word to the first agent speech heard after it (ms, on the
   * sent file's time line), undefined when none came.
   */
  answerDelaysMs(): Array<number | undefined> {
    const a = this.analyze();
    return this.played.map((p) => {
      const last = a.speechOf(p).at(-1)?.end;
      const reply = last === undefined ? undefined : a.heardOnSentTime.find((h) => h.start > last);
      return reply && last !== undefined ? Math.round((reply.start - last) * 1000) : undefined;
    });
  }
}
