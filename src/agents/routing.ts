/**
 * Call routing: which agent takes a call, or a polite refusal (blocked callers), decided from
 * the CallContext and the `routes:` of the agents file.
 *
 * - An explicit `agent` in the job metadata (the API's `agent.name`: outbound calls, dispatch
 *   rules, routed numbers) wins when the agents file has it; only refusal routes that match
 *   (blocked callers) still come first, so naming an agent never lets a blocked caller through.
 *   An agent the file lacks is logged as a warning and the routes decide.
 * - Otherwise routes are tried in file order; the first whose every condition holds wins. The
 *   default route (last, `default: true`) takes what is left.
 * - `metadata:` conditions match keys of the user's metadata (CallContext.metadata: the
 *   `metadata` object of the job metadata), not the job metadata's own fields (direction, to,
 *   callId...): those have their own conditions, and a user key must not collide with them.
 * - Patterns are globs: `*` matches any run of characters, everything else is literal, case is
 *   ignored. `+1415*` is a prefix, `+14155550100` one number, `*` anything present.
 * - Numbers are compared in E.164 and, for callers that are not phone numbers (PBX extensions,
 *   SIP users), against the raw user part (`sip:1001@pbx` → `1001`). A hidden caller matches
 *   no `callerNumber` pattern; use `callerHidden: true` for those.
 */

import { userPart } from '../core/phone.js';
import type { CallContext } from '../telephony/call-context.js';
import type { AgentsConfig } from './agents-file.js';
import type { RouteMatch, RouteSpec } from './agents-schema.js';

export type RouteDecision =
  /** Connect this agent. `route` names the rule that decided (for logs and metrics). */
  | { agent: string; route: string }
  /** Say this message and hang up. */
  | { refuse: string; route: string };

/** Where `route` reports a requested agent the agents file does not have. */
export interface RouteLog {
  warn(obj: object, msg: string): void;
}

export function route(
  config: Pick<AgentsConfig, 'agents' | 'routes'>,
  call: CallContext,
  log?: RouteLog,
): RouteDecision {
  const requested = call.requestedAgent;
  if (requested && config.agents.has(requested)) {
    for (const [i, r] of config.routes.entries()) {
      if (r.refuse !== undefined && !r.default && r.match && matches(r.match, call)) {
        return decide(r, i);
      }
    }
    return { agent: requested, route: 'metadata.agent' };
  }
  if (requested) {
    log?.warn(
      { requestedAgent: requested, agents: [...config.agents.keys()] },
      'the job metadata names an agent the agents file does not have; routing the call instead',
    );
  }
  for (const [i, r] of config.routes.entries()) {
    if (r.default || (r.match && matches(r.match, call))) return decide(r, i);
  }
  // A validated file always ends with a default route; this only guards hand-built configs.
  throw new Error('no route matched and the agents file has no default route');
}

function decide(r: RouteSpec, index: number): RouteDecision {
  const name = r.name ?? `routes[${index}]`;
  if (r.refuse !== undefined) return { refuse: r.refuse, route: name };
  return { agent: r.agent!, route: name };
}

/** True when every condition of `m` holds for the call. */
export function matches(m: RouteMatch, call: CallContext): boolean {
  if (m.direction !== undefined && m.direction !== call.direction) return false;
  if (m.callerHidden !== undefined && m.callerHidden !== call.callerHidden) return false;
  if (m.dialedNumber !== undefined) {
    if (!anyMatch(m.dialedNumber, numberCandidates(call.dialedNumber, call.dialedRaw)))
      return false;
  }
  if (m.callerNumber !== undefined) {
    const candidates = call.callerHidden ? [] : numberCandidates(call.callerNumber, call.callerRaw);
    if (!anyMatch(m.callerNumber, candidates)) return false;
  }
  if (m.headers && !mapMatches(m.headers, (name) => call.headers[name.toLowerCase()])) {
    return false;
  }
  if (m.attributes && !mapMatches(m.attributes, (name) => call.attributes[name])) return false;
  if (m.metadata && !mapMatches(m.metadata, (key) => scalar(call.metadata[key]))) return false;
  return true;
}

function numberCandidates(e164: string | undefined, raw: string | undefined): string[] {
  const out: string[] = [];
  if (e164) out.push(e164);
  if (raw) out.push(userPart(raw));
  return out;
}

function mapMatches(
  conditions: Record<string, string | string[]>,
  lookup: (key: string) => string | undefined,
): boolean {
  return Object.entries(conditions).every(([key, pattern]) => {
    const value = lookup(key);
    return value !== undefined && anyMatch(pattern, [value]);
  });
}

function anyMatch(pattern: string | string[], values: string[]): boolean {
  const patterns = Array.isArray(pattern) ? pattern : [pattern];
  return patterns.some((p) => {
    const re = glob(p);
    return values.some((v) => re.test(v));
  });
}

function scalar(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return undefined;
}

const compiled = new Map<string, RegExp>();

/** `*` → any run of characters; everything else literal; whole value; case ignored. */
export function glob(pattern: string): RegExp {
  let re = compiled.get(pattern);
  if (!re) {
    const body = pattern
      .split('*')
      .map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
      .join('.*');
    re = new RegExp(`^${body}$`, 'i');
    compiled.set(pattern, re);
  }
  return re;
}
