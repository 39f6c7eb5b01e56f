/**
 * The real stack's network namespace: a Linux network namespace with `lo` and one end of a veth
 * pair, so that WebRTC peers (libwebrtc in rtc-node, pion in livekit-sip) and SIP phones have a
 * non-loopback address to offer that is *not* this machine's own interface address.
 *
 *   root namespace                         namespace pa-stack-<i>
 *   pa<i>h  10.77.<i>.1/24  <── veth ──>  pa<i>n  10.77.<i>.2/24  (+ lo 127.0.0.1)
 *
 * The namespace has no default route (nothing in it can reach anything but itself and
 * 10.77.<i>.1), IPv6 is off on both veth ends, and `/etc/netns/<name>/resolv.conf` points DNS at
 * the namespace's own loopback (so a stray host-name lookup fails inside, instead of going to the
 * machine's resolver). Processes in the root namespace reach servers in it at `nsIp`; servers in
 * it reach the root namespace at `hostIp` (webhooks, the API under test).
 *
 * Each namespace gets the lowest free index i (1..250): `ip netns add` fails for a name that
 * exists, which makes the choice atomic across parallel test processes. A marker
 * `/run/pa-stack/<name>.owner` holds the creating process id; namespaces whose owner is gone are
 * removed by the next `createNetns` (after a crash or a killed test run).
 *
 * Needs root (CAP_NET_ADMIN, CAP_SYS_ADMIN) and iproute2.
 */
import { type ChildProcess, execFile, type SpawnOptions, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const execFileP = promisify(execFile);

export const NETNS_PREFIX = 'pa-stack';
const OWNER_DIR = '/run/pa-stack';
/** Repository root (this file is `<root>/stack/netns.ts`). */
export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

export interface Netns {
  /** Namespace name, `pa-stack-<index>`. */
  readonly name: string;
  readonly index: number;
  /** Root-namespace end of the veth (10.77.<i>.1): where root-side servers listen for the namespace. */
  readonly hostIp: string;
  /** Namespace end of the veth (10.77.<i>.2): every server in the namespace is reached here. */
  readonly nsIp: string;
  readonly hostIf: string;
  readonly nsIf: string;
  /** Spawns `cmd args` inside the namespace (`ip netns exec` execs, so `child.pid` is the command's). */
  spawn(cmd: string, args: readonly string[], opts?: SpawnOptions): ChildProcess;
  /** Spawns a TypeScript or JavaScript file with this Node (and tsx) inside the namespace. */
  spawnNode(script: string, args: readonly string[], opts?: SpawnOptions): ChildProcess;
  /** Runs a command inside the namespace to completion. */
  run(cmd: string, args: readonly string[]): Promise<{ stdout: string; stderr: string }>;
  /** Ports handed out in the namespace for phones and helpers: `count` consecutive free ones. */
  allocPorts(count?: number): number;
  /** Process ids running in the namespace now. */
  pids(): Promise<number[]>;
  /** Kills what still runs inside (SIGKILL, by id), deletes the veth and the namespace. */
  remove(): Promise<void>;
}

async function ip(args: readonly string[]): Promise<string> {
  const { stdout } = await execFileP('ip', args);
  return stdout;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Names of the namespaces this module made (`pa-stack-<i>`) that exist now. */
export async function namespaces(): Promise<string[]> {
  const out = await ip(['netns', 'list']);
  return out
    .split('\n')
    .map((l) => l.split(' ')[0] ?? '')
    .filter((n) => n.startsWith(`${NETNS_PREFIX}-`));
}

async function nsPids(name: string): Promise<number[]> {
  try {
    const out = await ip(['netns', 'pids', name]);
    return out
      .split('\n')
      .filter(Boolean)
      .map(Number)
      .filter((n) => Number.isInteger(n) && n !== process.pid);
  } catch {
    return [];
  }
}

/** Removes a namespace made by this module: SIGKILLs its processes by id, deletes veth + netns. */
export async function removeNetns(name: string): Promise<void> {
  const index = Number(name.slice(NETNS_PREFIX.length + 1));
  for (const pid of await nsPids(name)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {}
  }
  // The kernel tears a namespace down once its last process is gone; wait briefly for that.
  for (let i = 0; i < 50 && (await nsPids(name)).length > 0; i++) await sleep(20);
  await ip(['link', 'del', `pa${index}h`]).catch(() => {});
  await ip(['netns', 'del', name]).catch(() => {});
  rmSync(`/etc/netns/${name}`, { recursive: true, force: true });
  rmSync(join(OWNER_DIR, `${name}.owner`), { force: true });
}

/** Removes this module's namespaces whose creating process no longer runs. Returns their names. */
export async function removeStaleNetns(): Promise<string[]> {
  const removed: string[] = [];
  for (const name of await namespaces()) {
    const marker = join(OWNER_DIR, `${name}.owner`);
    const owner = existsSync(marker) ? Number(readFileSync(marker, 'utf8')) : 0;
    if (owner > 0 && alive(owner)) continue;
    await removeNetns(name);
    removed.push(name);
  }
  // veths left without a namespace (a namespace deleted by hand) would block their index.
  for (const dev of readdirSync('/sys/class/net')) {
    const m = /^pa(\d+)h$/.exec(dev);
    if (m && !(await namespaces()).includes(`${NETNS_PREFIX}-${m[1]}`)) {
      await ip(['link', 'del', dev]).catch(() => {});
    }
  }
  return removed;
}

/** Creates a fresh namespace with the lowest free index. */
export async function createNetns(): Promise<Netns> {
  if (process.getuid?.() !== 0) {
    throw new Error('the real stack needs root (it creates a network namespace with `ip netns`)');
  }
  await removeStaleNetns();
  mkdirSync(OWNER_DIR, { recursive: true });
  for (let index = 1; index <= 250; index++) {
    const name = `${NETNS_PREFIX}-${index}`;
    try {
      await ip(['netns', 'add', name]);
    } catch {
      continue; // taken (by a parallel run) – try the next index
    }
    writeFileSync(join(OWNER_DIR, `${name}.owner`), String(process.pid));
    try {
      return await configure(name, index);
    } catch (err) {
      await removeNetns(name);
      throw err;
    }
  }
  throw new Error('no free pa-stack network namespace index (1..250)');
}

async function configure(name: string, index: number): Promise<Netns> {
  const hostIf = `pa${index}h`;
  const nsIf = `pa${index}n`;
  const hostIp = `10.77.${index}.1`;
  const nsIp = `10.77.${index}.2`;
  const inNs = (args: string[]) => ip(['netns', 'exec', name, ...args]);
  // DNS inside resolves nowhere: `ip netns exec` bind-mounts /etc/netns/<name>/* over /etc/*.
  mkdirSync(`/etc/netns/${name}`, { recursive: true });
  writeFileSync(`/etc/netns/${name}/resolv.conf`, 'nameserver 127.0.0.1\n');
  await ip(['link', 'add', hostIf, 'type', 'veth', 'peer', 'name', nsIf]);
  await ip(['link', 'set', nsIf, 'netns', name]);
  writeFileSync(`/proc/sys/net/ipv6/conf/${hostIf}/disable_ipv6`, '1');
  await ip(['addr', 'add', `${hostIp}/24`, 'dev', hostIf]);
  await ip(['link', 'set', hostIf, 'up']);
  await execFileP('ip', [
    'netns',
    'exec',
    name,
    'sh',
    '-c',
    // IPv6 off; no multicast group memberships: pion and libwebrtc join mDNS (224.0.0.251) on
    // the veth, which made the kernel send IGMP reports over it. With 0 their joins fail and
    // they go on without mDNS (they use none: every candidate is a plain IP).
    [
      'echo 1 > /proc/sys/net/ipv6/conf/all/disable_ipv6',
      'echo 1 > /proc/sys/net/ipv6/conf/default/disable_ipv6',
      'echo 0 > /proc/sys/net/ipv4/igmp_max_memberships',
    ].join('; '),
  ]);
  await inNs(['ip', 'addr', 'add', `${nsIp}/24`, 'dev', nsIf]);
  await inNs(['ip', 'link', 'set', nsIf, 'up']);
  await inNs(['ip', 'link', 'set', 'lo', 'up']);
  return handle(name, index, 20_000);
}

/**
 * A handle on a namespace another process created and still owns (the local stack's supervisor,
 * `npm run stack:up`): spawn and run inside it, allocate ports from `portBase` (pick one apart
 * from the owner's, which start at 20 000). `remove()` does nothing: the owner removes it.
 */
export async function attachNetns(name: string, portBase = 40_000): Promise<Netns> {
  const m = new RegExp(`^${NETNS_PREFIX}-(\\d+)$`).exec(name);
  if (!m || !(await namespaces()).includes(name)) {
    throw new Error(`no network namespace ${name}`);
  }
  return { ...handle(name, Number(m[1]), portBase), remove: async () => {} };
}

/** Namespaces of this module whose owner marker names process `pid`. */
export function namespacesOwnedBy(pid: number): string[] {
  let files: string[] = [];
  try {
    files = readdirSync(OWNER_DIR);
  } catch {
    return [];
  }
  return files
    .filter((f) => f.endsWith('.owner'))
    .filter((f) => Number(readFileSync(join(OWNER_DIR, f), 'utf8')) === pid)
    .map((f) => f.slice(0, -'.owner'.length));
}

function handle(name: string, index: number, portBase: number): Netns {
  const hostIf = `pa${index}h`;
  const nsIf = `pa${index}n`;
  const hostIp = `10.77.${index}.1`;
  const nsIp = `10.77.${index}.2`;
  let nextPort = portBase;
  const spawnIn = (cmd: string, args: readonly string[], opts: SpawnOptions = {}) =>
    spawn('ip', ['netns', 'exec', name, cmd, ...args], opts);
  return {
    name,
    index,
    hostIp,
    nsIp,
    hostIf,
    nsIf,
    spawn: spawnIn,
    spawnNode: (script, args, opts = {}) =>
      spawnIn(process.execPath, ['--import', 'tsx', script, ...args], {
        cwd: REPO_ROOT,
        ...opts,
      }),
    run: (cmd, args) => execFileP('ip', ['netns', 'exec', name, cmd, ...args]),
    allocPorts: (count = 1) => {
      const port = nextPort;
      nextPort += count;
      if (nextPort > 60_000) throw new Error('namespace port range exhausted');
      return port;
    },
    pids: () => nsPids(name),
    remove: () => removeNetns(name),
  };
}

/** A free TCP port on `host` (e.g. a Netns's hostIp) for a root-namespace server that must be named before it listens. */
export async function freePortOn(host: string): Promise<number> {
  return new Promise((res, rej) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', rej);
    srv.listen(0, host, () => {
      const addr = srv.address();
      srv.close(() => res(typeof addr === 'object' && addr ? addr.port : 0));
    });
  });
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
