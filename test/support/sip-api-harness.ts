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

export async function request(
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

/** An API whose LiveKit URL has nothing listening: every LiveKit call is refused. */
export async function startApiWithoutLiveKit(): Promise<{
  baseUrl: string;
  close(): Promise<void>;
}> {
  const app = await buildApp({ config: testConfig({ LIVEKIT_URL: 'http://127.0.0.1:1' }) });
  const baseUrl = await app.listen({ port: 0, host: '127.0.0.1' });
  return { baseUrl, close: () => app.close() };
}

/** Asserts an RFC 9457 problem with this status and stable code. */
export function expectProblem(res: ApiResponse, status: number, code: string): void {
  expect(res.status).toBe(status);
  expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  expect(res.body).toMatchObject({ status, code });
}
