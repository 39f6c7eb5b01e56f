/**
 * Local stand-ins for the three providers the phone agent talks to, on one HTTP server and one
 * port, for the unmodified LiveKit plugins (base-URL options):
 *
 * | plugin option                                     | value                      | paths                                   |
 * | ------------------------------------------------- | -------------------------- | --------------------------------------- |
 * | `@livekit/agents-plugin-deepgram` STT `baseUrl`    | `deepgramBaseUrl`          | ws `/v1/listen`, `POST /v1/listen`       |
 * | `@livekit/agents-plugin-elevenlabs` TTS `baseURL`  | `elevenlabsBaseUrl` (…/v1) | ws `/v1/text-to-speech/{voice}/multi-stream-input`, `POST /v1/text-to-speech/{voice}[/stream]`, `GET /v1/voices` |
 * | `@livekit/agents-plugin-openai` LLM `baseURL`      | `llmBaseUrl` (…/v1)        | `POST /v1/chat/completions`, `GET /v1/models[/{id}]` |
 *
 * Any path may carry a prefix `/k/<key>` (e.g. `ws://127.0.0.1:PORT/k/caller-2/v1/listen`):
 * `sttBaseUrl(key)` gives such a URL, whose connections take their utterances from the script set
 * for that key. Control endpoints (JSON) under `/_standin/`:
 *
 * - `POST /_standin/stt/script` `{ utterances: (string | {text, confidence})[], key?, connection?,
 *   fallback? }` replaces the utterances still to come; `GET /_standin/stt/heard`,
 *   `GET /_standin/stt/connections`;
 * - `POST /_standin/llm/rules` `{ rules: [...], agents?: [{name, instructions}] }`;
 *   `GET /_standin/llm/requests`; `GET /_standin/tts/spoken`;
 * - `POST /_standin/latency` `{ stt?, tts?, llm? }` (ms); `POST /_standin/reset` clears the logs;
 *   `GET /_standin/health`.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer } from 'ws';
import {
  DeepgramStandIn,
  type SttScriptLine,
  type SttStandInOptions,
  sendJson,
} from './deepgram.js';
import { ElevenLabsStandIn, type TtsStandInOptions } from './elevenlabs.js';
import { type LlmStandInOptions, OpenAIStandIn } from './openai.js';

export type {
  HeardUtterance,
  SttConnectionInfo,
  SttScriptLine,
  SttStandInOptions,
  SttUtterance,
} from './deepgram.js';
export { DeepgramStandIn } from './deepgram.js';
export type { SpokenContext, TtsStandInOptions } from './elevenlabs.js';
export { ElevenLabsStandIn } from './elevenlabs.js';
export type {
  AgentIdentity,
  LlmRequestRecord,
  LlmStandInOptions,
  StandInLlmRule,
} from './openai.js';
export {
  agentsOfFile,
  chatContextOf,
  checkLlmRules,
  OpenAIStandIn,
  rulesToScripted,
} from './openai.js';
export type { SpeechDetectorOptions } from './speech-detector.js';
export { detectSegments, SpeechDetector, speechDetectorDefaults } from './speech-detector.js';

export interface ProviderStandInsOptions {
  /** Listen address: loopback by default, or an address of the stack's network namespace. */
  host?: string;
  /** 0 (default) = a free port. */
  port?: number;
  stt?: SttStandInOptions;
  tts?: TtsStandInOptions;
  llm?: LlmStandInOptions;
  /** Logs one line per connection/request (default: silent). */
  log?: (line: string) => void;
}

export interface ProviderStandIns {
  host: string;
  port: number;
  /** Deepgram STT `baseUrl` (ws://host:port). */
  deepgramBaseUrl: string;
  /** ElevenLabs TTS `baseURL` (http://host:port/v1). */
  elevenlabsBaseUrl: string;
  /** OpenAI LLM `baseURL` (http://host:port/v1). */
  llmBaseUrl: string;
  /** Control endpoints' base (http://host:port/_standin). */
  controlUrl: string;
  /** Deepgram base URL whose connections use the script of `key`. */
  sttBaseUrl(key?: string): string;
  stt: DeepgramStandIn;
  tts: ElevenLabsStandIn;
  llm: OpenAIStandIn;
  /** Sets the latencies (ms) of any of the three. */
  setLatency(l: { stt?: number; tts?: number; llm?: number }): void;
  close(): Promise<void>;
}

const MAX_BODY = 32 * 1024 * 1024;

/** Starts the three stand-ins on one server; resolves once it listens. */
export async function startProviderStandIns(
  opts: ProviderStandInsOptions = {},
): Promise<ProviderStandIns> {
  const host = opts.host ?? '127.0.0.1';
  const log = opts.log ?? (() => {});
  const stt = new DeepgramStandIn(opts.stt);
  const tts = new ElevenLabsStandIn(opts.tts);
  const llm = new OpenAIStandIn(opts.llm);
  const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false });

  const setLatency = (l: { stt?: number; tts?: number; llm?: number }) => {
    if (typeof l.stt === 'number') stt.setLatency(l.stt);
    if (typeof l.tts === 'number') tts.setLatency(l.tts);
    if (typeof l.llm === 'number') llm.setLatency(l.llm);
  };

  const server = createServer((req, res) => {
    void handle(req, res).catch((err: unknown) => {
      log(`error ${req.method} ${req.url}: ${String(err)}`);
      if (!res.headersSent) sendJson(res, 500, { error: { message: String(err) } });
      else res.destroy();
    });
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://x');
    const { key, path } = splitKey(url.pathname);
    const method = req.method ?? 'GET';
    const body = method === 'POST' ? await readBody(req) : Buffer.alloc(0);
    log(`${method} ${url.pathname}`);
    const models = /^(?:\/v1)?\/models(?:\/([^/]+))?$/.exec(path);
    const speech = /^\/v1\/text-to-speech\/([^/]+)(?:\/stream)?$/.exec(path);
    if (path.startsWith('/_standin/')) {
      const [status, answer] = control(method, path, body);
      sendJson(res, status, answer);
    } else if (method === 'POST' && path === '/v1/listen') {
      await stt.handleRest(req, res, key, body);
    } else if (method === 'POST' && /^(\/v1)?\/chat\/completions$/.test(path)) {
      await llm.handleChat(req, res, body);
    } else if (method === 'GET' && models) {
      llm.handleModels(req, res, models[1]);
    } else if (method === 'POST' && speech) {
      await tts.handleHttp(req, res, decodeURIComponent(speech[1]!), body);
    } else if (method === 'GET' && path === '/v1/voices') {
      if (!req.headers['xi-api-key']) {
        sendJson(res, 401, { detail: { status: 'invalid_api_key' } });
        return;
      }
      const ids = new Set([...Object.keys(tts.options.voices), 'bIHbv24MWmeRgasZH58o']);
      sendJson(res, 200, {
        voices: [...ids].map((id) => ({
          voice_id: id,
          name: tts.options.voices[id] ?? tts.options.defaultVoice,
          category: 'premade',
        })),
      });
    } else {
      sendJson(res, 404, { error: { message: `no such endpoint: ${method} ${url.pathname}` } });
    }
  }

  /** A control request → status and JSON answer. */
  function control(method: string, path: string, body: Buffer): [number, unknown] {
    let data: Record<string, unknown> = {};
    if (method === 'POST' && body.byteLength > 0) {
      try {
        data = JSON.parse(body.toString('utf8'));
      } catch {
        return [400, { error: 'body is not JSON' }];
      }
    }
    const route = `${method} ${path}`;
    try {
      switch (route) {
        case 'GET /_standin/health':
          return [200, { ok: true }];
        case 'POST /_standin/stt/script': {
          const lines = data.utterances;
          if (!Array.isArray(lines)) return [400, { error: 'utterances must be a list' }];
          stt.setScript(lines as SttScriptLine[], {
            ...(typeof data.key === 'string' ? { key: data.key } : {}),
            ...(typeof data.connection === 'number' ? { connection: data.connection } : {}),
            ...(typeof data.fallback === 'string' ? { fallback: data.fallback } : {}),
          });
          return [200, { ok: true, pending: stt.pending().length }];
        }
        case 'GET /_standin/stt/heard':
          return [200, { heard: stt.heard() }];
        case 'GET /_standin/stt/connections':
          return [200, { connections: stt.connectionsInfo() }];
        case 'POST /_standin/llm/rules':
          llm.setRules(
            data.rules as never,
            Array.isArray(data.agents) ? (data.agents as never) : undefined,
          );
          return [200, { ok: true }];
        case 'GET /_standin/llm/requests':
          return [200, { requests: llm.requests() }];
        case 'GET /_standin/tts/spoken':
          return [200, { spoken: tts.spoken() }];
        case 'POST /_standin/latency':
          setLatency(data as { stt?: number; tts?: number; llm?: number });
          return [200, { ok: true }];
        case 'POST /_standin/reset':
          stt.clearLog();
          tts.clearLog();
          llm.clearLog();
          return [200, { ok: true }];
        default:
          return [404, { error: `no such control endpoint: ${route}` }];
      }
    } catch (err) {
      return [400, { error: (err as Error).message }];
    }
  }

  server.on('upgrade', (req, socket, head) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const { key, path } = splitKey(url.pathname);
    const reject = (status: number, message: string) => {
      log(`upgrade ${url.pathname} rejected: ${status} ${message}`);
      const body = JSON.stringify({ error: message });
      socket.end(
        `HTTP/1.1 ${status} ${status === 401 ? 'Unauthorized' : status === 404 ? 'Not Found' : 'Bad Request'}\r\n` +
          `content-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
      );
    };
    const multiStream = /^\/v1\/text-to-speech\/([^/]+)\/multi-stream-input$/.exec(path);
    if (path === '/v1/listen') {
      const problem = stt.checkUpgrade(req);
      if (problem) return reject(problem.status, problem.message);
      wss.handleUpgrade(req, socket, head, (ws) => {
        log(`stt connected ${url.search}`);
        stt.handleSocket(ws, req, key);
      });
      return;
    }
    if (multiStream) {
      const problem = tts.checkUpgrade(req);
      if (problem) return reject(problem.status, problem.message);
      const voice = decodeURIComponent(multiStream[1]!);
      wss.handleUpgrade(req, socket, head, (ws) => {
        log(`tts connected voice=${voice} ${url.search}`);
        tts.handleSocket(ws, req, voice);
      });
      return;
    }
    reject(404, `no websocket endpoint at ${url.pathname}`);
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const hostInUrl = host.includes(':') ? `[${host}]` : host;
  const http = `http://${hostInUrl}:${port}`;
  const ws = `ws://${hostInUrl}:${port}`;

  return {
    host,
    port,
    deepgramBaseUrl: ws,
    elevenlabsBaseUrl: `${http}/v1`,
    llmBaseUrl: `${http}/v1`,
    controlUrl: `${http}/_standin`,
    sttBaseUrl: (key?: string) => (key ? `${ws}/k/${encodeURIComponent(key)}` : ws),
    stt,
    tts,
    llm,
    setLatency,
    async close() {
      stt.closeAll();
      tts.closeAll();
      for (const client of wss.clients) client.terminate();
      wss.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** `/k/<key>/rest` → key and rest. */
function splitKey(pathname: string): { key: string; path: string } {
  const m = /^\/k\/([^/]+)(\/.*)$/.exec(pathname);
  return m ? { key: decodeURIComponent(m[1]!), path: m[2]! } : { key: '', path: pathname };
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.byteLength;
      if (size > MAX_BODY) {
        reject(new Error('request body too large'));
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}
