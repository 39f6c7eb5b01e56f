/**
 * The soft-ack filter on the agent's STT event stream: which events reach the framework (and so
 * can stop the agent or make a user turn) while the agent speaks and while it is silent, when it
 * interrupts the agent, where one utterance ends (a final, or the STT's end of speech when no
 * final came), and what it records. The agent's speech is a stand-in tracker, so each case says
 * exactly whether the agent was speaking when the caller's utterance began.
 */
import { ReadableStream } from 'node:stream/web';
import { stt } from '@livekit/agents';
import { describe, expect, it } from 'vitest';
import type { AgentSpeechTracker } from '../src/telephony/interruption/agent-speech.js';
import {
  defaultSoftAckOptions,
  normalize,
  type SoftAckOptions,
} from '../src/telephony/interruption/index.js';
import {
  type DecisionRecord,
  softAckFilter,
  transcriptOf,
} from '../src/telephony/interruption/soft-ack-filter.js';

type Ev = stt.SpeechEvent | string;
const { SpeechEventType: T } = stt;

const speech = (type: stt.SpeechEventType, text: string, confidence = 0.95): stt.SpeechEvent => ({
  type,
  alternatives: [
    { language: 'en-US' as stt.SpeechData['language'], text, startTime: 0, endTime: 0, confidence },
  ],
});
const interim = (text: string, confidence?: number) =>
  speech(T.INTERIM_TRANSCRIPT, text, confidence);
const final = (text: string, confidence?: number) => speech(T.FINAL_TRANSCRIPT, text, confidence);
const START: stt.SpeechEvent = { type: T.START_OF_SPEECH };
const END: stt.SpeechEvent = { type: T.END_OF_SPEECH };

/** The agent's side as the filter sees it: speaking at each utterance's onset or not. */
class FakeTracker {
  /** One answer per utterance onset, in order; the last one repeats. */
  constructor(
    private readonly speakingAtOnsets: boolean[],
    private readonly agentText = '',
  ) {}
  onsets: Array<{ graceMs: number; now: number }> = [];
  interrupts = 0;
  speakingAtOnset(graceMs: number, now: number): boolean {
    this.onsets.push({ graceMs, now });
    const i = Math.min(this.onsets.length - 1, this.speakingAtOnsets.length - 1);
    return this.speakingAtOnsets[i]!;
  }
  recentTokens(): string[] {
    return normalize(this.agentText);
  }
  interrupt(): boolean {
    this.interrupts++;
    return true;
  }
}

async function filter(
  events: Ev[],
  tracker: FakeTracker,
  options: SoftAckOptions = defaultSoftAckOptions,
): Promise<{ out: Ev[]; decisions: DecisionRecord[] }> {
  const decisions: DecisionRecord[] = [];
  const source = new ReadableStream<Ev>({
    start(controller) {
      for (const e of events) controller.enqueue(e);
      controller.close();
    },
  });
  const filtered = softAckFilter(source, tracker as unknown as AgentSpeechTracker, options, (r) =>
    decisions.push(r),
  );
  const out: Ev[] = [];
  for await (const e of filtered) out.push(e);
  return { out, decisions };
}

describe('while the agent is silent', () => {
  it('passes every event, a bare "yeah" included (after a question it is an answer)', async () => {
    const events = [START, interim('yeah'), final('yeah'), END];
    const tracker = new FakeTracker([false]);
    const { out, decisions } = await filter(events, tracker);
    expect(out).toEqual(events);
    expect(tracker.interrupts).toBe(0);
    expect(decisions.map((d) => [d.text, d.final, d.overAgent, d.decision])).toEqual([
      ['yeah', false, false, 'pass'],
      ['yeah', true, false, 'pass'],
    ]);
    expect(decisions[0]!.reason).toBeUndefined();
  });

  it('records no decision for an empty transcript, but still passes it', async () => {
    const { out, decisions } = await filter([interim(''), final('')], new FakeTracker([false]));
    expect(out).toHaveLength(2);
    expect(decisions).toEqual([]);
  });

  it('asks whether the agent spoke at the utterance’s onset, with the grace and the time', async () => {
    const tracker = new FakeTracker([false]);
    const before = Date.now();
    const { decisions } = await filter([interim('hi'), final('hi there')], tracker, {
      ...defaultSoftAckOptions,
      onsetGraceMs: 321,
    });
    // once per utterance, not per transcript
    expect(tracker.onsets).toHaveLength(1);
    expect(tracker.onsets[0]!.graceMs).toBe(321);
    expect(tracker.onsets[0]!.now).toBeGreaterThanOrEqual(before);
    expect(tracker.onsets[0]!.now).toBeLessThanOrEqual(Date.now());
    expect(decisions[0]!.at).toBe(tracker.onsets[0]!.now);
  });
});

describe('while the agent speaks', () => {
  it('drops a backchannel’s interims and final: the framework never sees the words', async () => {
    const tracker = new FakeTracker([true]);
    const { out, decisions } = await filter(
      [START, interim('uh'), interim('uh huh'), final('Uh-huh.'), END],
      tracker,
    );
    expect(out).toEqual([START, END]);
    expect(tracker.interrupts).toBe(0);
    expect(decisions.map((d) => [d.text, d.overAgent, d.decision, d.reason])).toEqual([
      ['uh', true, 'ignore', 'backchannel'],
      ['uh huh', true, 'ignore', 'backchannel'],
      ['Uh-huh.', true, 'ignore', 'backchannel'],
    ]);
  });

  it('stops the agent once, on the first interim with a command, and lets the rest through', async () => {
    const tracker = new FakeTracker([true]);
    const events = [
      START,
      interim('yeah'),
      interim('yeah but'),
      interim('yeah but wait'),
      final('Yeah, but wait.'),
      END,
    ];
    const { out, decisions } = await filter(events, tracker);
    expect(out).toEqual([START, events[2], events[3], events[4], END]);
    expect(tracker.interrupts).toBe(1);
    expect(decisions.map((d) => [d.text, d.decision, d.command])).toEqual([
      ['yeah', 'ignore', undefined],
      ['yeah but', 'interrupt', 'but'],
      ['yeah but wait', 'pass', undefined],
      ['Yeah, but wait.', 'pass', undefined],
    ]);
    // after the interruption the words are the caller's turn: still heard over the agent
    expect(decisions.every((d) => d.overAgent)).toBe(true);
  });

  it('holds an undecided interim back, then lets real speech through', async () => {
    const tracker = new FakeTracker([true]);
    const { out, decisions } = await filter(
      [interim('i'), interim('i need'), final('I need a refund.')],
      tracker,
    );
    expect(decisions.map((d) => [d.decision, d.reason])).toEqual([
      ['undecided', 'partial'],
      ['interrupt', 'speech'],
      ['pass', undefined],
    ]);
    expect(out.map((e) => transcriptOf(e)?.text)).toEqual(['i need', 'I need a refund.']);
    expect(tracker.interrupts).toBe(1);
  });

  it('hears the agent’s own words coming back as echo, from the tracker’s recent words', async () => {
    const tracker = new FakeTracker(
      [true],
      'Your order ships on Monday, please wait for the email',
    );
    const { out, decisions } = await filter([final('please wait for the')], tracker);
    expect(out).toEqual([]);
    expect(decisions[0]).toMatchObject({ decision: 'ignore', reason: 'echo' });
  });

  it('ignores words the STT is unsure of (a cough heard as "wait"), by the options’ threshold', async () => {
    const tracker = new FakeTracker([true]);
    const quiet = await filter([interim('wait', 0.2), final('wait', 0.39)], tracker);
    expect(quiet.out).toEqual([]);
    expect(quiet.decisions.map((d) => d.reason)).toEqual(['low-confidence', 'low-confidence']);
    expect(tracker.interrupts).toBe(0);

    const sure = await filter([interim('wait', 0.4)], tracker);
    expect(sure.decisions[0]).toMatchObject({ decision: 'interrupt', command: 'wait' });

    const strict = await filter([interim('wait', 0.6)], new FakeTracker([true]), {
      ...defaultSoftAckOptions,
      minConfidence: 0.7,
    });
    expect(strict.decisions[0]).toMatchObject({ decision: 'ignore', reason: 'low-confidence' });
  });

  it('treats a plain string from the STT node as a final transcript', async () => {
    const tracker = new FakeTracker([true]);
    const { out, decisions } = await filter(['okay', 'stop'], tracker);
    expect(out).toEqual(['stop']);
    expect(decisions.map((d) => [d.text, d.final, d.decision])).toEqual([
      ['okay', true, 'ignore'],
      ['stop', true, 'interrupt'],
    ]);
  });

  it('reads preflight transcripts as interims', async () => {
    const tracker = new FakeTracker([true]);
    const { decisions } = await filter([speech(T.PREFLIGHT_TRANSCRIPT, 'got')], tracker);
    expect(decisions[0]).toMatchObject({ final: false, decision: 'undecided' });
  });
});

describe('where an utterance ends', () => {
  it('a final closes it: the next utterance is judged again at its own onset', async () => {
    // "wait" over the agent interrupts; the agent has stopped when "okay" begins: it passes.
    const tracker = new FakeTracker([true, false]);
    const { out, decisions } = await filter(
      [final('wait'), interim('okay'), final('okay')],
      tracker,
    );
    expect(tracker.onsets).toHaveLength(2);
    expect(out).toHaveLength(3);
    expect(decisions.map((d) => [d.overAgent, d.decision])).toEqual([
      [true, 'interrupt'],
      [false, 'pass'],
      [false, 'pass'],
    ]);
  });

  it('a final closes an interrupted utterance: a backchannel after it is filtered again', async () => {
    const tracker = new FakeTracker([true]);
    const { out, decisions } = await filter([final('wait'), final('uh huh')], tracker);
    expect(out.map((e) => transcriptOf(e)?.text)).toEqual(['wait']);
    expect(decisions.map((d) => d.decision)).toEqual(['interrupt', 'ignore']);
  });

  it('the STT’s end of speech closes an utterance whose final never came', async () => {
    // An interim "wait" stops the agent; the STT ends the speech without a final. The agent
    // speaks again; the caller's next "uh huh" is a new utterance over it, and is dropped.
    const tracker = new FakeTracker([true]);
    const { out, decisions } = await filter(
      [START, interim('wait'), END, START, interim('uh huh'), final('uh huh'), END],
      tracker,
    );
    expect(tracker.onsets).toHaveLength(2);
    expect(out.map((e) => (typeof e === 'string' ? e : (transcriptOf(e)?.text ?? e.type)))).toEqual(
      [T.START_OF_SPEECH, 'wait', T.END_OF_SPEECH, T.START_OF_SPEECH, T.END_OF_SPEECH],
    );
    expect(decisions.map((d) => d.decision)).toEqual(['interrupt', 'ignore', 'ignore']);
  });

  it('other STT events (start of speech, usage) neither close an utterance nor are dropped', async () => {
    const tracker = new FakeTracker([true]);
    const usage: stt.SpeechEvent = { type: T.RECOGNITION_USAGE };
    const { out, decisions } = await filter(
      [interim('wait'), START, usage, interim('wait there')],
      tracker,
    );
    expect(tracker.onsets).toHaveLength(1);
    expect(out).toHaveLength(4);
    expect(decisions.map((d) => d.decision)).toEqual(['interrupt', 'pass']);
  });
});

describe('reading a transcript out of an STT event', () => {
  it('takes the first alternative’s text, finality and confidence', () => {
    expect(transcriptOf(final('Hello.', 0.8))).toEqual({
      text: 'Hello.',
      final: true,
      confidence: 0.8,
    });
    expect(transcriptOf(interim('hel', 0.5))).toEqual({
      text: 'hel',
      final: false,
      confidence: 0.5,
    });
    expect(transcriptOf('typed')).toEqual({ text: 'typed', final: true });
  });

  it('has no confidence when the STT gave none, and no text without an alternative', () => {
    const noConfidence = {
      type: T.FINAL_TRANSCRIPT,
      alternatives: [{ language: 'en', text: 'x', startTime: 0, endTime: 0 }],
    } as unknown as stt.SpeechEvent;
    expect(transcriptOf(noConfidence)).toEqual({ text: 'x', final: true });
    expect(transcriptOf({ type: T.FINAL_TRANSCRIPT })).toEqual({ text: '', final: true });
    expect(transcriptOf({ type: T.INTERIM_TRANSCRIPT })).toEqual({ text: '', final: false });
  });

  it('is nothing for events that carry no transcript', () => {
    for (const type of [T.START_OF_SPEECH, T.END_OF_SPEECH, T.RECOGNITION_USAGE]) {
      expect(transcriptOf({ type })).toBeUndefined();
    }
  });
});
