/**
 * `npm run bench:api`: POST /v1/calls and GET /v1/calls at 200 concurrent connections
 * (autocannon), and the API's own overhead: its latency minus the latency of the same LiveKit
 * RPCs made directly with livekit-server-sdk against the same stand-in.
 *
 * Two measurements per route:
 * - saturation: as fast as 200 connections go, for the maximum req/s. Latencies there are
 *   mostly queueing (200 / throughput), so their difference is not the API's cost;
 * - fixed load: the API and the direct SDK calls both get the same offered rate (half of what
 *   the direct calls sustain) over 200 connections; the latency difference is the overhead.
 *
 * Three processes so the load generator does not steal the API's event loop: the LiveKit
 * stand-in (test/standin, `answerDelayMs` 50), the API (`src/api/main.ts`, LOG_LEVEL info to
 * /dev/null) and this one (autocannon + the direct-SDK baseline). The stand-in is reset between
 * runs so each sees the same state (GET lists a fixed set of active calls).
 *
 * Env: BENCH_DURATION_S (default 8), BENCH_CONNECTIONS (default 200), BENCH_LOAD (fraction of
 * the direct saturation rate used for the fixed-load runs, default 0.5).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { RoomAgentDispatch, RoomServiceClient, SipClient } from 'livekit-server-sdk';
import { freePort } from '../test/support/ports.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const DURATION_S = Number(process.env.BENCH_DURATION_S ?? 8);
const LOAD = Number(process.env.BENCH_LOAD ?? 0.25);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 200);
const API_KEY = 'bench-api-key-0123456789';
const SEEDED_CALLS = 10;
const CALLEE = '+14155550123';
const FROM = '+14155550100';

interface StandinInfo {
  url: string;
  apiKey: string;
  apiSecret: string;
  control: string;
}

// ── child: the stand-in with a small control endpoint ─────────────────────────────────────

async function runStandin(): Promise<void> {
  const { startLiveKitStandin } = await import('../test/standin/index.js');
  const lk = await startLiveKitStandin({ answerDelayMs: 50, departureTimeoutMs: 1000 });
  const control = createHttpServer((req, res) => {
    if (req.url === '/reset') {
      // Forget rooms, calls and the request log: each run starts from the same state.
      lk.state.rooms.clear();
      lk.state.calls.clear();
      lk.requests.length = 0;
    }
    res.end(JSON.stringify({ rooms: lk.state.rooms.size, requests: lk.requests.length }));
  });
  await new Promise<void>((r) => control.listen(0, '127.0.0.1', r));
  const port = (control.address() as { port: number }).port;
  const info: StandinInfo = {
    url: lk.url,
    apiKey: lk.apiKey,
    apiSecret: lk.apiSecret,
    control: `http://127.0.0.1:${port}`,
  };
  process.stdout.write(`${JSON.stringify(info)}\n`);
  process.on('SIGTERM', () => {
    void lk.close().then(() => process.exit(0));
  });
}

// ── orchestrator ──────────────────────────────────────────────────────────────────────────

function tsx(args: string[], env: NodeJS.ProcessEnv, stdout: 'pipe' | 'ignore'): ChildProcess {
  return spawn(process.execPath, ['--import', 'tsx', ...args], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', stdout, 'inherit'],
  });
}

async function startStandin(): Promise<{ child: ChildProcess; info: StandinInfo }> {
  const child = tsx([fileURLToPath(import.meta.url), 'standin'], {}, 'pipe');
  const info = await new Promise<StandinInfo>((resolve, reject) => {
    let buf = '';
    child.stdout?.on('data', (c: Buffer) => {
      buf += c.toString();
      const nl = buf.indexOf('\n');
      if (nl >= 0) resolve(JSON.parse(buf.slice(0, nl)) as StandinInfo);
    });
    child.once('exit', (code) => reject(new Error(`stand-in exited (${code})`)));
  });
  return { child, info };
}

async function waitHealthy(url: string, timeoutMs = 30_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    try {
      if ((await fetch(url)).ok) return;
    } catch {}
    if (Date.now() > end) throw new Error(`${url} not healthy after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

interface Figures {
  rps: number;
  p50: number;
  p99: number;
  errors: number;
  /** CPU time (user + system) per completed request of the process doing the work, in ms. */
  cpuMs?: number;
}

/** CPU time of another process so far, in ms (Linux /proc; undefined elsewhere). */
function cpuOf(pid: number | undefined): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces): utime and stime are 14 and 15.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS;
  } catch {
    return undefined;
  }
}
const CLOCK_TICKS = 100;

/** Runs `run` and adds the CPU per request that process `pid` (or this one) spent on it. */
async function withCpu(pid: number | undefined, run: () => Promise<Figures>): Promise<Figures> {
  const before = pid ? cpuOf(pid) : cpuMsSelf();
  const figures = await run();
  const after = pid ? cpuOf(pid) : cpuMsSelf();
  const done = figures.rps * DURATION_S;
  if (before !== undefined && after !== undefined && done > 0) {
    figures.cpuMs = (after - before) / done;
  }
  return figures;
}
function cpuMsSelf(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

async function cannon(opts: autocannon.Options, rate?: number): Promise<Figures> {
  const r = await autocannon({
    ...opts,
    connections: CONNECTIONS,
    duration: DURATION_S,
    ...(rate ? { overallRate: rate } : {}),
  });
  return {
    rps: r.requests.average,
    p50: r.latency.p50,
    p99: r.latency.p99,
    errors: r.errors + r.timeouts + r.non2xx,
  };
}

/**
 * Runs `op` from CONNECTIONS concurrent loops for DURATION_S, at most `rate` per second when
 * given (like autocannon's overallRate). Latencies in whole ms, as autocannon records them.
 */
async function loops(op: () => Promise<unknown>, rate?: number): Promise<Figures> {
  const latencies: number[] = [];
  let errors = 0;
  const start = performance.now();
  const end = start + DURATION_S * 1000;
  let next = start;
  await Promise.all(
    Array.from({ length: CONNECTIONS }, async () => {
      for (;;) {
        if (rate) {
          const slot = Math.max(next, performance.now());
          next = slot + 1000 / rate;
          if (slot >= end) break;
          await new Promise((r) => setTimeout(r, slot - performance.now()));
        } else if (performance.now() >= end) break;
        const t0 = performance.now();
        try {
          await op();
          // Like autocannon: what completes after the run's end is not counted.
          const t1 = performance.now();
          if (t1 <= end) latencies.push(t1 - t0);
        } catch {
          errors++;
        }
      }
    }),
  );
  latencies.sort((a, b) => a - b);
  const at = (q: number) =>
    latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? 0;
  return { rps: latencies.length / DURATION_S, p50: at(0.5), p99: at(0.99), errors };
}

async function main(): Promise<void> {
  const { child: standin, info } = await startStandin();
  const children: ChildProcess[] = [standin];
  const stop = () => {
    for (const c of children) c.kill('SIGTERM');
  };
  process.once('SIGINT', () => {
    stop();
    process.exit(130);
  });
  try {
    const sip = new SipClient(info.url, info.apiKey, info.apiSecret);
    const rooms = new RoomServiceClient(info.url, info.apiKey, info.apiSecret);
    const trunk = await sip.createSipOutboundTrunk('bench', 'sip.carrier.example.com', [FROM]);
    const control = async (path: string) =>
      (await (await fetch(`${info.control}${path}`)).json()) as { rooms: number; requests: number };
    /** Waits until requests left over from the last run have drained, then resets. */
    const reset = async () => {
      let last = -1;
      for (;;) {
        const { requests } = await control('/');
        if (requests === last) break;
        last = requests;
        await new Promise((r) => setTimeout(r, 300));
      }
      await control('/reset');
    };

    const port = await freePort();
    const api = `http://127.0.0.1:${port}`;
    const apiChild = tsx(
      ['src/api/main.ts'],
      {
        PORT: String(port),
        HOST: '127.0.0.1',
        LIVEKIT_URL: info.url,
        LIVEKIT_API_KEY: info.apiKey,
        LIVEKIT_API_SECRET: info.apiSecret,
        API_KEYS: API_KEY,
        DEFAULT_OUTBOUND_TRUNK_ID: trunk.sipTrunkId,
        RATE_LIMIT_MAX: '1000000000',
        LOG_LEVEL: process.env.LOG_LEVEL ?? 'info',
        REDIS_URL: '',
        EVENTS_WEBHOOK_URL: '',
      },
      'ignore',
    );
    children.push(apiChild);
    await waitHealthy(`${api}/healthz`);

    const headers = { authorization: `Bearer ${API_KEY}`, 'content-type': 'application/json' };
    const body = JSON.stringify({ to: CALLEE, from: FROM, agent: { name: 'phone-agent' } });
    const seed = async () => {
      await reset();
      for (let i = 0; i < SEEDED_CALLS; i++) {
        const r = await fetch(`${api}/v1/calls`, { method: 'POST', headers, body });
        if (r.status !== 201) throw new Error(`seeding failed: ${r.status} ${await r.text()}`);
      }
    };

    // The same RPCs the API makes for one POST /v1/calls, with the same arguments' shape.
    let n = 0;
    const postDirect = async () => {
      const name = `bench-${n++}`;
      const createdAt = new Date().toISOString();
      await rooms.createRoom({
        name,
        metadata: JSON.stringify({
          phoneAgents: {
            callId: name,
            direction: 'outbound',
            agent: 'phone-agent',
            to: CALLEE,
            from: FROM,
            trunkId: trunk.sipTrunkId,
            createdAt,
          },
        }),
        agents: [
          new RoomAgentDispatch({
            agentName: 'phone-agent',
            metadata: JSON.stringify({
              kind: 'phone-agents.call',
              callId: name,
              to: CALLEE,
              from: FROM,
              createdAt,
            }),
          }),
        ],
      });
      await sip.createSipParticipant(trunk.sipTrunkId, CALLEE, name, {
        fromNumber: FROM,
        participantIdentity: 'callee',
        participantAttributes: { 'phoneAgents.callId': name },
        maxCallDuration: 3600,
      });
    };
    // The same RPCs the API makes for GET /v1/calls: ListRooms, then ListParticipants for each
    // room holding someone, 16 at a time.
    const getDirect = async () => {
      const all = await rooms.listRooms();
      const candidates = all
        .filter((r) => r.numParticipants > 0)
        .sort((a, b) => (a.name < b.name ? -1 : 1));
      for (let i = 0; i < candidates.length; i += 16) {
        await Promise.all(candidates.slice(i, i + 16).map((r) => rooms.listParticipants(r.name)));
      }
    };

    process.stderr.write(
      `bench:api: ${CONNECTIONS} connections, ${DURATION_S} s per run, stand-in answerDelayMs 50, ` +
        `fixed load ${LOAD * 100}% of the direct saturation rate\n`,
    );
    // Warm-up: JIT, connection pools, schema compilation.
    await autocannon({
      url: `${api}/v1/calls`,
      method: 'POST',
      headers,
      body,
      connections: 20,
      duration: 2,
    });

    const post = { url: `${api}/v1/calls`, method: 'POST' as const, headers, body };
    await reset();
    const postDirectSat = await withCpu(undefined, () => loops(postDirect));
    await reset();
    const postApiSat = await withCpu(apiChild.pid, () => cannon(post));
    const postRate = Math.max(1, Math.round(postDirectSat.rps * LOAD));
    await reset();
    const postDirectFixed = await withCpu(undefined, () => loops(postDirect, postRate));
    await reset();
    // At a fixed rate both sides run from the same paced loops (autocannon's overallRate sends
    // in bursts, which would charge the API for queueing the direct side never sees).
    const postApi = async () => {
      const r = await fetch(post.url, { method: 'POST', headers, body });
      await r.arrayBuffer();
      if (r.status !== 201) throw new Error(String(r.status));
    };
    const postApiFixed = await withCpu(apiChild.pid, () => loops(postApi, postRate));

    const get = { url: `${api}/v1/calls`, method: 'GET' as const, headers };
    await seed();
    const getDirectSat = await withCpu(undefined, () => loops(getDirect));
    const getApiSat = await withCpu(apiChild.pid, () => cannon(get));
    const getRate = Math.max(1, Math.round(getDirectSat.rps * LOAD));
    const getDirectFixed = await withCpu(undefined, () => loops(getDirect, getRate));
    const getApi = async () => {
      const r = await fetch(get.url, { headers });
      await r.arrayBuffer();
      if (r.status !== 200) throw new Error(String(r.status));
    };
    const getApiFixed = await withCpu(apiChild.pid, () => loops(getApi, getRate));
    const listed = (await (await fetch(`${api}/v1/calls`, { headers })).json()) as {
      calls: unknown[];
    };

    // CPU per request only from the saturated runs: at a low rate, idle work would dominate.
    const noCpu = (x: Figures): Figures => ({ ...x, cpuMs: undefined });
    const f = (v: number, w = 8) => v.toFixed(Math.abs(v) < 100 ? 1 : 0).padStart(w);
    const c = (v: number | undefined, w = 7) =>
      (v === undefined ? 'n/a' : v.toFixed(2)).padStart(w);
    const row = (name: string, a: Figures, d: Figures) =>
      [
        name.padEnd(26),
        f(a.rps),
        f(a.p50),
        f(a.p99),
        f(a.errors, 6),
        f(d.rps),
        f(d.p50),
        f(d.p99),
        f(a.p50 - d.p50),
        f(a.p99 - d.p99),
        c(a.cpuMs),
        c(d.cpuMs),
        c(a.cpuMs !== undefined && d.cpuMs !== undefined ? a.cpuMs - d.cpuMs : undefined),
      ].join(' ');
    const h = (t: string, w = 8) => t.padStart(w);
    const out = [
      '',
      `${''.padEnd(26)} ${'── API ─────────────────────────'.padEnd(33)} ${'── same RPCs, direct SDK ─'.padEnd(26)} ${'── overhead ──────'.padEnd(17)} ── CPU ms per request ──`,
      [
        'run'.padEnd(26),
        h('req/s'),
        h('p50 ms'),
        h('p99 ms'),
        h('errors', 6),
        h('req/s'),
        h('p50 ms'),
        h('p99 ms'),
        h('p50 ms'),
        h('p99 ms'),
        h('API', 7),
        h('direct', 7),
        h('extra', 7),
      ].join(' '),
      row('POST /v1/calls saturated', postApiSat, postDirectSat),
      row(`POST /v1/calls @${postRate}/s`, noCpu(postApiFixed), noCpu(postDirectFixed)),
      row('GET /v1/calls saturated', getApiSat, getDirectSat),
      row(`GET /v1/calls @${getRate}/s`, noCpu(getApiFixed), noCpu(getDirectFixed)),
      '',
      `POST = CreateRoom (with agent dispatch) + CreateSIPParticipant. GET = ListRooms + ${SEEDED_CALLS} ListParticipants (${listed.calls.length} calls listed).`,
      'Saturated: autocannon, as fast as the connections go (latency is mostly queueing on 2 shared cores).',
      '@N/s: both sides from the same paced loops (fetch for the API), the same offered load, CONNECTIONS in flight at most.',
      'Overhead = API latency − latency of the same RPCs made directly with livekit-server-sdk.',
      'CPU: the API process per request vs. this process per direct call (SDK client work); "extra" is what the API itself',
      'costs (HTTP server, validation, routing, serialization), a figure that contention on a busy machine barely changes.',
      'Target on a quiet 2-core machine: overhead p50 ≤ 2 ms, p99 ≤ 10 ms (at the fixed load).',
      '',
    ];
    process.stdout.write(out.join('\n'));
  } finally {
    stop();
  }
}

if (process.argv[2] === 'standin') {
  await runStandin();
} else {
  await main();
  process.exit(0);
}
