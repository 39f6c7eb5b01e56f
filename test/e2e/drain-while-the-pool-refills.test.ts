/**
 * A SIGTERM that reaches the worker while its process pool refills, on the real stack: two calls
 * arrive together, each takes one of the two warm job processes, and the pool starts two
 * replacements — one prewarms (models, the rehearsal call: seconds), the other waits for it,
 * not started yet. The SIGTERM lands then (a rolling deploy under load meets this all the time).
 * agents-js 1.9's drain alone rejects ("runner not started") and the worker closed with its
 * calls ~15 s later; src/worker/drain.ts makes it wait for them. Judged from the phones and the
 * call events: both calls go on with audio both ways after the SIGTERM, end only when their
 * callers hang up, each with one summary, and the worker exits after the last one.
 * The same race without a LiveKit server: test/worker-drain-during-pool-refill.test.ts.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Product, startProduct } from '../../stack/product.js';
import { callerWav, speechIn, until } from './support/audio.js';
import { ask, callNumber, greeted, type LiveCall } from './support/live-calls.js';
import { alive, waitForJob, waitForWarmPool } from './support/workers.js';

const NUMBER = '+15550100000';
const WORKERS = ['worker'];
const QUESTION = 'I have a question about my bill';
const BILL_REPLY = 'Of course. I can help you with your bill. Let me pull up your account.';
const GUARD_LINE = 'drain: a job process was still starting';

let product: Product;
let questionWav: string;
const workerPid = () => product.worker?.pid ?? Number.NaN;

beforeAll(async () => {
  product = await startProduct();
  // Both idle processes warm: the two calls take them, so the pool starts two at once.
  await waitForWarmPool(product, 'worker', 2);
  questionWav = join(product.stack.logsDir, 'caller-question.wav');
  await callerWav(questionWav, [{ at: 0.2, text: QUESTION }]);
  product.providers.llm.setRules([{ match: 'bill', reply: BILL_REPLY }]);
  await product.routeNumber(NUMBER, 'receptionist');
}, 240_000);

afterAll(async () => {
  await product?.stop();
});

const call = (caller: string) => callNumber(product, caller, NUMBER);

/** The caller asks once the agent's greeting played; resolves once the answer played. */
async function askTheBill(c: LiveCall) {
  await greeted(product, c);
  return ask(product, c, questionWav, QUESTION, 'pull up your account');
}

describe('a SIGTERM while the pool refills', () => {
  let calls: LiveCall[] = [];
  let sigtermAt = 0;
  const answers: Awaited<ReturnType<typeof askTheBill>>[] = [];

  it('two calls arrive together; the SIGTERM lands while their replacements start', async () => {
    calls = await Promise.all([call('+15550000031'), call('+15550000032')]);
    const jobs = await Promise.all(calls.map((c) => waitForJob(product, c.callId, WORKERS)));
    expect(new Set(jobs.map((j) => j.pid)).size).toBe(2);
    const pid = workerPid();
    sigtermAt = Date.now();
    process.kill(pid, 'SIGTERM');
    // The race was met (else this test proves nothing): the drain found a process not started.
    await until(
      'the drain guard',
      () => (product.workerLog('worker').includes(GUARD_LINE) ? true : undefined),
      10_000,
    );
    expect(product.workerLog('worker')).not.toContain('runner not started');
  }, 120_000);

  it('both calls go on both ways after the SIGTERM', async () => {
    product.providers.stt.setScript([QUESTION, QUESTION]);
    for (const c of calls) answers.push(await askTheBill(c));
    // Past the ~15 s after which the unguarded worker closed its calls.
    await until('20 s after the SIGTERM', () =>
      Date.now() - sigtermAt > 20_000 ? true : undefined,
    );
    expect(alive(workerPid()), 'the draining worker still runs its calls').toBe(true);
    for (const c of calls) {
      expect(
        c.phone.events.some((e) => e.type === 'CALL_CLOSED'),
        c.caller,
      ).toBe(false);
    }
  }, 120_000);

  it('the calls end when their callers hang up; then the worker exits', async () => {
    for (const c of calls) {
      c.hungUpAt = Date.now();
      await c.phone.hangup();
    }
    await until('the worker to exit', () => (alive(workerPid()) ? undefined : true), 30_000);
    for (const c of calls) {
      const summary = await until(
        `${c.caller}: call.summary`,
        () => product.callEvents(c.callId).find((e) => e.type === 'call.summary'),
        20_000,
      );
      expect(summary.data).toMatchObject({ outcome: 'completed', endedBy: 'caller' });
      const types = product.callEvents(c.callId).map((e) => e.type);
      expect(types.filter((t) => t === 'call.summary')).toHaveLength(1);
      expect(types).not.toContain('call.resumed');
      const closed = c.phone.events.find((e) => e.type === 'CALL_CLOSED');
      expect(closed?.at ?? Number.POSITIVE_INFINITY).toBeGreaterThanOrEqual(c.hungUpAt!);
    }
    // Each caller heard their answer, asked after the SIGTERM (recordings on one clock).
    for (const [i, c] of calls.entries()) {
      await c.phone.stop();
      const { heard, sent } = c.phone.recordings().at(-1)!;
      const asked = speechIn(sent).at(-1)!;
      const answerS = answers[i]!.replyMs / 1000;
      const heardAfter = speechIn(heard)
        .filter((seg) => seg.start > asked.end && seg.start < asked.end + answerS + 3)
        .reduce((n, seg) => n + (seg.end - seg.start), 0);
      console.log(
        `${c.caller}: answer of ${answerS.toFixed(2)} s, heard ${heardAfter.toFixed(2)} s`,
      );
      expect(heardAfter).toBeGreaterThan(answerS * 0.7);
    }
  }, 120_000);
});
