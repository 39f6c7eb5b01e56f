/**
 * `npm run demo [-- <scenario.json>] [--out DIR]`: a simulated inbound phone call through the
 * product's call job and session, offline (no LiveKit, no keys, no network). Prints the call as
 * it happens and writes DIR/call.wav (stereo: caller left, agent right) and DIR/timeline.json.
 *
 * Default scenario: examples/demo-call.json; default DIR: out/demo. Set LLM_BASE_URL (and
 * OPENAI_API_KEY, LLM_MODEL) to let an OpenAI-compatible server write the agent's replies
 * instead of the scenario's rules.
 */
import { dirname, relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { initializeLogger } from '@livekit/agents';
import { loadVAD } from '../src/agents/providers.js';
import { loadConfig } from '../src/core/config.js';
import { isCatalogError } from '../src/core/errors.js';
import { createLogger } from '../src/core/logger.js';
import { simulateCall } from '../src/sim/call-simulator.js';
import { loadScenario } from '../src/sim/scenario.js';
import { describeCall, formatEntry, formatSummary } from '../src/sim/timeline.js';
import { loadNoiseSuppression } from '../src/telephony/noise/index.js';

const repoRoot = resolve(dirname(new URL(import.meta.url).pathname), '..');

async function main(): Promise<number> {
  const { values, positionals } = parseArgs({
    options: { out: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
    allowPositionals: true,
  });
  if (values.help) {
    console.log('usage: npm run demo [-- <scenario.json>] [--out DIR]');
    return 0;
  }
  const scenarioPath = resolve(positionals[0] ?? resolve(repoRoot, 'examples/demo-call.json'));
  const outDir = resolve(values.out ?? resolve(repoRoot, 'out/demo'));

  // The demo's own output is the timeline; logs only for problems unless LOG_LEVEL says more.
  const quiet = process.env.LOG_LEVEL === undefined;
  process.env.LOG_LEVEL ??= 'warn';
  const config = loadConfig({ role: 'offline' });
  // The framework warns about slow VAD on a busy machine; the timeline's lag figure says it.
  initializeLogger({
    pretty: false,
    level: quiet ? 'error' : config.LOG_LEVEL === 'silent' ? 'fatal' : config.LOG_LEVEL,
  });
  const log = createLogger(config, { name: 'demo' });
  const scenario = loadScenario(scenarioPath);

  console.log(`${describeCall(scenario)}\n  scenario ${relative(process.cwd(), scenarioPath)}`);
  console.log(
    `  LLM: ${config.LLM_BASE_URL ? `${config.LLM_MODEL} at ${config.LLM_BASE_URL}` : "the scenario's rules (set LLM_BASE_URL for a real model)"}`,
  );
  console.log('  loading VAD, noise suppression, turn detector and offline voice ...\n');
  const [vad, noise] = await Promise.all([loadVAD(config), loadNoiseSuppression(config, log)]);

  const result = await simulateCall({
    call: { scenario, baseDir: dirname(scenarioPath), config },
    log,
    vad,
    noise,
    turnDetection: 'local',
    outDir,
    onEvent: (e) => {
      const line = formatEntry(e);
      if (line) console.log(line);
    },
  });
  console.log(`\n${formatSummary(result)}`);
  if (result.files) {
    console.log(
      `\nWrote ${relative(process.cwd(), result.files.wav)} (stereo 8 kHz: caller left, agent right)` +
        ` and ${relative(process.cwd(), result.files.json)}`,
    );
  }
  return result.checks.every((c) => c.ok) ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (err) => {
    // A user's mistake (bad scenario, bad setting) is one line, not a stack trace.
    console.error(isCatalogError(err) ? (err as Error).message : err);
    process.exit(isCatalogError(err) ? 2 : 1);
  },
);
