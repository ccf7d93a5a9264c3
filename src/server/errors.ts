import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import {
  hasZodFastifySchemaValidationErrors,
  isResponseSerializationError,
} from 'fastify-type-provider-zod';
import { ApiError, ERROR_CODES, type ErrorCode } from '../api/errors.js';
import { StoreUnavailableError } from '../store/ports/unavailable.js';
import type { ErrorBody } from './schemas/error.js';

export { ApiError } from '../api/errors.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The `error.code` this request was answered with (for the audit trail). */
    errorCode?: string;
  }
}

function errorBody(code: ErrorCode, message: string, details?: unknown): ErrorBody {
  return { error: details === undefined ? { code, message } : { code, message, details } };
}

/** Fastify's own client errors (body parsing, content type, size) and the code we answer with. */
const FASTIFY_CODES: Readonly<Record<string, ErrorCode>> = {
  FST_ERR_CTP_BODY_TOO_LARGE: 'NL_TOO_LARGE',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'NL_UNSUPPORTED_MEDIA_TYPE',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'NL_BAD_REQUEST',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'NL_BAD_REQUEST',
  FST_ERR_CTP_INVALID_JSON_BODY: 'NL_BAD_REQUEST',
};

const ENTITY_HEADERS = [
  'content-length',
  'content-disposition',
  'content-encoding',
  'x-nightless-digest',
];

/**
 * The one place errors become responses. Known errors keep their status and message; anything
 * else is logged with its stack and answered with a bare 500 — a stack trace or SQL text never
 * reaches a client.
 */
export function handleError(
  err: FastifyError | Error,
  request: FastifyRequest,
  reply: FastifyReply,
): void {
  const [status, body] = toResponse(err, request);
  request.errorCode = body.error.code;
  if (err instanceof StoreUnavailableError || body.error.code === 'NL_UNAVAILABLE') {
    // Expected while the database restarts or the server starts: one line, no stack; the
    // client retries.
    request.log.warn({ reason: err.message }, 'request refused: unavailable');
    void reply.header('retry-after', '2');
  } else if (status >= 500) request.log.error({ err }, 'request failed');
  if (status === 401) void reply.header('www-authenticate', 'Bearer');
  // A download that failed before its first byte already set its headers; they'd describe a file.
  for (const h of ENTITY_HEADERS) reply.removeHeader(h);
  void reply.code(status).type('application/json; charset=utf-8').send(body);
}

function toResponse(err: FastifyError | Error, request: FastifyRequest): [number, ErrorBody] {
  if (err instanceof ApiError)
    return [err.statusCode, errorBody(err.code, err.message, err.details)];
  if (err instanceof StoreUnavailableError)
    return [503, errorBody('NL_UNAVAILABLE', 'the database is unavailable; retry shortly')];
  if (hasZodFastifySchemaValidationErrors(err)) {
    const where = err.validationContext ?? 'request';
    // The package types `validation` through a path eslint can't resolve; its shape is fastify's.
    const validation = err.validation as ReadonlyArray<{ instancePath: string; message?: string }>;
    const issues = validation.map((v) => ({
      in: where,
      path: v.instancePath,
      message: v.message ?? 'invalid',
    }));
    return [400, errorBody('NL_BAD_REQUEST', `invalid ${where}: ${describe(issues)}`, issues)];
  }
  if (isResponseSerializationError(err)) return [500, errorBody('NL_INTERNAL', 'internal error')];
  const code = 'code' in err && typeof err.code === 'string' ? err.code : '';
  const known = FASTIFY_CODES[code];
  if (known) return [ERROR_CODES[known].status, errorBody(known, fastifyMessage(err, request))];
  const status = 'statusCode' in err && typeof err.statusCode === 'number' ? err.statusCode : 500;
  // Other fastify client errors (a malformed URL, an unsupported method) carry a safe message.
  if (status >= 400 && status < 500 && code.startsWith('FST_')) {
    return [status, errorBody(status === 404 ? 'NL_NOT_FOUND' : 'NL_BAD_REQUEST', err.message)];
  }
  return [500, errorBody('NL_INTERNAL', 'internal error')];
}

/** Fastify's messages, where a client can act on more than they say. */
function fastifyMessage(err: FastifyError | Error, request: FastifyRequest): string {
  // Routes have limits of their own (webhooks: 25 MiB); the client needs the one that applied.
  if ('code' in err && err.code === 'FST_ERR_CTP_BODY_TOO_LARGE')
    return `request body is larger than ${request.routeOptions.bodyLimit} bytes`;
  return err.message;
}

function describe(issues: ReadonlyArray<{ path: string; message: string }>): string {
  return issues
    .slice(0, 3)
    .map((i) => {
      // `/limit` → `limit: …`; an issue about the whole object (`/`) needs no prefix.
      const where = i.path.replace(/^\//, '').replaceAll('/', '.');
      return where ? `${where}: ${i.message}` : i.message;
    })
    .join('; ');
}

/** Unknown routes answer through the same handler as everything else. */
export function handleNotFound(request: FastifyRequest): never {
  throw ApiError.notFound(`no route ${request.method} ${request.url.split('?')[0] ?? ''}`);
}
