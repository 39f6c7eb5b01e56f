/**
 * One conversation-test case: one phone call through the product's own call job and session
 * factory (runCallJob + createPhoneSessionFactory) in text mode (text-call.ts), driven turn by
 * turn. After each turn the runner waits until the agent has settled (no speech or tool still
 * running, nothing new for a moment, or waiting for the caller's keys), reads what happened from
 * the session's history (messages, tool calls with their arguments and results, handoffs) and
 * the call's events (transfers, the end of the call), and checks the turn's expectations.
 */
import { type llm, voice } from '@livekit/agents';
import type { AgentsConfig } from '../agents/agents-file.js';
import { type CallSessionFactory, runCallJob } from '../call/call-job.js';
import type { CallSummary } from '../call/call-metrics.js';
import type { CallReporter } from '../call/call-report.js';
import type { Logger } from '../core/logger.js';
import { END_CALL_TOOL } from '../telephony/call-ending/end-call.js';
import { checkTurn, type TurnEvent } from './expectations.js';
import type { FixtureServers } from './fixture-servers.js';
import type { Judge, Verdict } from './judge.js';
import type { CaseSpec, ExpectSpec } from './test-file.js';
import { CALLER_IDENTITY, TextCallTransport } from './text-call.js';

export const caseDefaults = {
  /** How long one turn may take before it fails (real LLMs with tools take seconds). */
  turnTimeoutMs: 60_000,
  /** Nothing new for this long, with no speech or tool running: the agent has settled. */
  quietMs: 400,
} as const;

export interface TurnResult {
  /** 0 = the start of the call (greeting), then the case's turns from 1. */
  index: number;
  label: string;
  events: TurnEvent[];
  failures: string[];
  judge?: Verdict;
}

export interface CaseResult {
  name: string;
  ok: boolean;
  durationMs: number;
  turns: TurnResult[];
  /** The whole call, one line per event. */
  transcript: string[];
  summary?: CallSummary;
}

export interface CaseDeps {
  agents: AgentsConfig;
  createSession: CallSessionFactory;
  fixtures: FixtureServers;
  judge: Judge;
  log: Logger;
  turnTimeoutMs?: number;
  quietMs?: number;
}

const COLLECT_DIGITS = 'collect_digits';
/** How agents-js answers a call of a tool the agent does not offer. */
const UNKNOWN_FUNCTION = 'Unknown function: ';
let callSeq = 0;

export async function runCase(c: CaseSpec, deps: CaseDeps): Promise<CaseResult> {
  const t0 = Date.now();
  const turnTimeoutMs = deps.turnTimeoutMs ?? caseDefaults.turnTimeoutMs;
  const quietMs = deps.quietMs ?? caseDefaults.quietMs;
  const { attributes, jobMetadata } = callOf(c);
  const handles: voice.SpeechHandle[] = [];
  const transfers: { to: string; destination?: string }[] = [];
  const errors: string[] = [];
  let closeReason: string | undefined;
  let lastChange = Date.now();
  const transport = new TextCallTransport({
    callId: `agent-test-${++callSeq}`,
    jobMetadata,
    attributes,
    onSession: (s) => {
      const changed = () => {
        lastChange = Date.now();
      };
      s.on(voice.AgentSessionEventTypes.SpeechCreated, (ev) => {
        handles.push(ev.speechHandle);
        changed();
      });
      s.on(voice.AgentSessionEventTypes.ConversationItemAdded, changed);
      s.on(voice.AgentSessionEventTypes.AgentStateChanged, changed);
      s.on(voice.AgentSessionEventTypes.Error, (ev) => {
        errors.push(describeError(ev.error));
      });
      s.on(voice.AgentSessionEventTypes.Close, (ev) => {
        closeReason ??= String(ev.reason);
      });
    },
  });
  const reporter: CallReporter = {
    report: (_callId, type, data) => {
      if (type !== 'call.transferred') return;
      transfers.push({
        to: String(data.to),
        ...(typeof data.destination === 'string' ? { destination: data.destination } : {}),
      });
      // The carrier takes a transferred caller away: the call leaves the agent.
      transport.leave('transferred');
    },
    flush: async () => {},
  };

  let summary: CallSummary | undefined;
  let jobError: string | undefined;
  const job = runCallJob({
    transport,
    agents: deps.agents,
    createSession: deps.createSession,
    reporter,
    log: deps.log,
    limits: { callerJoinTimeoutMs: 5000 },
  }).then(
    (s) => {
      summary = s;
    },
    (err: unknown) => {
      jobError = describeError(err);
    },
  );
  const ended = () => summary !== undefined || jobError !== undefined || closeReason !== undefined;

  const turns: TurnResult[] = [];
  const transcript: string[] = [];
  const seen = new Set<string>();
  const toolNames = new Map<string, string>();
  let speaker: string | undefined;
  let fixtureCalls = deps.fixtures.calls.length;
  let transfersSeen = 0;
  let endedReported = false;

  const session = await Promise.race([transport.started, job.then(() => undefined)]);

  /** Waits until the agent is done with the turn (or the call ended, or time ran out). */
  const settle = async (): Promise<'settled' | 'ended' | 'timeout'> => {
    const deadline = Date.now() + turnTimeoutMs;
    let signature = '';
    while (Date.now() < deadline) {
      if (ended()) {
        // The goodbye and the summary land a moment after the session closed.
        await Promise.race([job, sleep(3000)]);
        return 'ended';
      }
      if (!session) return 'ended';
      const items = session.history.items;
      const sig = `${items.length}|${session.agentState}|${handles.length}`;
      if (sig !== signature) {
        signature = sig;
        lastChange = Date.now();
      }
      const running = handles.filter((h) => !h.done());
      const pending = pendingTools(items);
      const state = session.agentState;
      const idle = (state === 'listening' || state === 'idle') && running.length === 0;
      const waitingForKeys =
        pending.length > 0 && pending.every((n) => n === COLLECT_DIGITS) && state !== 'speaking';
      if ((idle || waitingForKeys) && Date.now() - lastChange >= quietMs) return 'settled';
      await sleep(25);
    }
    return 'timeout';
  };

  /** What the session's history and the call's events added since the last look. */
  const collect = (): TurnEvent[] => {
    const events: TurnEvent[] = [];
    for (const item of session?.history.items ?? []) {
      if (seen.has(item.id)) continue;
      seen.add(item.id);
      const e = eventOf(item, speaker, toolNames);
      if (!e) continue;
      if (e.type === 'handoff') speaker = e.to;
      if (e.type === 'tool-result') {
        const call = [...events].reverse().find((x) => x.type === 'tool' && x.name === e.name);
        if (call?.type === 'tool' && call.output === undefined) {
          call.output = e.output;
          call.isError = e.isError;
          continue;
        }
      }
      events.push(e);
    }
    for (const t of transfers.slice(transfersSeen)) events.push({ type: 'transfer', ...t });
    transfersSeen = transfers.length;
    if (ended() && !endedReported) {
      endedReported = true;
      events.push({
        type: 'call-ended',
        reason: closeReason ?? summary?.reason ?? jobError ?? transport.hungUp ?? 'ended',
      });
    }
    return events;
  };

  /** Failures every turn gets without asking: errors, fixtures without a matching answer. */
  const builtInFailures = (): string[] => {
    const out = errors.splice(0).map((e) => `the session reported an error: ${e}`);
    for (const call of deps.fixtures.calls.slice(fixtureCalls)) {
      if (call.blocked) out.push(call.blocked);
      else if (!call.matched) {
        out.push(
          `the ${call.kind === 'mcp' ? `MCP fixture ${call.server}/` : 'fixture of '}${call.tool} has no response matching the arguments ${JSON.stringify(call.args)}`,
        );
      }
    }
    fixtureCalls = deps.fixtures.calls.length;
    return out;
  };

  const finishTurn = async (
    index: number,
    label: string,
    expect: (ExpectSpec & { refused?: boolean }) | undefined,
    outcome: 'settled' | 'ended' | 'timeout',
  ) => {
    // A goodbye (end_call) or a refusal ends the call a moment after the agent went quiet.
    const items = session?.history.items ?? [];
    const hangingUp =
      expect?.refused !== undefined ||
      items.some((i) => !seen.has(i.id) && i.type === 'function_call' && i.name === END_CALL_TOOL);
    if (hangingUp && !ended()) await Promise.race([job, sleep(5000)]);
    const events = collect();
    transcript.push(...events.map(formatEvent));
    const failures = builtInFailures();
    if (outcome === 'timeout') {
      failures.push(
        `the agent was still busy after ${turnTimeoutMs / 1000} s (speech or a tool still running)`,
      );
    }
    // A call of a tool the agent does not have (the framework answers "Unknown function") never
    // ran: it is no tool call for the expectations, and a failure of its own.
    for (const [k, e] of [...events.entries()].reverse()) {
      if (e.type === 'tool' && e.isError && e.output?.startsWith(UNKNOWN_FUNCTION)) {
        failures.push(`the LLM called ${e.name}, which the agent does not have (${e.output})`);
        events.splice(k, 1);
      }
    }
    const currentAgent = (session?.userData as { currentAgent?: string } | undefined)?.currentAgent;
    if (expect) {
      failures.push(
        ...checkTurn(expect, events, {
          currentAgent,
          ended: ended(),
          refused: summary?.outcome === 'refused',
        }),
      );
    }
    const turn: TurnResult = { index, label, events, failures };
    if (expect?.judge) {
      turn.judge = await deps.judge.judge(expect.judge, transcript.join('\n'));
      if (turn.judge.verdict === 'fail') {
        failures.push(`judged not met: "${expect.judge}" – ${turn.judge.reason}`);
      }
    }
    turns.push(turn);
  };

  if (!session) {
    await finishTurn(0, 'call start', c.greeting, 'ended');
    turns[0]!.failures.push(`the call ended before the session started: ${jobError ?? 'unknown'}`);
  } else {
    await finishTurn(0, 'call start', c.greeting, await settle());
    for (const [i, t] of (c.turns ?? []).entries()) {
      const label = t.say !== undefined ? `say "${t.say}"` : `press "${t.press}"`;
      if (ended()) {
        turns.push({
          index: i + 1,
          label,
          events: [],
          failures: ['the call had already ended before this turn'],
        });
        break;
      }
      if (t.press !== undefined) {
        transcript.push(`caller presses ${t.press}`);
        await transport.press(t.press);
      } else {
        session.generateReply({ userInput: t.say! });
      }
      await finishTurn(i + 1, label, t.expect, await settle());
    }
  }

  // The caller hangs up; the job closes the session and writes the call summary.
  if (!ended()) transport.leave('caller hung up');
  await Promise.race([job, sleep(10_000)]);
  const unavailable = summary?.toolServersUnavailable ?? [];
  for (const u of unavailable) {
    transcript.unshift(`[MCP server ${u.server} unavailable: ${u.reason}]`);
  }
  return {
    name: c.name,
    ok: turns.every((t) => t.failures.length === 0),
    durationMs: Date.now() - t0,
    turns,
    transcript,
    ...(summary ? { summary } : {}),
  };
}

// ── helpers ──────────────────────────────────────────────────────────────────────────────────

/** The phone participant's attributes and the job metadata of the case's call. */
export function callOf(c: CaseSpec): { attributes: Record<string, string>; jobMetadata: string } {
  const r = c.route ?? {};
  const direction = r.direction ?? 'inbound';
  // sip.phoneNumber is the far end, sip.trunkPhoneNumber our side (call-context.ts).
  const remote = direction === 'inbound' ? r.callerNumber : r.dialedNumber;
  const local = direction === 'inbound' ? r.dialedNumber : r.callerNumber;
  const attributes: Record<string, string> = { 'sip.callStatus': 'active' };
  if (remote) attributes['sip.phoneNumber'] = remote;
  if (local) attributes['sip.trunkPhoneNumber'] = local;
  for (const [name, value] of Object.entries(r.headers ?? {})) attributes[`sip.h.${name}`] = value;
  Object.assign(attributes, r.attributes ?? {});
  const job = {
    ...(c.agent ? { agent: c.agent } : {}),
    metadata: r.metadata ?? {},
    ...(direction === 'outbound'
      ? { direction: 'outbound', sipParticipantIdentity: CALLER_IDENTITY }
      : {}),
  };
  return { attributes, jobMetadata: JSON.stringify(job) };
}

function eventOf(
  item: llm.ChatItem,
  speaker: string | undefined,
  toolNames: Map<string, string>,
): TurnEvent | undefined {
  switch (item.type) {
    case 'message': {
      const text = item.textContent?.trim() ?? '';
      if (!text) return undefined;
      if (item.role === 'user') return { type: 'caller', text };
      if (item.role === 'assistant')
        return { type: 'agent', ...(speaker ? { agent: speaker } : {}), text };
      return undefined;
    }
    case 'function_call': {
      toolNames.set(item.callId, item.name);
      let args: Record<string, unknown> = {};
      try {
        const parsed = JSON.parse(item.args || '{}');
        if (parsed && typeof parsed === 'object') args = parsed;
      } catch {
        args = { _raw: item.args };
      }
      return { type: 'tool', name: item.name, args };
    }
    case 'function_call_output':
      return {
        type: 'tool-result',
        name: toolNames.get(item.callId) ?? item.name,
        output: item.output,
        isError: item.isError,
      };
    case 'agent_handoff':
      // The session records its first agent as a handoff from nobody.
      if (!item.oldAgentId) {
        return { type: 'handoff', to: item.newAgentId };
      }
      return { type: 'handoff', from: item.oldAgentId, to: item.newAgentId };
    default:
      return undefined;
  }
}

/** Names of tools called but not yet answered. */
function pendingTools(items: readonly llm.ChatItem[]): string[] {
  const answered = new Set(
    items.filter((i) => i.type === 'function_call_output').map((i) => i.callId),
  );
  return items
    .filter((i): i is llm.FunctionCall => i.type === 'function_call' && !answered.has(i.callId))
    .map((i) => i.name);
}

/** One transcript line. */
export function formatEvent(e: TurnEvent): string {
  switch (e.type) {
    case 'caller':
      return `caller: ${e.text}`;
    case 'agent':
      return `${e.agent ?? 'agent'}: ${e.text}`;
    case 'tool': {
      const out = e.output ? ` → ${e.isError ? 'error: ' : ''}${clip(e.output)}` : '';
      return `  [tool] ${e.name}(${JSON.stringify(e.args)})${out}`;
    }
    case 'tool-result':
      return `  [tool] ${e.name} → ${e.isError ? 'error: ' : ''}${clip(e.output)}`;
    case 'handoff':
      return e.from ? `  [handoff] ${e.from} → ${e.to}` : `  [answered by] ${e.to}`;
    case 'transfer':
      return `  [transfer] ${e.destination ? `${e.destination} (${e.to})` : e.to}`;
    case 'call-ended':
      return `  [call ended] ${e.reason}`;
  }
}

function clip(s: string, max = 200): string {
  const one = s.replace(/\s+/g, ' ');
  return one.length > max ? `${one.slice(0, max)}…` : one;
}

function describeError(err: unknown): string {
  if (err && typeof err === 'object' && 'error' in err) {
    return describeError((err as { error: unknown }).error);
  }
  return err instanceof Error ? err.message : String(err);
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
