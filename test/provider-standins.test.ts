/**
 * The provider stand-ins (stack/providers) driven by the unmodified LiveKit plugins through their
 * base-URL options: Deepgram STT hears narrowband phone speech (eSpeak at 8 kHz, pink line noise,
 * one G.711 µ-law pass) and words the script over it; ElevenLabs TTS speaks real eSpeak audio with
 * alignment; the OpenAI-compatible LLM answers from ScriptedRule rules with tool calls. Each
 * stand-in's latency setting shows up in what the plugin sees.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { initializeLogger, llm, stt, tts } from '@livekit/agents';
import * as deepgram from '@livekit/agents-plugin-deepgram';
import * as elevenlabs from '@livekit/agents-plugin-elevenlabs';
import * as openai from '@livekit/agents-plugin-openai';
import { AudioFrame } from '@livekit/rtc-node';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { concat, readWav } from '../src/core/wav.js';
import { activeRms, addInto, clip16, mixNoise, noise } from '../src/sim/noise.js';
import { speak } from '../src/sim/offline-tts.js';
import type { ScriptedRule } from '../src/sim/scripted-llm.js';
import { mulawRoundTrip } from '../stack/providers/g711.js';
import {
  detectSegments,
  type ProviderStandIns,
  SpeechDetector,
  speechDetectorDefaults,
  startProviderStandIns,
} from '../stack/providers/index.js';
import { loadStandInScript } from '../stack/providers/script-file.js';
import { soundSpan } from '../stack/providers/speech-detector.js';

const SR = 8000;
const FIXTURES = new URL('./fixtures/', import.meta.url);

let s: ProviderStandIns;

beforeAll(async () => {
  initializeLogger({ pretty: false, level: 'error' });
  s = await startProviderStandIns();
  await speak('Warm up.', { sampleRate: SR }); // loads eSpeak once
});

afterAll(async () => {
  await s?.close();
});

beforeEach(() => {
  s.setLatency({ stt: 0, tts: 0, llm: 0 });
});

// ── phone audio ─────────────────────────────────────────────────────────────────────────────

type Part = { say: string; voice?: string } | { gapMs: number } | { clip: Int16Array };

interface PhoneAudio {
  samples: Int16Array;
  /** Where each spoken part's sound is (ms), from the clean signal. */
  truth: Array<{ onsetMs: number; offsetMs: number }>;
}

/** Speech and gaps at 8 kHz, pink line noise at `snrDb`, one µ-law pass. */
async function phoneAudio(parts: Part[], snrDb = 15, seed = 11): Promise<PhoneAudio> {
  const pieces: Int16Array[] = [];
  const truth: PhoneAudio['truth'] = [];
  const speech: Int16Array[] = [];
  let at = 0;
  for (const p of parts) {
    let piece: Int16Array;
    if ('gapMs' in p) piece = new Int16Array((p.gapMs * SR) / 1000);
    else if ('clip' in p) piece = p.clip;
    else {
      piece = (await speak(p.say, { sampleRate: SR, ...(p.voice ? { voice: p.voice } : {}) }))
        .samples;
      const span = soundSpan(piece);
      truth.push({
        onsetMs: ((at + span.first) * 1000) / SR,
        offsetMs: ((at + span.last) * 1000) / SR,
      });
      speech.push(piece);
    }
    pieces.push(piece);
    at += piece.length;
  }
  const track = new Int16Array(at);
  let o = 0;
  for (const p of pieces) {
    addInto(track, p, o);
    o += p.length;
  }
  const ref = speech.length ? activeRms(concat(speech), SR) : 3000;
  mixNoise(track, 'pink', snrDb, ref, seed);
  return { samples: mulawRoundTrip(track), truth };
}

function frames(samples: Int16Array, ms = 20): AudioFrame[] {
  const per = (SR * ms) / 1000;
  const out: AudioFrame[] = [];
  for (let i = 0; i < samples.length; i += per) {
    const chunk = samples.slice(i, i + per);
    out.push(new AudioFrame(chunk, SR, 1, chunk.length));
  }
  return out;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Received {
  ev: stt.SpeechEvent;
  /** performance-clock ms */
  at: number;
  /** Audio pushed when it arrived (ms). */
  audioMs: number;
}

function newStt(baseUrl = s.deepgramBaseUrl) {
  return new deepgram.STT({
    apiKey: 'test-key',
    baseUrl,
    model: 'nova-3',
    language: 'en-US',
    sampleRate: SR,
    numerals: true,
  });
}

/** Pushes `samples` (paced in real time unless `fast`), ends the input, returns every event. */
async function transcribe(
  samples: Int16Array,
  o: {
    fast?: boolean;
    baseUrl?: string;
    tailMs?: number;
    /** Called once when this much audio has been pushed (ms). */
    at?: { ms: number; run: (stream: deepgram.SpeechStream) => void };
  } = {},
): Promise<Received[]> {
  const engine = newStt(o.baseUrl);
  const stream = engine.stream();
  const got: Received[] = [];
  let pushedMs = 0;
  const reader = (async () => {
    for await (const ev of stream) {
      got.push({ ev, at: performance.now(), audioMs: pushedMs });
    }
  })();
  const start = performance.now();
  for (const f of frames(samples)) {
    stream.pushFrame(f);
    pushedMs += (f.samplesPerChannel * 1000) / SR;
    if (o.at && pushedMs >= o.at.ms) {
      o.at.run(stream);
      o.at = undefined;
    }
    if (!o.fast) {
      const wait = start + pushedMs - performance.now();
      if (wait > 0) await sleep(wait);
    }
  }
  // The plugin stops listening at the first message after CloseStream: let results arrive first.
  if (o.fast || o.tailMs) await sleep(o.tailMs ?? 300);
  stream.endInput();
  await Promise.race([reader, sleep(5000)]);
  stream.close();
  await engine.close();
  return got;
}

const E = stt.SpeechEventType;
const texts = (got: Received[], type: stt.SpeechEventType) =>
  got.filter((r) => r.ev.type === type).map((r) => r.ev.alternatives?.[0]?.text ?? '');

// ── speech detector on phone audio ──────────────────────────────────────────────────────────

describe('speech detector', () => {
  it('finds onset and end of espeak speech in G.711 line noise at 10–20 dB SNR', async () => {
    const sentences = [
      'I have a question about my bill.',
      'uh huh',
      'wait',
      'Yes, my account number is five five five.',
    ];
    const voices = ['en-us+f3', 'en-us+m3', 'en-us'];
    const onsetErr: number[] = [];
    const offsetErr: number[] = [];
    let wrongCount = 0;
    for (const snr of [20, 15, 10]) {
      for (const voice of voices) {
        for (const say of sentences) {
          const a = await phoneAudio(
            [{ gapMs: 1200 }, { say, voice }, { gapMs: 1500 }],
            snr,
            snr * 7,
          );
          const segs = detectSegments(a.samples, { sampleRate: SR });
          if (segs.length !== 1) {
            wrongCount++;
            continue;
          }
          onsetErr.push((segs[0]!.onsetSample * 1000) / SR - a.truth[0]!.onsetMs);
          offsetErr.push((segs[0]!.offsetSample * 1000) / SR - a.truth[0]!.offsetMs);
        }
      }
    }
    const q = (xs: number[], p: number) =>
      [...xs].sort((x, y) => x - y)[Math.floor(p * (xs.length - 1))]!;
    const abs = (xs: number[]) => xs.map(Math.abs);
    // One segment per utterance, onsets within ~a syllable's start, offsets within ~100 ms.
    expect(wrongCount).toBe(0);
    expect(q(abs(onsetErr), 0.5)).toBeLessThanOrEqual(20);
    expect(q(abs(onsetErr), 0.9)).toBeLessThanOrEqual(110);
    expect(q(abs(offsetErr), 0.5)).toBeLessThanOrEqual(40);
    expect(Math.max(...abs(offsetErr))).toBeLessThanOrEqual(120);
  });

  it('hears nothing in line noise, digital silence, a cough or a breath', async () => {
    const cough = readWav(new URL('cough-600.wav', FIXTURES).pathname).samples;
    const breath = readWav(new URL('breath-900.wav', FIXTURES).pathname).samples;
    for (const kind of ['pink', 'white', 'brown'] as const) {
      for (const dbfs of [-50, -35, -25]) {
        const n = noise(kind, 8 * SR, 5);
        const t = new Int16Array(n.length);
        for (let i = 0; i < n.length; i++) t[i] = clip16(n[i]! * 32768 * 10 ** (dbfs / 20));
        addInto(t, cough, 2 * SR);
        addInto(t, breath, 5 * SR);
        expect(detectSegments(mulawRoundTrip(t), { sampleRate: SR }), `${kind} ${dbfs}`).toEqual(
          [],
        );
      }
    }
    expect(detectSegments(new Int16Array(3 * SR), { sampleRate: SR })).toEqual([]);
  });

  it('keeps a short first word before a comma in the utterance ("Yes, ...")', async () => {
    const a = await phoneAudio(
      [
        { gapMs: 1000 },
        { say: 'Yes, my account number is five five five.', voice: 'en-us+m3' },
        { gapMs: 1200 },
      ],
      10,
    );
    const segs = detectSegments(a.samples, { sampleRate: SR });
    expect(segs).toHaveLength(1);
    expect(Math.abs((segs[0]!.onsetSample * 1000) / SR - a.truth[0]!.onsetMs)).toBeLessThan(100);
    const d = new SpeechDetector({ sampleRate: SR });
    expect(d.options.minSilenceMs).toBe(speechDetectorDefaults.minSilenceMs);
  });
});

// ── Deepgram ────────────────────────────────────────────────────────────────────────────────

describe('Deepgram stand-in with @livekit/agents-plugin-deepgram', () => {
  it('words the script over the speech it hears: interims during it, the final after its end', async () => {
    const a = await phoneAudio([
      { gapMs: 800 },
      { say: 'I have a question about my bill.' },
      { gapMs: 1200 },
      { say: 'uh huh', voice: 'en-us+m3' },
      { gapMs: 1300 },
    ]);
    // Set through the control endpoint, as an end-to-end test would.
    const r = await fetch(`${s.controlUrl}/stt/script`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ utterances: ['I have a question about my bill.', 'uh huh', 'wait'] }),
    });
    expect(r.status).toBe(200);
    const heardBefore = s.stt.heard().length;
    const got = await transcribe(a.samples);

    const kinds = got.map((g) => g.ev.type).filter((t) => t !== E.RECOGNITION_USAGE);
    expect(kinds[0]).toBe(E.START_OF_SPEECH);
    expect(texts(got, E.FINAL_TRANSCRIPT)).toEqual(['I have a question about my bill.', 'uh huh']);
    expect(kinds.filter((k) => k === E.START_OF_SPEECH)).toHaveLength(2);
    expect(kinds.filter((k) => k === E.END_OF_SPEECH)).toHaveLength(2);

    // Interims of the first utterance: growing prefixes of its words, while it is being said.
    const firstFinal = got.findIndex((g) => g.ev.type === E.FINAL_TRANSCRIPT);
    const interims = got.slice(0, firstFinal).filter((g) => g.ev.type === E.INTERIM_TRANSCRIPT);
    expect(interims.length).toBeGreaterThanOrEqual(3);
    const words = 'I have a question about my bill.'.split(' ');
    interims.forEach((g, i) => {
      const t = g.ev.alternatives![0]!.text.split(' ');
      expect(words.slice(0, t.length)).toEqual(t);
      if (i > 0)
        expect(t.length).toBeGreaterThan(
          interims[i - 1]!.ev.alternatives![0]!.text.split(' ').length,
        );
    });
    const truth = a.truth[0]!;
    expect(interims[0]!.audioMs).toBeLessThan(truth.offsetMs);
    expect(interims.filter((g) => g.audioMs < truth.offsetMs).length).toBeGreaterThanOrEqual(3);

    // The final comes after the detected end: minSilenceMs of audio after the last sound.
    const final = got[firstFinal]!;
    const silence = speechDetectorDefaults.minSilenceMs;
    expect(final.audioMs).toBeGreaterThanOrEqual(truth.offsetMs + silence - 120);
    expect(final.audioMs).toBeLessThanOrEqual(truth.offsetMs + silence + 350);
    const alt = final.ev.alternatives![0]!;
    expect(Math.abs(alt.startTime * 1000 - truth.onsetMs)).toBeLessThan(120);
    expect(Math.abs(alt.endTime * 1000 - truth.offsetMs)).toBeLessThan(150);
    expect(alt.words?.map((w) => w.text)).toEqual(words);
    expect(alt.confidence).toBeGreaterThan(0.9);

    // What the stand-in recorded.
    const heard = s.stt.heard().slice(heardBefore);
    expect(heard.map((h) => h.transcript)).toEqual(['I have a question about my bill.', 'uh huh']);
    heard.forEach((h, i) => {
      expect(Math.abs(h.onsetS * 1000 - a.truth[i]!.onsetMs)).toBeLessThan(120);
      expect(Math.abs(h.offsetS! * 1000 - a.truth[i]!.offsetMs)).toBeLessThan(150);
      expect(h.finalSentAt).toBeGreaterThanOrEqual(h.confirmedAt);
    });
    expect(s.stt.pending().map((u) => u.text)).toEqual(['wait']);
    const conn = s.stt.connectionsInfo().at(-1)!;
    expect(conn.query).toMatchObject({
      sample_rate: '8000',
      encoding: 'linear16',
      vad_events: 'true',
      interim_results: 'true',
    });
    expect(conn.controls.CloseStream).toBe(1);
  });

  it('emits nothing for a silent or noise-only stream and keeps the script for later', async () => {
    s.stt.setScript(['hello there']);
    const n = noise('pink', 4 * SR, 9);
    const t = new Int16Array(n.length + 2 * SR); // + 2 s of digital silence
    for (let i = 0; i < n.length; i++) t[i] = clip16(n[i]! * 32768 * 10 ** (-35 / 20));
    addInto(t, readWav(new URL('cough-600.wav', FIXTURES).pathname).samples, 2 * SR);
    const heardBefore = s.stt.heard().length;
    const got = await transcribe(mulawRoundTrip(t), { fast: true });
    expect(got.filter((g) => g.ev.type !== E.RECOGNITION_USAGE)).toEqual([]);
    expect(s.stt.heard().length).toBe(heardBefore);
    expect(s.stt.pending().map((u) => u.text)).toEqual(['hello there']);
  });

  it('gives empty finals (start and end of speech, no words) when the script has run out', async () => {
    s.stt.setScript([], { fallback: '' });
    const a = await phoneAudio([{ gapMs: 500 }, { say: 'wait' }, { gapMs: 900 }]);
    const got = await transcribe(a.samples, { fast: true });
    const kinds = got.map((g) => g.ev.type).filter((k) => k !== E.RECOGNITION_USAGE);
    expect(kinds).toEqual([E.START_OF_SPEECH, E.END_OF_SPEECH]);
    expect(s.stt.heard().at(-1)).toMatchObject({ transcript: '', source: 'fallback' });
  });

  it('serves per-key scripts on a prefixed base URL', async () => {
    s.stt.setScript(['global line']);
    s.stt.setScript(['caller two speaking'], { key: 'caller-2' });
    const a = await phoneAudio([{ gapMs: 500 }, { say: 'hello' }, { gapMs: 900 }]);
    const got = await transcribe(a.samples, { fast: true, baseUrl: s.sttBaseUrl('caller-2') });
    expect(texts(got, E.FINAL_TRANSCRIPT)).toEqual(['caller two speaking']);
    expect(s.stt.pending().map((u) => u.text)).toEqual(['global line']);
  });

  it('delays every result by its latency setting', async () => {
    const a = await phoneAudio([{ gapMs: 500 }, { say: 'hold on' }, { gapMs: 900 }]);
    const lag = async (latency: number) => {
      s.setLatency({ stt: latency });
      s.stt.setScript(['hold on']);
      const got = await transcribe(a.samples, { fast: true, tailMs: 300 + latency });
      const h = s.stt.heard().at(-1)!;
      const origin = performance.timeOrigin;
      const start = got.find((g) => g.ev.type === E.START_OF_SPEECH)!;
      const final = got.find((g) => g.ev.type === E.FINAL_TRANSCRIPT)!;
      expect(final.ev.alternatives![0]!.text).toBe('hold on');
      return {
        start: origin + start.at - h.confirmedAt,
        final: origin + final.at - h.endedAt!,
      };
    };
    const none = await lag(0);
    const some = await lag(400);
    expect(none.start).toBeLessThan(150);
    expect(none.final).toBeLessThan(150);
    expect(some.start).toBeGreaterThanOrEqual(390);
    expect(some.final).toBeGreaterThanOrEqual(390);
    expect(some.start).toBeLessThan(700);
  });

  it('hears an utterance again after the plugin reconnects in the middle of it', async () => {
    s.stt.setScript(['I have a question about my bill.']);
    const a = await phoneAudio([
      { gapMs: 600 },
      { say: 'I have a question about my bill.' },
      { gapMs: 900 },
    ]);
    const conns = s.stt.connectionsInfo().length;
    const heardBefore = s.stt.heard().length;
    const got = await transcribe(a.samples, {
      // Keyterms changed while the caller talks: the plugin closes the socket and reconnects.
      at: { ms: a.truth[0]!.onsetMs + 900, run: (st) => st.updateOptions({ keyterm: ['Acme'] }) },
    });
    expect(texts(got, E.FINAL_TRANSCRIPT)).toEqual(['I have a question about my bill.']);
    const opened = s.stt.connectionsInfo().slice(conns);
    expect(opened).toHaveLength(2);
    expect(opened[1]!.query.keyterm).toBe('Acme');
    const heard = s.stt.heard().slice(heardBefore);
    expect(heard.map((h) => [h.connection, !!h.aborted])).toEqual([
      [opened[0]!.id, true],
      [opened[1]!.id, false],
    ]);
  });

  it('answers a pre-recorded request (STT.recognize)', async () => {
    s.stt.setScript(['I need to talk to a person.']);
    const a = await phoneAudio([
      { gapMs: 500 },
      { say: 'I need to talk to a person.' },
      { gapMs: 600 },
    ]);
    const engine = newStt();
    const ev = await engine.recognize(frames(a.samples, 100));
    expect(ev.type).toBe(E.FINAL_TRANSCRIPT);
    expect(ev.alternatives?.[0]?.text).toBe('I need to talk to a person.');
    expect(Math.abs(ev.alternatives![0]!.startTime * 1000 - a.truth[0]!.onsetMs)).toBeLessThan(120);
  });
});

// ── script file and CLI ─────────────────────────────────────────────────────────────────────

describe('script file and CLI', () => {
  it('reads a YAML script that builds on the demo scenario', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'standin-'));
    const file = join(dir, 'script.yaml');
    writeFileSync(
      file,
      [
        `scenario: ${fileURLToPath(new URL('../examples/demo-call.json', import.meta.url))}`,
        'stt: { latencyMs: 120, detector: { minSilenceMs: 400 } }',
        'tts: { latencyMs: 80, voices: { v1: en-us+m3 } }',
        'llm: { latencyMs: 300 }',
      ].join('\n'),
    );
    const o = loadStandInScript(file);
    expect(o.stt?.script?.[0]).toBe("Hi, I've got a question about my bill.");
    expect(o.stt).toMatchObject({ latencyMs: 120, detector: { minSilenceMs: 400 } });
    expect(o.tts).toMatchObject({ latencyMs: 80, voices: { v1: 'en-us+m3' } });
    expect(o.llm?.rules?.[0]).toMatchObject({ agent: 'receptionist', handoff: 'billing' });
    expect(o.llm?.agents?.map((a) => a.name)).toEqual(
      expect.arrayContaining(['receptionist', 'billing']),
    );
    writeFileSync(file, 'llm: { rules: [{ mach: typo }] }');
    expect(() => loadStandInScript(file)).toThrow(/llm.rules\/0/);
  });

  it('starts from the command line and prints its base URLs', async () => {
    const child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        fileURLToPath(new URL('../stack/providers/main.ts', import.meta.url)),
        '--scenario',
        fileURLToPath(new URL('../examples/demo-call.json', import.meta.url)),
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    try {
      const line = await new Promise<string>((resolve, reject) => {
        let out = '';
        child.stdout.on('data', (c: Buffer) => {
          out += c.toString();
          if (out.includes('\n')) resolve(out.split('\n')[0]!);
        });
        child.once('exit', (code) => reject(new Error(`exited ${code}`)));
      });
      const urls = JSON.parse(line) as { llmBaseUrl: string; deepgramBaseUrl: string };
      expect(urls.deepgramBaseUrl).toMatch(/^ws:\/\/127\.0\.0\.1:\d+$/);
      const models = await fetch(`${urls.llmBaseUrl}/models`, {
        headers: { authorization: 'Bearer x' },
      });
      expect(models.status).toBe(200);
    } finally {
      child.kill('SIGTERM');
    }
  });
});

// ── ElevenLabs ──────────────────────────────────────────────────────────────────────────────

function newTts(encoding: 'pcm_16000' | 'pcm_22050' | 'pcm_44100' = 'pcm_16000') {
  return new elevenlabs.TTS({
    apiKey: 'test-key',
    baseURL: s.elevenlabsBaseUrl,
    model: 'eleven_flash_v2_5',
    voiceId: 'bIHbv24MWmeRgasZH58o',
    encoding,
  });
}

async function synthesizeStream(engine: elevenlabs.TTS, text: string) {
  const stream = engine.stream();
  const t0 = performance.now();
  stream.pushText(text);
  stream.flush();
  stream.endInput();
  const audio: tts.SynthesizedAudio[] = [];
  let firstAt: number | undefined;
  for await (const ev of stream) {
    if (ev === tts.SynthesizeStream.END_OF_STREAM) break;
    firstAt ??= performance.now();
    audio.push(ev);
  }
  stream.close();
  return { audio, ttfbMs: (firstAt ?? Number.NaN) - t0 };
}

describe('ElevenLabs stand-in with @livekit/agents-plugin-elevenlabs', () => {
  it('speaks two sentences as real speech with word alignment, and closes the context', async () => {
    const engine = newTts();
    const before = s.tts.spoken().length;
    const text = 'Thanks for calling Acme. How can I help you today?';
    const { audio } = await synthesizeStream(engine, text);
    await engine.close();

    expect(audio.length).toBeGreaterThan(10);
    expect(audio.at(-1)!.final).toBe(true);
    expect(audio.every((a) => a.frame.sampleRate === 16000 && a.frame.channels === 1)).toBe(true);
    const pcm = concat(audio.map((a) => a.frame.data));
    const seconds = pcm.length / 16000;
    expect(seconds).toBeGreaterThan(2);
    expect(seconds).toBeLessThan(8);
    // Speech, not noise or silence: our detector finds voiced segments in it.
    expect(activeRms(pcm, 16000)).toBeGreaterThan(1000);
    expect(detectSegments(pcm, { sampleRate: 16000 }).length).toBeGreaterThanOrEqual(1);

    const words = audio.flatMap((a) => a.timedTranscripts ?? []);
    expect(words.map((w) => w.text.trim())).toEqual(text.split(' '));
    for (let i = 1; i < words.length; i++) {
      expect(words[i]!.startTime ?? 0).toBeGreaterThanOrEqual(words[i - 1]!.startTime ?? 0);
    }
    expect(words.at(-1)!.endTime).toBeLessThanOrEqual(seconds + 0.05);
    const how = words.find((w) => w.text.trim() === 'How')!;
    expect(how.startTime).toBeGreaterThan(0.8); // after the first sentence's audio

    const spoken = s.tts.spoken().slice(before);
    expect(spoken).toHaveLength(1);
    expect(spoken[0]).toMatchObject({
      voiceId: 'bIHbv24MWmeRgasZH58o',
      model: 'eleven_flash_v2_5',
      outputFormat: 'pcm_16000',
      pieces: ['Thanks for calling Acme.', 'How can I help you today?'],
    });
    expect(spoken[0]!.finalAt).toBeGreaterThanOrEqual(spoken[0]!.closedAt!);
  });

  it('runs consecutive contexts over one socket, at other PCM rates too', async () => {
    const engine = newTts('pcm_22050');
    const before = s.tts.spoken().length;
    const a = await synthesizeStream(engine, 'One.');
    const b = await synthesizeStream(engine, 'Two.');
    await engine.close();
    expect(a.audio[0]!.frame.sampleRate).toBe(22050);
    expect(b.audio.length).toBeGreaterThan(0);
    const spoken = s.tts.spoken().slice(before);
    expect(spoken.map((c) => c.text)).toEqual(['One.', 'Two.']);
    expect(spoken[0]!.socket).toBe(spoken[1]!.socket);
    expect(spoken.every((c) => c.finalAt !== undefined)).toBe(true);
  });

  it('sends the first audio after its latency setting', async () => {
    const engine = newTts();
    await synthesizeStream(engine, 'Warm.');
    const fast = await synthesizeStream(engine, 'One moment please.');
    s.setLatency({ tts: 600 });
    const slow = await synthesizeStream(engine, 'One moment please.');
    await engine.close();
    expect(fast.ttfbMs).toBeLessThan(400);
    expect(slow.ttfbMs).toBeGreaterThanOrEqual(590);
    expect(slow.ttfbMs).toBeLessThan(1200);
  });

  it('serves synthesize() over the HTTP streaming endpoint', async () => {
    const engine = newTts();
    const frames: AudioFrame[] = [];
    for await (const a of engine.synthesize('Goodbye.')) frames.push(a.frame);
    await engine.close();
    const samples = frames.reduce((n, f) => n + f.samplesPerChannel, 0);
    expect(samples / 16000).toBeGreaterThan(0.3);
    expect(s.tts.spoken().at(-1)).toMatchObject({ socket: 0, text: 'Goodbye.' });
  });
});

// ── OpenAI-compatible LLM ───────────────────────────────────────────────────────────────────

describe('OpenAI stand-in with @livekit/agents-plugin-openai', () => {
  const lookupInvoice = llm.tool({
    description: 'Looks up the latest invoice of an account.',
    parameters: z.object({ account: z.string(), month: z.string() }),
    execute: async () => 'unused',
  });

  const rule: ScriptedRule = (turn) => {
    if (turn.toolOutput?.name === 'lookup_invoice') {
      return `Your invoice is ${JSON.parse(turn.toolOutput.output).total} dollars.`;
    }
    if (/account/.test(turn.userText) && turn.tools.includes('lookup_invoice')) {
      return {
        text: 'Let me check.',
        toolCalls: [{ name: 'lookup_invoice', args: { account: '5551234', month: 'March' } }],
      };
    }
    return undefined;
  };

  async function run(engine: openai.LLM, chatCtx: llm.ChatContext) {
    const stream = engine.chat({ chatCtx, toolCtx: { lookup_invoice: lookupInvoice } });
    const t0 = performance.now();
    let firstAt: number | undefined;
    let text = '';
    const calls: llm.FunctionCall[] = [];
    let usage: llm.CompletionUsage | undefined;
    for await (const chunk of stream) {
      if (chunk.delta?.content) {
        firstAt ??= performance.now();
        text += chunk.delta.content;
      }
      if (chunk.delta?.toolCalls) {
        firstAt ??= performance.now();
        calls.push(...chunk.delta.toolCalls);
      }
      if (chunk.usage) usage = chunk.usage;
    }
    return { text, calls, usage, ttftMs: (firstAt ?? Number.NaN) - t0 };
  }

  it('calls a tool with parsed arguments, then answers from its output', async () => {
    s.llm.setRule(rule);
    const engine = new openai.LLM({
      apiKey: 'test-key',
      baseURL: s.llmBaseUrl,
      model: 'gpt-4.1-mini',
    });
    const chatCtx = llm.ChatContext.empty();
    chatCtx.addMessage({ role: 'system', content: 'You are Ben from billing.' });
    chatCtx.addMessage({
      role: 'user',
      content: 'My account is 5551234, what do I owe for March?',
    });

    const first = await run(engine, chatCtx);
    expect(first.text).toBe('Let me check.');
    expect(first.calls).toHaveLength(1);
    const call = first.calls[0]!;
    expect(call.name).toBe('lookup_invoice');
    expect(JSON.parse(call.args)).toEqual({ account: '5551234', month: 'March' });
    expect(call.callId).toMatch(/^call_/);
    expect(first.usage?.totalTokens).toBeGreaterThan(0);

    chatCtx.insert(call);
    chatCtx.insert(
      llm.FunctionCallOutput.create({
        callId: call.callId,
        name: call.name,
        output: JSON.stringify({ total: 55 }),
        isError: false,
      }),
    );
    const second = await run(engine, chatCtx);
    expect(second.calls).toEqual([]);
    expect(second.text).toBe('Your invoice is 55 dollars.');

    const reqs = s.llm.requests().slice(-2);
    expect(reqs[0]).toMatchObject({
      stream: true,
      tools: ['lookup_invoice'],
      userText: 'My account is 5551234, what do I owe for March?',
    });
    expect(reqs[1]!.toolOutput).toMatchObject({ name: 'lookup_invoice', output: '{"total":55}' });
    expect(reqs[1]!.body.stream_options).toEqual({ include_usage: true });
    await engine.aclose();
  });

  it('honours its time-to-first-token setting', async () => {
    s.llm.setRule(() => 'Hello there, how can I help?');
    const engine = new openai.LLM({
      apiKey: 'test-key',
      baseURL: s.llmBaseUrl,
      model: 'gpt-4.1-mini',
    });
    const ctx = llm.ChatContext.empty();
    ctx.addMessage({ role: 'user', content: 'hi' });
    const fast = await run(engine, ctx);
    s.setLatency({ llm: 500 });
    const slow = await run(engine, ctx);
    expect(fast.text).toBe('Hello there, how can I help?');
    expect(fast.ttftMs).toBeLessThan(300);
    expect(slow.ttftMs).toBeGreaterThanOrEqual(490);
    expect(slow.ttftMs).toBeLessThan(1000);
    await engine.aclose();
  });

  it('takes the demo scenario rules over HTTP and tells agents apart by their instructions', async () => {
    const agents = [
      { name: 'receptionist', instructions: 'You are Ava, the receptionist.' },
      { name: 'billing', instructions: 'You are Ben from billing.' },
    ];
    const rules = [
      { agent: 'receptionist', match: 'bill', handoff: 'billing' },
      { agent: 'billing', match: 'bill', reply: 'Sure, let me walk you through it.' },
      { afterTool: 'lookup_invoice', reply: 'Found it.' },
    ];
    const r = await fetch(`${s.controlUrl}/llm/rules`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ rules, agents }),
    });
    expect(r.status).toBe(200);
    const bad = await fetch(`${s.controlUrl}/llm/rules`, {
      method: 'POST',
      body: JSON.stringify({ rules: [{ mach: 'typo' }] }),
    });
    expect(bad.status).toBe(400);

    const engine = new openai.LLM({
      apiKey: 'test-key',
      baseURL: s.llmBaseUrl,
      model: 'gpt-4.1-mini',
    });
    const ask = async (system: string, tools: llm.ToolContextLike) => {
      const ctx = llm.ChatContext.empty();
      ctx.addMessage({ role: 'system', content: `Phone rules.\n\n${system}\n\nCall facts.` });
      ctx.addMessage({ role: 'user', content: 'A question about my bill' });
      const stream = engine.chat({ chatCtx: ctx, toolCtx: tools });
      let text = '';
      const calls: string[] = [];
      for await (const c of stream) {
        text += c.delta?.content ?? '';
        calls.push(...(c.delta?.toolCalls ?? []).map((t) => t.name));
      }
      return { text, calls };
    };
    const handoff = llm.tool({ description: 'to billing', execute: async () => 'ok' });
    expect(await ask(agents[0]!.instructions, { handoff_to_billing: handoff })).toEqual({
      text: '',
      calls: ['handoff_to_billing'],
    });
    expect(await ask(agents[1]!.instructions, {})).toEqual({
      text: 'Sure, let me walk you through it.',
      calls: [],
    });
    expect(
      s.llm
        .requests()
        .slice(-2)
        .map((q) => q.agent),
    ).toEqual(['receptionist', 'billing']);
    await engine.aclose();
  });

  it('lists models and refuses requests without an API key', async () => {
    const ok = await fetch(`${s.llmBaseUrl}/models`, { headers: { authorization: 'Bearer x' } });
    expect(((await ok.json()) as { data: Array<{ id: string }> }).data.map((m) => m.id)).toContain(
      'gpt-4.1-mini',
    );
    const no = await fetch(`${s.llmBaseUrl}/chat/completions`, { method: 'POST', body: '{}' });
    expect(no.status).toBe(401);
  });
});
