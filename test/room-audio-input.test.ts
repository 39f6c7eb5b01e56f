/**
 * The caller's room audio input on a real (unconnected) rtc-node Room. No LiveKit server runs
 * here, so no track can be subscribed: what runs for real is the life cycle around one — the
 * room's track events are followed while the input lives and released on close, the session
 * reads nothing while the caller has no microphone, and the call's noise processor (owned by
 * the input) is closed with it.
 */
import { initializeLogger } from '@livekit/agents';
import { Room, RoomEvent } from '@livekit/rtc-node';
import { beforeAll, describe, expect, it } from 'vitest';
import { NoiseSuppressionProcessor } from '../src/telephony/noise/frame-processor.js';
import { passThroughFactory } from '../src/telephony/noise/suppressor.js';
import { RoomAudioInput } from '../src/worker/room-audio-input.js';

const TRACK_EVENTS = [
  RoomEvent.TrackSubscribed,
  RoomEvent.TrackUnsubscribed,
  RoomEvent.TrackUnpublished,
] as const;

beforeAll(() => initializeLogger({ pretty: false, level: 'error' }));

const listeners = (room: Room) => TRACK_EVENTS.map((event) => room.listenerCount(event));

describe('room audio input before the caller has a microphone', () => {
  it('follows the room’s track events while open and releases them on close', async () => {
    const room = new Room();
    const input = new RoomAudioInput({
      room,
      participantIdentity: 'sip_caller',
      sampleRate: 8000,
      frameSizeMs: 20,
    });
    expect(listeners(room)).toEqual([1, 1, 1]);

    await input.close();
    expect(listeners(room)).toEqual([0, 0, 0]);
    await input.close(); // a second close (session Close after a failed start) is harmless
    expect(listeners(room)).toEqual([0, 0, 0]);
  });

  it('gives the session no audio, and ends its stream on close', async () => {
    const room = new Room();
    const input = new RoomAudioInput({
      room,
      participantIdentity: 'sip_caller',
      sampleRate: 8000,
      frameSizeMs: 20,
    });
    const reader = input.stream.getReader();
    const first = reader.read();
    input.setAttached(false);
    input.setAttached(true);
    const pending = Symbol('pending');
    expect(await Promise.race([first, delay(50).then(() => pending)])).toBe(pending);

    await input.close();
    expect(await first).toEqual({ done: true, value: undefined });
  });

  it('closes the call’s noise processor it was given, not before', async () => {
    const room = new Room();
    const processor = new NoiseSuppressionProcessor(passThroughFactory);
    const input = new RoomAudioInput({
      room,
      participantIdentity: 'sip_caller',
      sampleRate: 8000,
      frameSizeMs: 20,
      noiseCancellation: processor,
    });
    expect(processor.isEnabled()).toBe(true);

    await input.close();
    expect(processor.isEnabled()).toBe(false);
  });

  it('takes LiveKit Cloud filter options (nothing of ours to close)', async () => {
    const room = new Room();
    const input = new RoomAudioInput({
      room,
      participantIdentity: 'sip_caller',
      sampleRate: 8000,
      frameSizeMs: 20,
      noiseCancellation: { moduleId: 'lk.bvc', options: {} },
    });
    await expect(input.close()).resolves.toBeUndefined();
    expect(listeners(room)).toEqual([0, 0, 0]);
  });
});

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
