/**
 * The simulated line's agent side wakes only when queued audio runs out, not on a fixed tick:
 * these cases pin what the eval and the simulator read from it (when audio started, stopped
 * and finished) across interruptions, pauses and slow producers.
 *
 * The clock is wall time, so a loaded machine makes every timer late. The checks read the times
 * the output itself records (computed from the audio played, not from when a timer fired) or
 * the order of events against a timer of our own, never "how much wall time passed".
 */
import { initializeLogger, voice } from '@livekit/agents';
import { AudioFrame } from '@livekit/rtc-node';
import { beforeAll, describe, expect, it } from 'vitest';
import { SimAudioOutput } from '../src/sim/audio-output.js';
import { SimClock } from '../src/sim/clock.js';

const RATE = 16000;

beforeAll(() => initializeLogger({ pretty: false, level: 'error' }));

/** `ms` of a 440 Hz tone in 20 ms frames. */
function frames(ms: number): AudioFrame[] {
  const out: AudioFrame[] = [];
  for (let t = 0; t < ms; t += 20) {
    const data = new Int16Array((RATE * 20) / 1000);
    for (let i = 0; i < data.length; i++) data[i] = Math.round(8000 * Math.sin(i / 5));
    out.push(new AudioFrame(data, RATE, 1, data.length));
  }
  return out;
}

async function play(output: SimAudioOutput, ms: number, flush = true): Promise<void> {
  for (const f of frames(ms)) await output.captureFrame(f);
  if (flush) output.flush();
}

function finished(output: SimAudioOutput): Promise<voice.PlaybackFinishedEvent> {
  return new Promise((resolve) =>
    output.once(voice.AudioOutput.EVENT_PLAYBACK_FINISHED, (ev: voice.PlaybackFinishedEvent) =>
      resolve(ev),
    ),
  );
}

/** Which came first: `event`, or a timer of ours expiring at timeline instant `atMs`. */
async function before(event: Promise<unknown>, clock: SimClock, atMs: number) {
  const timer = new Promise<'timer'>((resolve) =>
    setTimeout(() => resolve('timer'), Math.max(0, atMs - clock.now())),
  );
  return Promise.race([event.then(() => 'event' as const), timer]);
}

function setUp() {
  const clock = new SimClock();
  clock.start();
  return { clock, output: new SimAudioOutput({ clock }) };
}

describe('sim audio output', () => {
  it('playback-finishes-when-the-audio-has-played', async () => {
    const { clock, output } = setUp();
    const done = finished(output);
    const queuedAt = clock.now();
    await play(output, 400);
    // Reported at once, not a tick later: before a timer of ours set 30 ms past the audio's end
    // (timers fire in the order they expire, however late the loop runs them).
    expect(await before(done, clock, queuedAt + 430)).toBe('event');
    const ev = await done;
    const start = output.events.find((e) => e.kind === 'start')!;
    expect(start.atMs - queuedAt).toBeLessThan(30);
    expect(ev.interrupted).toBe(false);
    expect(ev.playbackPosition).toBeCloseTo(0.4, 2);
    const finish = output.events.find((e) => e.kind === 'finish')!;
    expect(finish.atMs - start.atMs).toBeCloseTo(400, 0);
    output.close();
  });

  it('reply-after-interruption-starts-at-once', async () => {
    const { clock, output } = setUp();
    await play(output, 3000);
    await clock.sleepUntil(300);
    output.clearBuffer();
    const cleared = output.events.find((e) => e.kind === 'clear')!;
    expect(cleared.positionMs).toBeGreaterThan(250);
    expect(cleared.positionMs).toBeLessThan(400);

    // The next reply must not wait for the end of the audio that was dropped.
    const done = finished(output);
    const second = clock.now();
    await play(output, 200);
    await done;
    const starts = output.events.filter((e) => e.kind === 'start');
    expect(starts).toHaveLength(2);
    // It starts when it is queued (the output records the instant from the audio it played),
    // and plays for its own 200 ms, not for what was left of the dropped 3 s.
    expect(starts[1]!.atMs - second).toBeLessThan(40);
    const finish = output.events.filter((e) => e.kind === 'finish').at(-1)!;
    expect(finish.atMs - starts[1]!.atMs).toBeCloseTo(200, 0);
    output.close();
  });

  it('pause-holds-the-position-and-resume-plays-the-rest', async () => {
    const { clock, output } = setUp();
    const done = finished(output);
    await play(output, 400);
    await clock.sleepUntil(100);
    output.pause();
    const paused = output.events.find((e) => e.kind === 'pause')!;
    await clock.sleepUntil(600);
    expect(output.playing).toBe(false);
    expect(output.events.some((e) => e.kind === 'finish')).toBe(false);
    output.resume();
    expect(output.playing).toBe(true);
    const ev = await done;
    expect(ev.interrupted).toBe(false);
    // Paused at `positionMs` for as long as the test waited, then the rest of the 400 ms.
    const resumed = output.events.find((e) => e.kind === 'resume')!;
    expect(resumed.positionMs).toBe(paused.positionMs);
    expect(resumed.atMs - paused.atMs).toBeGreaterThanOrEqual(490);
    const finish = output.events.find((e) => e.kind === 'finish')!;
    expect(finish.atMs - resumed.atMs).toBeCloseTo(400 - paused.positionMs, 0);
    output.close();
  });

  it('slow-producer-underrun-is-not-counted-as-played', async () => {
    const { clock, output } = setUp();
    const done = finished(output);
    await play(output, 100, false);
    await clock.sleepUntil(400); // nothing queued for ~300 ms
    expect(output.playing).toBe(false);
    await play(output, 100);
    await done;
    // 200 ms of audio: the second half starts when it arrives, so the segment ends near 500.
    const finish = output.events.find((e) => e.kind === 'finish')!;
    expect(finish.positionMs).toBeCloseTo(200, 0);
    expect(finish.atMs).toBeGreaterThan(480);
    output.close();
  });
});
