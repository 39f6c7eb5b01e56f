/**
 * The error catalog: every error the service raises on purpose, with a stable code
 * (`PA_ERR_*`), an HTTP status and a message template. The API turns them into RFC 9457
 * problem+json (src/api/problem.ts); other processes log the code. Add new errors here, in the
 * section of their area, never ad hoc.
 */
import createError from '@fastify/error';

// ── configuration ────────────────────────────────────────────────────────────────────────────
/** A setting or config file is missing or malformed; the message names it and what is wrong. */
export const ConfigError = createError('PA_ERR_CONFIG_INVALID', 'Invalid configuration: %s', 500);

// ── API: requests ────────────────────────────────────────────────────────────────────────────
export const UnauthorizedError = createError(
  'PA_ERR_UNAUTHORIZED',
  'Missing or invalid API key: send "Authorization: Bearer <key>"',
  401,
);
export const ValidationError = createError('PA_ERR_VALIDATION', '%s', 400);
export const InvalidPhoneNumberError = createError(
  'PA_ERR_INVALID_PHONE_NUMBER',
  '%s must be a phone number in E.164 format, such as +14155550123',
  400,
);
export const NotFoundError = createError('PA_ERR_NOT_FOUND', '%s', 404);
export const RouteNotFoundError = createError('PA_ERR_ROUTE_NOT_FOUND', 'No route %s', 404);
export const MalformedJsonError = createError(
  'PA_ERR_MALFORMED_JSON',
  'The request body is not valid JSON: %s',
  400,
);
export const UnsupportedMediaTypeError = createError('PA_ERR_UNSUPPORTED_MEDIA_TYPE', '%s', 415);
export const BodyTooLargeError = createError('PA_ERR_BODY_TOO_LARGE', '%s', 413);
export const UriTooLongError = createError('PA_ERR_URI_TOO_LONG', '%s', 414);
export const HeadersTooLargeError = createError(
  'PA_ERR_HEADERS_TOO_LARGE',
  'The request headers are larger than the server accepts',
  431,
);
/** The request could not be read as HTTP at all (bad URL encoding, broken request line). */
export const MalformedRequestError = createError('PA_ERR_MALFORMED_REQUEST', '%s', 400);
export const RequestTimeoutError = createError(
  'PA_ERR_REQUEST_TIMEOUT',
  'The request was not received in time',
  408,
);
/** Anything not raised on purpose: reported without internals, logged in full. */
export const InternalError = createError(
  'PA_ERR_INTERNAL',
  'An internal error occurred; it has been logged',
  500,
);
export const ConflictError = createError('PA_ERR_CONFLICT', '%s', 409);
export const RateLimitedError = createError(
  'PA_ERR_RATE_LIMITED',
  'Too many requests for this API key; retry after %s',
  429,
);

// ── API: LiveKit upstream ────────────────────────────────────────────────────────────────────
export const LiveKitUnavailableError = createError(
  'PA_ERR_LIVEKIT_UNAVAILABLE',
  'LiveKit could not be reached: %s',
  503,
);
export const LiveKitRejectedError = createError(
  'PA_ERR_LIVEKIT_REJECTED',
  'LiveKit rejected the request: %s',
  502,
);
export const LiveKitTimeoutError = createError(
  'PA_ERR_LIVEKIT_TIMEOUT',
  'LiveKit did not answer in time: %s',
  504,
);
/** LiveKit refused our own credentials: a deployment problem, not the caller's. */
export const LiveKitAuthError = createError(
  'PA_ERR_LIVEKIT_AUTH',
  "LiveKit refused this service's credentials (check LIVEKIT_API_KEY/SECRET): %s",
  502,
);
/** LiveKit found the request invalid (e.g. conflicting trunks, duplicate rules). */
export const LiveKitInvalidError = createError('PA_ERR_LIVEKIT_INVALID', '%s', 400);
export const LiveKitConflictError = createError('PA_ERR_LIVEKIT_CONFLICT', '%s', 409);
export const LiveKitPreconditionError = createError('PA_ERR_LIVEKIT_PRECONDITION', '%s', 412);
export const NotSupportedError = createError(
  'PA_ERR_NOT_SUPPORTED',
  'Not supported by this LiveKit server: %s',
  501,
);

// ── SIP call outcomes (dialing and transfers); each carries sipStatusCode/sipStatus ───────────
export const SipBusyError = createError('PA_ERR_SIP_BUSY', 'The callee is busy: %s', 409);
export const SipDeclinedError = createError(
  'PA_ERR_SIP_DECLINED',
  'The call was declined: %s',
  403,
);
export const SipNoAnswerError = createError('PA_ERR_SIP_NO_ANSWER', 'No answer: %s', 504);
export const SipUnreachableError = createError(
  'PA_ERR_SIP_UNREACHABLE',
  'The destination could not be reached: %s',
  502,
);
export const SipRejectedError = createError(
  'PA_ERR_SIP_REJECTED',
  'The carrier rejected the call: %s',
  502,
);

// ── API: calls, idempotency and SIP outcomes ──────────────────────────────────────────────────
export const CallNotFoundError = createError(
  'PA_ERR_CALL_NOT_FOUND',
  'Call %s not found (calls disappear when their room ends)',
  404,
);
/** The call's room exists but has no phone (SIP) participant to act on. */
export const CallNotConnectedError = createError(
  'PA_ERR_CALL_NOT_CONNECTED',
  'Call %s has no connected phone participant',
  409,
);
export const NoOutboundTrunkError = createError(
  'PA_ERR_NO_OUTBOUND_TRUNK',
  'No outbound trunk: pass "trunkId" or set DEFAULT_OUTBOUND_TRUNK_ID',
  400,
);
export const InvalidTransferTargetError = createError(
  'PA_ERR_INVALID_TRANSFER_TARGET',
  'body.to must be tel:+<E.164>, sip:user@host or an E.164 number (got "%s")',
  400,
);
export const IdempotencyKeyReusedError = createError(
  'PA_ERR_IDEMPOTENCY_KEY_REUSED',
  'This Idempotency-Key was already used with a different request body',
  422,
);
/** A request with the same key is still running and did not finish within the wait. */
export const IdempotencyInProgressError = createError(
  'PA_ERR_IDEMPOTENCY_IN_PROGRESS',
  'A request with this Idempotency-Key is still in progress; retry later',
  409,
);
export const IdempotencyUnavailableError = createError(
  'PA_ERR_IDEMPOTENCY_UNAVAILABLE',
  'The idempotency store (Redis) is unavailable: %s',
  503,
);
export const WebhookSignatureError = createError(
  'PA_ERR_WEBHOOK_SIGNATURE',
  'Invalid LiveKit webhook signature: %s',
  401,
);

// ── worker and agents ────────────────────────────────────────────────────────────────────────
/** A conversation-test file (npm run test:agents) is malformed; the message names file and field. */
export const AgentTestInvalidError = createError(
  'PA_ERR_AGENT_TEST_INVALID',
  'Invalid agent test file: %s',
  400,
);

// ── telephony ────────────────────────────────────────────────────────────────────────────────
/** An interruption scenario file (eval) is malformed; the message names the file and field. */
export const ScenarioInvalidError = createError(
  'PA_ERR_SCENARIO_INVALID',
  'Invalid interruption scenario: %s',
  400,
);

/** A DTMF string an agent or request wants to send has characters a phone keypad lacks. */
export const DtmfInvalidError = createError(
  'PA_ERR_DTMF_INVALID',
  'Invalid DTMF digits "%s": use 0-9, *, #, A-D and w (half-second pause)',
  400,
);

/** The configured noise-suppression backend cannot run here (e.g. its optional package is missing). */
export const NoiseSuppressionUnavailableError = createError(
  'PA_ERR_NOISE_SUPPRESSION_UNAVAILABLE',
  'Noise suppression "%s" is unavailable: %s',
  500,
);

/** Shape shared by every catalog error (what @fastify/error instances carry). */
export interface CatalogError extends Error {
  code: string;
  statusCode?: number;
}

export function isCatalogError(err: unknown): boolean {
  return (
    err instanceof Error &&
    typeof (err as CatalogError).code === 'string' &&
    (err as CatalogError).code.startsWith('PA_ERR_')
  );
}
