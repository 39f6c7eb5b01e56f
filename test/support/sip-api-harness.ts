/**
 * The API listening on a real socket, talking to the LiveKit stand-in over real HTTP: what the
 * trunk, dispatch-rule and number tests drive with `fetch`.
 */
import type { FastifyInstance } from 'fastify';
import { expect } from 'vitest';
import { buildApp } from '../../src/api/app.js';
import { type Standin, type StandinOptions, startLiveKitStandin } from '../standin/index.js';
import { appFor } from './calls.js';
import { TEST_API_KEY, testConfig } from './config.js';

/** The worker pool's LiveKit agent name (AGENT_NAME): what every dispatch must name. */
export const POOL = 'acme-pool';

/** The dispatch metadata the worker reads as job metadata. */
export const job = (agent: string, metadata: object = {}) => JSON.stringify({ agent, metadata });

export interface ApiResponse {
  status: number;
  headers: Headers;
  // biome-ignore lint/suspicious/noExplicitAny: tests read arbitrary JSON fields
  body: any;
}

export interface SipApi {
  app: FastifyInstance;
  lk: Standin;
  baseUrl: string;
  call(
    method: string,
    path: string,
    body?: unknown,
    headers?: Record<string, string>,
  ): Promise<ApiResponse>;
  /** LiveKit SIP RPCs received since `from` (an index into lk.requests). */
  sipCalls(from?: number): { method: string; body: unknown }[];
  close(): Promise<void>;
}

async function request(
  baseUrl: string,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = { authorization: `Bearer ${TEST_API_KEY}` },
): Promise<ApiResponse> {
  const res = await fetch(baseUrl + path, {
    method,
    headers: body === undefined ? headers : { ...headers, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : null };
}

/** Starts the stand-in and the API on 127.0.0.1 (random ports). */
export async function startSipApi(
  env: Record<string, string> = {},
  standin: StandinOptions = {},
): Promise<SipApi> {
  const lk = await startLiveKitStandin({ answerDelayMs: 20, ...standin });
  const app = await appFor(lk, env);
  const baseUrl = await app.listen({ port: 0, host: '127.0.0.1' });
  return {
    app,
    lk,
    baseUrl,
    call: (method, path, body, headers) => request(baseUrl, method, path, body, headers),
    sipCalls: (from = 0) =>
      lk.requests
        .slice(from)
        .filter((r) => r.service === 'SIP')
        .map((r) => ({ method: r.method, body: r.body })),
    close: async () => {
      await app.close();
      await lk.close();
    },
  };
}

/** Asserts an RFC 9457 problem with this status and stable code. */
export function expectProblem(res: ApiResponse, status: number, code: string): void {
  expect(res.status).toBe(status);
  expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  expect(res.body).toMatchObject({ status, code });
}

/** One request to a route: method, path and (for writes) a body that passes validation. */
export type RouteCall = [method: string, path: string, body?: unknown];

/** Missing, unknown and non-Bearer credentials. */
const BAD_AUTH: Record<string, string>[] = [
  {},
  { authorization: 'Bearer nope' },
  { authorization: 'Basic x' },
];

/** Every route answers 401 to bad credentials, before LiveKit is asked anything. */
export async function expectAllUnauthorized(api: SipApi, routes: RouteCall[]): Promise<void> {
  const from = api.lk.requests.length;
  for (const [method, path, body] of routes) {
    for (const headers of BAD_AUTH) {
      const res = await api.call(method, path, body, headers);
      expect(res.status, `${method} ${path} ${JSON.stringify(headers)}`).toBe(401);
      expectProblem(res, 401, 'PA_ERR_UNAUTHORIZED');
    }
  }
  expect(api.lk.requests.length).toBe(from);
}

/** Every route answers 503 PA_ERR_LIVEKIT_UNAVAILABLE when nothing listens at LIVEKIT_URL. */
export async function expectAllUnavailable(routes: RouteCall[]): Promise<void> {
  const app = await buildApp({ config: testConfig({ LIVEKIT_URL: 'http://127.0.0.1:1' }) });
  try {
    const baseUrl = await app.listen({ port: 0, host: '127.0.0.1' });
    for (const [method, path, body] of routes) {
      const res = await request(baseUrl, method, path, body);
      expect(res.status, `${method} ${path}`).toBe(503);
      expectProblem(res, 503, 'PA_ERR_LIVEKIT_UNAVAILABLE');
    }
  } finally {
    await app.close();
  }
}
