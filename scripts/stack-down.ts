/**
 * `npm run stack:down` — stops the local stack `npm run stack:up` started: SIGTERM to its
 * supervisor, which stops the worker, the API, LiveKit, the SIP bridge and Redis and removes the
 * namespace; SIGKILL after 30 s, and whatever is left (the namespace and anything running in it)
 * is removed here. Idempotent: with nothing running it says so and succeeds. Logs stay in
 * `.stack/logs/`.
 */

import { alive, clearState, hasState, readInfo, supervisorPid } from '../stack/local/state.js';
import { namespaces, namespacesOwnedBy, removeNetns, sleep } from '../stack/netns.js';

const TERM_TIMEOUT_MS = 30_000;

async function waitGone(pid: number, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (alive(pid)) {
    if (Date.now() > deadline) return false;
    await sleep(100);
  }
  return true;
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) {
    throw new Error('needs root (it removes the network namespace); run it with sudo');
  }
  const info = readInfo();
  const pid = info?.pids.supervisor ?? supervisorPid();
  if (!hasState() && !pid) {
    process.stdout.write('stack:down: the local stack is not running (nothing to stop)\n');
    return;
  }
  const stopped: string[] = [];
  if (pid && alive(pid)) {
    process.kill(pid, 'SIGTERM');
    if (!(await waitGone(pid, TERM_TIMEOUT_MS))) {
      process.stdout.write(
        `stack:down: the supervisor (pid ${pid}) did not stop in 30 s: SIGKILL\n`,
      );
      process.kill(pid, 'SIGKILL');
      await waitGone(pid, 5_000);
    }
    stopped.push(`supervisor ${pid}`);
  }
  // Whatever the supervisor left: its namespace (removeNetns SIGKILLs what runs inside).
  const current = await namespaces();
  for (const ns of new Set([info?.netns, ...(pid ? namespacesOwnedBy(pid) : [])])) {
    if (ns && current.includes(ns)) {
      await removeNetns(ns);
      stopped.push(`namespace ${ns} (removed what still ran in it)`);
    }
  }
  clearState();
  process.stdout.write(
    stopped.length
      ? `stack:down: stopped the local stack${info ? ` (${info.netns})` : ''}: ${stopped.join(', ')}; logs kept in ${info?.logsDir ?? '.stack/logs'}\n`
      : 'stack:down: the local stack was not running; removed its stale state\n',
  );
}

main()
  .then(() => process.exit(0))
  .catch((err: unknown) => {
    process.stderr.write(`stack:down: ${(err as Error).message}\n`);
    process.exit(1);
  });
