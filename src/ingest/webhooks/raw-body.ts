import type { FastifyInstance } from 'fastify';
import { ApiError } from '../../api/errors.js';

export const DEFAULT_WEBHOOK_BODY_LIMIT = 25 * 1024 * 1024;

/**
 * Signatures are computed over the exact bytes sent, and they are checked before anything in
 * the body is read: so this scope parses nothing itself. Every body, whatever its content type,
 * arrives as the raw `Buffer`; a route verifies it, then {@link decodeBody} judges the media type
 * (415) and the JSON (400). An unsigned request is thus a 401 whatever it carries. Only this
 * plugin's scope is affected; errors become responses in the server's one error handler.
 */
export function keepRawBodies(app: FastifyInstance, bodyLimit: number): void {
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit }, (_req, body, done) =>
    done(null, body),
  );
}

/** The request body as the bytes received (empty when there was none). */
export function rawBodyOf(body: unknown): Buffer {
  return Buffer.isBuffer(body) ? body : Buffer.alloc(0);
}

/**
 * JSON from a raw body; form-encoded bodies carry it in their `payload` field (GitHub's option).
 * Other media types are a 415, bad JSON a 400 (thrown as {@link ApiError}). Call it only after
 * the body's signature (or the token) checked out.
 */
export function decodeBody(raw: Buffer, contentType: string | undefined): unknown {
  const type = (contentType ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
  const form = type === 'application/x-www-form-urlencoded';
  if (type !== 'application/json' && !form)
    throw new ApiError('NL_UNSUPPORTED_MEDIA_TYPE', 'send the payload as application/json');
  if (raw.length === 0)
    throw new ApiError('NL_BAD_REQUEST', 'expected a JSON body (Content-Type: application/json)');
  let text = raw.toString('utf8');
  if (form) {
    const payload = new URLSearchParams(text).get('payload');
    if (payload === null)
      throw new ApiError('NL_BAD_REQUEST', 'form-encoded body without a "payload" field');
    text = payload;
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new ApiError(
      'NL_BAD_REQUEST',
      `malformed JSON: ${err instanceof Error ? err.message : String(err)}`,
    );
  }
}
