/**
 * SIP trunk schemas: inbound trunks (calls from a carrier to us) and outbound trunks (how we
 * dial out). Our JSON is camelCase and product-shaped; src/api/sip-mapping.ts converts it.
 */
import { type Static, Type } from '@sinclair/typebox';
import { E164, patchBody, stringMap } from './common.js';

export const TrunkId = Type.String({
  pattern: '^ST_[A-Za-z0-9_-]{1,64}$',
  description: 'LiveKit SIP trunk id',
  examples: ['ST_4qC9wYhKs8Tj'],
});

export const TrunkIdParams = Type.Object({ id: TrunkId }, { additionalProperties: false });

const Name = Type.String({ maxLength: 128, description: 'Human-readable name' });
const Metadata = Type.String({
  maxLength: 4096,
  description: 'Free-form metadata stored with the object (often JSON)',
});
// Response shapes carry no input limits (LiveKit may hold objects created by other tools).
const PhoneNumbersOut = () => Type.Array(Type.String());
const StringMapOut = () => Type.Record(Type.String(), Type.String());

/** IPv4/IPv6 address or CIDR range; LiveKit checks the exact syntax. */
export const IpAddress = Type.String({
  pattern: '^[0-9A-Fa-f:.]{2,45}(/[0-9]{1,3})?$',
  maxLength: 49,
  description: 'IP address or CIDR range',
  examples: ['203.0.113.10', '198.51.100.0/24'],
});

/** Credentials a carrier uses (inbound) or that we present to the carrier (outbound). */
export const SipAuthInput = Type.Object(
  {
    username: Type.String({ minLength: 1, maxLength: 128 }),
    password: Type.String({ minLength: 1, maxLength: 256, writeOnly: true }),
  },
  { additionalProperties: false, description: 'SIP digest credentials' },
);
export type SipAuthInput = Static<typeof SipAuthInput>;

/** In a PATCH: new credentials, or null to remove them. */
const AuthPatch = Type.Optional(Type.Union([SipAuthInput, Type.Null()]));
const TRUNK_PATCH =
  'Fields to change; lists replace the current list; auth null removes credentials';

/** The password is write-only: responses only say which user name is configured. */
export const SipAuthOutput = Type.Object(
  { username: Type.String() },
  { additionalProperties: false, description: 'Configured SIP user name (never the password)' },
);

const Headers = stringMap('SIP X-* headers to add (inbound: to responses; outbound: to INVITEs)');
const HeadersToAttributes = stringMap('Map of SIP header name to participant attribute name');

/** Which headers of an incoming INVITE the caller's participant carries as `sip.h.<name>`. */
export const IncludeHeaders = Type.Union(
  [Type.Literal('none'), Type.Literal('x-headers'), Type.Literal('all')],
  {
    description:
      'SIP headers of incoming INVITEs the agent sees, as participant attributes ' +
      "`sip.h.<lower-case name>` (what `headers:` conditions of the agents file's routes match): " +
      'none (default), x-headers (every X-... header) or all',
  },
);
export type IncludeHeaders = Static<typeof IncludeHeaders>;

// ── inbound ──────────────────────────────────────────────────────────────────────────────────
const inboundFields = {
  name: Type.Optional(Name),
  numbers: Type.Optional(
    Type.Array(E164, {
      maxItems: 100,
      uniqueItems: true,
      description: 'Numbers this trunk accepts calls for; empty = any number',
    }),
  ),
  allowedAddresses: Type.Optional(
    Type.Array(IpAddress, {
      maxItems: 100,
      uniqueItems: true,
      description: 'Carrier addresses allowed to send calls; empty = any',
    }),
  ),
  allowedNumbers: Type.Optional(
    Type.Array(E164, {
      maxItems: 100,
      uniqueItems: true,
      description: 'Caller numbers allowed; empty = any caller',
    }),
  ),
  auth: Type.Optional(SipAuthInput),
  headers: Type.Optional(Headers),
  headersToAttributes: Type.Optional(HeadersToAttributes),
  includeHeaders: Type.Optional(IncludeHeaders),
  krispEnabled: Type.Optional(
    Type.Boolean({ description: 'Krisp noise cancellation (LiveKit Cloud only)' }),
  ),
  ringingTimeoutSeconds: Type.Optional(
    Type.Integer({ minimum: 1, maximum: 600, description: 'Maximum ringing time of a call' }),
  ),
  metadata: Type.Optional(Metadata),
};

export const InboundTrunkCreate = Type.Object(inboundFields, {
  additionalProperties: false,
  description:
    'LiveKit requires at least one of numbers, allowedAddresses or auth (so that not anyone can call in).',
});
export type InboundTrunkCreate = Static<typeof InboundTrunkCreate>;

export const InboundTrunkPatch = patchBody({ ...inboundFields, auth: AuthPatch }, TRUNK_PATCH);
export type InboundTrunkPatch = Static<typeof InboundTrunkPatch>;

export const InboundTrunk = Type.Object(
  {
    id: TrunkId,
    name: Type.String(),
    numbers: PhoneNumbersOut(),
    allowedAddresses: Type.Array(Type.String()),
    allowedNumbers: PhoneNumbersOut(),
    auth: Type.Optional(SipAuthOutput),
    headers: StringMapOut(),
    headersToAttributes: StringMapOut(),
    /** Absent = none. */
    includeHeaders: Type.Optional(IncludeHeaders),
    krispEnabled: Type.Boolean(),
    ringingTimeoutSeconds: Type.Optional(Type.Integer()),
    metadata: Type.String(),
  },
  { additionalProperties: false },
);
export type InboundTrunk = Static<typeof InboundTrunk>;

// ── outbound ─────────────────────────────────────────────────────────────────────────────────
export const Transport = Type.Union(
  [Type.Literal('auto'), Type.Literal('udp'), Type.Literal('tcp'), Type.Literal('tls')],
  { description: 'SIP transport towards the carrier' },
);
export type Transport = Static<typeof Transport>;

/** A host name or IP with an optional port: LiveKit wants no "sip:" scheme here. */
const SipHost = Type.String({
  pattern: '^(\\[[0-9A-Fa-f:.]+\\]|[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?)(:[0-9]{1,5})?$',
  maxLength: 253,
  description: 'Carrier SIP host name or IP, optional :port, no "sip:" scheme',
  examples: ['sip.carrier.example', 'sip.carrier.example:5061'],
});

const outboundFields = {
  name: Type.Optional(Name),
  address: SipHost,
  transport: Type.Optional(Transport),
  numbers: Type.Array(E164, {
    minItems: 1,
    maxItems: 100,
    uniqueItems: true,
    description: 'Numbers we may call from (caller ID)',
  }),
  auth: Type.Optional(SipAuthInput),
  headers: Type.Optional(Headers),
  headersToAttributes: Type.Optional(HeadersToAttributes),
  destinationCountry: Type.Optional(
    Type.String({
      pattern: '^[A-Z]{2}$',
      description: 'ISO 3166-1 alpha-2 country the carrier is in (region pinning)',
    }),
  ),
  metadata: Type.Optional(Metadata),
};

export const OutboundTrunkCreate = Type.Object(outboundFields, { additionalProperties: false });
export type OutboundTrunkCreate = Static<typeof OutboundTrunkCreate>;

export const OutboundTrunkPatch = patchBody(
  {
    ...outboundFields,
    address: Type.Optional(SipHost),
    numbers: Type.Optional(outboundFields.numbers),
    auth: AuthPatch,
  },
  TRUNK_PATCH,
);
export type OutboundTrunkPatch = Static<typeof OutboundTrunkPatch>;

export const OutboundTrunk = Type.Object(
  {
    id: TrunkId,
    name: Type.String(),
    address: Type.String(),
    transport: Transport,
    numbers: PhoneNumbersOut(),
    auth: Type.Optional(SipAuthOutput),
    headers: StringMapOut(),
    headersToAttributes: StringMapOut(),
    destinationCountry: Type.Optional(Type.String()),
    metadata: Type.String(),
  },
  { additionalProperties: false },
);
export type OutboundTrunk = Static<typeof OutboundTrunk>;
