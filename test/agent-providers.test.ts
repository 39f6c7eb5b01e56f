/**
 * Model providers from the environment: a clear error per missing key, phone-tuned options,
 * and the LLM talking to an OpenAI-compatible server found by base URL (a local stand-in).
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { initializeLogger, llm } from '@livekit/agents';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  agentModels,
  createLLM,
  createSTT,
  createTTS,
  createTurnDetector,
  loadVAD,
  phoneVadDefaults,
} from '../src/agents/providers.js';
import { testConfig } from './support/config.js';

const keys = {
  DEEPGRAM_API_KEY: 'dg-test',
  ELEVEN_API_KEY: 'el-test',
  OPENAI_API_KEY: 'sk-test',
};

beforeAll(() => initializeLogger({ pretty: false, level: 'error' }));

describe('a missing key names the variable', () => {
  const config = testConfig({}, 'worker');
  it.each([
    [() => createSTT(config), 'DEEPGRAM_API_KEY is required for speech-to-text (Deepgram)'],
    [() => createTTS(config), 'ELEVEN_API_KEY is required for text-to-speech (ElevenLabs)'],
    [() => createLLM(config), 'OPENAI_API_KEY is required for the LLM (OpenAI-compatible server)'],
  ])('%#', (build, message) => {
    expect(build).toThrow(
      expect.objectContaining({
        code: 'PA_ERR_CONFIG_INVALID',
        message: `Invalid configuration: ${message}`,
      }),
    );
  });
});

describe('phone-tuned providers', () => {
  const config = testConfig({ ...keys, ELEVEN_VOICE_ID: 'voice-default' }, 'worker');

  it('Deepgram nova-3 by default, ElevenLabs as 16 kHz PCM, the configured LLM model', () => {
    expect(createSTT(config).model).toBe('nova-3');
    const tts = createTTS(config);
    expect(tts.sampleRate).toBe(16000);
    expect(tts.model).toBe('eleven_flash_v2_5');
    expect(createLLM(testConfig({ ...keys, LLM_MODEL: 'llama-3.1-8b' }, 'worker')).model).toBe(
      'llama-3.1-8b',
    );
  });

  it('agents get their own TTS only for their own voice, and STT only with keyterms', () => {
    const models = agentModels(config);
    const plain = models({ name: 'a', instructions: 'x' });
    expect(plain).toEqual({});
    // The deployment's own voice is the session's TTS.
    expect(models({ name: 'd', instructions: 'x', voice: 'voice-default' })).toEqual({});
    const voiced = models({ name: 'b', instructions: 'x', voice: 'voice-b', keyterms: ['Acme'] });
    expect(voiced.tts).toBeDefined();
    expect(voiced.stt).toBeDefined();
    // One TTS per distinct voice.
    expect(models({ name: 'c', instructions: 'x', voice: 'voice-b' }).tts).toBe(voiced.tts);
    expect(models({ name: 'e', instructions: 'x', voice: 'voice-e' }).tts).not.toBe(voiced.tts);
  });

  it('Silero VAD loads with the phone settings and the turn detector is the local model', async () => {
    const vad = await loadVAD(config);
    // The phone value, not Silero's own default (550 ms).
    expect(vad.minSilenceDuration).toBe(phoneVadDefaults.minSilenceDuration);
    expect(createTurnDetector().model).toBe('turn-detector-v1-mini');
  });
});

describe('any OpenAI-compatible server by LLM_BASE_URL', () => {
  let server: Server;
  let baseURL = '';
  const seen: { path: string; auth: string | undefined; body: Record<string, unknown> }[] = [];

  beforeAll(async () => {
    // Streams a chat completion the way OpenAI-compatible servers (vLLM, llama.cpp, ...) do.
    server = createServer((req, res) => {
      let raw = '';
      req.on('data', (c) => {
        raw += c;
      });
      req.on('end', () => {
        seen.push({ path: req.url ?? '', auth: req.headers.authorization, body: JSON.parse(raw) });
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        const chunk = (delta: Record<string, unknown>, finish: string | null = null) =>
          `data: ${JSON.stringify({
            id: 'c1',
            object: 'chat.completion.chunk',
            created: 1,
            model: 'local-model',
            choices: [{ index: 0, delta, finish_reason: finish }],
          })}\n\n`;
        res.write(chunk({ role: 'assistant', content: 'Hello ' }));
        res.write(chunk({ content: 'caller.' }));
        res.write(chunk({}, 'stop'));
        res.end('data: [DONE]\n\n');
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    baseURL = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  it('sends the chat to the base URL with the key and streams the answer back', async () => {
    const model = createLLM(
      testConfig({ ...keys, LLM_BASE_URL: baseURL, LLM_MODEL: 'local-model' }, 'worker'),
    );
    const chatCtx = llm.ChatContext.empty();
    chatCtx.addMessage({ role: 'user', content: 'Hi' });
    let text = '';
    for await (const chunk of model.chat({ chatCtx })) text += chunk.delta?.content ?? '';
    expect(text).toBe('Hello caller.');
    expect(seen[0]?.path).toBe('/v1/chat/completions');
    expect(seen[0]?.auth).toBe('Bearer sk-test');
    expect(seen[0]?.body).toMatchObject({ model: 'local-model', stream: true, temperature: 0.4 });
  });
});
