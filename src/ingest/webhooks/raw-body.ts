import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

export const DEFAULT_WEBHOOK_BODY_LIMIT = 25 * 1024 * 1024;

/** The error body every nightless endpoint answers with. */
export function sendError(
  reply: FastifyReply,
  status: number,
  code: string,
  message: string,
): FastifyReply {
  return reply.code(status).send({ error: { code, message } });
}

/**
 * Signatures are computed over the exact bytes sent, and they are checked before anything in
 * the body is read: so this scope parses nothing itself. Every body, whatever its content type,
 * arrives as the raw `Buffer`; a route verifies it, then {@link decodeBody} judges the media type
 * (415) and the JSON (400). An unsigned request is thus a 401 whatever it carries. Only this
 * plugin's scope is affected.
 */
export function keepRawBodies(app: FastifyInstance, bodyLimit: number): void {
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit }, (_req, body, done) =>
    done(null, body),
  );
  // The same JSON error bodies as the API, also when this plugin runs in a bare fastify app.
  app.setErrorHandler((err: FastifyError, request: FastifyRequest, reply: FastifyReply) => {
    if (err.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
      return sendError(
        reply,
        413,
        'NL_TOO_LARGE',
        `request body is larger than ${bodyLimit} bytes`,
      );
    }
    if (err.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') {
      return sendError(
        reply,
        415,
        'NL_UNSUPPORTED_MEDIA_TYPE',
        'send the payload as application/json',
      );
    }
    const status = typeof err.statusCode === 'number' ? err.statusCode : 500;
    if (status >= 400 && status < 500) {
      return sendError(
        reply,
        status,
        status === 401 ? 'NL_UNAUTHORIZED' : 'NL_BAD_REQUEST',
        err.message,
      );
    }
    request.log.error({ err }, 'webhook failed');
    return sendError(reply, 500, 'NL_INTERNAL', 'internal error');
  });
}

export type Decoded =
  | { readonly ok: true; readonly value: unknown }
  | { readonly ok: false; readonly status: 400 | 415; readonly message: string };

/** The request body as the bytes received (empty when there was none). */
export function rawBodyOf(body: unknown): Buffer {
  return Buffer.isBuffer(body) ? body : Buffer.alloc(0);
}

/**
 * JSON from a raw body; form-encoded bodies carry it in their `payload` field (GitHub's option).
 * Other media types are a 415. Call it only after the body's signature (or the token) checked out.
 */
export function decodeBody(raw: Buffer, contentType: string | undefined): Decoded {
  const type = (contentType ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
  const form = type === 'application/x-www-form-urlencoded';
  if (type !== 'application/json' && !form)
    return { ok: false, status: 415, message: 'send the payload as application/json' };
  if (raw.length === 0) {
    return {
      ok: false,
      status: 400,
      message: 'expected a JSON body (Content-Type: application/json)',
    };
  }
  let text = raw.toString('utf8');
  if (form) {
    const payload = new URLSearchParams(text).get('payload');
    if (payload === null)
      return { ok: false, status: 400, message: 'form-encoded body without a "payload" field' };
    text = payload;
  }
  try {
    return { ok: true, value: JSON.parse(text) as unknown };
  } catch (err) {
    return {
      ok: false,
      status: 400,
      message: `malformed JSON: ${err instanceof Error ? err.message : String(err)}`,
    };
  }
}

/** The error reply for a body {@link decodeBody} refused. */
export function sendDecodeError(
  reply: FastifyReply,
  d: Extract<Decoded, { ok: false }>,
): FastifyReply {
  return d.status === 415
    ? sendError(reply, 415, 'NL_UNSUPPORTED_MEDIA_TYPE', d.message)
    : sendError(reply, 400, 'NL_BAD_REQUEST', d.message);
}
