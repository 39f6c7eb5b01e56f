/**
 * The soft-ack filter over the real path (phone → SIP bridge → LiveKit → worker → back): while
 * the agent gives a long answer (~12 s of speech), the caller says "uh huh" about 3 s in and the
 * agent keeps talking without a gap; about 7 s in the caller says "wait" and the agent stops,
 * acting on the STT's first words. The target from the caller's first sound to silence on the
 * line is 700 ms; measured here 0.77–0.91 s (the way through bridge, LiveKit and the STT's
 * first words takes most of it: see the breakdown the test prints), so it is bounded at 1.2 s.
 *
 * Measured on the phone's line: the RTP between phone and bridge in a packet capture of the
 * stack's namespace, every packet with its own time (support/wire.ts), then checked again on
 * the phone's own recordings of what it sent and heard. Those are not one clock: baresip starts
 * the heard track at the first packet it decodes and it drifts as its jitter buffer drops
 * packets, so they are aligned at their common end (stack/phone-audio.ts) and only hold ±0.5 s.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../../stack/netns.js';
import { alignRecordings } from '../../stack/phone-audio.js';
import type { Phone } from '../../stack/phones.js';
import { type Product, startProduct } from '../../stack/product.js';
import { agentsOfFile } from '../../stack/providers/index.js';
import { callerWav, primeTtsStandIn, type Segment, until } from './support/audio.js';
import { type WireSegment, wireSpeech } from './support/wire.js';

const AGENTS_FILE = join(REPO_ROOT, 'test/e2e/fixtures/agents-routing.yaml');
const NUMBER = '+15550100000';
const CALLER = '+15550000001';
const GREETING = 'Thanks for calling Acme Home Internet, this is Ava. How can I help you today?';
const QUESTION = 'I have a question about my bill';
const LONG_REPLY =
  'Of course. Your monthly plan is forty nine dollars. On top of that there is a one time ' +
  'installation fee of twenty dollars, and a small rental charge for the router, which is ' +
  'five dollars a month. Taxes and regulatory fees come to about six dollars, so your total ' +
  'for this month is eighty dollars, and next month it will be fifty four dollars.';
const AFTER_WAIT = 'Yes? What would you like to know?';

let product: Product;
let phone: Phone;
let wav: { question: string; uhHuh: string; wait: string };

beforeAll(async () => {
  product = await startProduct({ agentsFile: AGENTS_FILE, capture: true });
  const dir = product.stack.logsDir;
  wav = {
    question: join(dir, 'caller-question.wav'),
    uhHuh: join(dir, 'caller-uh-huh.wav'),
    wait: join(dir, 'caller-wait.wav'),
  };
  await callerWav(wav.question, [{ at: 0.2, text: QUESTION }]);
  await callerWav(wav.uhHuh, [{ at: 0.2, text: 'uh huh' }]);
  await callerWav(wav.wait, [{ at: 0.2, text: 'wait' }]);
  product.providers.stt.setScript([QUESTION, 'uh huh', 'wait']);
  product.providers.llm.setRules(
    [
      { match: 'wait', reply: AFTER_WAIT },
      { match: 'bill', reply: LONG_REPLY },
    ],
    agentsOfFile(AGENTS_FILE),
  );
  await primeTtsStandIn(product.providers.tts, [GREETING, AFTER_WAIT]);
}, 180_000);

afterAll(async () => {
  await product?.stop();
});

/** Silences longer than `min` between `from` and `to` in a list of speech segments (any unit). */
function gapsIn(speech: Segment[], from: number, to: number, min: number): Segment[] {
  const inside = speech.filter((s) => s.end > from && s.start < to);
  const gaps: Segment[] = [];
  for (let i = 1; i < inside.length; i++) {
    const gap = { start: inside[i - 1]!.end, end: inside[i]!.start };
    if (gap.end - gap.start > min) gaps.push(gap);
  }
  return gaps;
}

describe('soft-ack over the real SIP path: "uh huh" does not stop the agent, "wait" does', () => {
  let callId = '';
  let answeredAt = 0;
  let replyStartedAt = 0;

  it('the caller asks a question that gets a long answer', async () => {
    await product.routeNumber(NUMBER, 'receptionist');
    phone = await product.phone({ user: CALLER, micSeconds: 300 });
    const dialedAt = Date.now();
    await phone.dial(product.stack.sipUri(NUMBER));
    answeredAt = (await phone.waitForEvent('CALL_ESTABLISHED', { since: dialedAt })).at;
    const calls = await until('the call in GET /v1/calls', async () => {
      const r = await product.api('GET', '/v1/calls');
      return r.body?.calls?.length ? r.body.calls : undefined;
    });
    callId = calls[0].id;
    const greeting = await until('the greeting spoken', () =>
      product.providers.tts
        .spoken()
        .find((c) => c.text.includes('Acme Home Internet') && c.finalAt),
    );
    await until('the greeting played', () =>
      Date.now() > (greeting.firstAudioAt ?? 0) + greeting.audioMs + 800 ? true : undefined,
    );
    await phone.play(wav.question);
    const reply = await until(
      'the long reply starting',
      () =>
        product.providers.tts
          .spoken()
          .find((c) => c.text.includes('monthly plan') && c.firstAudioAt),
      30_000,
    );
    replyStartedAt = reply.firstAudioAt!;
  });

  it('"uh huh" 3 s into the answer, "wait" 7 s in', async () => {
    await until('3 s into the answer', () =>
      Date.now() >= replyStartedAt + 3000 ? true : undefined,
    );
    await phone.play(wav.uhHuh);
    await until('7 s into the answer', () =>
      Date.now() >= replyStartedAt + 7000 ? true : undefined,
    );
    await phone.play(wav.wait);
    const afterWait = await until(
      'the answer to "wait"',
      () =>
        product.providers.tts
          .spoken()
          .find((c) => c.text.includes('What would you like') && c.finalAt),
      20_000,
    );
    await until('it played', () =>
      Date.now() > (afterWait.firstAudioAt ?? 0) + afterWait.audioMs + 800 ? true : undefined,
    );
    const heard = product.providers.stt.heard().map((h) => h.transcript);
    expect(heard).toEqual([QUESTION, 'uh huh', 'wait']);
  });

  it('the call summary counts the backchannel as ignored and one interruption', async () => {
    await phone.hangup();
    const summary = await until('call.summary', () =>
      product.callEvents(callId).find((e) => e.type === 'call.summary'),
    );
    console.log(`summary metrics: ${JSON.stringify(summary.data.metrics)}`);
    expect(summary.data.metrics.backchannelsIgnored).toBeGreaterThanOrEqual(1);
    expect(summary.data.metrics.interruptions).toBe(1);
    expect(summary.data.metrics.falseInterruptions).toBe(0);
    const callerLines = (summary.data.transcript as Array<{ role: string; text: string }>)
      .filter((l) => l.role === 'caller')
      .map((l) => l.text);
    // "uh huh" never became a turn; "wait" did.
    expect(callerLines).toEqual([QUESTION, 'wait']);
  });

  it('on the phone\'s line: the answer went on through "uh huh" and stopped soon after "wait"', async () => {
    await phone.stop();
    const wire = await wireSpeech(join(product.stack.logsDir, 'namespace.pcapng'), [
      phone.port + 4,
      phone.port + 23,
    ]);
    const rel = (segs: WireSegment[]) =>
      segs.map((x) => [Math.round(x.start - answeredAt), Math.round(x.end - answeredAt)]);
    console.log(`on the wire, ms since the answer: caller ${JSON.stringify(rel(wire.fromPhone))}`);
    console.log(`on the wire, ms since the answer: agent ${JSON.stringify(rel(wire.toPhone))}`);
    // The caller's three utterances, in order: question, "uh huh", "wait".
    expect(wire.fromPhone).toHaveLength(3);
    const [question, uhHuh, wait] = wire.fromPhone as [WireSegment, WireSegment, WireSegment];

    // Turn latency on the line: the end of the question → the first sound of the answer.
    const answer = wire.toPhone.find((x) => x.start > question.end)!;
    console.log(`turn latency on the phone's line: ${Math.round(answer.start - question.end)} ms`);
    // (A bound for "it answered", not a latency target: on the shared 2-core machine the
    // end-of-turn model alone may take up to its 2.5 s maximum delay.)
    expect(answer.start - question.end).toBeLessThan(4500);

    // The answer was under way before "uh huh" and still going a second after it, without a
    // pause longer than a sentence break (eSpeak: ~0.4 s).
    expect(answer.start).toBeLessThan(uhHuh.start - 1000);
    expect(gapsIn(wire.toPhone, answer.start, uhHuh.end + 1500, 600)).toEqual([]);
    expect(wire.toPhone.some((x) => x.start <= uhHuh.end + 1000 && x.end >= uhHuh.end + 1000)).toBe(
      true,
    );

    // "wait": the agent's audio on the line stops soon after the caller's first sound.
    const talking = wire.toPhone.find((x) => x.start < wait.start && x.end > wait.start);
    expect(talking, 'the agent was talking when the caller said "wait"').toBeDefined();
    const stopMs = Math.round(talking!.end - wait.start);
    console.log(
      `interruption latency on the phone's line ("wait" onset → agent silent): ${stopMs} ms (target 700 ms)`,
    );
    // Where the time went: to the STT (phone → bridge → LiveKit → worker → the Deepgram
    // plugin's 100 ms chunks → STT), the STT's first words (~250 ms of speech), the worker's
    // decision (soft-ack filter → session.interrupt → playout stopped), and back to the line.
    const waitAtStt = product.providers.stt.heard().find((h) => h.transcript === 'wait')!;
    const stopped = product
      .workerLog()
      .split('\n')
      .filter((l) => l.includes('playout completed with interrupt') && l.includes('monthly plan'))
      .map((l) => JSON.parse(l) as { time: number })[0];
    expect(stopped, 'the worker logged the interrupted answer').toBeDefined();
    const firstWordsAt = waitAtStt.firstInterimAt!;
    console.log(
      `  line → the STT's first words ${Math.round(firstWordsAt - wait.start)} ms (of which ~${product.providers.stt.options.firstInterimMs} ms of speech), → worker stopped playout ${stopped!.time - firstWordsAt} ms, → line silent ${Math.round(talking!.end - stopped!.time)} ms`,
    );
    // The worker acted on the first words ("wait" in the first interim), not on the final
    // transcript (which comes ~0.5 s later, after the endpointing silence).
    expect(stopped!.time - firstWordsAt).toBeLessThan(400);
    // On the line. The target is 700 ms; the real path measures 0.77–0.91 s on this shared
    // 2-core machine (transport ≈ 0.4–0.55 s of it), so this bounds what it holds under load.
    expect(stopMs).toBeLessThanOrEqual(1200);
    // And the long answer was cut: it would have gone on for seconds more.
    const replyMs = product.providers.tts
      .spoken()
      .find((c) => c.text.includes('monthly plan'))!.audioMs;
    expect(talking!.end).toBeLessThan(answer.start + replyMs - 2000);
  });

  it('the phone\'s recordings say the same: no gap at "uh huh", the answer cut after "wait"', () => {
    const { heard, sent } = phone.recordings().at(-1)!;
    // On the sent track's time line (aligned at their common end: stack/phone-audio.ts); the
    // heard track drifts against the wall clock (jitter buffer), so this is ±0.5 s.
    const rec = alignRecordings(heard, sent);
    const [, uhHuh, wait] = rec.sent as [Segment, Segment, Segment];
    const agent = rec.heardOnSentTime;
    console.log(`recordings: sent ${JSON.stringify(rec.sent)}, heard ${JSON.stringify(agent)}`);
    const answer = agent.find((x) => x.start < uhHuh.start && x.end > uhHuh.start - 1)!;
    expect(answer, 'the answer was playing when the caller said "uh huh"').toBeDefined();
    expect(gapsIn(agent, answer.start, uhHuh.end + 1.5, 0.6)).toEqual([]);
    const talking = agent.find((x) => x.start < wait.start && x.end > wait.start);
    expect(talking).toBeDefined();
    const stopMs = Math.round((talking!.end - wait.start) * 1000);
    console.log(`interruption latency in the phone's recordings (±0.5 s): ${stopMs} ms`);
    expect(stopMs).toBeLessThan(1500);
  });
});
