/**
 * Schemas shared by routes (TypeBox → JSON Schema: one source for validation, serialization
 * and the OpenAPI document).
 */
import { type TProperties, type TSchema, Type } from '@sinclair/typebox';

/** E.164 phone number; validated by the `e164` ajv format (libphonenumber-js). */
export const E164 = Type.String({
  format: 'e164',
  maxLength: 16,
  description: 'Phone number in E.164 format',
  examples: ['+14155550123'],
});

export const ProblemSchema = Type.Object(
  {
    type: Type.String(),
    title: Type.String(),
    status: Type.Integer(),
    detail: Type.String(),
    code: Type.String({ description: 'Stable error code (PA_ERR_*)' }),
    instance: Type.Optional(Type.String()),
    errors: Type.Optional(
      Type.Array(Type.Object({ field: Type.String(), message: Type.String() })),
    ),
    sipStatusCode: Type.Optional(Type.Integer()),
    sipStatus: Type.Optional(Type.String()),
  },
  { $id: 'Problem', additionalProperties: true, description: 'RFC 9457 problem details' },
);

/** Failures every LiveKit-backed route can report: auth, rate limit, LiveKit down/slow/refusing. */
export const UPSTREAM_PROBLEMS = [401, 429, 502, 503, 504] as const;

/** The empty 204 answer of a DELETE. */
export const Deleted = Type.Null({ description: 'Deleted' });

/** Standard error responses for a route, for the OpenAPI document. */
export function problemResponses(...statuses: number[]): Record<number, TSchema> {
  // Problems are sent as application/problem+json; declaring the media type per status keeps
  // the OpenAPI document truthful (Fastify serializes them by content type).
  return Object.fromEntries(
    statuses.map((s) => [
      s,
      {
        description: 'Problem details (RFC 9457)',
        content: { 'application/problem+json': { schema: ProblemSchema } },
      } as unknown as TSchema,
    ]),
  );
}

/** Free-form string map (metadata, attributes, SIP headers), bounded in size. */
export const stringMap = (description?: string) =>
  Type.Record(Type.String({ maxLength: 128 }), Type.String({ maxLength: 4096 }), {
    maxProperties: 64,
    ...(description ? { description } : {}),
  });
export const StringMap = stringMap();

/**
 * A PATCH body: the given fields, at least one, no unknown ones. Fields left out keep their
 * current value.
 */
export function patchBody<P extends TProperties>(properties: P, description: string) {
  return Type.Object(properties, { additionalProperties: false, minProperties: 1, description });
}
