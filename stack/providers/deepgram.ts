/**
 * Deepgram stand-in: the live websocket API (`/v1/listen`) and the pre-recorded REST API
 * (`POST /v1/listen`) as `@livekit/agents-plugin-deepgram` 1.9 speaks them, with a script instead
 * of a recogniser. It *hears* the audio: a speech detector (speech-detector.ts) finds where the
 * caller starts and stops talking in the PCM it receives, and each detected utterance is given
 * the next line of the script, worded over time like a streaming recogniser:
 *
 * - `SpeechStarted` (when `vad_events=true`) once speech is confirmed, timestamped at its onset;
 * - interim `Results` (when `interim_results=true`): the first `firstInterimMs` after the onset,
 *   then one more word every `wordIntervalMs` of audio while the utterance goes on;
 * - the final `Results` (`is_final` and `speech_final`) when the detector declares the end:
 *   `max(minSilenceMs, endpointing)` of audio after the last sound. Words are spread over the
 *   detected speech (by length), timestamps in seconds of audio received on this connection;
 * - `UtteranceEnd` `utterance_end_ms` after the last word (when asked for);
 * - on `Finalize`: the words so far as a final (`from_finalize: true`); on `CloseStream`: the
 *   final of an open utterance, then `Metadata`, then the socket closes (1000).
 *
 * Every message leaves `latencyMs` after the audio that caused it arrived (order kept). No audio
 * and no text for `idleTimeoutMs` (Deepgram: 10 s) closes the socket with 1011, as Deepgram does.
 * An utterance left open when audio stops arriving (a muted track) ends after `stallMs` of wall
 * time – something Deepgram does not do; it keeps a stuck stream from holding a turn forever.
 */
import { createHash, randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { RawData, WebSocket } from 'ws';
import { readWav } from '../../src/core/wav.js';
import { mulawDecode } from './g711.js';
import {
  detectSegments,
  SpeechDetector,
  type SpeechDetectorEvent,
  type SpeechDetectorOptions,
  speechDetectorDefaults,
} from './speech-detector.js';

export interface SttUtterance {
  /** What the caller "said", as the transcript should read ("" = heard, but no words). */
  text: string;
  /** Confidence reported for it and its words (default 0.98). */
  confidence?: number;
}

export type SttScriptLine = string | SttUtterance;

export interface SttStandInOptions {
  /** The caller's utterances in order; each detected utterance takes the next one. */
  script?: SttScriptLine[];
  /** What an utterance gets when the script has run out ("" = an empty final, the default). */
  fallback?: string;
  /** Delay added to every message (ms). */
  latencyMs?: number;
  /** First interim this long after the onset (ms of audio). */
  firstInterimMs?: number;
  /** One more word per interim every this many ms of audio. */
  wordIntervalMs?: number;
  /** Speech detector settings (thresholds, minSilenceMs). */
  detector?: Partial<Omit<SpeechDetectorOptions, 'sampleRate'>>;
  /** Close a connection that sent nothing for this long (ms; 0 = never). Deepgram: 10 s. */
  idleTimeoutMs?: number;
  /** End an open utterance when no audio arrived for this long (ms of wall time; 0 = never). */
  stallMs?: number;
}

export const sttStandInDefaults = {
  fallback: '',
  latencyMs: 0,
  firstInterimMs: 250,
  wordIntervalMs: 300,
  idleTimeoutMs: 10_000,
  stallMs: 1500,
} as const;

/** One utterance the stand-in heard. Times: `*S` in seconds of the connection's audio,
 * `*At` in Date.now() ms (estimated from when the audio arrived). */
export interface HeardUtterance {
  connection: number;
  /** Script key of the connection (see `sttKey`), "" for the default. */
  key: string;
  onsetS: number;
  onsetAt: number;
  /** When the detector was sure it is speech. */
  confirmedAt: number;
  offsetS?: number;
  offsetAt?: number;
  /** When the end was declared (Date.now(), before latency). */
  endedAt?: number;
  /** The transcript it was given, and where it came from. */
  transcript: string;
  source: 'script' | 'fallback';
  interims: number;
  /** When the first interim (the first words) was sent (Date.now(), before latency). */
  firstInterimAt?: number;
  /** When the final Results was sent (after latency). */
  finalSentAt?: number;
  /** The connection closed before the final: the script line was put back. */
  aborted?: boolean;
}

export interface SttConnectionInfo {
  id: number;
  key: string;
  requestId: string;
  openedAt: number;
  closedAt?: number;
  closeCode?: number;
  query: Record<string, string>;
  sampleRate: number;
  /** Audio received (s). */
  audioS: number;
  /** Text messages received, by type (KeepAlive, Finalize, CloseStream). */
  controls: Record<string, number>;
}

interface ScriptQueue {
  lines: SttUtterance[];
  fallback?: string;
}

interface QueryOptions {
  sampleRate: number;
  channels: number;
  encoding: 'linear16' | 'mulaw';
  interim: boolean;
  vadEvents: boolean;
  /** ms, or false (no speech_final). */
  endpointing: number | false;
  utteranceEndMs?: number;
  punctuate: boolean;
  model: string;
  language: string;
}

const MODEL_UUID = '1dbdfb4d-85b2-4659-9a2b-3b8d1b1f0000';

function toUtterance(line: SttScriptLine): SttUtterance {
  return typeof line === 'string' ? { text: line } : line;
}

/** The Deepgram stand-in: connections, script and what it heard. */
export class DeepgramStandIn {
  readonly options: Required<Omit<SttStandInOptions, 'script' | 'detector'>> & {
    detector: Partial<Omit<SpeechDetectorOptions, 'sampleRate'>>;
  };
  private readonly global: ScriptQueue = { lines: [] };
  private readonly keyed = new Map<string, ScriptQueue>();
  private readonly perConnection = new Map<number, ScriptQueue>();
  private readonly connections = new Map<number, LiveConnection>();
  private readonly infos: SttConnectionInfo[] = [];
  private readonly heardLog: HeardUtterance[] = [];
  private nextId = 1;
  private readonly listeners = new Set<(u: HeardUtterance) => void>();

  constructor(opts: SttStandInOptions = {}) {
    this.options = {
      ...sttStandInDefaults,
      ...stripUndefined(opts),
      detector: opts.detector ?? {},
    } as DeepgramStandIn['options'];
    this.global.lines = (opts.script ?? []).map(toUtterance);
  }

  /**
   * Replaces the utterances still to come: for every connection (default), for connections of
   * one script key (`key`, the path prefix of the base URL), or for one connection.
   */
  setScript(
    lines: SttScriptLine[],
    target: { key?: string; connection?: number; fallback?: string } = {},
  ): void {
    const queue: ScriptQueue = {
      lines: lines.map(toUtterance),
      ...(target.fallback !== undefined ? { fallback: target.fallback } : {}),
    };
    if (target.connection !== undefined) this.perConnection.set(target.connection, queue);
    else if (target.key) this.keyed.set(target.key, queue);
    else {
      this.global.lines = queue.lines;
      if (target.fallback !== undefined) this.global.fallback = target.fallback;
    }
  }

  /** Adds utterances after those still to come (global script). */
  appendScript(lines: SttScriptLine[]): void {
    this.global.lines.push(...lines.map(toUtterance));
  }

  /** Utterances of the global script not yet heard. */
  pending(): SttUtterance[] {
    return [...this.global.lines];
  }

  setLatency(ms: number): void {
    this.options.latencyMs = ms;
  }

  /** Everything heard so far, in order of onset confirmation. */
  heard(): HeardUtterance[] {
    return this.heardLog.map((u) => ({ ...u }));
  }

  /** Calls `fn` with each utterance when its final has been sent. */
  onHeard(fn: (u: HeardUtterance) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  connectionsInfo(): SttConnectionInfo[] {
    return this.infos.map((c) => ({ ...c, query: { ...c.query }, controls: { ...c.controls } }));
  }

  /** Forgets what was heard and the connections' history (open connections stay). */
  clearLog(): void {
    this.heardLog.length = 0;
  }

  /** @internal the next script line for a connection. */
  _take(
    connection: number,
    key: string,
  ): { utterance: SttUtterance; source: 'script' | 'fallback'; giveBack: () => void } {
    const queue =
      this.perConnection.get(connection) ?? (key ? this.keyed.get(key) : undefined) ?? this.global;
    const lines = queue.lines;
    const next = lines.shift();
    if (next) return { utterance: next, source: 'script', giveBack: () => lines.unshift(next) };
    return {
      giveBack: () => {},
      utterance: { text: queue.fallback ?? this.global.fallback ?? this.options.fallback },
      source: 'fallback',
    };
  }

  /** @internal */
  _record(u: HeardUtterance): void {
    this.heardLog.push(u);
  }

  /** @internal */
  _finalSent(u: HeardUtterance): void {
    for (const fn of this.listeners) fn({ ...u });
  }

  /** Handles an accepted websocket on `<key>/v1/listen`. */
  handleSocket(ws: WebSocket, req: IncomingMessage, key: string): void {
    const url = new URL(req.url ?? '/', 'http://x');
    const q = parseQuery(url.searchParams);
    if (typeof q === 'string') {
      ws.close(1008, q);
      return;
    }
    const id = this.nextId++;
    const info: SttConnectionInfo = {
      id,
      key,
      requestId: randomUUID(),
      openedAt: Date.now(),
      query: Object.fromEntries(url.searchParams),
      sampleRate: q.sampleRate,
      audioS: 0,
      controls: {},
    };
    this.infos.push(info);
    const conn = new LiveConnection(this, ws, info, q);
    this.connections.set(id, conn);
    ws.once('close', (code) => {
      info.closedAt = Date.now();
      info.closeCode = code;
      conn.dispose();
      this.connections.delete(id);
      this.perConnection.delete(id);
    });
  }

  /** The query-string check of an upgrade: an error text for a 400, or undefined. */
  checkUpgrade(req: IncomingMessage): { status: number; message: string } | undefined {
    const auth = req.headers.authorization ?? '';
    if (!/^(Token|Bearer)\s+\S+/i.test(auth)) {
      return { status: 401, message: 'Invalid credentials.' };
    }
    const q = parseQuery(new URL(req.url ?? '/', 'http://x').searchParams);
    return typeof q === 'string' ? { status: 400, message: q } : undefined;
  }

  /** `POST /v1/listen`: a pre-recorded file (WAV, or raw with encoding/sample_rate). */
  async handleRest(
    req: IncomingMessage,
    res: ServerResponse,
    key: string,
    body: Buffer,
  ): Promise<void> {
    const auth = req.headers.authorization ?? '';
    if (!/^(Token|Bearer)\s+\S+/i.test(auth)) {
      return sendJson(res, 401, { err_code: 'INVALID_AUTH', err_msg: 'Invalid credentials.' });
    }
    const url = new URL(req.url ?? '/', 'http://x');
    let samples: Int16Array;
    let sampleRate: number;
    try {
      if (body.subarray(0, 4).toString('latin1') === 'RIFF') {
        const wav = readWav(new Uint8Array(body));
        sampleRate = wav.sampleRate;
        samples = firstChannel(wav.samples, wav.channels);
      } else {
        sampleRate = Number(url.searchParams.get('sample_rate') ?? 16000);
        const encoding = url.searchParams.get('encoding') ?? 'linear16';
        samples =
          encoding === 'mulaw'
            ? mulawDecode(new Uint8Array(body))
            : new Int16Array(
                body.buffer.slice(body.byteOffset, body.byteOffset + (body.byteLength & ~1)),
              );
      }
    } catch (err) {
      return sendJson(res, 400, { err_code: 'Bad Request', err_msg: (err as Error).message });
    }
    const segments = detectSegments(samples, { ...this.options.detector, sampleRate });
    const punctuate = flag(url.searchParams, 'punctuate') || flag(url.searchParams, 'smart_format');
    const requestId = randomUUID();
    const words: DgWord[] = [];
    const texts: string[] = [];
    let confidence = 0;
    for (const s of segments) {
      const { utterance, source } = this._take(0, key);
      const onsetS = s.onsetSample / sampleRate;
      const offsetS = s.offsetSample / sampleRate;
      this._record({
        connection: 0,
        key,
        onsetS,
        offsetS,
        onsetAt: Date.now(),
        confirmedAt: Date.now(),
        offsetAt: Date.now(),
        endedAt: Date.now(),
        transcript: utterance.text,
        source,
        interims: 0,
        finalSentAt: Date.now(),
      });
      const tokens = tokenize(utterance.text);
      if (tokens.length === 0) continue;
      const conf = utterance.confidence ?? 0.98;
      confidence = Math.max(confidence, conf);
      words.push(...timeWords(tokens, onsetS, offsetS, conf));
      texts.push(transcriptOf(tokens, punctuate));
    }
    const duration = samples.length / sampleRate;
    sendJson(res, 200, {
      metadata: {
        transaction_key: 'deprecated',
        request_id: requestId,
        sha256: createHash('sha256').update(body).digest('hex'),
        created: new Date().toISOString(),
        duration,
        channels: 1,
        models: [MODEL_UUID],
        model_info: modelInfo(url.searchParams.get('model') ?? 'nova-3'),
      },
      results: {
        channels: [{ alternatives: [{ transcript: texts.join(' '), confidence, words }] }],
      },
    });
  }

  /** Closes every open connection (server shutdown). */
  closeAll(): void {
    for (const c of this.connections.values()) c.terminate();
  }
}

interface DgWord {
  word: string;
  start: number;
  end: number;
  confidence: number;
  punctuated_word: string;
}

interface Current {
  /** Puts the script line back (the connection closed before its final). */
  giveBack: () => void;
  onsetSample: number;
  tokens: Token[];
  confidence: number;
  heard: HeardUtterance;
  interimsSent: number;
  finalized: boolean;
}

/** One live websocket: audio in, detector, script, results out. */
class LiveConnection {
  private readonly detector: SpeechDetector;
  private leftover: Buffer | undefined;
  private samples = 0;
  private current: Current | undefined;
  private coverStartS = 0;
  private utteranceEnd: { dueSample: number; lastWordEnd: number } | undefined;
  private lastDue = 0;
  private readonly timers = new Set<NodeJS.Timeout>();
  private idleTimer: NodeJS.Timeout | undefined;
  private stallTimer: NodeJS.Timeout | undefined;
  private readonly arrivals: Array<{ endSample: number; at: number }> = [];
  private closing = false;

  constructor(
    private readonly owner: DeepgramStandIn,
    private readonly ws: WebSocket,
    private readonly info: SttConnectionInfo,
    private readonly q: QueryOptions,
  ) {
    const minSilenceMs = Math.max(
      owner.options.detector.minSilenceMs ?? speechDetectorDefaults.minSilenceMs,
      q.endpointing === false ? 0 : q.endpointing,
    );
    this.detector = new SpeechDetector({
      ...owner.options.detector,
      minSilenceMs,
      sampleRate: q.sampleRate,
    });
    ws.on('message', (data, isBinary) => this.onMessage(data, isBinary));
    this.armIdle();
  }

  dispose(): void {
    // Closed in the middle of an utterance (the plugin reconnects to change options): its line
    // goes back to the script, so the next connection hears it again.
    const cur = this.current;
    if (cur && !cur.finalized && cur.heard.finalSentAt === undefined) {
      cur.giveBack();
      cur.heard.aborted = true;
      this.current = undefined;
    }
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    clearTimeout(this.idleTimer);
    clearTimeout(this.stallTimer);
  }

  terminate(): void {
    this.dispose();
    this.ws.terminate();
  }

  private armIdle(): void {
    clearTimeout(this.idleTimer);
    const ms = this.owner.options.idleTimeoutMs;
    if (ms > 0) {
      this.idleTimer = setTimeout(() => {
        // Deepgram's NET-0001: nothing received within the timeout window.
        this.ws.close(
          1011,
          'Deepgram did not receive audio data or a text message within the timeout window. See https://dpgr.am/net0001',
        );
      }, ms);
    }
  }

  private onMessage(data: RawData, isBinary: boolean): void {
    if (this.closing) return;
    this.armIdle();
    const buf = Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data as ArrayBuffer);
    if (!isBinary) {
      let msg: { type?: string };
      try {
        msg = JSON.parse(buf.toString('utf8'));
      } catch {
        msg = {};
      }
      const type = msg.type ?? 'unknown';
      this.info.controls[type] = (this.info.controls[type] ?? 0) + 1;
      if (type === 'Finalize') this.finalizeNow();
      else if (type === 'CloseStream') this.closeStream();
      return;
    }
    this.onAudio(buf);
  }

  private onAudio(buf: Buffer): void {
    let pcm: Int16Array;
    if (this.q.encoding === 'mulaw') {
      pcm = mulawDecode(new Uint8Array(buf));
    } else {
      const joined = this.leftover ? Buffer.concat([this.leftover, buf]) : buf;
      const even = joined.byteLength & ~1;
      this.leftover = even < joined.byteLength ? joined.subarray(even) : undefined;
      const copy = new Uint8Array(joined.subarray(0, even));
      pcm = new Int16Array(copy.buffer, 0, even / 2);
    }
    const mono = firstChannel(pcm, this.q.channels);
    this.samples += mono.length;
    this.info.audioS = this.samples / this.q.sampleRate;
    this.arrivals.push({ endSample: this.samples, at: Date.now() });
    if (this.arrivals.length > 400) this.arrivals.shift();
    for (const ev of this.detector.push(mono)) this.onDetector(ev);
    this.afterAudio();
  }

  /** Date.now() at which audio sample `sample` arrived (interpolated from chunk arrivals). */
  private wallAt(sample: number): number {
    for (const a of this.arrivals) {
      if (a.endSample >= sample) return a.at - ((a.endSample - sample) * 1000) / this.q.sampleRate;
    }
    return Date.now();
  }

  private s(sample: number): number {
    return sample / this.q.sampleRate;
  }

  private onDetector(ev: SpeechDetectorEvent): void {
    if (ev.type === 'onset') {
      this.utteranceEnd = undefined;
      const { utterance, source, giveBack } = this.owner._take(this.info.id, this.info.key);
      const heard: HeardUtterance = {
        connection: this.info.id,
        key: this.info.key,
        onsetS: this.s(ev.onsetSample),
        onsetAt: this.wallAt(ev.onsetSample),
        confirmedAt: Date.now(),
        transcript: utterance.text,
        source,
        interims: 0,
      };
      this.owner._record(heard);
      this.current = {
        onsetSample: ev.onsetSample,
        tokens: tokenize(utterance.text),
        confidence: utterance.confidence ?? 0.98,
        heard,
        interimsSent: 0,
        finalized: false,
        giveBack,
      };
      if (this.q.vadEvents) {
        this.send({ type: 'SpeechStarted', channel: [0, 1], timestamp: this.s(ev.onsetSample) });
      }
      this.armStall();
      return;
    }
    const cur = this.current;
    if (!cur) return;
    cur.heard.offsetS = this.s(ev.offsetSample);
    cur.heard.offsetAt = this.wallAt(ev.offsetSample);
    cur.heard.endedAt = Date.now();
    this.endUtterance(cur, ev.offsetSample, ev.atSample);
  }

  /** The final (or, after a Finalize, the closing speech_final) of an utterance. */
  private endUtterance(cur: Current, offsetSample: number, atSample: number): void {
    this.current = undefined;
    clearTimeout(this.stallTimer);
    const speechFinal = this.q.endpointing !== false;
    const words = cur.finalized
      ? []
      : timeWords(cur.tokens, this.s(cur.onsetSample), this.s(offsetSample), cur.confidence);
    this.sendResults(words, cur, { isFinal: true, speechFinal, atSample });
    if (this.q.utteranceEndMs !== undefined && cur.tokens.length > 0) {
      const lastWordEnd = this.s(offsetSample);
      this.utteranceEnd = {
        lastWordEnd,
        dueSample: offsetSample + Math.round((this.q.utteranceEndMs * this.q.sampleRate) / 1000),
      };
    }
  }

  private afterAudio(): void {
    const cur = this.current;
    if (cur && !cur.finalized && this.q.interim && cur.tokens.length > 0) {
      const sr = this.q.sampleRate;
      const o = this.owner.options;
      const heardMs = ((this.samples - cur.onsetSample) * 1000) / sr;
      const due =
        heardMs < o.firstInterimMs
          ? 0
          : Math.min(
              cur.tokens.length,
              1 + Math.floor((heardMs - o.firstInterimMs) / Math.max(1, o.wordIntervalMs)),
            );
      if (due > cur.interimsSent) {
        cur.interimsSent = due;
        if (cur.heard.interims === 0) cur.heard.firstInterimAt = Date.now();
        cur.heard.interims++;
        const upTo = this.detector.speaking ? this.samples : this.detector.lastSoundEnd;
        const words = timeWords(
          cur.tokens.slice(0, due),
          this.s(cur.onsetSample),
          this.s(Math.max(upTo, cur.onsetSample + 1)),
          cur.confidence,
        );
        this.sendResults(words, cur, {
          isFinal: false,
          speechFinal: false,
          atSample: this.samples,
        });
      }
    }
    const ue = this.utteranceEnd;
    if (ue && this.samples >= ue.dueSample) {
      this.utteranceEnd = undefined;
      this.send({ type: 'UtteranceEnd', channel: [0, 1], last_word_end: ue.lastWordEnd });
    }
    if (this.current) this.armStall();
  }

  private armStall(): void {
    clearTimeout(this.stallTimer);
    const ms = this.owner.options.stallMs;
    if (ms <= 0) return;
    this.stallTimer = setTimeout(() => {
      if (this.closing) return;
      for (const ev of this.detector.flush()) this.onDetector(ev);
    }, ms);
  }

  private finalizeNow(): void {
    const cur = this.current;
    if (cur && !cur.finalized) {
      const end = this.detector.speaking ? this.samples : this.detector.lastSoundEnd;
      const words = timeWords(cur.tokens, this.s(cur.onsetSample), this.s(end), cur.confidence);
      cur.finalized = true;
      this.sendResults(words, cur, {
        isFinal: true,
        speechFinal: false,
        atSample: this.samples,
        fromFinalize: true,
      });
      return;
    }
    this.sendResults([], undefined, {
      isFinal: true,
      speechFinal: false,
      atSample: this.samples,
      fromFinalize: true,
    });
  }

  private closeStream(): void {
    for (const ev of this.detector.flush()) this.onDetector(ev);
    this.closing = true;
    this.send({
      type: 'Metadata',
      transaction_key: 'deprecated',
      request_id: this.info.requestId,
      sha256: createHash('sha256').update(String(this.info.id)).digest('hex'),
      created: new Date(this.info.openedAt).toISOString(),
      duration: this.s(this.samples),
      channels: 1,
      models: [MODEL_UUID],
      model_info: { [MODEL_UUID]: modelInfo(this.q.model) },
    });
    this.schedule(() => this.ws.close(1000));
  }

  private sendResults(
    words: DgWord[],
    cur: Current | undefined,
    o: { isFinal: boolean; speechFinal: boolean; atSample: number; fromFinalize?: boolean },
  ): void {
    const now = this.s(o.atSample);
    const start = this.coverStartS;
    if (o.isFinal) this.coverStartS = now;
    const tokens = words.map((w) => ({ word: w.word, punctuated: w.punctuated_word }));
    const msg = {
      type: 'Results',
      channel_index: [0, 1],
      duration: Math.max(0, now - start),
      start,
      is_final: o.isFinal,
      speech_final: o.speechFinal,
      channel: {
        alternatives: [
          {
            transcript: transcriptOf(tokens, this.q.punctuate),
            confidence: words.length ? (cur?.confidence ?? 0.98) : 0,
            words,
          },
        ],
      },
      metadata: {
        request_id: this.info.requestId,
        model_info: modelInfo(this.q.model),
        model_uuid: MODEL_UUID,
      },
      from_finalize: o.fromFinalize ?? false,
    };
    const isTheFinal = o.isFinal && cur !== undefined && (o.speechFinal || o.fromFinalize);
    this.send(msg, () => {
      if (isTheFinal && cur && cur.heard.finalSentAt === undefined) {
        cur.heard.finalSentAt = Date.now();
        this.owner._finalSent(cur.heard);
      }
    });
  }

  /** Sends `latencyMs` from now, never before an earlier message. */
  private send(msg: unknown, after?: () => void): void {
    const text = JSON.stringify(msg);
    this.schedule(() => {
      if (this.ws.readyState === this.ws.OPEN) this.ws.send(text);
      after?.();
    });
  }

  private schedule(fn: () => void): void {
    const now = Date.now();
    const due = Math.max(now + this.owner.options.latencyMs, this.lastDue);
    this.lastDue = due;
    if (due <= now) {
      fn();
      return;
    }
    const t = setTimeout(() => {
      this.timers.delete(t);
      fn();
    }, due - now);
    this.timers.add(t);
  }
}

// ── helpers ───────────────────────────────────────────────────────────────────────────────

interface Token {
  /** Lower case, without punctuation (Deepgram's `word`). */
  word: string;
  /** As written (Deepgram's `punctuated_word`). */
  punctuated: string;
}

function tokenize(text: string): Token[] {
  return text
    .trim()
    .split(/\s+/)
    .filter(Boolean)
    .map((t) => ({
      punctuated: t,
      word: t.toLowerCase().replace(/[^\p{L}\p{N}'-]+/gu, '') || t.toLowerCase(),
    }));
}

function transcriptOf(tokens: readonly Token[], punctuate: boolean): string {
  return tokens.map((t) => (punctuate ? t.punctuated : t.word)).join(' ');
}

/** Words spread over [startS, endS] by their length. */
function timeWords(tokens: readonly Token[], startS: number, endS: number, conf: number): DgWord[] {
  const weights = tokens.map((t) => t.word.length + 1);
  const total = weights.reduce((a, b) => a + b, 0);
  const span = Math.max(0, endS - startS);
  const out: DgWord[] = [];
  let at = startS;
  tokens.forEach((t, i) => {
    const d = total ? (span * weights[i]!) / total : 0;
    out.push({
      word: t.word,
      start: round3(at),
      end: round3(at + d),
      confidence: conf,
      punctuated_word: t.punctuated,
    });
    at += d;
  });
  return out;
}

function round3(x: number): number {
  return Math.round(x * 1000) / 1000;
}

function modelInfo(model: string) {
  return { name: `general-${model}`, version: '2026-01-01.0', arch: model };
}

function firstChannel(samples: Int16Array, channels: number): Int16Array {
  if (channels <= 1) return samples;
  const out = new Int16Array(Math.floor(samples.length / channels));
  for (let i = 0; i < out.length; i++) out[i] = samples[i * channels]!;
  return out;
}

function flag(p: URLSearchParams, name: string, fallback = false): boolean {
  const v = p.get(name);
  return v === null ? fallback : v === 'true';
}

function parseQuery(p: URLSearchParams): QueryOptions | string {
  const encoding = p.get('encoding') ?? 'linear16';
  if (encoding !== 'linear16' && encoding !== 'mulaw') {
    return `encoding ${encoding} is not supported by the stand-in (linear16, mulaw)`;
  }
  const sampleRate = Number(p.get('sample_rate') ?? (encoding === 'mulaw' ? 8000 : 16000));
  if (!Number.isInteger(sampleRate) || sampleRate < 8000 || sampleRate > 48000) {
    return `sample_rate must be an integer between 8000 and 48000`;
  }
  const channels = Number(p.get('channels') ?? 1);
  if (!Number.isInteger(channels) || channels < 1) return 'channels must be a positive integer';
  const ep = p.get('endpointing');
  const endpointing = ep === 'false' ? false : ep === null || ep === 'true' ? 10 : Number(ep);
  if (endpointing !== false && !Number.isFinite(endpointing))
    return 'endpointing must be ms or false';
  const ue = p.get('utterance_end_ms');
  return {
    sampleRate,
    channels,
    encoding,
    interim: flag(p, 'interim_results'),
    vadEvents: flag(p, 'vad_events'),
    endpointing,
    ...(ue !== null && Number.isFinite(Number(ue)) ? { utteranceEndMs: Number(ue) } : {}),
    punctuate: flag(p, 'punctuate') || flag(p, 'smart_format'),
    model: p.get('model') ?? 'nova-3',
    language: p.get('language') ?? 'en',
  };
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
  });
  res.end(text);
}
