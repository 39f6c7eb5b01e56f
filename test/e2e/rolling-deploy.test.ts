/**
 * A rolling deploy of the worker pool never drops a call, on the real stack: two workers are
 * registered; one of them, running a live call, gets SIGTERM (what Kubernetes sends a pod it
 * replaces). It drains (agents-js `start` mode: it reports itself full and takes no new job):
 * the live call goes on with audio both ways to its natural end, a call placed meanwhile goes
 * to the other worker, and the drained worker exits once its call ended. Judged from the phones'
 * recordings and the call events: no call ends before its caller hangs up, nothing is taken over
 * (a drain is not a crash), and each call ends with one summary, ended by its caller.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Product, startProduct } from '../../stack/product.js';
import { callerWav, speechIn, until } from './support/audio.js';
import {
  ask as askOn,
  callNumber,
  greeted as greetedOn,
  type LiveCall,
} from './support/live-calls.js';
import { alive, waitForJob, waitForWarmPool } from './support/workers.js';

const NUMBER = '+15550100000';
const WORKERS = ['worker', 'worker-b'];
const QUESTION = 'I have a question about my bill';
const LATER = 'My internet is slow today';
const BILL_REPLY = 'Of course. I can help you with your bill. Let me pull up your account.';
const SLOW_REPLY = 'I am sorry to hear that. Let me run a line check for you right now.';

let product: Product;
const wavs: Record<string, string> = {};
const pidOf = (worker: string) =>
  (worker === 'worker' ? product.worker : workerB)?.pid ?? Number.NaN;
let workerB: Awaited<ReturnType<Product['startWorker']>> | undefined;

beforeAll(async () => {
  product = await startProduct();
  workerB = await product.startWorker('worker-b');
  await Promise.all(WORKERS.map((w) => waitForWarmPool(product, w, 1)));
  for (const [name, text] of [
    ['question', QUESTION],
    ['later', LATER],
  ]) {
    wavs[name!] = join(product.stack.logsDir, `caller-${name}.wav`);
    await callerWav(wavs[name!]!, [{ at: 0.2, text: text! }]);
  }
  product.providers.llm.setRules([
    { match: 'bill', reply: BILL_REPLY },
    { match: 'internet|slow', reply: SLOW_REPLY },
  ]);
  await product.routeNumber(NUMBER, 'receptionist');
}, 240_000);

afterAll(async () => {
  await product?.stop();
});

const call = (caller: string) => callNumber(product, caller, NUMBER);
const greeted = (c: LiveCall) => greetedOn(product, c);
const ask = (c: LiveCall, wav: string, transcript: string, answer: string) =>
  askOn(product, c, wav, transcript, answer);

describe('a rolling deploy of the worker pool', () => {
  let first: LiveCall;
  let second: LiveCall;
  let draining = '';
  let staying = '';
  let sigtermAt = 0;
  let laterAnswer: Awaited<ReturnType<typeof ask>>;

  it('SIGTERM to the worker running a live call: it drains, the call goes on both ways', async () => {
    product.providers.stt.setScript([QUESTION, LATER, QUESTION]);
    first = await call('+15550000021');
    await greeted(first);
    await ask(first, wavs.question!, QUESTION, 'pull up your account');
    draining = (await waitForJob(product, first.callId, WORKERS)).worker;
    staying = WORKERS.find((w) => w !== draining)!;

    sigtermAt = Date.now();
    // The worker tells LiveKit it is full and keeps its running job (agents-js drain).
    process.kill(pidOf(draining), 'SIGTERM');
    // After the SIGTERM the caller speaks (caller → agent) and hears the answer (agent → caller).
    laterAnswer = await ask(first, wavs.later!, LATER, 'line check');
    expect(laterAnswer.heardAt).toBeGreaterThan(sigtermAt);
    expect(alive(pidOf(draining)), 'the draining worker still runs its call').toBe(true);
  }, 120_000);

  it('a call placed meanwhile goes to the other worker', async () => {
    second = await call('+15550000022');
    await greeted(second);
    const job = await waitForJob(product, second.callId, WORKERS);
    expect(job.worker).toBe(staying);
    await ask(second, wavs.question!, QUESTION, 'pull up your account');
    expect(alive(pidOf(draining)), 'the draining worker still runs its call').toBe(true);
  }, 120_000);

  it('the drained worker exits once its call ended; no call was dropped', async () => {
    // The first caller ends their call: only now may the drained worker go.
    expect(first.phone.events.some((e) => e.type === 'CALL_CLOSED')).toBe(false);
    first.hungUpAt = Date.now();
    await first.phone.hangup();
    const drained = product.workerLog(draining);
    await until(
      'the drained worker to exit',
      () => (alive(pidOf(draining)) ? undefined : true),
      30_000,
    );
    const exitedAfterS = (Date.now() - first.hungUpAt) / 1000;
    console.log(`drained worker exited ${exitedAfterS.toFixed(1)} s after its last call ended`);
    expect(drained).not.toContain('"call taken over"');

    expect(second.phone.events.some((e) => e.type === 'CALL_CLOSED')).toBe(false);
    second.hungUpAt = Date.now();
    await second.phone.hangup();

    for (const c of [first, second]) {
      const summary = await until(
        `${c.caller}: call.summary`,
        () => product.callEvents(c.callId).find((e) => e.type === 'call.summary'),
        20_000,
      );
      expect(summary.data).toMatchObject({ outcome: 'completed', endedBy: 'caller' });
      const ended = await until(`${c.caller}: call.ended`, () =>
        product.callEvents(c.callId).find((e) => e.type === 'call.ended'),
      );
      expect(ended.data).toMatchObject({ reason: 'hangup' });
      const types = product.callEvents(c.callId).map((e) => e.type);
      expect(types).not.toContain('call.resumed');
      expect(types.filter((t) => t === 'call.summary')).toHaveLength(1);
      // The phone's line closed only when the caller hung up.
      const closed = c.phone.events.find((e) => e.type === 'CALL_CLOSED');
      expect(closed?.at ?? Number.POSITIVE_INFINITY).toBeGreaterThanOrEqual(c.hungUpAt!);
    }
    // The first caller's recordings (one clock): after the question they asked once the worker
    // was draining (their own track), they heard the answer in full (the line's track).
    await first.phone.stop();
    const { heard, sent } = first.phone.recordings().at(-1)!;
    const asked = speechIn(sent);
    expect(asked.length, JSON.stringify(asked)).toBeGreaterThanOrEqual(2);
    const laterEnd = asked[1]!.end;
    const answerS = laterAnswer.replyMs / 1000;
    const heardLater = speechIn(heard)
      .filter((seg) => seg.start > laterEnd && seg.start < laterEnd + answerS + 3)
      .reduce((n, seg) => n + (seg.end - seg.start), 0);
    console.log(
      `after SIGTERM: answer of ${answerS.toFixed(2)} s, heard ${heardLater.toFixed(2)} s`,
    );
    expect(heardLater).toBeGreaterThan(answerS * 0.7);
  }, 120_000);
});
