/**
 * Per-module mutation scores of the last `npm run test:mutation` (StrykerJS's JSON reports, given
 * as arguments; default out/mutation/report.json): one line per mutated file, and exit 1 when a
 * module is under the target (85 %), so the run fails on the module that regressed, not on an
 * average. `--survivors` lists every mutant no test detected.
 *
 * Score = detected / valid mutants, as Stryker counts it: killed and timed-out mutants are
 * detected; survived and uncovered ones are not; compile errors (the TypeScript checker) and
 * ignored mutants do not count.
 */
import { readFileSync } from 'node:fs';

const TARGET = 85;
const reportFiles = process.argv.slice(2).filter((a) => !a.startsWith('--'));
if (reportFiles.length === 0) reportFiles.push('out/mutation/report.json');

interface Mutant {
  status: string;
  mutatorName: string;
  replacement?: string;
  location: { start: { line: number; column: number } };
}
const files: Record<string, { mutants: Mutant[] }> = {};
for (const file of reportFiles) {
  const report = JSON.parse(readFileSync(file, 'utf8')) as {
    files: Record<string, { mutants: Mutant[] }>;
  };
  Object.assign(files, report.files);
}
const report = { files };

const rows = Object.entries(report.files)
  .map(([file, { mutants }]) => {
    const count = (...statuses: string[]) =>
      mutants.filter((m) => statuses.includes(m.status)).length;
    const detected = count('Killed', 'Timeout');
    const undetected = count('Survived', 'NoCoverage');
    const valid = detected + undetected;
    return {
      file,
      score: valid === 0 ? 100 : (100 * detected) / valid,
      killed: count('Killed'),
      timeout: count('Timeout'),
      survived: count('Survived'),
      noCoverage: count('NoCoverage'),
      invalid: count('CompileError', 'RuntimeError'),
      survivors: mutants.filter((m) => m.status === 'Survived' || m.status === 'NoCoverage'),
    };
  })
  .sort((a, b) => a.file.localeCompare(b.file));

const width = Math.max(...rows.map((r) => r.file.length));
console.log(`${'module'.padEnd(width)}  score  killed  timeout  survived  no-cov  (not compiling)`);
for (const r of rows) {
  console.log(
    `${r.file.padEnd(width)}  ${r.score.toFixed(1).padStart(5)}  ${String(r.killed).padStart(6)}  ${String(r.timeout).padStart(7)}  ${String(r.survived).padStart(8)}  ${String(r.noCoverage).padStart(6)}  ${String(r.invalid).padStart(6)}`,
  );
}
if (process.argv.includes('--survivors')) {
  for (const r of rows) {
    for (const m of r.survivors) {
      const at = `${r.file}:${m.location.start.line}:${m.location.start.column}`;
      console.log(
        `${at} ${m.status} ${m.mutatorName}: ${(m.replacement ?? '').replace(/\s+/g, ' ')}`,
      );
    }
  }
}
const low = rows.filter((r) => r.score < TARGET);
if (low.length > 0) {
  console.error(`under ${TARGET} %: ${low.map((r) => r.file).join(', ')}`);
  process.exit(1);
}
