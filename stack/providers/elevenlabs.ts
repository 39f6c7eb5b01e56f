/**
 * ElevenLabs stand-in: the multi-context websocket
 * (`/v1/text-to-speech/{voice}/multi-stream-input`) that `@livekit/agents-plugin-elevenlabs` 1.9
 * uses for `TTS.stream()`, and the HTTP streaming endpoint (`POST /v1/text-to-speech/{voice}/stream`)
 * it uses for `TTS.synthesize()`, speaking real speech with the project's offline eSpeak NG voice
 * (src/sim/offline-tts.ts).
 *
 * Websocket, per context (`context_id`): text accumulates until a `flush: true` (or, without
 * `auto_mode`, until the `chunk_length_schedule` length is reached), then that text is spoken and
 * sent as `{contextId, audio: base64 PCM16, normalizedAlignment, alignment}` messages of
 * `chunkMs` audio each. `close_context` speaks what is left and answers `{contextId, isFinal:
 * true}`; `close_socket` does that for every context and closes the socket. Alignment character
 * times are cumulative over the context (ms from its first audio), spread over the voiced part
 * of each generation by character (eSpeak's word events are not exposed by offline-tts).
 * Nothing received for `inactivity_timeout` s (query; ElevenLabs' default 20) closes the socket
 * (1008), as ElevenLabs does.
 *
 * `latencyMs` is the time to first audio: the first audio of a context leaves no earlier than
 * `latencyMs` after the flush that asked for it (eSpeak's own synthesis time counts towards it).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { RawData, WebSocket } from 'ws';
import { speak } from '../../src/sim/offline-tts.js';
import { sendJson } from './deepgram.js';
import { mulawEncode } from './g711.js';

export interface TtsStandInOptions {
  /** Time to first audio of a context (ms). */
  latencyMs?: number;
  /** ElevenLabs voice id → eSpeak voice (`en-us+f3`); others get `defaultVoice`. */
  voices?: Record<string, string>;
  defaultVoice?: string;
  /** eSpeak words per minute. */
  rate?: number;
  /** Audio per websocket message (ms). */
  chunkMs?: number;
}

export const ttsStandInDefaults = {
  latencyMs: 0,
  voices: {} as Record<string, string>,
  defaultVoice: 'en-us+f3',
  rate: 175,
  chunkMs: 200,
};

/** What one context (or one HTTP request) was asked to say and how it went. */
export interface SpokenContext {
  /** Websocket number (0 for HTTP requests). */
  socket: number;
  contextId: string;
  voiceId: string;
  model: string;
  outputFormat: string;
  /** The generations, in order (each flushed piece of text). */
  pieces: string[];
  /** All text spoken, joined. */
  text: string;
  openedAt: number;
  firstAudioAt?: number;
  /** Audio sent (ms). */
  audioMs: number;
  closedAt?: number;
  /** When `isFinal` was sent. */
  finalAt?: number;
}

interface Format {
  name: string;
  sampleRate: number;
  ulaw: boolean;
}

const PCM_RATES = new Set([8000, 16000, 22050, 24000, 44100, 48000]);
const DEFAULT_SCHEDULE = [120, 160, 250, 290];

function parseFormat(name: string): Format | undefined {
  if (name === 'ulaw_8000') return { name, sampleRate: 8000, ulaw: true };
  const m = /^pcm_(\d+)$/.exec(name);
  if (m && PCM_RATES.has(Number(m[1]))) return { name, sampleRate: Number(m[1]), ulaw: false };
  return undefined;
}

export class ElevenLabsStandIn {
  readonly options: typeof ttsStandInDefaults;
  private readonly log: SpokenContext[] = [];
  private nextSocket = 1;
  private readonly sockets = new Set<WebSocket>();

  constructor(opts: TtsStandInOptions = {}) {
    this.options = {
      ...ttsStandInDefaults,
      ...Object.fromEntries(Object.entries(opts).filter(([, v]) => v !== undefined)),
    } as typeof ttsStandInDefaults;
  }

  setLatency(ms: number): void {
    this.options.latencyMs = ms;
  }

  /** Every context and HTTP request so far. */
  spoken(): SpokenContext[] {
    return this.log.map((c) => ({ ...c, pieces: [...c.pieces] }));
  }

  clearLog(): void {
    this.log.length = 0;
  }

  closeAll(): void {
    for (const ws of this.sockets) ws.terminate();
  }

  private voiceFor(voiceId: string): string {
    return this.options.voices[voiceId] ?? this.options.defaultVoice;
  }

  /** Speech for `text` in the output format: bytes, and alignment over its voiced part. */
  private async render(text: string, voiceId: string, format: Format) {
    const { samples } = await speak(text.trim(), {
      voice: this.voiceFor(voiceId),
      rate: this.options.rate,
      sampleRate: format.sampleRate,
    });
    return { samples, bytes: encode(samples, format) };
  }

  checkUpgrade(req: IncomingMessage): { status: number; message: string } | undefined {
    if (!req.headers['xi-api-key']) return { status: 401, message: 'missing xi-api-key' };
    const url = new URL(req.url ?? '/', 'http://x');
    const fmt = url.searchParams.get('output_format') ?? 'mp3_44100_128';
    if (!parseFormat(fmt)) {
      return { status: 400, message: `output_format ${fmt} is not supported by the stand-in` };
    }
    return undefined;
  }

  /** A websocket on `<key>/v1/text-to-speech/{voice}/multi-stream-input`. */
  handleSocket(ws: WebSocket, req: IncomingMessage, voiceId: string): void {
    const url = new URL(req.url ?? '/', 'http://x');
    const format = parseFormat(url.searchParams.get('output_format') ?? '') ?? {
      name: 'pcm_16000',
      sampleRate: 16000,
      ulaw: false,
    };
    const socket = this.nextSocket++;
    this.sockets.add(ws);
    const session = new MultiStreamSession(this, ws, {
      socket,
      voiceId,
      format,
      model: url.searchParams.get('model_id') ?? 'eleven_flash_v2_5',
      autoMode: url.searchParams.get('auto_mode') === 'true',
      inactivityS: Number(url.searchParams.get('inactivity_timeout') ?? 20) || 20,
      syncAlignment: url.searchParams.get('sync_alignment') !== 'false',
    });
    ws.once('close', () => {
      this.sockets.delete(ws);
      session.dispose();
    });
  }

  /** `POST <key>/v1/text-to-speech/{voice}[/stream]`: the whole text as one audio body. */
  async handleHttp(
    req: IncomingMessage,
    res: ServerResponse,
    voiceId: string,
    body: Buffer,
  ): Promise<void> {
    if (!req.headers['xi-api-key']) {
      return sendJson(res, 401, {
        detail: { status: 'invalid_api_key', message: 'missing xi-api-key' },
      });
    }
    const url = new URL(req.url ?? '/', 'http://x');
    const fmtName = url.searchParams.get('output_format') ?? 'mp3_44100_128';
    const format = parseFormat(fmtName);
    if (!format) {
      return sendJson(res, 400, {
        detail: {
          status: 'invalid_output_format',
          message: `${fmtName} is not supported by the stand-in`,
        },
      });
    }
    let payload: { text?: unknown; model_id?: unknown };
    try {
      payload = JSON.parse(body.toString('utf8'));
    } catch {
      return sendJson(res, 400, {
        detail: { status: 'invalid_json', message: 'body is not JSON' },
      });
    }
    if (typeof payload.text !== 'string' || !payload.text.trim()) {
      return sendJson(res, 422, { detail: [{ loc: ['body', 'text'], msg: 'field required' }] });
    }
    const started = Date.now();
    const entry: SpokenContext = {
      socket: 0,
      contextId: `http-${this.log.length + 1}`,
      voiceId,
      model: typeof payload.model_id === 'string' ? payload.model_id : 'eleven_flash_v2_5',
      outputFormat: format.name,
      pieces: [payload.text],
      text: payload.text,
      openedAt: started,
      audioMs: 0,
    };
    this.log.push(entry);
    const { samples, bytes } = await this.render(payload.text, voiceId, format);
    await sleepUntil(started + this.options.latencyMs);
    res.writeHead(200, {
      'content-type': format.ulaw ? 'audio/basic' : 'audio/pcm',
      'transfer-encoding': 'chunked',
    });
    entry.firstAudioAt = Date.now();
    const step = bytesPer(format, this.options.chunkMs);
    for (let i = 0; i < bytes.byteLength; i += step) {
      if (res.destroyed) break;
      res.write(bytes.subarray(i, i + step));
    }
    entry.audioMs = (samples.length * 1000) / format.sampleRate;
    entry.closedAt = entry.finalAt = Date.now();
    res.end();
  }

  /** @internal */
  _open(entry: SpokenContext): void {
    this.log.push(entry);
  }

  /** @internal */
  _render(text: string, voiceId: string, format: Format) {
    return this.render(text, voiceId, format);
  }
}

interface ContextState {
  id: string;
  buffer: string;
  chain: Promise<void>;
  /** Audio sent so far (ms): the origin of the next generation's alignment. */
  offsetMs: number;
  firstAudioSent: boolean;
  closing: boolean;
  entry: SpokenContext;
  scheduleIndex: number;
  schedule: number[];
}

interface SessionInfo {
  socket: number;
  voiceId: string;
  format: Format;
  model: string;
  autoMode: boolean;
  inactivityS: number;
  syncAlignment: boolean;
}

class MultiStreamSession {
  private readonly contexts = new Map<string, ContextState>();
  private inactivity: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(
    private readonly owner: ElevenLabsStandIn,
    private readonly ws: WebSocket,
    private readonly info: SessionInfo,
  ) {
    ws.on('message', (data) => this.onMessage(data));
    this.arm();
  }

  dispose(): void {
    this.closed = true;
    clearTimeout(this.inactivity);
  }

  private arm(): void {
    clearTimeout(this.inactivity);
    this.inactivity = setTimeout(() => {
      this.ws.close(
        1008,
        `Have not received a new text input within the timeout of ${this.info.inactivityS} seconds.`,
      );
    }, this.info.inactivityS * 1000);
  }

  private send(msg: unknown): void {
    if (!this.closed && this.ws.readyState === this.ws.OPEN) this.ws.send(JSON.stringify(msg));
  }

  private context(id: string): ContextState {
    let ctx = this.contexts.get(id);
    if (!ctx) {
      const entry: SpokenContext = {
        socket: this.info.socket,
        contextId: id,
        voiceId: this.info.voiceId,
        model: this.info.model,
        outputFormat: this.info.format.name,
        pieces: [],
        text: '',
        openedAt: Date.now(),
        audioMs: 0,
      };
      this.owner._open(entry);
      ctx = {
        id,
        buffer: '',
        chain: Promise.resolve(),
        offsetMs: 0,
        firstAudioSent: false,
        closing: false,
        entry,
        scheduleIndex: 0,
        schedule: DEFAULT_SCHEDULE,
      };
      this.contexts.set(id, ctx);
    }
    return ctx;
  }

  private onMessage(data: RawData): void {
    this.arm();
    let msg: {
      text?: unknown;
      context_id?: unknown;
      flush?: unknown;
      close_context?: unknown;
      close_socket?: unknown;
      generation_config?: { chunk_length_schedule?: unknown };
    };
    try {
      msg = JSON.parse(rawToString(data));
    } catch {
      this.send({ error: 'invalid_message', message: 'message is not JSON' });
      return;
    }
    if (msg.close_socket === true) {
      void this.closeSocket();
      return;
    }
    const id = typeof msg.context_id === 'string' && msg.context_id ? msg.context_id : 'default';
    if (msg.close_context === true) {
      const ctx = this.contexts.get(id);
      if (!ctx) {
        this.send({
          error: 'context_not_found',
          message: `context ${id} does not exist`,
          contextId: id,
        });
        return;
      }
      this.closeContext(ctx);
      return;
    }
    if (typeof msg.text !== 'string') {
      this.send({ error: 'invalid_message', message: 'text must be a string', contextId: id });
      return;
    }
    const ctx = this.context(id);
    if (ctx.closing) {
      this.send({ error: 'context_closed', message: `context ${id} is closed`, contextId: id });
      return;
    }
    const schedule = msg.generation_config?.chunk_length_schedule;
    if (Array.isArray(schedule) && schedule.every((n) => typeof n === 'number')) {
      ctx.schedule = schedule as number[];
    }
    ctx.buffer += msg.text;
    if (msg.flush === true) {
      this.generate(ctx, ctx.buffer);
      ctx.buffer = '';
      return;
    }
    if (this.info.autoMode) {
      // Whole sentences as they complete.
      const m = /^([\s\S]*[.!?])\s+/.exec(ctx.buffer);
      if (m) {
        this.generate(ctx, m[1]!);
        ctx.buffer = ctx.buffer.slice(m[0].length);
      }
      return;
    }
    const limit = ctx.schedule[Math.min(ctx.scheduleIndex, ctx.schedule.length - 1)] ?? 120;
    if (ctx.buffer.trim().length >= limit) {
      const cut = ctx.buffer.lastIndexOf(' ');
      if (cut > 0) {
        this.generate(ctx, ctx.buffer.slice(0, cut));
        ctx.buffer = ctx.buffer.slice(cut + 1);
        ctx.scheduleIndex++;
      }
    }
  }

  private closeContext(ctx: ContextState): void {
    if (ctx.closing) return;
    ctx.closing = true;
    ctx.entry.closedAt = Date.now();
    this.generate(ctx, ctx.buffer);
    ctx.buffer = '';
    ctx.chain = ctx.chain.then(() => {
      ctx.entry.finalAt = Date.now();
      this.send({ isFinal: true, contextId: ctx.id });
      this.contexts.delete(ctx.id);
    });
  }

  private async closeSocket(): Promise<void> {
    const all = [...this.contexts.values()];
    for (const ctx of all) this.closeContext(ctx);
    await Promise.all(all.map((c) => c.chain));
    this.ws.close(1000);
  }

  /** Queues the speech of `text` on the context, after what it already has to say. */
  private generate(ctx: ContextState, text: string): void {
    if (!text.trim()) return;
    const askedAt = Date.now();
    ctx.chain = ctx.chain
      .then(() => this.speakInto(ctx, text, askedAt))
      .catch((err: unknown) => {
        this.send({ error: 'generation_failed', message: String(err), contextId: ctx.id });
      });
  }

  private async speakInto(ctx: ContextState, text: string, askedAt: number): Promise<void> {
    if (this.closed) return;
    const format = this.info.format;
    const { samples, bytes } = await this.owner._render(text, this.info.voiceId, format);
    if (!ctx.firstAudioSent) await sleepUntil(askedAt + this.owner.options.latencyMs);
    if (this.closed) return;
    // Leading blanks (the context's " " opener) are not spoken; one trailing space keeps the
    // last word apart from the next generation's first.
    const chars = alignmentOf(`${text.trim()} `, samples, format.sampleRate, ctx.offsetMs);
    const step = bytesPer(format, this.owner.options.chunkMs);
    const msPerByte = 1000 / format.sampleRate / (format.ulaw ? 1 : 2);
    let c = 0;
    for (let i = 0; i < bytes.byteLength; i += step) {
      const chunk = bytes.subarray(i, i + step);
      const chunkEndMs = ctx.offsetMs + (i + chunk.byteLength) * msPerByte;
      const last = i + step >= bytes.byteLength;
      const part: typeof chars = [];
      while (c < chars.length && (last || chars[c]!.start < chunkEndMs)) part.push(chars[c++]!);
      const alignment = part.length
        ? {
            chars: part.map((p) => p.char),
            charStartTimesMs: part.map((p) => Math.round(p.start)),
            charDurationsMs: part.map((p) => Math.round(p.duration)),
          }
        : null;
      this.send({
        audio: chunk.toString('base64'),
        ...(this.info.syncAlignment ? { normalizedAlignment: alignment, alignment } : {}),
        contextId: ctx.id,
      });
      if (!ctx.firstAudioSent) {
        ctx.firstAudioSent = true;
        ctx.entry.firstAudioAt = Date.now();
      }
    }
    const ms = (samples.length * 1000) / format.sampleRate;
    ctx.offsetMs += ms;
    ctx.entry.audioMs += ms;
    ctx.entry.pieces.push(text.trim());
    ctx.entry.text = ctx.entry.pieces.map((p) => p.trim()).join(' ');
  }
}

/**
 * Character timings for `text` over the voiced part of `samples` (first to last 10 ms window
 * within 40 dB of the loudest), spaces weighted 0.5, offset by `originMs`.
 */
function alignmentOf(
  text: string,
  samples: Int16Array,
  sampleRate: number,
  originMs: number,
): Array<{ char: string; start: number; duration: number }> {
  const win = Math.max(1, Math.round(sampleRate / 100));
  const levels: number[] = [];
  for (let i = 0; i < samples.length; i += win) {
    let s = 0;
    const end = Math.min(samples.length, i + win);
    for (let j = i; j < end; j++) s += samples[j]! * samples[j]!;
    levels.push(s / Math.max(1, end - i));
  }
  const peak = Math.max(0, ...levels);
  const on = levels.findIndex((l) => l > peak * 1e-4);
  let off = levels.length - 1;
  while (off > 0 && levels[off]! <= peak * 1e-4) off--;
  const startMs = on < 0 ? 0 : on * 10;
  const endMs = on < 0 ? (samples.length * 1000) / sampleRate : (off + 1) * 10;
  const chars = [...text];
  const weights = chars.map((ch) => (/\s/.test(ch) ? 0.5 : 1));
  const total = weights.reduce((a, b) => a + b, 0) || 1;
  const span = Math.max(0, endMs - startMs);
  let at = originMs + startMs;
  return chars.map((char, i) => {
    const duration = (span * weights[i]!) / total;
    const item = { char, start: at, duration };
    at += duration;
    return item;
  });
}

function encode(samples: Int16Array, format: Format): Buffer {
  if (format.ulaw) return Buffer.from(mulawEncode(samples));
  return Buffer.from(samples.buffer, samples.byteOffset, samples.byteLength);
}

function bytesPer(format: Format, ms: number): number {
  const samples = Math.max(1, Math.round((format.sampleRate * ms) / 1000));
  return format.ulaw ? samples : samples * 2;
}

function rawToString(data: RawData): string {
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8');
  return Buffer.from(data as ArrayBuffer).toString('utf8');
}

function sleepUntil(at: number): Promise<void> {
  const ms = at - Date.now();
  return ms > 0 ? new Promise((r) => setTimeout(r, ms)) : Promise.resolve();
}
