/**
 * RFC 9457 problem details: the only error body the API sends. Catalog errors keep their
 * code and status; validation and body-parser errors are translated; anything else is an
 * internal error reported without internals.
 */
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { isCatalogError } from '../core/errors.js';

export const PROBLEM_CONTENT_TYPE = 'application/problem+json';

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
  415: 'Unsupported Media Type',
  422: 'Unprocessable Content',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
};

export function problemType(code: string): string {
  return `/docs/problems#${code}`;
}

export function makeProblem(
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
  return makeProblem(
    400,
    phone ? 'PA_ERR_INVALID_PHONE_NUMBER' : 'PA_ERR_VALIDATION',
    first ? `${first.field} ${first.message}` : 'The request is invalid',
    { errors },
  );
}

/** Fastify's own client errors (bad JSON, wrong content type, body too large). */
const FASTIFY_CLIENT_ERRORS: Record<string, string> = {
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'PA_ERR_UNSUPPORTED_MEDIA_TYPE',
  FST_ERR_CTP_BODY_TOO_LARGE: 'PA_ERR_BODY_TOO_LARGE',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'PA_ERR_VALIDATION',
  FST_ERR_CTP_INVALID_JSON_BODY: 'PA_ERR_MALFORMED_JSON',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'PA_ERR_VALIDATION',
};

export function toProblem(err: FastifyError): Problem {
  if (err.validation) return validationProblem(err);
  if (isCatalogError(err)) {
    // Catalog errors may carry problem extensions (e.g. sipStatusCode) in `problem`.
    const extra = (err as { problem?: Record<string, unknown> }).problem ?? {};
    return makeProblem(err.statusCode ?? 500, err.code, err.message, extra);
  }
  const mapped = err.code ? FASTIFY_CLIENT_ERRORS[err.code] : undefined;
  if (mapped && err.statusCode && err.statusCode < 500) {
    return makeProblem(err.statusCode, mapped, err.message);
  }
  if (err.statusCode === 400 && err instanceof SyntaxError) {
    return makeProblem(400, 'PA_ERR_MALFORMED_JSON', 'The request body is not valid JSON');
  }
  return makeProblem(500, 'PA_ERR_INTERNAL', 'An internal error occurred; it has been logged');
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
