/**
 * What the benches over the real path (`npm run bench:e2e`, `npm run bench:reliability`) print
 * alike: percentiles, and the machine and pinned stack the figures were measured on.
 */
import { availableParallelism, cpus, loadavg, totalmem } from 'node:os';
import { pinnedVersions } from '../stack/services.js';

/** The p-th percentile (nearest rank) of `xs`; NaN when there are none. */
export function pct(xs: readonly number[], p: number): number {
  if (!xs.length) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]!;
}

/** Cores, memory, load, Node and the pinned LiveKit releases, on one line. */
export function machineLine(bench: string): string {
  const v = pinnedVersions();
  return (
    `${bench} on ${availableParallelism()} cores (${cpus()[0]?.model.trim()}), ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}; ` +
    `load average ${loadavg()
      .map((l) => l.toFixed(1))
      .join(' ')} at start (other work on the machine makes figures pessimistic); ` +
    `livekit-server ${v.livekitServer}, livekit-sip ${v.livekitSip}, baresip phones (G.711 µ-law, 20 ms)`
  );
}
