/**
 * The SIP service's trunk and dispatch-rule RPCs with livekit-server's validation and
 * conflict rules (livekit/protocol livekit/sip.go and sip/sip.go, livekit pkg/service/sip.go).
 */
import {
  type CreateSIPDispatchRuleRequest,
  type CreateSIPInboundTrunkRequest,
  type CreateSIPOutboundTrunkRequest,
  type DeleteSIPDispatchRuleRequest,
  type DeleteSIPTrunkRequest,
  type GetSIPInboundTrunkRequest,
  GetSIPInboundTrunkResponse,
  type GetSIPOutboundTrunkRequest,
  GetSIPOutboundTrunkResponse,
  type ListSIPDispatchRuleRequest,
  ListSIPDispatchRuleResponse,
  type ListSIPInboundTrunkRequest,
  ListSIPInboundTrunkResponse,
  type ListSIPOutboundTrunkRequest,
  ListSIPOutboundTrunkResponse,
  ListSIPTrunkResponse,
  type ListUpdate,
  SIPDispatchRuleInfo,
  type SIPInboundTrunkInfo,
  type SIPOutboundConfig,
  type SIPOutboundTrunkInfo,
  SIPTrunkInfo,
  SIPTrunkInfo_TrunkKind,
  type UpdateSIPDispatchRuleRequest,
  type UpdateSIPInboundTrunkRequest,
  type UpdateSIPOutboundTrunkRequest,
} from '@livekit/protocol';
import { newId } from './ids.js';
import { twirpError } from './twirp.js';

export interface SipStore {
  inboundTrunks: Map<string, SIPInboundTrunkInfo>;
  outboundTrunks: Map<string, SIPOutboundTrunkInfo>;
  rules: Map<string, SIPDispatchRuleInfo>;
}

const invalid = (msg: string) => twirpError('invalid_argument', msg);
const trunkNotFound = () => twirpError('not_found', 'requested sip trunk does not exist');
const ruleNotFound = () => twirpError('not_found', 'requested sip dispatch rule does not exist');

/** livekit.NormalizeNumber: strip spaces, dashes and brackets from numbers, add "+". */
export function normalizeNumber(num: string): string {
  if (!num) return '';
  if (!/^\+?[\d\- ()]+$/.test(num)) return num;
  const n = num.replace(/[ \-()]/g, '');
  return n.startsWith('+') ? n : `+${n}`;
}

/** The same number once normalized (LiveKit compares trunk and rule numbers this way). */
export const sameNumber = (a: string, b: string) => normalizeNumber(a) === normalizeNumber(b);

/** Go's %q for a string and a []string. */
const q = (s: string) => JSON.stringify(s);
const qList = (list: string[]) => `[${list.map(q).join(' ')}]`;
const printId = (id: string) => id || '<new>';
const printName = (name: string) => name || '<blank name>';
const printNumbers = (numbers: string[]) => (numbers.length === 0 ? '<any>' : qList(numbers));

function validateHostname(value: string, field: string): void {
  if (value.includes('transport='))
    throw invalid(`${field} should not contain transport parameter`);
  if (/[@;]/.test(value) || value.startsWith('sip:') || value.startsWith('sips:')) {
    throw invalid(`${field} should be a hostname or IP, not SIP URI`);
  }
}

export function validateInboundTrunk(t: SIPInboundTrunkInfo): void {
  const hasAuth = t.authUsername !== '' || t.authPassword !== '';
  if (!hasAuth && t.allowedAddresses.length === 0 && t.numbers.length === 0) {
    throw invalid(
      'for security, one of the fields must be set: AuthUsername+AuthPassword, AllowedAddresses or Numbers',
    );
  }
}

export function validateOutboundTrunk(t: SIPOutboundTrunkInfo): void {
  if (t.numbers.length === 0) throw invalid('no trunk numbers specified');
  if (t.address === '') throw invalid('no outbound address specified');
  validateHostname(t.address, 'trunk address');
  validateHostname(t.fromHost, 'from_host');
}

export function validateOutboundConfig(c: SIPOutboundConfig): void {
  if (c.hostname === '') throw invalid('no outbound hostname specified');
  validateHostname(c.hostname, 'trunk hostname');
  validateHostname(c.fromHost, 'from_host');
}

/** sip.ValidateTrunksIter: trunks sharing a number (or both wildcard) need AllowedNumbers. */
function validateTrunks(trunks: SIPInboundTrunkInfo[]): void {
  const byNumber = new Map<string, Map<string, SIPInboundTrunkInfo>>();
  for (const t of trunks) {
    for (const num of t.numbers.length === 0 ? [''] : t.numbers) {
      const byInbound = byNumber.get(num) ?? new Map<string, SIPInboundTrunkInfo>();
      byNumber.set(num, byInbound);
      if (t.allowedNumbers.length === 0) {
        const t2 = byInbound.get('');
        if (t2) {
          throw invalid(
            `Conflicting inbound SIP Trunks: ${q(printId(t.sipTrunkId))} and ${q(printId(t2.sipTrunkId))}, using the same number(s) ${printNumbers(t.numbers)} without AllowedNumbers set`,
          );
        }
        byInbound.set('', t);
      } else {
        for (const allowed of t.allowedNumbers) {
          const key = normalizeNumber(allowed);
          const t2 = byInbound.get(key);
          if (t2) {
            throw invalid(
              `Conflicting inbound SIP Trunks: ${q(printId(t.sipTrunkId))} and ${q(printId(t2.sipTrunkId))}, using the same number(s) ${printNumbers(t.numbers)} and AllowedNumber ${q(allowed)}`,
            );
          }
          byInbound.set(key, t);
        }
      }
    }
  }
}

export function rulePin(r: SIPDispatchRuleInfo): { room: string; pin: string } {
  const rule = r.rule?.rule;
  switch (rule?.case) {
    case 'dispatchRuleDirect':
      return { room: rule.value.roomName, pin: rule.value.pin };
    case 'dispatchRuleIndividual':
    case 'dispatchRuleCallee':
      return { room: rule.value.roomPrefix, pin: rule.value.pin };
    default:
      throw invalid('Unsupported SIP Dispatch Rule: <nil>');
  }
}

/** sip.DispatchRuleValidator: one rule per (PIN, trunk, inbound number, number). */
function validateRules(rules: SIPDispatchRuleInfo[]): void {
  const seen = new Map<string, SIPDispatchRuleInfo>();
  for (const r of rules) {
    const { pin } = rulePin(r);
    const trunks = r.trunkIds.length ? r.trunkIds : [''];
    const inbound = r.inboundNumbers.length ? r.inboundNumbers : [''];
    const numbers = r.numbers.length ? r.numbers : [''];
    for (const trunk of trunks) {
      for (const ib of inbound) {
        for (const n of numbers) {
          const key = JSON.stringify([pin, trunk, normalizeNumber(ib), normalizeNumber(n)]);
          const r2 = seen.get(key);
          if (r2) {
            throw invalid(
              `Dispatch rule for the same trunk, inbound number, number, and PIN combination already exists in dispatch rule ${q(printId(r2.sipDispatchRuleId))} ${q(printName(r2.name))}`,
            );
          }
          seen.set(key, r);
        }
      }
    }
  }
}

function validateListUpdate(u: ListUpdate | undefined): void {
  if (!u) return;
  const change = u.set.length + u.add.length + u.remove.length > 0;
  if (!u.clear && !change) throw invalid('unsupported list update operation');
  if (u.clear && change) throw invalid('cannot clear and change the list at the same time');
  if (u.set.length > 0 && u.add.length + u.remove.length > 0) {
    throw invalid('cannot set and change the list at the same time');
  }
  if ([...u.set, ...u.add, ...u.remove].some((v) => v === '')) {
    throw invalid('empty element in the list');
  }
}

function applyListUpdate(list: string[], u: ListUpdate | undefined): string[] {
  if (!u) return list;
  if (u.clear) return [];
  if (u.set.length) return [...u.set];
  const out = list.filter((v) => !u.remove.includes(v));
  for (const v of u.add) if (!out.includes(v)) out.push(v);
  return out;
}

/** Go's applyUpdate for each of `keys`: a field the update sets (proto3 optional) replaces it. */
function applyFields<T, K extends keyof T>(
  info: T,
  update: { [P in K]?: T[P] },
  keys: readonly K[],
): void {
  for (const k of keys) {
    const v = update[k];
    if (v !== undefined) info[k] = v as T[K];
  }
}

/** The redis store answers in id order (sortProtos), after `page.afterId`, up to `page.limit`. */
function page<T>(items: T[], id: (t: T) => string, p?: { afterId: string; limit: number }): T[] {
  let out = [...items].sort((a, b) => (id(a) < id(b) ? -1 : id(a) > id(b) ? 1 : 0));
  if (p?.afterId) out = out.filter((t) => id(t) > p.afterId);
  if (p && p.limit > 0) out = out.slice(0, p.limit);
  return out;
}
const trunkId = (t: { sipTrunkId: string }) => t.sipTrunkId;
const ruleId = (r: SIPDispatchRuleInfo) => r.sipDispatchRuleId;

const anyShared = (a: string[], b: string[]) => a.some((x) => b.some((y) => sameNumber(x, y)));

function filterInbound(
  list: SIPInboundTrunkInfo[],
  req: { trunkIds: string[]; numbers: string[] },
) {
  return list.filter(
    (t) =>
      (req.trunkIds.length === 0 || req.trunkIds.includes(t.sipTrunkId)) &&
      (req.numbers.length === 0 || t.numbers.length === 0 || anyShared(t.numbers, req.numbers)),
  );
}

function filterOutbound(
  list: SIPOutboundTrunkInfo[],
  req: { trunkIds: string[]; numbers: string[] },
) {
  return list.filter(
    (t) =>
      (req.trunkIds.length === 0 || req.trunkIds.includes(t.sipTrunkId)) &&
      (req.numbers.length === 0 ||
        t.numbers.length === 0 ||
        t.numbers.some((n) => req.numbers.includes(n))),
  );
}

function filterRules(
  list: SIPDispatchRuleInfo[],
  req: { dispatchRuleIds: string[]; trunkIds: string[] },
) {
  return list.filter(
    (r) =>
      (req.dispatchRuleIds.length === 0 || req.dispatchRuleIds.includes(r.sipDispatchRuleId)) &&
      (req.trunkIds.length === 0 ||
        r.trunkIds.length === 0 ||
        r.trunkIds.some((id) => req.trunkIds.includes(id))),
  );
}

/** The handlers; `store` is shared with the calls and inspectable by tests. */
export class SipService {
  constructor(readonly store: SipStore) {}

  /** The inbound trunks a trunk with `numbers` could conflict with, as the store lists them. */
  private inboundSharing(numbers: string[]): SIPInboundTrunkInfo[] {
    const all = [...this.store.inboundTrunks.values()];
    return page(filterInbound(all, { trunkIds: [], numbers }), trunkId);
  }

  /** The dispatch rules a rule on `trunkIds` could conflict with, as the store lists them. */
  private rulesOn(trunkIds: string[]): SIPDispatchRuleInfo[] {
    return page(
      filterRules([...this.store.rules.values()], { dispatchRuleIds: [], trunkIds }),
      ruleId,
    );
  }

  createInboundTrunk(req: CreateSIPInboundTrunkRequest): SIPInboundTrunkInfo {
    const info = req.trunk;
    if (!info) throw invalid('missing trunk');
    if (info.sipTrunkId !== '') throw invalid('trunk id must not be set');
    validateInboundTrunk(info);
    validateTrunks([...this.inboundSharing(info.numbers), info]);
    info.sipTrunkId = newId('ST_');
    this.store.inboundTrunks.set(info.sipTrunkId, info);
    return info;
  }

  createOutboundTrunk(req: CreateSIPOutboundTrunkRequest): SIPOutboundTrunkInfo {
    const info = req.trunk;
    if (!info) throw invalid('missing trunk');
    if (info.sipTrunkId !== '') throw invalid('trunk id must not be set');
    validateOutboundTrunk(info);
    info.sipTrunkId = newId('ST_');
    this.store.outboundTrunks.set(info.sipTrunkId, info);
    return info;
  }

  updateInboundTrunk(req: UpdateSIPInboundTrunkRequest): SIPInboundTrunkInfo {
    if (req.sipTrunkId === '') throw invalid('trunk id must be set');
    const action = req.action;
    if (!action.case) throw invalid('missing or unsupported update action');
    if (action.case === 'replace') {
      const r = action.value.sipTrunkId;
      if (r !== '' && r !== req.sipTrunkId) {
        throw invalid('trunk id in the info must be empty or match the id in the update');
      }
      validateInboundTrunk(action.value);
    } else {
      const u = action.value;
      validateListUpdate(u.numbers);
      validateListUpdate(u.allowedAddresses);
      validateListUpdate(u.allowedNumbers);
    }
    const current = this.store.inboundTrunks.get(req.sipTrunkId);
    if (!current) throw trunkNotFound();
    let next: SIPInboundTrunkInfo;
    if (action.case === 'replace') {
      next = action.value.clone();
      next.sipTrunkId = current.sipTrunkId;
    } else {
      const u = action.value;
      next = current.clone();
      next.numbers = applyListUpdate(next.numbers, u.numbers);
      next.allowedAddresses = applyListUpdate(next.allowedAddresses, u.allowedAddresses);
      next.allowedNumbers = applyListUpdate(next.allowedNumbers, u.allowedNumbers);
      applyFields(next, u, [
        'authUsername',
        'authPassword',
        'authRealm',
        'name',
        'metadata',
        'mediaEncryption',
        'media',
      ]);
      validateInboundTrunk(next);
    }
    const others = this.inboundSharing(next.numbers).map((t) =>
      t.sipTrunkId === next.sipTrunkId ? next : t,
    );
    validateTrunks(others);
    this.store.inboundTrunks.set(next.sipTrunkId, next);
    return next;
  }

  updateOutboundTrunk(req: UpdateSIPOutboundTrunkRequest): SIPOutboundTrunkInfo {
    if (req.sipTrunkId === '') throw invalid('trunk id must be set');
    const action = req.action;
    if (!action.case) throw invalid('missing or unsupported update action');
    if (action.case === 'replace') {
      const r = action.value.sipTrunkId;
      if (r !== '' && r !== req.sipTrunkId) {
        throw invalid('trunk id in the info must be empty or match the id in the update');
      }
      validateOutboundTrunk(action.value);
    } else {
      validateListUpdate(action.value.numbers);
    }
    const current = this.store.outboundTrunks.get(req.sipTrunkId);
    if (!current) throw trunkNotFound();
    let next: SIPOutboundTrunkInfo;
    if (action.case === 'replace') {
      next = action.value.clone();
      next.sipTrunkId = current.sipTrunkId;
    } else {
      const u = action.value;
      next = current.clone();
      next.numbers = applyListUpdate(next.numbers, u.numbers);
      applyFields(next, u, [
        'address',
        'transport',
        'destinationCountry',
        'authUsername',
        'authPassword',
        'name',
        'metadata',
        'mediaEncryption',
        'media',
        'fromHost',
      ]);
      validateOutboundTrunk(next);
    }
    this.store.outboundTrunks.set(next.sipTrunkId, next);
    return next;
  }

  getInboundTrunk(req: GetSIPInboundTrunkRequest): GetSIPInboundTrunkResponse {
    if (req.sipTrunkId === '') throw invalid('trunk ID is required');
    const trunk = this.store.inboundTrunks.get(req.sipTrunkId);
    if (!trunk) throw trunkNotFound();
    return new GetSIPInboundTrunkResponse({ trunk });
  }

  getOutboundTrunk(req: GetSIPOutboundTrunkRequest): GetSIPOutboundTrunkResponse {
    if (req.sipTrunkId === '') throw invalid('trunk ID is required');
    const trunk = this.store.outboundTrunks.get(req.sipTrunkId);
    if (!trunk) throw trunkNotFound();
    return new GetSIPOutboundTrunkResponse({ trunk });
  }

  listTrunks(): ListSIPTrunkResponse {
    const items = [
      ...[...this.store.inboundTrunks.values()].map(
        (t) =>
          new SIPTrunkInfo({
            sipTrunkId: t.sipTrunkId,
            kind: SIPTrunkInfo_TrunkKind.TRUNK_INBOUND,
            inboundAddresses: t.allowedAddresses,
            inboundNumbers: t.allowedNumbers,
            outboundNumber: t.numbers[0] ?? '',
            inboundUsername: t.authUsername,
            inboundPassword: t.authPassword,
            name: t.name,
            metadata: t.metadata,
          }),
      ),
      ...[...this.store.outboundTrunks.values()].map(
        (t) =>
          new SIPTrunkInfo({
            sipTrunkId: t.sipTrunkId,
            kind: SIPTrunkInfo_TrunkKind.TRUNK_OUTBOUND,
            outboundAddress: t.address,
            outboundNumber: t.numbers[0] ?? '',
            transport: t.transport,
            outboundUsername: t.authUsername,
            outboundPassword: t.authPassword,
            name: t.name,
            metadata: t.metadata,
          }),
      ),
    ];
    return new ListSIPTrunkResponse({ items });
  }

  listInboundTrunks(req: ListSIPInboundTrunkRequest): ListSIPInboundTrunkResponse {
    return new ListSIPInboundTrunkResponse({
      items: page(filterInbound([...this.store.inboundTrunks.values()], req), trunkId, req.page),
    });
  }

  listOutboundTrunks(req: ListSIPOutboundTrunkRequest): ListSIPOutboundTrunkResponse {
    return new ListSIPOutboundTrunkResponse({
      items: page(filterOutbound([...this.store.outboundTrunks.values()], req), trunkId, req.page),
    });
  }

  /** Succeeds for unknown ids too (the store's HDEL does not care). */
  deleteTrunk(req: DeleteSIPTrunkRequest): SIPTrunkInfo {
    if (req.sipTrunkId === '') throw invalid('trunk ID is required');
    this.store.inboundTrunks.delete(req.sipTrunkId);
    this.store.outboundTrunks.delete(req.sipTrunkId);
    return new SIPTrunkInfo({ sipTrunkId: req.sipTrunkId });
  }

  createDispatchRule(req: CreateSIPDispatchRuleRequest): SIPDispatchRuleInfo {
    let info: SIPDispatchRuleInfo;
    if (req.dispatchRule) {
      if (req.dispatchRule.sipDispatchRuleId !== '') throw invalid('rule id must not be set');
      info = req.dispatchRule;
    } else {
      info = new SIPDispatchRuleInfo({
        rule: req.rule,
        trunkIds: req.trunkIds,
        inboundNumbers: req.inboundNumbers,
        hidePhoneNumber: req.hidePhoneNumber,
        name: req.name,
        metadata: req.metadata,
        attributes: req.attributes,
        roomPreset: req.roomPreset,
        roomConfig: req.roomConfig,
      });
    }
    if (!info.rule) throw invalid('missing rule');
    validateRules([...this.rulesOn(info.trunkIds), info]);
    info.sipDispatchRuleId = newId('SDR_');
    this.store.rules.set(info.sipDispatchRuleId, info);
    return info;
  }

  updateDispatchRule(req: UpdateSIPDispatchRuleRequest): SIPDispatchRuleInfo {
    if (req.sipDispatchRuleId === '') throw invalid('rule id must be set');
    const action = req.action;
    if (!action.case) throw invalid('missing or unsupported update action');
    if (action.case === 'replace') {
      const r = action.value.sipDispatchRuleId;
      if (r !== '' && r !== req.sipDispatchRuleId) {
        throw invalid('rule id in the info must be empty or match the id in the update');
      }
      if (!action.value.rule) throw invalid('missing rule');
    } else {
      validateListUpdate(action.value.trunkIds);
    }
    const current = this.store.rules.get(req.sipDispatchRuleId);
    if (!current) throw ruleNotFound();
    let next: SIPDispatchRuleInfo;
    if (action.case === 'replace') {
      next = action.value.clone();
      next.sipDispatchRuleId = current.sipDispatchRuleId;
    } else {
      const u = action.value;
      next = current.clone();
      next.trunkIds = applyListUpdate(next.trunkIds, u.trunkIds);
      applyFields(next, u, ['rule', 'name', 'metadata', 'mediaEncryption', 'media']);
      for (const [k, v] of Object.entries(u.attributes)) {
        if (v === '') delete next.attributes[k];
        else next.attributes[k] = v;
      }
      // Go returns this one as a plain error (unknown 500), not invalid_argument.
      if (!next.rule) throw twirpError('unknown', 'missing rule');
    }
    const others = this.rulesOn(next.trunkIds).map((r) =>
      r.sipDispatchRuleId === next.sipDispatchRuleId ? next : r,
    );
    validateRules(others);
    this.store.rules.set(next.sipDispatchRuleId, next);
    return next;
  }

  listDispatchRules(req: ListSIPDispatchRuleRequest): ListSIPDispatchRuleResponse {
    return new ListSIPDispatchRuleResponse({
      items: page(filterRules([...this.store.rules.values()], req), ruleId, req.page),
    });
  }

  deleteDispatchRule(req: DeleteSIPDispatchRuleRequest): SIPDispatchRuleInfo {
    if (req.sipDispatchRuleId === '') throw invalid('dispatch rule ID is required');
    const info = this.store.rules.get(req.sipDispatchRuleId);
    if (!info) throw ruleNotFound();
    this.store.rules.delete(req.sipDispatchRuleId);
    return info;
  }
}
