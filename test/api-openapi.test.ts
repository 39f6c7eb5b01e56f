/**
 * GET /docs: the OpenAPI 3 document generated from the route schemas is valid OpenAPI and
 * describes every trunk, dispatch-rule and number operation (tags, summaries, request and
 * response schemas, problem responses).
 */
import SwaggerParser from '@apidevtools/swagger-parser';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../src/api/app.js';
import { testConfig } from './support/config.js';

// biome-ignore lint/suspicious/noExplicitAny: the document is free-form JSON
type Json = any;

const OPERATIONS: [path: string, method: string, success: number, withBody: boolean][] = [
  ['/v1/trunks/inbound', 'post', 201, true],
  ['/v1/trunks/inbound', 'get', 200, false],
  ['/v1/trunks/inbound/{id}', 'get', 200, false],
  ['/v1/trunks/inbound/{id}', 'patch', 200, true],
  ['/v1/trunks/inbound/{id}', 'delete', 204, false],
  ['/v1/trunks/outbound', 'post', 201, true],
  ['/v1/trunks/outbound', 'get', 200, false],
  ['/v1/trunks/outbound/{id}', 'get', 200, false],
  ['/v1/trunks/outbound/{id}', 'patch', 200, true],
  ['/v1/trunks/outbound/{id}', 'delete', 204, false],
  ['/v1/dispatch-rules', 'post', 201, true],
  ['/v1/dispatch-rules', 'get', 200, false],
  ['/v1/dispatch-rules/{id}', 'get', 200, false],
  ['/v1/dispatch-rules/{id}', 'patch', 200, true],
  ['/v1/dispatch-rules/{id}', 'delete', 204, false],
  ['/v1/numbers/{e164}', 'put', 200, true],
  ['/v1/numbers', 'get', 200, false],
  ['/v1/numbers/{e164}', 'get', 200, false],
  ['/v1/numbers/{e164}', 'delete', 204, false],
];

describe('OpenAPI document for trunks, dispatch rules and numbers', () => {
  let app: FastifyInstance;
  let doc: Json;
  beforeAll(async () => {
    app = await buildApp({ config: testConfig() });
    await app.ready();
    const res = await app.inject({ method: 'GET', url: '/docs/json' });
    expect(res.statusCode).toBe(200);
    doc = res.json();
  });
  afterAll(() => app.close());

  it('is a valid OpenAPI 3 document', async () => {
    // validate() dereferences in place: hand it a copy.
    await expect(SwaggerParser.validate(structuredClone(doc))).resolves.toBeTruthy();
    expect(doc.openapi).toMatch(/^3\./);
  });

  it.each(OPERATIONS)('%s %s is documented', (path, method, success, withBody) => {
    const op = doc.paths[path]?.[method];
    expect(op, `${method} ${path}`).toBeDefined();
    expect(op.tags).toHaveLength(1);
    expect(op.summary).toMatch(/^[A-Z]/);
    expect(op.responses[success]).toBeDefined();
    if (success !== 204) {
      expect(op.responses[success].content['application/json'].schema.type).toBe('object');
    }
    for (const status of [401, 503]) {
      const schema = op.responses[status]?.content?.['application/problem+json']?.schema;
      expect(schema?.required, `${status} of ${method} ${path}`).toEqual(
        expect.arrayContaining(['type', 'title', 'status', 'detail', 'code']),
      );
    }
    if (withBody) {
      const body = op.requestBody.content['application/json'].schema;
      expect(body.additionalProperties).toBe(false);
      expect(op.responses[400]).toBeDefined();
    }
    for (const param of op.parameters ?? []) {
      expect(param.description).toBeTruthy();
      expect(op.responses[400]).toBeDefined();
    }
  });

  it('documents phone numbers as E.164 and the password as write-only', () => {
    const create =
      doc.paths['/v1/trunks/inbound'].post.requestBody.content['application/json'].schema;
    expect(create.properties.numbers.items.format).toBe('e164');
    expect(create.properties.auth.properties.password.writeOnly).toBe(true);
    const trunk =
      doc.paths['/v1/trunks/inbound'].post.responses[201].content['application/json'].schema;
    expect(trunk.properties.auth.properties).not.toHaveProperty('password');
    const number = doc.paths['/v1/numbers/{e164}'].put.parameters[0];
    expect(number).toMatchObject({ in: 'path', name: 'e164', schema: { format: 'e164' } });
    expect(doc.paths['/v1/numbers/{e164}'].put.responses[409]).toBeDefined();
  });

  it('serves the documentation UI without an API key', async () => {
    const res = await app.inject({ method: 'GET', url: '/docs' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/text\/html/);
  });
});
