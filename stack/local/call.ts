/**
 * One real call to the local stack with the bundled phone (`npm run stack:call`): a baresip
 * phone inside the stack's namespace dials the routed number through the SIP bridge, waits for
 * the agent's greeting to end, plays each caller WAV as a turn (waiting for the agent's reply
 * after each), hangs up (unless the agent did), and reads the call back: the phone's recordings
 * (what the caller heard and sent, on one time line) and the API's signed call events
 * (call.started, call.answered, call.ended, call.summary with the transcript and the agent's own
 * turn latencies).
 */
import { type ChildProcess, execFile } from 'node:child_process';
import { closeSync, copyFileSync, existsSync, mkdirSync, openSync } from 'node:fs';
import { basename, join, relative } from 'node:path';
import { attachNetns, sleep } from '../netns.js';
import { alignRecordings, RecordingTail, type Segment, speechInWav } from '../phone-audio.js';
import { type Phone, type PhoneHost, prepareMicWav, startPhone } from '../phones.js';
import type { LocalStackInfo } from './state.js';

export interface CallTurn {
  /** The caller's audio for this turn (any file sox reads). */
  wav: string;
  /** What it says (for the timeline; the STT stand-in's script is set by the caller of placeCall). */
  says?: string;
}

/** A turn's audio as the phone plays it (8 kHz mono PCM16), its length and its speech. */
export interface PreparedTurn extends CallTurn {
  mic: string;
  seconds: number;
  speech: Segment[];
}

/** Converts each turn's audio for the phone (under `<out>/phone/`); errors name the file. */
export async function prepareTurns(turns: CallTurn[], out: string): Promise<PreparedTurn[]> {
  const dir = join(out, 'phone');
  mkdirSync(dir, { recursive: true });
  const prepared: PreparedTurn[] = [];
  for (const [i, t] of turns.entries()) {
    if (!existsSync(t.wav)) throw new CallError(`${t.wav}: no such file`);
    const seconds = await new Promise<number>((resolve, reject) =>
      execFile('soxi', ['-D', t.wav], (err, stdout) =>
        err ? reject(err) : resolve(Number(stdout.trim())),
      ),
    ).catch((err: unknown) => {
      throw new CallError(`${t.wav}: not an audio file sox reads (${firstLine(err)})`);
    });
    const mic = join(dir, `turn-${i + 1}.wav`);
    await prepareMicWav(t.wav, mic, Math.max(0.5, seconds));
    prepared.push({ ...t, mic, seconds: Math.max(0.5, seconds), speech: speechInWav(mic) });
  }
  return prepared;
}

export interface PlaceCallOptions {
  info: LocalStackInfo;
  turns: PreparedTurn[];
  /** Output folder: heard.wav, sent.wav, timeline.json, phone/ (baresip's files). */
  out: string;
  /** The caller's number (user part of the phone's URI). */
  caller: string;
  /** Dialed number (default the stack's). */
  number?: string;
  /** Progress lines. */
  log?: (line: string) => void;
  /** Silence (s) after the agent's speech that counts as its turn being over. Default 1.2. */
  quietS?: number;
}

/** The fields of call events' data read here (src/api/routes/livekit-webhook.ts, call-report.ts). */
export interface CallEventData {
  direction?: string;
  from?: string;
  to?: string;
  reason?: string;
  durationS?: number;
  outcome?: string;
  endedBy?: string;
  agents?: string[];
  startedAt?: string;
  transcript?: Array<{
    t: number;
    role: 'caller' | 'agent';
    text: string;
    agent?: string;
    interrupted?: boolean;
  }>;
  metrics?: {
    turnLatency?: { count: number; p50: number | null; p95: number | null; valuesMs: number[] };
    interruptions?: number;
  };
  [key: string]: unknown;
}

export interface CallEventRecord {
  id: string;
  type: string;
  createdAt: string;
  callId: string;
  data: CallEventData;
  receivedAt: number | null;
}

export interface PhoneTurn {
  wav: string;
  says?: string;
  /** When the turn's audio started to play (ms since epoch). */
  playedAt: number;
  /** Caller speech in the sent recording (s, sent time line). */
  speech: Segment[];
  /** First agent audio heard after the caller's last word (s, sent time line). */
  replyAt?: number;
  /** Caller's last word sent → agent's first audio heard (ms). */
  latencyMs?: number;
}

export interface CallResult {
  callId: string | undefined;
  caller: string;
  number: string;
  dialedAt: number;
  answeredAt: number;
  closedAt: number;
  closedBy: 'caller' | 'agent';
  closeReason: string;
  inviteTo200Ms: number;
  /** Answer → first agent audio heard (ms). */
  greetingAfterAnswerMs?: number;
  /** Heard speech on the sent time line (s since the sent recording started). */
  heardSpeech: Segment[];
  /** Wall clock of the sent recording's start (ms since epoch). */
  recordingStartAt: number;
  turns: PhoneTurn[];
  events: CallEventRecord[];
  heardWav: string;
  sentWav: string;
}

export class CallError extends Error {
  override name = 'CallError';
}

/** A PhoneHost on the running stack's namespace: baresip runs inside it, logs under `dir`. */
async function phoneHost(info: LocalStackInfo, dir: string): Promise<PhoneHost> {
  // Ports apart from the supervisor's (20 000+) and from another stack:call's.
  const netns = await attachNetns(info.netns, 30_000 + (process.pid % 1000) * 24);
  return {
    netns,
    logsDir: dir,
    spawn(cmd, args, o = {}) {
      let fd: number | undefined;
      if (!o.stdio) {
        const log = join(dir, `${o.logName ?? basename(cmd)}.log`);
        mkdirSync(join(log, '..'), { recursive: true });
        fd = openSync(log, 'a');
      }
      const child: ChildProcess = netns.spawn(cmd, args, {
        stdio: o.stdio ?? ['ignore', fd!, fd!],
      });
      if (fd !== undefined) closeSync(fd);
      child.on('error', () => {});
      return child;
    },
  };
}

async function fetchEvents(info: LocalStackInfo): Promise<CallEventRecord[]> {
  const res = await fetch(info.eventsUrl, { signal: AbortSignal.timeout(3_000) });
  if (!res.ok) throw new Error(`GET ${info.eventsUrl}: ${res.status}`);
  return ((await res.json()) as { events: CallEventRecord[] }).events;
}

export async function placeCall(o: PlaceCallOptions): Promise<CallResult> {
  const log = o.log ?? (() => {});
  const number = o.number ?? o.info.number;
  const quietS = o.quietS ?? 1.2;
  mkdirSync(o.out, { recursive: true });
  const turns = o.turns;

  const host = await phoneHost(o.info, o.out);
  const phone: Phone = await startPhone(host, {
    user: o.caller,
    name: 'phone',
    micSeconds: 900,
  });
  let closed: { at: number; reason: string; by: 'caller' | 'agent' } | undefined;
  try {
    const dialedAt = Date.now();
    log(`dialing ${o.info.sipUri.replace(o.info.number, number)} from ${o.caller}`);
    await phone.dial(`sip:${number}@${o.info.sipHost}:${o.info.sipPort}`);
    const first = await Promise.race([
      phone.waitForEvent('CALL_ESTABLISHED', { since: dialedAt, timeoutMs: 30_000 }),
      phone.waitForEvent('CALL_CLOSED', { since: dialedAt, timeoutMs: 30_000 }),
    ]).catch(() => {
      // The bridge answers once an agent joined the call's room: no worker took the job.
      throw new CallError(
        `the call was not answered in 30 s (${phone.events.map((e) => e.type).join(', ') || 'no answer'}): ` +
          `is the worker up? see ${o.info.logsDir}/worker.log`,
      );
    });
    if (first.type === 'CALL_CLOSED') {
      throw new CallError(
        `the call was not answered: ${first.param ?? 'closed'}` +
          (first.sipStatus === 404
            ? ` (is ${number} routed? GET ${o.info.apiUrl}/v1/numbers)`
            : ''),
      );
    }
    const answeredAt = first.at;
    log(`answered after ${answeredAt - dialedAt} ms`);
    void phone
      .waitForEvent('CALL_CLOSED', { since: dialedAt, timeoutMs: 3_600_000 })
      .then((e) => {
        closed ??= { at: e.at, reason: e.param ?? 'closed', by: 'agent' };
      })
      .catch(() => undefined);

    const tail = new RecordingTail(join(phone.dir, 'rec'));
    /** Waits for the agent to speak after `sinceS` (recording time) and then be quiet. */
    const agentDone = async (
      sinceS: number,
      firstSpeechS: number,
    ): Promise<'done' | 'silent' | 'closed'> => {
      const startedWall = Date.now();
      for (;;) {
        if (closed) return 'closed';
        tail.poll();
        const now = tail.seconds();
        const spoke = tail.segments.filter((s) => s.start >= sinceS - 0.05);
        if (tail.current === undefined && spoke.length && now - spoke.at(-1)!.end >= quietS) {
          return 'done';
        }
        if (
          !spoke.length &&
          tail.current === undefined &&
          Date.now() - startedWall > firstSpeechS * 1000
        ) {
          return 'silent';
        }
        if (Date.now() - startedWall > 120_000) return 'done';
        await sleep(100);
      }
    };

    const greeting = await agentDone(0, 10);
    log(greeting === 'silent' ? 'no greeting heard in 10 s; talking anyway' : 'greeting heard');
    const played: Array<{ at: number; seconds: number }> = [];
    for (const [i, t] of turns.entries()) {
      if (closed) break;
      await sleep(300);
      const sinceS = tail.seconds();
      const at = Date.now();
      await phone.play(t.mic, t.seconds + 600);
      played.push({ at, seconds: t.seconds });
      log(`turn ${i + 1}: playing ${shortPath(t.wav)}${t.says ? ` ("${t.says}")` : ''}`);
      await sleep(t.seconds * 1000);
      const reply = await agentDone(sinceS, 15);
      if (reply === 'silent') log(`turn ${i + 1}: no reply heard in 15 s`);
      else if (reply === 'done') log(`turn ${i + 1}: reply heard`);
    }
    if (!closed) {
      await phone.hangup().catch(() => undefined);
      const e = await phone.waitForEvent('CALL_CLOSED', { since: dialedAt, timeoutMs: 10_000 });
      closed = { at: e.at, reason: e.param ?? 'hangup', by: 'caller' };
      log('hung up');
    } else {
      log(`the agent ended the call (${closed.reason})`);
    }
    await phone.stop(); // closes the recordings
    const rec = phone.recordings().at(-1);
    if (!rec) throw new CallError('the phone made no recording');
    const heardWav = join(o.out, 'heard.wav');
    const sentWav = join(o.out, 'sent.wav');
    copyFileSync(rec.heard, heardWav);
    copyFileSync(rec.sent, sentWav);

    // One time line: the sent recording's. It ended when the call closed.
    const a = alignRecordings(heardWav, sentWav);
    const recordingStartAt = closed!.at - a.sentS * 1000;
    const onSent = (wall: number) => (wall - recordingStartAt) / 1000;
    const phoneTurns: PhoneTurn[] = played.map((p, i) => {
      const from = onSent(p.at) - 0.1;
      const to = onSent(p.at) + p.seconds + 0.3;
      const speech = a.sent.filter((s) => s.start >= from && s.start <= to);
      const lastWord = speech.at(-1)?.end;
      const reply =
        lastWord === undefined ? undefined : a.heardOnSentTime.find((h) => h.start > lastWord);
      return {
        wav: turns[i]!.wav,
        ...(turns[i]!.says ? { says: turns[i]!.says } : {}),
        playedAt: p.at,
        speech,
        ...(reply && lastWord !== undefined
          ? { replyAt: reply.start, latencyMs: Math.round((reply.start - lastWord) * 1000) }
          : {}),
      };
    });
    const firstHeard = a.heardOnSentTime.find((h) => h.start >= onSent(answeredAt) - 0.05);

    // The call's events: call.started names the caller; wait for call.ended and call.summary.
    let events: CallEventRecord[] = [];
    let callId: string | undefined;
    const deadline = Date.now() + 20_000;
    for (;;) {
      events = await fetchEvents(o.info).catch(() => events);
      callId ??= events.find(
        (e) =>
          e.type === 'call.started' &&
          e.data.from === o.caller &&
          Date.parse(e.createdAt) >= dialedAt - 1_000,
      )?.callId;
      const mine = events.filter((e) => e.callId === callId);
      if (
        callId &&
        mine.some((e) => e.type === 'call.ended') &&
        mine.some((e) => e.type === 'call.summary')
      ) {
        break;
      }
      if (Date.now() > deadline) break;
      await sleep(250);
    }
    return {
      callId,
      caller: o.caller,
      number,
      dialedAt,
      answeredAt,
      closedAt: closed!.at,
      closedBy: closed!.by,
      closeReason: closed!.reason,
      inviteTo200Ms: answeredAt - dialedAt,
      ...(firstHeard
        ? { greetingAfterAnswerMs: Math.round(firstHeard.start * 1000 - onSent(answeredAt) * 1000) }
        : {}),
      heardSpeech: a.heardOnSentTime,
      recordingStartAt,
      turns: phoneTurns,
      events: callId ? events.filter((e) => e.callId === callId) : [],
      heardWav,
      sentWav,
    };
  } finally {
    await phone.stop().catch(() => undefined);
  }
}

function firstLine(err: unknown): string {
  return String((err as Error).message ?? err).split('\n')[0] ?? '';
}

/** A path relative to the working folder when it is inside it. */
function shortPath(p: string): string {
  const r = relative(process.cwd(), p);
  return r.startsWith('..') ? p : r;
}

const sec = (ms: number) => `${ms >= 0 ? '+' : ''}${(ms / 1000).toFixed(2)} s`;

/** The call's timeline, as printed by `npm run stack:call`. */
export function formatTimeline(r: CallResult): string {
  const rows: Array<{ at: number; who: string; what: string }> = [];
  const add = (at: number, who: string, what: string) => rows.push({ at, who, what });
  const wall = (s: number) => r.recordingStartAt + s * 1000;
  add(r.dialedAt, 'phone', `INVITE sip:${r.number}@… from ${r.caller}`);
  add(r.answeredAt, 'phone', `200 OK: answered (INVITE → 200 OK ${r.inviteTo200Ms} ms)`);
  const greeting = r.heardSpeech.find((h) => wall(h.start) >= r.answeredAt - 50);
  for (const h of r.heardSpeech) {
    const note =
      h === greeting && r.greetingAfterAnswerMs !== undefined
        ? ` (answer → first audio ${r.greetingAfterAnswerMs} ms)`
        : '';
    const turn = r.turns.find((t) => t.replyAt === h.start);
    const latency =
      turn?.latencyMs !== undefined
        ? ` (caller's last word → agent audio ${turn.latencyMs} ms)`
        : '';
    add(wall(h.start), 'heard', `agent audio ${(h.end - h.start).toFixed(1)} s${note}${latency}`);
  }
  for (const [i, t] of r.turns.entries()) {
    const speech = t.speech.length
      ? `, speech ${t.speech.map((s) => `${(s.end - s.start).toFixed(1)} s`).join(' + ')}`
      : ', no speech found in it';
    add(
      t.playedAt,
      'sent',
      `caller turn ${i + 1}: ${shortPath(t.wav)}${speech}${t.says ? ` ("${t.says}")` : ''}`,
    );
  }
  add(r.closedAt, 'phone', `call closed by the ${r.closedBy} (${r.closeReason})`);
  for (const e of r.events) {
    const d = e.data;
    let what = e.type;
    if (e.type === 'call.started')
      what += `  ${d.direction ?? ''} ${d.from ?? '?'} → ${d.to ?? '?'}`;
    if (e.type === 'call.ended') what += `  reason ${d.reason}, ${d.durationS} s`;
    if (e.type === 'call.summary') {
      what += `  outcome ${d.outcome}, ended by ${d.endedBy}, agents ${(d.agents ?? []).join(', ')}`;
    }
    if (e.type === 'call.transferred') what += `  to ${d.to ?? '?'}`;
    add(Date.parse(e.createdAt), 'event', what);
  }
  rows.sort((x, y) => x.at - y.at);
  const lines = [`call ${r.callId ?? '(no call.started event seen)'}: ${r.caller} → ${r.number}`];
  for (const row of rows)
    lines.push(`  ${sec(row.at - r.dialedAt).padStart(9)}  ${row.who.padEnd(5)}  ${row.what}`);
  const summary = r.events.find((e) => e.type === 'call.summary')?.data;
  if (summary) {
    const t0 = Date.parse(summary.startedAt ?? '') - r.dialedAt;
    lines.push('transcript (call.summary):');
    for (const l of summary.transcript ?? []) {
      const who = l.role === 'agent' ? `agent ${l.agent ?? ''}`.trim() : 'caller';
      lines.push(
        `  ${sec(t0 + l.t).padStart(9)}  ${who.padEnd(20)} ${l.text}${l.interrupted ? ' [interrupted]' : ''}`,
      );
    }
    const tl = summary.metrics?.turnLatency;
    if (tl) {
      lines.push(
        `turn latency, the agent's own measure (caller stopped → agent audio started): ${
          tl.count ? `${tl.valuesMs.join(', ')} ms (p50 ${tl.p50}, p95 ${tl.p95})` : 'no turns'
        }`,
      );
    }
  } else {
    lines.push('call.summary: not received within 20 s of the end (see the worker log)');
  }
  const atPhone = r.turns.flatMap((t) => (t.latencyMs !== undefined ? [t.latencyMs] : []));
  lines.push(
    `turn latency at the phone (caller's last word sent → agent's first audio heard): ${
      atPhone.length ? `${atPhone.join(', ')} ms` : 'no reply heard'
    }`,
  );
  lines.push(
    `recordings: ${shortPath(r.heardWav)} (what the caller heard), ${shortPath(r.sentWav)} (what it sent)`,
  );
  return lines.join('\n');
}
