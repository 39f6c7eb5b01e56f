/**
 * An agent killed mid-call and the take-over (docs/reliability.md), as
 * test/e2e/agent-crash-recovery.test.ts proves it once per kind and `npm run bench:reliability`
 * measures it over many kills: a caller asks about their bill, the job process (or its whole
 * worker) is `kill -9`ed two seconds into the long answer, another job takes the call over ("Sorry,
 * we got cut off."), recaps, the caller asks again and hears the answer, and hangs up. The dead
 * air is read from the phone's recording.
 */
import { join } from 'node:path';
import type { Phone } from '../../../stack/phones.js';
import type { Product } from '../../../stack/product.js';
import { callerWav, check, type Segment, speechIn, until } from './audio.js';
import { dialIn, played } from './standins.js';
import { alive, type CallJob, deadAirAround, waitForJob } from './workers.js';

export const CRASH_NUMBER = '+15550100000';
export const QUESTION = 'I have a question about my bill';
export const AGAIN = 'Can you check my bill again';
const REPLY =
  'Of course. I can help you with your bill. Let me pull up your account. I can see your last ' +
  'three invoices here, and I will walk you through each of them, one by one, starting with May.';
const RECAP = 'You were asking about your bill. Let me pull that up again.';
export const SORRY = 'Sorry, we got cut off.';

export interface CrashScene {
  product: Product;
  /** Log names of every worker that ran (a killed one's log still names its calls). */
  workers: string[];
  wavs: { question: string; again: string };
}

/** The callers' questions, the stand-in LLM's answers and the number's route. */
export async function prepareCrashCalls(product: Product, workers: string[]): Promise<CrashScene> {
  const wavs = {
    question: join(product.stack.logsDir, 'caller-question.wav'),
    again: join(product.stack.logsDir, 'caller-again.wav'),
  };
  await callerWav(wavs.question, [{ at: 0.2, text: QUESTION }]);
  await callerWav(wavs.again, [{ at: 0.2, text: AGAIN }]);
  // The resumed agent's first reply (its instructions say it was cut off) recaps; questions
  // about the bill get the long answer.
  product.providers.llm.setRule((turn) => {
    const system = turn.chatCtx.items.find(
      (i) => i.type === 'message' && i.role === 'system' && i.textContent?.includes('cut off'),
    );
    if (system) return RECAP;
    return /bill/i.test(turn.userText) ? REPLY : undefined;
  });
  await product.routeNumber(CRASH_NUMBER, 'receptionist');
  return { product, workers, wavs };
}

export interface CrashRun {
  phone: Phone;
  callId: string;
  answeredAt: number;
  /** When the TTS sent the greeting's first audio (it maps wall-clock time onto the recording). */
  greetingAudioAt: number;
  killedAt: number;
  sorryAudioAt: number;
  victim: CallJob;
}

/**
 * `phone` calls the number: greeting, the question, and `kill` (given the job running the call,
 * returns the pids it killed) two seconds into the answer; resolves once the take-over speaks.
 */
export async function callAndKill(
  scene: CrashScene,
  phone: Phone,
  kill: (job: CallJob) => number[],
): Promise<CrashRun> {
  const { product } = scene;
  const spokenBefore = product.providers.tts.spoken().length;
  const requestsBefore = product.providers.llm.requests().length;
  product.providers.stt.setScript([QUESTION, AGAIN]);
  const { answeredAt, callId } = await dialIn(product, phone, CRASH_NUMBER);
  const spoken = () => product.providers.tts.spoken().slice(spokenBefore);
  const greeting = await until('the greeting', () =>
    spoken().find((c) => c.text.includes('Acme') && c.finalAt && c.firstAudioAt),
  );
  await played(greeting);
  await phone.play(scene.wavs.question, 100);
  const reply = await until('the answer playing', () =>
    spoken().find((c) => c.text.includes('three invoices') && c.firstAudioAt),
  );
  check(
    product.providers.llm.requests().length > requestsBefore,
    'the answer came without a request to the LLM',
  );
  const victim = await waitForJob(product, callId, scene.workers);
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

/** What the rest of a taken-over call showed. */
export interface TakeOver {
  /** Speech in what the caller heard, the whole call. */
  speech: Segment[];
  /** The job that ran the call at its end. */
  taker: CallJob;
  /** The resumed agent's first LLM request (its recap), as sent. */
  recapRequest: string;
  events: ReturnType<Product['callEvents']>;
}

/** The rest of a taken-over call: the recap, the question again and its answer; hang-up. */
export async function goOn(scene: CrashScene, run: CrashRun): Promise<TakeOver> {
  const { product } = scene;
  const { phone, callId } = run;
  const spokenSince = () =>
    product.providers.tts.spoken().filter((c) => (c.firstAudioAt ?? 0) >= run.sorryAudioAt);
  const recap = await until('the recap', () =>
    spokenSince().find((c) => c.text.includes('You were asking about your bill') && c.finalAt),
  );
  // The recap came from the conversation so far: the resumed agent's LLM request.
  const recapRequest = product.providers.llm
    .requests()
    .find(
      (r) =>
        r.at >= run.killedAt && r.reply !== undefined && JSON.stringify(r.body).includes('cut off'),
    );
  await played(recap);
  // The call goes on: the caller asks again and hears the answer, from the new job.
  await phone.play(scene.wavs.again, 100);
  const answer = await until(
    'the answer to the question asked again',
    () => spokenSince().find((c) => c.text.includes('three invoices') && c.finalAt),
    30_000,
  );
  await played(answer);
  const taker = await waitForJob(product, callId, scene.workers);

  await phone.hangup();
  await until(
    'call.summary',
    () => product.callEvents(callId).find((e) => e.type === 'call.summary'),
    20_000,
  );
  await phone.stop(); // closes the recordings
  const { heard } = phone.recordings().at(-1)!;
  return {
    speech: speechIn(heard),
    taker,
    recapRequest: JSON.stringify(recapRequest?.body.messages),
    events: product.callEvents(callId),
  };
}

/**
 * Throws at the first sign the take-over was not the one designed: the recap without the
 * caller's question, the same process, not one `call.resumed` detected by the lease, not one
 * summary of the whole call ended by the caller with both questions.
 */
export function checkTakeOver(run: CrashRun, t: TakeOver): void {
  check(
    t.recapRequest.includes(QUESTION),
    `the recap request lacks the question: ${t.recapRequest}`,
  );
  check(t.taker.pid !== run.victim.pid, `the killed process ${run.victim.pid} still runs the call`);
  const resumed = t.events.filter((e) => e.type === 'call.resumed');
  const r = resumed[0]?.data;
  check(
    resumed.length === 1 &&
      r?.attempt === 1 &&
      r.agent === 'receptionist' &&
      r.detectedBy === 'lease',
    `call.resumed: ${JSON.stringify(resumed.map((e) => e.data))}`,
  );
  const summaries = t.events.filter((e) => e.type === 'call.summary');
  const s = summaries[0]?.data;
  check(
    summaries.length === 1 && s?.outcome === 'completed' && s.endedBy === 'caller',
    `call.summary: ${summaries.length} of them, the first ${JSON.stringify({ outcome: s?.outcome, endedBy: s?.endedBy })}`,
  );
  // One summary, of the whole call: the caller's two questions.
  const said = (s.transcript as Array<{ role: string; text: string }>)
    .filter((l) => l.role === 'caller')
    .map((l) => l.text);
  check(
    JSON.stringify(said) === JSON.stringify([QUESTION, AGAIN]),
    `the caller's lines in call.summary: ${JSON.stringify(said)}`,
  );
}

/**
 * The dead air the caller heard (s): from the end of the answer that was cut off to the start of
 * the apology. Wall-clock instants are placed in the recording by the greeting (its first speech
 * there is its first audio from the TTS, plus the same way through room and bridge as later).
 * Throws when the recording does not show that (no apology near where the TTS sent it, no answer
 * playing when the process died).
 */
export function deadAir(run: CrashRun, speech: Segment[]): number {
  const greeting = speech[0];
  check(greeting !== undefined, 'the caller heard nothing');
  const inRecording = (at: number) => greeting.start + (at - run.greetingAudioAt) / 1000;
  const killedInRecording = inRecording(run.killedAt);
  const around = deadAirAround(speech, killedInRecording);
  check(around !== undefined, `no speech around the kill: ${JSON.stringify(speech)}`);
  const { gap, before, after } = around;
  // `after` is the apology: it starts when the TTS sent it (+ the way through room and bridge).
  check(
    Math.abs(after.start - inRecording(run.sorryAudioAt)) < 0.6,
    `the speech after the kill (${after.start.toFixed(2)} s) is not the apology (sent at ` +
      `${inRecording(run.sorryAudioAt).toFixed(2)} s): ${JSON.stringify(speech)}`,
  );
  // `before` is the answer, cut off: it was still playing when the process died.
  check(
    before.end > killedInRecording - 1,
    `the answer ended at ${before.end.toFixed(2)} s, before the kill at ${killedInRecording.toFixed(2)} s`,
  );
  console.log(
    `killed at ${killedInRecording.toFixed(2)} s: answer heard until ${before.end.toFixed(2)} s, ` +
      `"${SORRY}" from ${after.start.toFixed(2)} s: dead air ${gap.toFixed(2)} s`,
  );
  return gap;
}
