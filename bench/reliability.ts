/**
 * `npm run bench:reliability [-- --only restarts,crashes,dtmf,warm --restarts 20 --live-calls 4
 *  --crashes 10 --digits 200 --warm 20]` (root)
 *
 * The reliability figures of issue 13 over the real path: the product on the real stack
 * (stack/product.ts: LiveKit server, SIP bridge, Redis, our API and workers, baresip phones,
 * provider stand-ins), driven by the e2e tests' own flows (test/e2e/support/), many times over.
 * Each part starts a stack of its own, as its e2e test does.
 *
 * - restarts: `--live-calls` callers talk all along (a question, the answer, again; after
 *   `--call-s` seconds the next caller's call is placed, and once it is answered (or has rung
 *   15 s) one last question, then the hang-up: never fewer on the line) while the pool of `--pool` workers is restarted `--restarts` times the way Kubernetes
 *   rolls a Deployment: start a new worker, wait until it is registered and has a job process
 *   warm, SIGTERM an old one (the one running the most calls, once all callers are on the line);
 *   it drains: its calls go on, it exits after the last. A call counts as dropped when its line
 *   closed before its caller hung up, or when an answer was due and the caller heard nothing for
 *   more than `--answer-timeout-s` (from their last word to the agent's first audio, read from
 *   the phone's recordings); calls never answered or never greeted are counted beside them
 *   (test/e2e/rolling-deploy.test.ts proves one drain).
 * - crashes: `--crashes` calls, each cut by a `kill -9` two seconds into the agent's answer, of
 *   the job process or of the whole worker (`--crash-kinds`, in turn); the dead air the caller
 *   heard until "Sorry, we got cut off." (test/e2e/agent-crash-recovery.test.ts's measure). A
 *   killed worker is replaced by a new one, as its pod would be.
 * - dtmf: `--digits` digits pressed on a baresip phone in entries of `--entry-digits` ending with
 *   "#" (key 3 of the menu, then collect_digits, as test/e2e/dtmf-menu-and-digits-over-the-bridge
 *   .test.ts), `--entries-per-call` entries a call; what the agent's LLM got from the tool against
 *   what was pressed: digits lost, reordered, extra; entries the "#" did not end.
 * - warm: `--warm` warm transfers accepted with key 1, the caller hanging up after the bridge,
 *   each judged as test/e2e/warm-transfer-briefs-then-bridges.test.ts judges it.
 *
 * It prints each figure against its target (met / missed) and exits 0 unless the bench itself
 * broke (a stack that did not start, a part that threw).
 */
import { type ChildProcess, execFileSync } from 'node:child_process';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { seededRandom } from '../src/sim/noise.js';
import { Caller } from '../stack/caller.js';
import { REPO_ROOT, removeStaleNetns, sleep } from '../stack/netns.js';
import type { Phone } from '../stack/phones.js';
import { startProduct } from '../stack/product.js';
import { agentsOfFile } from '../stack/providers/index.js';
import { callerWav, until } from '../test/e2e/support/audio.js';
import {
  type CrashScene,
  callAndKill,
  checkTakeOver,
  deadAir,
  goOn,
  prepareCrashCalls,
} from '../test/e2e/support/crash.js';
import {
  DIGIT_ENTRY_RULES,
  DTMF_AGENTS_FILE,
  enterDigits,
  THANKS,
} from '../test/e2e/support/dtmf.js';
import { callIdOf, dialIn, played, spokenSince } from '../test/e2e/support/standins.js';
import {
  judgeWarmTransfer,
  prepareWarmTransfers,
  warmTransfer,
  warmTransferProduct,
} from '../test/e2e/support/warm-transfer.js';
import {
  jobOf,
  killAll,
  parentOf,
  processTree,
  waitForWarmPool,
} from '../test/e2e/support/workers.js';
import { machineLine, pct } from './report.js';

const NUMBER = '+15550100000';
const PARTS = ['restarts', 'crashes', 'dtmf', 'warm'] as const;
type Part = (typeof PARTS)[number];

interface Options {
  only: Part[];
  restarts: number;
  liveCalls: number;
  pool: number;
  callS: [number, number];
  answerTimeoutS: number;
  crashes: number;
  crashKinds: Array<'job' | 'worker'>;
  digits: number;
  entryDigits: number;
  entriesPerCall: number;
  dtmfGapMs: number;
  warm: number;
  seed: number;
}

/** One line of the closing table. */
interface Figure {
  figure: string;
  result: string;
  target: string;
  met: boolean;
  /** What a reader needs to trust or question the result (failures and their reasons). */
  notes: string[];
}

const s1 = (ms: number) => (Number.isFinite(ms) ? (ms / 1000).toFixed(1) : '-');
const s2 = (s: number) => (Number.isFinite(s) ? s.toFixed(2) : '-');
const firstLine = (err: unknown) =>
  ((err as Error)?.message ?? String(err)).split('\n')[0]!.replace(/ \(events: .*$/, '');

// ------------------------------------------------------------------------------------------------
// Rolling restarts under live calls.

const QUESTION = 'I have a question about my bill';
const ANSWER =
  'Of course. I can help you with your bill. Your last invoice was forty two dollars, and it ' +
  'was paid on the first of the month.';

interface CallRecord {
  n: number;
  user: string;
  targetS: number;
  callId?: string;
  answeredAt?: number;
  /** INVITE → 200 OK (ms): a call rings while no job process is free to take it. */
  ringMs?: number;
  /** Whether the phone's line is closed now. */
  lineClosed?: () => boolean;
  /** When the call ended for the bench: the caller hung up, or the line closed. */
  endedAt?: number;
  notAnswered?: string;
  greeted?: boolean;
  hungUpAt?: number;
  /** The line closed before the caller hung up (a BYE from the far end), and why. */
  closedEarly?: string;
  asked: number;
  /** Per question: caller's last word → agent's first audio at the phone (ms), or none heard. */
  turnsMs: Array<number | undefined>;
  /** The worker whose job ran the call at its end. */
  worker?: string;
}

interface Drain {
  worker: string;
  sigtermAt: number;
  exitedAt?: number;
  /** Calls live in the whole pool, and on this worker, at the SIGTERM. */
  liveCalls: number;
  itsCalls: number;
}

async function rollingRestarts(o: Options): Promise<Figure[]> {
  const product = await startProduct({ workerStartTimeoutMs: 180_000 });
  try {
    const children = new Map<string, ChildProcess>([['worker', product.worker!]]);
    const pool = ['worker'];
    for (let i = 1; i < o.pool; i++) {
      const name = `worker-p${i}`;
      children.set(name, await product.startWorker(name));
      pool.push(name);
    }
    await Promise.all(pool.map((w) => waitForWarmPool(product, w, 1)));
    const everyWorker = [...pool];
    const wav = join(product.stack.logsDir, 'caller-question.wav');
    const [spoken] = await callerWav(wav, [{ at: 0.1, text: QUESTION }]);
    const wavS = spoken!.end + 0.4;
    // Every caller asks the same question, whatever connection hears it.
    product.providers.stt.setScript([], { fallback: QUESTION });
    product.providers.llm.setRules([{ match: 'bill', reply: ANSWER }]);
    await product.routeNumber(NUMBER, 'receptionist');

    const rnd = seededRandom(o.seed);
    const calls: CallRecord[] = [];
    let placing = true;
    let seq = 0;
    const live = () => calls.filter((c) => c.answeredAt && !c.endedAt && !c.lineClosed?.()).length;

    /**
     * One caller's call. `answered` is called once the call is answered (or failed to be);
     * `handOver` before it hangs up: it places the next call and waits for its answer (up to
     * 15 s), so the calls on the line stay at `--live-calls` while one caller makes way for the
     * next.
     */
    const oneCall = async (answered: () => void, handOver: () => Promise<void>): Promise<void> => {
      const n = ++seq;
      const rec: CallRecord = {
        n,
        user: `+1555030${String(n).padStart(4, '0')}`,
        targetS: o.callS[0] + rnd() * (o.callS[1] - o.callS[0]),
        asked: 0,
        turnsMs: [],
      };
      calls.push(rec);
      const c = new Caller(
        await product.phone({ user: rec.user, name: `call-${n}`, micSeconds: 600 }),
        product.stack.sipUri(NUMBER),
      );
      try {
        // Beyond the idle job processes a call rings until a new one has prewarmed.
        await c.dial(60_000);
      } catch (err) {
        rec.notAnswered = firstLine(err);
        rec.endedAt = Date.now();
        answered();
        await c.phone.stop();
        await handOver();
        return;
      }
      answered();
      rec.answeredAt = c.answeredAt;
      rec.ringMs = c.answeredAt - c.dialedAt;
      const closed = () =>
        c.phone.events.find((e) => e.type === 'CALL_CLOSED' && e.at >= c.dialedAt);
      rec.lineClosed = () => closed() !== undefined;
      rec.callId = await callIdOf(product, rec.user).catch(() => undefined);
      rec.greeted = await c.agentDone(0, 0.8, 10_000);
      // Questions until the caller means to hang up; then the next caller's call is placed and
      // answered, and one last question: a caller never idles on a line the agent may have left.
      let handedOver = false;
      while (rec.greeted && !closed()) {
        if (!handedOver && (Date.now() - c.answeredAt) / 1000 >= rec.targetS) {
          await handOver();
          handedOver = true;
        }
        await sleep(300);
        const since = await c.play('question', wav, wavS);
        rec.asked++;
        await sleep(wavS * 1000);
        // The recordings decide whether the answer was late; live, only stop waiting.
        const replied = await c.agentDone(since, 1.0, (o.answerTimeoutS + 3) * 1000);
        if (!replied || handedOver) break;
      }
      if (rec.callId) rec.worker = jobOf(product, rec.callId, everyWorker)?.worker;
      if (!handedOver) await handOver();
      const early = closed();
      if (early) rec.closedEarly = early.param ?? 'closed';
      rec.hungUpAt = Date.now();
      rec.endedAt = early?.at ?? rec.hungUpAt;
      await c.hangup().catch(() => c.phone.stop());
      try {
        rec.turnsMs = c.answerDelaysMs();
      } catch (err) {
        console.log(`  call ${n}: recordings not readable: ${firstLine(err)}`);
      }
      const turns = rec.turnsMs.map((t) => (t === undefined ? 'none' : s1(t))).join(', ');
      console.log(
        `  call ${n} (${rec.worker ?? '?'}): rang ${s1(rec.ringMs)} s, on the line ${((rec.endedAt - c.answeredAt) / 1000).toFixed(0)} s, ` +
          `${rec.greeted ? 'greeted' : 'NOT greeted'}, answers after ${turns || '-'} s` +
          `${early ? `; line closed by the far end (${rec.closedEarly})` : ''}`,
      );
    };
    /** A caller slot: its calls one after the other, each handing over to the next. */
    const slot = async (k: number) => {
      await sleep(k * 3000);
      const chain: Array<Promise<void>> = [];
      const place = () =>
        new Promise<void>((answered) => {
          // Once per call; at most 15 s: a caller does not wait out a long ring of the next one.
          let handed = false;
          const handOver = async () => {
            if (handed || !placing) return;
            handed = true;
            await Promise.race([place(), sleep(15_000)]);
          };
          chain.push(
            oneCall(answered, handOver).catch(async (err: unknown) => {
              console.log(`  a call broke: ${firstLine(err)}`);
              answered();
              await handOver();
            }),
          );
        });
      await place();
      // The chain grows while it runs: each call adds the next before it ends.
      for (let i = 0; i < chain.length; i++) await chain[i];
    };
    const slots = Array.from({ length: o.liveCalls }, (_, k) =>
      slot(k).catch((err: unknown) => console.log(`  caller slot ${k} broke: ${firstLine(err)}`)),
    );
    await until(
      'all callers on the line',
      () => (live() >= o.liveCalls ? true : undefined),
      120_000,
    ).catch(() => console.log(`  only ${live()} of ${o.liveCalls} calls live; restarting anyway`));

    const drains: Drain[] = [];
    const readyMs: number[] = [];
    const restartFailures: string[] = [];
    for (let r = 1; r <= o.restarts; r++) {
      const name = `worker-r${r}`;
      const t0 = Date.now();
      let child: ChildProcess;
      try {
        child = await product.startWorker(name);
        await waitForWarmPool(product, name, 1, 180_000);
      } catch (err) {
        restartFailures.push(`restart ${r}: ${name} ${firstLine(err)}`);
        console.log(`  restart ${r}: ${name} did not come up: ${firstLine(err)}`);
        continue;
      }
      readyMs.push(Date.now() - t0);
      everyWorker.push(name);
      // The SIGTERM meets every caller on the line (a call failing to be answered aside).
      await until(
        'the callers on the line',
        () => (live() >= o.liveCalls ? true : undefined),
        60_000,
      ).catch(() => undefined);
      children.set(name, child);
      // The old worker running the most calls (the oldest of equals): a drain that meets no
      // call proves nothing, and LiveKit tends to give new calls to the newest, idle worker.
      const running = new Map(pool.map((w) => [w, 0]));
      for (const c of calls.filter((x) => x.callId && x.answeredAt && !x.endedAt)) {
        const w = jobOf(product, c.callId!, everyWorker)?.worker;
        if (w && running.has(w)) running.set(w, running.get(w)! + 1);
      }
      const old = pool.reduce((a, b) => (running.get(b)! > running.get(a)! ? b : a));
      pool.splice(pool.indexOf(old), 1);
      const oldChild = children.get(old)!;
      const drain: Drain = {
        worker: old,
        sigtermAt: Date.now(),
        liveCalls: live(),
        itsCalls: running.get(old)!,
      };
      drains.push(drain);
      if (oldChild.exitCode !== null || oldChild.signalCode !== null) drain.exitedAt = Date.now();
      else oldChild.once('exit', () => (drain.exitedAt = Date.now()));
      // What Kubernetes sends a pod it replaces; the worker drains.
      oldChild.kill('SIGTERM');
      pool.push(name);
      console.log(
        `  restart ${r}: ${name} registered and warm in ${s1(readyMs.at(-1)!)} s; SIGTERM to ${old}, running ${drain.itsCalls} of the ${drain.liveCalls} calls live`,
      );
    }
    placing = false;
    await Promise.all(slots);
    // The drained workers exit once their last call ended.
    await until(
      'the drained workers to exit',
      () => (drains.every((d) => d.exitedAt) ? true : undefined),
      90_000,
    ).catch(() => undefined);
    // Each call's own account: taken over (a drain must not look like a crash), its summary.
    await sleep(3000);
    const resumed: number[] = [];
    const notByCaller: string[] = [];
    for (const c of calls.filter((x) => x.callId)) {
      const events = product.callEvents(c.callId!);
      if (events.some((e) => e.type === 'call.resumed')) resumed.push(c.n);
      const summary = events.find((e) => e.type === 'call.summary');
      if (summary?.data.endedBy !== 'caller') {
        notByCaller.push(
          `call ${c.n}: ${summary ? `ended by ${summary.data.endedBy}` : 'no summary'}`,
        );
      }
    }

    const answeredCalls = calls.filter((c) => c.answeredAt);
    const notAnswered = calls.filter((c) => c.notAnswered);
    const notGreeted = answeredCalls.filter((c) => !c.greeted);
    const closedEarly = answeredCalls.filter((c) => c.greeted && c.closedEarly);
    const limitMs = o.answerTimeoutS * 1000;
    const silent = answeredCalls.filter(
      (c) => c.greeted && !c.closedEarly && c.turnsMs.some((t) => t === undefined || t > limitMs),
    );
    const dropped = closedEarly.length + silent.length;
    // A call lived through a drain when its worker got SIGTERM while it was on the line.
    const drained = answeredCalls.filter((c) =>
      drains.some(
        (d) => d.worker === c.worker && d.sigtermAt > c.answeredAt! && d.sigtermAt < c.endedAt!,
      ),
    );
    const turns = answeredCalls.flatMap((c) => c.turnsMs.filter((t) => t !== undefined));
    const rings = answeredCalls.map((c) => c.ringMs!);
    const exits = drains.filter((d) => d.exitedAt).map((d) => d.exitedAt! - d.sigtermAt);
    const notes = [
      `calls placed ${calls.length}, answered ${answeredCalls.length}; ${drained.length} of them were on a worker when it got SIGTERM`,
      `at each SIGTERM, calls on the drained worker / live in all: ${drains.map((d) => `${d.itsCalls}/${d.liveCalls}`).join(', ') || '-'}`,
      `new worker registered and warm after p50 ${s1(pct(readyMs, 50))} s, max ${s1(Math.max(...readyMs))} s; ` +
        `drained workers exited ${exits.length}/${drains.length}, SIGTERM → exit p50 ${s1(pct(exits, 50))} s, max ${s1(Math.max(...exits))} s`,
      `INVITE → 200 OK: p50 ${s1(pct(rings, 50))} s, p95 ${s1(pct(rings, 95))} s, max ${s1(Math.max(...rings))} s`,
      `answers at the phone (caller's last word → agent's first audio): n ${turns.length}, p50 ${s1(pct(turns, 50))} s, ` +
        `p95 ${s1(pct(turns, 95))} s, max ${s1(Math.max(...turns))} s (a drop: none, or over ${o.answerTimeoutS} s)`,
      ...restartFailures,
      ...notAnswered.map((c) => `call ${c.n} never answered: ${c.notAnswered}`),
      ...notGreeted.map((c) => `call ${c.n} never greeted`),
      ...closedEarly.map(
        (c) => `call ${c.n} dropped: line closed by the far end (${c.closedEarly})`,
      ),
      ...silent.map(
        (c) =>
          `call ${c.n} dropped: an answer due was not heard within ${o.answerTimeoutS} s (${c.turnsMs.map((t) => (t === undefined ? 'none' : s1(t))).join(', ')} s)`,
      ),
      ...(resumed.length
        ? [`taken over (a drain should never be): calls ${resumed.join(', ')}`]
        : []),
      ...notByCaller,
    ];
    const failed = dropped + notAnswered.length + notGreeted.length;
    return [
      {
        figure: `calls dropped over ${drains.length} rolling restarts (${o.restarts} asked) under ${o.liveCalls} live calls`,
        result:
          `${dropped} dropped of ${calls.length} placed (${closedEarly.length} closed early, ${silent.length} answer > ${o.answerTimeoutS} s); ` +
          `never answered ${notAnswered.length}, never greeted ${notGreeted.length}`,
        target: '0 dropped, 0 unanswered or ungreeted',
        met: failed === 0 && drains.length === o.restarts,
        notes,
      },
    ];
  } finally {
    await product.stop();
  }
}

// ------------------------------------------------------------------------------------------------
// Dead air after crashes.

interface CrashResult {
  i: number;
  kind: 'job' | 'worker';
  gapS?: number;
  failure?: string;
  /** The take-over worked but not as designed (e.g. its summary). */
  problem?: string;
}

async function crashes(o: Options): Promise<Figure[]> {
  const product = await startProduct({ workerStartTimeoutMs: 180_000 });
  try {
    await product.startWorker('worker-b');
    const live = new Set(['worker', 'worker-b']);
    // Workers that ran a while have idle job processes warmed up; a take-over never waits for one.
    await Promise.all([...live].map((w) => waitForWarmPool(product, w, 2)));
    const scene: CrashScene = await prepareCrashCalls(product, [...live]);
    const results: CrashResult[] = [];
    for (let i = 0; i < o.crashes; i++) {
      const kind = o.crashKinds[i % o.crashKinds.length]!;
      const result: CrashResult = { i: i + 1, kind };
      results.push(result);
      await Promise.all([...live].map((w) => waitForWarmPool(product, w, 1)));
      let phone: Phone | undefined;
      let victim: string | undefined;
      try {
        phone = await product.phone({
          user: `+1555040${String(i).padStart(4, '0')}`,
          micSeconds: 120,
        });
        const run = await callAndKill(scene, phone, (job) => {
          victim = job.worker;
          const pids = kind === 'job' ? [job.pid] : processTree(parentOf(job.pid));
          killAll(pids);
          return pids;
        });
        const takeOver = await goOn(scene, run);
        result.gapS = deadAir(run, takeOver.speech);
        try {
          checkTakeOver(run, takeOver);
        } catch (err) {
          result.problem = firstLine(err);
        }
      } catch (err) {
        result.failure = firstLine(err);
        await phone?.stop().catch(() => undefined);
      }
      console.log(
        `  crash ${i + 1} (${kind}${victim ? ` in ${victim}` : ''}): ` +
          (result.gapS !== undefined
            ? `dead air ${s2(result.gapS)} s`
            : `FAILED: ${result.failure}`) +
          (result.problem ? `; ${result.problem}` : ''),
      );
      if (kind === 'worker' && victim) {
        // Its pod would be restarted: a new worker takes its place in the pool.
        live.delete(victim);
        const name = `worker-k${i + 1}`;
        await product.startWorker(name);
        live.add(name);
        scene.workers.push(name);
      }
    }
    return (['job', 'worker'] as const)
      .filter((k) => results.some((r) => r.kind === k))
      .map((kind) => {
        const mine = results.filter((r) => r.kind === kind);
        const gaps = mine.flatMap((r) => (r.gapS === undefined ? [] : [r.gapS]));
        const p95 = pct(gaps, 95);
        return {
          figure: `dead air after a ${kind === 'job' ? 'job-process' : 'whole-worker'} kill -9 (caller's recording)`,
          result: `p50 ${s2(pct(gaps, 50))} / p95 ${s2(p95)} / max ${s2(Math.max(...gaps))} s over ${gaps.length} of ${mine.length} kills taken over`,
          target: 'p95 ≤ 3 s, every call taken over',
          met: gaps.length === mine.length && p95 <= 3,
          notes: mine.flatMap((r) => [
            ...(r.failure ? [`crash ${r.i}: not measured: ${r.failure}`] : []),
            ...(r.problem ? [`crash ${r.i}: ${r.problem}`] : []),
          ]),
        };
      });
  } finally {
    await product.stop();
  }
}

// ------------------------------------------------------------------------------------------------
// DTMF digits.

/** Digits of `got` compared with `pressed`: missing, extra, and present but out of order. */
function compareDigits(
  pressed: string,
  got: string,
): { lost: number; extra: number; reordered: number } {
  const count = (s: string) => {
    const m = new Map<string, number>();
    for (const ch of s) m.set(ch, (m.get(ch) ?? 0) + 1);
    return m;
  };
  const a = count(pressed);
  const b = count(got);
  let common = 0;
  for (const [ch, n] of a) common += Math.min(n, b.get(ch) ?? 0);
  // Longest common subsequence: the common digits that kept their order.
  const row = new Array<number>(got.length + 1).fill(0);
  for (const ch of pressed) {
    let diag = 0;
    for (let j = 1; j <= got.length; j++) {
      const up = row[j]!;
      row[j] = ch === got[j - 1] ? diag + 1 : Math.max(row[j]!, row[j - 1]!);
      diag = up;
    }
  }
  return {
    lost: pressed.length - common,
    extra: got.length - common,
    reordered: common - row[got.length]!,
  };
}

async function dtmf(o: Options): Promise<Figure[]> {
  const interDigitS = 2;
  const product = await startProduct({
    agentsFile: DTMF_AGENTS_FILE,
    workerEnv: { DTMF_INTER_DIGIT_TIMEOUT_S: String(interDigitS), AMD_MODE: 'off' },
  });
  try {
    product.providers.llm.setRules(DIGIT_ENTRY_RULES, agentsOfFile(DTMF_AGENTS_FILE));
    await product.routeNumber(NUMBER, 'receptionist');
    const rnd = seededRandom(o.seed);
    const entries: string[] = [];
    for (let left = o.digits; left > 0; left -= o.entryDigits) {
      const n = Math.min(o.entryDigits, left);
      entries.push(Array.from({ length: n }, () => String(Math.floor(rnd() * 10))).join(''));
    }
    let pressed = 0;
    const totals = { lost: 0, extra: 0, reordered: 0 };
    const notes: string[] = [];
    let done = 0;
    let terminated = 0;
    let calls = 0;
    let next = 0;
    while (next < entries.length) {
      calls++;
      const phone = await product.phone({ user: `+1555060${String(calls).padStart(4, '0')}` });
      let callId = '';
      try {
        const dialed = await dialIn(product, phone, NUMBER, 60_000);
        callId = dialed.callId;
        const { dialedAt } = dialed;
        await played(await spokenSince(product, 'press 3', dialedAt));
        for (let k = 0; k < o.entriesPerCall && next < entries.length; k++) {
          const keys = entries[next++]!;
          let entry: Awaited<ReturnType<typeof enterDigits>>;
          try {
            entry = await enterDigits(product, phone, `${keys}#`, o.dtmfGapMs);
          } catch (err) {
            const m = firstLine(err);
            // Until the prompt the entry's digits were not pressed; after, none arrived.
            if (m.includes('tool output')) {
              pressed += keys.length;
              totals.lost += keys.length;
            }
            notes.push(`entry ${next} (${keys}): ${m}`);
            throw err;
          }
          pressed += keys.length;
          done++;
          const d = compareDigits(keys, entry.digits);
          totals.lost += d.lost;
          totals.extra += d.extra;
          totals.reordered += d.reordered;
          if (d.lost || d.extra || d.reordered) {
            notes.push(`entry ${next}: pressed ${keys}#, the agent got "${entry.digits}"`);
          }
          // "#" ends the entry at once; without it the inter-digit timeout would have.
          if (entry.entered.at - entry.lastKeyAt < interDigitS * 1000) terminated++;
          else
            notes.push(
              `entry ${next}: ended ${entry.entered.at - entry.lastKeyAt} ms after "#": the "#" did not arrive`,
            );
          await played(await spokenSince(product, THANKS, entry.entered.at));
        }
      } catch (err) {
        // A new call for the entries left.
        console.log(`  call ${calls}${callId ? ` (${callId})` : ''} broke off: ${firstLine(err)}`);
      }
      await phone.stop();
      console.log(
        `  after call ${calls}: ${done} of ${entries.length} entries, ${pressed} digits pressed`,
      );
    }
    const wrong = totals.lost + totals.reordered + totals.extra;
    return [
      {
        figure: `DTMF digits lost or reordered over ${o.digits} digits (${entries.length} entries ending with "#")`,
        result:
          `${totals.lost} lost, ${totals.reordered} reordered, ${totals.extra} extra of ${pressed} pressed; ` +
          `${done}/${entries.length} entries reached the agent, ${terminated} ended by their "#"`,
        target: '0',
        met: wrong === 0 && done === entries.length && terminated === done,
        notes,
      },
    ];
  } finally {
    await product.stop();
  }
}

// ------------------------------------------------------------------------------------------------
// Warm transfers.

async function warmTransfers(o: Options): Promise<Figure[]> {
  const product = await startProduct(warmTransferProduct());
  try {
    const scene = await prepareWarmTransfers(product);
    const failures: string[] = [];
    let completed = 0;
    for (let i = 1; i <= o.warm; i++) {
      const caller = await product.phone({
        user: `+1555050${String(i).padStart(4, '0')}`,
        micSeconds: 150,
      });
      try {
        judgeWarmTransfer(await warmTransfer(scene, caller, 'key', 'caller'));
        completed++;
        console.log(`  warm transfer ${i}: completed`);
      } catch (err) {
        failures.push(`transfer ${i}: ${firstLine(err)}`);
        console.log(`  warm transfer ${i}: FAILED: ${firstLine(err)}`);
        // Whatever is left of it: the human's line too, before the next caller asks.
        await scene.human.hangup().catch(() => undefined);
        await sleep(3000);
      }
      await caller.stop();
    }
    return [
      {
        figure:
          'warm transfers completed (accepted with key 1; bridged, each hears the other, agent gone)',
        result: `${completed}/${o.warm}`,
        target: `${o.warm}/${o.warm}`,
        met: completed === o.warm,
        notes: failures,
      },
    ];
  } finally {
    await product.stop();
  }
}

// ------------------------------------------------------------------------------------------------

function options(): Options {
  const { values } = parseArgs({
    options: {
      only: { type: 'string', default: PARTS.join(',') },
      restarts: { type: 'string', default: '20' },
      'live-calls': { type: 'string', default: '4' },
      pool: { type: 'string', default: '2' },
      'call-s': { type: 'string', default: '20-40' },
      'answer-timeout-s': { type: 'string', default: '5' },
      crashes: { type: 'string', default: '10' },
      'crash-kinds': { type: 'string', default: 'job,worker' },
      digits: { type: 'string', default: '200' },
      'entry-digits': { type: 'string', default: '10' },
      'entries-per-call': { type: 'string', default: '10' },
      'dtmf-gap-ms': { type: 'string', default: '250' },
      warm: { type: 'string', default: '20' },
      seed: { type: 'string', default: '13' },
    },
  });
  const int = (name: keyof typeof values, min: number) => {
    const x = Number(values[name]);
    if (!Number.isInteger(x) || x < min)
      throw new Error(`--${name} must be a whole number ≥ ${min}`);
    return x;
  };
  const list = <T extends string>(name: keyof typeof values, allowed: readonly T[]): T[] => {
    const xs = String(values[name])
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
    const bad = xs.filter((x) => !allowed.includes(x as T));
    if (bad.length || !xs.length)
      throw new Error(`--${name}: one or more of ${allowed.join(', ')}`);
    return xs as T[];
  };
  const callS = String(values['call-s']).split('-').map(Number);
  if (callS.length !== 2 || !(callS[0]! > 0) || !(callS[1]! >= callS[0]!)) {
    throw new Error('--call-s: MIN-MAX seconds, e.g. 20-40');
  }
  return {
    only: list('only', PARTS),
    restarts: int('restarts', 1),
    liveCalls: int('live-calls', 1),
    pool: int('pool', 1),
    callS: [callS[0]!, callS[1]!],
    answerTimeoutS: int('answer-timeout-s', 1),
    crashes: int('crashes', 1),
    crashKinds: list('crash-kinds', ['job', 'worker'] as const),
    digits: int('digits', 1),
    entryDigits: int('entry-digits', 1),
    entriesPerCall: int('entries-per-call', 1),
    dtmfGapMs: int('dtmf-gap-ms', 50),
    warm: int('warm', 1),
    seed: int('seed', 0),
  };
}

async function main(): Promise<number> {
  const o = options();
  if (process.getuid?.() !== 0) throw new Error('bench:reliability needs root (ip netns)');
  execFileSync('bash', [join(REPO_ROOT, 'stack', 'build.sh')], { stdio: 'ignore' });
  await removeStaleNetns();
  const machine = machineLine('bench:reliability');
  console.log(`${machine}\nparts: ${o.only.join(', ')}; stand-in providers at 0 ms\n`);
  const t0 = Date.now();
  const loads: number[] = [];
  const loadTimer = setInterval(() => loads.push(loadavg()[0]!), 10_000);
  const run: Record<Part, (o: Options) => Promise<Figure[]>> = {
    restarts: rollingRestarts,
    crashes,
    dtmf,
    warm: warmTransfers,
  };
  const figures: Figure[] = [];
  const broke: string[] = [];
  for (const part of o.only) {
    const at = Date.now();
    console.log(`== ${part}`);
    try {
      figures.push(...(await run[part](o)));
      console.log(`== ${part} done in ${((Date.now() - at) / 60_000).toFixed(1)} min\n`);
    } catch (err) {
      broke.push(`${part}: ${(err as Error).stack ?? String(err)}`);
      console.log(`== ${part} BROKE: ${firstLine(err)}\n`);
    }
  }
  clearInterval(loadTimer);

  console.log(`\n${machine}`);
  console.log(
    `load average (1 min) during the run: ${loads.length ? `${Math.min(...loads).toFixed(1)}–${Math.max(...loads).toFixed(1)}` : '-'}; ` +
      `took ${((Date.now() - t0) / 60_000).toFixed(1)} min; ${process.argv.slice(2).join(' ') || 'defaults'}\n`,
  );
  console.log('| figure | result | target | |');
  console.log('| --- | --- | --- | --- |');
  for (const f of figures) {
    console.log(
      `| ${f.figure} | ${f.result} | ${f.target} | target ${f.met ? 'met' : '**missed**'} |`,
    );
  }
  for (const f of figures.filter((x) => x.notes.length)) {
    console.log(`\n${f.figure}:`);
    for (const n of f.notes) console.log(`  - ${n}`);
  }
  for (const b of broke) console.log(`\nthe bench broke in ${b}`);
  return broke.length ? 1 : 0;
}

main()
  .then((code) => process.exit(code))
  .catch((err: unknown) => {
    console.error(`bench:reliability: ${(err as Error).stack ?? String(err)}`);
    process.exit(1);
  });
