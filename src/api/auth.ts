/**
 * Bearer-key authentication. Keys are compared as SHA-256 digests with timingSafeEqual, so
 * neither the length nor the content of a valid key leaks through timing.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import { UnauthorizedError } from '../core/errors.js';

function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}

export interface ApiKeyCheck {
  /** Returns a stable, non-secret id of the key (for rate limits and logs), or undefined. */
  identify(header: string | undefined): string | undefined;
}

export function createApiKeyCheck(keys: readonly string[]): ApiKeyCheck {
  const known = keys.map((k) => ({
    digest: digest(k),
    id: digest(k).toString('hex').slice(0, 12),
  }));
  return {
    identify(header) {
      if (!header?.startsWith('Bearer ')) return undefined;
      const given = digest(header.slice('Bearer '.length).trim());
      let found: string | undefined;
      // Compare against every key (no early exit) so timing does not say which one matched.
      for (const k of known) if (timingSafeEqual(k.digest, given)) found = k.id;
      return found;
    },
  };
}

declare module 'fastify' {
  interface FastifyRequest {
    /** Id of the API key that authenticated the request (sha-256 prefix, not the key). */
    apiKeyId?: string;
  }
  interface FastifyContextConfig {
    /** Routes open without an API key (health, metrics, docs, LiveKit webhooks). */
    public?: boolean;
  }
}

export function authenticate(check: ApiKeyCheck) {
  return async (req: FastifyRequest): Promise<void> => {
    // Unmatched URLs fall through to the 404 handler; public routes need no key.
    if (!req.routeOptions.url || req.routeOptions.config?.public) return;
    const id = check.identify(req.headers.authorization);
    if (!id) throw new UnauthorizedError();
    req.apiKeyId = id;
  };
}
