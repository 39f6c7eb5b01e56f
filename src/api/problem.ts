/**
 * RFC 9457 problem details: the only error body the API sends. Catalog errors keep their
 * code and status; validation and body-parser errors are translated; anything else is an
 * internal error reported without internals.
 */
import type { Socket } from 'node:net';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import {
  BodyTooLargeError,
  type CatalogError,
  HeadersTooLargeError,
  InternalError,
  InvalidPhoneNumberError,
  isCatalogError,
  MalformedJsonError,
  MalformedRequestError,
  RequestTimeoutError,
  UnsupportedMediaTypeError,
  UriTooLongError,
  ValidationError,
} from '../core/errors.js';

const PROBLEM_CONTENT_TYPE = 'application/problem+json';

export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  code: string;
  instance?: string;
  [extension: string]: unknown;
}

const TITLES: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  408: 'Request Timeout',
  409: 'Conflict',
  412: 'Precondition Failed',
  413: 'Content Too Large',
  414: 'URI Too Long',
  415: 'Unsupported Media Type',
  422: 'Unprocessable Content',
  429: 'Too Many Requests',
  431: 'Request Header Fields Too Large',
  500: 'Internal Server Error',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
};

function problemType(code: string): string {
  return `/docs/problems#${code}`;
}

function makeProblem(
  status: number,
  code: string,
  detail: string,
  extensions: Record<string, unknown> = {},
): Problem {
  return {
    type: problemType(code),
    title: TITLES[status] ?? 'Error',
    status,
    detail,
    code,
    ...extensions,
  };
}

interface ValidationItem {
  instancePath: string;
  keyword: string;
  message?: string;
  params: Record<string, unknown>;
}

/** "body" + "/agent/name" → "body.agent.name"; extra/missing properties name the property. */
function fieldOf(context: string, item: ValidationItem): string {
  const base = [context, ...item.instancePath.split('/').filter(Boolean)];
  const prop = item.params.missingProperty ?? item.params.additionalProperty;
  if (typeof prop === 'string') base.push(prop);
  return base.join('.');
}

function validationProblem(err: FastifyError): Problem {
  const context = (err as { validationContext?: string }).validationContext ?? 'body';
  const items = (err.validation ?? []) as ValidationItem[];
  const errors = items.map((item) => {
    const field = fieldOf(context, item);
    let message: string;
    if (item.keyword === 'additionalProperties') message = 'is not a known field';
    else if (item.keyword === 'required') message = 'is required';
    else if (item.keyword === 'format' && item.params.format === 'e164')
      message = 'must be a phone number in E.164 format, such as +14155550123';
    else message = item.message ?? 'is invalid';
    return { field, message };
  });
  const first = errors[0];
  const phone = items[0]?.keyword === 'format' && items[0].params.format === 'e164';
  const error =
    phone && first
      ? new InvalidPhoneNumberError(first.field)
      : new ValidationError(first ? `${first.field} ${first.message}` : 'The request is invalid');
  return problemOf(error, { errors });
}

/** Fastify's own client errors (bad JSON, wrong content type, body too large, bad URLs). */
const FASTIFY_CLIENT_ERRORS: Record<string, new (detail: string) => CatalogError> = {
  FST_ERR_MAX_PARAM_LENGTH: UriTooLongError,
  FST_ERR_BAD_URL: MalformedRequestError,
  FST_ERR_CTP_INVALID_MEDIA_TYPE: UnsupportedMediaTypeError,
  FST_ERR_CTP_BODY_TOO_LARGE: BodyTooLargeError,
  FST_ERR_CTP_EMPTY_JSON_BODY: ValidationError,
  FST_ERR_CTP_INVALID_JSON_BODY: MalformedJsonError,
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: ValidationError,
};

type WithProblem = { problem?: Record<string, unknown> };

/** Attaches problem extensions (sipStatusCode, errors…) to an error; `problemOf` sends them. */
export function withProblem<E extends Error>(err: E, extensions: Record<string, unknown>): E {
  (err as E & WithProblem).problem = extensions;
  return err;
}

/** A 400 naming one field, reported like a schema validation failure. */
export function fieldError(field: string, message: string): Error {
  return withProblem(new ValidationError(`${field} ${message}`), {
    errors: [{ field, message }],
  });
}

/** The problem for a catalog error, with the extensions attached by `withProblem`. */
export function problemOf(err: CatalogError, extensions: Record<string, unknown> = {}): Problem {
  const extra = (err as WithProblem).problem ?? {};
  return makeProblem(err.statusCode ?? 500, err.code, err.message, { ...extra, ...extensions });
}

export function toProblem(err: FastifyError): Problem {
  if (err.validation) return validationProblem(err);
  if (isCatalogError(err)) return problemOf(err);
  const mapped = err.code ? FASTIFY_CLIENT_ERRORS[err.code] : undefined;
  if (mapped && err.statusCode && err.statusCode < 500) return problemOf(new mapped(err.message));
  if (err.statusCode === 400 && err instanceof SyntaxError) {
    return problemOf(new MalformedJsonError(err.message));
  }
  return problemOf(new InternalError());
}

/**
 * Answers a request Node's HTTP parser refused before Fastify saw it (headers too large, a
 * broken request line, too slow): the same problem+json as every other error, then close.
 */
export function writeClientError(err: NodeJS.ErrnoException, socket: Socket): void {
  if (err.code === 'ECONNRESET' || !socket.writable) {
    socket.destroy();
    return;
  }
  const error =
    err.code === 'HPE_HEADER_OVERFLOW'
      ? new HeadersTooLargeError()
      : err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? new RequestTimeoutError()
        : new MalformedRequestError('The request is not valid HTTP');
  const problem = problemOf(error);
  const body = JSON.stringify(problem);
  socket.end(
    `HTTP/1.1 ${problem.status} ${problem.title}\r\n` +
      `Content-Type: ${PROBLEM_CONTENT_TYPE}\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\n` +
      'Connection: close\r\n\r\n' +
      body,
  );
}

export function sendProblem(
  reply: FastifyReply,
  req: FastifyRequest,
  problem: Problem,
): FastifyReply {
  return reply
    .code(problem.status)
    .type(PROBLEM_CONTENT_TYPE)
    .send({ ...problem, instance: req.url.split('?')[0] });
}
