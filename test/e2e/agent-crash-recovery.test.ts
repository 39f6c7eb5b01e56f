/**
 * A worker dies mid-call and the call survives, on the real stack (docs/reliability.md).
 *
 * Two workers are registered. A caller asks about their bill; while the agent is answering,
 * first its job process is `kill -9`ed, later (on a second call) the whole worker it runs in
 * (the worker and every job process of it, as when a pod is killed). LiveKit itself would leave
 * the caller in dead air for ~21 s and then with no agent at all (it never re-dispatches on a
 * self-hosted server): here the job's lease at our API drops with the process, the API
 * re-dispatches the pool into the room with the conversation so far, and a job of another
 * process takes the call over. The phone's recording shows the dead air between the cut-off
 * answer and "Sorry, we got cut off"; the resumed agent recaps the question (its LLM request
 * carries the earlier conversation), the caller asks again and hears the answer, and the call
 * events say `call.resumed` (detected by the lease) and end with one summary of the whole call.
 * The call, the kill and the measure: support/crash.ts (`npm run bench:reliability` repeats them).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Product, startProduct } from '../../stack/product.js';
import {
  type CrashScene,
  callAndKill,
  checkTakeOver,
  deadAir,
  goOn,
  prepareCrashCalls,
} from './support/crash.js';
import { killAll, parentOf, processTree, waitForJob, waitForWarmPool } from './support/workers.js';

const WORKERS = ['worker', 'worker-b'];
/** The target: the caller waits at most this long for the take-over (issue 13). */
const DEAD_AIR_TARGET_S = 3;

let product: Product;
let scene: CrashScene;

beforeAll(async () => {
  product = await startProduct();
  await product.startWorker('worker-b');
  // Workers that ran a while have idle job processes warmed up; a take-over never waits for one.
  await Promise.all(WORKERS.map((w) => waitForWarmPool(product, w, 2)));
  scene = await prepareCrashCalls(product, WORKERS);
}, 240_000);

afterAll(async () => {
  await product?.stop();
});

describe('an agent that dies mid-call', () => {
  it('kill -9 of the job process: another process takes the call over within the target', async () => {
    const phone = await product.phone({ user: '+15550000011', micSeconds: 120 });
    const run = await callAndKill(scene, phone, (job) => {
      killAll([job.pid]);
      return [job.pid];
    });
    const takeOver = await goOn(scene, run);
    checkTakeOver(run, takeOver);
    const gap = deadAir(run, takeOver.speech);
    expect(gap).toBeLessThanOrEqual(DEAD_AIR_TARGET_S);
  }, 150_000);

  it('kill -9 of the whole worker: the other worker takes the call over within the target', async () => {
    // The victim's pool is warm again, and so is the other's: the call may land on either.
    await Promise.all(WORKERS.map((w) => waitForWarmPool(product, w, 1)));
    const phone = await product.phone({ user: '+15550000012', micSeconds: 120 });
    const run = await callAndKill(scene, phone, (job) => {
      const tree = processTree(parentOf(job.pid));
      killAll(tree);
      return tree;
    });
    const takeOver = await goOn(scene, run);
    checkTakeOver(run, takeOver);
    const taker = await waitForJob(product, run.callId, WORKERS);
    expect(taker.worker).not.toBe(run.victim.worker);
    const gap = deadAir(run, takeOver.speech);
    expect(gap).toBeLessThanOrEqual(DEAD_AIR_TARGET_S);
  }, 150_000);
});
