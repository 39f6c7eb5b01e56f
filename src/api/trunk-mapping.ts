/**
 * Trunks, our JSON ↔ livekit-server-sdk: request bodies become SDK options and update messages,
 * SDK trunk objects become the API's product-shaped JSON (camelCase, no passwords, no protobuf
 * enums). Dispatch rules are mapped in dispatch-rule-mapping.ts.
 *
 * PATCH uses LiveKit's partial updates (`update*Fields`) when every changed field has one;
 * fields LiveKit cannot update partially (headers, Krisp, ringing timeout, numbers) need a
 * whole-object replace built from the current one.
 */
import {
  type CreateSipInboundTrunkOptions,
  type CreateSipOutboundTrunkOptions,
  SIPInboundTrunkInfo,
  type SIPOutboundTrunkInfo,
  type SipInboundTrunkUpdateOptions,
  type SipOutboundTrunkUpdateOptions,
} from 'livekit-server-sdk';
import type {
  InboundTrunk,
  InboundTrunkCreate,
  InboundTrunkPatch,
  IncludeHeaders,
  OutboundTrunk,
  OutboundTrunkCreate,
  OutboundTrunkPatch,
  SipAuthInput,
  Transport,
} from './schemas/trunks.js';

type ListUpdate = NonNullable<SipInboundTrunkUpdateOptions['numbers']>;
type SipTransport = CreateSipOutboundTrunkOptions['transport'];

/** A whole-list replacement. An empty `set` would be dropped on the wire, so empty = clear. */
export function listUpdate(values: readonly string[]): ListUpdate {
  // The SDK's update messages accept plain objects (protobuf-es copies known fields); the
  // ListUpdate class itself is not exported by livekit-server-sdk.
  return (values.length ? { set: [...values] } : { clear: true }) as unknown as ListUpdate;
}

// ── transport (protobuf enum SIPTransport; numbers are stable wire values) ──────────────────────
const TRANSPORTS: readonly Transport[] = ['auto', 'udp', 'tcp', 'tls'];

function toSipTransport(t: Transport | undefined): SipTransport {
  return Math.max(0, TRANSPORTS.indexOf(t ?? 'auto')) as SipTransport;
}

function fromSipTransport(t: number): Transport {
  return TRANSPORTS[t] ?? 'auto';
}

function seconds(d: { seconds: bigint } | undefined): number | undefined {
  return d && d.seconds > 0n ? Number(d.seconds) : undefined;
}

function authOut(username: string): { auth?: { username: string } } {
  return username ? { auth: { username } } : {};
}

/** Credentials as LiveKit stores them; a PATCH's `auth: null` clears them. */
function credentials(auth: SipAuthInput | null): { authUsername: string; authPassword: string } {
  return { authUsername: auth?.username ?? '', authPassword: auth?.password ?? '' };
}

// ── which INVITE headers become sip.h.* attributes (protobuf enum SIPHeaderOptions) ─────────
type HeaderOptions = NonNullable<CreateSipInboundTrunkOptions['includeHeaders']>;
/** SIP_NO_HEADERS, SIP_X_HEADERS, SIP_ALL_HEADERS: stable wire values, in this order. */
const INCLUDE_HEADERS: readonly IncludeHeaders[] = ['none', 'x-headers', 'all'];

function toHeaderOptions(i: IncludeHeaders): HeaderOptions {
  return INCLUDE_HEADERS.indexOf(i) as HeaderOptions;
}

function includeHeadersOut(o: number): { includeHeaders?: IncludeHeaders } {
  const name = INCLUDE_HEADERS[o];
  return name && name !== 'none' ? { includeHeaders: name } : {};
}

// ── what both trunk kinds share (LiveKit keeps separate messages per kind) ───────────────────
type TrunkPatch = Pick<
  InboundTrunkPatch & OutboundTrunkPatch,
  'name' | 'metadata' | 'numbers' | 'auth' | 'headers' | 'headersToAttributes'
>;
type TrunkInfo = Pick<
  SIPInboundTrunkInfo & SIPOutboundTrunkInfo,
  | 'name'
  | 'metadata'
  | 'numbers'
  | 'authUsername'
  | 'authPassword'
  | 'headers'
  | 'headersToAttributes'
>;

/** The partial update of the shared fields that have one (headers have none). */
function trunkUpdateFields(patch: TrunkPatch): SipInboundTrunkUpdateOptions {
  const fields: SipInboundTrunkUpdateOptions = {};
  if (patch.name !== undefined) fields.name = patch.name;
  if (patch.metadata !== undefined) fields.metadata = patch.metadata;
  if (patch.numbers) fields.numbers = listUpdate(patch.numbers);
  if (patch.auth !== undefined) Object.assign(fields, credentials(patch.auth));
  return fields;
}

/** Applies the shared fields of a PATCH to a copy of the current trunk. */
function patchTrunk<T extends TrunkInfo>(next: T, patch: TrunkPatch): T {
  if (patch.name !== undefined) next.name = patch.name;
  if (patch.metadata !== undefined) next.metadata = patch.metadata;
  if (patch.numbers) next.numbers = patch.numbers;
  if (patch.auth !== undefined) Object.assign(next, credentials(patch.auth));
  if (patch.headers) next.headers = patch.headers;
  if (patch.headersToAttributes) next.headersToAttributes = patch.headersToAttributes;
  return next;
}

// ── inbound trunks ───────────────────────────────────────────────────────────────────────────
export function inboundTrunkToJson(t: SIPInboundTrunkInfo): InboundTrunk {
  const ringing = seconds(t.ringingTimeout);
  return {
    id: t.sipTrunkId,
    name: t.name,
    numbers: t.numbers,
    allowedAddresses: t.allowedAddresses,
    allowedNumbers: t.allowedNumbers,
    ...authOut(t.authUsername),
    headers: t.headers,
    headersToAttributes: t.headersToAttributes,
    ...includeHeadersOut(t.includeHeaders),
    krispEnabled: t.krispEnabled,
    ...(ringing ? { ringingTimeoutSeconds: ringing } : {}),
    metadata: t.metadata,
  };
}

export function inboundCreateOptions(body: InboundTrunkCreate): CreateSipInboundTrunkOptions {
  return {
    metadata: body.metadata,
    allowedAddresses: body.allowedAddresses,
    allowedNumbers: body.allowedNumbers,
    authUsername: body.auth?.username,
    authPassword: body.auth?.password,
    headers: body.headers,
    headersToAttributes: body.headersToAttributes,
    ...(body.includeHeaders ? { includeHeaders: toHeaderOptions(body.includeHeaders) } : {}),
    krispEnabled: body.krispEnabled,
    ringingTimeout: body.ringingTimeoutSeconds,
  };
}

const INBOUND_REPLACE_ONLY = [
  'headers',
  'headersToAttributes',
  'includeHeaders',
  'krispEnabled',
  'ringingTimeoutSeconds',
] as const;

/** The partial update for a PATCH, or undefined when the PATCH needs a replace. */
export function inboundUpdateFields(
  patch: InboundTrunkPatch,
): SipInboundTrunkUpdateOptions | undefined {
  if (INBOUND_REPLACE_ONLY.some((k) => patch[k] !== undefined)) return undefined;
  const fields = trunkUpdateFields(patch);
  if (patch.allowedAddresses) fields.allowedAddresses = listUpdate(patch.allowedAddresses);
  if (patch.allowedNumbers) fields.allowedNumbers = listUpdate(patch.allowedNumbers);
  return fields;
}

/** The current trunk with the PATCH applied (self-hosted LiveKit returns the stored password). */
export function inboundReplace(
  current: SIPInboundTrunkInfo,
  patch: InboundTrunkPatch,
): SIPInboundTrunkInfo {
  const next = patchTrunk(current.clone(), patch);
  if (patch.allowedAddresses) next.allowedAddresses = patch.allowedAddresses;
  if (patch.allowedNumbers) next.allowedNumbers = patch.allowedNumbers;
  if (patch.krispEnabled !== undefined) next.krispEnabled = patch.krispEnabled;
  if (patch.includeHeaders !== undefined) {
    next.includeHeaders = toHeaderOptions(patch.includeHeaders);
  }
  if (patch.ringingTimeoutSeconds === undefined) return next;
  // The constructor turns the plain duration into the SDK's own Duration class.
  return new SIPInboundTrunkInfo({
    ...next,
    ringingTimeout: { seconds: BigInt(patch.ringingTimeoutSeconds) },
  });
}

// ── outbound trunks ──────────────────────────────────────────────────────────────────────────
export function outboundTrunkToJson(t: SIPOutboundTrunkInfo): OutboundTrunk {
  return {
    id: t.sipTrunkId,
    name: t.name,
    address: t.address,
    transport: fromSipTransport(t.transport),
    numbers: t.numbers,
    ...authOut(t.authUsername),
    headers: t.headers,
    headersToAttributes: t.headersToAttributes,
    ...(t.destinationCountry ? { destinationCountry: t.destinationCountry } : {}),
    metadata: t.metadata,
  };
}

export function outboundCreateOptions(body: OutboundTrunkCreate): CreateSipOutboundTrunkOptions {
  return {
    metadata: body.metadata,
    transport: toSipTransport(body.transport),
    authUsername: body.auth?.username,
    authPassword: body.auth?.password,
    headers: body.headers,
    headersToAttributes: body.headersToAttributes,
    destinationCountry: body.destinationCountry,
  };
}

/**
 * The SDK's type omits `address` and `transport`, but LiveKit's SIPOutboundTrunkUpdate message
 * has both and the SDK passes the object through to it.
 */
export type OutboundUpdateFields = SipOutboundTrunkUpdateOptions & {
  address?: string;
  transport?: SipTransport;
};

export function outboundUpdateFields(patch: OutboundTrunkPatch): OutboundUpdateFields | undefined {
  if (patch.headers !== undefined || patch.headersToAttributes !== undefined) return undefined;
  const fields: OutboundUpdateFields = trunkUpdateFields(patch);
  if (patch.address !== undefined) fields.address = patch.address;
  if (patch.transport !== undefined) fields.transport = toSipTransport(patch.transport);
  if (patch.destinationCountry !== undefined) fields.destinationCountry = patch.destinationCountry;
  return fields;
}

export function outboundReplace(
  current: SIPOutboundTrunkInfo,
  patch: OutboundTrunkPatch,
): SIPOutboundTrunkInfo {
  const next = patchTrunk(current.clone(), patch);
  if (patch.address !== undefined) next.address = patch.address;
  if (patch.transport !== undefined) next.transport = toSipTransport(patch.transport);
  if (patch.destinationCountry !== undefined) next.destinationCountry = patch.destinationCountry;
  return next;
}
