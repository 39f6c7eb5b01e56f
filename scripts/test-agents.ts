/**
 * Conversation tests for the agents file (format: README "Conversation tests", src/agent-tests/):
 *
 *   npm run test:agents -- <file or folder>... [--agents FILE] [--junit FILE] [--case REGEX]
 *                          [--turn-timeout SECONDS] [--verbose]
 *
 * With LLM_BASE_URL and/or OPENAI_API_KEY set the agents talk to that model (and it makes the
 * `judge:` judgements); with neither, to the scripted OpenAI-compatible stand-in
 * (stack/providers), driven by each test file's `script:`. Exit code 0 when every case passed,
 * 1 when one failed, 2 when the command itself was wrong.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { initializeLogger } from '@livekit/agents';
import {
  formatCase,
  formatFileError,
  formatFileHeader,
  formatSummary,
  junitXml,
} from '../src/agent-tests/report.js';
import { runAgentTests } from '../src/agent-tests/runner.js';
import { configuredTestLlm, llmConfigured, scriptedTestLlm } from '../src/agent-tests/test-llm.js';
import { loadVAD } from '../src/agents/providers.js';
import { loadConfig } from '../src/core/config.js';
import { isCatalogError } from '../src/core/errors.js';
import { createLogger } from '../src/core/logger.js';
import { startProviderStandIns } from '../stack/providers/index.js';

const USAGE =
  'usage: npm run test:agents -- <file or folder>... [--agents FILE] [--junit FILE] [--case REGEX] [--turn-timeout SECONDS] [--verbose]';

async function main(): Promise<number> {
  let args: ReturnType<typeof parse>;
  try {
    args = parse();
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n${USAGE}\n`);
    return 2;
  }
  const { values, positionals } = args;
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  if (positionals.length === 0) {
    process.stderr.write(`name the test files or folders to run\n${USAGE}\n`);
    return 2;
  }
  let filter: RegExp | undefined;
  try {
    filter = values.case ? new RegExp(values.case, 'i') : undefined;
  } catch (err) {
    process.stderr.write(`--case: ${(err as Error).message}\n`);
    return 2;
  }
  const turnTimeoutS = values['turn-timeout'] ? Number(values['turn-timeout']) : undefined;
  if (turnTimeoutS !== undefined && !(turnTimeoutS > 0)) {
    process.stderr.write('--turn-timeout: a number of seconds above 0\n');
    return 2;
  }

  const config = loadConfig({ role: 'offline' });
  const level = values.verbose ? 'info' : 'silent';
  // Product and framework logs go to stderr (and only with --verbose): stdout is the report.
  initializeLogger({ pretty: false, level });
  const log = createLogger(
    { ...config, LOG_LEVEL: level },
    { name: 'agent-tests', destination: process.stderr },
  );

  const standIn = llmConfigured(config) ? undefined : await startProviderStandIns({});
  const llm = standIn ? scriptedTestLlm(config, standIn) : configuredTestLlm(config);
  const out = (s: string) => process.stdout.write(`${s}\n`);
  const headed = new Set<object>();
  try {
    const vad = await loadVAD(config);
    const result = await runAgentTests({
      paths: positionals,
      ...(values.agents ? { agentsFile: values.agents } : {}),
      config,
      llm,
      vad,
      log,
      ...(filter ? { filter } : {}),
      ...(turnTimeoutS ? { turnTimeoutMs: turnTimeoutS * 1000 } : {}),
      onFile: (f) => {
        if (!headed.has(f)) out(`\n${formatFileHeader(f)}`);
        headed.add(f);
        if (f.error) out(formatFileError(f));
      },
      onCase: (_f, c) => out(formatCase(c)),
    });
    out(`\n${formatSummary(result)}`);
    if (values.junit) {
      const path = resolve(values.junit);
      mkdirSync(dirname(path), { recursive: true });
      writeFileSync(path, junitXml(result));
      out(`JUnit report: ${values.junit}`);
    }
    return result.failed === 0 ? 0 : 1;
  } catch (err) {
    // A missing path and the like: the message, no stack.
    process.stderr.write(
      `${isCatalogError(err) ? (err as Error).message : String((err as Error).message ?? err)}\n`,
    );
    return 2;
  } finally {
    await standIn?.close();
  }
}

function parse() {
  return parseArgs({
    allowPositionals: true,
    options: {
      agents: { type: 'string' },
      junit: { type: 'string' },
      case: { type: 'string' },
      'turn-timeout': { type: 'string' },
      verbose: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
    process.exit(2);
  },
);
