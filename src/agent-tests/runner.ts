/**
 * The conversation-test runner: test files (or folders of them) → results. Per test file:
 *
 * 1. the file is checked (test-file.ts), then the agents file it tests is loaded with the same
 *    loader as the worker and the file is checked against it;
 * 2. HTTP tools and MCP servers with fixtures are pointed at the local fixture servers; the
 *    others keep their real endpoints, whose secrets must then be set;
 * 3. with no LLM configured, the file's `script` drives the scripted stand-in;
 * 4. each case runs as one phone call through the product's session factory
 *    (createPhoneSessionFactory) in text mode (run-case.ts), one after the other.
 *
 * A file that cannot run (bad test file, bad agents file) is one failure with the file's
 * `file:line:col` problems; the other files still run.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { type llm, stt, type VAD } from '@livekit/agents';
import { envReferences } from '../agents/agents-checks.js';
import { type AgentsConfig, parseAgentsFile } from '../agents/agents-file.js';
import type { McpServerSpec } from '../agents/agents-schema.js';
import { defaultCodeTools } from '../agents/code-tools.js';
import { McpServers } from '../agents/mcp-servers.js';
import { createPhoneSessionFactory } from '../call/session.js';
import type { Config } from '../core/config.js';
import { AgentTestInvalidError, isCatalogError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { SyntheticTTS } from '../sim/synthetic-tts.js';
import { resolveSoftAckOptions } from '../telephony/interruption/index.js';
import { FixtureServers } from './fixture-servers.js';
import { createLlmJudge, JUDGE_TOOL, type Judge, skippingJudge } from './judge.js';
import { type CaseResult, runCase } from './run-case.js';
import {
  type AgentTestFile,
  checkAgainstAgents,
  loadAgentTestFile,
  type ScriptRule,
} from './test-file.js';
import { textTelephonyDeps } from './text-call.js';

/** The LLM of a run: the configured server, or the scripted stand-in. */
export interface TestLlm {
  mode: 'configured' | 'scripted';
  /** For the report: which model / server. */
  description: string;
  /** The agents' LLM (the same plugin as on a call). */
  llm: llm.LLM;
  /** Scripted mode: the stand-in answers from this test file's rules. */
  useScript?(rules: ScriptRule[], agents: { name: string; instructions: string }[]): void;
}

export interface RunOptions {
  /** Test files and folders (folders: every *.test.yaml, *.test.yml and *.test.json in them, recursively). */
  paths: string[];
  /** The agents file for every test file (default: each file's `agentsFile`, else AGENTS_CONFIG). */
  agentsFile?: string;
  config: Config;
  llm: TestLlm;
  /** Loaded once (the worker's Silero); the session construction needs one, text mode never runs it. */
  vad: VAD;
  log: Logger;
  /** Only cases whose name matches. */
  filter?: RegExp;
  turnTimeoutMs?: number;
  /** Called after each case (live output). */
  onCase?: (file: FileResult, result: CaseResult) => void;
  /** Called when a test file starts (its agents file known), and again if it cannot run. */
  onFile?: (file: FileResult) => void;
  /** Where paths are shown from (default: the working folder). */
  cwd?: string;
  env?: NodeJS.ProcessEnv;
}

export interface FileResult {
  path: string;
  /** As shown in the report. */
  shown: string;
  agentsFile?: string;
  cases: CaseResult[];
  /** Why the file could not run (its problems, one per line). */
  error?: string;
}

export interface RunResult {
  files: FileResult[];
  passed: number;
  failed: number;
  durationMs: number;
  llm: string;
}

export async function runAgentTests(o: RunOptions): Promise<RunResult> {
  const t0 = Date.now();
  const cwd = o.cwd ?? process.cwd();
  const env = o.env ?? process.env;
  const files = findTestFiles(o.paths, cwd);
  const fixtures = await FixtureServers.start();
  const results: FileResult[] = [];
  try {
    for (const path of files) {
      const shown = relative(cwd, path) || path;
      const result: FileResult = { path, shown, cases: [] };
      results.push(result);
      try {
        await runFile(path, shown, result, { ...o, cwd, env }, fixtures);
      } catch (err) {
        // Users' mistakes (catalog errors) are their messages; anything else is a bug, with its stack.
        result.error = isCatalogError(err)
          ? (err as Error).message
          : ((err as Error).stack ?? String(err));
        o.onFile?.(result);
      }
    }
  } finally {
    await fixtures.close();
  }
  const all = results.flatMap((f) => f.cases);
  const failed = all.filter((c) => !c.ok).length + results.filter((f) => f.error).length;
  return {
    files: results,
    passed: all.filter((c) => c.ok).length,
    failed,
    durationMs: Date.now() - t0,
    llm: o.llm.description,
  };
}

async function runFile(
  path: string,
  shown: string,
  result: FileResult,
  o: RunOptions & { cwd: string; env: NodeJS.ProcessEnv },
  fixtures: FixtureServers,
): Promise<void> {
  const test = loadAgentTestFile(path, shown);
  const agentsPath = o.agentsFile
    ? resolve(o.cwd, o.agentsFile)
    : test.data.agentsFile
      ? resolve(dirname(path), test.data.agentsFile)
      : resolve(o.cwd, o.config.AGENTS_CONFIG);
  const agentsShown = relative(o.cwd, agentsPath) || agentsPath;
  result.agentsFile = agentsShown;
  o.onFile?.(result);

  const codeTools = defaultCodeTools();
  let text: string;
  try {
    text = readFileSync(agentsPath, 'utf8');
  } catch {
    throw new AgentTestInvalidError(`${shown}: the agents file ${agentsShown} is not there`);
  }
  // Secrets of endpoints that fixtures replace are never needed: placeholders stand in.
  const loaded = parseAgentsFile(text, agentsShown, {
    env: withPlaceholders(o.env),
    codeToolNames: codeTools.names(),
  });
  checkAgainstAgents(test, loaded, agentsShown);
  const blocked = blockedEndpoints(test, loaded, agentsShown, o.env);
  const agents = withFixtures(loaded, test, fixtures, blocked);
  await fixtures.use(test.data.fixtures, blocked);

  const mcp = new McpServers(agents.mcpServers.values(), {
    env: withPlaceholders(o.env),
    log: o.log,
    cacheTtlMs: o.config.MCP_TOOLS_CACHE_TTL_S * 1000,
  });
  try {
    // Fixture servers are listed once per file, like a worker's prewarm, so every case starts
    // with their tools there; real servers are listed when an agent using them starts.
    await mcp.discoverAll(Object.keys(test.data.fixtures?.mcpServers ?? {}));
    const script = test.data.script ?? [];
    const identities = [...agents.agents.values()].map((a) => ({
      name: a.name,
      instructions: a.instructions,
    }));
    const createSession = createPhoneSessionFactory({
      agents,
      codeTools,
      vad: o.vad,
      // Text mode: the session never hears or speaks audio; STT and TTS are placeholders.
      models: () => ({ stt: new stt.testing.FakeSTT(), llm: o.llm.llm, tts: new SyntheticTTS() }),
      interruption: resolveSoftAckOptions(o.config),
      telephony: textTelephonyDeps(o.config),
      env: withPlaceholders(o.env),
      mcp,
      textMode: true,
      log: o.log,
    });
    for (const c of test.data.cases) {
      if (o.filter && !o.filter.test(c.name)) continue;
      const rules = [...(c.script ?? []), ...script];
      o.llm.useScript?.(rules, identities);
      const r = await runCase(c, {
        agents,
        createSession,
        fixtures,
        judge: judgeFor(o.llm, rules),
        log: o.log,
        ...(o.turnTimeoutMs ? { turnTimeoutMs: o.turnTimeoutMs } : {}),
      });
      result.cases.push(r);
      o.onCase?.(result, r);
    }
  } finally {
    await mcp.close();
  }
}

/** Judgements need a model that judges: the configured one, or verdicts the script gives. */
function judgeFor(l: TestLlm, script: ScriptRule[]): Judge {
  if (l.mode === 'configured') return createLlmJudge(l.llm);
  if (script.some((r) => r.tool === JUDGE_TOOL)) return createLlmJudge(l.llm);
  return skippingJudge(
    'no LLM configured (LLM_BASE_URL / OPENAI_API_KEY) and the script gives no verdict',
  );
}

/** In folders, test files are told from other YAML (an agents file beside them) by name. */
const TEST_FILE = /\.test\.(ya?ml|json)$/;

/** Test files under `paths`, sorted; a missing path is a user's mistake. */
export function findTestFiles(paths: string[], cwd: string): string[] {
  const out: string[] = [];
  const walk = (p: string) => {
    const st = statSync(p);
    if (st.isDirectory()) {
      for (const name of readdirSync(p).sort()) {
        const child = join(p, name);
        if (statSync(child).isDirectory()) walk(child);
        else if (TEST_FILE.test(name)) out.push(child);
      }
    } else out.push(p);
  };
  for (const p of paths) {
    const abs = resolve(cwd, p);
    try {
      statSync(abs);
    } catch {
      throw new AgentTestInvalidError(`${p}: no such file or folder`);
    }
    walk(abs);
  }
  return [...new Set(out)];
}

/** The agents file with fixtured tools and servers pointed at the fixture servers. */
function withFixtures(
  config: AgentsConfig,
  test: AgentTestFile,
  fixtures: FixtureServers,
  blocked: ReadonlyMap<string, string>,
): AgentsConfig {
  const httpFixtures = test.data.fixtures?.tools ?? {};
  const mcpFixtures = test.data.fixtures?.mcpServers ?? {};
  const tools = new Map(
    [...config.tools].map(([name, spec]) => [
      name,
      name in httpFixtures || blocked.has(name) ? { ...spec, url: fixtures.httpUrl(name) } : spec,
    ]),
  );
  const mcpServers = new Map(
    [...config.mcpServers].map(([name, spec]): [string, McpServerSpec] => [
      name,
      name in mcpFixtures
        ? { ...spec, url: fixtures.mcpUrl(name), transport: 'streamable-http' }
        : spec,
    ]),
  );
  return { ...config, tools, mcpServers };
}

/**
 * Endpoints without fixtures are called for real, so their secrets must be set. An HTTP tool
 * whose secret is not set is answered by the fixture server instead, which fails the call with
 * that reason (a test that never calls it is not stopped); an MCP server's missing header
 * variable stops the file, since its tools are listed at every call's start.
 */
function blockedEndpoints(
  test: AgentTestFile,
  config: AgentsConfig,
  agentsShown: string,
  env: NodeJS.ProcessEnv,
): Map<string, string> {
  const blocked = new Map<string, string>();
  for (const [name, spec] of config.tools) {
    if (test.data.fixtures?.tools?.[name] || !spec.secretEnv || env[spec.secretEnv]) continue;
    blocked.set(
      name,
      `${name} would call ${spec.url} for real, but ${spec.secretEnv} is not set: set it, or give ${name} a fixture (fixtures.tools)`,
    );
  }
  const missing: string[] = [];
  for (const [name, spec] of config.mcpServers) {
    if (test.data.fixtures?.mcpServers?.[name]) continue;
    for (const value of Object.values(spec.headers ?? {})) {
      for (const v of envReferences(value)) {
        if (!env[v]) missing.push(`MCP server ${name} is called for real, but ${v} is not set`);
      }
    }
  }
  if (missing.length > 0) {
    throw new AgentTestInvalidError(
      `${test.shown} (agents file ${agentsShown}): ${missing.join('; ')}: set it, or give the server a fixture (fixtures.mcpServers)`,
    );
  }
  return blocked;
}

/** The environment, where a variable that is not set reads as a placeholder. */
function withPlaceholders(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return new Proxy(env, {
    get: (e, name) =>
      typeof name === 'string' ? (e[name] ?? 'agent-test-placeholder') : undefined,
  });
}
