/**
 * The local stack's state on disk (`npm run stack:up` / `stack:down` / `stack:call`), in `.stack/`
 * at the repository root (git-ignored; `PA_LOCAL_STACK_DIR` moves it, e.g. for a test):
 *
 *   .stack/supervisor.pid   the supervisor's process id, written first thing (stack:down reads it)
 *   .stack/stack.json       what a caller needs, written once everything is up (LocalStackInfo)
 *   .stack/supervisor.log   the supervisor's output: the API's log, start-up and shut-down
 *   .stack/logs/            the stack's logs: redis, livekit-server, livekit-sip, worker (kept after stack:down)
 */
import { existsSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from '../netns.js';
import type { ProviderChoice } from '../product.js';

export interface LocalStackInfo {
  /** Our API (root namespace, on the veth's host end). */
  apiUrl: string;
  /** Bearer token of the API. */
  apiKey: string;
  /** LiveKit server, inside the namespace (reachable from this machine). */
  livekitUrl: string;
  livekitApiKey: string;
  livekitApiSecret: string;
  /** The SIP bridge (livekit-sip), UDP and TCP, inside the namespace. */
  sipHost: string;
  sipPort: number;
  /** The number routed to the agent (`PUT /v1/numbers/:e164`) and what to dial. */
  number: string;
  sipUri: string;
  agent: string;
  agentsFile: string;
  /** The namespace the stack runs in; a softphone runs in it with `ip netns exec <netns> ...`. */
  netns: string;
  /** The veth's host end: a softphone on this machine bound to it reaches the bridge too. */
  hostIp: string;
  providers: ProviderChoice;
  /** The stand-ins' control endpoints (`POST <url>/stt/script`, ...), when any stand-in is used. */
  standInControlUrl: string;
  /** Where the API's signed call events go; `GET` lists the verified ones. */
  eventsUrl: string;
  logsDir: string;
  supervisorLog: string;
  startedAt: string;
  pids: { supervisor: number; redis: number; livekit: number; sip: number; worker: number };
}

export const DEFAULT_NUMBER = '+15550100000';
export const DEFAULT_AGENT = 'receptionist';

export function stateDir(): string {
  return process.env.PA_LOCAL_STACK_DIR ?? join(REPO_ROOT, '.stack');
}

export const statePaths = () => {
  const dir = stateDir();
  return {
    dir,
    info: join(dir, 'stack.json'),
    pid: join(dir, 'supervisor.pid'),
    log: join(dir, 'supervisor.log'),
    logs: join(dir, 'logs'),
  };
};

export function alive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
  // A zombie (exited, not yet reaped) still answers signal 0.
  try {
    return !/^\S+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

/** The supervisor's process id from `.stack/supervisor.pid` (0 when there is none). */
export function supervisorPid(): number {
  try {
    return Number(readFileSync(statePaths().pid, 'utf8').trim()) || 0;
  } catch {
    return 0;
  }
}

export function readInfo(): LocalStackInfo | undefined {
  try {
    return JSON.parse(readFileSync(statePaths().info, 'utf8')) as LocalStackInfo;
  } catch {
    return undefined;
  }
}

export function writeInfo(info: LocalStackInfo): void {
  const { info: file } = statePaths();
  writeFileSync(`${file}.tmp`, `${JSON.stringify(info, null, 2)}\n`);
  renameSync(`${file}.tmp`, file);
}

export function clearState(): void {
  const p = statePaths();
  for (const f of [p.info, `${p.info}.tmp`, p.pid]) rmSync(f, { force: true });
}

export class NotRunningError extends Error {
  override name = 'NotRunningError';
}

/** The running stack's info, or a NotRunningError that says what to do. */
export function runningStack(): LocalStackInfo {
  const info = readInfo();
  if (!info || !alive(info.pids.supervisor)) {
    const starting = !info && alive(supervisorPid());
    throw new NotRunningError(
      starting
        ? 'the local stack is still starting: wait for `npm run stack:up` to finish'
        : 'the local stack is not running: run `npm run stack:up` first',
    );
  }
  return info;
}

export const hasState = () => existsSync(statePaths().info) || existsSync(statePaths().pid);
