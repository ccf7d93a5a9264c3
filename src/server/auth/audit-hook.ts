import type { FastifyReply, FastifyRequest } from 'fastify';
import { AUDITED_SCOPES, type RouteAccess } from '../../core/access.js';
import type { AccessPort } from '../../store/access-ports.js';
import { accessOf, routeKey, type AccessTable } from './route-access.js';

const READ_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** True for calls the audit trail records: mutating calls to trigger-, approve- or admin-scoped routes. */
function isAudited(method: string, access: RouteAccess): boolean {
  return !READ_METHODS.has(method) && (AUDITED_SCOPES as readonly string[]).includes(access);
}

/**
 * `onResponse` hook: records every operator action — who (token name), from where, what (the
 * route and its parameters) and how it ended (status, error code) — refused ones included.
 * Written after the response, so the audit never slows or fails the call it records.
 */
export function auditHook(opts: {
  readonly audit: Pick<AccessPort, 'appendAudit'>;
  readonly table: AccessTable;
  readonly now: () => number;
  readonly onError: (err: unknown) => void;
}) {
  return async (request: FastifyRequest, reply: FastifyReply): Promise<void> => {
    if (request.is404) return;
    const url = request.routeOptions.url ?? '';
    if (!isAudited(request.method, accessOf(opts.table, request.method, url))) return;
    const errorCode =
      reply.statusCode >= 400 ? (request.errorCode ?? `HTTP_${reply.statusCode}`) : null;
    await opts.audit
      .appendAudit({
        at: opts.now(),
        actor: request.principal?.name ?? 'anonymous',
        address: request.ip,
        action: routeKey(request.method, url),
        target: JSON.stringify(request.params ?? {}),
        status: reply.statusCode,
        errorCode,
      })
      .catch(opts.onError);
  };
}
