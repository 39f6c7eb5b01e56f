/**
 * e2e global setup: builds (or checks, ~1 s) the pinned LiveKit binaries and installs missing
 * Debian packages with stack/build.sh, and removes network namespaces left by a killed run.
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { REPO_ROOT, removeStaleNetns } from '../../../stack/netns.js';

export async function setup(): Promise<void> {
  if (process.getuid?.() !== 0) {
    throw new Error('test:e2e needs root: it creates network namespaces (ip netns)');
  }
  execFileSync('bash', [join(REPO_ROOT, 'stack', 'build.sh')], { stdio: 'inherit' });
  const removed = await removeStaleNetns();
  if (removed.length) console.log(`removed stale namespaces: ${removed.join(', ')}`);
}
