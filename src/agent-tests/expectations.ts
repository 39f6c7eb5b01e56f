/**
 * What a conversation-test turn expected and what happened (a handoff, tool calls with argument
 * matchers, a transfer, the call ending, the reply's text), as readable sentences, one per
 * unmet expectation; none when the turn passed.
 */
import { matchArgs, textList } from './matchers.js';
import type { ExpectSpec } from './test-file.js';

/** What happened in one turn, in order. */
export type TurnEvent =
  | { type: 'caller'; text: string }
  | { type: 'agent'; agent?: string; text: string }
  | {
      type: 'tool';
      name: string;
      args: Record<string, unknown>;
      output?: string;
      isError?: boolean;
    }
  | { type: 'tool-result'; name: string; output: string; isError: boolean }
  | { type: 'handoff'; from?: string; to: string }
  | { type: 'transfer'; to: string; destination?: string }
  | { type: 'call-ended'; reason: string };

export interface TurnState {
  currentAgent: string | undefined;
  ended: boolean;
  refused: boolean;
}

/** What did not happen as expected in a turn, one readable sentence each. */
export function checkTurn(
  e: ExpectSpec & { refused?: boolean },
  events: TurnEvent[],
  s: TurnState,
): string[] {
  const out: string[] = [];
  const tools = events.filter((x): x is Extract<TurnEvent, { type: 'tool' }> => x.type === 'tool');
  const handoffs = events.filter(
    (x): x is Extract<TurnEvent, { type: 'handoff' }> => x.type === 'handoff',
  );
  const said = events
    .filter((x): x is Extract<TurnEvent, { type: 'agent' }> => x.type === 'agent')
    .map((x) => x.text)
    .join(' ');
  const calledList = tools.length
    ? tools.map((t) => `${t.name}(${JSON.stringify(t.args)})`).join(', ')
    : 'none';

  if (e.refused !== undefined && e.refused !== s.refused) {
    out.push(e.refused ? 'expected the call to be refused; it was not' : 'the call was refused');
  }
  if (e.handoff !== undefined && !handoffs.some((h) => h.to === e.handoff)) {
    out.push(
      `expected a handoff to ${e.handoff}; ${
        handoffs.length
          ? `the handoffs were ${handoffs.map((h) => `${h.from ?? '?'} → ${h.to}`).join(', ')}`
          : `there was none (${s.currentAgent ?? 'no agent'} kept the call)`
      }`,
    );
  }
  if (e.agent !== undefined && e.agent !== s.currentAgent) {
    out.push(
      `expected ${e.agent} to be talking at the end of the turn; it was ${s.currentAgent ?? 'no agent'}`,
    );
  }
  for (const want of e.toolCalls ?? []) {
    const name = typeof want === 'string' ? want : want.name;
    const args = typeof want === 'string' ? undefined : want.args;
    const same = tools.filter((t) => t.name === name);
    if (same.length === 0) {
      out.push(`expected a call of ${name}; tools called: ${calledList}`);
      continue;
    }
    if (args && !same.some((t) => matchArgs(args, t.args).ok)) {
      const why = matchArgs(args, same[0]!.args).why;
      out.push(
        `expected ${name} with ${JSON.stringify(args)}; it was called with ${JSON.stringify(same[0]!.args)} (${why})`,
      );
    }
  }
  for (const name of e.notToolCalls ?? []) {
    const hit = name === '*' ? tools : tools.filter((t) => t.name === name);
    if (hit.length > 0) {
      out.push(
        name === '*'
          ? `expected no tool call; tools called: ${calledList}`
          : `expected no call of ${name}; it was called with ${JSON.stringify(hit[0]!.args)}`,
      );
    }
  }
  if (e.transfer !== undefined) {
    const call = tools.find((t) => t.name === e.transfer);
    const done = events.some((x) => x.type === 'transfer' && x.destination === e.transfer);
    if (!call) out.push(`expected a transfer to ${e.transfer}; tools called: ${calledList}`);
    else if (!done) {
      out.push(
        `the agent called ${e.transfer} but the transfer did not happen${call.output ? `: ${call.output}` : ''}`,
      );
    }
  }
  if (e.endCall !== undefined && e.endCall !== s.ended) {
    out.push(e.endCall ? 'expected the agent to end the call; the call goes on' : 'the call ended');
  }
  if (e.reply) {
    const text = said.toLowerCase();
    const quoted = said ? `"${said}"` : 'nothing';
    for (const want of textList(e.reply.contains)) {
      if (!text.includes(want.toLowerCase())) {
        out.push(`expected the agent to say "${want}"; it said ${quoted}`);
      }
    }
    for (const not of textList(e.reply.notContains)) {
      if (text.includes(not.toLowerCase())) {
        out.push(`expected the agent not to say "${not}"; it said ${quoted}`);
      }
    }
    if (e.reply.matches && !new RegExp(e.reply.matches, 'i').test(said)) {
      out.push(`expected what the agent said to match /${e.reply.matches}/; it said ${quoted}`);
    }
  }
  return out;
}
