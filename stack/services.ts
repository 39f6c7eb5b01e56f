/**
 * Starts the real stack for end-to-end tests inside a network namespace (see netns.ts): Redis,
 * LiveKit server and the LiveKit SIP bridge, built by `stack/build.sh` into `.cache/stack/bin/`.
 *
 * Every server listens inside the namespace on fixed ports (the namespace is ours alone, so they
 * cannot clash with anything), reached from the root namespace at `netns.nsIp`:
 *   redis 6379 · LiveKit HTTP/WS 7880, ICE/TCP 7881, ICE/UDP 7882 · SIP 5060 (UDP+TCP),
 *   SIP health 8090, SIP RTP 10000-10999. Phones and helpers get ports from `netns.allocPorts`.
 *
 * const stack = await startStack({ webhookUrls: [...] });   // ~1 s when the binaries exist
 * ...; await stack.stop();                                    // kills everything, removes the namespace
 */
import type { ChildProcess, SpawnOptions } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { createNetns, type Netns, REPO_ROOT, sleep } from './netns.js';

export const STACK_PORTS = {
  redis: 6379,
  livekitHttp: 7880,
  livekitRtcTcp: 7881,
  livekitRtcUdp: 7882,
  sip: 5060,
  sipHealth: 8090,
  sipRtp: '10000-10999',
} as const;

export const DEV_API_KEY = 'devkey';
/** ≥ 32 characters, or livekit-server warns. */
export const DEV_API_SECRET = 'devsecret-for-the-real-stack-tests-0123456789';

export interface StackOptions {
  /** Use this namespace (e.g. to start a root-side server on `netns.hostIp` first, for webhook URLs). Default: a new one, removed by stop(). */
  netns?: Netns;
  /** LiveKit webhook targets, e.g. `http://${netns.hostIp}:${port}/v1/livekit/webhook`. */
  webhookUrls?: string[];
  /** Where logs and generated configs go. Default: a new folder under the OS temp dir (kept after stop). */
  logsDir?: string;
  /** Folder of the built binaries. Default: $PA_STACK_BIN_DIR or `<repo>/.cache/stack/bin`. */
  binDir?: string;
  apiKey?: string;
  apiSecret?: string;
  /** livekit-server / livekit-sip log level. Default 'info' / 'info' (SIP 'debug' logs every SIP message). */
  livekitLogLevel?: 'debug' | 'info' | 'warn';
  sipLogLevel?: 'debug' | 'info' | 'warn';
  /** Extra livekit-server config, merged over the generated one (top-level keys, one level deep). */
  livekitConfig?: Record<string, unknown>;
  /** Extra livekit-sip config, merged over the generated one (top-level keys, one level deep). */
  sipConfig?: Record<string, unknown>;
  /**
   * Record every packet inside the namespace (all interfaces, SIP, RTP, WebRTC, HTTP) with tshark to
   * `<logsDir>/namespace.pcapng`. Default: on when PA_STACK_CAPTURE=1. Read it with
   * `tshark -r FILE -Y sip` (a SIP ladder) or `-q -z conv,udp`.
   */
  capture?: boolean;
  /** Startup timeout per service in ms. Default 20 000. */
  startTimeoutMs?: number;
}

export interface Stack {
  readonly netns: Netns;
  readonly apiKey: string;
  readonly apiSecret: string;
  /** ws://<nsIp>:7880 – valid from the root namespace and from inside the namespace. */
  readonly livekitUrl: string;
  /** http://<nsIp>:7880 – for livekit-server-sdk clients (they rewrite ws:// anyway). */
  readonly livekitHttpUrl: string;
  /** Where the SIP bridge listens (inside the namespace; phones dial it from there). */
  readonly sipHost: string;
  readonly sipPort: number;
  /** redis://<nsIp>:6379, reachable from both namespaces. */
  readonly redisUrl: string;
  /** The root-namespace end of the veth: bind root-side servers (API, webhook receivers) here. */
  readonly hostIp: string;
  readonly logsDir: string;
  readonly pids: { readonly redis: number; readonly livekit: number; readonly sip: number };
  /** Environment for our product's processes (LIVEKIT_URL, LIVEKIT_API_KEY/SECRET, REDIS_URL). */
  env(): Record<string, string>;
  /** `sip:<user>@<sipHost>:<sipPort>` – what a phone dials to reach the bridge. */
  sipUri(user: string): string;
  /** Spawns a process inside the namespace, stdout+stderr to `<logsDir>/<logName>.log` unless `stdio` is given; stop() kills it. */
  spawn(
    cmd: string,
    args: readonly string[],
    opts?: SpawnOptions & { logName?: string },
  ): ChildProcess;
  /** Same for a TypeScript/JavaScript file run with this Node + tsx (e.g. the agents worker CLI). */
  spawnNode(
    script: string,
    args: readonly string[],
    opts?: SpawnOptions & { logName?: string },
  ): ChildProcess;
  /** Resident memory of the three servers in KiB (VmRSS). */
  rss(): { redis: number; livekit: number; sip: number };
  /** Stops every process this stack started (and anything else left in the namespace), removes the namespace if it made it. */
  stop(): Promise<void>;
}

export function binDir(): string {
  return process.env.PA_STACK_BIN_DIR ?? join(REPO_ROOT, '.cache', 'stack', 'bin');
}

/** The pinned versions (stack/versions.json), for messages and reports. */
export function pinnedVersions(): { livekitServer: string; livekitSip: string } {
  const v = JSON.parse(readFileSync(join(REPO_ROOT, 'stack', 'versions.json'), 'utf8'));
  return { livekitServer: v.livekitServer.version, livekitSip: v.livekitSip.version };
}

/** Throws a clear error when stack/build.sh has not built the pinned binaries. */
export function checkBinaries(dir = binDir()): void {
  const v = JSON.parse(readFileSync(join(REPO_ROOT, 'stack', 'versions.json'), 'utf8'));
  for (const key of ['livekitServer', 'livekitSip'] as const) {
    const { module, version, binary } = v[key];
    let stamp = '';
    try {
      stamp = readFileSync(join(dir, `${binary}.version`), 'utf8');
    } catch {}
    if (!stamp.startsWith(`${module}@${version} `)) {
      throw new Error(
        `${join(dir, binary)} is missing or not ${module}@${version}: run stack/build.sh`,
      );
    }
  }
}

interface Managed {
  name: string;
  child: ChildProcess;
}

export async function startStack(opts: StackOptions = {}): Promise<Stack> {
  const bin = opts.binDir ?? binDir();
  checkBinaries(bin);
  const ownsNetns = !opts.netns;
  const netns = opts.netns ?? (await createNetns());
  const logsDir = opts.logsDir ?? mkdtempSync(join(tmpdir(), `${netns.name}-`));
  mkdirSync(logsDir, { recursive: true });
  const apiKey = opts.apiKey ?? DEV_API_KEY;
  const apiSecret = opts.apiSecret ?? DEV_API_SECRET;
  const nsIp = netns.nsIp;
  const timeout = opts.startTimeoutMs ?? 20_000;
  const managed: Managed[] = [];

  const spawnLogged = (
    launch: (opts: SpawnOptions) => ChildProcess,
    logName: string,
    spawnOpts: SpawnOptions = {},
  ): ChildProcess => {
    let fd: number | undefined;
    if (!spawnOpts.stdio) fd = openSync(join(logsDir, `${logName}.log`), 'a');
    const child = launch({
      ...spawnOpts,
      stdio: spawnOpts.stdio ?? ['ignore', fd!, fd!],
    });
    if (fd !== undefined) closeSync(fd);
    managed.push({ name: logName, child });
    child.on('error', () => {}); // reported through the exit/health checks
    return child;
  };

  let stopped = false;
  const killAllSync = () => {
    for (const { child } of managed) if (child.exitCode === null) child.kill('SIGKILL');
  };
  const onExit = () => killAllSync();
  process.on('exit', onExit);

  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    process.off('exit', onExit);
    // Helpers first, then the SIP bridge, LiveKit, Redis (reverse start order).
    for (const { child } of [...managed].reverse()) await terminate(child);
    if (ownsNetns) await netns.remove();
  };

  try {
    // ---- Packet capture (optional) -----------------------------------------------------------
    if (opts.capture ?? process.env.PA_STACK_CAPTURE === '1') {
      const tshark = spawnLogged(
        (o) =>
          netns.spawn('tshark', ['-i', 'any', '-q', '-w', join(logsDir, 'namespace.pcapng')], o),
        'tshark',
      );
      await waitFor('tshark', tshark, timeout, async () =>
        readFileSync(join(logsDir, 'tshark.log'), 'utf8').includes('Capturing on'),
      );
    }

    // ---- Redis -------------------------------------------------------------------------------
    const redis = spawnLogged(
      (o) =>
        netns.spawn(
          'redis-server',
          [
            '--port',
            String(STACK_PORTS.redis),
            '--bind',
            `127.0.0.1 ${nsIp}`,
            '--save',
            '',
            '--appendonly',
            'no',
            '--protected-mode',
            'no',
          ],
          o,
        ),
      'redis',
    );
    await waitFor('redis', redis, timeout, () => redisPing(nsIp, STACK_PORTS.redis));

    // ---- LiveKit server ----------------------------------------------------------------------
    const livekitConfig: Record<string, unknown> = {
      port: STACK_PORTS.livekitHttp,
      bind_addresses: ['127.0.0.1', nsIp],
      keys: { [apiKey]: apiSecret },
      redis: { address: `127.0.0.1:${STACK_PORTS.redis}` },
      rtc: {
        tcp_port: STACK_PORTS.livekitRtcTcp,
        udp_port: STACK_PORTS.livekitRtcUdp,
        use_external_ip: false,
        node_ip: nsIp,
        // Without STUN servers configured, the server hands clients Google's and Twilio's: point
        // them at a closed port inside the namespace instead (no DNS, no traffic out).
        stun_servers: [`${nsIp}:3478`],
      },
      logging: { level: opts.livekitLogLevel ?? 'info', json: false },
      ...(opts.webhookUrls?.length ? { webhook: { api_key: apiKey, urls: opts.webhookUrls } } : {}),
    };
    mergeInto(livekitConfig, opts.livekitConfig);
    const livekitYaml = join(logsDir, 'livekit.yaml');
    writeFileSync(livekitYaml, stringify(livekitConfig));
    const livekit = spawnLogged(
      (o) => netns.spawn(join(bin, 'livekit-server'), ['--config', livekitYaml], o),
      'livekit-server',
    );
    await waitFor('livekit-server', livekit, timeout, () =>
      httpOk(`http://${nsIp}:${STACK_PORTS.livekitHttp}/`),
    );

    // ---- LiveKit SIP bridge ------------------------------------------------------------------
    const sipConfig: Record<string, unknown> = {
      api_key: apiKey,
      api_secret: apiSecret,
      ws_url: `ws://127.0.0.1:${STACK_PORTS.livekitHttp}`,
      redis: { address: `127.0.0.1:${STACK_PORTS.redis}` },
      sip_port: STACK_PORTS.sip,
      rtp_port: STACK_PORTS.sipRtp,
      use_external_ip: false,
      // The address the bridge puts in Contact/Via and SDP (c=): the namespace's veth address.
      nat_1_to_1_ip: nsIp,
      health_port: STACK_PORTS.sipHealth,
      // The bridge refuses outbound calls ("cpu exhausted", twirp unavailable 503) and reports
      // itself under load while the *machine's* idle CPU is below (1 - this) of all cores. On a
      // 2-core box running the whole stack, phones and workers that is most of the time: 1 = off.
      max_cpu_utilization: 1,
      logging: { level: opts.sipLogLevel ?? 'info', json: false },
    };
    mergeInto(sipConfig, opts.sipConfig);
    const sipYaml = join(logsDir, 'livekit-sip.yaml');
    writeFileSync(sipYaml, stringify(sipConfig));
    const sip = spawnLogged(
      (o) => netns.spawn(join(bin, 'livekit-sip'), ['--config', sipYaml], o),
      'livekit-sip',
    );
    await waitFor('livekit-sip', sip, timeout, () =>
      httpOk(`http://${nsIp}:${STACK_PORTS.sipHealth}/`),
    );

    const livekitUrl = `ws://${nsIp}:${STACK_PORTS.livekitHttp}`;
    const stack: Stack = {
      netns,
      apiKey,
      apiSecret,
      livekitUrl,
      livekitHttpUrl: `http://${nsIp}:${STACK_PORTS.livekitHttp}`,
      sipHost: nsIp,
      sipPort: STACK_PORTS.sip,
      redisUrl: `redis://${nsIp}:${STACK_PORTS.redis}`,
      hostIp: netns.hostIp,
      logsDir,
      pids: { redis: redis.pid!, livekit: livekit.pid!, sip: sip.pid! },
      env: () => ({
        LIVEKIT_URL: livekitUrl,
        LIVEKIT_API_KEY: apiKey,
        LIVEKIT_API_SECRET: apiSecret,
        REDIS_URL: `redis://${nsIp}:${STACK_PORTS.redis}`,
      }),
      sipUri: (user) => `sip:${user}@${nsIp}:${STACK_PORTS.sip}`,
      spawn: (cmd, args, o = {}) =>
        spawnLogged((so) => netns.spawn(cmd, args, so), o.logName ?? cmd.split('/').pop()!, o),
      spawnNode: (script, args, o = {}) =>
        spawnLogged(
          (so) => netns.spawnNode(script, args, so),
          o.logName ?? script.split('/').pop()!,
          o,
        ),
      rss: () => ({
        redis: rssKiB(redis.pid!),
        livekit: rssKiB(livekit.pid!),
        sip: rssKiB(sip.pid!),
      }),
      stop,
    };
    return stack;
  } catch (err) {
    await stop();
    throw err;
  }
}

/** SIGTERM, a second SIGTERM after 500 ms (livekit-server waits for participants on the first), SIGKILL after 5 s. */
async function terminate(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  child.kill('SIGTERM');
  const t1 = setTimeout(() => child.kill('SIGTERM'), 500);
  const t2 = setTimeout(() => child.kill('SIGKILL'), 5_000);
  await exited;
  clearTimeout(t1);
  clearTimeout(t2);
}

function mergeInto(target: Record<string, unknown>, extra?: Record<string, unknown>): void {
  if (!extra) return;
  for (const [k, v] of Object.entries(extra)) {
    const cur = target[k];
    target[k] =
      cur && typeof cur === 'object' && !Array.isArray(cur) && v && typeof v === 'object'
        ? { ...(cur as object), ...(v as object) }
        : v;
  }
}

async function waitFor(
  name: string,
  child: ChildProcess,
  timeoutMs: number,
  probe: () => Promise<boolean>,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`${name} exited (${child.exitCode ?? child.signalCode}) while starting`);
    }
    if (await probe().catch(() => false)) return;
    await sleep(50);
  }
  throw new Error(`${name} was not healthy after ${timeoutMs} ms`);
}

async function httpOk(url: string): Promise<boolean> {
  const res = await fetch(url, { signal: AbortSignal.timeout(1_000) });
  return res.ok;
}

function redisPing(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = connect({ host, port });
    sock.setTimeout(1_000, () => {
      sock.destroy();
      resolve(false);
    });
    sock.on('error', () => resolve(false));
    sock.on('connect', () => sock.write('PING\r\n'));
    sock.on('data', (d) => {
      sock.destroy();
      resolve(d.toString().startsWith('+PONG'));
    });
  });
}

export function rssKiB(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}
