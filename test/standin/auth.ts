/**
 * Access-token checks as livekit-server's auth middleware and Ensure*Permission helpers do
 * them. Middleware failures are plain-text 401s; missing grants are twirp `unauthenticated`.
 */
import { compactVerify, decodeJwt, decodeProtectedHeader, type JWTPayload } from 'jose';
import { twirpError } from './twirp.js';

export interface VideoGrant {
  roomCreate?: boolean;
  roomList?: boolean;
  roomAdmin?: boolean;
  roomRecord?: boolean;
  room?: string;
  destinationRoom?: string;
  [k: string]: unknown;
}
export interface SipGrant {
  admin?: boolean;
  call?: boolean;
}
export interface Grants {
  video?: VideoGrant;
  sip?: SipGrant;
}

/** The middleware's verdict: grants (possibly none), or a plain-text 401 body. */
export type AuthResult = { grants: Grants | undefined } | { plainError: string };

/** livekit protocol's verifier allows a minute of clock skew. */
const LEEWAY_S = 60;

export async function authenticate(
  header: string | undefined,
  apiKey: string,
  apiSecret: string,
): Promise<AuthResult> {
  // No header at all: the request continues without grants and fails at the permission check.
  if (!header) return { grants: undefined };
  if (!header.startsWith('Bearer ')) {
    return { plainError: 'invalid authorization header. Must start with Bearer ' };
  }
  const token = header.slice('Bearer '.length);
  if (!token) return { grants: undefined };

  let claims: JWTPayload;
  try {
    if (decodeProtectedHeader(token).alg !== 'HS256') throw new Error('alg');
    claims = decodeJwt(token);
  } catch {
    return { plainError: 'invalid authorization token' };
  }
  if (claims.iss !== apiKey) return { plainError: 'invalid API key' };

  const invalid = (why: string) => ({ plainError: `invalid authorization token: ${why}` });
  try {
    await compactVerify(token, new TextEncoder().encode(apiSecret));
  } catch {
    return invalid('token signature is invalid: signature is invalid');
  }
  const now = Date.now() / 1000;
  if (typeof claims.exp !== 'number') {
    return invalid(
      'token has invalid claims: token is missing required claim: exp claim is required',
    );
  }
  if (now > claims.exp + LEEWAY_S) return invalid('token has invalid claims: token is expired');
  if (typeof claims.nbf === 'number' && now < claims.nbf - LEEWAY_S) {
    return invalid('token has invalid claims: token is not valid yet');
  }
  const c = claims as JWTPayload & Grants;
  return { grants: { video: c.video, sip: c.sip } };
}

const denied = () => twirpError('unauthenticated', 'permissions denied');

export function ensureSipAdmin(g: Grants | undefined): void {
  if (!g?.sip?.admin) throw denied();
}
export function ensureSipCall(g: Grants | undefined): void {
  if (!g?.sip?.call) throw denied();
}
export function ensureRoomCreate(g: Grants | undefined): void {
  if (!g?.video?.roomCreate) throw denied();
}
export function ensureRoomList(g: Grants | undefined): void {
  if (!g?.video?.roomList) throw denied();
}
/** roomAdmin, and the token's room must be the request's room. */
export function ensureRoomAdmin(g: Grants | undefined, room: string): void {
  if (!g?.video?.roomAdmin || (g.video.room ?? '') !== room) throw denied();
}
export function ensureDestinationRoom(g: Grants | undefined, room: string, dest: string): void {
  if (
    !g?.video?.roomAdmin ||
    (g.video.room ?? '') !== room ||
    (g.video.destinationRoom ?? '') !== dest
  ) {
    throw denied();
  }
}
