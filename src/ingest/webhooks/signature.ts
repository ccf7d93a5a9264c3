import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

/** Why a delivery was not authenticated (the metric label). */
export type SignatureFailure = 'missing' | 'mismatch' | 'no-secret';

const HEX_64 = /^[0-9a-f]{64}$/i;

/**
 * Whether `presentedHex` is the HMAC-SHA256 of `body` under `secret`. The comparison is on two
 * 32-byte buffers with `timingSafeEqual`; a presented value that is not 64 hex digits is
 * rejected before any secret-dependent work, so its length leaks nothing about the secret.
 */
export function hmacSha256Matches(body: Buffer, secret: string, presentedHex: string): boolean {
  // An empty key proves nothing: anyone can compute that HMAC. Never a match.
  if (secret === '' || !HEX_64.test(presentedHex)) return false;
  const expected = createHmac('sha256', secret).update(body).digest();
  return timingSafeEqual(expected, Buffer.from(presentedHex, 'hex'));
}

/** `sha256=<hex>` (GitHub, generic) → the hex part; anything else → `null`. */
export function stripSha256Prefix(header: string): string | null {
  const m = /^sha256=([0-9a-f]+)$/i.exec(header.trim());
  return m?.[1] ?? null;
}

/**
 * Plain shared tokens (GitLab's `X-Gitlab-Token`): both sides are hashed first, so the
 * constant-time compare runs on equal lengths and the token's length does not leak.
 */
export function tokenMatches(presented: string, secret: string): boolean {
  if (secret === '') return false; // an empty token would match an empty header
  const a = createHash('sha256').update(presented).digest();
  const b = createHash('sha256').update(secret).digest();
  return timingSafeEqual(a, b);
}

/** Verdict of one driver's check against one secret. */
export type Verdict = 'ok' | 'missing' | 'mismatch';
