import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ApiError } from './errors.js';

/**
 * Who may call a route: `none` (health, signed webhooks that check their own signature), `read`
 * (open unless the server runs with `readAuth`), `write` (always needs the token).
 */
export type AuthLevel = 'none' | 'read' | 'write';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Defaults by method: GET/HEAD/OPTIONS are `read`, everything else `write`. */
    auth?: AuthLevel;
  }
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);
const HEX_SHA256 = /^[0-9a-f]{64}$/i;

/**
 * True when the `Authorization: Bearer <token>` header carries the token whose sha256 is
 * `tokenSha256`. Hashing the presented token first gives both sides the same length, so
 * `timingSafeEqual` compares in constant time and the token's length doesn't leak either.
 */
export function bearerMatches(header: string | undefined, tokenSha256: string): boolean {
  const m = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header ?? '');
  const presented = createHash('sha256')
    .update(m?.[1] ?? '')
    .digest();
  const expected = Buffer.from(tokenSha256, 'hex');
  return expected.length === presented.length && timingSafeEqual(presented, expected) && m !== null;
}

export function assertTokenHash(tokenSha256: string): void {
  if (!HEX_SHA256.test(tokenSha256))
    throw new Error('tokenSha256 must be a hex sha256 (64 hex digits)');
}

/** `onRequest` hook: rejects with 401 before the body is even read. */
export function authHook(tokenSha256: string, readAuth: boolean) {
  const expected = tokenSha256.toLowerCase();
  return async (request: FastifyRequest, _reply: FastifyReply): Promise<void> => {
    // Unknown routes answer 404 whoever asks; there is nothing to protect.
    if (request.is404) return;
    const level =
      request.routeOptions.config.auth ?? (SAFE_METHODS.has(request.method) ? 'read' : 'write');
    if (level === 'none' || (level === 'read' && !readAuth)) return;
    if (!bearerMatches(request.headers.authorization, expected)) {
      throw new ApiError(
        401,
        'NL_UNAUTHORIZED',
        request.headers.authorization === undefined
          ? 'this endpoint needs "Authorization: Bearer <token>"'
          : 'the bearer token is not valid',
      );
    }
  };
}
