/**
 * Routing a phone number to an agent: an inbound trunk for the number plus an `individual`
 * dispatch rule (one room per call) whose roomConfig dispatches the worker pool (AGENT_NAME)
 * with `{"agent": name, "metadata": {...}}` as job metadata (see sip-mapping.ts); the worker
 * connects that agent of its agents file.
 *
 * Stateless: LiveKit is the source of truth. The trunk and rule of a number carry
 * `metadata` {"managedBy":"phone-agents","number":"+1..."} (and the name `number:+1...` for
 * people reading LiveKit directly), so every request finds them by scanning. A PUT converges
 * whatever it finds on the requested state: it creates what is missing (also after an earlier
 * request failed half-way), updates what differs, leaves what matches untouched and removes
 * duplicates, so repeating a PUT changes nothing.
 */

import type { FastifyBaseLogger as Logger } from 'fastify';
import type { SIPDispatchRuleInfo, SIPInboundTrunkInfo, SipClient } from 'livekit-server-sdk';
import { ConflictError, NotFoundError } from '../core/errors.js';
import { jsonObject } from '../core/job-metadata.js';
import { toE164 } from '../core/phone.js';
import {
  agentOf,
  ruleCreateOptions,
  ruleReplace,
  ruleShapeOf,
  sdkRule,
} from './dispatch-rule-mapping.js';
import type { DispatchRuleCreate } from './schemas/dispatch-rules.js';
import type { NumberRouting, NumberRoutingSpec } from './schemas/numbers.js';
import type { InboundTrunkCreate } from './schemas/trunks.js';
import { callLiveKit } from './sip-lookup.js';
import { inboundCreateOptions, inboundReplace, inboundUpdateFields } from './trunk-mapping.js';

const MANAGED_BY = 'phone-agents';

function managedName(number: string): string {
  return `number:${number}`;
}

function managedMetadata(number: string): string {
  return JSON.stringify({ managedBy: MANAGED_BY, number });
}

/** The number a trunk or rule routes on our behalf, or undefined when we do not manage it. */
function managedNumberOf(metadata: string): string | undefined {
  const m = jsonObject(metadata);
  return m?.managedBy === MANAGED_BY && typeof m.number === 'string' ? m.number : undefined;
}

interface Managed {
  trunks: SIPInboundTrunkInfo[];
  rules: SIPDispatchRuleInfo[];
}

function routingOf(number: string, { trunks, rules }: Managed, agentName: string): NumberRouting {
  const trunk = trunks[0];
  const rule = rules[0];
  const shape = rule ? ruleShapeOf(rule.rule) : undefined;
  const linked = Boolean(trunk && rule?.trunkIds.includes(trunk.sipTrunkId));
  return {
    number,
    ...(rule ? agentOf(rule, agentName) : {}),
    ...(shape?.roomPrefix ? { roomPrefix: shape.roomPrefix } : {}),
    allowedAddresses: trunk?.allowedAddresses ?? [],
    allowedNumbers: trunk?.allowedNumbers ?? [],
    ...(trunk?.authUsername ? { auth: { username: trunk.authUsername } } : {}),
    hidePhoneNumber: rule?.hidePhoneNumber ?? false,
    trunkId: trunk?.sipTrunkId ?? null,
    dispatchRuleId: rule?.sipDispatchRuleId ?? null,
    status: linked ? 'active' : 'incomplete',
  };
}

/** Runs calls for the same key one after another (two PUTs of a number must not interleave). */
function keyedQueue() {
  const tails = new Map<string, Promise<unknown>>();
  return async <T>(key: string, task: () => Promise<T>): Promise<T> => {
    const run = (tails.get(key) ?? Promise.resolve()).then(task, task);
    const tail = run.catch(() => undefined);
    tails.set(key, tail);
    try {
      return await run;
    } finally {
      if (tails.get(key) === tail) tails.delete(key);
    }
  };
}

/**
 * The number's trunk and rule in the terms of /v1/trunks/inbound and /v1/dispatch-rules, so
 * sip-mapping.ts builds the LiveKit objects the same way for all three APIs. Fields the routing
 * leaves out (trunk headers, rule attributes…) keep what the existing objects hold.
 */
function wantedTrunk(number: string, input: NumberRoutingSpec) {
  return {
    name: managedName(number),
    metadata: managedMetadata(number),
    numbers: [number],
    allowedAddresses: input.allowedAddresses,
    allowedNumbers: input.allowedNumbers,
    auth: input.auth,
  } satisfies InboundTrunkCreate;
}

function wantedRule(number: string, input: NumberRoutingSpec, trunkId: string) {
  return {
    kind: 'individual',
    roomPrefix: input.roomPrefix,
    name: managedName(number),
    metadata: managedMetadata(number),
    trunkIds: [trunkId],
    hidePhoneNumber: input.hidePhoneNumber,
    agent: input.agent,
  } satisfies DispatchRuleCreate;
}

export interface NumberRouter {
  list(): Promise<NumberRouting[]>;
  get(number: string): Promise<NumberRouting>;
  /** Creates or updates the routing; `created` when a trunk or rule had to be created. */
  put(
    number: string,
    input: NumberRoutingSpec,
    log: Logger,
  ): Promise<{ routing: NumberRouting; created: boolean }>;
  remove(number: string, log: Logger): Promise<void>;
}

/** `agentName`: the worker pool's LiveKit agent name (AGENT_NAME) the rules dispatch. */
export function createNumberRouter(sip: SipClient, agentName: string): NumberRouter {
  const serialize = keyedQueue();
  const view = (number: string, found: Managed) => routingOf(number, found, agentName);

  async function scan(): Promise<{ trunks: SIPInboundTrunkInfo[]; rules: SIPDispatchRuleInfo[] }> {
    const [trunks, rules] = await Promise.all([
      callLiveKit('inbound trunks', () => sip.listSipInboundTrunk()),
      callLiveKit('dispatch rules', () => sip.listSipDispatchRule()),
    ]);
    return { trunks, rules };
  }

  function managedBy(number: string, all: Managed): Managed {
    return {
      trunks: all.trunks.filter((t) => managedNumberOf(t.metadata) === number),
      rules: all.rules.filter((r) => managedNumberOf(r.metadata) === number),
    };
  }

  async function deleteAll(found: Managed): Promise<void> {
    // Rules first: a trunk left without its rule would hand calls to catch-all rules.
    for (const r of found.rules) {
      const id = r.sipDispatchRuleId;
      await callLiveKit(`Dispatch rule ${id}`, () => sip.deleteSipDispatchRule(id));
    }
    for (const t of found.trunks) {
      const id = t.sipTrunkId;
      await callLiveKit(`Inbound trunk ${id}`, () => sip.deleteSipTrunk(id));
    }
  }

  async function ensureTrunk(
    number: string,
    input: NumberRoutingSpec,
    existing: SIPInboundTrunkInfo | undefined,
  ): Promise<{ trunk: SIPInboundTrunkInfo; created: boolean }> {
    const wanted = wantedTrunk(number, input);
    if (!existing) {
      const trunk = await callLiveKit('inbound trunk', () =>
        sip.createSipInboundTrunk(wanted.name, wanted.numbers, inboundCreateOptions(wanted)),
      );
      return { trunk, created: true };
    }
    const id = existing.sipTrunkId;
    // No credentials wanted means none kept.
    const patch = { ...wanted, auth: wanted.auth ?? null };
    const want = inboundReplace(existing, patch);
    if (want.equals(existing)) return { trunk: existing, created: false };
    const fields = inboundUpdateFields(patch);
    const trunk = await callLiveKit(`Inbound trunk ${id}`, () =>
      fields ? sip.updateSipInboundTrunkFields(id, fields) : sip.updateSipInboundTrunk(id, want),
    );
    return { trunk, created: false };
  }

  async function ensureRule(
    number: string,
    input: NumberRoutingSpec,
    trunkId: string,
    existing: SIPDispatchRuleInfo | undefined,
  ): Promise<{ rule: SIPDispatchRuleInfo; created: boolean }> {
    const wanted = wantedRule(number, input, trunkId);
    if (!existing) {
      const rule = await callLiveKit('dispatch rule', () =>
        sip.createSipDispatchRule(sdkRule(wanted), ruleCreateOptions(wanted, agentName)),
      );
      return { rule, created: true };
    }
    const id = existing.sipDispatchRuleId;
    // A managed rule matches on its trunk alone: callers and dialed numbers are cleared.
    const patch = { ...wanted, inboundNumbers: [], numbers: [] };
    const want = ruleReplace(existing, patch, wanted, agentName);
    if (want.equals(existing)) return { rule: existing, created: false };
    // roomConfig and hidePhoneNumber have no partial update: replace the whole rule.
    const rule = await callLiveKit(`Dispatch rule ${id}`, () =>
      sip.updateSipDispatchRule(id, want),
    );
    return { rule, created: false };
  }

  return {
    async list() {
      const all = await scan();
      const numbers = new Set(
        [...all.trunks, ...all.rules]
          .map((x) => managedNumberOf(x.metadata))
          .filter((n): n is string => n !== undefined),
      );
      return [...numbers].sort().map((n) => view(n, managedBy(n, all)));
    },

    async get(number) {
      const found = managedBy(number, await scan());
      if (!found.trunks.length && !found.rules.length) {
        throw new NotFoundError('This number is not routed (PUT /v1/numbers/{e164} routes it)');
      }
      return view(number, found);
    },

    put: (number, input, log) =>
      serialize(number, async () => {
        const all = await scan();
        // LiveKit would refuse a second trunk for the number (or route it elsewhere); other
        // tools may have stored it in a national or bare-digit form.
        const foreign = all.trunks.find(
          (t) =>
            managedNumberOf(t.metadata) === undefined &&
            t.numbers.some((n) => n === number || toE164(n) === number),
        );
        if (foreign) {
          throw new ConflictError(
            `This number already belongs to inbound trunk ${foreign.sipTrunkId}, which ` +
              '/v1/numbers does not manage; remove the number from that trunk first',
          );
        }
        const mine = managedBy(number, all);
        // Duplicates only come from other API instances writing at the same time: keep one.
        await deleteAll({ trunks: mine.trunks.slice(1), rules: mine.rules.slice(1) });

        const t = await ensureTrunk(number, input, mine.trunks[0]);
        let r: { rule: SIPDispatchRuleInfo; created: boolean };
        try {
          r = await ensureRule(number, input, t.trunk.sipTrunkId, mine.rules[0]);
        } catch (err) {
          // A trunk without a rule accepts calls nobody answers: undo a trunk made just now.
          if (t.created) {
            await deleteAll({ trunks: [t.trunk], rules: [] }).catch((e: unknown) =>
              log.error({ err: e, trunkId: t.trunk.sipTrunkId }, 'could not remove new trunk'),
            );
          }
          throw err;
        }
        log.info(
          {
            number,
            trunkId: t.trunk.sipTrunkId,
            ruleId: r.rule.sipDispatchRuleId,
            agent: input.agent.name,
          },
          'number routed',
        );
        return {
          routing: view(number, { trunks: [t.trunk], rules: [r.rule] }),
          created: t.created || r.created,
        };
      }),

    remove: (number, log) =>
      serialize(number, async () => {
        const found = managedBy(number, await scan());
        if (!found.trunks.length && !found.rules.length) {
          throw new NotFoundError('This number is not routed');
        }
        await deleteAll(found);
        log.info({ number }, 'number routing removed');
      }),
  };
}
