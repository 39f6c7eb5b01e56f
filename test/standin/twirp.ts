/**
 * Twirp wire details as livekit-server produces them: error codes and HTTP statuses, the
 * error body, and protobuf-JSON answers in snake_case with every field present.
 */
import type { AnyMessage, Message } from '@bufbuild/protobuf';
import { BinaryWriter, WireType } from '@bufbuild/protobuf';

export type TwirpCode =
  | 'canceled'
  | 'unknown'
  | 'invalid_argument'
  | 'malformed'
  | 'deadline_exceeded'
  | 'not_found'
  | 'bad_route'
  | 'already_exists'
  | 'permission_denied'
  | 'unauthenticated'
  | 'resource_exhausted'
  | 'failed_precondition'
  | 'aborted'
  | 'out_of_range'
  | 'unimplemented'
  | 'internal'
  | 'unavailable'
  | 'data_loss';

/** twirp's ServerHTTPStatusFromErrorCode. */
export const HTTP_STATUS: Record<TwirpCode, number> = {
  canceled: 408,
  unknown: 500,
  invalid_argument: 400,
  malformed: 400,
  deadline_exceeded: 408,
  not_found: 404,
  bad_route: 404,
  already_exists: 409,
  permission_denied: 403,
  unauthenticated: 401,
  resource_exhausted: 429,
  failed_precondition: 412,
  aborted: 409,
  out_of_range: 400,
  unimplemented: 501,
  internal: 500,
  unavailable: 503,
  data_loss: 500,
};

/** gRPC status numbers, used inside `error_details` (google.rpc.Status). */
export const GRPC_CODE: Partial<Record<TwirpCode, number>> = {
  canceled: 1,
  unknown: 2,
  invalid_argument: 3,
  deadline_exceeded: 4,
  not_found: 5,
  already_exists: 6,
  permission_denied: 7,
  resource_exhausted: 8,
  failed_precondition: 9,
  aborted: 10,
  out_of_range: 11,
  unimplemented: 12,
  internal: 13,
  unavailable: 14,
  data_loss: 15,
  unauthenticated: 16,
};

export class TwirpError extends Error {
  constructor(
    readonly code: TwirpCode,
    message: string,
    readonly meta?: Record<string, string>,
  ) {
    super(message);
    this.name = 'TwirpError';
  }
  get status(): number {
    return HTTP_STATUS[this.code];
  }
  body(): string {
    const out: { code: string; msg: string; meta?: Record<string, string> } = {
      code: this.code,
      msg: this.message,
    };
    if (this.meta && Object.keys(this.meta).length > 0) out.meta = this.meta;
    return JSON.stringify(out);
  }
}

/** An error the handler raised itself as a twirp error: the message is passed through as is. */
export function twirpError(code: TwirpCode, msg: string, meta?: Record<string, string>) {
  return new TwirpError(code, msg, meta);
}

/**
 * An error that crossed LiveKit's internal RPC (psrpc). The server's error interceptor
 * re-wraps those, so the message gains the "twirp error unknown: " prefix while the code is
 * taken from the gRPC status.
 */
export function rpcError(code: TwirpCode, msg: string, meta?: Record<string, string>) {
  return new TwirpError(code, `twirp error unknown: ${msg}`, meta);
}

/** base64 google.rpc.Status {code, message, details: [Any]} as xtwirp puts in `error_details`. */
export function errorDetails(
  code: TwirpCode,
  message: string,
  detail: AnyMessage & Message,
): string {
  const any = new BinaryWriter()
    .tag(1, WireType.LengthDelimited)
    .string(`type.googleapis.com/${detail.getType().typeName}`)
    .tag(2, WireType.LengthDelimited)
    .bytes(detail.toBinary())
    .finish();
  const status = new BinaryWriter()
    .tag(1, WireType.Varint)
    .int32(GRPC_CODE[code] ?? 2)
    .tag(2, WireType.LengthDelimited)
    .string(message)
    .tag(3, WireType.LengthDelimited)
    .bytes(any)
    .finish();
  return Buffer.from(status).toString('base64');
}

/**
 * protobuf-es emits nothing for unset message fields; Go's protojson with EmitUnpopulated
 * (what livekit-server uses) emits `null` for them. Oneof members stay absent in both.
 */
export function toWireJson(msg: Message): Record<string, unknown> {
  const json = msg.toJson({ useProtoFieldName: true, emitDefaultValues: true }) as Record<
    string,
    unknown
  >;
  addNulls(msg, json);
  return json;
}

function addNulls(msg: Message, json: Record<string, unknown>): void {
  const type = msg.getType();
  const values = msg as unknown as Record<string, unknown>;
  for (const field of type.fields.list()) {
    if (field.oneof || (field.kind !== 'message' && field.kind !== 'map')) continue;
    if (field.kind === 'map') {
      if (field.V.kind !== 'message') continue;
      const m = values[field.localName] as Record<string, Message> | undefined;
      const jm = json[field.name] as Record<string, Record<string, unknown>> | undefined;
      if (m && jm) for (const k of Object.keys(m)) if (m[k] && jm[k]) addNulls(m[k], jm[k]);
      continue;
    }
    if (field.T.typeName.startsWith('google.protobuf.')) {
      if (!field.repeated && values[field.localName] === undefined) json[field.name] = null;
      continue;
    }
    const v = values[field.localName];
    if (field.repeated) {
      const arr = v as Message[];
      const jarr = json[field.name] as Record<string, unknown>[];
      arr.forEach((item, i) => {
        if (jarr?.[i]) addNulls(item, jarr[i]);
      });
    } else if (v === undefined) {
      json[field.name] = null;
    } else {
      addNulls(v as Message, json[field.name] as Record<string, unknown>);
    }
  }
}
