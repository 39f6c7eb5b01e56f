/**
 * `npm run bench:e2e [-- --repeat 10 --n 1,2,4,8 --arrival-ms 3000 --steady-s 30]`
 *
 * The product over the real path on this machine (stack/product.ts: the real LiveKit server, SIP
 * bridge and Redis in a network namespace, our API, our worker and its job processes, baresip
 * phones dialing in over SIP/RTP, G.711), with the provider stand-ins at 0 ms latency (the
 * unmodified Deepgram/ElevenLabs/OpenAI plugins talk to them; `--stand-in-ms` sets another).
 *
 * 1. Latency, one call at a time (warm worker), `--repeat` calls, measured at the phone from its
 *    own recordings (what it sent and heard, on one time line, stack/phone-audio.ts):
 *    INVITE → 200 OK; answer → first agent audio; turn latency (caller's last word sent → agent's
 *    first audio heard), two turns per call; interruption latency ("wait" onset sent → the
 *    agent's audio stops in what the phone hears); plus where a turn's time goes (the stand-ins'
 *    own clocks) and the agent's own turn latency (call.summary).
 * 2. Capacity: N concurrent calls (N = 1, 2, 4, 8, ..., doubling while it holds, then the
 *    midpoint), arriving `--arrival-ms` apart, each talking (question → long reply, again) until
 *    all have been in progress together for `--steady-s`. CPU per call of livekit-server,
 *    livekit-sip and the worker (its whole process tree: job processes, the inference process;
 *    utime+stime from /proc) over that steady window. N holds when every phone heard the
 *    greeting, every caller's every question got a reply (the STT stand-in heard them all), the
 *    SIP bridge logged no media timeout, and no job process in a call reported an event-loop
 *    stall ≥ 100 ms nor Silero "VAD inference is slower than realtime" (see below).
 *
 * The VAD signal: Silero runs in each call's job process on the event loop's turn; a VAD window
 * can only be processed late by as long as that loop was kept from running. agents-js's loop
 * monitor (LIVEKIT_AGENTS_LOOP_BLOCK_WARN_MS, default 100) logs every stall ≥ 100 ms in a job
 * process ("event loop blocked" = our code or a GC; "process not scheduled" = the host gave it no
 * CPU; at most 5 lines a minute per cause, so the counts are lower bounds), and the Silero plugin
 * logs "VAD inference is slower than realtime" when inference falls > 200 ms behind the audio.
 * Either, in a job process with a call, fails the round.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { writeWav } from '../src/core/wav.js';
import { speak } from '../src/sim/offline-tts.js';
import { Caller } from '../stack/caller.js';
import { REPO_ROOT } from '../stack/netns.js';
import { type Product, startProduct } from '../stack/product.js';
import { machineLine, pct } from './report.js';

const NUMBER = '+15550100000';
const Q1 = 'When do you open on Saturday?';
const Q2 = 'Can you tell me about your internet plans?';
const WAIT = 'Wait.';
const SHORT_REPLY =
  'We are open Monday to Saturday, from eight in the morning to eight in the evening. Is there anything else I can help you with?';
const LONG_REPLY =
  'Sure. Our Fiber Max plan gives you one gigabit down and up for fifty five dollars a month, with the router included and no data caps. ' +
  'The Fiber Basic plan gives you three hundred megabits for thirty five dollars a month, and you can upgrade at any time without a fee. ' +
  'Both plans come with free installation this month, and a thirty day money back guarantee if you are not happy with the service.';
const GO_AHEAD = 'Sure, go ahead.';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const f0 = (x: number) => (Number.isFinite(x) ? x.toFixed(0) : '-');

// ------------------------------------------------------------------------------------------------
// CPU of process trees from /proc.

function ticksOf(pid: number, withChildren = false): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // fields after the name: state(0) ppid(1) ... utime(11) stime(12) cutime(13) cstime(14)
    const own = Number(f[11]) + Number(f[12]);
    return withChildren ? own + Number(f[13]) + Number(f[14]) : own;
  } catch {
    return 0;
  }
}

function childrenOf(): Map<number, number[]> {
  const kids = new Map<number, number[]>();
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      kids.set(ppid, [...(kids.get(ppid) ?? []), Number(d)]);
    } catch {}
  }
  return kids;
}

/** utime+stime (s) of a process and its live descendants, plus reaped children (cutime). */
function treeCpuS(root: number): number {
  const kids = childrenOf();
  let ticks = 0;
  const walk = (pid: number, top: boolean) => {
    ticks += ticksOf(pid, top);
    for (const k of kids.get(pid) ?? []) walk(k, false);
  };
  walk(root, true);
  return ticks / 100; // USER_HZ
}

type Kind = 'main' | 'jobs' | 'inference';

/** The worker's process tree: each process's kind and CPU ticks (the worker's own with reaped children). */
function treeSnapshot(root: number): Map<number, { kind: Kind; ticks: number }> {
  const kids = childrenOf();
  const out = new Map<number, { kind: Kind; ticks: number }>();
  const walk = (pid: number, top: boolean) => {
    let cmd = '';
    try {
      cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    } catch {}
    const kind: Kind = top
      ? 'main'
      : cmd.includes('inference_proc')
        ? 'inference'
        : cmd.includes('job_proc')
          ? 'jobs'
          : 'main';
    out.set(pid, { kind, ticks: ticksOf(pid, top) });
    for (const k of kids.get(pid) ?? []) walk(k, false);
  };
  walk(root, true);
  return out;
}

/** CPU seconds by kind between two snapshots (processes born in between count whole). */
function treeDelta(
  a: Map<number, { kind: Kind; ticks: number }>,
  b: Map<number, { kind: Kind; ticks: number }>,
): Record<Kind, number> {
  const d: Record<Kind, number> = { main: 0, jobs: 0, inference: 0 };
  for (const [pid, x] of b) d[x.kind] += (x.ticks - (a.get(pid)?.ticks ?? 0)) / 100;
  return d;
}

function cpuS(pids: number[]): number {
  return pids.reduce((s, p) => s + ticksOf(p), 0) / 100;
}

// ------------------------------------------------------------------------------------------------
// The worker's log: loop stalls and slow VAD in job processes during calls.

interface LogSignals {
  stalls: number;
  stallMaxMs: number;
  hostStalls: number;
  slowVad: number;
  slowVadMaxMs: number;
}

function workerSignals(product: Product, fromMs: number, toMs: number): LogSignals {
  const out: LogSignals = { stalls: 0, stallMaxMs: 0, hostStalls: 0, slowVad: 0, slowVadMaxMs: 0 };
  for (const line of product.workerLog().split('\n')) {
    if (!line.startsWith('{')) continue;
    let e: Record<string, unknown>;
    try {
      e = JSON.parse(line);
    } catch {
      continue;
    }
    const t = Number(e.time);
    if (t < fromMs || t > toMs || !e.jobID) continue; // only job processes with a call
    const msg = String(e.msg ?? '');
    if (/^(event loop blocked|process not scheduled|event loop stalled)/.test(msg)) {
      out.stalls++;
      if (e.cause === 'host') out.hostStalls++;
      out.stallMaxMs = Math.max(out.stallMaxMs, Number(e.duration) || 0);
    } else if (msg === 'VAD inference is slower than realtime') {
      out.slowVad++;
      out.slowVadMaxMs = Math.max(out.slowVadMaxMs, Number(e.delay) || 0);
    }
  }
  return out;
}

function sipMediaTimeouts(product: Product, fromByte: number): number {
  const log = readFileSync(join(product.stack.logsDir, 'livekit-sip.log'), 'utf8').slice(fromByte);
  // What livekit-sip logs when it drops a call for lack of RTP (not its "media timeout loop
  // stopped", logged at every call's end).
  return log
    .split('\n')
    .filter((l) => /triggering media timeout|Media timeout after missing ACK/.test(l)).length;
}

const sipLogSize = (product: Product) =>
  readFileSync(join(product.stack.logsDir, 'livekit-sip.log'), 'utf8').length;

// ------------------------------------------------------------------------------------------------

interface Wavs {
  q1: string;
  q2: string;
  wait: string;
  seconds: Record<'q1' | 'q2' | 'wait', number>;
}

async function makeWavs(dir: string): Promise<Wavs> {
  const make = async (text: string, name: string) => {
    const v = await speak(text, { voice: 'en-us+m3', rate: 165, sampleRate: 8000 });
    const samples = new Int16Array(v.samples.length + 0.4 * 8000);
    samples.set(v.samples, 0.1 * 8000);
    const file = join(dir, `${name}.wav`);
    writeWav(file, { sampleRate: 8000, channels: 1, samples });
    return { file, seconds: samples.length / 8000 };
  };
  const [q1, q2, wait] = await Promise.all([make(Q1, 'q1'), make(Q2, 'q2'), make(WAIT, 'wait')]);
  return {
    q1: q1.file,
    q2: q2.file,
    wait: wait.file,
    seconds: { q1: q1.seconds, q2: q2.seconds, wait: wait.seconds },
  };
}

/** The end-of-turn model's verdicts in the worker's debug log ("eot prediction"), by time. */
function eotPredictions(
  product: Product,
  fromMs: number,
  toMs: number,
): Array<{ at: number; p: number; delayMs: number }> {
  const out: Array<{ at: number; p: number; delayMs: number }> = [];
  for (const line of product.workerLog().split('\n')) {
    if (!line.includes('"eot prediction"')) continue;
    try {
      const e = JSON.parse(line) as Record<string, unknown>;
      const at = Number(e.time);
      if (at < fromMs || at > toMs) continue;
      out.push({ at, p: Number(e.endOfTurnProbability), delayMs: Number(e.endpointingDelay) });
    } catch {}
  }
  return out;
}

interface LatencySample {
  inviteMs: number;
  greetingMs?: number;
  turnsMs: number[];
  /** Per turn: the end-of-turn model's probability and the endpointing delay it chose. */
  turnsEot: Array<{ ms: number; p?: number; delayMs?: number }>;
  interruptMs?: number;
  agentTurnsMs: number[];
  /** Where the turns' time went, per turn (ms). */
  breakdown: Array<{
    phoneToStt?: number;
    endpointing?: number;
    finalToLlm?: number;
    llmToTts?: number;
    ttsToPhone?: number;
  }>;
  interruptions?: number;
}

async function latencyCall(
  product: Product,
  wavs: Wavs,
  i: number,
): Promise<LatencySample | undefined> {
  const { stt, tts, llm } = product.providers;
  stt.clearLog();
  tts.clearLog();
  llm.clearLog();
  stt.setScript([Q1, Q2, 'wait'], { fallback: '' });
  const user = `+1555010${String(1000 + i).slice(-4)}`;
  const c = new Caller(
    await product.phone({ user, name: `lat-${i}`, micSeconds: 120 }),
    product.stack.sipUri(NUMBER),
  );
  await c.dial();
  await c.agentDone(0, 0.8, 10_000);
  // Turn 1: a question with a short answer.
  await sleep(300);
  let since = await c.play('q1', wavs.q1, wavs.seconds.q1);
  await sleep(wavs.seconds.q1 * 1000);
  await c.agentDone(since, 1.0);
  // Turn 2: a question with a long answer, cut short with "wait" 2 s into it.
  await sleep(300);
  since = await c.play('q2', wavs.q2, wavs.seconds.q2);
  await sleep(wavs.seconds.q2 * 1000);
  const replying = await c.agentStarted(since);
  if (replying) {
    await sleep(2_000);
    since = await c.play('wait', wavs.wait, wavs.seconds.wait);
    await sleep(wavs.seconds.wait * 1000);
    await c.agentDone(since, 1.0, 8_000);
  }
  await c.hangup();
  const a = c.analyze();

  const sample: LatencySample = {
    inviteMs: c.answeredAt - c.dialedAt,
    turnsMs: [],
    turnsEot: [],
    agentTurnsMs: [],
    breakdown: [],
  };
  const eots = eotPredictions(product, c.answeredAt, c.closedAt);
  const firstHeard = a.heardOnSentTime.find((h) => h.start >= a.onSent(c.answeredAt) - 0.05);
  if (firstHeard) {
    sample.greetingMs = Math.round((firstHeard.start - a.onSent(c.answeredAt)) * 1000);
  }
  const heardLog = stt.heard();
  const spoken = tts.spoken();
  const requests = llm.requests();
  for (const [k, text] of [
    ['q1', Q1],
    ['q2', Q2],
  ] as const) {
    const p = c.played.find((x) => x.what === k);
    if (!p) continue;
    const speech = a.speechOf(p);
    const lastWord = speech.at(-1)?.end;
    if (lastWord === undefined) continue;
    const reply = a.heardOnSentTime.find((h) => h.start > lastWord);
    if (!reply) continue;
    const ms = Math.round((reply.start - lastWord) * 1000);
    sample.turnsMs.push(ms);
    const eot = eots
      .filter((e) => e.at >= a.wall(lastWord) - 500 && e.at <= a.wall(reply.start))
      .at(-1);
    sample.turnsEot.push({ ms, ...(eot ? { p: eot.p, delayMs: eot.delayMs } : {}) });
    const h = heardLog.find((u) => u.transcript === text);
    const r = requests.find((q) => q.userText.includes(text));
    const s = spoken.find((x) => x.openedAt >= (r?.at ?? Number.POSITIVE_INFINITY) - 5);
    sample.breakdown.push({
      ...(h?.offsetAt ? { phoneToStt: h.offsetAt - a.wall(lastWord) } : {}),
      ...(h?.offsetAt && h.finalSentAt ? { endpointing: h.finalSentAt - h.offsetAt } : {}),
      ...(h?.finalSentAt && r ? { finalToLlm: r.at - h.finalSentAt } : {}),
      ...(r && s?.firstAudioAt ? { llmToTts: s.firstAudioAt - r.at } : {}),
      ...(s?.firstAudioAt ? { ttsToPhone: a.wall(reply.start) - s.firstAudioAt } : {}),
    });
  }
  const w = c.played.find((x) => x.what === 'wait');
  const waitOnset = w ? a.speechOf(w)[0]?.start : undefined;
  if (waitOnset !== undefined) {
    // The agent's speech going on when "wait" began; a segment starting within 300 ms of it is
    // still the same reply (a sentence break), the answer to "wait" comes later (STT + endpointing).
    const before = a.heardOnSentTime.filter((h) => h.start < waitOnset + 0.3);
    const stop = Math.max(...before.map((h) => h.end));
    if (stop > waitOnset) sample.interruptMs = Math.round((stop - waitOnset) * 1000);
  }
  // The agent's own measure, from the call.summary event of this caller's call.
  const deadline = Date.now() + 15_000;
  for (;;) {
    const started = product.events
      .events()
      .find((e) => e.type === 'call.started' && e.data.from === user);
    const summary = started
      ? product.callEvents(started.callId).find((e) => e.type === 'call.summary')
      : undefined;
    if (summary) {
      sample.agentTurnsMs = summary.data.metrics?.turnLatency?.valuesMs ?? [];
      sample.interruptions = summary.data.metrics?.interruptions;
      break;
    }
    if (Date.now() > deadline) break;
    await sleep(200);
  }
  return sample;
}

// ------------------------------------------------------------------------------------------------

interface Round {
  n: number;
  answered: number;
  greeted: number;
  turns: number;
  replied: number;
  sttUtterances: number;
  mediaTimeouts: number;
  signals: LogSignals;
  steadyS: number;
  cpuPerCall: {
    livekit: number;
    sip: number;
    worker: number;
    /** The worker tree split: the worker process, call (job) processes, the inference process. */
    workerParts: { main: number; jobs: number; inference: number };
    total: number;
    phones: number;
    bench: number;
  };
  idleCpu: { livekit: number; sip: number; worker: number };
  greetingMs: number[];
  turnMs: number[];
  holds: boolean;
  failures: string[];
}

async function capacityRound(
  product: Product,
  wavs: Wavs,
  n: number,
  arrivalMs: number,
  steadyS: number,
): Promise<Round> {
  const { stt } = product.providers;
  stt.clearLog();
  // Every utterance is the question with the long answer: each caller keeps asking it.
  stt.setScript([], { fallback: Q2 });
  const pids = product.stack.pids;
  const workerPid = product.worker!.pid!;
  // Idle cost first (no calls), 5 s.
  const idle0 = { l: cpuS([pids.livekit]), s: cpuS([pids.sip]), w: treeCpuS(workerPid) };
  await sleep(5_000);
  const idle = {
    livekit: ((cpuS([pids.livekit]) - idle0.l) / 5) * 100,
    sip: ((cpuS([pids.sip]) - idle0.s) / 5) * 100,
    worker: ((treeCpuS(workerPid) - idle0.w) / 5) * 100,
  };

  const sipLog0 = sipLogSize(product);
  const t0 = Date.now();
  const callers: Caller[] = [];
  const failures: string[] = [];
  let allAnswered!: () => void;
  const answeredAll = new Promise<void>((r) => {
    allAnswered = r;
  });
  let answered = 0;
  let endAt = Number.POSITIVE_INFINITY;
  const greeted: boolean[] = [];
  const replies: Array<{ asked: number; replied: number }> = [];
  const run = async (i: number) => {
    await sleep(i * arrivalMs);
    const user = `+1555020${String(1000 + i).slice(-4)}`;
    const c = new Caller(
      await product.phone({ user, name: `cap-${n}-${i}-${t0}`, micSeconds: 300 }),
      product.stack.sipUri(NUMBER),
    );
    callers[i] = c;
    try {
      // Beyond the idle job processes a call rings until a new one has prewarmed.
      await c.dial(60_000);
    } finally {
      if (++answered === n) allAnswered();
    }
    greeted[i] = await c.agentDone(0, 0.8, 10_000);
    const mine = { asked: 0, replied: 0 };
    replies[i] = mine;
    while (Date.now() < endAt - 8_000) {
      await sleep(400);
      const since = await c.play('q2', wavs.q2, wavs.seconds.q2);
      mine.asked++;
      await sleep(wavs.seconds.q2 * 1000);
      if (await c.agentDone(since, 1.0, 15_000)) mine.replied++;
    }
    // Everyone hangs up at the end (or after its last reply).
    await sleep(Math.max(0, endAt - Date.now()));
    await c.hangup();
  };
  const runs = Array.from({ length: n }, (_, i) =>
    run(i).catch((err: unknown) => {
      const m = (err as Error).message.split('\n')[0] ?? '';
      failures.push(`caller ${i}: ${m.replace(/ \(events: .*$/, '')}`);
    }),
  );
  await answeredAll;
  // The steady window: all in progress, the last greeting over and the idle pool refilled.
  const steadyFrom = Date.now() + 15_000;
  endAt = steadyFrom + steadyS * 1000 + 2_000;
  await sleep(steadyFrom - Date.now());
  const phonePids = () => callers.filter(Boolean).map((c) => c.phone.process.pid!);
  const c0 = {
    l: cpuS([pids.livekit]),
    s: cpuS([pids.sip]),
    w: treeCpuS(workerPid),
    tree: treeSnapshot(workerPid),
    p: cpuS(phonePids()),
    b: process.cpuUsage(),
    at: Date.now(),
  };
  await sleep(steadyS * 1000);
  const wallS = (Date.now() - c0.at) / 1000;
  // Per call in progress (a caller never answered costs nothing).
  const inProgress = callers.filter((c) => c?.answeredAt).length;
  const per = (x: number) => (x / wallS / Math.max(1, inProgress)) * 100;
  const cpuPerCall = {
    livekit: per(cpuS([pids.livekit]) - c0.l),
    sip: per(cpuS([pids.sip]) - c0.s),
    worker: per(treeCpuS(workerPid) - c0.w),
    workerParts: (() => {
      const d = treeDelta(c0.tree, treeSnapshot(workerPid));
      return { main: per(d.main), jobs: per(d.jobs), inference: per(d.inference) };
    })(),
    total: 0,
    phones: per(cpuS(phonePids()) - c0.p),
    bench: (() => {
      const u = process.cpuUsage(c0.b);
      return per((u.user + u.system) / 1e6);
    })(),
  };
  cpuPerCall.total = cpuPerCall.livekit + cpuPerCall.sip + cpuPerCall.worker;
  await Promise.all(runs);
  const t1 = Date.now();
  await sleep(1_000);

  const greetingMs: number[] = [];
  const turnMs: number[] = [];
  for (const c of callers.filter(Boolean)) {
    try {
      const a = c.analyze();
      const first = a.heardOnSentTime.find((h) => h.start >= a.onSent(c.answeredAt) - 0.05);
      if (first) greetingMs.push(Math.round((first.start - a.onSent(c.answeredAt)) * 1000));
      for (const ms of c.answerDelaysMs()) if (ms !== undefined) turnMs.push(ms);
    } catch (err) {
      failures.push(`${c.phone.name}: ${(err as Error).message}`);
    }
  }
  const signals = workerSignals(product, t0, t1);
  const mediaTimeouts = sipMediaTimeouts(product, sipLog0);
  const turns = replies.reduce((s, r) => s + (r?.asked ?? 0), 0);
  const replied = replies.reduce((s, r) => s + (r?.replied ?? 0), 0);
  const heard = stt.heard().filter((u) => u.finalSentAt && u.onsetAt >= t0);
  const greetedCount = greeted.filter(Boolean).length;
  const holds =
    failures.length === 0 &&
    inProgress === n &&
    greetedCount === n &&
    replied === turns &&
    heard.length >= turns &&
    mediaTimeouts === 0 &&
    signals.stalls === 0 &&
    signals.slowVad === 0;
  return {
    n,
    answered: inProgress,
    greeted: greetedCount,
    turns,
    replied,
    sttUtterances: heard.length,
    mediaTimeouts,
    signals,
    steadyS: wallS,
    cpuPerCall,
    idleCpu: idle,
    greetingMs,
    turnMs,
    holds,
    failures,
  };
}

function printRound(r: Round): void {
  const c = r.cpuPerCall;
  console.log(
    `| ${r.n} | ${r.answered}/${r.n} | ${r.greeted}/${r.n} | ${r.replied}/${r.turns} | ${r.sttUtterances} | ${r.mediaTimeouts} | ` +
      `${r.signals.stalls}${r.signals.stalls ? ` (max ${f0(r.signals.stallMaxMs)} ms, ${r.signals.hostStalls} host)` : ''} | ` +
      `${r.signals.slowVad}${r.signals.slowVad ? ` (max ${f0(r.signals.slowVadMaxMs)} ms)` : ''} | ` +
      `${c.livekit.toFixed(1)} | ${c.sip.toFixed(1)} | ${c.worker.toFixed(1)} (${c.workerParts.main.toFixed(1)} + ${c.workerParts.jobs.toFixed(1)} + ${c.workerParts.inference.toFixed(1)}) | **${c.total.toFixed(1)}** | ` +
      `${c.phones.toFixed(1)} | ${c.bench.toFixed(1)} | ` +
      `${f0(pct(r.greetingMs, 50))} / ${f0(Math.max(...r.greetingMs))} | ${f0(pct(r.turnMs, 50))} / ${f0(Math.max(...r.turnMs))} | ` +
      `${r.holds ? 'yes' : '**no**'} |`,
  );
  for (const f of r.failures) console.log(`  ${f}`);
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      repeat: { type: 'string', default: '10' },
      n: { type: 'string', default: '1,2,4,8' },
      'arrival-ms': { type: 'string', default: '3000' },
      'steady-s': { type: 'string', default: '30' },
      'stand-in-ms': { type: 'string', default: '0' },
      'no-latency': { type: 'boolean', default: false },
      'no-capacity': { type: 'boolean', default: false },
      'no-search': { type: 'boolean', default: false },
    },
  });
  const int = (v: string | undefined, name: string, min = 0) => {
    const x = Number(v);
    if (!Number.isInteger(x) || x < min)
      throw new Error(`--${name} must be a whole number ≥ ${min}`);
    return x;
  };
  const repeat = int(values.repeat, 'repeat', 1);
  const ns = (values.n ?? '').split(',').map((x) => int(x, 'n', 1));
  const arrivalMs = int(values['arrival-ms'], 'arrival-ms');
  const steadyS = int(values['steady-s'], 'steady-s', 5);
  const standInMs = int(values['stand-in-ms'], 'stand-in-ms');
  if (process.getuid?.() !== 0) throw new Error('bench:e2e needs root (ip netns)');

  execFileSync('bash', [join(REPO_ROOT, 'stack', 'build.sh')], { stdio: 'ignore' });
  console.log(machineLine('bench:e2e'));
  console.log(
    `stand-ins: STT results +${standInMs} ms, TTS first audio after ${standInMs} ms, LLM first token after ${standInMs} ms ` +
      '(STT endpointing: a final 350 ms after the last sound, as Deepgram with endpointing ≤ 350; TTS is eSpeak in real time)\n',
  );

  const t0 = Date.now();
  // Debug: the worker logs the end-of-turn model's verdicts ("eot prediction"); a few hundred
  // lines a call, no measurable CPU.
  const product = await startProduct({ workerEnv: { LOG_LEVEL: 'debug' } });
  const loads: number[] = [];
  const loadTimer = setInterval(() => loads.push(loadavg()[0]!), 10_000);
  try {
    console.log(
      `stack up in ${((Date.now() - t0) / 1000).toFixed(0)} s (${product.netns.name}, logs ${product.stack.logsDir})\n`,
    );
    product.providers.setLatency({ stt: standInMs, tts: standInMs, llm: standInMs });
    await product.routeNumber(NUMBER, 'receptionist');
    product.providers.llm.setRules([
      { match: 'hours|open', reply: SHORT_REPLY },
      { match: 'plans', reply: LONG_REPLY },
      { match: 'wait', reply: GO_AHEAD },
      { reply: 'Sorry, could you say that again?' },
    ]);
    const wavs = await makeWavs(mkdtempSync(join(tmpdir(), 'bench-e2e-')));

    if (!values['no-latency']) {
      // One call first that is not counted: the worker's first job of its life.
      await latencyCall(product, wavs, 0).catch(() => undefined);
      const samples: LatencySample[] = [];
      for (let i = 1; i <= repeat; i++) {
        await sleep(2_000);
        const s = await latencyCall(product, wavs, i).catch((err: unknown) => {
          console.log(`  call ${i} failed: ${(err as Error).message}`);
          return undefined;
        });
        if (s) {
          samples.push(s);
          console.log(
            `  call ${i}: INVITE→200 ${s.inviteMs} ms, answer→audio ${s.greetingMs ?? '-'} ms, turns ${s.turnsMs.join(', ')} ms (agent's own ${s.agentTurnsMs.join(', ')}), interruption ${s.interruptMs ?? '-'} ms`,
          );
        }
      }
      const col = (xs: number[]) => ({
        n: xs.length,
        p50: pct(xs, 50),
        p95: pct(xs, 95),
        max: Math.max(...xs),
      });
      const rows: Array<[string, number[], string, (c: ReturnType<typeof col>) => boolean]> = [
        [
          'INVITE → 200 OK, inbound (warm worker)',
          samples.map((s) => s.inviteMs),
          'p95 ≤ 1500',
          (c) => c.p95 <= 1500,
        ],
        [
          'answer → first agent audio at the phone',
          samples.flatMap((s) => (s.greetingMs === undefined ? [] : [s.greetingMs])),
          'p95 ≤ 1000',
          (c) => c.p95 <= 1000,
        ],
        [
          "turn at the phone: caller's last word sent → agent's first audio heard",
          samples.flatMap((s) => s.turnsMs),
          'p50 ≤ 900',
          (c) => c.p50 <= 900,
        ],
        [
          'interruption at the phone: "wait" onset sent → agent audio stops',
          samples.flatMap((s) => (s.interruptMs === undefined ? [] : [s.interruptMs])),
          'p95 ≤ 700',
          (c) => c.p95 <= 700,
        ],
        [
          "turn, the agent's own measure (call.summary: VAD end of speech → first audio played)",
          samples.flatMap((s) => s.agentTurnsMs),
          '',
          () => true,
        ],
      ];
      const eotTurns = samples.flatMap((s) => s.turnsEot);
      const delays = eotTurns.flatMap((t) => (t.delayMs ? [t.delayMs] : []));
      const minDelay = Math.min(...delays);
      const maxDelay = Math.max(...delays);
      if (Number.isFinite(minDelay) && maxDelay > minDelay) {
        const extra = maxDelay - minDelay;
        rows.splice(
          3,
          0,
          [
            `  … when the end-of-turn model was sure (endpointing ${minDelay} ms)`,
            eotTurns.filter((t) => t.delayMs === minDelay).map((t) => t.ms),
            '',
            () => true,
          ],
          [
            `  … when it was not (endpointing ${maxDelay} ms, the maximum)`,
            eotTurns.filter((t) => t.delayMs === maxDelay).map((t) => t.ms),
            '',
            () => true,
          ],
          [
            `  … all turns with that extra wait taken out (− ${extra} ms where it waited)`,
            eotTurns.map((t) => (t.delayMs === maxDelay ? t.ms - extra : t.ms)),
            'p50 ≤ 900',
            (c) => c.p50 <= 900,
          ],
        );
      }
      console.log(
        `\nLatency, ${samples.length} calls one at a time (2 turns and 1 interruption each):\n`,
      );
      console.log('| measure | n | p50 ms | p95 ms | max ms | target | met |');
      console.log('| --- | --- | --- | --- | --- | --- | --- |');
      for (const [name, xs, target, ok] of rows) {
        const c = col(xs);
        console.log(
          `| ${name} | ${c.n} | ${f0(c.p50)} | ${f0(c.p95)} | ${f0(c.max)} | ${target || '-'} | ${target ? (ok(c) ? 'yes' : '**no**') : '-'} |`,
        );
      }
      const parts = samples.flatMap((s) => s.breakdown);
      const part = (k: keyof (typeof parts)[number]) =>
        parts.flatMap((b) => (b[k] === undefined ? [] : [b[k]!]));
      console.log(
        "\nWhere a turn's time goes (p50 / p95 ms; the stand-ins' clocks and the phone's recordings):\n",
      );
      console.log(
        '| phone → STT stand-in (last word) | STT endpointing (350 ms of silence) | STT final → LLM request (preemptive generation) | LLM request → TTS first audio (end-of-turn wait, then TTS) | TTS first audio → heard at the phone |',
      );
      console.log('| --- | --- | --- | --- | --- |');
      console.log(
        `| ${(['phoneToStt', 'endpointing', 'finalToLlm', 'llmToTts', 'ttsToPhone'] as const)
          .map((k) => `${f0(pct(part(k), 50))} / ${f0(pct(part(k), 95))}`)
          .join(' | ')} |`,
      );
      const probs = eotTurns.flatMap((t) =>
        t.p === undefined ? [] : [`${t.p.toFixed(2)}${t.delayMs === maxDelay ? '*' : ''}`],
      );
      console.log(
        `\nend-of-turn model (turn-detector-v1-mini, on the caller's audio) per turn: ${probs.join(', ') || '-'} ` +
          '(English threshold 0.36; * = below it, the turn waited the maximum delay)',
      );
      const interrupted = samples.filter((s) => (s.interruptions ?? 0) > 0).length;
      console.log(
        `\ncalls whose summary counts the interruption: ${interrupted}/${samples.length}`,
      );
    }

    if (!values['no-capacity']) {
      console.log(
        `\nCapacity: N concurrent calls arriving ${arrivalMs} ms apart, each asking for the long answer again and again; ` +
          `CPU over ${steadyS} s with all N in progress, % of one core per call:\n`,
      );
      console.log(
        '| N | answered | greeted | replies heard | STT utterances | SIP media timeouts | job loop stalls ≥ 100 ms | VAD slower than real time | livekit-server | livekit-sip | worker tree (worker + call processes + inference) | **total** | phones (harness) | API + stand-ins + bench | answer → audio p50 / max ms | turn at phone p50 / max ms | holds |',
      );
      console.log(
        '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
      );
      const rounds: Round[] = [];
      const tried = new Set<number>();
      const round = async (n: number) => {
        tried.add(n);
        await sleep(5_000);
        const r = await capacityRound(product, wavs, n, arrivalMs, steadyS);
        printRound(r);
        rounds.push(r);
        return r.holds;
      };
      // Every N of the list (CPU per call is worth knowing also where it does not hold), then
      // doubling while the largest holds, then midpoints.
      let lastOk = 0;
      let firstBad = 0;
      for (const n of ns) {
        const ok = await round(n);
        if (ok && !firstBad) lastOk = n;
        if (!ok && !firstBad) firstBad = n;
      }
      if (!values['no-search']) {
        // Doubling while it holds, then the midpoints.
        while (!firstBad && lastOk > 0 && lastOk < 64) {
          const n = lastOk * 2;
          if (await round(n)) lastOk = n;
          else firstBad = n;
        }
        while (firstBad && firstBad - lastOk > 1) {
          const n = Math.floor((lastOk + firstBad) / 2);
          if (tried.has(n)) break;
          if (await round(n)) lastOk = n;
          else firstBad = n;
        }
      }
      // The quietest idle measurement (the first may fall into the job processes' prewarm).
      const idle = [...rounds].map((r) => r.idleCpu).sort((a, b) => a.worker - b.worker)[0];
      if (idle) {
        console.log(
          `\nidle (no call), % of one core: livekit-server ${idle.livekit.toFixed(1)}, livekit-sip ${idle.sip.toFixed(1)}, worker tree ${idle.worker.toFixed(1)}`,
        );
      }
      console.log(
        lastOk
          ? `largest N that held: ${lastOk}${firstBad ? ` (N = ${firstBad} did not)` : ''}`
          : 'no N held',
      );
    }
  } finally {
    clearInterval(loadTimer);
    console.log(
      `\nload average (1 min) during the run: ${loads.length ? `${Math.min(...loads).toFixed(1)}–${Math.max(...loads).toFixed(1)}` : '-'}; ` +
        `now ${loadavg()
          .map((l) => l.toFixed(1))
          .join(' ')}; took ${((Date.now() - t0) / 60_000).toFixed(1)} min`,
    );
    await product.stop();
  }
}

main()
  .then(() => process.exit(0))
  .catch((err: unknown) => {
    console.error(`bench:e2e: ${(err as Error).stack ?? String(err)}`);
    process.exit(1);
  });
