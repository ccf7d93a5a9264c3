import { z } from 'zod';
import { ApiError } from '../../api/errors.js';
import { TokenNameTaken, type AccessPort } from '../../store/access-ports.js';
import { generateToken, hashToken } from '../auth/token-secret.js';
import type { ApiApp, ServerOptions } from '../options.js';
import { bearerSecurity } from '../schemas/common.js';
import { commonErrors, ErrorBody } from '../schemas/error.js';

const AgentTokenSchema = z
  .object({
    name: z.string(),
    createdAt: z.number().int(),
    createdBy: z.string(),
    lastUsedAt: z.number().int().nullable(),
    revokedAt: z.number().int().nullable(),
  })
  .meta({ id: 'AgentToken', description: 'An agent token as listed: never its secret.' });

const TokenName = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._:@/-]{0,99}$/, {
  message: 'use 1–100 letters, digits and . _ : @ / - (starting with a letter or digit)',
});
const errors = { ...commonErrors, 403: ErrorBody } as const;

/**
 * `GET/POST /api/agent-tokens`, `DELETE /api/agent-tokens/:name` (admin): tokens of scope
 * `agent` only — they can claim, heartbeat, send logs and blobs and results, nothing else. They
 * live in the same hashed token store as every API token (`nightless token list` shows them).
 */
export function agentTokenRoutes(access: AccessPort, now: () => number = Date.now) {
  return function routes(app: ApiApp, _opts: ServerOptions): Promise<void> {
    app.get(
      '/api/agent-tokens',
      {
        schema: {
          tags: ['agents'],
          summary: 'Agent tokens (scope `agent`), newest first',
          security: bearerSecurity,
          response: { 200: z.object({ tokens: z.array(AgentTokenSchema) }), ...errors },
        },
      },
      async () => {
        const tokens = (await access.listTokens()).filter(
          (t) => t.scopes.length === 1 && t.scopes[0] === 'agent',
        );
        return {
          tokens: tokens.map((t) => ({
            name: t.name,
            createdAt: t.createdAt,
            createdBy: t.createdBy,
            lastUsedAt: t.lastUsedAt,
            revokedAt: t.revokedAt,
          })),
        };
      },
    );

    app.post(
      '/api/agent-tokens',
      {
        schema: {
          tags: ['agents'],
          summary: 'Create an agent token; the response carries it once',
          security: bearerSecurity,
          body: z.strictObject({ name: TokenName }),
          response: {
            201: z.object({ token: z.string(), name: z.string() }),
            409: ErrorBody,
            ...errors,
          },
        },
      },
      async (request, reply) => {
        const secret = generateToken();
        try {
          await access.createToken({
            name: request.body.name,
            scopes: ['agent'],
            sha256: hashToken(secret),
            createdAt: now(),
            createdBy: request.principal?.name ?? 'unknown',
            expiresAt: null,
          });
        } catch (err) {
          if (err instanceof TokenNameTaken) throw new ApiError('NL_CONFLICT', err.message);
          throw err;
        }
        return reply.code(201).send({ token: secret, name: request.body.name });
      },
    );

    app.delete(
      '/api/agent-tokens/:name',
      {
        schema: {
          tags: ['agents'],
          summary: 'Revoke an agent token: its agent is refused from the next request on',
          security: bearerSecurity,
          params: z.object({ name: z.string().min(1) }),
          response: { 200: z.object({ revoked: z.string() }), 404: ErrorBody, ...errors },
        },
      },
      async (request) => {
        const { name } = request.params;
        const token = (await access.listTokens()).find(
          (t) => t.name === name && t.revokedAt === null && t.scopes.includes('agent'),
        );
        if (!token || !(await access.revokeToken(name, now())))
          throw ApiError.notFound(`no active agent token named "${name}"`);
        return { revoked: name };
      },
    );
    return Promise.resolve();
  };
}
