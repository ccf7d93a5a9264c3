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
 * Signatures are computed over the exact bytes sent, so this scope parses nothing itself: JSON
 * (and GitHub's form-encoded `payload=`) bodies arrive as the raw `Buffer`, decoded by
 * {@link decodeBody} after the route has what it needs. Only this plugin's scope is affected.
 */
export function keepRawBodies(app: FastifyInstance, bodyLimit: number): void {
  // text/plain too: a body of another type is answered 415, not read as a string.
  app.removeContentTypeParser([
    'application/json',
    'application/x-www-form-urlencoded',
    'text/plain',
  ]);
  app.addContentTypeParser(
    ['application/json', 'application/x-www-form-urlencoded'],
    { parseAs: 'buffer', bodyLimit },
    (_req, body, done) => done(null, body),
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
  { readonly ok: true; readonly value: unknown } | { readonly ok: false; readonly message: string };

/** JSON from a raw body; form-encoded bodies carry it in their `payload` field (GitHub's option). */
export function decodeBody(raw: unknown, contentType: string | undefined): Decoded {
  if (!Buffer.isBuffer(raw) || raw.length === 0) {
    return { ok: false, message: 'expected a JSON body (Content-Type: application/json)' };
  }
  let text = raw.toString('utf8');
  if ((contentType ?? '').toLowerCase().startsWith('application/x-www-form-urlencoded')) {
    const payload = new URLSearchParams(text).get('payload');
    if (payload === null)
      return { ok: false, message: 'form-encoded body without a "payload" field' };
    text = payload;
  }
  try {
    return { ok: true, value: JSON.parse(text) as unknown };
  } catch (err) {
    return {
      ok: false,
      message: `malformed JSON: ${err instanceof Error ? err.message : String(err)}`,
    };
  }
}
