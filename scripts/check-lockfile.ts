/**
 * Checks that package-lock.json lists the optional packages of every platform (biome's,
 * rollup's, ... native binaries), so `npm ci` installs them on macOS, Windows and arm64 too.
 * A lockfile regenerated over an existing node_modules keeps only this machine's: regenerate it
 * with `npm install --package-lock-only` on a tree without node_modules.
 */
import { readFileSync } from 'node:fs';

interface LockEntry {
  optionalDependencies?: Record<string, string>;
}

const lock = JSON.parse(readFileSync(process.argv[2] ?? 'package-lock.json', 'utf8')) as {
  packages: Record<string, LockEntry>;
};
const paths = new Set(Object.keys(lock.packages));

/** Node's resolution: `<dir>/node_modules/<name>`, then each parent package's, then the root's. */
function resolves(from: string, name: string): boolean {
  let dir = from;
  for (;;) {
    if (paths.has(`${dir ? `${dir}/` : ''}node_modules/${name}`)) return true;
    if (!dir) return false;
    const at = dir.lastIndexOf('/node_modules/');
    dir = at < 0 ? '' : dir.slice(0, at);
  }
}

const missing: string[] = [];
for (const [path, entry] of Object.entries(lock.packages)) {
  for (const name of Object.keys(entry.optionalDependencies ?? {})) {
    if (!resolves(path, name))
      missing.push(`${name} (optional dependency of ${path || 'the root'})`);
  }
}
if (missing.length > 0) {
  console.error(
    `package-lock.json lacks ${missing.length} optional package(s), so npm ci would skip them on ` +
      'their platforms:\n' +
      missing.map((m) => `  ${m}`).join('\n') +
      '\nRegenerate it without node_modules: npm install --package-lock-only',
  );
  process.exit(1);
}
console.log(
  `package-lock.json lists the optional packages of every platform (${paths.size} entries)`,
);
