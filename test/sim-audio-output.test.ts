/**
 * The simulated line's agent side wakes only when queued audio runs out, not on a fixed tick:
 * these cases pin what the eval and the simulator read from it (when audio started, stopped
 * and finished) across interruptions, pauses and slow producers.
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

function setUp() {
  const clock = new SimClock();
  clock.start();
  return { clock, output: new SimAudioOutput({ clock }) };
}

describe('sim audio output', () => {
  it('playback-finishes-when-the-audio-has-played', async () => {
    const { clock, output } = setUp();
    const done = finished(output);
    await play(output, 400);
    const ev = await done;
    expect(ev.interrupted).toBe(false);
    expect(ev.playbackPosition).toBeCloseTo(0.4, 2);
    const finish = output.events.find((e) => e.kind === 'finish')!;
    expect(finish.atMs).toBeGreaterThanOrEqual(395);
    // Reported at once, not a tick later.
    expect(clock.now() - finish.atMs).toBeLessThan(40);
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
    expect(starts[1]!.atMs - second).toBeLessThan(40);
    expect(clock.now() - second).toBeLessThan(400);
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
    // 400 ms of audio with a 500 ms pause after ~100 ms: finished near 900 ms.
    const finish = output.events.find((e) => e.kind === 'finish')!;
    expect(finish.atMs - paused.atMs).toBeGreaterThan(780);
    expect(finish.atMs).toBeLessThan(1000);
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
