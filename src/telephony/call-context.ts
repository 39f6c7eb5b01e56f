/**
 * CallContext: what an agent knows about the call it is on, built once at job entry from the
 * SIP participant's attributes and the job's metadata (see livekit-server-contract.md, "The SIP
 * participant, as the agent sees it").
 *
 * Carriers send anything in the number fields: E.164, national formats, SIP URIs, "anonymous",
 * or nothing at all (`hidePhoneNumber`). Numbers are normalised to E.164 where possible and the
 * raw value is kept beside them, so routing and tools never have to re-parse.
 *
 * The job metadata is the API's dispatch contract (src/core/job-metadata.ts): LiveKit
 * dispatches the worker pool (AGENT_NAME), and the JSON names the agent of the agents file
 * (`agent`) and carries the user's metadata (`metadata`), plus, for outbound calls, the call
 * fields (`direction`, `to`, `callId`, ...). Metadata in another format (a dispatch made
 * outside the API) contributes nothing but a `direction`/`agent` it happens to have.
 */
import type { CountryCode } from 'libphonenumber-js';
import { type CallDirection, type JobMetadata, readJobMetadata } from '../core/job-metadata.js';
import { toE164, userPart } from '../core/phone.js';

export type { CallDirection } from '../core/job-metadata.js';

export interface CallContext {
  direction: CallDirection;
  /** Caller in E.164; undefined when hidden, anonymous or not a phone number. */
  callerNumber?: string;
  /** Caller exactly as the carrier sent it (may be a SIP URI, "anonymous", an extension). */
  callerRaw?: string;
  /** True when the caller withheld the number (absent, "anonymous", "unknown", ...). */
  callerHidden: boolean;
  /** Dialed (called) number in E.164, when it is one. */
  dialedNumber?: string;
  /** Dialed number exactly as received. */
  dialedRaw?: string;
  /** LiveKit SIP trunk id (`ST_...`). */
  trunkId?: string;
  /** LiveKit dispatch rule id (`SDR_...`), inbound calls only. */
  ruleId?: string;
  /** LiveKit's SIP call id (`SCL_...`). */
  livekitCallId?: string;
  /** The SIP Call-ID header value. */
  sipCallId?: string;
  /** Provider-specific ids, keyed without the `sip.` prefix (e.g. `twilio.callSid`). */
  providerIds: Record<string, string>;
  /** SIP headers forwarded as `sip.h.<Name>`, keyed by lower-cased header name. */
  headers: Record<string, string>;
  /** Custom participant attributes (from the dispatch rule or the outbound request). */
  attributes: Record<string, string>;
  /**
   * The user's metadata: the `metadata` object inside the job metadata (the API's call
   * `metadata` merged with `agent.metadata`); {} when absent. Routes' `metadata:` conditions
   * match its keys.
   */
  metadata: Record<string, unknown>;
  /**
   * The job metadata's `agent` (an agent of the agents file chosen by the dispatcher: the API's
   * `agent.name`); a `{ name }` object is read too (job metadata version 1).
   */
  requestedAgent?: string;
  roomName?: string;
  participantIdentity?: string;
}

export interface CallContextInput {
  /** The SIP participant's attributes (absent when no SIP participant, e.g. a web test call). */
  attributes?: Readonly<Record<string, string>>;
  /** `ctx.job.metadata` (a JSON string, possibly empty). */
  jobMetadata?: string;
  roomName?: string;
  participantIdentity?: string;
  /** Country used to read national-format numbers (PHONE_DEFAULT_REGION). */
  defaultRegion?: string;
}

/** Attributes this module maps to fields; everything else `sip.*` is a provider id. */
const KNOWN_SIP = new Set([
  'sip.callID',
  'sip.callIDFull',
  'sip.callTag',
  'sip.callStatus',
  'sip.trunkID',
  'sip.ruleID',
  'sip.phoneNumber',
  'sip.trunkPhoneNumber',
  'sip.hostname',
]);

/** Values carriers put in the number field when the caller withheld it. */
const HIDDEN_VALUES = new Set([
  '',
  'anonymous',
  'unknown',
  'unavailable',
  'private',
  'restricted',
  'withheld',
  'blocked',
  'hidden',
]);

export function buildCallContext(input: CallContextInput): CallContext {
  const attrs = input.attributes ?? {};
  const job = readJobMetadata(input.jobMetadata);
  const metadata = job.metadata;
  const direction = detectDirection(attrs, job);
  const region = input.defaultRegion as CountryCode | undefined;

  // sip.phoneNumber is always the remote party, sip.trunkPhoneNumber always our side.
  const remote = clean(attrs['sip.phoneNumber']);
  const local = clean(attrs['sip.trunkPhoneNumber']);
  const callerRaw = direction === 'inbound' ? remote : local;
  const dialedRaw = direction === 'inbound' ? local : remote;

  const headers: Record<string, string> = {};
  const providerIds: Record<string, string> = {};
  const attributes: Record<string, string> = {};
  for (const [key, value] of Object.entries(attrs)) {
    if (key.startsWith('sip.h.')) headers[key.slice(6).toLowerCase()] = value;
    else if (key.startsWith('sip.')) {
      if (!KNOWN_SIP.has(key)) providerIds[key.slice(4)] = value;
    } else if (!key.startsWith('lk.')) attributes[key] = value;
  }

  const ctx: CallContext = {
    direction,
    callerHidden: callerRaw === undefined || HIDDEN_VALUES.has(userPart(callerRaw).toLowerCase()),
    providerIds,
    headers,
    attributes,
    metadata,
  };
  assign(ctx, 'callerRaw', callerRaw);
  assign(ctx, 'callerNumber', ctx.callerHidden ? undefined : toE164(callerRaw, region));
  assign(ctx, 'dialedRaw', dialedRaw);
  assign(ctx, 'dialedNumber', toE164(dialedRaw, region));
  assign(ctx, 'trunkId', clean(attrs['sip.trunkID']));
  assign(ctx, 'ruleId', clean(attrs['sip.ruleID']));
  assign(ctx, 'livekitCallId', clean(attrs['sip.callID']));
  assign(ctx, 'sipCallId', clean(attrs['sip.callIDFull']));
  assign(ctx, 'requestedAgent', job.agent);
  assign(ctx, 'roomName', input.roomName);
  assign(ctx, 'participantIdentity', input.participantIdentity);
  return ctx;
}

/**
 * Inbound unless the dispatcher said otherwise: our API's outbound dispatch puts
 * `direction: "outbound"` in the job metadata. Without it, an outbound SIP participant is
 * recognised by having no dispatch rule and starting in the `dialing` state.
 */
function detectDirection(attrs: Readonly<Record<string, string>>, job: JobMetadata): CallDirection {
  if (job.direction) return job.direction;
  if (attrs['sip.ruleID']) return 'inbound';
  if (attrs['sip.callStatus'] === 'dialing') return 'outbound';
  return 'inbound';
}

function clean(value: string | undefined): string | undefined {
  const v = value?.trim();
  return v ? v : undefined;
}

/** Sets only defined values, so the context serialises without `undefined` noise. */
function assign<K extends keyof CallContext>(ctx: CallContext, key: K, value: CallContext[K]) {
  if (value !== undefined) ctx[key] = value;
}
