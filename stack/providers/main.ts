/**
 * Starts the provider stand-ins (Deepgram, ElevenLabs, OpenAI-compatible) for the local stack:
 *
 *   tsx stack/providers/main.ts [--script FILE.yaml|json] [--scenario SCENARIO.json]
 *                               [--host 127.0.0.1] [--port 0] [--verbose]
 *
 * Prints one JSON line with the base URLs (`deepgramBaseUrl`, `elevenlabsBaseUrl`, `llmBaseUrl`,
 * `controlUrl`, `port`), then runs until SIGINT/SIGTERM. The script file format is in
 * script-file.ts; `--scenario` takes caller lines, LLM rules and agents from a simulator scenario.
 */
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { type ProviderStandInsOptions, startProviderStandIns } from './index.js';
import { fromScenario, loadStandInScript } from './script-file.js';

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      script: { type: 'string' },
      scenario: { type: 'string' },
      host: { type: 'string' },
      port: { type: 'string' },
      verbose: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(
      'usage: tsx stack/providers/main.ts [--script FILE] [--scenario FILE] [--host ADDR] [--port N] [--verbose]\n',
    );
    return;
  }
  let opts: ProviderStandInsOptions = {};
  if (values.script) opts = loadStandInScript(resolve(values.script));
  if (values.scenario) {
    const s = fromScenario(resolve(values.scenario));
    opts.stt = { ...opts.stt, script: opts.stt?.script ?? s.script };
    opts.llm = {
      ...opts.llm,
      rules: opts.llm?.rules ?? s.rules,
      agents: opts.llm?.agents ?? s.agents,
    };
  }
  if (values.host) opts.host = values.host;
  if (values.port !== undefined) {
    const port = Number(values.port);
    if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error('--port: 0–65535');
    opts.port = port;
  }
  if (values.verbose) opts.log = (line) => process.stderr.write(`[standin] ${line}\n`);
  const s = await startProviderStandIns(opts);
  process.stdout.write(
    `${JSON.stringify({
      deepgramBaseUrl: s.deepgramBaseUrl,
      elevenlabsBaseUrl: s.elevenlabsBaseUrl,
      llmBaseUrl: s.llmBaseUrl,
      controlUrl: s.controlUrl,
      port: s.port,
    })}\n`,
  );
  const stop = () => {
    void s.close().then(() => process.exit(0));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

main().catch((err: unknown) => {
  process.stderr.write(`provider stand-ins: ${(err as Error).message}\n`);
  process.exit(1);
});
