import { z } from 'zod';
import { SCOPES } from '../../core/access.js';
import { TokenNameTaken, type AccessPort, type TokenRecord } from '../../store/access-ports.js';
import { generateToken, hashToken } from '../auth/token-secret.js';
import { ApiError } from '../errors.js';
import type { ApiApp, RouteContext } from '../options.js';
import { bearerSecurity } from '../schemas/common.js';
import { commonErrors, ErrorBody } from '../schemas/error.js';

const TokenSchema = z
  .object({
    name: z.string(),
    scopes: z.array(z.enum(SCOPES)).readonly(),
    createdAt: z.number().int(),
    createdBy: z.string(),
    expiresAt: z.number().int().nullable(),
    lastUsedAt: z.number().int().nullable(),
    revokedAt: z.number().int().nullable(),
    state: z.enum(['active', 'expired', 'revoked']),
  })
  .meta({ id: 'Token', description: 'An API token as listed: never its secret.' });

/** Names are what `token list` and the audit trail show; keep them printable and short. */
const TokenName = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._:@/-]{0,99}$/, {
  message: 'use 1–100 letters, digits and . _ : @ / - (starting with a letter or digit)',
});

const errors = { ...commonErrors, 403: ErrorBody, 429: ErrorBody } as const;

function listed(t: TokenRecord, now: number): z.infer<typeof TokenSchema> {
  const state =
    t.revokedAt !== null
      ? 'revoked'
      : t.expiresAt !== null && now >= t.expiresAt
        ? 'expired'
        : 'active';
  const { sha256: _secretHash, ...rest } = t;
  return { ...rest, state };
}

/**
 * `GET/POST /api/tokens`, `DELETE /api/tokens/:name` (admin) and `GET /api/whoami` (any valid
 * token). A created token is in the response once; the store keeps its sha256 only.
 */
export function tokenRoutes(app: ApiApp, ctx: RouteContext, access: AccessPort): void {
  app.get(
    '/api/whoami',
    {
      schema: {
        tags: ['tokens'],
        summary: 'The token this request carries: its name and scopes',
        security: bearerSecurity,
        response: {
          200: z.object({ name: z.string(), scopes: z.array(z.enum(SCOPES)).readonly() }),
          ...errors,
        },
      },
    },
    (request) => {
      // The auth hook refused the request unless it carried a valid token.
      const p = request.principal;
      if (!p) throw new ApiError('NL_UNAUTHORIZED', 'the bearer token is not valid');
      return { name: p.name, scopes: p.scopes };
    },
  );

  app.get(
    '/api/tokens',
    {
      schema: {
        tags: ['tokens'],
        summary: 'Every API token: name, scopes, creation, last use, expiry (never the secret)',
        security: bearerSecurity,
        response: { 200: z.object({ tokens: z.array(TokenSchema) }), ...errors },
      },
    },
    async () => {
      const now = ctx.now();
      return { tokens: (await access.listTokens()).map((t) => listed(t, now)) };
    },
  );

  app.post(
    '/api/tokens',
    {
      schema: {
        tags: ['tokens'],
        summary: 'Create a token; the response carries it once',
        security: bearerSecurity,
        body: z.strictObject({
          name: TokenName,
          scopes: z.array(z.enum(SCOPES)).min(1).readonly(),
          expiresInMs: z
            .number()
            .int()
            .positive()
            .optional()
            .meta({ description: 'Lifetime in milliseconds; no expiry when absent.' }),
        }),
        response: {
          201: z.object({ token: z.string(), info: TokenSchema }),
          409: ErrorBody,
          ...errors,
        },
      },
    },
    async (request, reply) => {
      const now = ctx.now();
      const secret = generateToken();
      const record = {
        name: request.body.name,
        scopes: [...new Set(request.body.scopes)],
        sha256: hashToken(secret),
        createdAt: now,
        createdBy: request.principal?.name ?? 'unknown',
        expiresAt: request.body.expiresInMs === undefined ? null : now + request.body.expiresInMs,
      };
      try {
        await access.createToken(record);
      } catch (err) {
        if (err instanceof TokenNameTaken) throw new ApiError('NL_CONFLICT', err.message);
        throw err;
      }
      return reply.code(201).send({
        token: secret,
        info: listed({ ...record, lastUsedAt: null, revokedAt: null }, now),
      });
    },
  );

  app.delete(
    '/api/tokens/:name',
    {
      schema: {
        tags: ['tokens'],
        summary: 'Revoke a token: refused from the next request on',
        security: bearerSecurity,
        params: z.object({ name: z.string().min(1) }),
        response: { 200: z.object({ revoked: z.string() }), 404: ErrorBody, ...errors },
      },
    },
    async (request) => {
      const { name } = request.params;
      if (!(await access.revokeToken(name, ctx.now())))
        throw ApiError.notFound(`no active token named "${name}"`);
      return { revoked: name };
    },
  );
}
