/**
 * Prints the README's configuration table from the settings fragments, so the docs cannot
 * drift from the code: `npm run docs:config` (a test checks the README holds this output).
 */
import { allSettings } from '../src/core/config.js';

export function configTable(): string {
  const rows = Object.entries(allSettings).map(([name, s]) => {
    const setting = s as { doc: string; default?: unknown; secret?: boolean; required?: boolean };
    const def =
      setting.default === undefined
        ? ''
        : `\`${Array.isArray(setting.default) ? setting.default.join(',') : String(setting.default)}\``;
    const flags = [setting.secret ? 'secret' : ''].filter(Boolean).join(', ');
    return `| \`${name}\` | ${def} | ${setting.doc}${flags ? ` (${flags})` : ''} |`;
  });
  return ['| Variable | Default | Meaning |', '| --- | --- | --- |', ...rows].join('\n');
}

if (import.meta.url === `file://${process.argv[1]}`) {
  process.stdout.write(`${configTable()}\n`);
}
