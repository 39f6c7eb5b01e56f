/**
 * The relay that lets the worker, sealed in the stack's namespace, reach real providers
 * (stack/provider-relay.ts): the unmodified plugins talk to the relay's URL and it forwards
 * requests, streamed answers and WebSockets to the provider unchanged. Here the "real provider"
 * is the stand-ins on another loopback port: the relay must be invisible to the plugins.
 */
import { initializeLogger, llm, stt as sttNs } from '@livekit/agents';
import * as deepgram from '@livekit/agents-plugin-deepgram';
import * as openai from '@livekit/agents-plugin-openai';
import { AudioFrame } from '@livekit/rtc-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { speak } from '../src/sim/offline-tts.js';
import { type ProviderRelay, startProviderRelay } from '../stack/provider-relay.js';
import { type ProviderStandIns, startProviderStandIns } from '../stack/providers/index.js';

let provider: ProviderStandIns;
let relay: ProviderRelay;
const via = (target: string) => relay.targets.find((t) => t.target === target)!.url;

beforeAll(async () => {
  initializeLogger({ pretty: false, level: 'fatal' });
  provider = await startProviderStandIns({
    llm: { rules: [{ match: 'hours', reply: 'We open at eight.' }] },
  });
  relay = await startProviderRelay('127.0.0.1', [provider.deepgramBaseUrl, provider.llmBaseUrl]);
});

afterAll(async () => {
  await relay?.close();
  await provider?.close();
});

describe('the provider relay', () => {
  it('keeps the target path and scheme family in its URLs', () => {
    expect(via(provider.deepgramBaseUrl)).toMatch(/^ws:\/\/127\.0\.0\.1:\d+$/);
    expect(via(provider.llmBaseUrl)).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/v1$/);
    expect(via(provider.llmBaseUrl)).not.toBe(provider.llmBaseUrl);
  });

  it('passes a streamed chat completion through to the OpenAI plugin', async () => {
    const model = new openai.LLM({ apiKey: 'any', baseURL: via(provider.llmBaseUrl), model: 'x' });
    const ctx = llm.ChatContext.empty();
    ctx.addMessage({ role: 'user', content: 'What are your hours?' });
    let text = '';
    for await (const chunk of model.chat({ chatCtx: ctx })) text += chunk.delta?.content ?? '';
    expect(text).toBe('We open at eight.');
    expect(provider.llm.requests().at(-1)?.userText).toBe('What are your hours?');
  });

  it('carries a Deepgram WebSocket both ways: audio in, transcripts out', async () => {
    provider.stt.setScript(['what are your hours']);
    const stt = new deepgram.STT({
      apiKey: 'any',
      baseUrl: via(provider.deepgramBaseUrl),
      sampleRate: 8000,
    });
    const stream = stt.stream();
    const voice = await speak('What are your hours?', { sampleRate: 8000 });
    const audio = new Int16Array(voice.samples.length + 8000 * 1.5);
    audio.set(voice.samples, 1600);
    for (let i = 0; i < audio.length; i += 160) {
      stream.pushFrame(new AudioFrame(audio.slice(i, i + 160), 8000, 1, 160));
    }
    let final = '';
    for await (const ev of stream) {
      if (ev.type === sttNs.SpeechEventType.FINAL_TRANSCRIPT && ev.alternatives?.[0]?.text) {
        final = ev.alternatives[0].text;
        break;
      }
    }
    stream.close();
    expect(final).toBe('what are your hours');
  }, 20_000);

  it('passes a refused upgrade on as the provider answered it', async () => {
    const status = await new Promise<number>((resolve) => {
      const ws = new WebSocket(`${via(provider.deepgramBaseUrl)}/v1/listen?encoding=linear16`);
      ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
      ws.on('open', () => resolve(101));
      ws.on('error', () => undefined);
    });
    expect(status).toBe(401); // no Authorization header: Deepgram's answer, not the relay's
  });

  it('answers 502 naming the provider when it cannot be reached', async () => {
    const dead = await startProviderRelay('127.0.0.1', ['http://127.0.0.1:9/v1']);
    try {
      const res = await fetch(`${dead.targets[0]!.url}/models`);
      expect(res.status).toBe(502);
      expect(await res.text()).toContain('relay to http://127.0.0.1:9');
    } finally {
      await dead.close();
    }
  });
});
