import { z } from 'zod';
import type { AccessPort } from '../../store/access-ports.js';
import type { ApiApp } from '../options.js';
import { bearerSecurity, positiveInt } from '../schemas/common.js';
import { commonErrors, ErrorBody } from '../schemas/error.js';

const AuditRecordSchema = z
  .object({
    id: z.number().int(),
    at: z.number().int(),
    actor: z.string().meta({ description: 'Token name; `anonymous` when the call had none.' }),
    address: z.string(),
    action: z.string().meta({ description: 'The route: `POST /api/jobs/:job/trigger`.' }),
    target: z.record(z.string(), z.unknown()).meta({ description: 'The route parameters.' }),
    status: z.number().int(),
    errorCode: z.string().nullable(),
  })
  .meta({ id: 'AuditRecord' });

/** `GET /api/audit` (admin): operator actions, newest first. */
export function auditRoutes(app: ApiApp, access: AccessPort): void {
  app.get(
    '/api/audit',
    {
      schema: {
        tags: ['tokens'],
        summary: 'The audit trail: every trigger, cancel, retry, check-now and token change',
        security: bearerSecurity,
        querystring: z.object({
          since: z.coerce.number().int().nonnegative().optional().meta({
            description: 'Only entries at or after this time (epoch ms).',
          }),
          limit: positiveInt().max(10_000).default(100),
        }),
        response: {
          200: z.object({ entries: z.array(AuditRecordSchema) }),
          ...commonErrors,
          403: ErrorBody,
          429: ErrorBody,
        },
      },
    },
    async (request) => {
      const { since, limit } = request.query;
      const rows = await access.listAudit(since === undefined ? { limit } : { since, limit });
      return {
        entries: rows.map((r) => ({
          ...r,
          target: JSON.parse(r.target) as Record<string, unknown>,
        })),
      };
    },
  );
}
