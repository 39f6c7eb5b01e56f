/**
 * Writes the README's configuration table from the settings declarations, so the docs cannot
 * drift from the code: `npm run docs:config` (test/readme-config-table.test.ts checks it).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { allSettings } from '../src/core/config.js';

const START = '<!-- config-table:start -->';
const END = '<!-- config-table:end -->';

export function configTable(): string {
  const rows = Object.entries(allSettings).map(([name, s]) => {
    const setting = s as { doc: string; default?: unknown; secret?: boolean };
    const def =
      setting.default === undefined
        ? ''
        : `\`${Array.isArray(setting.default) ? setting.default.join(',') : String(setting.default)}\``;
    const doc = setting.doc.replaceAll('|', '\\|');
    return `| \`${name}\` | ${def} | ${doc}${setting.secret ? ' (secret)' : ''} |`;
  });
  return ['| Variable | Default | Meaning |', '| --- | --- | --- |', ...rows].join('\n');
}

export function withConfigTable(readme: string): string {
  const start = readme.indexOf(START);
  const end = readme.indexOf(END);
  if (start < 0 || end < start) throw new Error(`README.md lacks the ${START} … ${END} markers`);
  return `${readme.slice(0, start + START.length)}\n${configTable()}\n${readme.slice(end)}`;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const path = new URL('../README.md', import.meta.url);
  writeFileSync(path, withConfigTable(readFileSync(path, 'utf8')));
}
