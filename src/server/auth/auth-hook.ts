import { timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { scopeAllows, tokenUsable, type RouteAccess, type Scope } from '../../core/access.js';
import type { AccessPort } from '../../store/access-ports.js';
import { ApiError } from '../errors.js';
import type { FailureLimiter } from './failure-limiter.js';
import { accessOf, type AccessTable } from './route-access.js';
import { hashToken } from './token-secret.js';

/** Who made a request: a token's name and scopes (`bootstrap` is the data directory's admin token). */
export interface Principal {
  readonly name: string;
  readonly scopes: readonly Scope[];
}

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by the auth hook when the request carried a valid token; null otherwise. */
    principal: Principal | null;
  }
}

/** Why a request was refused, as counted in `nightless_auth_failures_total{reason}`. */
export type AuthFailureReason = 'missing' | 'invalid' | 'forbidden' | 'throttled';

export interface AuthOptions {
  /** Hex sha256 of the bootstrap (admin) token; the token itself is never held by the server. */
  readonly bootstrapSha256: string;
  readonly tokens: Pick<AccessPort, 'findTokenBySha256' | 'touchToken'>;
  /** Reads need no token (loopback listener or `--public-read`, and not `--read-auth`). */
  readonly readsOpen: boolean;
  readonly table: AccessTable;
  readonly limiter: FailureLimiter;
  readonly now: () => number;
  readonly onFailure?: (reason: AuthFailureReason) => void;
}

const HEX_SHA256 = /^[0-9a-f]{64}$/i;
/** `last_used_at` is written at most this often per token: a busy scraper is not a write load. */
const TOUCH_EVERY_MS = 60_000;

function assertTokenHash(tokenSha256: string): void {
  if (!HEX_SHA256.test(tokenSha256))
    throw new Error('tokenSha256 must be a hex sha256 (64 hex digits)');
}

/** Constant-time equality of two hex sha256 strings (same length by construction). */
function sameHash(a: string, b: string): boolean {
  const x = Buffer.from(a, 'hex');
  const y = Buffer.from(b, 'hex');
  return x.length === y.length && x.length === 32 && timingSafeEqual(x, y);
}

function bearerOf(header: string | undefined): string | null {
  const m = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header ?? '');
  return m?.[1] ?? null;
}

/**
 * `onRequest` hook: answers 401 (no token, or one that is unknown, expired or revoked — the same
 * message for all three), 403 (a valid token without the route's scope) or 429 (too many failed
 * attempts from this address) before the body is read. What each route needs comes from
 * `ROUTE_ACCESS`; the principal is left on `request.principal` for the audit trail.
 */
export function authHook(opts: AuthOptions) {
  assertTokenHash(opts.bootstrapSha256);
  const bootstrap = opts.bootstrapSha256.toLowerCase();
  const touched = new Map<string, number>();

  const identify = async (presented: string): Promise<Principal | null> => {
    const sha = hashToken(presented);
    if (sameHash(sha, bootstrap)) return { name: 'bootstrap', scopes: ['admin'] };
    const token = await opts.tokens.findTokenBySha256(sha);
    if (!token || !sameHash(token.sha256, sha)) return null;
    const now = opts.now();
    if (!tokenUsable(token, now)) return null;
    if (now - (touched.get(token.name) ?? 0) >= TOUCH_EVERY_MS) {
      touched.set(token.name, now);
      // Bookkeeping only: a failed write must not fail the request.
      opts.tokens.touchToken(token.name, now).catch(() => undefined);
    }
    return { name: token.name, scopes: token.scopes };
  };

  const refuse = (reason: AuthFailureReason, error: ApiError): ApiError => {
    opts.onFailure?.(reason);
    return error;
  };

  return async (request: FastifyRequest, reply: FastifyReply): Promise<void> => {
    request.principal = null;
    // Unknown routes answer 404 whoever asks; there is nothing to protect.
    if (request.is404) return;
    const access: RouteAccess = accessOf(
      opts.table,
      request.method,
      request.routeOptions.url ?? '',
    );
    if (access === 'public' || access === 'signature') return;
    const presented = bearerOf(request.headers.authorization);
    if (access === 'read' && opts.readsOpen && presented === null) return;

    const now = opts.now();
    const wait = opts.limiter.blockedFor(request.ip, now);
    if (wait > 0) {
      void reply.header('retry-after', String(Math.ceil(wait / 1000)));
      throw refuse(
        'throttled',
        new ApiError(
          'NL_RATE_LIMITED',
          `too many failed authentications from ${request.ip}; try again in ${Math.ceil(wait / 1000)} s`,
        ),
      );
    }
    if (presented === null) {
      throw refuse(
        'missing',
        new ApiError('NL_UNAUTHORIZED', 'this endpoint needs "Authorization: Bearer <token>"'),
      );
    }
    const principal = await identify(presented);
    if (principal === null) {
      opts.limiter.recordFailure(request.ip, now);
      throw refuse('invalid', new ApiError('NL_UNAUTHORIZED', 'the bearer token is not valid'));
    }
    request.principal = principal;
    if (access === 'token' || scopeAllows(principal.scopes, access)) return;
    // An open read with a token that lacks `read` is still allowed: the token adds nothing.
    if (access === 'read' && opts.readsOpen) return;
    throw refuse(
      'forbidden',
      new ApiError(
        'NL_FORBIDDEN',
        `the token "${principal.name}" has scopes ${principal.scopes.join(', ')}; this endpoint needs ${access}`,
      ),
    );
  };
}
