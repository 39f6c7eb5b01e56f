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
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Phone } from '../../stack/phones.js';
import { type Product, startProduct } from '../../stack/product.js';
import { callerWav, type Segment, speechIn, until } from './support/audio.js';
import {
  alive,
  deadAirAround,
  killAll,
  parentOf,
  processTree,
  waitForJob,
  waitForWarmPool,
} from './support/workers.js';

const NUMBER = '+15550100000';
const WORKERS = ['worker', 'worker-b'];
const QUESTION = 'I have a question about my bill';
const AGAIN = 'Can you check my bill again';
const REPLY =
  'Of course. I can help you with your bill. Let me pull up your account. I can see your last ' +
  'three invoices here, and I will walk you through each of them, one by one, starting with May.';
const RECAP = 'You were asking about your bill. Let me pull that up again.';
const SORRY = 'Sorry, we got cut off.';
/** The target: the caller waits at most this long for the take-over (issue 13). */
const DEAD_AIR_TARGET_S = 3;

let product: Product;
const wavs: Record<string, string> = {};

beforeAll(async () => {
  product = await startProduct();
  await product.startWorker('worker-b');
  // Workers that ran a while have idle job processes warmed up; a take-over never waits for one.
  await Promise.all(WORKERS.map((w) => waitForWarmPool(product, w, 2)));
  for (const [name, text] of [
    ['question', QUESTION],
    ['again', AGAIN],
  ]) {
    wavs[name!] = join(product.stack.logsDir, `caller-${name}.wav`);
    await callerWav(wavs[name!]!, [{ at: 0.2, text: text! }]);
  }
  // The resumed agent's first reply (its instructions say it was cut off) recaps; questions
  // about the bill get the long answer.
  product.providers.llm.setRule((turn) => {
    const system = turn.chatCtx.items.find(
      (i) => i.type === 'message' && i.role === 'system' && i.textContent?.includes('cut off'),
    );
    if (system) return RECAP;
    return /bill/i.test(turn.userText) ? REPLY : undefined;
  });
  await product.routeNumber(NUMBER, 'receptionist');
}, 240_000);

afterAll(async () => {
  await product?.stop();
});

interface CrashRun {
  phone: Phone;
  callId: string;
  answeredAt: number;
  /** When the TTS sent the greeting's first audio (it maps wall-clock time onto the recording). */
  greetingAudioAt: number;
  killedAt: number;
  sorryAudioAt: number;
  victim: { pid: number; worker: string };
}

/** A call to the number: greeting, the question, and the kill while the answer plays. */
async function callAndKill(
  caller: string,
  kill: (job: { pid: number; worker: string }) => number[],
): Promise<CrashRun> {
  const spokenBefore = product.providers.tts.spoken().length;
  const requestsBefore = product.providers.llm.requests().length;
  product.providers.stt.setScript([QUESTION, AGAIN]);
  const phone = await product.phone({ user: caller, micSeconds: 120 });
  const dialedAt = Date.now();
  await phone.dial(product.stack.sipUri(NUMBER));
  const answeredAt = (
    await phone.waitForEvent('CALL_ESTABLISHED', { since: dialedAt, timeoutMs: 30_000 })
  ).at;
  const callId = await until('the call in GET /v1/calls', async () => {
    const r = await product.api('GET', '/v1/calls');
    return r.body?.calls?.find((c: { from: string }) => c.from === caller)?.id as
      | string
      | undefined;
  });
  const spoken = () => product.providers.tts.spoken().slice(spokenBefore);
  const greeting = await until('the greeting', () =>
    spoken().find((c) => c.text.includes('Acme') && c.finalAt),
  );
  await until('the greeting played', () =>
    Date.now() > (greeting.firstAudioAt ?? 0) + greeting.audioMs + 800 ? true : undefined,
  );
  await phone.play(wavs.question!, 100);
  const reply = await until('the answer playing', () =>
    spoken().find((c) => c.text.includes('three invoices') && c.firstAudioAt),
  );
  expect(product.providers.llm.requests().length).toBeGreaterThan(requestsBefore);
  const victim = await waitForJob(product, callId, WORKERS);
  // Two seconds into the answer (it lasts ~9 s): the caller hears it cut off.
  await until('two seconds into the answer', () =>
    Date.now() > (reply.firstAudioAt ?? 0) + 2000 ? true : undefined,
  );
  const killed = kill(victim);
  const killedAt = Date.now();
  for (const pid of killed) {
    await until(`process ${pid} gone`, () => (alive(pid) ? undefined : true), 5000);
  }
  const sorry = await until(
    'the take-over saying it got cut off',
    () => spoken().find((c) => c.text.includes(SORRY) && c.firstAudioAt),
    30_000,
  );
  return {
    phone,
    callId,
    answeredAt,
    greetingAudioAt: greeting.firstAudioAt!,
    killedAt,
    sorryAudioAt: sorry.firstAudioAt!,
    victim,
  };
}

/** The rest of a taken-over call: the recap, the question again and its answer; hang-up. */
async function goOn(run: CrashRun): Promise<Segment[]> {
  const { phone, callId } = run;
  const spokenSince = () =>
    product.providers.tts.spoken().filter((c) => (c.firstAudioAt ?? 0) >= run.sorryAudioAt);
  const recap = await until('the recap', () =>
    spokenSince().find((c) => c.text.includes('You were asking about your bill') && c.finalAt),
  );
  // The recap came from the conversation so far: the resumed agent's LLM request held the
  // caller's first question.
  const recapRequest = product.providers.llm
    .requests()
    .find(
      (r) =>
        r.at >= run.killedAt && r.reply !== undefined && JSON.stringify(r.body).includes('cut off'),
    );
  expect(JSON.stringify(recapRequest?.body.messages)).toContain(QUESTION);
  await until('the recap played', () =>
    Date.now() > (recap.firstAudioAt ?? 0) + recap.audioMs + 800 ? true : undefined,
  );
  // The call goes on: the caller asks again and hears the answer, from the new job.
  await phone.play(wavs.again!, 100);
  const answer = await until(
    'the answer to the question asked again',
    () => spokenSince().find((c) => c.text.includes('three invoices') && c.finalAt),
    30_000,
  );
  await until('the answer played', () =>
    Date.now() > (answer.firstAudioAt ?? 0) + answer.audioMs + 800 ? true : undefined,
  );
  const taker = await waitForJob(product, callId, WORKERS);
  expect(taker.pid).not.toBe(run.victim.pid);

  await phone.hangup();
  const summary = await until(
    'call.summary',
    () => product.callEvents(callId).find((e) => e.type === 'call.summary'),
    20_000,
  );
  await phone.stop(); // closes the recordings
  const events = product.callEvents(callId);
  const resumed = events.filter((e) => e.type === 'call.resumed');
  expect(resumed).toHaveLength(1);
  expect(resumed[0]!.data).toMatchObject({
    attempt: 1,
    agent: 'receptionist',
    detectedBy: 'lease',
  });
  // One summary, of the whole call: the caller's two questions, the ended-by-caller outcome.
  expect(summary.data).toMatchObject({ outcome: 'completed', endedBy: 'caller' });
  const said = (summary.data.transcript as Array<{ role: string; text: string }>)
    .filter((l) => l.role === 'caller')
    .map((l) => l.text);
  expect(said).toEqual([QUESTION, AGAIN]);
  expect(events.filter((e) => e.type === 'call.summary')).toHaveLength(1);

  const { heard } = phone.recordings().at(-1)!;
  return speechIn(heard);
}

/**
 * The dead air the caller heard: from the end of the answer that was cut off to the start of
 * the apology. Wall-clock instants are placed in the recording by the greeting (its first speech
 * there is its first audio from the TTS, plus the same way through room and bridge as later).
 */
function deadAir(run: CrashRun, speech: Segment[]): number {
  const greeting = speech[0]!;
  const inRecording = (at: number) => greeting.start + (at - run.greetingAudioAt) / 1000;
  const killedInRecording = inRecording(run.killedAt);
  const around = deadAirAround(speech, killedInRecording);
  expect(around, JSON.stringify(speech)).toBeDefined();
  const { gap, before, after } = around!;
  // `after` is the apology: it starts when the TTS sent it (+ the way through room and bridge).
  expect(
    Math.abs(after.start - inRecording(run.sorryAudioAt)),
    JSON.stringify(speech),
  ).toBeLessThan(0.6);
  // `before` is the answer, cut off: it was still playing when the process died.
  expect(before.end).toBeGreaterThan(killedInRecording - 1);
  console.log(
    `killed at ${killedInRecording.toFixed(2)} s: answer heard until ${before.end.toFixed(2)} s, ` +
      `"${SORRY}" from ${after.start.toFixed(2)} s: dead air ${gap.toFixed(2)} s`,
  );
  return gap;
}

describe('an agent that dies mid-call', () => {
  it('kill -9 of the job process: another process takes the call over within the target', async () => {
    const run = await callAndKill('+15550000011', (job) => {
      killAll([job.pid]);
      return [job.pid];
    });
    const gap = deadAir(run, await goOn(run));
    expect(gap).toBeLessThanOrEqual(DEAD_AIR_TARGET_S);
  }, 150_000);

  it('kill -9 of the whole worker: the other worker takes the call over within the target', async () => {
    // The victim's pool is warm again, and so is the other's: the call may land on either.
    await Promise.all(WORKERS.map((w) => waitForWarmPool(product, w, 1)));
    const run = await callAndKill('+15550000012', (job) => {
      const tree = processTree(parentOf(job.pid));
      killAll(tree);
      return tree;
    });
    const speech = await goOn(run);
    const taker = await waitForJob(product, run.callId, WORKERS);
    expect(taker.worker).not.toBe(run.victim.worker);
    const gap = deadAir(run, speech);
    expect(gap).toBeLessThanOrEqual(DEAD_AIR_TARGET_S);
  }, 150_000);
});
